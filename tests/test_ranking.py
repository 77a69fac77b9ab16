"""UnseenItemRanker: held-out rows ranked among every item their user did not see, exactly as
the full users x items matrix ranks them, and every metric equal to today's evaluators on the
zero-filled table of all candidates."""

import random

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.evaluation import RankingEvaluator
from pyspark.ml.recommendation import ALS
from pyspark.ml.tuning import CrossValidator, CrossValidatorModel
from pyspark.sql import functions as F
from pyspark.sql.utils import is_remote
from pyspark.testing import assertDataFrameEqual

from spark_recs import (
    PerUserFolds,
    PrecisionAtKEvaluator,
    RankingMetricsEvaluator,
    ROEMEvaluator,
    UnseenItemRanker,
    UnseenItemRankerModel,
    ZeroFiller,
)
from tests import reference
from tests.helpers import factor_model

MATH = pytest.mark.classic_only(
    "checks the ranking arithmetic, which is the same on both legs; the Connect leg runs the engine in "
    "test_ranks_equal_the_full_matrix, the fit in the CrossValidator and save/load tests"
)

METRICS = ["precisionAtK", "recallAtK", "ndcgAtK", "meanAveragePrecisionAtK", "meanAveragePrecision", "mrrAtK",
           "hitRateAtK"]


def random_case(seed, users=24, items=30, rank=3, ties=True):
    """Factors on a coarse grid (exact float64 sums, many exact ties: repeated and zero vectors),
    seen items, held-out rows with ratings; a user and two items without factors."""
    rng = random.Random(seed)
    grid = [-1.0, -0.5, 0.0, 0.5, 1.0] if ties else None

    def vec():
        return [rng.choice(grid) if ties else rng.gauss(0, 1) for _ in range(rank)]

    user_factors = {u: vec() for u in range(users) if u != 3}  # user 3: no factors
    item_factors = {i: vec() for i in range(items)}
    item_factors[7] = item_factors[5]  # a repeated item vector
    item_factors[9] = [0.0] * rank
    seen = {u: set(rng.sample(range(items), rng.randint(1, 8))) for u in range(users)}
    held = []
    for u in range(users):
        unseen = [i for i in range(items + 2) if i not in seen[u]]  # items 30, 31: no factors
        for i in rng.sample(unseen, rng.randint(1, 6)):
            held.append((u, i, float(rng.choice([0, 1, 1, 2, 5]))))
    return user_factors, item_factors, seen, held


def ranker_of(spark, user_factors, item_factors, seen, **params):
    model = factor_model(spark, user_factors, item_factors)
    train = spark.createDataFrame([(u, i) for u, items in seen.items() for i in items], "user int, item int")
    ranker = UnseenItemRankerModel.fromFitted(model, train)
    for name, value in params.items():
        getattr(ranker, "set" + name[0].upper() + name[1:])(value)
    return ranker


def zero_filled(spark, user_factors, item_factors, seen, held, nan_rows=True):
    """The zero-filled table of each held-out user's candidates: every catalogue item it did
    not see and its held-out items, held-out ratings or 0, scored by the full matrix."""
    expected = reference.unseen_item_ranks(user_factors, item_factors, seen, [(u, i) for u, i, _ in held])
    ratings = {(u, i): r for u, i, r in held}
    rows = []
    for u in sorted({u for u, _, _ in held}):
        mine = {i for v, i, _ in held if v == u}
        for i in sorted(set(item_factors) - seen[u] | mine):
            if (u, i) in expected:
                p = expected[(u, i)][0]
            elif u in user_factors:
                p = float(np.float32(np.dot(np.float64(user_factors[u]), np.float64(item_factors[i]))))
            else:
                p = float("nan")
            if nan_rows or p == p:
                rows.append((u, i, ratings.get((u, i), 0.0), p))
    return spark.createDataFrame(rows, "user int, item int, rating double, prediction double")


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("blocks", [(1024, 4096), (5, 7)])
def test_ranks_equal_the_full_matrix(spark, seed, blocks):
    user_factors, item_factors, seen, held = random_case(seed)
    ranker = ranker_of(spark, user_factors, item_factors, seen, userBlockSize=blocks[0], itemBlockSize=blocks[1])
    held_df = spark.createDataFrame(held, "user int, item int, rating double")
    out = ranker.transform(held_df)
    assert out.columns == ["user", "item", "rating", "prediction", "rank", "numAbove", "numTied", "numCandidates"]
    assert out.count() == len(held)
    expected = reference.unseen_item_ranks(user_factors, item_factors, seen, [(u, i) for u, i, _ in held])
    got = {(r.user, r.item): (r.prediction, r.rank, r.numAbove, r.numTied, r.numCandidates) for r in out.collect()}
    for key, (score, rank, above, tied, cands) in expected.items():
        g = got[key]
        assert (g[1], g[2], g[3], g[4]) == (rank, above, tied, cands), key
        assert (g[0] == score) or (g[0] != g[0] and score != score), key
    assert sum(t > 1 for _, _, _, t, _ in got.values()) > 10  # the case has ties to break


