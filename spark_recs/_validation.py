"""Input checks shared by every stage.

Every message starts with the stage's class name, then names the param and the column and
says what was found, e.g. ``IdIndexer: inputCol 'user' not in [a, b, c]``. Checks here read
only the schema and run no Spark job, except :py:func:`check_interactions` (one aggregation).
"""

import datetime
import math
from typing import Any, Callable, Iterable, Tuple, cast

from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    AtomicType,
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    FloatType,
    IntegralType,
    MapType,
    NumericType,
    StructType,
    TimestampType,
)

from spark_recs._compat import error_condition

#: The choices of ``handleInvalid``, as Spark's ``StringIndexer`` has them: raise, drop the
#: invalid rows, or keep them.
HANDLE_INVALID = ["error", "skip", "keep"]

#: Spark's ``IntegerType`` range: what ALS ids and our indices must fit.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def stage_name(stage: Any) -> str:
    """The name errors give for a stage: its class name (or the string given, for functions)."""
    return stage if isinstance(stage, str) else type(stage).__name__


def column(name: str) -> Column:
    """A top-level column by its exact name (dots, spaces and backticks taken literally)."""
    return F.col("`" + name.replace("`", "``") + "`")


def _columns_text(df: DataFrame) -> str:
    return "[" + ", ".join(df.columns) + "]"


def require_column(stage: Any, param: str, col: str, df: DataFrame) -> DataType:
    """Raise ``ValueError`` unless ``col`` is a top-level column of ``df``; return its type."""
    fields = {f.name: f.dataType for f in df.schema.fields}
    if col not in fields:
        raise ValueError(
            f"{stage_name(stage)}: {param} '{col}' not in {_columns_text(df)}"
        )
    return fields[col]


def require_new_column(stage: Any, param: str, col: str, df: DataFrame) -> None:
    """Raise ``ValueError`` if ``col`` already is a column of ``df`` (outputs never overwrite).

    Names are compared ignoring case, as Spark resolves them by default, so an output named
    ``User`` cannot silently replace a column ``user``.
    """
    if col.lower() in {c.lower() for c in df.columns}:
        raise ValueError(
            f"{stage_name(stage)}: {param} '{col}' already exists in {_columns_text(df)}"
        )


def is_numeric(dt: DataType) -> bool:
    """Numeric types a rating or prediction may have (boolean is not one)."""
    return isinstance(dt, NumericType) and not isinstance(dt, BooleanType)


def can_be_nan(dt: DataType) -> bool:
    """Whether values of type ``dt`` can be NaN (float and double; a decimal cannot)."""
    return isinstance(dt, (FloatType, DoubleType))


def null_or_nan(c: Column, dt: DataType) -> Column:
    """Row test: ``c`` (of type ``dt``) is null, or NaN where ``dt`` can be NaN."""
    return c.isNull() | F.isnan(c) if can_be_nan(dt) else c.isNull()


def null_nan_counts(c: Column, dt: DataType) -> Tuple[Column, Column]:
    """Two aggregates, for the one job that checks the input: how many values of ``c`` (of type
    ``dt``) are null, and how many are NaN (a literal 0 where ``dt`` cannot be NaN)."""
    nans = F.count(F.when(F.isnan(c), F.lit(1))) if can_be_nan(dt) else F.lit(0)
    return F.count(F.when(c.isNull(), F.lit(1))), nans


def is_integral(dt: DataType) -> bool:
    return isinstance(dt, IntegralType)


def same_id_type(a: DataType, b: DataType) -> bool:
    """Ids of types ``a`` and ``b`` match without a cast: equal types, or both integral."""
    return a == b or (is_integral(a) and is_integral(b))


def is_atomic_id(dt: DataType) -> bool:
    """Types an id column may have: any atomic type (string, integral, decimal, date, ...)."""
    return isinstance(dt, AtomicType) and not isinstance(dt, (ArrayType, MapType, StructType))


def require_type(
    stage: Any,
    param: str,
    col: str,
    df: DataFrame,
    accept: Callable[[DataType], bool],
    expected: str,
) -> DataType:
    """Check that ``col`` exists and that ``accept(its type)``; raise ``TypeError`` otherwise."""
    dt = require_column(stage, param, col, df)
    if not accept(dt):
        raise TypeError(
            f"{stage_name(stage)}: {param} '{col}' must be {expected}, found {dt.simpleString()}"
        )
    return dt


def require_choice(stage: Any, param: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ``ValueError`` unless a param's value is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(
            f"{stage_name(stage)}: {param} must be one of {choices}, found {value!r}"
        )


def require_distinct(stage: Any, what: str, names: Iterable[str]) -> None:
    """Raise ``ValueError`` if a list of column names repeats a name."""
    names = list(names)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{stage_name(stage)}: {what} repeat {repeated}")


def named(*pairs: Tuple[str, str]) -> str:
    """Params and their columns as messages name them: ``userCol 'user', itemCol 'item'``."""
    return ", ".join(f"{param} '{col}'" for param, col in pairs)


