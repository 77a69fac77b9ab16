"""Dense 0..n-1 indices for the distinct rows of a DataFrame, in a given total order.

This is ``zipWithIndex`` in the DataFrame API, without a window over the whole data and without
collecting any value to the driver:

1. sort globally (a range-partitioned, distributed sort) and tag each row with
   ``monotonically_increasing_id()``, which is ``partition << 33 | position in partition``;
2. freeze that layout with an eager ``localCheckpoint`` (one Spark job), so that later reads see
   exactly the same partitions and positions;
3. count the rows of each partition (one small job; one row per partition reaches the driver);
4. index = rows in earlier partitions + position within the partition.

The result depends only on the order, never on the input's partitioning, as long as the order
is total (callers end it with the value itself).
"""

from dataclasses import dataclass, field
from typing import Dict, List, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

INDEX = "index"
_MID = "__spark_recs_mid"
_PART = "__spark_recs_part"
_POSITION_BITS = 33


@dataclass(frozen=True)
class DenseIndex:
    """A DataFrame with an ``index`` column 0..size-1 and totals computed on the way."""

    frame: DataFrame
    size: int
    totals: Dict[str, int] = field(default_factory=dict)


def dense_index(
    df: DataFrame, order: Sequence[Column], sums: Dict[str, Column] | None = None, index_type: str = "int"
) -> DenseIndex:
    """Add an ``index`` column (``index_type``: IntegerType, or ``"bigint"`` for callers that
    number more than 2**31 - 1 rows and rebase the index themselves) numbering the rows of
    ``df`` in ``order``.

    ``sums`` maps names to column expressions whose totals over all rows are wanted; they are
    computed in the same small job that counts the rows of each partition.
    """
    sums = dict(sums or {})
    tagged = (
        df.orderBy(*order)
        .withColumn(_MID, F.monotonically_increasing_id())
        .localCheckpoint(eager=True)
    )
    per_part = (
        tagged.groupBy(F.shiftright(F.col(_MID), _POSITION_BITS).alias(_PART))
        .agg(
            F.count(F.lit(1)).alias("__n"),
            *[F.sum(expr).alias(name) for name, expr in sums.items()],
        )
        .collect()
    )
    counts = {int(r[_PART]): int(r["__n"]) for r in per_part}
    size = sum(counts.values())
    totals = {name: int(sum(r[name] or 0 for r in per_part)) for name in sums}
    offsets: List[int] = []
    running = 0
    for part in range(max(counts, default=0) + 1):
        offsets.append(running)
        running += counts.get(part, 0)
    position = F.col(_MID).bitwiseAND(F.lit((1 << _POSITION_BITS) - 1))
    row_part = F.shiftright(F.col(_MID), _POSITION_BITS).cast("int")
    offset = F.element_at(F.array(*[F.lit(o) for o in offsets]).cast("array<bigint>"), row_part + 1)
    frame = tagged.withColumn(INDEX, (offset + position).cast(index_type)).drop(_MID)
    return DenseIndex(frame=frame, size=size, totals=totals)


#: Up to this many rows, ``small_dense_index`` numbers them in one sorted partition.
SMALL = 1_000_000


def small_dense_index(df: DataFrame, order: Sequence[Column], size: int) -> DenseIndex:
    """``dense_index`` for at most ``SMALL`` rows whose count is already known: one sorted
    partition numbered by ``monotonically_increasing_id`` (= position there), lazily, with no
    job of its own. The order must be total, so a recomputation gives the same indices."""
    frame = df.repartition(1).sortWithinPartitions(*order).withColumn(
        INDEX, F.monotonically_increasing_id().cast("int")
    )
    return DenseIndex(frame=frame, size=size)


def counted_dense_index(
    df: DataFrame, order: Sequence[Column], sums: Dict[str, Column], index_type: str = "int"
) -> DenseIndex:
    """``dense_index`` of ``df``, with the totals of ``sums``, in one job when ``df`` has at
    most ``SMALL`` rows.

    ``df`` is locally checkpointed lazily; one aggregation job computes the row count and the
    totals, and stores the checkpoint on the way. Up to ``SMALL`` rows, the index numbers the
    checkpointed rows in one partition (``coalesce(1)``: no shuffle) sorted by ``order``,
    lazily: no further job, and a recomputation gives the same indices as long as the order is
    total. Above ``SMALL``, ``dense_index`` numbers the checkpointed rows (its sort, its
    checkpoint and its count job).
    """
    frozen = df.localCheckpoint(eager=False)
    row = frozen.agg(
        F.count(F.lit(1)).alias("__n"), *[F.sum(expr).alias(name) for name, expr in sums.items()]
    ).first()
    size = int(row["__n"]) if row is not None else 0
    totals = {name: int((row[name] if row is not None else 0) or 0) for name in sums}
    if size > SMALL:
        frame = dense_index(frozen, order, index_type=index_type).frame
        return DenseIndex(frame=frame, size=size, totals=totals)
    frame = frozen.coalesce(1).sortWithinPartitions(*order).withColumn(
        INDEX, F.monotonically_increasing_id().cast(index_type)
    )
    return DenseIndex(frame=frame, size=size, totals=totals)
