"""Tests of ``spark_recs.zeros.ZeroFiller`` on a real local Spark session."""

import math
import random
from collections import Counter, defaultdict

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
)
from pyspark.testing import assertDataFrameEqual

from spark_recs import ZeroFiller
from tests.helpers import job_count


def _df(spark, rows, schema):
    """A DataFrame of ``rows``, checkpointed so that the many scans of a transform stay in the
    JVM (a DataFrame made from a Python list is read back through Python workers)."""
    return spark.createDataFrame(rows, schema).localCheckpoint()


def _schema(user_type=StringType(), item_type=StringType(), rating_type=IntegerType(),
            names=("user", "item", "rating")):
    return StructType([
        StructField(names[0], user_type),
        StructField(names[1], item_type),
        StructField(names[2], rating_type),
    ])


def _random_rows(n_users, n_items, density, seed, user_fmt="u{:02d}", item_fmt="i{:02d}"):
    """Random implicit data; every user and every item has at least one row."""
    rng = random.Random(seed)
    pairs = {(u, i) for u in range(n_users) for i in range(n_items) if rng.random() < density}
    pairs |= {(u, rng.randrange(n_items)) for u in range(n_users)}
    pairs |= {(rng.randrange(n_users), i) for i in range(n_items)}
    return sorted((user_fmt.format(u), item_fmt.format(i), rng.randint(1, 9)) for u, i in pairs)


def _round_half_up(x):
    return math.floor(x + 0.5)


def _expected_zeros(rows, num_zeros, mode):
    """Plain-Python z_u = min(I - n_u, round(numZeros * n_u) or round(numZeros)) per user."""
    n_items = len({i for _, i, _ in rows})
    per_user = Counter(u for u, _, _ in rows)
    wanted = (lambda n: num_zeros * n) if mode == "perPositive" else (lambda n: num_zeros)
    return {u: min(n_items - n, _round_half_up(wanted(n))) for u, n in per_user.items()}


# --------------------------------------------------------------------------- full strategy


def test_full_plans_are_the_ones_asked_for(spark, full_plan, capsys):
    ZeroFiller().transform(_df(spark, SMALL, _schema())).explain()
    plan = capsys.readouterr().out
    assert ("Generate" in plan) == (full_plan == "gaps"), plan  # the gaps' explode
    assert ("BroadcastNestedLoopJoin" in plan) == (full_plan == "broadcast"), plan  # the grid

SMALL = [("u1", "a", 3), ("u1", "c", 1), ("u2", "b", 5), ("u3", "c", 2)]
SMALL_FULL = [
    ("u1", "a", 3), ("u1", "b", 0), ("u1", "c", 1),
    ("u2", "a", 0), ("u2", "b", 5), ("u2", "c", 0),
    ("u3", "a", 0), ("u3", "b", 0), ("u3", "c", 2),
]


def test_full_small_gives_expected_rows(spark, full_plan):
    # an extra column is not carried over; 3 users x 3 items = maxRows is allowed
    df = _df(spark, [row + ("x",) for row in SMALL],
             "user string, item string, rating int, extra string")
    out = ZeroFiller(maxRows=9).transform(df)
    assert out.columns == ["user", "item", "rating"]
    assertDataFrameEqual(out, spark.createDataFrame(SMALL_FULL, _schema()))


def test_full_equals_naive_cross_join_on_random_data(spark, full_plan):
    rows = _random_rows(30, 20, 0.15, seed=1)
    rows = [(u, i, float(r)) for u, i, r in rows]
    df = _df(spark, rows, _schema(rating_type=DoubleType()))
    out = ZeroFiller().transform(df)
    users, items = df.select("user").distinct(), df.select("item").distinct()
    naive = users.crossJoin(items).join(df, ["user", "item"], "left").fillna(0)
    assertDataFrameEqual(out, naive.select("user", "item", "rating"))
    stats = out.agg(F.count(F.lit(1)).alias("n"), F.sum("rating").alias("s")).first()
    assert stats["n"] == 30 * 20
    assert stats["s"] == pytest.approx(sum(r for _, _, r in rows))
    assert out.schema == df.schema