def test_every_metric_equals_the_zero_filled_table(spark):
    """Rank mode on the held-out rows = rows mode on the zero-filled table of all candidates,
    for each metric, tie rule and NaN rule (on Spark Connect, the default rules: the other
    rules run the same plans with other constants, and the classic leg checks them)."""
    user_factors, item_factors, seen, held = random_case(0, users=40)
    ranked = ranker_of(spark, user_factors, item_factors, seen).transform(
        spark.createDataFrame(held, "user int, item int, rating double")).cache()
    table = zero_filled(spark, user_factors, item_factors, seen, held).cache()
    remote = is_remote()
    specs = {f"{metric}@{k}": (metric, k) for metric in METRICS
             for k in ((1, 5) if metric in ("precisionAtK", "mrrAtK", "hitRateAtK") else (5,))}
    for nan_rule in ("last",) if remote else ("last", "drop"):
        for tie_rule in ("average",) if remote else ("average", "itemId"):
            # every metric through evaluateMetrics in each mode (one job in rank mode and for
            # averaged ties, one per metric in rows mode with ties by item); evaluate() runs the
            # same code for one metric, checked once below
            rules = dict(tieRule=tie_rule, nanPredictions=nan_rule)
            rows_mode = RankingMetricsEvaluator(**rules).evaluateMetrics(table, specs)
            rank_mode = RankingMetricsEvaluator(**rules, rankCol="rank").evaluateMetrics(ranked, specs)
            assert set(rank_mode) == set(rows_mode) == set(specs)
            for name in specs:
                assert rank_mode[name] == pytest.approx(rows_mode[name], rel=1e-12, abs=1e-15), (name, rules)
            assert RankingMetricsEvaluator(metricName="ndcgAtK", k=5, rankCol="rank", **rules).evaluate(
                ranked) == pytest.approx(rows_mode["ndcgAtK@5"], rel=1e-12, abs=1e-15)
        for tie_rule in ("average",) if remote else ("average", "min"):
            args = dict(tieRule=tie_rule, nanPredictions=nan_rule)
            assert ROEMEvaluator(**args, rankCol="rank").evaluate(ranked) == pytest.approx(
                ROEMEvaluator(**args).evaluate(table), rel=1e-12), args


