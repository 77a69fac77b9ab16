"""Time-aware splits and cold-user holdouts: every row once, whole pairs on one side, the same
whatever the partitioning, and each rule against a plain-Python reference."""

import datetime
import random
from collections import defaultdict

import numpy as np
import pytest
from pyspark.testing import assertDataFrameEqual

from spark_recs import (
    UserFolds,
    cold_user_split,
    last_n_split_per_user,
    time_ratio_split_per_user,
    time_split,
)

SCHEMA = "user string, item string, rating double, t long"


def timed_log(seed, users=14, items=10):
    """A play log with times: most pairs repeat (a row per play), times collide across and
    within users, a user with a single pair, and a null user."""
    rng = random.Random(seed)
    rows = []
    for u in range(users):
        for i in rng.sample(range(items), rng.randint(1, items)):
            start = rng.randint(0, 40)
            rows += [(f"u{u}", f"s{i}", float(rng.randint(1, 5)), start + 3 * j) for j in range(rng.choice([1, 1, 2, 4]))]
    rows += [("solo", "s0", 1.0, 5), ("solo", "s0", 1.0, 50), (None, "s1", 1.0, 7), (None, "s2", 1.0, 9)]
    rng.shuffle(rows)
    return rows


def first_times(rows):
    first = {}
    for u, i, _, t in rows:
        first[(u, i)] = min(t, first.get((u, i), t))
    return first


def latest_pairs_in_test(rows, count_of):
    """Per user: pairs by (first time, item) descending; the first count_of(m) are test."""
    by_user = defaultdict(list)
    for (u, i), t in first_times(rows).items():
        by_user[u].append((t, i))
    test = set()
    for u, pairs in by_user.items():
        pairs.sort(reverse=True)
        test |= {(u, i) for _, i in pairs[:count_of(len(pairs))]}
    return test


def sides(spark_rows_train, spark_rows_test):
    return ({(r["user"], r["item"]) for r in spark_rows_train}, {(r["user"], r["item"]) for r in spark_rows_test})


def check_split(log, train, test, expected_test_pairs):
    """Every row once, pairs on one side, and the test pairs the reference names."""
    train_rows, test_rows = train.collect(), test.collect()
    assert sorted(map(repr, (tuple(r) for r in train_rows + test_rows))) == sorted(map(repr, log))
    train_pairs, test_pairs = sides(train_rows, test_rows)
    assert not train_pairs & test_pairs
    assert test_pairs == expected_test_pairs


@pytest.fixture(scope="module")
def logs(spark_session):
    return {seed: (timed_log(seed), spark_session.createDataFrame(timed_log(seed), SCHEMA)) for seed in (0, 1)}


@pytest.mark.parametrize("seed", [0, 1])
def test_time_split_by_cutoff_and_quantile(logs, seed):
    log, df = logs[seed]
    first = first_times(log)
    for cutoff in (10, 25, 60):
        train, test = time_split(df, "t", cutoff=str(cutoff))
        check_split(log, train, test, {p for p, t in first.items() if t >= cutoff})
    for q in (0.25, 0.8):
        cut = np.percentile(np.array(list(first.values()), dtype=float), q * 100)  # linear, as Spark's percentile
        train, test = time_split(df, "t", quantile=q)
        check_split(log, train, test, {p for p, t in first.items() if t >= cut})


@pytest.mark.parametrize("seed", [0, 1])
def test_leave_last_out_and_time_ratio(logs, seed):
    log, df = logs[seed]
    for n in (1, 2, 5):
        train, test = last_n_split_per_user(df, n=n, timestampCol="t")
        check_split(log, train, test, latest_pairs_in_test(log, lambda m: min(n, m - 1)))
    for fraction in (0.0, 0.3, 0.75):
        train, test = time_ratio_split_per_user(df, testFraction=fraction, timestampCol="t")
        check_split(log, train, test, latest_pairs_in_test(log, lambda m: min(int(m * fraction), m - 1)))


def test_cold_users_are_held_out_whole(logs):
    log, df = logs[0]
    train, test = cold_user_split(df, testFraction=0.4, seed=3)
    train_rows, test_rows = train.collect(), test.collect()
    assert sorted(map(repr, (tuple(r) for r in train_rows + test_rows))) == sorted(map(repr, log))
    train_users, test_users = {r["user"] for r in train_rows}, {r["user"] for r in test_rows}
    assert not train_users & test_users and train_users and test_users
    assert cold_user_split(df, testFraction=0.0)[1].count() == 0
    folded = UserFolds(numFolds=3, seed=3).transform(df).collect()
    folds_of = defaultdict(set)
    for r in folded:
        folds_of[r["user"]].add(r["fold"])
    assert all(len(f) == 1 for f in folds_of.values()) and set().union(*folds_of.values()) <= {0, 1, 2}
    assert len(set().union(*folds_of.values())) == 3  # 16 users reach every fold
    assert len(folded) == len(log)


