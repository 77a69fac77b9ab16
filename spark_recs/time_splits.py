"""Splits that do not leak the future, and cold-user holdouts.

Every split here deals whole (user, item) pairs, so no pair is on both sides, keeps every row
exactly once, and is the same whatever the partitioning. A pair's time is the time of its first
row: a pair seen before a cut-off is a training pair, with all its rows (later repeats of it
included; see Notes of :py:func:`time_split`).

Which ones leak: :py:func:`time_split` (one cut-off for everyone) does not; the per-user ones
(:py:func:`last_n_split_per_user`, :py:func:`time_ratio_split_per_user`) let one user's later
interactions train the model that is tested on another user's earlier ones, as Microsoft
Recommenders' ``python_chrono_split`` and RePlay's ``LastNSplitter`` do; they are the field's
leave-last-out protocol all the same. :py:func:`cold_user_split` and :py:class:`UserFolds`
hold whole users out, for cold-start evaluation.
"""

from typing import Any, Optional, Tuple, cast

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasSeed
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DateType, TimestampType

from spark_recs import _validation as V
from spark_recs._per_user import (
    PAIR_TIME,
    deal_first,
    latest_first,
    order_per_user,
    split_where,
    with_pair_time,
)
from spark_recs._persistence import ParamsReadable, ParamsWritable
from spark_recs._validation import column
from spark_recs.param import HasUserCol, fixed_seed, without_none_seed

__all__ = ["UserFolds", "cold_user_split", "last_n_split_per_user", "time_ratio_split_per_user", "time_split"]

_DEFAULT_SEED = fixed_seed("spark_recs.time_splits")
#: Buckets of the user hash that cold_user_split compares with testFraction.
_BUCKETS = 1_000_000


def _check_times(stage: str, dataset: DataFrame, user: str, item: str, ts: str) -> DataType:
    """The columns' types, then one job: the null count of the times (raises if any)."""
    V.require_type(stage, "userCol", user, dataset, V.is_atomic_id, "an atomic type")
    V.require_type(stage, "itemCol", item, dataset, V.is_atomic_id, "an atomic type")
    dt = V.require_type(stage, "timestampCol", ts, dataset, V.is_time, "numeric, timestamp or date")
    nulls = dataset.where(column(ts).isNull()).count()
    if nulls:
        raise ValueError(f"{stage}: timestampCol '{ts}' has {nulls} null time(s); drop or fill them first")
    return dt


