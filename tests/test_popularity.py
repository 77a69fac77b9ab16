"""PopularityRecommender: popularities against a plain numpy count, the time window, and the
model working wherever an ALSModel does (the full-catalogue ranker, top-N, save/load)."""

import datetime
import random

import numpy as np
import pytest
from pyspark.ml import PipelineModel

from spark_recs import IdIndexer, PopularityModel, PopularityRecommender, UnseenItemRankerModel, recommend_for_users

USERS, ITEMS = 15, 12


def random_log(seed):
    """Play rows with repeated pairs, zero and negative ratings, and a time per row."""
    rng = random.Random(seed)
    rows = []
    for u in range(USERS):
        for _ in range(rng.randint(1, 9)):
            i = min(int(rng.expovariate(0.35)), ITEMS - 1)  # a popularity curve
            rows.append((u, i, float(rng.choice([0, 1, 2, 5, -1])), 1_000 + rng.randint(0, 99)))
    return rows


def reference_popularity(rows, weighting, start=None, end=None):
    """numpy: per item of the log, distinct users with rating > 0 ('count') or the rating sum
    ('sum'), over the rows with start <= time < end; 0 for an item with no row there."""
    items = sorted({r[1] for r in rows})
    arr = np.array([r[:3] for r in rows], dtype=float)
    times = np.array([r[3] for r in rows], dtype=float)
    inside = np.ones(len(rows), bool)
    if start is not None:
        inside &= times >= start
    if end is not None:
        inside &= times < end
    out = {}
    for i in items:
        sel = inside & (arr[:, 1] == i)
        if weighting == "count":
            out[i] = float(len(np.unique(arr[sel & (arr[:, 2] > 0), 0])))
        else:
            out[i] = float(arr[sel, 2].sum())
    return out


def popularity(model):
    return {r.id: r.features[0] for r in model.itemFactors.collect()}


@pytest.fixture(scope="module")
def log(spark_session):
    return spark_session.createDataFrame(random_log(5), "user int, item int, rating double, t long").cache()


@pytest.mark.parametrize("weighting", ["count", "sum"])
def test_popularity_matches_numpy(log, weighting):
    model = PopularityRecommender(weighting=weighting).fit(log)
    assert popularity(model) == pytest.approx(reference_popularity(random_log(5), weighting))
    users = {r.id: list(r.features) for r in model.userFactors.collect()}
    assert users == {u: [1.0] for u in range(USERS)} and model.rank == 1


@pytest.mark.parametrize("start, end", [(1_030, None), (None, 1_050), (1_020, 1_060), (5_000, None)])
def test_time_window_counts_only_rows_inside(log, start, end):
    kw = {k: str(v) for k, v in (("windowStart", start), ("windowEnd", end)) if v is not None}
    model = PopularityRecommender(timestampCol="t", **kw).fit(log)
    expected = reference_popularity(random_log(5), "count", start, end)
    assert popularity(model) == pytest.approx(expected)  # every item stays, outside ones at 0
    if start == 5_000:
        assert set(popularity(model).values()) == {0.0}


def test_time_window_on_a_timestamp_column(spark, log):
    epoch = datetime.datetime(2024, 1, 1)
    stamped = log.selectExpr("user", "item", "rating", "timestamp_seconds(t + 1704067200) AS at")
    start = (epoch + datetime.timedelta(seconds=1_030)).isoformat(sep=" ")
    with_ts = popularity(PopularityRecommender(timestampCol="at", windowStart=start).fit(stamped))
    with_num = popularity(PopularityRecommender(timestampCol="t", windowStart="1030").fit(log))
    assert with_ts == with_num and with_ts != popularity(PopularityRecommender().fit(log))


