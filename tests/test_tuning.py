"""Per-user folds and split, and CrossValidator over ZeroFiller + implicit ALS with our evaluators."""

import random
import zlib
from collections import Counter, defaultdict

import numpy as np
import pytest
from pyspark.ml import Pipeline
from pyspark.ml.recommendation import ALS
from pyspark.ml.tuning import CrossValidator, CrossValidatorModel, ParamGridBuilder
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_recs import (
    PerUserFolds,
    PrecisionAtKEvaluator,
    ROEMEvaluator,
    ZeroFiller,
    train_test_split_per_user,
)


@pytest.fixture(scope="module")
def interactions(spark_session):
    rng = random.Random(5)
    rows = [(f"u{u}", f"i{i}", float(rng.randint(1, 9))) for u in range(30) for i in range(20) if rng.random() < 0.3]
    rows += [("solo", "i1", 2.0)]  # fewer rows than folds
    return spark_session.createDataFrame(rows, ["user", "item", "rating"])


def per_user_fold_counts(df):
    counts = defaultdict(Counter)
    for r in df.collect():
        counts[r["user"]][r["fold"]] += 1
    return counts


def test_folds_spread_each_user_evenly(interactions):
    folds = PerUserFolds(numFolds=3, seed=11).transform(interactions)
    assert folds.columns == ["user", "item", "rating", "fold"]
    assert folds.schema["fold"].dataType.simpleString() == "int"
    assert folds.count() == interactions.count()
    sizes = Counter(r["user"] for r in interactions.collect())
    for user, counts in per_user_fold_counts(folds).items():
        assert set(counts) <= {0, 1, 2}
        n = sizes[user]
        assert sum(counts.values()) == n
        assert all(counts.get(f, 0) in (n // 3, -(-n // 3)) for f in range(3)), (user, counts)


def test_folds_deterministic_and_seeded(interactions):
    # repeated (user, item) pairs with other ratings: the rating breaks the tie in the order
    data = interactions.union(interactions.where("user = 'u1'").withColumn("rating", F.col("rating") + 0.5))
    folds = PerUserFolds(numFolds=4, seed=3)
    a = folds.transform(data.repartition(1))
    b = PerUserFolds(numFolds=4, seed=3).transform(data.repartition(7))  # another run, same seed
    assertDataFrameEqual(a, b)
    c = PerUserFolds(numFolds=4, seed=4).transform(data)
    assert sorted(a.collect()) != sorted(c.collect())


def test_users_with_few_rows_do_not_all_land_in_fold_zero(spark):
    df = spark.createDataFrame([(f"u{u}", "i") for u in range(60)], ["user", "item"])
    used = Counter(r["fold"] for r in PerUserFolds(numFolds=3, seed=1).transform(df).collect())
    assert set(used) == {0, 1, 2} and min(used.values()) >= 10


def test_folds_bad_input(interactions):
    with pytest.raises(ValueError, match=r"PerUserFolds: numFolds must be >= 2, found 1"):
        PerUserFolds(numFolds=1).transform(interactions)
    with pytest.raises(ValueError, match=r"PerUserFolds: foldCol 'rating' already exists in \[user, item, rating\]"):
        PerUserFolds(foldCol="rating").transform(interactions)
    with pytest.raises(ValueError, match=r"PerUserFolds: itemCol 'song' not in \[user, item, rating\]"):
        PerUserFolds(itemCol="song").transform(interactions)
    arrays = interactions.select(F.array("user").alias("user"), "item")
    with pytest.raises(TypeError, match=r"PerUserFolds: userCol 'user' must be an atomic type, found array<string>"):
        PerUserFolds().transform(arrays)


def test_folds_save_load(tmp_path, interactions):
    folds = PerUserFolds(numFolds=5, seed=9, foldCol="f")
    folds.save(str(tmp_path / "folds"))
    loaded = PerUserFolds.load(str(tmp_path / "folds"))
    assert loaded.uid == folds.uid
    assert {p.name: v for p, v in loaded.extractParamMap().items()} == {p.name: v for p, v in folds.extractParamMap().items()}
    assertDataFrameEqual(loaded.transform(interactions), folds.transform(interactions))


def test_default_seed_is_the_same_in_every_process():
    # pyspark's HasSeed default, hash(class name), changes with PYTHONHASHSEED; ours is a constant
    assert PerUserFolds().getSeed() == zlib.crc32(b"spark_recs.tuning")


def test_train_test_split_per_user(interactions):
    train, test = train_test_split_per_user(interactions, testFraction=0.25, seed=2)
    sizes = Counter(r["user"] for r in interactions.collect())
    tests = Counter(r["user"] for r in test.collect())
    trains = Counter(r["user"] for r in train.collect())
    for user, n in sizes.items():
        assert tests.get(user, 0) == min(int(n * 0.25), n - 1)
        assert trains[user] >= 1
    assert train.count() + test.count() == interactions.count()
    assert train.join(test, ["user", "item"]).count() == 0
    for parts in (1, 7):  # other runs, same seed, 1 and 7 input partitions
        again_train, again_test = train_test_split_per_user(interactions.repartition(parts), testFraction=0.25, seed=2)
        assertDataFrameEqual(again_test, test)
        assertDataFrameEqual(again_train, train)
    with pytest.raises(ValueError, match=r"train_test_split_per_user: testFraction must be in \[0, 1\), found 1.0"):
        train_test_split_per_user(interactions, testFraction=1.0)
    with pytest.raises(ValueError, match=r"train_test_split_per_user: userCol 'uid' not in"):
        train_test_split_per_user(interactions, userCol="uid")


def play_log(seed, users=12, items=9):
    """A play-event log: a row per play, so most (user, item) pairs repeat, some many times;
    a user with one pair (three plays) and a null user."""
    rng = random.Random(seed)
    rows = []
    for u in range(users):
        for i in rng.sample(range(items), rng.randint(1, items)):
            rows += [(f"u{u}", f"s{i}", float(rng.randint(1, 5)), j) for j in range(rng.choice([1, 1, 2, 3, 7]))]
    rows += [("solo", "s0", 1.0, j) for j in range(3)] + [(None, "s1", 1.0, 0), (None, "s1", 2.0, 1)]
    rng.shuffle(rows)
    return rows


LOG_SCHEMA = "user string, item string, rating double, play int"


def sides_of_pairs(rows, side_of):
    """(user, item) -> the set of sides its rows landed on."""
    sides = defaultdict(set)
    for r in rows:
        sides[(r["user"], r["item"])].add(side_of(r))
    return sides


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_split_keeps_the_rows_of_a_pair_on_one_side(spark, seed):
    log = play_log(seed)
    df = spark.createDataFrame(log, LOG_SCHEMA)
    n_pairs = len({(u, i) for u, i, _, _ in log})
    assert len(log) > 1.5 * n_pairs  # heavy duplication
    for num_folds in (2, 3, 5):
        folds = PerUserFolds(numFolds=num_folds, seed=seed).transform(df).collect()
        assert sorted(map(repr, (tuple(r[:4]) for r in folds))) == sorted(map(repr, log))  # every row once
        sides = sides_of_pairs(folds, lambda r: r["fold"])
        assert all(len(s) == 1 for s in sides.values()), {p: s for p, s in sides.items() if len(s) > 1}
        # balanced by pairs: a user with n pairs has floor or ceil(n / numFolds) pairs per fold
        pairs_per_fold = defaultdict(Counter)
        for (user, _), (fold,) in sides.items():
            pairs_per_fold[user][fold] += 1
        for user, counts in pairs_per_fold.items():
            n = sum(counts.values())
            assert all(counts.get(f, 0) in (n // num_folds, -(-n // num_folds)) for f in range(num_folds)), user
    for fraction in (0.2, 0.5, 0.9):
        train, test = train_test_split_per_user(df, testFraction=fraction, seed=seed)
        train_rows, test_rows = train.collect(), test.collect()
        assert sorted(repr(tuple(r)) for r in train_rows + test_rows) == sorted(map(repr, log))
        sides = sides_of_pairs(train_rows, lambda r: "train")
        for pair, side in sides_of_pairs(test_rows, lambda r: "test").items():
            sides[pair] |= side
        assert all(len(s) == 1 for s in sides.values())
        # per user: floor(pairs * fraction) test pairs, at least one pair in train
        per_user = defaultdict(Counter)
        for (user, _), (side,) in sides.items():
            per_user[user][side] += 1
        for user, counts in per_user.items():
            n = counts["train"] + counts["test"]
            assert counts["test"] == min(int(n * fraction), n - 1), (user, counts)


def test_pair_splits_do_not_depend_on_the_partitioning(spark):
    log = play_log(7)
    df = spark.createDataFrame(log, LOG_SCHEMA)
    base = PerUserFolds(numFolds=3, seed=4).transform(df.repartition(1))
    base_train, base_test = train_test_split_per_user(df.repartition(1), testFraction=0.3, seed=4)
    for parts in (3, 8):
        again = df.repartition(parts, "play")
        assertDataFrameEqual(PerUserFolds(numFolds=3, seed=4).transform(again), base)
        train, test = train_test_split_per_user(again, testFraction=0.3, seed=4)
        assertDataFrameEqual(train, base_train)
        assertDataFrameEqual(test, base_test)


def test_split_by_row_is_asked_for_explicitly(spark):
    """splitBy='row' deals single rows, as before pairs were kept together: a pair's rows then
    straddle folds and the holdout (the fault this default fixes)."""
    df = spark.createDataFrame([("u1", "s1", 1.0, j) for j in range(3)] + [("u1", "s2", 1.0, 0)], LOG_SCHEMA)
    by_row = PerUserFolds(numFolds=3, seed=1, splitBy="row").transform(df)
    assert by_row.where("item = 's1'").select("fold").distinct().count() == 3
    by_pair = PerUserFolds(numFolds=3, seed=1).transform(df)
    assert by_pair.where("item = 's1'").select("fold").distinct().count() == 1
    train, test = train_test_split_per_user(df, testFraction=0.5, seed=1, splitBy="row")
    assert (train.count(), test.count()) == (2, 2)
    train, test = train_test_split_per_user(df, testFraction=0.5, seed=1)
    assert sorted(r["item"] for r in test.collect()) in (["s1"] * 3, ["s2"])
    with pytest.raises(ValueError, match=r"PerUserFolds: splitBy must be one of \['pair', 'row'\], found 'play'"):
        PerUserFolds(splitBy="play").transform(df)
    with pytest.raises(ValueError, match=r"train_test_split_per_user: splitBy must be one of"):
        train_test_split_per_user(df, splitBy="rows")


# -- CrossValidator --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rank5_plays(spark_session):
    """Play counts with a planted rank-5 taste structure: 80 users x 50 items."""
    rng = np.random.default_rng(42)
    users, items = rng.normal(size=(80, 5)), rng.normal(size=(50, 5))
    affinity = users @ items.T
    rows = []
    for u in range(80):
        liked = np.argsort(-affinity[u])[:12]  # each user plays (mostly) its 12 favourite items
        for i in liked:
            if rng.random() < 0.8:
                rows.append((f"user_{u:03d}", int(i), float(1 + rng.poisson(3))))
    df = spark_session.createDataFrame(rows, ["user", "item", "rating"])
    return PerUserFolds(numFolds=2, seed=1).transform(df).cache()


def implicit_pipeline():
    als = ALS(userCol="user_idx", itemCol="item", ratingCol="rating", implicitPrefs=True, maxIter=3,
              regParam=0.05, alpha=5.0, seed=3, numUserBlocks=1, numItemBlocks=1, coldStartStrategy="drop")
    from spark_recs import IdIndexer

    indexer = IdIndexer(inputCol="user", outputCol="user_idx", handleInvalid="keep")
    return Pipeline(stages=[ZeroFiller(), indexer, als]), als


def test_cross_validator_picks_the_better_rank_and_matches_hand_evaluation(rank5_plays, tmp_path):
    pipeline, als = implicit_pipeline()
    grid = ParamGridBuilder().addGrid(als.rank, [1, 8]).build()
    evaluator = ROEMEvaluator()
    cv = CrossValidator(estimator=pipeline, estimatorParamMaps=grid, evaluator=evaluator,
                        numFolds=2, foldCol="fold", parallelism=2, seed=0)
    model = cv.fit(rank5_plays)
    assert model.bestModel.stages[-1].rank == 8
    assert model.avgMetrics[1] < model.avgMetrics[0]  # lower ROEM is better

    # the same numbers by hand: fit on one fold, evaluate on the other, average
    by_hand = []
    for params in grid:
        scores = []
        for fold in range(2):
            train = rank5_plays.where(F.col("fold") != fold)
            validation = rank5_plays.where(F.col("fold") == fold)
            scores.append(evaluator.evaluate(pipeline.fit(train, params).transform(validation)))
        by_hand.append(sum(scores) / 2)
    assert model.avgMetrics == pytest.approx(by_hand, rel=1e-6)

    path = str(tmp_path / "cv")
    model.save(path)
    loaded = CrossValidatorModel.load(path)
    assert loaded.avgMetrics == pytest.approx(model.avgMetrics)
    assert isinstance(loaded.getEvaluator(), ROEMEvaluator)
    assert loaded.bestModel.stages[-1].rank == 8


def test_cross_validator_with_precision_at_k_on_zero_filled_folds(rank5_plays):
    # Zeros filled before the folds are true negatives in every validation fold. (ZeroFiller
    # inside the pipeline would make each user's training items zeros of its validation fold.)
    filled = ZeroFiller().transform(rank5_plays.drop("fold"))
    folds = PerUserFolds(numFolds=2, seed=1).transform(filled).cache()
    pipeline, als = implicit_pipeline()
    pipeline = Pipeline(stages=pipeline.getStages()[1:])
    grid = ParamGridBuilder().addGrid(als.rank, [1, 8]).build()
    evaluator = PrecisionAtKEvaluator(k=5)
    cv = CrossValidator(estimator=pipeline, estimatorParamMaps=grid, evaluator=evaluator,
                        numFolds=2, foldCol="fold", parallelism=2)
    model = cv.fit(folds)
    assert model.avgMetrics[1] > model.avgMetrics[0]  # larger precision is better
    assert model.bestModel.stages[-1].rank == 8
    # a random ranking would give about (positives per fold) / (rows per fold) = 0.2
    assert model.avgMetrics[1] > 0.4
