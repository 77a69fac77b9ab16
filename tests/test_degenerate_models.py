"""No evaluator default rates a degenerate model above random, and CrossValidator never prefers
one (field report: a constant model won ROEM tuning).

A degenerate model ties every row: a constant prediction, all-zero factors (heavy
regularisation, or no positive training rows), or no prediction at all (cold rows). Under the
defaults (tieRule='average', nanPredictions='last') each evaluator gives such a model exactly
the expected score of a random ranking.
"""

import random

import numpy as np
import pytest
from pyspark.ml.recommendation import ALS
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import functions as F

from spark_recs import ImplicitALS, PerUserFolds, PrecisionAtKEvaluator, RankingMetricsEvaluator, ROEMEvaluator, ZeroFiller
from tests import reference

TOP_K = ["precisionAtK", "recallAtK", "ndcgAtK", "meanAveragePrecisionAtK", "meanAveragePrecision", "mrrAtK", "hitRateAtK"]


def table(seed=0, users=12, items=9):
    """A zero-filled play table: every user x item, about a third of the pairs played."""
    rng = random.Random(seed)
    return [(u, i, float(rng.choice([0, 0, 0, 1, 2, 4]))) for u in range(users) for i in range(items)]


def monte_carlo(rows, metric, k, draws=4000, seed=0):
    """Mean and standard error of a metric over random rankings (fresh random scores, so no
    ties), by the numpy reference."""
    rng = np.random.default_rng(seed)
    users, items, ratings = (list(c) for c in zip(*rows))
    values = []
    for _ in range(draws):
        scores = rng.random(len(rows))
        if metric == "roem":
            values.append(reference.roem(users, ratings, scores))
        else:
            values.append(reference.ranking_metric(users, items, ratings, scores, metric, k))
    return float(np.mean(values)), float(np.std(values) / np.sqrt(draws))


def degenerate(spark, rows, kind):
    """The table scored by a degenerate model."""
    df = spark.createDataFrame(rows, "user int, item int, rating double")
    if kind == "constant":
        return df.withColumn("prediction", F.lit(0.37).cast("float"))
    if kind == "all-nan":
        return df.withColumn("prediction", F.lit(None).cast("float"))
    # all-zero factors: implicit ALS regularised so heavily that its factors underflow to 0
    model = ALS(implicitPrefs=True, rank=3, maxIter=10, regParam=1e6, seed=1, numUserBlocks=1, numItemBlocks=1).fit(df)
    assert all(v == 0.0 for r in model.userFactors.collect() for v in r.features)
    return model.transform(df)


EVALUATORS = [pytest.param(ROEMEvaluator(), "roem", 0, id="roem")] + [
    pytest.param(RankingMetricsEvaluator(metricName=m, k=k), m, k, id=f"{m}@{k}") for m in TOP_K for k in (1, 4)
    if not (m == "meanAveragePrecision" and k == 4)
] + [pytest.param(PrecisionAtKEvaluator(k=3), "precisionAtK", 3, id="PrecisionAtKEvaluator@3")]


@pytest.fixture(scope="module")
def scored(spark_session):
    rows = table()
    return rows, {kind: degenerate(spark_session, rows, kind).cache() for kind in ("constant", "all-nan", "all-zero-factors")}


@pytest.mark.parametrize("evaluator, metric, k", EVALUATORS)
def test_degenerate_models_score_the_random_expectation(scored, evaluator, metric, k):
    rows, models = scored
    users, items, ratings = (list(c) for c in zip(*rows))
    if metric == "roem":
        expected = 0.5  # every user has more than one row
    else:  # the exact expectation over every order of the tie (checked by enumeration elsewhere)
        expected = reference.ranking_metric(users, items, ratings, [0.0] * len(rows), metric, k, tie_rule="average")
    mean, error = monte_carlo(rows, metric, k, draws=600)
    assert abs(expected - mean) < 4 * error + 1e-12  # it is what random ranking scores
    for kind, df in models.items():
        assert evaluator.evaluate(df) == pytest.approx(expected, rel=1e-12), kind


def test_the_old_rules_rewarded_ties(scored):
    """What the defaults fix: ties broken in the model's favour ('min') give a constant model a
    perfect ROEM, and ties by item id give it the ranking of the item ids."""
    rows, models = scored
    assert ROEMEvaluator(tieRule="min").evaluate(models["constant"]) == 0.0
    # item ids that follow popularity (as IdIndexer numbers them): the constant model is then
    # a most-popular recommender under 'itemId', and better than random
    popularity = {}
    for _, i, r in rows:
        popularity[i] = popularity.get(i, 0) + (r > 0)
    rank = {i: n for n, i in enumerate(sorted(popularity, key=lambda i: -popularity[i]))}
    spark = models["constant"].sparkSession
    by_popularity = spark.createDataFrame([(u, rank[i], r, 0.37) for u, i, r in rows], "user int, item int, rating double, prediction double")
    random_precision = PrecisionAtKEvaluator(k=1).evaluate(by_popularity)
    assert PrecisionAtKEvaluator(k=1, tieRule="itemId").evaluate(by_popularity) > random_precision + 0.05


