"""No rows lost silently: every stage's output row count and rating sum against its documented
rule, computed here in plain Python from the input."""

import random
from collections import Counter, defaultdict

import pytest
from pyspark.sql import functions as F

from spark_recs import (
    BinaryRater,
    IdIndexer,
    ImplicitALS,
    PerUserFolds,
    ZeroFiller,
    recommend_for_users,
    train_test_split_per_user,
)

NAN = float("nan")

# 12 users x 9 items, about a third observed, plus two repeated pairs (one with another rating)
_rng = random.Random(7)
ROWS = [(f"u{u:02d}", f"i{i}", float(_rng.randint(1, 9))) for u in range(12) for i in range(9) if _rng.random() < 0.35]
ROWS += [ROWS[0], (ROWS[1][0], ROWS[1][1], 4.0)]


@pytest.fixture(scope="module")
def plays(spark_session):
    return spark_session.createDataFrame(ROWS, "user string, item string, rating double").cache()


def count_and_sum(df, col="rating"):
    row = df.agg(F.count(F.lit(1)).alias("n"), F.sum(col).alias("s")).first()
    return row["n"], row["s"] or 0.0


def multiset(df, *cols):
    return Counter(tuple(r) for r in df.select(*cols).collect())


def test_indexer_keep_skip_error(spark, plays):
    model = IdIndexer(inputCols=["user", "item"], outputCols=["u", "i"]).fit(plays)
    new = [("u00", "i0", 1.0), ("zed", "i1", 2.0), ("u01", "i99", 4.0), (None, "i2", 8.0), ("u02", "i3", 16.0)]
    df = spark.createDataFrame(new, "user string, item string, rating double")
    seen_users, seen_items = {r[0] for r in ROWS}, {r[1] for r in ROWS}
    valid = [r for r in new if r[0] in seen_users and r[1] in seen_items]
    with pytest.raises(ValueError, match=r"IdIndexerModel: inputCols 'user' has 1 row\(s\) with 1 id\(s\) unseen"):
        model.transform(df)
    assert count_and_sum(model.copy({model.handleInvalid: "skip"}).transform(df)) == (len(valid), sum(r[2] for r in valid))
    keep = model.copy({model.handleInvalid: "keep"}).transform(df)
    assert count_and_sum(keep) == (len(new), sum(r[2] for r in new))
    n_users, n_items = model.vocabularySizes
    assert count_and_sum(keep.where(F.col("u") == n_users)) == (2, 10.0)  # 'zed' and the null user
    assert count_and_sum(keep.where(F.col("i") == n_items)) == (1, 4.0)  # 'i99'
    # fitting and transforming its own input keeps every row, duplicates too
    assert count_and_sum(model.transform(plays)) == (len(ROWS), sum(r[2] for r in ROWS))


def _pairs(combine):
    pairs = defaultdict(list)
    for u, i, r in ROWS:
        pairs[(u, i)].append(r)
    return {k: combine(v) for k, v in pairs.items()}


@pytest.mark.parametrize("mode, combine", [("sum", sum), ("max", max)])
def test_zero_filler_full_grid(plays, full_plan, mode, combine):
    pairs = _pairs(combine)
    users, items = {u for u, _ in pairs}, {i for _, i in pairs}
    out = ZeroFiller(handleDuplicates=mode).transform(plays)
    assert count_and_sum(out) == (len(users) * len(items), sum(pairs.values()))
    assert count_and_sum(out.where("rating = 0")) == (len(users) * len(items) - len(pairs), 0.0)
    assert max(multiset(out, "user", "item").values()) == 1


def test_zero_filler_full_grid_without_duplicates(plays, full_plan):
    unique = plays.dropDuplicates(["user", "item"])
    n, total = count_and_sum(unique)
    out = ZeroFiller().transform(unique)
    users, items = unique.select("user").distinct().count(), unique.select("item").distinct().count()
    assert count_and_sum(out) == (users * items, total)
    with pytest.raises(ValueError, match=r"ZeroFiller: 2 extra rows repeat a \(user, item\) pair"):
        ZeroFiller().transform(plays)


@pytest.mark.parametrize("num_zeros, mode", [(1.5, "perPositive"), (3, "perUser")])
def test_zero_filler_sample_counts(plays, num_zeros, mode):
    pairs = _pairs(sum)
    items = {i for _, i in pairs}
    per_user = Counter(u for u, _ in pairs)
    half_up = lambda x: int(x + 0.5)  # noqa: E731
    zeros = {
        u: min(len(items) - n, half_up(num_zeros * n if mode == "perPositive" else num_zeros)) for u, n in per_user.items()
    }
    out = ZeroFiller(strategy="sample", numZeros=num_zeros, numZerosMode=mode, handleDuplicates="sum", seed=3).transform(plays)
    assert count_and_sum(out) == (len(pairs) + sum(zeros.values()), sum(pairs.values()))
    got = Counter(r.user for r in out.where("rating = 0").collect())
    assert {u: got.get(u, 0) for u in zeros} == zeros