def test_full_keeps_int_and_long_types_and_odd_names(spark, full_plan):
    # String ids and int ratings are in SMALL, double ratings in the random data above; here
    # int user ids, long item ids, long ratings, and odd names: "index" is also the name of
    # dense_index's column, and a dot in a name is not a path. User 1 observed every item.
    schema = _schema(IntegerType(), LongType(), LongType(), names=("index", "item.id", "plays"))
    data = [(1, 10, 4), (1, 20, 3), (1, 30, 1), (2, 20, 2), (3, 10, 7)]
    expected = {(u, i): 0 for u in (1, 2, 3) for i in (10, 20, 30)}
    expected.update({(u, i): r for u, i, r in data})
    df = _df(spark, data, schema)
    out = ZeroFiller(userCol="index", itemCol="item.id", ratingCol="plays").transform(df)
    assert out.schema == schema
    expected_df = spark.createDataFrame([(u, i, r) for (u, i), r in expected.items()], schema)
    assertDataFrameEqual(out, expected_df)


def test_full_keeps_a_non_nullable_schema(spark, full_plan):
    schema = StructType([StructField(n, t, nullable=False) for n, t in
                         (("user", StringType()), ("item", StringType()), ("rating", IntegerType()))])
    df = spark.createDataFrame(SMALL, schema)
    out = ZeroFiller().transform(df)
    assert out.schema == schema
    assertDataFrameEqual(out, spark.createDataFrame(SMALL_FULL, schema))


# --------------------------------------------------------------------------- duplicates

DUPS = SMALL + [("u1", "a", 4), ("u1", "a", 1), ("u2", "b", 2)]


def test_duplicates_raise_by_default(spark):
    df = _df(spark, DUPS, _schema())
    with pytest.raises(
        ValueError,
        match=r"ZeroFiller: 3 extra rows repeat a \(user, item\) pair: 7 rows but 4 distinct "
        r"pairs of userCol 'user' and itemCol 'item'; handleDuplicates is 'error', "
        r"set it to 'sum' or 'max'",
    ):
        ZeroFiller().transform(df)


@pytest.mark.parametrize("mode, a, b", [("sum", 3 + 4 + 1, 5 + 2), ("max", 4, 5)])
def test_duplicates_sum_and_max(spark, full_plan, mode, a, b):
    df = _df(spark, DUPS, _schema())
    out = ZeroFiller(handleDuplicates=mode).transform(df)
    expected = [(u, i, a if (u, i) == ("u1", "a") else b if (u, i) == ("u2", "b") else r)
                for u, i, r in SMALL_FULL]
    assert out.schema == df.schema  # the aggregate is cast back to int
    assertDataFrameEqual(out, spark.createDataFrame(expected, _schema()))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"userCol": "customer"}, r"ZeroFiller: userCol 'customer' not in \[user, item, rating\]"),
        ({"itemCol": "song"}, r"ZeroFiller: itemCol 'song' not in \[user, item, rating\]"),
        ({"ratingCol": "plays"}, r"ZeroFiller: ratingCol 'plays' not in \[user, item, rating\]"),
        ({"itemCol": "user"}, r"ZeroFiller: userCol, itemCol and ratingCol repeat \['user'\]"),
        ({"handleDuplicates": "mean"},
         r"ZeroFiller: handleDuplicates must be one of \['error', 'sum', 'max'\], found 'mean'"),
        ({"strategy": "random"},
         r"ZeroFiller: strategy must be one of \['full', 'sample'\], found 'random'"),
        ({"numZerosMode": "perItem"},
         r"ZeroFiller: numZerosMode must be one of \['perPositive', 'perUser'\], found 'perItem'"),
        ({"numZeros": -0.5}, r"ZeroFiller: numZeros must be >= 0, found -0.5"),
        ({"numZeros": float("nan")}, r"ZeroFiller: numZeros must be >= 0, found nan"),
        ({"maxRows": 0}, r"ZeroFiller: maxRows must be >= 1, found 0"),
    ],
)
def test_bad_columns_and_params_raise_value_error(spark, kwargs, match):
    df = spark.createDataFrame(SMALL, _schema())  # no job: fails on the schema or params
    with pytest.raises(ValueError, match=match):
        ZeroFiller(**kwargs).transform(df)


@pytest.mark.parametrize(
    "schema, match",
    [
        (_schema(rating_type=StringType()),
         r"ZeroFiller: ratingCol 'rating' must be numeric, found string"),
        (_schema(rating_type=BooleanType()),
         r"ZeroFiller: ratingCol 'rating' must be numeric, found boolean"),
        (_schema(user_type=ArrayType(StringType())),
         r"ZeroFiller: userCol 'user' must be of an atomic type, found array<string>"),
        (_schema(item_type=MapType(StringType(), StringType())),
         r"ZeroFiller: itemCol 'item' must be of an atomic type, found map<string,string>"),
    ],
)
def test_bad_types_raise_type_error(spark, schema, match):
    df = spark.createDataFrame([], schema)
    with pytest.raises(TypeError, match=match):
        ZeroFiller().transform(df)


