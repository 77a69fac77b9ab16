"""fold_in: a user's factor from its interactions and the fixed item factors, as ALS solves it.

Spark's ALS solves every user against the final item factors in its last half-iteration, so
folding in a training user's own rows must give back its ALS factor."""

import itertools

import numpy as np
import pytest
from pyspark.ml.recommendation import ALS
from pyspark.sql import functions as F

from spark_recs import UnseenItemRanker, fold_in, recommend_for_users
from spark_recs.fold_in import nnls, solve_user
from tests.helpers import indexed_pipeline, song_plays


def ratings(spark, users=40, items=30, seed=3, implicit=False):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        for i in rng.choice(items, size=int(rng.integers(3, 12)), replace=False):
            r = float(rng.integers(1, 20)) if implicit else float(rng.integers(1, 6))
            rows.append((u, int(i), r))
    return spark.createDataFrame(rows, "user int, item int, rating double")


def factors_of(df, key="user"):
    return {r[key]: np.asarray(r["features"], float) for r in df.collect()}


def largest_gap(folded, fitted):
    assert folded.keys() == fitted.keys()
    return max(float(np.abs(folded[u] - fitted[u]).max()) for u in fitted)


@pytest.mark.parametrize("nonnegative", [False, True])
def test_explicit_round_trip(spark, nonnegative):
    data = ratings(spark)
    als = ALS(rank=4, maxIter=8, regParam=0.1, seed=1, numUserBlocks=1, numItemBlocks=1,
              nonnegative=nonnegative).fit(data)
    folded = factors_of(fold_in(als, data, regParam=0.1, alpha=1.0, implicitPrefs=False, nonnegative=nonnegative))
    fitted = {r.id: np.asarray(r.features, float) for r in als.userFactors.collect()}
    # Spark's NNLS is iterative (it stops at a tolerance); the Cholesky solve is exact
    assert largest_gap(folded, fitted) < (1e-3 if nonnegative else 1e-4)
    if nonnegative:
        assert all((v >= 0).all() for v in folded.values())


def test_implicit_round_trip_with_the_rankers_params(spark):
    data = ratings(spark, implicit=True)
    ranker = UnseenItemRanker(rank=4, maxIter=8, regParam=0.05, alpha=2.0, seed=1, numUserBlocks=1,
                              numItemBlocks=1).fit(data)
    folded = factors_of(fold_in(ranker, data))  # the ranker remembers regParam, alpha, implicitPrefs
    fitted = {r.id: np.asarray(r.features, float) for r in ranker.model.userFactors.collect()}
    assert largest_gap(folded, fitted) < 1e-4


def test_new_users_through_the_indexer(spark):
    plays = song_plays(spark)
    model = indexed_pipeline(plays, ALS(userCol="u", itemCol="i", ratingCol="plays", rank=3, maxIter=6, regParam=0.1,
                                        seed=1, numUserBlocks=1, numItemBlocks=1))
    als = model.stages[1]
    # a known user under a new name gets the factor it has in the model
    mine = plays.where("user = 'u4'").withColumn("user", F.lit("new"))
    folded = fold_in(model, mine, ratingCol="plays", regParam=0.1, alpha=1.0, implicitPrefs=False, nonnegative=False)
    assert folded.columns == ["user", "features"]
    index = {r["value"]: r["index"] for r in model.stages[0].vocabularyOf("u")[1].collect()}
    fitted = {r.id: np.asarray(r.features, float) for r in als.userFactors.collect()}
    [row] = folded.collect()
    assert row.user == "new" and np.abs(np.asarray(row.features) - fitted[index["u4"]]).max() < 1e-4


def test_solve_user_equals_the_dense_systems():
    """The normal equations against independent forms: explicit as an augmented least-squares
    problem, implicit over the whole catalogue with Hu, Koren & Volinsky's C and p."""
    rng = np.random.default_rng(7)
    y_all = rng.normal(size=(20, 3)).astype(np.float32).astype(float)
    items = np.array([2, 5, 11, 17])
    r = np.array([3.0, 1.0, 4.0, 0.0])
    reg, alpha = 0.3, 1.5
    # explicit: min |Y x - r|^2 + reg * n |x|^2
    aug = np.vstack([y_all[items], np.sqrt(reg * len(r)) * np.eye(3)])
    expected = np.linalg.lstsq(aug, np.concatenate([r, np.zeros(3)]), rcond=None)[0]
    got = solve_user(y_all[items], r, np.zeros((3, 3)), reg, alpha, implicit=False, nonneg=False)
    assert np.allclose(got, expected, atol=1e-10)
    # implicit: min sum_i c_i (p_i - x.y_i)^2 + reg * n+ |x|^2 over every item
    c = np.ones(20)
    p = np.zeros(20)
    c[items] += alpha * np.abs(r)
    p[items] = r > 0
    a = y_all.T @ (c[:, None] * y_all) + reg * int((r > 0).sum()) * np.eye(3)
    expected = np.linalg.solve(a, y_all.T @ (c * p))
    got = solve_user(y_all[items], r, y_all.T @ y_all, reg, alpha, implicit=True, nonneg=False)
    assert np.allclose(got, expected, atol=1e-10)


