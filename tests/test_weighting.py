"""Tests of spark_recs.weighting.ConfidenceWeighter on real Spark, against tests/reference.py."""

import math
import random
from decimal import Decimal

import numpy as np
import pytest
from pyspark.ml import Pipeline
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

from spark_recs import ConfidenceWeighter, IdIndexer, ImplicitALS, PerUserFolds, ROEMEvaluator
from tests import reference

NAN = float("nan")


def _random_counts(seed, users=6, items=7, zero_share=0.3):
    """One row per (user, item) pair, heavy-tailed counts, some zeros (a zero-filled table)."""
    rnd = random.Random(seed)
    rows = []
    for u in range(users):
        for i in range(items):
            count = 0 if rnd.random() < zero_share else int(rnd.paretovariate(0.8))
            rows.append((f"u{u}", f"i{i}", count))
    return rows


def _weights(spark, rows, ddl="user string, item string, rating long", **params):
    """(user, item) -> weight, as the stage gives them."""
    df = spark.createDataFrame(rows, ddl)
    out = ConfidenceWeighter(outputCol="w", **params).transform(df)
    return {(r["user"], r["item"]): r["w"] for r in out.collect()}


def test_defaults():
    weighter = ConfidenceWeighter()
    assert (weighter.getInputCol(), weighter.getOutputCol()) == ("rating", "weight")
    assert (weighter.getUserCol(), weighter.getItemCol()) == ("user", "item")
    assert (weighter.getMethod(), weighter.getOutputType()) == ("log", "rating")
    assert (weighter.getAlpha(), weighter.getEpsilon()) == (1.0, 1.0)
    assert (weighter.getK1(), weighter.getB()) == (100.0, 0.8)


# --- each formula against its numpy reference -----------------------------------------------


@pytest.mark.parametrize("epsilon", [1.0, 0.5, 40.0])
def test_log_matches_the_reference(spark_session, epsilon):
    rows = _random_counts(1)
    got = _weights(spark_session, rows, method="log", epsilon=epsilon)
    expected = reference.log_weight([c for _, _, c in rows], epsilon)
    assert [got[u, i] for u, i, _ in rows] == pytest.approx(expected, rel=1e-12)


def test_none_is_the_count_as_double(spark_session):
    rows = _random_counts(2)
    got = _weights(spark_session, rows, method="none")
    assert [got[u, i] for u, i, _ in rows] == [float(c) for _, _, c in rows]


@pytest.mark.parametrize("k1, b", [(100.0, 0.8), (1.2, 0.75), (0.0, 0.0), (3.0, 1.0)])
@pytest.mark.parametrize("seed", [3, 4])
def test_bm25_matches_the_reference(spark_session, seed, k1, b):
    rows = _random_counts(seed)
    got = _weights(spark_session, rows, method="bm25", k1=k1, b=b)
    users, items, counts = zip(*rows)
    expected = reference.bm25_weight(users, items, counts, k1=k1, b=b)
    assert [got[u, i] for u, i, _ in rows] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_bm25_by_hand(spark_session):
    """4 users (c has only a zero row: still a document), k1 = 1, b = 0.5. Row sums a, b, d: 4,
    c: 0, mean 3, so norm = 0.5 + 0.5 * 4 / 3 = 7/6 for a, b and d. Item x is held by 2 users
    (idf log 4 - log 3), y and w by 1 (log 4 - log 2), z by none."""
    rows = [("a", "x", 2), ("a", "y", 2), ("b", "x", 4), ("c", "z", 0), ("d", "w", 4)]
    got = _weights(spark_session, rows, method="bm25", k1=1.0, b=0.5)
    # r (k1 + 1) / (k1 norm + r) * idf: 2 * 2 / (7/6 + 2) = 24/19, 4 * 2 / (7/6 + 4) = 48/31
    expected = {("a", "x"): 24 / 19 * math.log(4 / 3), ("a", "y"): 24 / 19 * math.log(2),
                ("b", "x"): 48 / 31 * math.log(4 / 3), ("c", "z"): 0.0, ("d", "w"): 48 / 31 * math.log(2)}
    assert got == pytest.approx(expected, rel=1e-12)
    users, items, counts = zip(*rows)
    assert list(reference.bm25_weight(users, items, counts, k1=1.0, b=0.5)) == pytest.approx(
        [expected[u, i] for u, i, _ in rows], rel=1e-12)


@pytest.mark.parametrize("method", ["none", "log", "bm25"])
def test_confidence_is_one_plus_alpha_times_the_rating(spark_session, method):
    rows = _random_counts(5)
    ratings = _weights(spark_session, rows, method=method)
    confidences = _weights(spark_session, rows, method=method, outputType="confidence", alpha=2.5)
    assert confidences == pytest.approx({key: 1.0 + 2.5 * value for key, value in ratings.items()}, rel=1e-12)
    assert all(confidences[u, i] == 1.0 for u, i, c in rows if c == 0)  # the paper's c of an unobserved pair