@pytest.mark.parametrize(
    "rows, rating_type, match",
    [
        ([("u1", "a", 1), (None, "b", 2), (None, "a", 3)], IntegerType(),
         r"ZeroFiller: userCol 'user' has 2 null values in 3 rows"),
        ([("u1", None, 1), ("u2", "b", 2)], IntegerType(),
         r"ZeroFiller: itemCol 'item' has 1 null values in 2 rows"),
        ([("u1", "a", None), ("u2", "b", 2)], IntegerType(),
         r"ZeroFiller: ratingCol 'rating' has 1 null values in 2 rows"),
        ([("u1", "a", float("nan")), ("u2", "b", 2.0)], DoubleType(),
         r"ZeroFiller: ratingCol 'rating' has 1 NaN values in 2 rows"),
        ([], IntegerType(), r"ZeroFiller: userCol 'user', itemCol 'item', ratingCol 'rating': the input DataFrame is empty"),
    ],
)
def test_bad_values_raise_value_error(spark, rows, rating_type, match):
    df = spark.createDataFrame(rows, _schema(rating_type=rating_type))
    with pytest.raises(ValueError, match=match):
        ZeroFiller().transform(df)


@pytest.mark.classic_only("counts jobs with SparkContext.statusTracker, which a Connect client lacks")
def test_max_rows_guard_raises_after_the_counting_job_only(spark):
    df = _df(spark, SMALL, _schema())  # 3 users x 3 items = 9 rows
    filler = ZeroFiller(maxRows=8)
    match = (r"ZeroFiller: strategy 'full' would give 3 users x 3 items = 9 rows > maxRows=8; "
             r"raise maxRows or use strategy='sample'")

    def guard():
        with pytest.raises(ValueError, match=match):
            filler.transform(df)

    def duplicates():  # the same data plus one duplicate: fails right after the counting job
        with pytest.raises(ValueError, match="handleDuplicates"):
            ZeroFiller().transform(df.union(df.limit(1)))

    guard_jobs = job_count(spark, "zero-filler-guard", guard)
    duplicate_jobs = job_count(spark, "zero-filler-duplicates", duplicates)
    assert 0 < guard_jobs <= duplicate_jobs


# --------------------------------------------------------------------------- sample strategy

# 24 users over 17 items (I is not a power of two, so the permutation cycle-walks), with
# 1 to 17 observed items each: u00 observed every item.
SAMPLE_ROWS = [
    (f"u{u:02d}", f"i{i:02d}", 1 + (u * 7 + i) % 5)
    for u in range(24)
    for i in random.Random(u).sample(range(17), 17 - u if u < 17 else 1 + u % 4)
]


@pytest.fixture(scope="module")
def sample_df(spark_session):
    return _df(spark_session, SAMPLE_ROWS, _schema())


@pytest.fixture(scope="module")
def per_positive(sample_df):
    """Rows of the perPositive sample, computed once for several tests."""
    filler = ZeroFiller(strategy="sample", numZeros=1.5, seed=11)
    return filler, [tuple(r) for r in filler.transform(sample_df).collect()]


def _check_sample(rows, out, num_zeros, mode):
    observed = {(u, i): r for u, i, r in rows}
    items = {i for _, i, _ in rows}
    assert len(out) == len(set(out)), "duplicate rows"
    out_pairs = [(u, i) for u, i, _ in out]
    assert len(out_pairs) == len(set(out_pairs)), "a pair appears twice"
    kept = [row for row in out if (row[0], row[1]) in observed]
    assert sorted(kept) == sorted(rows), "observed rows must be kept unchanged"
    zeros = [row for row in out if (row[0], row[1]) not in observed]
    assert all(r == 0 and i in items for _, i, r in zeros)
    got = Counter(u for u, _, _ in zeros)
    expected = _expected_zeros(rows, num_zeros, mode)
    assert {u: got.get(u, 0) for u in expected} == expected
    return zeros