def test_binary_rater_skip_keep_error(spark):
    data = [("a", 3.0), ("b", 0.0), ("c", None), ("d", NAN), ("e", -1.0), ("f", 2.5)]
    df = spark.createDataFrame(data, "item string, rating double")
    with pytest.raises(ValueError, match=r"BinaryRater: inputCol 'rating' holds 1 null and 1 NaN"):
        BinaryRater(threshold=1.0).transform(df)
    skip = BinaryRater(threshold=1.0, handleInvalid="skip").transform(df)
    assert count_and_sum(skip) == (4, 4.5) and count_and_sum(skip, "binary") == (4, 2)
    keep = BinaryRater(threshold=1.0, handleInvalid="keep").transform(df)
    assert count_and_sum(keep, "binary") == (6, 2)
    assert keep.where("binary IS NULL").count() == 2


def test_folds_partition_every_row_once(plays):
    folds = PerUserFolds(numFolds=3, seed=5).transform(plays).cache()
    assert count_and_sum(folds) == (len(ROWS), sum(r[2] for r in ROWS))
    assert multiset(folds, "user", "item", "rating") == Counter(ROWS)
    per_fold = [count_and_sum(folds.where(F.col("fold") == f)) for f in range(3)]
    assert sum(n for n, _ in per_fold) == len(ROWS) and sum(s for _, s in per_fold) == sum(r[2] for r in ROWS)
    folds.unpersist()


def test_split_partitions_every_row_once(plays):
    train, test = train_test_split_per_user(plays, testFraction=0.3, seed=4)
    assert multiset(train, "user", "item", "rating") + multiset(test, "user", "item", "rating") == Counter(ROWS)
    # whole (user, item) pairs are dealt: each user's test share counts pairs, not rows
    pairs_per_user = Counter(u for u, _ in {(r[0], r[1]) for r in ROWS})
    test_pairs = {(r.user, r.item) for r in test.collect()}
    assert Counter(u for u, _ in test_pairs) == +Counter({u: min(int(n * 0.3), n - 1) for u, n in pairs_per_user.items()})
    assert not test_pairs & {(r.user, r.item) for r in train.collect()}


@pytest.fixture(scope="module")
def indexed(plays):
    model = IdIndexer(inputCols=["user", "item"], outputCols=["u", "i"]).fit(plays)
    return model, model.transform(plays).cache()


@pytest.mark.parametrize("strategy", ["nan", "drop"])
def test_implicit_als_transform_cold_start(spark, indexed, strategy):
    model, data = indexed
    als = ImplicitALS(userCol="u", itemCol="i", rank=2, maxIter=2, seed=1, numUserBlocks=1, numItemBlocks=1,
                      coldStartStrategy=strategy).fit(data)
    # one unknown user (index n, as handleInvalid='keep' gives) and one known
    extra = spark.createDataFrame([(model.vocabularySizes[0], 0, 5.0), (0, 0, 7.0)], "u int, i int, rating double")
    rows = data.select("u", "i", "rating").unionByName(extra)
    n, total = count_and_sum(rows)
    out = als.transform(rows)
    if strategy == "nan":
        assert count_and_sum(out) == (n, total)
        assert count_and_sum(out.where(F.isnan("prediction"))) == (1, 5.0)
    else:
        assert count_and_sum(out) == (n - 1, total - 5.0)
        assert out.where(F.isnan("prediction")).count() == 0


def test_recommend_n_per_user(spark, plays, indexed):
    from pyspark.ml import PipelineModel
    from pyspark.ml.recommendation import ALS

    model, data = indexed
    als = ALS(userCol="u", itemCol="i", implicitPrefs=True, rank=2, maxIter=2, seed=1,
              numUserBlocks=1, numItemBlocks=1).fit(data)
    pipeline = PipelineModel(stages=[model, als])
    rated = defaultdict(set)
    for u, i, _ in ROWS:
        rated[u].add(i)
    n_items = len({i for _, i, _ in ROWS})
    users = ["u00", "u03", "u07"]
    for n in (2, n_items):
        recs = recommend_for_users(pipeline, users, n=n, rated=plays).collect()
        got = defaultdict(list)
        for r in recs:
            got[r.user].append((r.rank, r.item))
        # n per user, fewer only when the catalogue runs out; ranks 1..k; nothing rated
        assert {u: len(v) for u, v in got.items()} == {u: min(n, n_items - len(rated[u])) for u in users}
        assert all([rank for rank, _ in sorted(v)] == list(range(1, len(v) + 1)) for v in got.values())
        assert all(not {i for _, i in v} & rated[u] for u, v in got.items())