@MATH
def test_precision_equals_spark_ranking_evaluator_fed_top_k(spark):
    """Spark's RankingEvaluator fed each user's top-k unseen items (recommendForUserSubset)
    and its relevant held-out items gives our rank-mode number (ties by item id)."""
    user_factors, item_factors, seen, held = random_case(2)
    held = [(u, i, r) for u, i, r in held if u in user_factors and i in item_factors]  # Spark has no cold rule
    ranker = ranker_of(spark, user_factors, item_factors, seen)
    held_df = spark.createDataFrame(held, "user int, item int, rating double")
    ranked = ranker.transform(held_df)
    for k in (1, 8):
        recs = ranker.recommendForUserSubset(held_df, k)
        arrays = recs.select("user", F.transform("recommendations", lambda x: x["item"].cast("double")).alias("predicted")).join(
            held_df.groupBy("user").agg(F.collect_list(F.when(F.col("rating") > 0, F.col("item").cast("double"))).alias("relevant")),
            "user",
        )
        for metric in ("precisionAtK", "ndcgAtK", "recallAtK", "meanAveragePrecisionAtK"):
            spark_value = RankingEvaluator(predictionCol="predicted", labelCol="relevant", metricName=metric, k=k).evaluate(arrays)
            ours = RankingMetricsEvaluator(metricName=metric, k=k, tieRule="itemId", rankCol="rank").evaluate(ranked)
            assert ours == pytest.approx(spark_value, rel=1e-12), (metric, k)


def test_top_n_leaves_seen_items_out(spark):
    user_factors, item_factors, seen, _ = random_case(3, ties=False)
    ranker = ranker_of(spark, user_factors, item_factors, seen, userBlockSize=4, itemBlockSize=6)
    recs = {r.user: [(x.item, x.rating) for x in r.recommendations] for r in ranker.recommendForAllUsers(5).collect()}
    assert set(recs) == set(user_factors)
    for u, got in recs.items():
        scores = {i: np.float32(np.dot(np.float64(user_factors[u]), np.float64(v))) for i, v in item_factors.items()
                  if i not in seen[u]}
        best = sorted(scores, key=lambda i: (-scores[i], i))[:5]
        assert [i for i, _ in got] == best, u
        assert [s for _, s in got] == pytest.approx([float(scores[i]) for i in best])


@MATH
def test_degenerate_factors_score_random_in_rank_mode(spark):
    """A model whose factors are all equal (or all zero) ties every scored candidate: under
    the defaults every metric is the random expectation on the zero-filled table (rows without
    factors rank last); with no cold row, ROEM is 0.5."""
    user_factors, item_factors, seen, held = random_case(4)
    flat = {u: [0.5, 0.5, 0.5] for u in user_factors}, {i: [0.0, 0.0, 0.0] for i in item_factors}
    ranked = ranker_of(spark, *flat, seen).transform(spark.createDataFrame(held, "user int, item int, rating double"))
    table = zero_filled(spark, *flat, seen, held)
    users, items, ratings, preds = (list(c) for c in zip(*[tuple(r) for r in table.collect()]))
    assert set(p for p in preds if p == p) == {0.0}
    assert ROEMEvaluator(rankCol="rank").evaluate(ranked) == pytest.approx(
        reference.roem(users, ratings, preds, tie_rule="average", nan_rule="last"), rel=1e-12)
    warm = ranked.where("prediction = prediction")
    assert ROEMEvaluator(rankCol="rank", nanPredictions="drop").evaluate(warm) == pytest.approx(0.5)
    for metric in METRICS:
        expected = reference.ranking_metric(users, items, ratings, preds, metric, 5, nan_rule="last", tie_rule="average")
        assert RankingMetricsEvaluator(metricName=metric, k=5, rankCol="rank").evaluate(ranked) == pytest.approx(
            expected, rel=1e-12), metric


