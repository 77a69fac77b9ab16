"""Tests of spark_recs.binary.BinaryRater, on real Spark with small DataFrames."""

import random
from decimal import Decimal

import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import SQLTransformer
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType
from pyspark.testing import assertDataFrameEqual

from spark_recs import BinaryRater
from spark_recs.binary import BinaryRater as BinaryRaterFromModule

NAN = float("nan")
INF = float("inf")


def _binary(rows):
    """The ``binary`` output next to the ``expected`` column, row by row."""
    return [(r["binary"], r["expected"]) for r in rows]


# --- defaults and params ------------------------------------------------------------------


def test_defaults_and_setters():
    rater = BinaryRater()
    assert BinaryRaterFromModule is BinaryRater
    assert rater.getInputCol() == "rating"
    assert rater.getOutputCol() == "binary"
    assert rater.getThreshold() == 0.0
    assert rater.getHandleInvalid() == "error"

    rater.setInputCol("plays").setOutputCol("played").setThreshold(2).setHandleInvalid("skip")
    assert (rater.getInputCol(), rater.getOutputCol()) == ("plays", "played")
    assert rater.getThreshold() == 2.0 and isinstance(rater.getThreshold(), float)
    assert rater.getHandleInvalid() == "skip"

    built = BinaryRater(inputCol="stars", outputCol="liked", threshold=3.5, handleInvalid="keep")
    assert (built.getInputCol(), built.getOutputCol()) == ("stars", "liked")
    assert (built.getThreshold(), built.getHandleInvalid()) == (3.5, "keep")


# --- the rule, per input type -------------------------------------------------------------

CASES = {
    # name: (column type, threshold, [(rating, expected)])
    "play counts int": ("int", 0.0, [(0, 0), (1, 1), (5, 1), (3, 1)]),
    "stars double": ("double", 3.5, [(3.5, 0), (4.0, 1), (1.0, 0), (3.49, 0), (3.51, 1)]),
    "stars float": ("float", 3.5, [(3.5, 0), (4.0, 1), (3.25, 0)]),
    "negative double": ("double", -1.0, [(-2.0, 0), (-1.0, 0), (-0.5, 1), (0.0, 1)]),
    "negative int, fractional threshold": ("int", -1.5, [(-3, 0), (-2, 0), (-1, 1), (0, 1)]),
    "int, fractional threshold": ("int", 2.5, [(2, 0), (3, 1)]),
    "tinyint": ("tinyint", 0.0, [(-128, 0), (0, 0), (127, 1)]),
    "smallint": ("smallint", 100.0, [(100, 0), (101, 1)]),
    "long": ("bigint", 0.0, [(0, 0), (10**12, 1), (-(10**12), 0)]),
    # a double has 53 bits: Spark's own long > double comparison rounds 2^53 + 1 to 2^53
    "long beyond 2^53": ("bigint", float(2**53), [(2**53, 0), (2**53 + 1, 1), (2**53 - 1, 0)]),
    "long, threshold above its range": ("bigint", 1e19, [(2**63 - 1, 0), (0, 0)]),
    "long, threshold below its range": ("bigint", -1e19, [(-(2**63), 1), (0, 1)]),
    "int, +inf threshold": ("int", INF, [(2**31 - 1, 0), (0, 0)]),
    "int, -inf threshold": ("int", -INF, [(-(2**31), 1), (0, 1)]),
    "double, +inf threshold": ("double", INF, [(INF, 0), (1e308, 0)]),
    "double, -inf threshold": ("double", -INF, [(-INF, 0), (-1e308, 1)]),
    "decimal stars": (
        "decimal(2,1)",
        3.5,
        [(Decimal("3.5"), 0), (Decimal("3.6"), 1), (Decimal("3.4"), 0), (Decimal("-1.0"), 0)],
    ),
    "decimal, threshold between its steps": (
        "decimal(10,2)",
        0.125,
        [(Decimal("0.12"), 0), (Decimal("0.13"), 1), (Decimal("-0.13"), 0)],
    ),
    "decimal(38,0) beyond 2^53": (
        "decimal(38,0)",
        float(2**53),
        [(Decimal(2**53), 0), (Decimal(2**53 + 1), 1), (Decimal(10**37), 1)],
    ),
    "decimal, threshold above its range": ("decimal(3,1)", 100.0, [(Decimal("99.9"), 0)]),
    "decimal, threshold below its range": ("decimal(3,1)", -100.0, [(Decimal("-99.9"), 1)]),
}


