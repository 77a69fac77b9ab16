"""Readers for the Echo Nest Taste Profile triplets and for any CSV or Parquet file of interactions."""

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, cast

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from spark_recs._validation import (
    column,
    is_atomic_id,
    is_numeric,
    require_choice,
    require_column,
    require_distinct,
    require_type,
)
from spark_recs.datasets._reading import (
    CORRUPT,
    PathLike,
    is_path_not_found,
    local_path,
    not_found,
    path_text,
    read_checked_csv,
)

__all__ = ["load_interactions", "load_taste_profile"]

_TASTE = StructType(
    [
        StructField("user", StringType()),
        StructField("song", StringType()),
        StructField("plays", IntegerType()),
    ]
)


def load_taste_profile(spark: SparkSession, path: PathLike) -> DataFrame:
    """Read the Echo Nest Taste Profile triplets (``train_triplets.txt``) of the Million Song Dataset.

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
    path : str or path
        The triplets file (or a directory of such files, or a glob); any path Spark reads.

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        ``user`` string (a 40-character hash), ``song`` string (an Echo Nest song id such as
        ``SOAKIMP12A8C130995``), ``plays`` int (play count).

    Raises
    ------
    FileNotFoundError
        When ``path`` is missing.
    ValueError
        When a line is not three tab-separated fields with an integer play count, a field
        is empty, or a play count is negative.

    Notes
    -----
    Lines are ``user \\t song \\t plays`` with no header and no quoting. The file is checked
    by one aggregation job before it is returned (see :func:`load_movielens`).

    Examples
    --------
    >>> import os
    >>> from spark_recs import load_taste_profile
    >>> path = os.path.join(temp_path, "train_triplets.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("b80344d063b5ccb3212f76538f3d9e43d87dca9e\\tSOAKIMP12A8C130995\\t1\\n"
    ...                 "b80344d063b5ccb3212f76538f3d9e43d87dca9e\\tSOAPDEY12A81C210A9\\t2\\n")
    >>> plays = load_taste_profile(spark, path)
    >>> plays.schema.simpleString()
    'struct<user:string,song:string,plays:int>'
    >>> plays.groupBy("user").sum("plays").first()[1]
    3
    """
    func = "load_taste_profile"
    path = path_text(path, func)
    return read_checked_csv(
        spark, func, "triplets file", path, _TASTE, sep="\t", quoted=False, nonnegative=["plays"]
    )


def _infer_format(func: str, path: str) -> str:
    name = path.rstrip("/").lower()
    for suffix in (".gz", ".bz2", ".deflate", ".lz4", ".snappy", ".zst"):
        if name.endswith(".csv" + suffix) or name.endswith(".tsv" + suffix) or name.endswith(".txt" + suffix):
            name = name[: -len(suffix)]
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    raise ValueError(
        f"{func}: format cannot be inferred from path '{path}' (known endings: .csv, .tsv, .txt, "
        f".parquet, .pq); pass format='csv' or format='parquet'"
    )


def load_interactions(
    spark: SparkSession,
    path: PathLike,
    *,
    format: Optional[str] = None,
    user: str = "user",
    item: str = "item",
    rating: Optional[str] = "rating",
    header: bool = True,
    sep: str = ",",
) -> DataFrame:
    """Read any CSV or Parquet interaction file, renaming the mapped columns to user, item, rating.

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
    path : str or path
        A file, a directory of part files, or a glob; any path Spark reads.
    format : {'csv', 'parquet'}, optional
        Default: from the ending of ``path`` (``.csv``, ``.tsv``, ``.txt``, optionally
        compressed such as ``.csv.gz``: CSV; ``.parquet``, ``.pq``: Parquet).
    user, item : str, default 'user', 'item'
        Names of the file's user and item columns. For CSV without a header, the columns are
        named ``_c0``, ``_c1``, ... in file order.
    rating : str or None, default 'rating'
        Name of the rating column; None for files without one (the result then has only
        ``user`` and ``item``).
    header : bool, default True
        CSV only: whether the first line holds the column names.
    sep : str, default ','
        CSV only: the field separator (``'\\t'`` for tab-separated files).

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        ``user``, ``item`` and (unless ``rating`` is None) ``rating``, in that order, one row
        per line or row of the input (nothing is dropped or deduplicated). Parquet columns keep
        their types. CSV columns are read as strings (no type inference), so ``user`` and
        ``item`` are strings ("007" stays "007") and a CSV ``rating`` is parsed into a float.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the format is unknown, a mapped column is missing (naming the parameter, the
        column and the columns found), a CSV line has more or fewer fields than the header
        (or the first line), a rating does not parse as a number, a user, item or rating is
        empty (null), or there are no rows.
    TypeError
        When a Parquet user or item column is not of an atomic type, or a Parquet rating
        column is neither numeric nor string.

    Notes
    -----
    The column names come from the header line (or the number of fields of the first line),
    read by one small job; then one aggregation job checks every row.

    Examples
    --------
    >>> import os
    >>> from spark_recs import load_interactions
    >>> path = os.path.join(temp_path, "plays.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("listener,track,count,when\\nann,t1,3,2020\\nbob,t1,1,2021\\nbob,t2,7,2021\\n")
    >>> plays = load_interactions(spark, path, user="listener", item="track", rating="count")
    >>> plays.schema.simpleString()
    'struct<user:string,item:string,rating:float>'
    >>> plays.orderBy("user", "item").collect()[0]
    Row(user='ann', item='t1', rating=3.0)
    >>> plays.write.parquet(os.path.join(temp_path, "plays.parquet"))
    >>> load_interactions(spark, os.path.join(temp_path, "plays.parquet")).count()
    3
    """
    func = "load_interactions"
    path = path_text(path, func)
    fmt = _infer_format(func, path) if format is None else format
    require_choice(func, "format", fmt, ["csv", "parquet"])
    mapped = [("user", user), ("item", item)] + ([("rating", rating)] if rating is not None else [])
    for param, name in mapped:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{func}: {param} must be a column name, found {name!r}")
    require_distinct(func, "user, item and rating columns", [name for _, name in mapped])
    local = local_path(path)
    if local is not None and "*" not in path and "?" not in path and not os.path.exists(local):
        raise not_found(func, "path", path)
    try:
        if fmt == "parquet":
            return _load_parquet_interactions(spark, func, path, mapped)
        return _load_csv_interactions(spark, func, path, mapped, header=header, sep=sep)
    except AnalysisException as e:
        if is_path_not_found(e):
            raise not_found(func, "path", path) from None
        raise