def test_splits_do_not_depend_on_the_partitioning(logs):
    _, df = logs[1]
    splits = [
        lambda d: time_split(d, "t", quantile=0.5),
        lambda d: last_n_split_per_user(d, n=2, timestampCol="t"),
        lambda d: time_ratio_split_per_user(d, testFraction=0.5, timestampCol="t"),
        lambda d: cold_user_split(d, testFraction=0.5),
    ]
    for split in splits:
        base_train, base_test = split(df.repartition(1))
        train, test = split(df.repartition(5, "t"))
        assertDataFrameEqual(train, base_train)
        assertDataFrameEqual(test, base_test)
    assertDataFrameEqual(UserFolds().transform(df.repartition(4, "t")), UserFolds().transform(df.repartition(1)))


def test_timestamp_and_date_columns(spark):
    epoch = datetime.datetime(2024, 3, 1)
    rows = [("a", "x", 1.0, epoch + datetime.timedelta(days=d)) for d in (0, 2)] + [
        ("a", "y", 1.0, epoch + datetime.timedelta(days=5)), ("b", "x", 1.0, epoch + datetime.timedelta(days=1))]
    df = spark.createDataFrame(rows, "user string, item string, rating double, at timestamp")
    train, test = time_split(df, "at", cutoff="2024-03-03")
    assert sides(train.collect(), test.collect()) == ({("a", "x"), ("b", "x")}, {("a", "y")})
    train, test = time_split(df.selectExpr("user", "item", "rating", "to_date(at) AS day"), "day", quantile=0.5)
    assert train.count() + test.count() == 4 and test.count() >= 1
    train, test = last_n_split_per_user(df, n=1, timestampCol="at")
    assert sides(train.collect(), test.collect())[1] == {("a", "y")}


@pytest.mark.parametrize("call, error, message", [
    (lambda d: time_split(d, "t"), ValueError, r"^time_split: give exactly one of cutoff and quantile \(timestampCol 't'\)"),
    (lambda d: time_split(d, "t", cutoff="5", quantile=0.5), ValueError, "^time_split: give exactly one"),
    (lambda d: time_split(d, "t", quantile=1.0), ValueError, r"^time_split: quantile must be in \(0, 1\), found 1.0"),
    (lambda d: time_split(d, "t", cutoff="noon"), ValueError,
     r"^time_split: cutoff must be a number to compare with 't' \(bigint\), found 'noon'"),
    (lambda d: time_split(d, "when", cutoff="1"), ValueError, "^time_split: timestampCol 'when' not in"),
    (lambda d: time_split(d, "user", cutoff="1"), TypeError,
     "^time_split: timestampCol 'user' must be numeric, timestamp or date, found string"),
    (lambda d: last_n_split_per_user(d, n=0, timestampCol="t"), ValueError, "^last_n_split_per_user: n must be >= 1"),
    (lambda d: time_ratio_split_per_user(d, testFraction=1.0, timestampCol="t"), ValueError,
     r"^time_ratio_split_per_user: testFraction must be in \[0, 1\)"),
    (lambda d: cold_user_split(d, testFraction=-0.1), ValueError, r"^cold_user_split: testFraction must be in \[0, 1\)"),
    (lambda d: UserFolds(numFolds=1).transform(d), ValueError, "^UserFolds: numFolds must be >= 2"),
    (lambda d: UserFolds(foldCol="t").transform(d), ValueError, "^UserFolds: foldCol 't' already exists"),
])
def test_bad_input_raises_naming_the_param(logs, call, error, message):
    with pytest.raises(error, match=message):
        call(logs[0][1])


def test_null_times_raise_before_splitting(spark):
    df = spark.createDataFrame([("a", "x", 1.0, None), ("a", "y", 1.0, 3)], SCHEMA)
    for call in (lambda: time_split(df, "t", cutoff="2"), lambda: last_n_split_per_user(df, timestampCol="t"),
                 lambda: time_ratio_split_per_user(df, timestampCol="t")):
        with pytest.raises(ValueError, match=r"timestampCol 't' has 1 null time\(s\)"):
            call()
