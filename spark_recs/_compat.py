"""What differs between the PySpark releases spark-recs supports: 3.5.x and 4.x.

Every version check of the package is made here, from :py:func:`spark_version`, so raising the
floor later means deleting code in this module and simplifying its callers, nothing else.
Where one code path works on every supported release it is used everywhere, without a check.
"""

from typing import TYPE_CHECKING, Optional, Tuple, Union

import pyspark
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

if TYPE_CHECKING:  # not imported at run time: a Spark Connect-only client has no SparkContext
    from pyspark import SparkContext


def spark_version(spark: Optional[SparkSession] = None) -> Tuple[int, int]:
    """``(major, minor)`` of the Spark that runs ``spark``'s queries (under Spark Connect, the
    server's), or of the installed pyspark library when no session is given.

    SQL functions depend on the former, the Python API (``pyspark.ml.util`` and others) on the
    latter; under classic Spark the two are the same.
    """
    version = spark.version if spark is not None else pyspark.__version__
    major, minor = (int(part) for part in version.split(".")[:2])
    return major, minor


def has_min_by_k(spark: SparkSession) -> bool:
    """Whether SQL has ``min_by(x, ord, k)``, the bounded top-k aggregate (Spark >= 4.2)."""
    return spark_version(spark) >= (4, 2)


def metadata_context(spark: SparkSession) -> Union[SparkSession, "SparkContext"]:
    """What ``DefaultParamsWriter.saveMetadata`` and ``DefaultParamsReader.loadMetadata`` take
    as their ``sc`` argument: the session on pyspark >= 4.0 (they write and read through a
    DataFrame, which also works under Spark Connect), its ``SparkContext`` on 3.5 (whose
    versions write and read through an RDD and fail on a session)."""
    return spark if spark_version() >= (4, 0) else spark.sparkContext


def error_condition(e: BaseException) -> Optional[str]:
    """The error condition of a PySpark exception (``PATH_NOT_FOUND``, ...), ``None`` if it has
    none: ``getCondition()`` from pyspark 4.0 on, ``getErrorClass()`` (deprecated in 4.0) on 3.5.
    Asked of the exception itself, as classic and Spark Connect exceptions differ."""
    for getter in ("getCondition", "getErrorClass"):
        if hasattr(e, getter):
            try:
                condition = getattr(e, getter)()
            except Exception:  # pragma: no cover - not a PySpark exception after all
                condition = None
            if condition:
                return str(condition)
    return None


def array_position(array: Column, value: Column) -> Column:
    """1-based position of the first element of ``array`` equal to ``value``, 0 if none.

    ``F.array_position`` takes a Column as ``value`` only from pyspark 4.0 on (3.5 accepts a
    Python literal only); calling the SQL function by name takes Columns on every release.
    """
    return F.call_function("array_position", array, value)
