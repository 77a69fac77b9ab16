"""Reshape and summarise interaction tables: one column per item to long rows, and their counts."""

from typing import Any, Dict, List, Optional, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_recs._validation import (
    column,
    empty_input,
    is_atomic_id,
    is_numeric,
    require_column,
    require_distinct,
    require_type,
)

__all__ = ["interaction_stats", "wide_to_long"]


def wide_to_long(
    df: DataFrame,
    *,
    userCol: str,
    itemCols: Optional[Sequence[str]] = None,
    itemColName: str = "item",
    ratingColName: str = "rating",
    dropNulls: bool = True,
) -> DataFrame:
    """Turn a table with one rating column per item into long (user, item, rating) rows.

    Parameters
    ----------
    df : :py:class:`pyspark.sql.DataFrame`
        One row per user, one numeric column per item.
    userCol : str
        The user id column (kept, with its name and type).
    itemCols : list of str, optional
        The item columns; default all columns but ``userCol``.
    itemColName : str, default 'item'
        Name of the new item column: the item column's name, a string.
    ratingColName : str, default 'rating'
        Name of the new rating column, of the item columns' common type (int and double
        columns give double).
    dropNulls : bool, default True
        Drop the rows whose rating is null (the empty cells of the wide table). With False,
        every (user, item column) pair gives a row. NaN is not null and is never dropped.

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        ``userCol``, ``itemColName``, ``ratingColName``.

    Raises
    ------
    ValueError
        When a column is missing, ``itemCols`` is empty, repeats a name or holds ``userCol``,
        or the new names clash.
    TypeError
        When an item column is not numeric.

    Notes
    -----
    Uses :py:meth:`pyspark.sql.DataFrame.unpivot` (SQL ``UNPIVOT``/``stack``); no job runs.

    Examples
    --------
    >>> from spark_recs import wide_to_long
    >>> wide = spark.createDataFrame(
    ...     [("ann", 5.0, None, 3.0), ("bob", None, 4.0, 1.0)], ["user", "Heat", "Up", "Jaws"])
    >>> wide_to_long(wide, userCol="user").orderBy("user", "item").show()
    +----+----+------+
    |user|item|rating|
    +----+----+------+
    | ann|Heat|   5.0|
    | ann|Jaws|   3.0|
    | bob|Jaws|   1.0|
    | bob|  Up|   4.0|
    +----+----+------+
    <BLANKLINE>
    >>> wide_to_long(wide, userCol="user", itemCols=["Up"], dropNulls=False).count()
    2
    """
    func = "wide_to_long"
    require_column(func, "userCol", userCol, df)
    if itemCols is None:
        items = [c for c in df.columns if c != userCol]
    elif isinstance(itemCols, str):
        raise TypeError(f"{func}: itemCols must be a list of column names, found {itemCols!r}")
    else:
        items = list(itemCols)
    if not items:
        raise ValueError(f"{func}: itemCols is empty (columns: [{', '.join(df.columns)}])")
    require_distinct(func, "itemCols", items)
    if userCol in items:
        raise ValueError(f"{func}: itemCols holds userCol '{userCol}'")
    for c in items:
        require_type(func, "itemCols", c, df, is_numeric, "numeric")
    names = {"userCol": userCol, "itemColName": itemColName, "ratingColName": ratingColName}
    lowered = [n.lower() for n in names.values()]
    if len(set(lowered)) < 3:
        raise ValueError(
            f"{func}: userCol, itemColName and ratingColName must differ, found "
            f"'{userCol}', '{itemColName}', '{ratingColName}'"
        )
    long = df.select(column(userCol), *[column(c) for c in items]).unpivot(
        [column(userCol)], [column(c) for c in items], itemColName, ratingColName
    )
    return long.where(column(ratingColName).isNotNull()) if dropNulls else long