def test_cold_rows_and_errors(spark):
    user_factors, item_factors, seen, held = random_case(5)
    held_df = spark.createDataFrame(held, "user int, item int, rating double")
    ranker = ranker_of(spark, user_factors, item_factors, seen)
    dropped = ranker.setColdStartStrategy("drop").transform(held_df)
    kept = [(u, i) for u, i, _ in held if u in user_factors and i in item_factors]
    assert sorted((r.user, r.item) for r in dropped.collect()) == sorted(kept)
    expected = reference.unseen_item_ranks(user_factors, item_factors, seen, [(u, i) for u, i, _ in held], cold="drop")
    assert {(r.user, r.item): r.numCandidates for r in dropped.collect()} == {k: v[4] for k, v in expected.items()}
    # a held-out pair that was in the fit data is not a candidate: it fails, naming the pair
    u, i = 0, sorted(seen[0])[0]
    bad = spark.createDataFrame([(u, i, 1.0)], "user int, item int, rating double")
    with pytest.raises(Exception, match=r"UnseenItemRankerModel: a held-out row of userCol 'user', itemCol 'item' is the "
                                        rf"pair \({u}, {i}\), which was in the fit data"):
        ranker.transform(bad).collect()
    with pytest.raises(ValueError, match=r"UnseenItemRankerModel: rankCol 'rating' already exists"):
        ranker.setColdStartStrategy("nan").setRankCol("rating").transform(held_df)
    with pytest.raises(ValueError, match=r"UnseenItemRankerModel: coldStartStrategy must be one of \['nan', 'drop'\]"):
        ranker.setRankCol("rank").setColdStartStrategy("skip").transform(held_df)
    with pytest.raises(ValueError, match=r"UnseenItemRankerModel: itemBlockSize must be >= 1, found 0"):
        ranker.setColdStartStrategy("nan").setItemBlockSize(0).transform(held_df)
    with pytest.raises(TypeError, match=r"UnseenItemRankerModel: userCol 'user' must be numeric"):
        ranker.setItemBlockSize(8).transform(held_df.withColumn("user", F.col("user").cast("string")))


def test_a_user_who_saw_every_item_keeps_a_row(spark):
    """Issue 24: every user asked about gets a row, empty when there is nothing to give (as
    ALSModel.recommendForAllUsers gives every user a row)."""
    users = {0: [1.0, 0.0], 1: [0.0, 1.0], 3: [0.5, 0.5]}
    items = {i: [float(i), 1.0] for i in range(6)}
    seen = {0: {0}, 1: {1, 2}, 3: set(range(6))}
    ranker = ranker_of(spark, users, items, seen)
    recs = {r.user: [x.item for x in r.recommendations] for r in ranker.recommendForAllUsers(10).collect()}
    assert recs == {0: [5, 4, 3, 2, 1], 1: [0, 3, 4, 5], 3: []}
    asked = spark.createDataFrame([(3,), (1,), (7,), (7,), (None,)], "user int")  # 7: unknown
    recs = {r.user: [x.item for x in r.recommendations] for r in ranker.recommendForUserSubset(asked, 2).collect()}
    assert recs == {1: [0, 3], 3: [], 7: []}


def test_nan_factors_rank_last_and_metrics_stay_in_range(spark):
    """Issue 24's case: a NaN item factor and a user with NaN factors. NaN scores rank after
    every finite candidate, tied among themselves (nanPredictions' rule); top-N leaves them
    out; every metric stays in [0, 1] and none fails on Spark's arithmetic."""
    nan = float("nan")
    users = {0: [1.0, 0.0], 1: [nan, nan]}
    items = {0: [1.0, 0.0], 1: [0.5, 0.5], 2: [nan, 0.0], 3: [0.25, 0.75], 4: [0.0, 1.0]}
    ranker = ranker_of(spark, users, items, {0: {0}, 1: {0}})
    held = spark.createDataFrame([(0, 2, 1.0), (0, 4, 1.0), (1, 3, 1.0), (1, 4, 1.0)], "user int, item int, rating double")
    ranked = ranker.transform(held).cache()
    got = {(r.user, r.item): (r.rank, r.numAbove, r.numTied, r.numCandidates) for r in ranked.collect()}
    assert got == {(0, 2): (4, 3, 1, 4), (0, 4): (3, 2, 1, 4), (1, 3): (3, 0, 4, 4), (1, 4): (4, 0, 4, 4)}
    specs = {f"{m}@{k}": (m, k) for m in METRICS for k in (1, 2)}
    for tie_rule in ("average", "itemId"):
        values = RankingMetricsEvaluator(rankCol="rank", tieRule=tie_rule).evaluateMetrics(ranked, specs)
        assert all(0.0 <= v <= 1.0 for v in values.values()), values
        # user 0: both rows below a finite candidate at k = 1; user 1: all four tie, two relevant
        if tie_rule == "average":
            assert values["precisionAtK@1"] == pytest.approx(0.25)
            assert values["mrrAtK@1"] == pytest.approx(0.25)
    assert 0.0 <= ROEMEvaluator(rankCol="rank").evaluate(ranked) <= 1.0
    recs = {r.user: [x.item for x in r.recommendations] for r in ranker.recommendForAllUsers(3).collect()}
    assert recs == {0: [1, 3, 4], 1: []}