@pytest.mark.parametrize("kw, error, message", [
    (dict(windowStart="10"), ValueError, "PopularityRecommender: windowStart is set but timestampCol is not"),
    (dict(timestampCol="t", windowEnd="soon"), ValueError,
     "PopularityRecommender: windowEnd must be a number to compare with 't' (bigint), found 'soon'"),
    (dict(timestampCol="when"), ValueError, "PopularityRecommender: timestampCol 'when' not in"),
    (dict(timestampCol="rating", weighting="most"), ValueError, "PopularityRecommender: weighting must be one of"),
])
def test_bad_window_params_raise(log, kw, error, message):
    with pytest.raises(error, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        PopularityRecommender(**kw).fit(log)


def test_null_times_and_ratings_raise(spark):
    df = spark.createDataFrame([(0, 1, 1.0, None), (1, 1, 2.0, 5)], "user int, item int, rating double, t int")
    with pytest.raises(ValueError, match="^PopularityRecommender: timestampCol 't' has 1 null time"):
        PopularityRecommender(timestampCol="t", windowStart="1").fit(df)
    nulls = spark.createDataFrame([(0, 1, None), (1, 1, 2.0)], "user int, item int, rating double")
    with pytest.raises(ValueError, match="^PopularityRecommender: ratingCol 'rating' has 1 null or NaN"):
        PopularityRecommender(weighting="sum").fit(nulls)


def test_unfitted_models_raise(log, tmp_path):
    """A model built with no arguments (as the persistence reader builds it) has no factors:
    using it names the stage instead of failing on None."""
    bare = PopularityModel()
    with pytest.raises(ValueError, match="^PopularityModel: the model has no factors; fit a PopularityRecommender"):
        bare.transform(log)
    with pytest.raises(ValueError, match="^PopularityModel: the model has no factors"):
        bare.itemFactors
    with pytest.raises(ValueError, match="^PopularityModel: the model has no factors"):
        bare.save(str(tmp_path / "bare"))
    ranker = UnseenItemRankerModel()
    with pytest.raises(ValueError, match=r"^UnseenItemRankerModel: the model has no inner model \(fit"):
        ranker.recommendForAllUsers(3)
    with pytest.raises(ValueError, match="^UnseenItemRankerModel: the model has no inner model"):
        ranker.getUserCol()


def test_ranks_every_unseen_item_by_popularity(spark, log):
    """In the full-catalogue ranker, a user's held-out item ranks 1 + (unseen items more popular)
    + (tied unseen items with a smaller id), as ALS factors would rank it."""
    rows = random_log(5)
    train = [r for r in rows if (r[0] + r[1]) % 3]  # whole pairs on one side
    held = [r for r in rows if not (r[0] + r[1]) % 3]
    train_df = spark.createDataFrame(train, log.schema)
    model = PopularityRecommender().fit(train_df)
    pop = reference_popularity(train, "count")
    seen = {}
    for u, i, *_ in train:
        seen.setdefault(u, set()).add(i)
    warm = [r for r in held if r[0] in seen and r[1] in pop]
    assert len(warm) >= 10
    ranker = UnseenItemRankerModel.fromFitted(model, train_df).setColdStartStrategy("drop")
    got = ranker.transform(spark.createDataFrame(held, log.schema)).collect()
    assert sorted((r.user, r.item) for r in got) == sorted((r[0], r[1]) for r in warm)
    for r in got:
        candidates = [i for i in pop if i not in seen[r.user]]
        above = sum(pop[i] > pop[r.item] for i in candidates)
        tied_before = sum(pop[i] == pop[r.item] and i < r.item for i in candidates)
        assert (r.rank, r.numAbove, r.numCandidates) == (1 + above + tied_before, above, len(candidates)), r


def test_top_n_and_save_load(spark, tmp_path):
    plays = spark.createDataFrame(
        [("ann", "abba", 3.0), ("ann", "bach", 1.0), ("bob", "abba", 2.0), ("bob", "cage", 5.0),
         ("cid", "bach", 1.0), ("cid", "dufay", 2.0), ("dee", "cage", 1.0), ("dee", "abba", 1.0)],
        "user string, item string, rating double")
    indexer = IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"]).fit(plays)
    popular = PopularityRecommender(userCol="user_idx", itemCol="item_idx").fit(indexer.transform(plays))
    pipeline = PipelineModel(stages=[indexer, popular])
    top = recommend_for_users(pipeline, ["ann", "cid"], n=2, rated=plays)
    got = {(r.user, r.rank): r.item for r in top.collect()}
    # popularity: abba 3, bach 2, cage 2, dufay 1; ann saw abba and bach, cid bach and dufay
    assert got == {("ann", 1): "cage", ("ann", 2): "dufay", ("cid", 1): "abba", ("cid", 2): "cage"}
    pipeline.write().overwrite().save(str(tmp_path / "pop"))
    loaded = PipelineModel.load(str(tmp_path / "pop"))
    assert isinstance(loaded.stages[1], PopularityModel)
    assert popularity(loaded.stages[1]) == popularity(popular)
    again = recommend_for_users(loaded, ["ann", "cid"], n=2, rated=plays)
    assert {(r.user, r.rank): r.item for r in again.collect()} == got