def time_split(
    dataset: DataFrame,
    timestampCol: str = "timestamp",
    cutoff: Optional[str] = None,
    quantile: Optional[float] = None,
    userCol: str = "user",
    itemCol: str = "item",
) -> Tuple[DataFrame, DataFrame]:
    """A global time split: pairs first seen before the cut-off train, the others test.

    Parameters
    ----------
    dataset : :py:class:`pyspark.sql.DataFrame`
        Interactions; every column is kept.
    timestampCol : str, default 'timestamp'
        The rows' times: numeric (e.g. seconds since the epoch), timestamp or date.
    cutoff : str, optional
        The cut-off: a number for a numeric column, an ISO 8601 date or time otherwise.
    quantile : float, optional
        Or the cut-off as a quantile in (0, 1) of the pairs' first times (exact: Spark SQL's
        ``percentile``): 0.8 puts about the earliest 80% of pairs in train. Give exactly one
        of ``cutoff`` and ``quantile``.
    userCol, itemCol : str
        Defaults 'user', 'item'; any atomic type.

    Returns
    -------
    (train, test) : tuple of :py:class:`pyspark.sql.DataFrame`
        Both with ``dataset``'s schema. Train: every row of each pair whose first time is
        before the cut-off; test: every row of the others.

    Raises
    ------
    ValueError
        Not exactly one of ``cutoff`` and ``quantile``; a quantile outside (0, 1); a cut-off
        that does not read as a time of the column; null times; a missing column.
    TypeError
        A time column that is not numeric, timestamp or date; ids of a non-atomic type.

    Notes
    -----
    A pair first seen before the cut-off keeps its later rows in train (a play log repeats
    pairs): they are not on both sides, at the price of their later counts training the
    model. Users and items first seen after the cut-off are cold in test: evaluate with
    ``coldStartStrategy`` in mind. Spark jobs: the null count of the times; with
    ``quantile``, one aggregation for the cut-off (a single number reaches the driver). The
    splits themselves are lazy. Defined as RePlay's ``TimeSplitter`` and Microsoft
    Recommenders' ``spark_timestamp_split`` are, with whole pairs dealt.

    Examples
    --------
    >>> from spark_recs.time_splits import time_split
    >>> df = spark.createDataFrame([("a", "x", 1), ("a", "y", 5), ("b", "x", 3), ("a", "x", 9)],
    ...                            ["user", "item", "t"])
    >>> train, test = time_split(df, "t", cutoff="4")
    >>> sorted(map(tuple, train.collect())), sorted(map(tuple, test.collect()))
    ([('a', 'x', 1), ('a', 'x', 9), ('b', 'x', 3)], [('a', 'y', 5)])
    """
    name = "time_split"
    dt = _check_times(name, dataset, userCol, itemCol, timestampCol)
    if (cutoff is None) == (quantile is None):
        raise ValueError(f"{name}: give exactly one of cutoff and quantile (timestampCol '{timestampCol}')")
    timed = with_pair_time(dataset, userCol, itemCol, timestampCol)
    if quantile is not None:
        V.require_param(name, "quantile", quantile, 0.0 < float(quantile) < 1.0, "be in (0, 1)",
                        f"share of pairs by first time of timestampCol '{timestampCol}' in train")
        cut = _quantile_cutoff(dataset, userCol, itemCol, timestampCol, dt, float(quantile))
    else:
        cut = V.time_literal(name, "cutoff", str(cutoff), timestampCol, dt)
    return split_where(timed, F.col(PAIR_TIME) >= cut)


def _quantile_cutoff(dataset: DataFrame, user: str, item: str, ts: str, dt: DataType, q: float) -> Column:
    """The exact ``q`` quantile of the pairs' first times, as a literal of the column's type."""
    first = dataset.groupBy(column(user), column(item)).agg(F.min(column(ts)).alias("t"))
    t = F.col("t")
    as_number = t.cast("timestamp").cast("double") if isinstance(dt, DateType) else t.cast("double")
    quantile = first.select(as_number.alias("v")).agg(F.expr(f"percentile(v, {q!r})").alias("q"))
    value = cast(Row, quantile.first())["q"]  # an aggregation without groups: one row
    if isinstance(dt, TimestampType):
        return F.lit(value).cast("timestamp")
    if isinstance(dt, DateType):
        return F.lit(value).cast("timestamp").cast("date")
    return F.lit(value)


def _latest_pairs_per_user(name: str, dataset: DataFrame, user: str, item: str, ts: str) -> DataFrame:
    """Checks, then ``dataset`` with each user's pairs numbered latest first (see
    :py:func:`spark_recs._per_user.latest_first`)."""
    _check_times(name, dataset, user, item, ts)
    return order_per_user(with_pair_time(dataset, user, item, ts), user, item, latest_first(item))


def last_n_split_per_user(
    dataset: DataFrame,
    n: int = 1,
    timestampCol: str = "timestamp",
    userCol: str = "user",
    itemCol: str = "item",
) -> Tuple[DataFrame, DataFrame]:
    """Leave-last-out: each user's ``n`` latest (user, item) pairs test, the rest train.

    A user with m pairs puts ``min(n, m - 1)`` in test: everyone keeps a pair in train. Pairs
    are ordered by their first time; equal times by item id (the larger is later), so the split
    is deterministic.

    Parameters
    ----------
    dataset : :py:class:`pyspark.sql.DataFrame`
        Interactions; every column is kept.
    n : int, default 1
        Pairs per user in test (>= 1).
    timestampCol : str, default 'timestamp'
        Numeric, timestamp or date.
    userCol, itemCol : str
        Defaults 'user', 'item'; any atomic type.

    Returns
    -------
    (train, test) : tuple of :py:class:`pyspark.sql.DataFrame`
        Both with ``dataset``'s schema.

    Raises
    ------
    ValueError
        ``n`` < 1, null times, a missing column.
    TypeError
        A time column that is not numeric, timestamp or date; ids of a non-atomic type.

    Notes
    -----
    Leaks across users (see the module's docstring). Spark jobs: the null count of the times;
    the splits are lazy (one window partitioned by user). Defined as LensKit's
    ``LastN`` holdout and RePlay's ``LastNSplitter`` (per user, by time), with whole pairs.

    Examples
    --------
    >>> from spark_recs.time_splits import last_n_split_per_user
    >>> df = spark.createDataFrame([("a", "x", 1), ("a", "y", 5), ("a", "z", 3), ("b", "x", 2)],
    ...                            ["user", "item", "t"])
    >>> train, test = last_n_split_per_user(df, n=1, timestampCol="t")
    >>> sorted(map(tuple, test.collect()))
    [('a', 'y', 5)]
    """
    name = "last_n_split_per_user"
    V.require_param(name, "n", n, int(n) >= 1, "be >= 1", f"pairs per userCol '{userCol}' in test")
    return deal_first(_latest_pairs_per_user(name, dataset, userCol, itemCol, timestampCol), n=int(n))