# -- fitting, tuning and persistence -----------------------------------------------------------


@pytest.fixture(scope="module")
def plays(spark_session):
    rng = np.random.default_rng(3)
    u, v = rng.normal(size=(40, 3)), rng.normal(size=(35, 3))
    rows = [(a, b, float(1 + rng.poisson(2))) for a in range(40) for b in range(35) if u[a] @ v[b] > 0.9]
    return spark_session.createDataFrame(rows, "user int, item int, rating double")


ALS_ARGS = dict(rank=3, maxIter=5, regParam=0.1, seed=2, numUserBlocks=1, numItemBlocks=1)


@MATH
def test_fit_then_rank_matches_the_zero_fill_route(spark, plays):
    """With a real ALS: our precision@5 and ROEM of the held-out rows equal ZeroFiller +
    ALSModel.transform + the evaluators on the table of the users' candidates."""
    folds = PerUserFolds(numFolds=4, seed=1).transform(plays)
    train, test = folds.where("fold != 0").drop("fold"), folds.where("fold = 0").drop("fold")
    model = UnseenItemRanker(**ALS_ARGS).fit(train)
    ranked = model.transform(test)
    # the zero-fill route: each test user x every training item (ZeroFiller), less its own
    # training items, with its held-out rows (rating) on top of the zeros
    grid = ZeroFiller().transform(train.union(test.select("user", "item", F.lit(0.0).alias("rating"))))
    grid = grid.join(test.select("user").distinct(), "user").join(train.select("user", "item"), ["user", "item"], "left_anti")
    grid = grid.join(train.select("item").distinct().union(test.select("item")).distinct(), "item")
    held = test.select("user", "item", F.col("rating").alias("held"))
    table = model.model.transform(
        grid.join(held, ["user", "item"], "left").withColumn("rating", F.coalesce("held", F.lit(0.0))).drop("held")
    )
    # items only in test: candidates of their own users only (the ranker's catalogue is the fit's)
    cold = test.select("item").subtract(train.select("item"))
    table = table.join(cold, "item", "left_anti").union(
        table.join(cold, "item").join(test.select("user", "item"), ["user", "item"], "left_semi"))
    for evaluator in (PrecisionAtKEvaluator(k=5), RankingMetricsEvaluator(metricName="ndcgAtK", k=5), ROEMEvaluator()):
        rank_mode = evaluator.copy({evaluator.rankCol: "rank"}).evaluate(ranked)
        assert rank_mode == pytest.approx(evaluator.evaluate(table), rel=1e-6)
    assert 0 < ROEMEvaluator(rankCol="rank").evaluate(ranked) < 0.5  # better than random


