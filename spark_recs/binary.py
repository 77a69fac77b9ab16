"""Turn ratings into 1/0: played / not played, liked / not liked."""

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any, Dict

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DecimalType, IntegralType

from spark_recs._persistence import ParamsReadable, ParamsWritable
from spark_recs._validation import (
    HANDLE_INVALID,
    column,
    is_numeric,
    null_nan_counts,
    null_or_nan,
    require_choice,
    require_new_column,
    require_param,
    require_type,
    stage_name,
)

__all__ = ["BinaryRater"]

_LONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1


def _greater(rating: Column, dt: DataType, threshold: float) -> Column:
    """``rating > threshold`` as a SQL expression, exact for every numeric type of ``rating``.

    Spark compares a long or decimal column with a double literal by casting the column to
    double, which rounds large longs and long decimals. Integral and decimal ratings are
    compared instead with the greatest value of their own grid that is <= threshold: a value
    on the grid is > threshold exactly when it is > that value.
    """
    if isinstance(dt, (IntegralType, DecimalType)) and math.isinf(threshold):
        return F.lit(threshold < 0)
    if isinstance(dt, IntegralType):
        floor = math.floor(threshold)
        if floor >= _LONG_MAX:
            return F.lit(False)
        if floor < _LONG_MIN:
            return F.lit(True)
        return rating > F.lit(floor).cast("long")
    if isinstance(dt, DecimalType):
        # decimal(p, s) values are integers in units of 10^-s, at most 10^p - 1 of them.
        units = math.floor(Fraction(threshold) * Fraction(10) ** dt.scale)
        largest = 10**dt.precision - 1
        if units >= largest:
            return F.lit(False)
        if units < -largest:
            return F.lit(True)
        return rating > F.lit(Decimal(f"{units}E{-dt.scale}")).cast(dt)
    # float and double: Spark widens float to double exactly.
    return rating > F.lit(threshold)