def test_sample_per_positive_counts(per_positive):
    _, out = per_positive
    _check_sample(SAMPLE_ROWS, out, 1.5, "perPositive")
    expected = _expected_zeros(SAMPLE_ROWS, 1.5, "perPositive")
    assert expected["u00"] == 0  # observed every item
    assert expected["u16"] == 2  # 1 positive: round(1.5) = 2, half up
    assert expected["u13"] == 6  # 4 positives, 13 unobserved: 6


def test_sample_per_user_counts(spark, sample_df):
    out = ZeroFiller(strategy="sample", numZeros=2.5, numZerosMode="perUser", seed=3)
    rows = [tuple(r) for r in out.transform(sample_df).collect()]
    _check_sample(SAMPLE_ROWS, rows, 2.5, "perUser")
    expected = _expected_zeros(SAMPLE_ROWS, 2.5, "perUser")
    assert expected["u05"] == 3 and expected["u02"] == 2 and expected["u00"] == 0


def test_sample_with_huge_num_zeros_is_the_full_grid(spark, sample_df):
    filler = ZeroFiller(strategy="sample", numZeros=float("inf"), numZerosMode="perUser")
    out = filler.transform(sample_df)
    observed = {(u, i): r for u, i, r in SAMPLE_ROWS}
    users = sorted({u for u, _, _ in SAMPLE_ROWS})
    items = sorted({i for _, i, _ in SAMPLE_ROWS})
    full = [(u, i, observed.get((u, i), 0)) for u in users for i in items]
    assertDataFrameEqual(out, spark.createDataFrame(full, _schema()))


def test_sample_is_deterministic_whatever_the_partitioning(sample_df, per_positive):
    filler, first = per_positive
    # ``first`` is another run, on the input as created
    one = filler.transform(sample_df.repartition(1)).collect()
    seven = filler.transform(sample_df.repartition(7)).collect()
    assert sorted(first) == sorted(map(tuple, one)) == sorted(map(tuple, seven))


def test_sample_changes_with_the_seed(sample_df, per_positive):
    filler, first = per_positive
    other = filler.copy().setSeed(12).transform(sample_df).collect()
    _check_sample(SAMPLE_ROWS, [tuple(r) for r in other], 1.5, "perPositive")
    assert sorted(first) != sorted(map(tuple, other))


def test_sampled_items_are_spread_over_all_items(spark):
    # 300 users with 3 positives each, 10 zeros each among 50 items (64 = 2^6: cycle walks):
    # 3000 zeros, 60 per item on average.
    rng = random.Random(5)
    rows = [(u, i, 1) for u in range(300) for i in rng.sample(range(50), 3)]
    df = _df(spark, rows, _schema(LongType(), IntegerType(), IntegerType()))
    filler = ZeroFiller(strategy="sample", numZeros=10, numZerosMode="perUser", seed=1)
    zeros = [(u, i) for u, i, r in filler.transform(df).collect() if r == 0]
    assert len(zeros) == 3000
    per_item = Counter(i for _, i in zeros)
    assert set(per_item) == set(range(50))
    assert max(per_item.values()) < 2 * 60 and min(per_item.values()) > 60 // 2
    # first choices differ between users: the permutations depend on the user
    per_user = defaultdict(set)
    for u, i in zeros:
        per_user[u].add(i)
    assert len({frozenset(s) for s in per_user.values()}) > 290


def test_sample_with_a_single_item(spark):
    # I = 1: a one-bit permutation, and no user has an unobserved item
    df = _df(spark, [("u1", "a", 2), ("u2", "a", 3)], _schema())
    out = ZeroFiller(strategy="sample", numZeros=5).transform(df)
    assertDataFrameEqual(out, df)


# --------------------------------------------------------------------------- persistence


# uid, type, params and output after save/load, alone and in a Pipeline, keyword-only
# construction, getters and setters: tests/test_common.py


def test_default_values():
    filler = ZeroFiller()
    assert (filler.getUserCol(), filler.getItemCol(), filler.getRatingCol()) == (
        "user", "item", "rating")
    assert filler.getHandleDuplicates() == "error" and filler.getMaxRows() == 100_000_000
    assert filler.getStrategy() == "full" and filler.getNumZeros() == 1.0
    assert filler.getNumZerosMode() == "perPositive"
    assert ZeroFiller(seed=None).getSeed() == filler.getSeed()
    filler.setNumZeros(3)
    assert filler.getNumZeros() == 3.0 and isinstance(filler.getNumZeros(), float)