def time_ratio_split_per_user(
    dataset: DataFrame,
    testFraction: float = 0.2,
    timestampCol: str = "timestamp",
    userCol: str = "user",
    itemCol: str = "item",
) -> Tuple[DataFrame, DataFrame]:
    """Each user's latest share of (user, item) pairs test, the rest train.

    A user with m pairs puts its ``min(floor(m * testFraction), m - 1)`` latest pairs in test
    (ordered as :py:func:`last_n_split_per_user` orders them).

    Parameters
    ----------
    dataset : :py:class:`pyspark.sql.DataFrame`
        Interactions; every column is kept.
    testFraction : float, default 0.2
        In [0, 1).
    timestampCol, userCol, itemCol : str
        As :py:func:`last_n_split_per_user`.

    Returns
    -------
    (train, test) : tuple of :py:class:`pyspark.sql.DataFrame`
        Both with ``dataset``'s schema.

    Raises
    ------
    ValueError
        ``testFraction`` outside [0, 1), null times, a missing column.
    TypeError
        As :py:func:`last_n_split_per_user`.

    Notes
    -----
    Leaks across users (see the module's docstring). Spark jobs: the null count of the times.
    Microsoft Recommenders' ``spark_chrono_split`` (``filter_by='user'``) and RePlay's
    ``TimeSplitter`` per user define it by rows; here by pairs.
    """
    name = "time_ratio_split_per_user"
    V.require_param(name, "testFraction", testFraction, 0.0 <= testFraction < 1.0, "be in [0, 1)",
                    f"share of each userCol '{userCol}' in test")
    ordered = _latest_pairs_per_user(name, dataset, userCol, itemCol, timestampCol)
    return deal_first(ordered, fraction=testFraction)


def _user_bucket(user: str, seed: int) -> Column:
    """A seeded hash of the user in [0, _BUCKETS): the same for every row of the user."""
    return F.pmod(F.xxhash64(F.lit(seed), column(user)), F.lit(_BUCKETS))


def cold_user_split(
    dataset: DataFrame,
    testFraction: float = 0.2,
    seed: int = _DEFAULT_SEED,
    userCol: str = "user",
) -> Tuple[DataFrame, DataFrame]:
    """Hold users out entirely: every row of about ``testFraction`` of the users is test.

    A user is in test when a seeded hash of its id, in [0, 10^6), is below
    ``testFraction * 10^6``: the share is ``testFraction`` in expectation (not exactly: no
    global ordering of users, so it scales), and each user's rows stay together.

    Parameters
    ----------
    dataset : :py:class:`pyspark.sql.DataFrame`
        Interactions; every column is kept.
    testFraction : float, default 0.2
        In [0, 1).
    seed : int
        Seed of the hash; the default is a fixed number.
    userCol : str, default 'user'
        Any atomic type.

    Returns
    -------
    (train, test) : tuple of :py:class:`pyspark.sql.DataFrame`
        Both with ``dataset``'s schema; no user in both.

    Raises
    ------
    ValueError
        ``testFraction`` outside [0, 1), a missing column.
    TypeError
        A user column of a non-atomic type.

    Notes
    -----
    No Spark job (both are lazy). Test users are cold: a factor model has no factors for them.
    """
    name = "cold_user_split"
    V.require_param(name, "testFraction", testFraction, 0.0 <= testFraction < 1.0, "be in [0, 1)",
                    f"share of userCol '{userCol}' values in test")
    V.require_type(name, "userCol", userCol, dataset, V.is_atomic_id, "an atomic type")
    test = _user_bucket(userCol, seed) < F.lit(int(round(testFraction * _BUCKETS)))
    return split_where(dataset, test)