class BinaryRater(
    Transformer,
    HasInputCol,
    HasOutputCol,
    ParamsReadable["BinaryRater"],
    ParamsWritable,
):
    """Turn ratings into 1/0: 1 where the rating is greater than ``threshold``, else 0.

    Play counts become played / not played (``threshold=0.0``, the default); explicit ratings
    become liked / not liked (for instance ``threshold=3.5`` on 1-5 stars).

    Parameters
    ----------
    inputCol : str, default "rating"
        Column of ratings, of any numeric type (integral, decimal, float, double); named
        ``rating`` as ALS names it.
    outputCol : str, default "binary"
        Column for the 1/0 values. It must not exist yet, except that it may equal
        ``inputCol``: the ratings are then replaced in place.
    threshold : float, default 0.0
        Ratings greater than ``threshold`` become 1, the others 0. Must not be NaN.
    handleInvalid : str, default "error"
        What to do with rows whose rating is null or NaN: ``"error"`` raises ``ValueError``,
        ``"skip"`` drops those rows, ``"keep"`` keeps them with a null output.

    Notes
    -----
    The rule is ``output = 1 if rating > threshold else 0``, as in
    :py:class:`pyspark.ml.feature.Binarizer`: a rating equal to the threshold gives 0. The
    comparison runs in SQL and is exact for every numeric type: integral and decimal ratings
    are not rounded through double.

    The output column has type ``IntegerType`` (nullable). The returned DataFrame keeps every
    input column in its place and appends ``outputCol``; when ``outputCol == inputCol`` the
    ratings are replaced in place by the 1/0 values.

    Null and NaN ratings are invalid (Spark orders NaN above every number, so it would give 1
    otherwise). With ``handleInvalid="error"`` the transform runs one eager Spark job, an
    aggregation that counts the null and NaN ratings, and raises ``ValueError`` with both
    counts if there are any. ``"skip"`` and ``"keep"`` run no job: the result stays lazy.
    ``"skip"`` drops the invalid rows, ``"keep"`` gives them a null output.

    Examples
    --------
    >>> from spark_recs import BinaryRater
    >>> plays = spark.createDataFrame(
    ...     [(1, 10, 0), (1, 11, 3), (2, 10, 1)], ["user", "item", "rating"])
    >>> played = BinaryRater(outputCol="played")
    >>> played.getInputCol(), played.getThreshold(), played.getHandleInvalid()
    ('rating', 0.0, 'error')
    >>> played.transform(plays).show()
    +----+----+------+------+
    |user|item|rating|played|
    +----+----+------+------+
    |   1|  10|     0|     0|
    |   1|  11|     3|     1|
    |   2|  10|     1|     1|
    +----+----+------+------+
    <BLANKLINE>

    Explicit 1-5 stars, liked above 3.5, replacing the ratings in place:

    >>> stars = spark.createDataFrame(
    ...     [(1, 10, 3.5), (1, 11, 4.0), (2, 10, 1.0)], ["user", "item", "rating"])
    >>> liked = BinaryRater(threshold=3.5, outputCol="rating")
    >>> liked.transform(stars).show()
    +----+----+------+
    |user|item|rating|
    +----+----+------+
    |   1|  10|     0|
    |   1|  11|     1|
    |   2|  10|     0|
    +----+----+------+
    <BLANKLINE>
    >>> liked.transform(stars).schema["rating"].dataType
    IntegerType()

    Null and NaN ratings raise by default; ``"skip"`` drops them, ``"keep"`` outputs null:

    >>> unrated = spark.createDataFrame(
    ...     [(1, 10, 4.0), (1, 11, None), (2, 10, float("nan"))],
    ...     "user int, item int, rating double")
    >>> BinaryRater(threshold=3.5).transform(unrated)
    Traceback (most recent call last):
        ...
    ValueError: BinaryRater: inputCol 'rating' holds 1 null and 1 NaN values, ...
    >>> BinaryRater(threshold=3.5, handleInvalid="skip").transform(unrated).show()
    +----+----+------+------+
    |user|item|rating|binary|
    +----+----+------+------+
    |   1|  10|   4.0|     1|
    +----+----+------+------+
    <BLANKLINE>
    >>> BinaryRater(threshold=3.5, handleInvalid="keep").transform(unrated).show()
    +----+----+------+------+
    |user|item|rating|binary|
    +----+----+------+------+
    |   1|  10|   4.0|     1|
    |   1|  11|  NULL|  NULL|
    |   2|  10|   NaN|  NULL|
    +----+----+------+------+
    <BLANKLINE>

    Save and load:

    >>> path = temp_path + "/binary-rater"
    >>> liked.save(path)
    >>> loaded = BinaryRater.load(path)
    >>> loaded.uid == liked.uid, loaded.getThreshold(), loaded.getOutputCol()
    (True, 3.5, 'rating')
    >>> loaded.transform(stars).collect() == liked.transform(stars).collect()
    True
    """

    _input_kwargs: Dict[str, Any]

    threshold: "Param[float]" = Param(
        Params._dummy(),
        "threshold",
        "ratings greater than threshold become 1, the others (equal or less) 0. Must not be NaN.",
        typeConverter=TypeConverters.toFloat,
    )

    handleInvalid: "Param[str]" = Param(
        Params._dummy(),
        "handleInvalid",
        "how to handle null and NaN ratings: 'error' (raise an error), 'skip' (drop their "
        "rows) or 'keep' (keep their rows with a null output).",
        typeConverter=TypeConverters.toString,
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: str = "rating",
        outputCol: str = "binary",
        threshold: float = 0.0,
        handleInvalid: str = "error",
    ) -> None:
        """
        __init__(self, \\*, inputCol="rating", outputCol="binary", threshold=0.0, \
                 handleInvalid="error")
        """
        super().__init__()
        self._setDefault(
            inputCol="rating", outputCol="binary", threshold=0.0, handleInvalid="error"
        )
        kwargs = self._input_kwargs
        self.setParams(**kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        inputCol: str = "rating",
        outputCol: str = "binary",
        threshold: float = 0.0,
        handleInvalid: str = "error",
    ) -> "BinaryRater":
        """
        setParams(self, \\*, inputCol="rating", outputCol="binary", threshold=0.0, \
                  handleInvalid="error")
        Sets params for this BinaryRater.
        """
        kwargs = self._input_kwargs
        return self._set(**kwargs)

    def setInputCol(self, value: str) -> "BinaryRater":
        """Sets the value of :py:attr:`inputCol`."""
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> "BinaryRater":
        """Sets the value of :py:attr:`outputCol`."""
        return self._set(outputCol=value)

    def setThreshold(self, value: float) -> "BinaryRater":
        """Sets the value of :py:attr:`threshold`."""
        return self._set(threshold=value)

    def setHandleInvalid(self, value: str) -> "BinaryRater":
        """Sets the value of :py:attr:`handleInvalid`."""
        return self._set(handleInvalid=value)

    def getThreshold(self) -> float:
        """Gets the value of threshold or its default value."""
        return self.getOrDefault(self.threshold)

    def getHandleInvalid(self) -> str:
        """Gets the value of handleInvalid or its default value."""
        return self.getOrDefault(self.handleInvalid)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        input_col = self.getInputCol()
        output_col = self.getOutputCol()
        threshold = self.getThreshold()
        handle_invalid = self.getHandleInvalid()

        dt = require_type(self, "inputCol", input_col, dataset, is_numeric, "numeric")
        if output_col != input_col:
            require_new_column(self, "outputCol", output_col, dataset)
        require_param(
            self, "threshold", threshold, not math.isnan(threshold), "not be NaN",
            f"outputCol is 1 where inputCol '{input_col}' > threshold",
        )
        require_choice(self, "handleInvalid", handle_invalid, HANDLE_INVALID)

        rating = column(input_col)
        invalid = null_or_nan(rating, dt)

        if handle_invalid == "error":
            self._check_valid(dataset, rating, dt, input_col)
        elif handle_invalid == "skip":
            dataset = dataset.filter(~invalid)

        binary = (
            F.when(invalid, F.lit(None))
            .when(_greater(rating, dt, threshold), F.lit(1))
            .otherwise(F.lit(0))
            .cast("int")
        )
        return dataset.withColumn(output_col, binary)

    def _check_valid(self, dataset: DataFrame, rating: Column, dt: DataType, input_col: str) -> None:
        """One aggregation job counting null and NaN ratings; raise if there are any."""
        null_count, nan_count = null_nan_counts(rating, dt)
        row = dataset.agg(null_count.alias("nulls"), nan_count.alias("nans")).first()
        nulls, nans = (int(row["nulls"]), int(row["nans"])) if row is not None else (0, 0)
        if nulls or nans:
            raise ValueError(
                f"{stage_name(self)}: inputCol '{input_col}' holds {nulls} null and {nans} NaN "
                f"values, found with handleInvalid='error'; set handleInvalid='skip' to drop "
                f"those rows or handleInvalid='keep' to give them a null outputCol"
            )
