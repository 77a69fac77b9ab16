"""Shared by the file loaders: path arguments, not-found errors and CSV reads checked against a schema."""

import os
import re
from typing import Any, Dict, Optional, Sequence, Union, cast

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from spark_recs._validation import column, spark_error_is

PathLike = Union[str, "os.PathLike[str]"]

CORRUPT = "__spark_recs_corrupt_record"


def path_text(path: Any, func: str) -> str:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise TypeError(f"{func}: path must be a non-empty str or path, found {path!r}")
    return path


def local_path(path: str) -> Optional[str]:
    """The local file system path of ``path`` (plain or ``file:``), None for other schemes."""
    if path.startswith("file://"):
        return path[len("file://"):]
    if path.startswith("file:"):
        return path[len("file:"):]
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path) and not re.match(r"^[A-Za-z]:[\\/]", path):
        return None
    return path


def is_path_not_found(e: Exception) -> bool:
    return spark_error_is(e, "PATH_NOT_FOUND")


def not_found(func: str, what: str, path: str) -> FileNotFoundError:
    return FileNotFoundError(f"{func}: {what} '{path}' does not exist")


def _type_names(schema: StructType) -> str:
    return ",".join(f.dataType.simpleString() for f in schema.fields)


def read_checked_csv(
    spark: SparkSession,
    func: str,
    what: str,
    path: str,
    schema: StructType,
    *,
    sep: str,
    header: Optional[str] = None,
    encoding: str = "UTF-8",
    quoted: bool = True,
    required: Optional[Sequence[str]] = None,
    nonnegative: Sequence[str] = (),
) -> DataFrame:
    """Read a CSV-like file with an explicit schema after checking that it fits the schema.

    ``header`` is the exact first line the file must have (None: no header line). The check
    is one aggregation job over the whole file (plus one tiny job reading the first line when
    there is a header): every line must split into exactly the schema's fields, each field
    must parse as its type, the ``required`` columns (default: all) must not be empty, and the
    ``nonnegative`` ones must not be negative.
    """
    options: Dict[str, Any] = {"sep": sep, "encoding": encoding, "header": header is not None}
    if quoted:
        options["escape"] = '"'  # quotes inside quoted fields are doubled ("")
    else:
        options["quote"] = ""
    try:
        if header is not None:
            first = spark.read.text(path).first()
            if first is None:
                raise ValueError(f"{func}: {what} '{path}' is empty")
            line = first[0].lstrip("\ufeff").rstrip("\r")
            if line != header:
                raise ValueError(
                    f"{func}: {what} '{path}' must start with the header line '{header}', "
                    f"found '{line[:200]}'"
                )
        checking = StructType(schema.fields + [StructField(CORRUPT, StringType())])
        raw = spark.read.csv(
            path, schema=checking, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT, **options
        )
        names = [f.name for f in schema.fields]
        required = names if required is None else list(required)
        # Every column is referenced, so the parser checks every field of every line.
        aggs = [
            F.count(F.lit(1)).alias("rows"),
            F.count(F.col(CORRUPT)).alias("bad"),
            F.min(CORRUPT).alias("example"),
        ]
        aggs += [F.count(column(n)).alias(f"n{k}") for k, n in enumerate(names)]
        aggs += [F.count(F.when(column(n) < 0, 1)).alias(f"neg{n}") for n in nonnegative]
        aggs += [F.min(column(n)).alias(f"min{n}") for n in nonnegative]
        stats = cast(Row, raw.agg(*aggs).first())  # an aggregation without groups: one row
    except AnalysisException as e:
        if is_path_not_found(e):
            raise not_found(func, what, path) from None
        raise
    rows = stats["rows"]
    if rows == 0:
        raise ValueError(f"{func}: {what} '{path}' has no data lines")
    if stats["bad"]:
        raise ValueError(
            f"{func}: {stats['bad']} of {rows} lines of {what} '{path}' do not parse as the "
            f"{len(names)} fields {','.join(names)} ({_type_names(schema)}) separated by {sep!r}, "
            f"e.g. {stats['example'][:200]!r}"
        )
    for k, n in enumerate(names):
        missing = rows - stats[f"n{k}"]
        if n in required and missing:
            raise ValueError(f"{func}: field '{n}' is empty in {missing} of {rows} lines of {what} '{path}'")
    for n in nonnegative:
        if stats[f"neg{n}"]:
            raise ValueError(
                f"{func}: field '{n}' is negative in {stats[f'neg{n}']} of {rows} lines of {what} '{path}' "
                f"(the least is {stats[f'min{n}']}); it must be >= 0"
            )
    return spark.read.csv(path, schema=schema, mode="FAILFAST", **options)
