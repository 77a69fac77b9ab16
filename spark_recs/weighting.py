"""Confidence weighting: raw play counts to what implicit ALS reads, by log scaling or BM25."""

import math
from typing import Any, Dict, Tuple, cast

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.sql import Column, DataFrame, Row, Window
from pyspark.sql import functions as F

from spark_recs._persistence import ParamsReadable, ParamsWritable
from spark_recs._validation import (
    column,
    is_numeric,
    null_nan_counts,
    require_choice,
    require_column,
    require_new_column,
    require_param,
    require_type,
    stage_name,
)
from spark_recs.param import HasItemCol, HasUserCol

__all__ = ["ConfidenceWeighter", "WEIGHTING_METHODS"]

#: The methods of :py:class:`ConfidenceWeighter`, in the order its docs give them.
WEIGHTING_METHODS = ("none", "log", "bm25")
#: What :py:class:`ConfidenceWeighter` emits: ALS's rating s(r), or the confidence 1 + alpha s(r).
_OUTPUT_TYPES = ("rating", "confidence")


class _ConfidenceWeighterParams(HasInputCol, HasOutputCol, HasUserCol, HasItemCol):
    """Params of :py:class:`ConfidenceWeighter`, with their defaults."""

    method: "Param[str]" = Param(
        Params._dummy(),
        "method",
        "how counts r become ALS ratings s(r): 'none' (s = r), 'log' (s = log(1 + r / epsilon), "
        "Hu, Koren & Volinsky 2008) or 'bm25' (implicit's bm25_weight: users are documents, items "
        "terms).",
        typeConverter=TypeConverters.toString,
    )
    outputType: "Param[str]" = Param(
        Params._dummy(),
        "outputType",
        "what outputCol holds: 'rating' (s(r), for ALS's ratingCol: ALS makes the confidence "
        "1 + ALS.alpha * s(r) itself) or 'confidence' (1 + alpha * s(r), the paper's c_ui).",
        typeConverter=TypeConverters.toString,
    )
    alpha: "Param[float]" = Param(
        Params._dummy(),
        "alpha",
        "outputType 'confidence' only: the confidence scale, c = 1 + alpha * s(r) (> 0).",
        typeConverter=TypeConverters.toFloat,
    )
    epsilon: "Param[float]" = Param(
        Params._dummy(),
        "epsilon",
        "method 'log': the count scale, s = log(1 + r / epsilon) (> 0).",
        typeConverter=TypeConverters.toFloat,
    )
    k1: "Param[float]" = Param(
        Params._dummy(),
        "k1",
        "method 'bm25': saturation of the count, >= 0 (implicit's K1, default 100).",
        typeConverter=TypeConverters.toFloat,
    )
    b: "Param[float]" = Param(
        Params._dummy(),
        "b",
        "method 'bm25': strength of the per-user length normalisation, in [0, 1] (implicit's B, "
        "default 0.8).",
        typeConverter=TypeConverters.toFloat,
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._setDefault(inputCol="rating", outputCol="weight", method="log", outputType="rating",
                         alpha=1.0, epsilon=1.0, k1=100.0, b=0.8)

    def getMethod(self) -> str:
        """Gets the value of :py:attr:`method` or its default value 'log'."""
        return self.getOrDefault(self.method)

    def getOutputType(self) -> str:
        """Gets the value of :py:attr:`outputType` or its default value 'rating'."""
        return self.getOrDefault(self.outputType)

    def getAlpha(self) -> float:
        """Gets the value of :py:attr:`alpha` or its default value 1.0."""
        return self.getOrDefault(self.alpha)

    def getEpsilon(self) -> float:
        """Gets the value of :py:attr:`epsilon` or its default value 1.0."""
        return self.getOrDefault(self.epsilon)

    def getK1(self) -> float:
        """Gets the value of :py:attr:`k1` or its default value 100.0."""
        return self.getOrDefault(self.k1)

    def getB(self) -> float:
        """Gets the value of :py:attr:`b` or its default value 0.8."""
        return self.getOrDefault(self.b)


class ConfidenceWeighter(
    Transformer, _ConfidenceWeighterParams, ParamsReadable["ConfidenceWeighter"], ParamsWritable
):
    """Turn raw counts (plays, clicks) into the ratings implicit ALS reads, by log scaling or BM25.

    Raw play counts span orders of magnitude (Last.fm's reach 352,698): fed to implicit ALS as
    they are, a handful of huge counts set the confidences and the model learns little else.
    This stage compresses them first. Put it before :py:class:`~spark_recs.ImplicitALS` or
    ``ALS(implicitPrefs=True)`` in a ``Pipeline`` and point ALS's ``ratingCol`` at
    ``outputCol``; ``method`` and ALS's ``alpha`` can then be tuned together in a
    ``ParamGridBuilder``.

    Parameters
    ----------
    inputCol : str, default "rating"
        Counts r >= 0 of any numeric type; 0 is an unobserved pair (as ZeroFiller writes it).
    outputCol : str, default "weight"
        Column for the weighted values (double). It must not exist yet, except that it may
        equal ``inputCol``: the counts are then replaced in place. A separate column keeps the
        raw counts for evaluators (ROEM weighs held-out rows by them).
    userCol, itemCol : str, default "user", "item"
        ``method='bm25'`` only: the documents (users) and the terms (items).
    method : str, default "log"
        ``'none'``, ``'log'`` or ``'bm25'``; see Notes.
    outputType : str, default "rating"
        ``'rating'``: emit s(r), what ALS's ``ratingCol`` should hold. ``'confidence'``: emit
        ``1 + alpha * s(r)``, the confidence itself, for a reader that takes confidences as
        they are (a weighted loss, a custom solver).
    alpha : float, default 1.0
        ``outputType='confidence'`` only: the scale of the confidence (> 0).
    epsilon : float, default 1.0
        ``method='log'``: the count scale (> 0).
    k1 : float, default 100.0
        ``method='bm25'``: saturation of the count (>= 0); implicit's default.
    b : float, default 0.8
        ``method='bm25'``: length normalisation, in [0, 1]; implicit's default.

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        Every input column in its place, and ``outputCol`` (double, not null) appended or
        replacing ``inputCol``.

    Raises
    ------
    ValueError
        An unknown ``method`` or ``outputType``, ``alpha`` or ``epsilon`` <= 0, ``k1`` < 0,
        ``b`` outside [0, 1], ``outputCol`` already a column; a null, NaN or negative count
        (found by the checking job), naming the stage, the param and the column.
    TypeError
        ``inputCol`` is not numeric.

    Notes
    -----
    What is emitted, s(r), for a count r of user u and item i:

    - ``'none'``: ``s = r``.
    - ``'log'``: ``s = log(1 + r / epsilon)``. Hu, Koren & Volinsky, "Collaborative Filtering
      for Implicit Feedback Datasets" (ICDM 2008), section 4, eq. 6, set the confidence to
      ``c = 1 + alpha * log(1 + r / epsilon)`` for counts with a long tail.
    - ``'bm25'``: as ``bm25_weight(X, K1, B)`` of the implicit library (benfred/implicit,
      ``implicit/nearest_neighbours.py``), with users as documents and items as terms:
      ``idf_i = log(N) - log(1 + n_i)``, ``norm_u = (1 - b) + b * R_u / mean(R)`` and
      ``s = r (k1 + 1) / (k1 norm_u + r) * idf_i``, where N is the number of distinct users
      in the input, n_i the number of rows of item i with r > 0, R_u the sum of user u's
      counts and mean(R) = sum of all counts / N. An item that every user has gets idf
      ``log(N / (N + 1)) < 0``, as in implicit, and so a negative s: implicit ALS reads a
      negative rating as preference 0 with confidence ``1 + alpha |s|``.

    Why ``'rating'`` is the default: Spark's implicit ALS turns a rating s into the
    confidence ``1 + ALS.alpha * |s|`` and the preference ``s > 0`` itself. Handing it the
    full confidence ``1 + alpha * s`` would count alpha twice and give unobserved pairs
    (r = 0) confidence 1 + ALS.alpha instead of 1. So the stage emits s(r), and ALS's
    ``alpha`` is the one to tune: with ``method='log'`` ALS then fits exactly the paper's
    confidence. A count of 0 gives s = 0 for every method (ImplicitALS skips those rows); with
    ``outputType='confidence'`` it gives 1, the paper's confidence of an unobserved pair.

    The stage is a Transformer: BM25's statistics (N, n_i, R_u) are those of the DataFrame
    transformed, so in a Pipeline fitted by CrossValidator they are the training fold's at fit
    time. Rows are weighed one by one; repeated rows of a pair are weighed separately (sum
    them first, e.g. with ``ZeroFiller(handleDuplicates='sum')``).

    Spark jobs: each transform runs one aggregation job that checks the counts (null, NaN,
    negative) and, for 'bm25', counts the users and sums the counts; nothing per user or per
    item reaches the driver. For 'bm25' the per-item n_i and per-user R_u are window
    aggregates over ``itemCol`` and ``userCol`` in the returned, lazy plan (two shuffles).

    Examples
    --------
    >>> from spark_recs import ConfidenceWeighter
    >>> plays = spark.createDataFrame(
    ...     [("ann", "abba", 0), ("ann", "bach", 9), ("bob", "abba", 99), ("bob", "cage", 1),
    ...      ("cid", "cage", 3)], ["user", "item", "rating"])
    >>> weighter = ConfidenceWeighter(method="log", epsilon=1.0)
    >>> weighter.getOutputCol(), weighter.getOutputType()
    ('weight', 'rating')
    >>> weighter.transform(plays).show()
    +----+----+------+------------------+
    |user|item|rating|            weight|
    +----+----+------+------------------+
    | ann|abba|     0|               0.0|
    | ann|bach|     9| 2.302585092994046|
    | bob|abba|    99| 4.605170185988092|
    | bob|cage|     1|0.6931471805599453|
    | cid|cage|     3|1.3862943611198906|
    +----+----+------+------------------+
    <BLANKLINE>

    BM25 with implicit's defaults: 3 users, so 'abba' and 'bach' (one user each) get idf
    log(3 / 2) and 'cage' (two users) idf log(3 / 3) = 0:

    >>> bm25 = ConfidenceWeighter(method="bm25")
    >>> weighted = bm25.transform(plays).orderBy("user", "item")
    >>> [(r.user, r.item, round(r.weight, 4)) for r in weighted.collect()]
    [('ann', 'abba', 0.0), ('ann', 'bach', 7.6331), ('bob', 'abba', 12.1645), ('bob', 'cage', 0.0), \
('cid', 'cage', 0.0)]

    The paper's confidence 1 + alpha * log(1 + r / epsilon) itself:

    >>> confidence = ConfidenceWeighter(outputType="confidence", alpha=2.0, outputCol="c")
    >>> [round(r.c, 4) for r in confidence.transform(plays).collect()]
    [1.0, 5.6052, 10.2103, 2.3863, 3.7726]

    In a Pipeline before ImplicitALS, which reads the weights as its ratings:

    >>> from pyspark.ml import Pipeline
    >>> from spark_recs import IdIndexer, ImplicitALS
    >>> pipeline = Pipeline(stages=[
    ...     IdIndexer(inputCols=["user", "item"], outputCols=["u", "i"]), weighter,
    ...     ImplicitALS(userCol="u", itemCol="i", ratingCol="weight", rank=2, maxIter=2, alpha=1.0,
    ...                 numUserBlocks=1, numItemBlocks=1)])
    >>> [type(s).__name__ for s in pipeline.fit(plays).stages]
    ['IdIndexerModel', 'ConfidenceWeighter', 'ALSModel']

    Negative counts are refused:

    >>> negative = spark.createDataFrame([("ann", "abba", -2)], ["user", "item", "rating"])
    >>> ConfidenceWeighter().transform(negative)
    Traceback (most recent call last):
        ...
    ValueError: ConfidenceWeighter: inputCol 'rating' holds 1 negative values (min -2.0); ...

    Save and load:

    >>> path = temp_path + "/confidence-weighter"
    >>> bm25.save(path)
    >>> loaded = ConfidenceWeighter.load(path)
    >>> loaded.uid == bm25.uid, loaded.getMethod(), loaded.getK1(), loaded.getB()
    (True, 'bm25', 100.0, 0.8)
    >>> loaded.transform(plays).collect() == bm25.transform(plays).collect()
    True
    """

    _input_kwargs: Dict[str, Any]

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: str = "rating",
        outputCol: str = "weight",
        userCol: str = "user",
        itemCol: str = "item",
        method: str = "log",
        outputType: str = "rating",
        alpha: float = 1.0,
        epsilon: float = 1.0,
        k1: float = 100.0,
        b: float = 0.8,
    ) -> None:
        """
        __init__(self, \\*, inputCol="rating", outputCol="weight", userCol="user", itemCol="item", \
                 method="log", outputType="rating", alpha=1.0, epsilon=1.0, k1=100.0, b=0.8)
        """
        super().__init__()
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        inputCol: str = "rating",
        outputCol: str = "weight",
        userCol: str = "user",
        itemCol: str = "item",
        method: str = "log",
        outputType: str = "rating",
        alpha: float = 1.0,
        epsilon: float = 1.0,
        k1: float = 100.0,
        b: float = 0.8,
    ) -> "ConfidenceWeighter":
        """
        setParams(self, \\*, inputCol="rating", outputCol="weight", userCol="user", itemCol="item", \
                  method="log", outputType="rating", alpha=1.0, epsilon=1.0, k1=100.0, b=0.8)
        Sets params for this ConfidenceWeighter.
        """
        return self._set(**self._input_kwargs)

    def setInputCol(self, value: str) -> "ConfidenceWeighter":
        """Sets the value of :py:attr:`inputCol`."""
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> "ConfidenceWeighter":
        """Sets the value of :py:attr:`outputCol`."""
        return self._set(outputCol=value)

    def setMethod(self, value: str) -> "ConfidenceWeighter":
        """Sets the value of :py:attr:`method`."""
        return self._set(method=value)

    def setOutputType(self, value: str) -> "ConfidenceWeighter":
        """Sets the value of :py:attr:`outputType`."""
        return self._set(outputType=value)

    def setAlpha(self, value: float) -> "ConfidenceWeighter":
        """Sets the value of :py:attr:`alpha`."""
        return self._set(alpha=value)

    def setEpsilon(self, value: float) -> "ConfidenceWeighter":
        """Sets the value of :py:attr:`epsilon`."""
        return self._set(epsilon=value)

    def setK1(self, value: float) -> "ConfidenceWeighter":
        """Sets the value of :py:attr:`k1`."""
        return self._set(k1=value)

    def setB(self, value: float) -> "ConfidenceWeighter":
        """Sets the value of :py:attr:`b`."""
        return self._set(b=value)

    def _check_params(self) -> None:
        """The params' values, before any Spark job."""
        method, col = self.getMethod(), self.getInputCol()
        require_choice(self, "method", method, WEIGHTING_METHODS)
        require_choice(self, "outputType", self.getOutputType(), _OUTPUT_TYPES)
        about = f"weights of inputCol '{col}'"
        positive = "be a finite number > 0"
        alpha, epsilon, k1, b = self.getAlpha(), self.getEpsilon(), self.getK1(), self.getB()
        require_param(self, "alpha", alpha, math.isfinite(alpha) and alpha > 0, positive, about)
        require_param(self, "epsilon", epsilon, math.isfinite(epsilon) and epsilon > 0, positive, about)
        require_param(self, "k1", k1, math.isfinite(k1) and k1 >= 0, "be a finite number >= 0", about)
        require_param(self, "b", b, 0 <= b <= 1, "be in [0, 1]", about)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        self._check_params()
        input_col, output_col, method = self.getInputCol(), self.getOutputCol(), self.getMethod()
        dt = require_type(self, "inputCol", input_col, dataset, is_numeric, "numeric")
        if output_col != input_col:
            require_new_column(self, "outputCol", output_col, dataset)
        if method == "bm25":
            require_column(self, "userCol", self.getUserCol(), dataset)
            require_column(self, "itemCol", self.getItemCol(), dataset)
        r = column(input_col).cast("double")
        users, total = self._check_counts(dataset, column(input_col), dt, r)

        if method == "none":
            weight = r
        elif method == "log":
            weight = F.log1p(r / F.lit(self.getEpsilon()))
        else:
            weight = self._bm25(r, users, total)
        # a count of 0 stays 0 (and BM25's 0 / 0 of a user without counts never runs)
        weight = F.when(r == 0, F.lit(0.0)).otherwise(weight)
        if self.getOutputType() == "confidence":
            weight = F.lit(1.0) + F.lit(self.getAlpha()) * weight
        return dataset.withColumn(output_col, weight)

    def _bm25(self, r: Column, users: int, total: float) -> Column:
        """implicit's bm25_weight as a column expression: N and the mean row sum are literals
        (from the checking job), n_i and R_u window aggregates."""
        k1, b = self.getK1(), self.getB()
        mean_sum = total / users if users and total > 0 else 1.0  # no count > 0: every s is 0
        per_item = F.count(F.when(r > 0, F.lit(1))).over(Window.partitionBy(column(self.getItemCol())))
        per_user = F.sum(r).over(Window.partitionBy(column(self.getUserCol())))
        idf = F.lit(math.log(max(users, 1))) - F.log1p(per_item.cast("double"))
        norm = F.lit(1.0 - b) + F.lit(b) * per_user / F.lit(mean_sum)
        return r * F.lit(k1 + 1.0) / (F.lit(k1) * norm + r) * idf

    def _check_counts(self, dataset: DataFrame, rating: Column, dt: Any, r: Column) -> Tuple[int, float]:
        """One aggregation job: null, NaN and negative counts (raise if any), and for 'bm25' the
        number of distinct users and the sum of the counts."""
        nulls, nans = null_nan_counts(rating, dt)
        aggs = [nulls.alias("nulls"), nans.alias("nans"),
                F.count(F.when(r < 0, F.lit(1))).alias("negatives"), F.min(r).alias("low")]
        if self.getMethod() == "bm25":
            aggs += [F.count_distinct(column(self.getUserCol())).alias("users"), F.sum(r).alias("total")]
        row = cast(Row, dataset.agg(*aggs).first())  # an aggregation without groups: one row
        stage, col = stage_name(self), self.getInputCol()
        if row["nulls"] or row["nans"]:
            raise ValueError(
                f"{stage}: inputCol '{col}' holds {row['nulls']} null and {row['nans']} NaN values; "
                f"counts must be numbers >= 0 (drop or fill those rows first)"
            )
        if row["negatives"]:
            raise ValueError(
                f"{stage}: inputCol '{col}' holds {row['negatives']} negative values (min {row['low']}); "
                f"counts must be >= 0 (0 is an unobserved pair)"
            )
        if self.getMethod() != "bm25":
            return 0, 0.0
        return int(row["users"]), float(row["total"] or 0.0)