def require_param(stage: Any, param: str, value: Any, ok: bool, rule: str, about: str) -> None:
    """Raise ``ValueError`` unless ``ok``: a param's value is out of range.

    ``rule`` completes "must ...", ``about`` names the column the param acts on, e.g.
    ``PrecisionAtKEvaluator: k must be >= 1, found 0 (top-ranked rows per userCol 'user')``.
    """
    if not ok:
        raise ValueError(f"{stage_name(stage)}: {param} must {rule}, found {value!r} ({about})")


def empty_input(stage: Any, *pairs: Tuple[str, str]) -> ValueError:
    """The error for an input DataFrame without rows, naming the params and their columns."""
    return ValueError(f"{stage_name(stage)}: {named(*pairs)}: the input DataFrame is empty")


def spark_error_is(error: BaseException, condition: str) -> bool:
    """Whether a Spark error has the error condition ``condition`` (``PATH_NOT_FOUND``, ...);
    by its message when the exception carries no condition."""
    found = error_condition(error)
    return found == condition if found else condition in str(error)


def check_interactions(stage: Any, dataset: DataFrame) -> None:
    """The interactions of ``stage`` (params userCol, itemCol, ratingCol) as ALS needs them:
    numeric columns, then one aggregation job: rows, null and non-Int ids, null/NaN ratings.

    ALS casts ids to Int (failing on ids beyond Int range, with a fractional part, or null
    deep inside a Spark job), and the zero-rating filter would drop null ratings silently.
    """
    label = stage_name(stage)
    ids = [("userCol", stage.getUserCol()), ("itemCol", stage.getItemCol())]
    rating = stage.getRatingCol()
    expected = "numeric (integer ids in Int range; index other ids with IdIndexer)"
    types = {name: require_type(stage, param, name, dataset, is_numeric, expected) for param, name in ids}
    rating_type = require_type(stage, "ratingCol", rating, dataset, is_numeric, "numeric")
    aggs = [F.count(F.lit(1)).alias("rows")]
    for k, (_, name) in enumerate(ids):
        c = column(name)
        bad = (c < F.lit(INT_MIN)) | (c > F.lit(INT_MAX))
        if not is_integral(types[name]):
            bad = bad | (c != F.floor(c))
        if can_be_nan(types[name]):
            bad = bad | F.isnan(c)
        nulls, _ = null_nan_counts(c, types[name])
        aggs += [
            nulls.alias(f"null{k}"),
            F.count(F.when(bad, 1)).alias(f"bad{k}"),
            F.min(F.when(bad, c)).alias(f"lo{k}"),
            F.max(F.when(bad, c)).alias(f"hi{k}"),
        ]
    nulls, nans = null_nan_counts(column(rating), rating_type)
    aggs.append((nulls + nans).alias("invalid"))
    counts = cast(Row, dataset.agg(*aggs).first())  # an aggregation without groups: one row
    if not counts["rows"]:
        raise empty_input(stage, *ids, ("ratingCol", rating))
    for k, (param, name) in enumerate(ids):
        if counts[f"null{k}"]:
            raise ValueError(
                f"{label}: {param} '{name}' has {counts[f'null{k}']} null id(s); drop them first"
            )
        if counts[f"bad{k}"]:
            raise ValueError(
                f"{label}: {param} '{name}' has {counts[f'bad{k}']} id(s) that are not integers in "
                f"Int range [{INT_MIN}, {INT_MAX}] (from {counts[f'lo{k}']} to {counts[f'hi{k}']}), "
                "which ALS needs; map the ids to 0..n-1 with IdIndexer first"
            )
    if counts["invalid"]:
        raise ValueError(
            f"{label}: ratingCol '{rating}' has {counts['invalid']} null or NaN value(s); "
            "drop or fill them first"
        )


def is_time(dt: DataType) -> bool:
    """Whether a column of type ``dt`` orders events in time: numeric (e.g. seconds since the
    epoch, as MovieLens stores them), timestamp or date."""
    return is_numeric(dt) or isinstance(dt, (TimestampType, DateType))


def time_literal(stage: Any, param: str, value: str, col: str, dt: DataType) -> Column:
    """``value`` (a param's text) as a literal comparable with column ``col`` of type ``dt``: a
    number for a numeric column, an ISO 8601 date or time for a timestamp or date column.

    Raises
    ------
    ValueError
        ``value`` does not read as that: names ``stage``, ``param`` and ``col``.
    """
    try:
        if is_numeric(dt):
            number = float(value)
            if math.isnan(number):
                raise ValueError("NaN")
            return F.lit(number)
        parsed = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        kind = "a number" if is_numeric(dt) else "an ISO 8601 date or time (e.g. '2024-01-31 12:00:00')"
        raise ValueError(
            f"{stage_name(stage)}: {param} must be {kind} to compare with '{col}' ({dt.simpleString()}), "
            f"found {value!r}"
        ) from None
    return F.lit(parsed.isoformat(sep=" ")).cast("date" if isinstance(dt, DateType) else "timestamp")