def _load_parquet_interactions(
    spark: SparkSession, func: str, path: str, mapped: List[Tuple[str, str]]
) -> DataFrame:
    try:
        df = spark.read.parquet(path)
    except AnalysisException:
        raise  # a missing path: the caller says so
    except Exception:  # Spark's "not a Parquet file" comes as a bare Java error
        raise ValueError(
            f"{func}: '{path}' does not read as Parquet (format='parquet'); pass format='csv' for a CSV file"
        ) from None
    for param, name in mapped:
        require_column(func, param, name, df)
    require_type(func, "user", mapped[0][1], df, is_atomic_id, "an atomic type")
    require_type(func, "item", mapped[1][1], df, is_atomic_id, "an atomic type")
    rating_is_string = False
    if len(mapped) == 3:
        dt = require_type(
            func, "rating", mapped[2][1], df,
            lambda t: is_numeric(t) or isinstance(t, StringType), "numeric or string",
        )
        rating_is_string = isinstance(dt, StringType)
    _check_interactions(func, f"'{path}'", df, mapped, rating_is_string)
    return df.select(*_renamed(mapped, rating_is_string))


def _load_csv_interactions(
    spark: SparkSession, func: str, path: str, mapped: List[Tuple[str, str]], *, header: bool, sep: str
) -> DataFrame:
    if not isinstance(sep, str) or not sep:
        raise ValueError(f"{func}: sep must be a non-empty string, found {sep!r}")
    options: Dict[str, Any] = {"sep": sep, "header": bool(header), "escape": '"'}
    names = spark.read.csv(path, **options).columns  # reads the first line only
    if not names:
        raise ValueError(f"{func}: '{path}' is empty")
    where = f"'{path}' read as CSV with sep={sep!r}, header={bool(header)}"
    for param, name in mapped:
        if name not in names:
            raise ValueError(f"{func}: {param} '{name}' not in [{', '.join(names)}] ({where})")
    schema = StructType([StructField(n, StringType()) for n in names])
    checking = StructType(schema.fields + [StructField(CORRUPT, StringType())])
    raw = spark.read.csv(
        path, schema=checking, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT, **options
    )
    corrupt = (
        F.count(F.col(CORRUPT)).alias("bad"),
        F.min(CORRUPT).alias("example"),
        # every column is referenced, so the parser checks every field of every line
        F.greatest(*[F.count(column(n)) for n in names], F.lit(0)).alias("touch"),
    )
    stats = _check_interactions(func, where, raw, mapped, True, extra=corrupt)
    if stats["bad"]:
        raise ValueError(
            f"{func}: {stats['bad']} of {stats['rows']} lines of {where} do not have the "
            f"{len(names)} fields {', '.join(names)}, e.g. {stats['example'][:200]!r}"
        )
    df = spark.read.csv(path, schema=schema, mode="FAILFAST", **options)
    return df.select(*_renamed(mapped, True))


def _rating_number(name: str) -> Column:
    quoted = "`" + name.replace("`", "``") + "`"
    return F.expr(f"try_cast({quoted} AS DOUBLE)")


def _renamed(mapped: List[Tuple[str, str]], rating_is_string: bool) -> List[Column]:
    cols = [column(name).alias(param) for param, name in mapped[:2]]
    if len(mapped) == 3:
        r = column(mapped[2][1])
        cols.append((r.cast("float") if rating_is_string else r).alias("rating"))
    return cols


def _check_interactions(
    func: str,
    where: str,
    df: DataFrame,
    mapped: List[Tuple[str, str]],
    rating_is_string: bool,
    extra: Sequence[Column] = (),
) -> Any:
    """One aggregation job: rows, nulls per mapped column, unparsable string ratings."""
    aggs = [F.count(F.lit(1)).alias("rows"), *extra]
    aggs += [F.count(column(name)).alias(f"n_{param}") for param, name in mapped]
    if len(mapped) == 3 and rating_is_string:
        name = mapped[2][1]
        bad = column(name).isNotNull() & _rating_number(name).isNull()
        aggs += [F.count(F.when(bad, 1)).alias("nan"), F.min(F.when(bad, column(name))).alias("nan_example")]
    stats = cast(Row, df.agg(*aggs).first())  # an aggregation without groups: one row
    rows = stats["rows"]
    if rows == 0:
        raise ValueError(f"{func}: {where} has no rows")
    if "bad" in stats.asDict() and stats["bad"]:
        return stats  # the caller reports lines with the wrong number of fields first
    for param, name in mapped:
        missing = rows - stats[f"n_{param}"]
        if missing:
            raise ValueError(
                f"{func}: {param} column '{name}' is empty (null) in {missing} of {rows} rows of {where}"
            )
    if len(mapped) == 3 and rating_is_string and stats["nan"]:
        raise ValueError(
            f"{func}: rating column '{mapped[2][1]}' is not numeric in {stats['nan']} of {rows} rows "
            f"of {where}, e.g. {stats['nan_example'][:100]!r}"
        )
    return stats