def test_the_issues_example(spark):
    """User a rates 3, 0, 1, 0 and user b 0, 2; every prediction is 0.0."""
    df = spark.createDataFrame(
        [("a", 3.0, 0.0), ("a", 0.0, 0.0), ("a", 1.0, 0.0), ("a", 0.0, 0.0), ("b", 0.0, 0.0), ("b", 2.0, 0.0)],
        "user string, rating double, prediction double",
    )
    assert ROEMEvaluator().evaluate(df) == 0.5
    assert ROEMEvaluator(tieRule="min").evaluate(df) == 0.0  # the course's PERCENT_RANK rule


# -- CrossValidator ----------------------------------------------------------------------------


def planted_plays(spark, users, items, seed):
    """Zero-filled plays with two taste groups (a user likes the items of its group)."""
    rng = random.Random(seed)
    rows = [(u, i, float(rng.randint(1, 5))) for u in range(users) for i in range(items)
            if rng.random() < (0.75 if (u < users // 2) == (i < items // 2) else 0.1)]
    return ZeroFiller().transform(spark.createDataFrame(rows, "user int, item int, rating double"))


@pytest.fixture(scope="module")
def cv_data(spark_session):
    """8 users x 10 items, per-user folds; the grid's regParam 1e6 gives all-zero factors."""
    folds = PerUserFolds(numFolds=3, seed=0).transform(planted_plays(spark_session, 8, 10, 3)).cache()
    als = ImplicitALS(rank=2, maxIter=5, seed=1, numUserBlocks=1, numItemBlocks=1)
    grid = ParamGridBuilder().addGrid(als.regParam, [0.01, 1e6]).build()
    return folds, als, grid


@pytest.mark.parametrize("evaluator", [ROEMEvaluator(), PrecisionAtKEvaluator(k=2),
                                       RankingMetricsEvaluator(metricName="ndcgAtK", k=3)],
                         ids=["roem", "precision@2", "ndcg@3"])
def test_cross_validator_never_selects_the_degenerate_point(cv_data, evaluator):
    folds, als, grid = cv_data
    cv = CrossValidator(estimator=als, estimatorParamMaps=grid, evaluator=evaluator, numFolds=3, foldCol="fold", seed=1)
    model = cv.fit(folds)
    fitted, degenerate = model.avgMetrics
    assert (fitted > degenerate) if evaluator.isLargerBetter() else (fitted < degenerate)
    assert any(v != 0.0 for r in model.bestModel.userFactors.collect() for v in r.features)  # the fitted point
    if isinstance(evaluator, ROEMEvaluator):
        assert degenerate == pytest.approx(0.5)  # every validation row is scored, all tied
        zero = als.copy({als.regParam: 1e6}).fit(folds)
        assert all(v == 0.0 for r in zero.userFactors.collect() for v in r.features)
        # the course's rule picks the constant model: a perfect 0.0
        old = CrossValidator(estimator=als, estimatorParamMaps=grid, numFolds=3, foldCol="fold", seed=1,
                             evaluator=ROEMEvaluator(tieRule="min", nanPredictions="drop")).fit(folds)
        assert old.avgMetrics[1] == 0.0 < old.avgMetrics[0]


def test_why_the_constant_model_scored_below_half_under_average_ties(spark):
    """The report's constant model scored 0.464, not 0.5, under tieRule='average' with
    nanPredictions='drop' (then the default): ImplicitALS has no factors for an item whose
    plays all fell in the validation fold, so those rows are NaN and were dropped, and a user
    left with one row ranks at 0 by ROEM's definition. Exactly: each fold scores
    sum(0.5 * plays of users with 2+ rows) / sum(plays), less than 0.5 when such a user played.
    Under the default nanPredictions='last' the NaN rows stay, ranked after the others."""
    folds = PerUserFolds(numFolds=3, seed=0).transform(planted_plays(spark, 6, 8, 3)).cache()
    als = ImplicitALS(rank=2, maxIter=5, seed=1, numUserBlocks=1, numItemBlocks=1, regParam=1e6)
    dropped, by_hand, without_single = [], [], []
    for f in range(3):
        predicted = als.fit(folds.where(F.col("fold") != f)).transform(folds.where(F.col("fold") == f)).collect()
        assert {r.prediction for r in predicted if r.prediction == r.prediction} == {0.0}  # constant, NaN for cold rows
        dropped.append(ROEMEvaluator(nanPredictions="drop").evaluate(spark.createDataFrame(predicted)))
        scored = [r for r in predicted if r.prediction == r.prediction]
        users = {r.user for r in scored}
        n = {u: sum(r.user == u for r in scored) for u in users}
        plays = {u: sum(r.rating for r in scored if r.user == u) for u in users}
        by_hand.append(sum(0.5 * plays[u] for u in users if n[u] > 1) / sum(plays.values()))
        without_single.append(sum(0.5 * plays[u] for u in users) / sum(plays.values()))
    assert np.mean(dropped) == pytest.approx(np.mean(by_hand), rel=1e-12)
    assert np.mean(dropped) < 0.5 and np.mean(without_single) == pytest.approx(0.5)