def test_rule_per_type(spark):
    """Every case of CASES, in one Spark job: the cases are transformed, then unioned."""
    outputs = []
    for name, (dtype, threshold, rows) in CASES.items():
        df = spark.createDataFrame(rows, f"rating {dtype}, expected int")
        # "keep" runs no eager null/NaN check job; the tests below cover the "error" default.
        out = BinaryRater(threshold=threshold, handleInvalid="keep").transform(df)
        assert out.schema["binary"].dataType == IntegerType(), name
        outputs.append(out.select(F.lit(name).alias("case"), "binary", "expected"))
    union = outputs[0]
    for out in outputs[1:]:
        union = union.unionByName(out)
    got = {}
    for r in union.collect():
        got.setdefault(r["case"], []).append((r["binary"], r["expected"]))
    assert sorted(got) == sorted(CASES)
    for name, pairs in got.items():
        assert len(pairs) == len(CASES[name][2]), name
        assert [b for b, _ in pairs] == [e for _, e in pairs], name


def test_output_is_integer_appended_and_other_columns_kept(spark):
    df = spark.createDataFrame(
        [(1, "a", 0, 2.5, 0), (2, "b", 3, -1.0, 1), (3, "c", 1, 0.0, 1)],
        "user int, item string, rating bigint, extra double, expected int",
    )
    out = BinaryRater().transform(df)
    assert out.columns == ["user", "item", "rating", "extra", "expected", "binary"]
    assert out.schema["binary"].dataType == IntegerType()
    assert [f.dataType for f in out.schema.fields[:-1]] == [f.dataType for f in df.schema]
    assertDataFrameEqual(out.drop("binary"), df)
    assert all(got == expected for got, expected in _binary(out.collect()))


def test_in_place_when_output_col_is_input_col(spark):
    df = spark.createDataFrame(
        [(1, 3.5, 10, 0), (2, 4.0, 11, 1), (3, 5.0, 12, 1)],
        "user int, rating double, item int, expected int",
    )
    out = BinaryRater(threshold=3.5, outputCol="rating").transform(df)
    assert out.columns == ["user", "rating", "item", "expected"]
    assert out.schema["rating"].dataType == IntegerType()
    assertDataFrameEqual(out.select("user", "item", "expected"), df.drop("rating"))
    assert all(r["rating"] == r["expected"] for r in out.collect())


def test_other_input_and_output_names(spark):
    df = spark.createDataFrame([(0, 0), (2, 1)], "`play.count` int, expected int")
    out = BinaryRater(inputCol="play.count", outputCol="played`x").transform(df)
    assert out.columns == ["play.count", "expected", "played`x"]
    assert all(r["played`x"] == r["expected"] for r in out.collect())


def test_same_as_naive_when_otherwise_on_random_data(spark):
    rng = random.Random(7)
    rows = [
        (i, rng.randint(-3, 10), rng.randint(-6, 12) / 2.0, rng.uniform(-5.0, 5.0))
        for i in range(200)
    ]
    df = spark.createDataFrame(rows, "id int, plays int, stars double, score double").cache()
    cases = [("plays", 0.0), ("plays", 2.5), ("stars", 3.5), ("stars", -1.0), ("score", 0.0),
             ("score", -2.25)]
    try:
        ours, naive = df, df
        for i, (col, threshold) in enumerate(cases):
            ours = BinaryRater(inputCol=col, outputCol=f"out{i}", threshold=threshold).transform(
                ours
            )
            naive = naive.withColumn(f"out{i}", F.when(F.col(col) > threshold, 1).otherwise(0))
        assert ours.columns == df.columns + [f"out{i}" for i in range(len(cases))]
        assertDataFrameEqual(ours, naive)
        assert 0 < ours.filter("out2 = 1").count() < len(rows)  # both outcomes occur
    finally:
        df.unpersist()


# --- handleInvalid ------------------------------------------------------------------------


@pytest.fixture
def unrated(spark):
    """Stars with null and NaN ratings; ``expected`` is null where the rating is invalid."""
    return spark.createDataFrame(
        [
            (1, 4.0, 1),
            (2, None, None),
            (3, 3.0, 0),
            (4, NAN, None),
            (5, NAN, None),
            (6, 5.0, 1),
        ],
        "id int, rating double, expected int",
    )


def test_error_on_null(spark):
    df = spark.createDataFrame([(1, 3), (2, None), (3, None)], "id int, rating int")
    with pytest.raises(
        ValueError,
        match=r"^BinaryRater: inputCol 'rating' holds 2 null and 0 NaN values, found with "
        r"handleInvalid='error'; set handleInvalid='skip' to drop those rows or "
        r"handleInvalid='keep' to give them a null outputCol$",
    ):
        BinaryRater().transform(df)


def test_error_on_nan(spark):
    df = spark.createDataFrame([(1, NAN), (2, 1.0), (3, NAN)], "id int, rating double")
    with pytest.raises(
        ValueError,
        match=r"^BinaryRater: inputCol 'rating' holds 0 null and 2 NaN values, "
        r"found with handleInvalid='error'; .*'skip'.*'keep'",
    ):
        BinaryRater().transform(df)


def test_error_counts_null_and_nan(unrated):
    with pytest.raises(ValueError, match=r"inputCol 'rating' holds 1 null and 2 NaN values"):
        BinaryRater(threshold=3.5).transform(unrated)