class UserFolds(Transformer, HasUserCol, HasSeed, ParamsReadable, ParamsWritable):
    """Folds of whole users for ``CrossValidator(foldCol=...)``: cold-user cross-validation.

    Adds ``foldCol`` (int in [0, numFolds)): a seeded hash of the user modulo ``numFolds``, so
    every row of a user is in one fold, and each validation fold holds users that no training
    fold has. Deterministic whatever the partitioning; no Spark job.

    Parameters
    ----------
    userCol : str, default 'user'
        Any atomic type.
    numFolds : int, default 3
        >= 2.
    foldCol : str, default 'fold'
        The new column.
    seed : int
        The hash's seed; a fixed default.

    Raises
    ------
    ValueError
        ``numFolds`` < 2, ``foldCol`` already in the input, a missing column.
    TypeError
        A user column of a non-atomic type.

    Examples
    --------
    >>> from spark_recs.time_splits import UserFolds
    >>> df = spark.createDataFrame([("a", 1), ("a", 2), ("b", 1)], ["user", "item"])
    >>> folded = UserFolds(numFolds=2, seed=1).transform(df)
    >>> folded.groupBy("user").agg(F.count_distinct("fold").alias("n")).where("n > 1").count()
    0
    """

    numFolds: "Param[int]" = Param(Params._dummy(), "numFolds", "number of folds (>= 2).",
                                   typeConverter=TypeConverters.toInt)
    foldCol: "Param[str]" = Param(Params._dummy(), "foldCol", "output column of fold numbers.",
                                  typeConverter=TypeConverters.toString)

    _input_kwargs: Any

    @keyword_only
    def __init__(self, *, userCol: str = "user", numFolds: int = 3, foldCol: str = "fold",
                 seed: Optional[int] = None) -> None:
        super().__init__()
        self._setDefault(numFolds=3, foldCol="fold", seed=_DEFAULT_SEED)
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, userCol: str = "user", numFolds: int = 3, foldCol: str = "fold",
                  seed: Optional[int] = None) -> "UserFolds":
        """Sets params for UserFolds."""
        return self._set(**without_none_seed(self._input_kwargs))

    def getNumFolds(self) -> int:
        """Gets the value of :py:attr:`numFolds` or its default value 3."""
        return self.getOrDefault(self.numFolds)

    def setNumFolds(self, value: int) -> "UserFolds":
        """Sets the value of :py:attr:`numFolds`."""
        return self._set(numFolds=value)

    def getFoldCol(self) -> str:
        """Gets the value of :py:attr:`foldCol` or its default value 'fold'."""
        return self.getOrDefault(self.foldCol)

    def setFoldCol(self, value: str) -> "UserFolds":
        """Sets the value of :py:attr:`foldCol`."""
        return self._set(foldCol=value)

    def setUserCol(self, value: str) -> "UserFolds":
        """Sets the value of :py:attr:`userCol`."""
        return self._set(userCol=value)

    def setSeed(self, value: int) -> "UserFolds":
        """Sets the value of :py:attr:`seed`."""
        return self._set(seed=value)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        k, user, fold = self.getNumFolds(), self.getUserCol(), self.getFoldCol()
        V.require_param(self, "numFolds", k, k >= 2, "be >= 2", f"folds of userCol '{user}'")
        V.require_type(self, "userCol", user, dataset, V.is_atomic_id, "an atomic type")
        V.require_new_column(self, "foldCol", fold, dataset)
        return dataset.withColumn(fold, F.pmod(F.xxhash64(F.lit(self.getSeed()), column(user)),
                                               F.lit(k)).cast("int"))