def interaction_stats(
    df: DataFrame, *, userCol: str = "user", itemCol: str = "item", ratingCol: Optional[str] = None
) -> Dict[str, Any]:
    """Count rows, users and items, the sparsity, rows per user and per item, rating range.

    Parameters
    ----------
    df : :py:class:`pyspark.sql.DataFrame`
    userCol, itemCol : str, default 'user', 'item'
    ratingCol : str, optional
        A numeric column to summarise as well.

    Returns
    -------
    dict
        ``rows``, ``users``, ``items`` (ints); ``sparsity`` = 1 - rows / (users * items);
        ``rows_per_user`` and ``rows_per_item``: dicts of ``min`` (int), ``mean`` (float),
        ``max`` (int); with ``ratingCol``, ``rating``: ``min``, ``mean``, ``max`` (floats, over
        the non-null ratings; None when all are null), ``interactions`` (int: rows whose rating
        is neither null nor 0) and ``interaction_sparsity`` = 1 - interactions / (users *
        items), the sparsity of a zero-filled table's observed pairs (its ``sparsity`` is 0).

    Raises
    ------
    ValueError
        When a column is missing, the DataFrame has no rows, or a user or item id is null.
    TypeError
        When an id column is not atomic or the rating column is not numeric.

    Notes
    -----
    Rows are counted as they are: a (user, item) pair that occurs twice counts twice, in
    ``rows`` and ``interactions`` and so in the sparsities. Everything comes from one Spark
    job (rows grouped by user and by item, then the groups summarised); only two summary rows
    reach the driver.

    Examples
    --------
    >>> from spark_recs import interaction_stats
    >>> df = spark.createDataFrame(
    ...     [("ann", "a", 4.0), ("ann", "b", 2.0), ("bob", "a", 5.0)], ["user", "item", "rating"])
    >>> stats = interaction_stats(df, ratingCol="rating")
    >>> stats["rows"], stats["users"], stats["items"], round(stats["sparsity"], 4)
    (3, 2, 2, 0.25)
    >>> stats["rows_per_user"], stats["rows_per_item"]
    ({'min': 1, 'mean': 1.5, 'max': 2}, {'min': 1, 'mean': 1.5, 'max': 2})
    >>> stats["rating"]
    {'min': 2.0, 'mean': 3.6666666666666665, 'max': 5.0}
    >>> filled = df.unionByName(spark.createDataFrame([("bob", "b", 0.0)], df.schema))  # zero-filled
    >>> stats = interaction_stats(filled, ratingCol="rating")
    >>> stats["sparsity"], stats["interactions"], stats["interaction_sparsity"]
    (0.0, 3, 0.25)
    """
    func = "interaction_stats"
    require_type(func, "userCol", userCol, df, is_atomic_id, "an atomic type")
    require_type(func, "itemCol", itemCol, df, is_atomic_id, "an atomic type")
    if ratingCol is not None:
        require_type(func, "ratingCol", ratingCol, df, is_numeric, "numeric")
    rating_aggs: List[Column] = []
    if ratingCol is not None:
        r = column(ratingCol).cast("double")
        rating_aggs = [
            F.min(r).alias("rmin"), F.max(r).alias("rmax"), F.sum(r).alias("rsum"), F.count(r).alias("rcnt"),
            F.count(F.when(r != 0, 1)).alias("rnz"),
        ]
    no_rating = [F.lit(None).cast("double").alias(c) for c in ("rmin", "rmax", "rsum")] + [
        F.lit(None).cast("long").alias(c) for c in ("rcnt", "rnz")
    ]

    def side(name: str, key: str, with_rating: bool) -> DataFrame:
        grouped = df.groupBy(column(key).alias("key")).agg(
            F.count(F.lit(1)).alias("n"), *(rating_aggs if with_rating else [])
        )
        extra = [F.col(c) for c in ("rmin", "rmax", "rsum", "rcnt", "rnz")] if with_rating else no_rating
        return grouped.select(F.lit(name).alias("side"), F.col("key").isNull().alias("nullKey"), "n", *extra)

    rating_side = ratingCol is not None
    both = side("user", userCol, rating_side).unionByName(side("item", itemCol, False))
    summary = {
        row["side"]: row
        for row in both.groupBy("side")
        .agg(
            F.count(F.when(~F.col("nullKey"), 1)).alias("groups"),
            F.sum("n").alias("rows"),
            F.sum(F.when(F.col("nullKey"), F.col("n"))).alias("nulls"),
            F.min(F.when(~F.col("nullKey"), F.col("n"))).alias("min"),
            F.max(F.when(~F.col("nullKey"), F.col("n"))).alias("max"),
            F.min("rmin").alias("rmin"),
            F.max("rmax").alias("rmax"),
            F.sum("rsum").alias("rsum"),
            F.sum("rcnt").alias("rcnt"),
            F.sum("rnz").alias("rnz"),
        )
        .collect()
    }
    if not summary:
        raise empty_input(func, ("userCol", userCol), ("itemCol", itemCol))
    for param, col, key in (("userCol", userCol, "user"), ("itemCol", itemCol, "item")):
        if summary[key]["nulls"]:
            raise ValueError(
                f"{func}: {param} '{col}' is null in {summary[key]['nulls']} of {summary[key]['rows']} rows"
            )
    rows = int(summary["user"]["rows"])
    users, items = int(summary["user"]["groups"]), int(summary["item"]["groups"])
    result: Dict[str, Any] = {
        "rows": rows,
        "users": users,
        "items": items,
        "sparsity": 1.0 - rows / (users * items),
    }
    for key, n in (("user", users), ("item", items)):
        s = summary[key]
        result[f"rows_per_{key}"] = {"min": int(s["min"]), "mean": rows / n, "max": int(s["max"])}
    if ratingCol is not None:
        s = summary["user"]
        count = s["rcnt"] or 0
        result["rating"] = {
            "min": s["rmin"],
            "mean": s["rsum"] / count if count else None,
            "max": s["rmax"],
        }
        result["interactions"] = int(s["rnz"] or 0)
        result["interaction_sparsity"] = 1.0 - result["interactions"] / (users * items)
    return result