def test_skip_drops_exactly_null_and_nan_rows(unrated):
    out = BinaryRater(threshold=3.5, handleInvalid="skip").transform(unrated)
    rows = out.collect()
    assert unrated.count() == 6
    assert len(rows) == 3
    assert sorted(r["id"] for r in rows) == [1, 3, 6]
    assert all(got == expected for got, expected in _binary(rows))


def test_skip_drops_null_rows_of_integral_input(spark):
    df = spark.createDataFrame([(1, 0, 0), (2, None, None), (3, 7, 1)], "id int, rating long, "
                               "expected int")
    rows = BinaryRater(handleInvalid="skip").transform(df).collect()
    assert sorted(r["id"] for r in rows) == [1, 3]
    assert all(got == expected for got, expected in _binary(rows))


def test_keep_gives_null_for_exactly_null_and_nan_rows(unrated):
    out = BinaryRater(threshold=3.5, handleInvalid="keep").transform(unrated)
    rows = out.collect()
    assert len(rows) == 6
    assert sorted(r["id"] for r in rows if r["binary"] is None) == [2, 4, 5]
    assert all(got == expected for got, expected in _binary(rows))


def test_keep_in_place(unrated):
    out = BinaryRater(threshold=3.5, handleInvalid="keep", outputCol="rating").transform(unrated)
    assert out.columns == ["id", "rating", "expected"]
    assert all(r["rating"] == r["expected"] for r in out.collect())


# --- bad input ----------------------------------------------------------------------------


@pytest.fixture
def ratings(spark):
    return spark.createDataFrame(
        [(1, 10, 4.0, "4", True, [1])],
        "user int, item int, rating double, label string, flag boolean, tags array<int>",
    )


def test_missing_input_col(ratings):
    with pytest.raises(
        ValueError,
        match=r"^BinaryRater: inputCol 'score' not in \[user, item, rating, label, flag, tags\]$",
    ):
        BinaryRater(inputCol="score").transform(ratings)


@pytest.mark.parametrize("col, found", [("label", "string"), ("flag", "boolean"),
                                        ("tags", "array<int>")])
def test_input_col_not_numeric(ratings, col, found):
    with pytest.raises(
        TypeError, match=rf"^BinaryRater: inputCol '{col}' must be numeric, found {found}$"
    ):
        BinaryRater(inputCol=col).transform(ratings)


def test_output_col_exists(ratings):
    with pytest.raises(
        ValueError,
        match=r"^BinaryRater: outputCol 'item' already exists in "
        r"\[user, item, rating, label, flag, tags\]$",
    ):
        BinaryRater(outputCol="item").transform(ratings)


def test_threshold_nan(ratings):
    with pytest.raises(ValueError, match=r"^BinaryRater: threshold must not be NaN, found nan \(outputCol is 1 where inputCol 'rating' > threshold\)$"):
        BinaryRater(threshold=NAN).transform(ratings)


def test_bad_handle_invalid(ratings):
    with pytest.raises(
        ValueError,
        match=r"^BinaryRater: handleInvalid must be one of \['error', 'skip', 'keep'\], "
        r"found 'drop'$",
    ):
        BinaryRater(handleInvalid="drop").transform(ratings)


def test_transform_does_not_mutate_the_stage(unrated):
    rater = BinaryRater(threshold=3.5, handleInvalid="skip")
    before = rater.extractParamMap()
    out = rater.transform(unrated, {rater.handleInvalid: "keep", rater.outputCol: "liked"})
    assert out.count() == 6 and "liked" in out.columns
    assert rater.extractParamMap() == before
    assert rater.transform(unrated).count() == 3


# --- persistence --------------------------------------------------------------------------


# uid, type, params (set or default) and output after save/load, alone and in a Pipeline,
# keyword-only construction, getters and setters: tests/test_common.py


def test_in_pipeline_save_load(spark, tmp_path):
    df = spark.createDataFrame(
        [(1, 10, 5), (1, 11, 0), (2, 10, 2)], "user int, item int, rating int"
    )
    rater = BinaryRater(outputCol="played")
    pipeline = Pipeline(
        stages=[rater, SQLTransformer(statement="SELECT *, played * 2 AS twice FROM __THIS__")]
    )
    model = pipeline.fit(df)
    model.save(str(tmp_path / "model"))
    loaded = PipelineModel.load(str(tmp_path / "model"))
    assert isinstance(loaded.stages[0], BinaryRater) and isinstance(loaded.stages[1], SQLTransformer)
    expected = spark.createDataFrame(
        [(1, 10, 5, 1, 2), (1, 11, 0, 0, 0), (2, 10, 2, 1, 2)],
        "user int, item int, rating int, played int, twice int",
    )
    assertDataFrameEqual(loaded.transform(df), expected)