def test_nnls_equals_the_best_feasible_active_set():
    rng = np.random.default_rng(11)
    for _ in range(50):
        m = rng.normal(size=(6, 4))
        a = m.T @ m + 0.1 * np.eye(4)
        b = rng.normal(size=4)
        best, value = None, np.inf
        for free in itertools.product([False, True], repeat=4):
            idx = np.flatnonzero(free)
            x = np.zeros(4)
            if len(idx):
                x[idx] = np.linalg.solve(a[np.ix_(idx, idx)], b[idx])
            if (x >= -1e-12).all():
                v = 0.5 * x @ a @ x - b @ x
                if v < value:
                    best, value = x, v
        assert np.allclose(nnls(a, b), best, atol=1e-9)


def test_bad_input(spark):
    data = ratings(spark)
    als = ALS(rank=2, maxIter=2, seed=1, numUserBlocks=1, numItemBlocks=1).fit(data)
    with pytest.raises(ValueError, match=r"^fold_in: regParam is not known"):
        fold_in(als, data)
    known = dict(regParam=0.1, alpha=1.0, implicitPrefs=False, nonnegative=False)
    extra = spark.createDataFrame([(100, 0, 1.0), (100, 999, 2.0), (101, 998, 1.0)], data.schema)
    with pytest.raises(ValueError, match=r"^fold_in: interactions itemCol 'item' has 2 row.*\['998', '999'\].*skip"):
        fold_in(als, extra, **known)
    kept = fold_in(als, extra, unknownItems="skip", **known).collect()
    assert [r.user for r in kept] == [100]  # 101 had no known item: no row, as asked
    with pytest.raises(ValueError, match=r"^fold_in: interactions ratingCol 'rating' has 1 null or NaN"):
        fold_in(als, spark.createDataFrame([(100, 0, None)], data.schema), **known)
    with pytest.raises(ValueError, match=r"^fold_in: regParam must be >= 0"):
        fold_in(als, data, **{**known, "regParam": -1.0})


def test_recommend_for_users_folds_in_new_users(spark):
    """A user who arrives after the fit with another user's rows gets that user's top-N: its
    folded-in factor is the fitted one, and its history items are left out as the other's
    rated items are."""
    plays = song_plays(spark)
    ranker = indexed_pipeline(plays, UnseenItemRanker(
        userCol="u", itemCol="i", ratingCol="plays", rank=3, maxIter=6, regParam=0.1, alpha=2.0, seed=1,
        numUserBlocks=1, numItemBlocks=1))
    history = plays.where("user = 'u4'").withColumn("user", F.lit("newcomer"))
    got = recommend_for_users(ranker, ["newcomer", "u7"], n=4, history=history, historyRatingCol="plays")
    known = recommend_for_users(ranker, ["u4", "u7"], n=4)
    by_user = {}
    for r in got.collect():
        by_user.setdefault(r.user, []).append((r.rank, r.song, r.score))
    expected = {}
    for r in known.collect():
        expected.setdefault("newcomer" if r.user == "u4" else r.user, []).append((r.rank, r.song, r.score))
    assert by_user.keys() == {"newcomer", "u7"}
    for user, recs in expected.items():
        assert [s for _, s, _ in sorted(by_user[user])] == [s for _, s, _ in sorted(recs)], user
        assert [x for _, _, x in sorted(by_user[user])] == pytest.approx([x for _, _, x in sorted(recs)], abs=1e-4)
    mine = {r.song for r in history.collect()}
    assert not mine & {s for _, s, _ in by_user["newcomer"]}
    with pytest.raises(ValueError, match=r"^recommend_for_users: users \['ghost'\] are not known to the model and "
                                         r"have no rows in history \(userCol 'user'\)"):
        recommend_for_users(ranker, ["ghost", "u7"], n=2, history=history, historyRatingCol="plays")