@pytest.mark.parametrize("method", ["none", "log", "bm25"])
def test_zeros_stay_zero(spark_session, method):
    rows = _random_counts(6, zero_share=0.5)
    got = _weights(spark_session, rows, method=method)
    zeros = [(u, i) for u, i, c in rows if c == 0]
    assert zeros and all(got[key] == 0.0 for key in zeros)
    assert all(got[u, i] > 0 for u, i, c in rows if c > 0) or method == "bm25"


@pytest.mark.parametrize("method", ["none", "log", "bm25"])
def test_degenerate_inputs(spark_session, method):
    """Every count 0 (no division by a zero mean), one user, and no rows at all."""
    zeros = _weights(spark_session, [("a", "x", 0), ("b", "y", 0)], method=method)
    assert zeros == {("a", "x"): 0.0, ("b", "y"): 0.0}
    one_user = _weights(spark_session, [("a", "x", 3), ("a", "y", 1)], method=method, b=1.0)
    expected = reference.bm25_weight(["a", "a"], ["x", "y"], [3, 1], b=1.0) if method == "bm25" else (
        [3.0, 1.0] if method == "none" else reference.log_weight([3, 1]))
    assert [one_user["a", "x"], one_user["a", "y"]] == pytest.approx(list(expected), rel=1e-12)
    assert _weights(spark_session, [], method=method) == {}


@pytest.mark.parametrize("ddl, values", [
    ("int", [0, 3, 7]), ("float", [0.0, 2.5, 9.0]), ("tinyint", [0, 1, 127]),
    ("decimal(10,2)", [Decimal("0"), Decimal("2.50"), Decimal("9")]),
])
def test_every_numeric_type(spark_session, ddl, values):
    rows = [("a", f"i{k}", v) for k, v in enumerate(values)]
    got = _weights(spark_session, rows, ddl=f"user string, item string, rating {ddl}", epsilon=2.0)
    assert [got["a", f"i{k}"] for k in range(len(values))] == pytest.approx(
        list(reference.log_weight([float(v) for v in values], 2.0)), rel=1e-7)


def test_in_place_and_columns_kept(spark_session):
    df = spark_session.createDataFrame([("a", "x", 3, "t")],
                                       "user string, item string, rating int, note string")
    out = ConfidenceWeighter(outputCol="rating").transform(df)
    assert out.columns == df.columns and out.schema["rating"].dataType.simpleString() == "double"
    assert out.first()["rating"] == pytest.approx(math.log(4.0))
    other = ConfidenceWeighter(inputCol="plays", outputCol="c", userCol="listener", itemCol="song",
                               method="bm25")
    renamed = df.toDF("listener", "song", "plays", "note")
    assert other.transform(renamed).columns == ["listener", "song", "plays", "note", "c"]


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["none", "log", "bm25"])
def test_negative_counts_raise(spark_session, method):
    df = spark_session.createDataFrame([("a", "x", 3), ("a", "y", -2), ("b", "x", -1)],
                                       "user string, item string, rating int")
    with pytest.raises(ValueError, match=r"ConfidenceWeighter: inputCol 'rating' holds 2 negative values "
                                         r"\(min -2.0\); counts must be >= 0"):
        ConfidenceWeighter(method=method).transform(df)


def test_null_and_nan_counts_raise(spark_session):
    df = spark_session.createDataFrame([("a", "x", 3.0), ("a", "y", None), ("b", "x", NAN), ("b", "y", NAN)],
                                       "user string, item string, plays double")
    with pytest.raises(ValueError, match=r"ConfidenceWeighter: inputCol 'plays' holds 1 null and 2 NaN "):
        ConfidenceWeighter(inputCol="plays").transform(df)
    nulls = spark_session.createDataFrame([("a", "x", None)], "user string, item string, rating int")
    with pytest.raises(ValueError, match=r"inputCol 'rating' holds 1 null and 0 NaN values"):
        ConfidenceWeighter(method="bm25").transform(nulls)


