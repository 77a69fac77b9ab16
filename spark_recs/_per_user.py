"""Per-user ordering of units and dealing the first n positions to test.

A unit is a (user, item) pair (every row of the pair shares the pair's position) or a single
row. :py:mod:`spark_recs.tuning` orders each user's units by a seeded hash
(:py:func:`seeded_order`), :py:mod:`spark_recs.time_splits` latest pair first
(:py:func:`latest_first`); :py:func:`order_per_user` numbers them and :py:func:`deal_first`
deals the first positions of each user to test. Nothing here validates: the callers check
columns and params first, so that their messages name their stage.
"""

from typing import List, Optional, Sequence, Tuple, cast

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_recs import _validation as V
from spark_recs._validation import column

#: What a split or fold deals out: whole (user, item) pairs or single rows.
UNITS = ["pair", "row"]
#: Temporary columns, dropped by split_where: a pair's first time, the unit's 0-based position
#: in its user's order, the user's number of units, and the side.
PAIR_TIME, POSITION, COUNT = "__spark_recs_pair_time", "__spark_recs_position", "__spark_recs_units"
_TEST = "__spark_recs_test"


def seeded_order(user: str, item: str, seed: int) -> List[Column]:
    """A random order of a user's pairs that depends only on the seed, the user and the item:
    ``xxhash64(seed, user, item)``, ties by item."""
    return [F.xxhash64(F.lit(seed), column(user), column(item)), column(item)]


def with_pair_time(dataset: DataFrame, user: str, item: str, ts: str) -> DataFrame:
    """``dataset`` with ``PAIR_TIME``: the first time of the row's (user, item) pair."""
    by_pair = Window.partitionBy(column(user), column(item))
    return dataset.withColumn(PAIR_TIME, F.min(column(ts)).over(by_pair))


def latest_first(item: str) -> List[Column]:
    """The latest pair first, over a frame from :py:func:`with_pair_time`: by ``PAIR_TIME``
    descending, equal times by item descending (the larger id is later)."""
    return [F.col(PAIR_TIME).desc(), column(item).desc()]


def order_per_user(
    dataset: DataFrame, user: str, item: str, order: Sequence[Column], unit: str = "pair"
) -> DataFrame:
    """``dataset`` with ``POSITION`` (the 0-based position of the row's unit in its user's
    ``order``) and ``COUNT`` (the user's number of units).

    With ``unit='pair'`` every row of one (user, item) pair has the pair's position
    (``dense_rank``; ``order`` must tie the rows of a pair and only them, as both orders above
    do), so whatever deals positions out keeps the pair's rows together. With ``unit='row'``
    each row has its own position (``row_number``): rows of one pair tie in ``order``, and the
    other atomic columns break the tie, so that which of them lands where does not depend on
    the partitioning either. One window partitioned by user; no Spark job.
    """
    by_user = Window.partitionBy(column(user))
    if unit == "pair":
        position = F.dense_rank().over(by_user.orderBy(*order)) - 1
        count = F.max(F.col(POSITION)).over(by_user) + 1  # the last pair's position + 1
    else:
        others = [column(f.name) for f in dataset.schema.fields
                  if f.name not in (user, item) and V.is_atomic_id(f.dataType)]
        position = F.row_number().over(by_user.orderBy(*order, *others)) - 1
        count = F.count(F.lit(1)).over(by_user)
    return dataset.withColumn(POSITION, position).withColumn(COUNT, count)


def split_where(flagged: DataFrame, is_test: Column) -> Tuple[DataFrame, DataFrame]:
    """(train, test): the rows where ``is_test`` is false, and where it is true; the temporary
    columns above dropped, so both have the schema the caller started from."""
    flagged = flagged.withColumn(_TEST, is_test)
    temp = [c for c in (PAIR_TIME, POSITION, COUNT, _TEST) if c in flagged.columns]
    return flagged.where(~F.col(_TEST)).drop(*temp), flagged.where(F.col(_TEST)).drop(*temp)


def deal_first(
    ordered: DataFrame, *, n: Optional[int] = None, fraction: Optional[float] = None
) -> Tuple[DataFrame, DataFrame]:
    """(train, test) from a frame of :py:func:`order_per_user`: each user's first
    ``min(n, m - 1)`` (or ``min(floor(m * fraction), m - 1)``) units test, where m is its
    number of units, so every user keeps a unit in train. Give exactly one of ``n`` and
    ``fraction`` (the callers have checked its range)."""
    if (n is None) == (fraction is None):
        raise ValueError("deal_first: give exactly one of n and fraction")
    count = F.col(COUNT)
    wanted = F.floor(count * F.lit(float(fraction))) if fraction is not None else F.lit(int(cast(int, n)))
    return split_where(ordered, F.col(POSITION) < F.least(wanted, count - 1))