def test_cross_validator_tunes_als_on_the_full_catalogue(spark, plays, tmp_path):
    ranker = UnseenItemRanker(**ALS_ARGS)
    # two points, differing in rank and alpha (fit_als copies every param into the inner ALS;
    # the rank check below shows the grid point got there)
    grid = [{ranker.rank: 1, ranker.alpha: 1.0}, {ranker.rank: 4, ranker.alpha: 5.0}]
    cv = CrossValidator(estimator=ranker, estimatorParamMaps=grid, numFolds=2, foldCol="fold", seed=1,
                        evaluator=PrecisionAtKEvaluator(k=5, rankCol="rank"))
    model = cv.fit(PerUserFolds(numFolds=2, seed=4).transform(plays))
    assert len(set(model.avgMetrics)) > 1  # the grid's params reached the inner ALS
    best = model.bestModel
    assert isinstance(best, UnseenItemRankerModel)
    assert best.model.rank == [1, 4][int(np.argmax(model.avgMetrics))]
    assert ranker.getRank() == 3  # copies carried the grid point, not the estimator
    model.write().overwrite().save(str(tmp_path / "cv"))
    loaded = CrossValidatorModel.load(str(tmp_path / "cv"))
    assert loaded.avgMetrics == pytest.approx(model.avgMetrics)
    assertDataFrameEqual(loaded.bestModel.transform(plays.limit(0)), best.transform(plays.limit(0)))
    # the best point's params, read from bestModel, also after save/load
    chosen = grid[int(np.argmax(model.avgMetrics))]
    for got in (best, loaded.bestModel):
        assert (got.rank, got.getRank(), got.getAlpha()) == (chosen[ranker.rank],) * 2 + (chosen[ranker.alpha],)
        assert (got.getMaxIter(), got.getRegParam(), got.getImplicitPrefs(), got.getNonnegative()) == (
            5, 0.1, True, False)


def test_a_model_from_elsewhere_does_not_know_the_fit_params(spark, plays):
    als = ALS(rank=2, maxIter=2, seed=1, implicitPrefs=True, numUserBlocks=1, numItemBlocks=1).fit(plays)
    ranker = UnseenItemRankerModel.fromFitted(als, plays)
    assert ranker.rank == ranker.getRank() == 2  # the inner model's
    with pytest.raises(ValueError, match=r"UnseenItemRankerModel: regParam is not known: the model was not "
                                         r"fitted by UnseenItemRanker \(fromFitted\), or was saved before 0.2.0"):
        ranker.getRegParam()


def test_save_load_alone_and_in_a_pipeline(spark, plays, tmp_path):
    ranker = UnseenItemRanker(**ALS_ARGS, rankCol="r", userBlockSize=7)
    ranker.save(str(tmp_path / "ranker"))
    loaded = UnseenItemRanker.load(str(tmp_path / "ranker"))
    assert loaded.uid == ranker.uid and loaded.getRankCol() == "r" and loaded.getUserBlockSize() == 7
    assert loaded.getRank() == 3 and loaded.getImplicitPrefs() and loaded.getSeed() == 2
    folds = PerUserFolds(numFolds=3, seed=2).transform(plays)
    train, test = folds.where("fold > 0").drop("fold"), folds.where("fold = 0").drop("fold")
    pipeline = Pipeline(stages=[loaded]).fit(train)
    pipeline.save(str(tmp_path / "pipeline"))
    again = PipelineModel.load(str(tmp_path / "pipeline"))
    assert isinstance(again.stages[0], UnseenItemRankerModel) and again.stages[0].numItems == pipeline.stages[0].numItems
    assertDataFrameEqual(again.transform(test), pipeline.transform(test))
    assertDataFrameEqual(again.stages[0].recommendForAllUsers(3), pipeline.stages[0].recommendForAllUsers(3))


def test_saved_model_with_a_foreign_inner_stage_is_refused(spark, plays, tmp_path):
    model = UnseenItemRanker(**ALS_ARGS).fit(plays)
    path = str(tmp_path / "m")
    model.save(path)
    # swap the inner model's metadata for another class's: loading refuses, never imports it
    meta = tmp_path / "m" / "model" / "metadata"
    part = next(p for p in meta.iterdir() if p.name.startswith("part-"))
    part.write_text(part.read_text().replace("org.apache.spark.ml.recommendation.ALSModel", "os.system"))
    for crc in meta.glob(".*.crc"):  # Hadoop's checksum of the old text
        crc.unlink()
    with pytest.raises(ValueError, match=r"UnseenItemRankerModel: '.*model' holds a 'os.system', which a ranker cannot hold"):
        UnseenItemRankerModel.load(path)
    with pytest.raises(ValueError, match=r"UnseenItemRanker: maxIter=12 needs ALS checkpoints|UnseenItemRanker: checkpointInterval=-1"):
        UnseenItemRanker(maxIter=12, checkpointInterval=-1).fit(plays)