@pytest.mark.parametrize("params, message", [
    (dict(method="sqrt"), r"ConfidenceWeighter: method must be one of \['none', 'log', 'bm25'\], "
                          r"found 'sqrt'"),
    (dict(outputType="c"), r"ConfidenceWeighter: outputType must be one of \['rating', 'confidence'\], "
                           r"found 'c'"),
    (dict(alpha=0.0), r"ConfidenceWeighter: alpha must be a finite number > 0, found 0.0 \(weights of "
                      r"inputCol 'rating'\)"),
    (dict(alpha=math.inf), r"alpha must be a finite number > 0, found inf"),
    (dict(epsilon=-1.0), r"ConfidenceWeighter: epsilon must be a finite number > 0, found -1.0"),
    (dict(epsilon=NAN), r"epsilon must be a finite number > 0, found nan"),
    (dict(k1=-0.5), r"ConfidenceWeighter: k1 must be a finite number >= 0, found -0.5"),
    (dict(b=1.5), r"ConfidenceWeighter: b must be in \[0, 1\], found 1.5"),
    (dict(b=NAN), r"ConfidenceWeighter: b must be in \[0, 1\], found nan"),
    (dict(outputCol="item"), r"ConfidenceWeighter: outputCol 'item' already exists in \[user, item, "
                             r"rating\]"),
    (dict(inputCol="plays"), r"ConfidenceWeighter: inputCol 'plays' not in \[user, item, rating\]"),
    (dict(method="bm25", userCol="listener"), r"ConfidenceWeighter: userCol 'listener' not in \[user, "),
    (dict(method="bm25", itemCol="song"), r"ConfidenceWeighter: itemCol 'song' not in \[user, item, "),
])
def test_bad_params_raise_before_any_job(spark_session, params, message):
    df = spark_session.createDataFrame([("a", "x", 3)], "user string, item string, rating int")
    with pytest.raises(ValueError, match=message):
        ConfidenceWeighter(**params).transform(df)


def test_a_non_numeric_count_raises(spark_session):
    df = spark_session.createDataFrame([("a", "x", "3")], "user string, item string, rating string")
    with pytest.raises(TypeError, match=r"ConfidenceWeighter: inputCol 'rating' must be numeric, "
                                        r"found string"):
        ConfidenceWeighter().transform(df)


# --- in a Pipeline and a CrossValidator -----------------------------------------------------

ALS = dict(userCol="u", itemCol="i", rank=2, maxIter=3, regParam=0.1, seed=3, numUserBlocks=1,
           numItemBlocks=1)


def _indexed(spark, rows):
    df = spark.createDataFrame(rows, "user string, item string, rating long")
    return IdIndexer(inputCols=["user", "item"], outputCols=["u", "i"]).fit(df).transform(df).cache()


def _factors(model):
    return sorted((r.id, tuple(r.features)) for r in model.userFactors.collect())


@pytest.mark.parametrize("method", ["none", "log", "bm25"])
def test_pipeline_feeds_the_weights_to_implicit_als(spark_session, method):
    """ImplicitALS after the stage fits the same factors as on the weights written by hand."""
    data = _indexed(spark_session, _random_counts(7))
    weighter = ConfidenceWeighter(method=method, userCol="u", itemCol="i")
    fitted = Pipeline(stages=[weighter, ImplicitALS(ratingCol="weight", alpha=2.0, **ALS)]).fit(data)
    users, items, counts = zip(*[(r.u, r.i, r.rating) for r in data.collect()])
    by_hand = {"none": np.asarray(counts, float), "log": reference.log_weight(counts),
               "bm25": reference.bm25_weight(users, items, counts)}[method]
    rows = [(int(u), int(i), float(w)) for u, i, w in zip(users, items, by_hand)]
    hand = spark_session.createDataFrame(rows, "u int, i int, weight double")
    direct = ImplicitALS(ratingCol="weight", alpha=2.0, **ALS).fit(hand)
    for (id_a, got), (id_b, want) in zip(_factors(fitted.stages[-1]), _factors(direct)):
        assert id_a == id_b and got == pytest.approx(want, rel=1e-4, abs=1e-5)


def test_cross_validator_grid_over_method_and_alpha(spark_session):
    """A grid over the stage's method and ALS's alpha: every point is fitted and scored on the raw
    counts (ROEM reads ``rating``, which the stage leaves alone), and the best model carries its
    point's method (an ALSModel does not keep alpha)."""
    data = PerUserFolds(numFolds=2, seed=1, userCol="u").transform(_indexed(spark_session, _random_counts(8)))
    weighter = ConfidenceWeighter(userCol="u", itemCol="i")
    als = ImplicitALS(ratingCol="weight", **ALS)
    grid = (ParamGridBuilder().addGrid(weighter.method, ["none", "log", "bm25"])
            .addGrid(als.alpha, [0.5, 5.0]).build())
    cv = CrossValidator(estimator=Pipeline(stages=[weighter, als]), estimatorParamMaps=grid,
                        evaluator=ROEMEvaluator(userCol="u", itemCol="i"), foldCol="fold", numFolds=2, seed=1)
    model = cv.fit(data)
    assert len(model.avgMetrics) == 6 and all(0.0 <= m <= 1.0 for m in model.avgMetrics)
    assert len(set(round(m, 12) for m in model.avgMetrics)) > 1  # the method and alpha change the fit
    best = int(np.argmin(model.avgMetrics))
    stages = model.bestModel.stages
    assert stages[0].getMethod() == grid[best][weighter.method]
