"""Evaluators that score recommenders on ``ALSModel.transform`` output as it comes.

One row per (user, item) with the true rating and the prediction is all they need, so they
plug into ``CrossValidator`` next to ``ALS`` where Spark's ``RankingEvaluator`` (which wants
per-user arrays) cannot. Every metric is one Spark job of SQL expressions: no Python UDF, and
nothing per user reaches the driver.

Rows are taken as they come: a (user, item) pair with two rows is ranked twice. Null users,
items or ratings and NaN ratings raise ``ValueError``; NaN or null predictions follow
``nanPredictions``.
"""

from typing import Any, Dict, Optional, Tuple

from pyspark import keyword_only
from pyspark.ml.evaluation import Evaluator
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasPredictionCol
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import FloatType

from spark_recs import _validation as V
from spark_recs._persistence import ParamsReadable, ParamsWritable
from spark_recs._compat import array_position, has_min_by_k
from spark_recs._validation import column
from spark_recs.param import HasItemCol, HasK, HasRatingCol, HasUserCol, P

__all__ = ["ROEMEvaluator", "RankingMetricsEvaluator", "PrecisionAtKEvaluator"]

_U, _I, _R, _P, _NAN = "__u", "__i", "__r", "__p", "__nan"
_REL = "__rel"
_NAN_RULES = ["drop", "last"]
_TIE_RULES = ["min", "average"]
_NO_RELEVANT_RULES = ["zero", "exclude"]
_K_METRICS = ["precisionAtK", "recallAtK", "ndcgAtK", "meanAveragePrecisionAtK"]
_METRICS = _K_METRICS + ["meanAveragePrecision"]

#: Use the window top-k even where ``min_by(x, ord, k)`` exists (Spark >= 4.2); tests flip it
#: to check that both plans give the same numbers.
_FORCE_WINDOW_TOP_K = False


class _RowEvaluatorParams(HasUserCol, HasRatingCol, HasPredictionCol):
    """Params shared by the evaluators of (user, item, rating, prediction) rows."""

    nanPredictions: "Param[str]" = Param(
        Params._dummy(),
        "nanPredictions",
        "what to do with rows whose prediction is NaN or null (ALS cold-start rows): 'drop' "
        "(leave them out) or 'last' (rank them after every other row of the user, tied).",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._setDefault(predictionCol="prediction", nanPredictions="drop")

    def setPredictionCol(self: P, value: str) -> P:
        """Sets the value of :py:attr:`predictionCol`."""
        return self._set(predictionCol=value)

    def setNanPredictions(self: P, value: str) -> P:
        """Sets the value of :py:attr:`nanPredictions`."""
        return self._set(nanPredictions=value)

    def getNanPredictions(self) -> str:
        """Gets the value of :py:attr:`nanPredictions` or its default value 'drop'."""
        return self.getOrDefault(self.nanPredictions)

    def _rows(self, dataset: DataFrame, item: Optional[str]) -> DataFrame:
        """Check the schema and params; the rows as (__u[, __i], __r, __p double, __nan)."""
        V.require_type(self, "userCol", self.getUserCol(), dataset, V.is_atomic_id, "an atomic type")
        if item is not None:
            V.require_type(self, "itemCol", item, dataset, V.is_atomic_id, "an atomic type")
        V.require_type(self, "ratingCol", self.getRatingCol(), dataset, V.is_numeric, "numeric")
        V.require_type(self, "predictionCol", self.getPredictionCol(), dataset, V.is_numeric, "numeric")
        V.require_choice(self, "nanPredictions", self.getNanPredictions(), _NAN_RULES)
        p = column(self.getPredictionCol()).cast("double")
        invalid = p.isNull() | F.isnan(p)
        rows = dataset.select(
            column(self.getUserCol()).alias(_U),
            *([column(item).alias(_I)] if item is not None else []),
            column(self.getRatingCol()).cast("double").alias(_R),
            F.when(invalid, F.lit(float("nan"))).otherwise(p).alias(_P),
            invalid.alias(_NAN),
        )
        return rows.where(~F.col(_NAN)) if self.getNanPredictions() == "drop" else rows

    def _raiseOnBadRows(self, totals: Dict[str, Any], item: Optional[str]) -> None:
        stage = V.stage_name(self)
        for key, param, name, what in (
            ("null_users", "userCol", self.getUserCol(), "null"),
            ("null_items", "itemCol", item, "null"),
            ("null_ratings", "ratingCol", self.getRatingCol(), "null or NaN"),
        ):
            if totals.get(key):
                raise ValueError(f"{stage}: {param} '{name}' has {totals[key]} {what} value(s)")
        if not totals.get("rows"):
            raise ValueError(
                f"{stage}: no rows to evaluate in predictionCol '{self.getPredictionCol()}'"
                + (" after dropping NaN/null predictions (nanPredictions='drop')"
                   if self.getNanPredictions() == "drop" else "")
            )


def _invalid_rating() -> Column:
    """A null or NaN rating (the rating is cast to double in ``_rows``)."""
    return F.col(_R).isNull() | F.isnan(F.col(_R))


def _check_counts(rows: DataFrame) -> Dict[str, Column]:
    """Per-user counts of bad values, to be summed into the evaluation's job."""
    return {
        "rows": F.count(F.lit(1)),
        "null_users": F.count(F.when(F.col(_U).isNull(), 1)),
        "null_ratings": F.count(F.when(_invalid_rating(), 1)),
        "null_items": F.count(F.when(F.col(_I).isNull(), 1)),
    }


class ROEMEvaluator(Evaluator, _RowEvaluatorParams, ParamsReadable, ParamsWritable):
    """Expected percentile ranking (ROEM) of implicit-feedback predictions; lower is better.

    Parameters
    ----------
    userCol, ratingCol, predictionCol : str
        Columns of ``ALSModel.transform`` output: user id, true rating (play count,
        confidence; >= 0) and prediction. Defaults 'user', 'rating', 'prediction'.
    tieRule : str, default 'min'
        'min': tied predictions share the best position, as ``PERCENT_RANK`` does;
        'average': tied rows get the average of the positions they span.
    nanPredictions : str, default 'drop'
        Rows whose prediction is NaN or null: 'drop' leaves them out; 'last' ranks them after
        all other rows of the user (tied among themselves, by ``tieRule``).

    Notes
    -----
    Hu, Koren & Volinsky (2008), "Collaborative Filtering for Implicit Feedback Datasets":
    for each user u, rank u's rows by prediction, descending; ``rank_ui`` is the percentile
    rank ``(position - 1) / (rows of u - 1)``, 0 for a user with one row;

        ROEM = sum_ui(rating_ui * rank_ui) / sum_ui(rating_ui).

    With the defaults this equals the course recipe ``PERCENT_RANK() OVER (PARTITION BY user
    ORDER BY prediction DESC)`` exactly, ties included. 0.5 is what random ranking gives.

    How it runs: a zero rating adds nothing to the numerator, so only the ranks of rated rows
    are needed. One aggregation per user sorts the user's predictions once and finds each rated
    row's position with ``array_position`` (the first tie, i.e. the number of strictly greater
    predictions); the rating sum comes from the same pass. One Spark job in all.

    Raises ``ValueError`` when there is no row to evaluate, when the ratings sum to 0, on null
    users or ratings, and on negative ratings.

    Examples
    --------
    >>> from spark_recs import ROEMEvaluator
    >>> predictions = spark.createDataFrame(
    ...     [("ann", 3.0, 0.9), ("ann", 0.0, 0.5), ("ann", 0.0, 0.1),
    ...      ("bob", 0.0, 0.8), ("bob", 1.0, 0.2)],
    ...     ["user", "rating", "prediction"])
    >>> evaluator = ROEMEvaluator()
    >>> evaluator.evaluate(predictions)  # ann's 3 plays ranked first (0), bob's play last (1)
    0.25
    >>> evaluator.isLargerBetter()
    False
    >>> evaluator.save(temp_path + "/roem")
    >>> ROEMEvaluator.load(temp_path + "/roem").getTieRule()
    'min'
    """

    tieRule: "Param[str]" = Param(
        Params._dummy(),
        "tieRule",
        "how tied predictions are ranked: 'min' (all take the best position, as PERCENT_RANK "
        "does) or 'average' (the average of the positions they span).",
        typeConverter=TypeConverters.toString,
    )

    _input_kwargs: Dict[str, Any]

    @keyword_only
    def __init__(
        self,
        *,
        userCol: str = "user",
        ratingCol: str = "rating",
        predictionCol: str = "prediction",
        tieRule: str = "min",
        nanPredictions: str = "drop",
    ) -> None:
        super().__init__()
        self._setDefault(tieRule="min")
        kwargs = self._input_kwargs
        self.setParams(**kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        userCol: str = "user",
        ratingCol: str = "rating",
        predictionCol: str = "prediction",
        tieRule: str = "min",
        nanPredictions: str = "drop",
    ) -> "ROEMEvaluator":
        """Sets params for this ROEMEvaluator."""
        kwargs = self._input_kwargs
        return self._set(**kwargs)

    def setTieRule(self, value: str) -> "ROEMEvaluator":
        """Sets the value of :py:attr:`tieRule`."""
        return self._set(tieRule=value)

    def getTieRule(self) -> str:
        """Gets the value of :py:attr:`tieRule` or its default value 'min'."""
        return self.getOrDefault(self.tieRule)

    def isLargerBetter(self) -> bool:
        """ROEM is an expected rank: lower is better."""
        return False

    def _evaluate(self, dataset: DataFrame) -> float:
        rows = self._rows(dataset, None)
        V.require_choice(self, "tieRule", self.getTieRule(), _TIE_RULES)
        average = self.getTieRule() == "average"
        p, r = F.col(_P), F.col(_R)
        prediction_type = V.require_type(self, "predictionCol", self.getPredictionCol(), dataset, V.is_numeric, "numeric")
        if isinstance(prediction_type, FloatType):
            # ALS predicts floats: sorting them as floats, not as their exact double casts, is
            # the same order and about 15% faster at 10M rows (half the bytes per value)
            p = p.cast("float")
        per_user = rows.groupBy(_U).agg(
            # collect_list skips nulls: "preds" holds the user's non-NaN predictions
            F.sort_array(F.collect_list(F.when(~F.col(_NAN), p)), asc=False).alias("preds"),
            F.collect_list(F.when(r != 0, F.struct(p.alias("p"), r.alias("r")))).alias("rated"),
            F.count(F.lit(1)).alias("n"),
            F.count(F.when(F.col(_NAN), 1)).alias("n_nan"),
            F.sum(r).alias("rsum"),
            F.count(F.when(r < 0, 1)).alias("negative"),
            F.count(F.when(_invalid_rating(), 1)).alias("null_ratings"),
        )
        preds, n = F.col("preds"), F.col("n")
        if average:
            per_user = per_user.withColumn("rpreds", F.reverse(preds))
        size = F.size(preds)

        def position(x: Column) -> Column:
            """0-based position of a rated row: rows ranked strictly above it, plus half the
            other rows tied with it under the 'average' rule."""
            is_nan = F.isnan(x["p"])
            first = array_position(preds, x["p"])  # 1-based first tie; x.p is in preds
            greater = F.when(is_nan, size).otherwise(first - 1)
            if not average:
                return greater.cast("double")
            last = size - array_position(F.col("rpreds"), x["p"]) + 1
            ties = F.when(is_nan, F.col("n_nan")).otherwise(last - first + 1)
            return greater + (ties - 1) / 2.0

        numerator = F.aggregate(
            F.col("rated"),
            F.lit(0.0),
            lambda acc, x: acc + x["r"] * position(x) / F.greatest(n - 1, F.lit(1)).cast("double"),
        )
        totals = per_user.agg(
            F.sum(F.when(n > 1, numerator).otherwise(0.0)).alias("numerator"),
            F.sum("rsum").alias("denominator"),
            F.sum("n").alias("rows"),
            F.sum("negative").alias("negative"),
            F.sum(F.when(F.col(_U).isNull(), n)).alias("null_users"),
            F.sum("null_ratings").alias("null_ratings"),
        ).first()
        totals = totals.asDict()
        self._raiseOnBadRows(totals, None)
        stage, rating = V.stage_name(self), self.getRatingCol()
        if totals["negative"]:
            raise ValueError(
                f"{stage}: ratingCol '{rating}' has {totals['negative']} negative value(s); ROEM "
                "weighs ranks by ratings, which must be >= 0"
            )
        if not totals["denominator"]:
            raise ValueError(
                f"{stage}: ratingCol '{rating}' sums to 0 over {totals['rows']} row(s): ROEM is "
                "undefined without a positive rating"
            )
        return float(totals["numerator"] / totals["denominator"])


class _RankingParams(_RowEvaluatorParams, HasItemCol, HasK):
    """Params of the top-k ranking evaluators."""

    threshold: "Param[float]" = Param(
        Params._dummy(),
        "threshold",
        "a row is relevant when its rating is greater than threshold (default 0.0).",
        typeConverter=TypeConverters.toFloat,
    )

    noRelevantUsers: "Param[str]" = Param(
        Params._dummy(),
        "noRelevantUsers",
        "users with no relevant row: 'zero' (they score 0 and count in the mean, as in "
        "Spark's RankingEvaluator) or 'exclude' (left out of the mean).",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._setDefault(threshold=0.0, noRelevantUsers="zero")

    def getThreshold(self) -> float:
        """Gets the value of :py:attr:`threshold` or its default value 0.0."""
        return self.getOrDefault(self.threshold)

    def getNoRelevantUsers(self) -> str:
        """Gets the value of :py:attr:`noRelevantUsers` or its default value 'zero'."""
        return self.getOrDefault(self.noRelevantUsers)

    def setThreshold(self: P, value: float) -> P:
        """Sets the value of :py:attr:`threshold`."""
        return self._set(threshold=value)

    def setNoRelevantUsers(self: P, value: str) -> P:
        """Sets the value of :py:attr:`noRelevantUsers`."""
        return self._set(noRelevantUsers=value)

    def _metric(self) -> str:
        raise NotImplementedError

    def _rankingMetric(self, dataset: DataFrame) -> float:
        metric = self._metric()
        stage = V.stage_name(self)
        rows = self._rows(dataset, self.getItemCol())
        k, threshold = self.getK(), self.getThreshold()
        V.require_param(self, "k", k, k >= 1, "be >= 1", f"top-ranked rows per userCol '{self.getUserCol()}'")
        V.require_param(
            self, "threshold", threshold, threshold == threshold, "not be NaN",
            f"relevant when ratingCol '{self.getRatingCol()}' > threshold",
        )
        V.require_choice(self, "noRelevantUsers", self.getNoRelevantUsers(), _NO_RELEVANT_RULES)
        rows = rows.withColumn(_REL, (F.col(_R) > F.lit(threshold)).cast("int"))
        # ranking order: prediction descending (NaN last), ties by item ascending
        order = F.struct((-F.col(_P)).alias("np"), F.col(_I).alias("i"))
        n_rel = F.col("n_rel").cast("double")
        if metric == "meanAveragePrecision":
            per_user = _full_ranking(rows, order)
            value = _relevant_precision_sum(F.col("all"), F.col("relevant")) / n_rel
        else:
            per_user, ranked = _top_k(rows, order, k, has_min_by_k(dataset.sparkSession) and not _FORCE_WINDOW_TOP_K)
            hits = F.aggregate(ranked, F.lit(0), lambda a, x: a + x).cast("double")
            value = {
                "precisionAtK": hits / k,
                "recallAtK": hits / n_rel,
                "ndcgAtK": _dcg(ranked) / _dcg(F.array_repeat(F.lit(1), F.least(F.col("n_rel"), F.lit(k)).cast("int"))),
                "meanAveragePrecisionAtK": _precision_sum(ranked) / F.least(n_rel, F.lit(float(k))),
            }[metric]
        score = F.when(F.col("n_rel") > 0, value).otherwise(F.lit(0.0))
        counted = F.col("n_rel") > 0 if self.getNoRelevantUsers() == "exclude" else F.lit(True)
        totals = per_user.agg(
            F.avg(F.when(counted, score)).alias("value"),
            F.count(F.when(counted, 1)).alias("users"),
            F.sum("rows").alias("rows"),
            F.sum(F.when(F.col(_U).isNull(), F.col("rows"))).alias("null_users"),
            F.sum("null_items").alias("null_items"),
            F.sum("null_ratings").alias("null_ratings"),
        ).first().asDict()
        self._raiseOnBadRows(totals, self.getItemCol())
        if not totals["users"]:
            raise ValueError(
                f"{stage}: no user has a relevant row (ratingCol '{self.getRatingCol()}' > "
                f"threshold {threshold}) and noRelevantUsers='exclude' leaves none to average"
            )
        return float(totals["value"])


class _RankingEvaluator(Evaluator, _RankingParams):
    """Base of the ranking evaluators: one ``_evaluate`` for every metric."""

    def _evaluate(self, dataset: DataFrame) -> float:
        return self._rankingMetric(dataset)

    def isLargerBetter(self) -> bool:
        """Every ranking metric here is larger-is-better."""
        return True


def _per_user_counts(rows: DataFrame) -> Tuple[Column, ...]:
    return (
        F.sum(_REL).alias("n_rel"),
        *[e.alias(k) for k, e in _check_counts(rows).items()],
    )


def _top_k(rows: DataFrame, order: Column, k: int, bounded_aggregate: bool) -> Tuple[DataFrame, Column]:
    """Per user: the relevance flags of its k top-ranked rows, in rank order, and counts."""
    if bounded_aggregate:
        # one aggregation; each partial aggregate keeps at most k rows per user
        per_user = rows.groupBy(_U).agg(
            F.call_function("min_by", F.col(_REL), order, F.lit(k)).alias("top"), *_per_user_counts(rows)
        )
        return per_user, F.col("top")
    # Spark < 4.2: number the rows per user and keep the first k (Spark plans a group limit)
    rank = F.row_number().over(Window.partitionBy(_U).orderBy(order))
    ranked = rows.withColumn("__rank", rank)
    counts = rows.groupBy(_U).agg(*_per_user_counts(rows))
    top = (
        ranked.where(F.col("__rank") <= k)
        .groupBy(_U)
        .agg(F.sort_array(F.collect_list(F.struct("__rank", _REL))).alias("top"))
    )
    per_user = counts.join(top, _U, "left").withColumn("top", F.coalesce(F.col("top"), F.array()))
    return per_user, F.transform(F.col("top"), lambda x: x[_REL])


def _full_ranking(rows: DataFrame, order: Column) -> DataFrame:
    """Per user: all its rows' (order, relevance) keys sorted in rank order, the keys of its
    relevant rows, and counts. Sorting plain keys is native; nothing walks the whole ranking
    row by row (an interpreted fold over every row made full MAP 10x slower than Spark's)."""
    key = F.struct(order.alias("o"), F.col(_REL).alias("rel"))
    return rows.groupBy(_U).agg(
        F.sort_array(F.collect_list(key)).alias("all"),
        F.collect_list(F.when(F.col(_REL) > 0, key)).alias("relevant"),
        *_per_user_counts(rows),
    )


def _relevant_precision_sum(ranking: Column, relevant: Column) -> Column:
    """Sum over the relevant rows of precision at their position, from the positions alone.

    The i-th relevant row (0-based, in rank order) at 1-based position p adds (i + 1) / p.
    ``array_position`` gives the first position of a key; copies of one key (duplicate rows)
    sit next to each other in the ranking, so each copy after the first takes the position
    after the previous one's.
    """
    positions = F.sort_array(F.transform(relevant, lambda x: array_position(ranking, x)))
    start = F.struct(F.lit(0).cast("long").alias("at"), F.lit(0).alias("i"), F.lit(0.0).alias("sum"))

    def step(acc: Column, p: Column) -> Column:
        at = F.greatest(p, acc["at"] + 1)
        return F.struct(at.alias("at"), (acc["i"] + 1).alias("i"), (acc["sum"] + (acc["i"] + 1) / at).alias("sum"))

    return F.aggregate(positions, start, step)["sum"]


def _dcg(flags: Column) -> Column:
    """Sum of flag_i / log2(i + 2) over positions i = 0, 1, ... (binary-relevance DCG)."""
    return F.aggregate(
        F.transform(flags, lambda x, i: x / F.log2(i + 2)), F.lit(0.0), lambda a, x: a + x
    )


def _precision_sum(flags: Column) -> Column:
    """Sum over relevant positions i of (relevant rows in positions 0..i) / (i + 1)."""
    start = F.struct(F.lit(0).alias("pos"), F.lit(0).alias("hits"), F.lit(0.0).alias("sum"))

    def step(acc: Column, x: Column) -> Column:
        hits = acc["hits"] + x
        return F.struct(
            (acc["pos"] + 1).alias("pos"),
            hits.alias("hits"),
            (acc["sum"] + F.when(x > 0, hits / (acc["pos"] + 1)).otherwise(0.0)).alias("sum"),
        )

    return F.aggregate(flags, start, step)["sum"]


class RankingMetricsEvaluator(_RankingEvaluator, ParamsReadable, ParamsWritable):
    """Top-k ranking metrics of Spark's ``RankingEvaluator``, computed from raw ALS output.

    Parameters
    ----------
    metricName : str, default 'precisionAtK'
        'precisionAtK', 'recallAtK', 'ndcgAtK', 'meanAveragePrecisionAtK' or
        'meanAveragePrecision' (over each user's whole ranking; ``k`` is not used).
    k : int, default 10
        How many top-ranked rows per user the metric looks at (>= 1).
    userCol, itemCol, ratingCol, predictionCol : str
        Defaults 'user', 'item', 'rating', 'prediction', as ALS names them.
    threshold : float, default 0.0
        A row is relevant when its rating is greater than ``threshold``.
    noRelevantUsers : str, default 'zero'
        Users with no relevant row score 0 and count ('zero', Spark's rule) or are left out
        ('exclude').
    nanPredictions : str, default 'drop'
        Rows with a NaN or null prediction: 'drop' them, or rank them 'last'.

    Notes
    -----
    For each user, the user's rows are ranked by prediction descending, ties broken by item
    ascending; ``R`` is the set of relevant rows, ``rel_i`` is 1 when the row at position i
    (0-based) is relevant. Then, per user:

    - precisionAtK = (relevant among the top k) / k (k, even if the user has fewer rows);
    - recallAtK = (relevant among the top k) / |R|;
    - ndcgAtK = sum_{i<k} rel_i / log2(i + 2), divided by the same sum for an ideal ranking,
      sum_{i < min(|R|, k)} 1 / log2(i + 2);
    - meanAveragePrecisionAtK = sum_{i<k, rel_i} P@(i+1) / min(|R|, k);
    - meanAveragePrecision = sum_{rel_i} P@(i+1) / |R| over the whole ranking,

    averaged over users. These are Spark's ``RankingMetrics`` definitions, so each equals
    ``RankingEvaluator`` fed, per user, the ranked items and the relevant items.

    How it runs: one aggregation per user; on Spark >= 4.2 it keeps a bounded top-k
    (``min_by(rel, (-prediction, item), k)``) in each partial aggregate, so only k rows per
    user and partition are shuffled. Older Spark numbers each user's rows in a window.

    Examples
    --------
    >>> from spark_recs import RankingMetricsEvaluator
    >>> predictions = spark.createDataFrame(
    ...     [("ann", "a", 1.0, 0.9), ("ann", "b", 0.0, 0.8), ("ann", "c", 2.0, 0.1),
    ...      ("bob", "a", 0.0, 0.7), ("bob", "b", 5.0, 0.6)],
    ...     ["user", "item", "rating", "prediction"])
    >>> evaluator = RankingMetricsEvaluator(k=2)
    >>> evaluator.evaluate(predictions)  # ann: 1 of her top 2 relevant, bob: 1 of 2
    0.5
    >>> evaluator.evaluate(predictions, {evaluator.metricName: "recallAtK"})  # (1/2 + 1) / 2
    0.75
    >>> evaluator.save(temp_path + "/ranking")
    >>> RankingMetricsEvaluator.load(temp_path + "/ranking").getK()
    2
    """

    metricName: "Param[str]" = Param(
        Params._dummy(),
        "metricName",
        "metric name in evaluation: " + ", ".join(_METRICS) + ".",
        typeConverter=TypeConverters.toString,
    )

    _input_kwargs: Dict[str, Any]

    @keyword_only
    def __init__(
        self,
        *,
        metricName: str = "precisionAtK",
        k: int = 10,
        userCol: str = "user",
        itemCol: str = "item",
        ratingCol: str = "rating",
        predictionCol: str = "prediction",
        threshold: float = 0.0,
        noRelevantUsers: str = "zero",
        nanPredictions: str = "drop",
    ) -> None:
        super().__init__()
        self._setDefault(metricName="precisionAtK")
        kwargs = self._input_kwargs
        self.setParams(**kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        metricName: str = "precisionAtK",
        k: int = 10,
        userCol: str = "user",
        itemCol: str = "item",
        ratingCol: str = "rating",
        predictionCol: str = "prediction",
        threshold: float = 0.0,
        noRelevantUsers: str = "zero",
        nanPredictions: str = "drop",
    ) -> "RankingMetricsEvaluator":
        """Sets params for this RankingMetricsEvaluator."""
        kwargs = self._input_kwargs
        return self._set(**kwargs)

    def setMetricName(self, value: str) -> "RankingMetricsEvaluator":
        """Sets the value of :py:attr:`metricName`."""
        return self._set(metricName=value)

    def getMetricName(self) -> str:
        """Gets the value of :py:attr:`metricName` or its default value."""
        return self.getOrDefault(self.metricName)

    def _metric(self) -> str:
        V.require_choice(self, "metricName", self.getMetricName(), _METRICS)
        return self.getMetricName()


class PrecisionAtKEvaluator(_RankingEvaluator, ParamsReadable, ParamsWritable):
    """Precision at k of raw ALS output: per user, the share of the k top-ranked rows that are
    relevant, averaged over users; larger is better.

    Parameters
    ----------
    k : int, default 10
        How many top-ranked rows per user count (>= 1).
    userCol, itemCol, ratingCol, predictionCol : str
        Defaults 'user', 'item', 'rating', 'prediction', as ALS names them.
    threshold : float, default 0.0
        A row is relevant when its rating is greater than ``threshold``.
    noRelevantUsers : str, default 'zero'
        Users with no relevant row score 0 and count ('zero', Spark's rule) or are left out
        ('exclude').
    nanPredictions : str, default 'drop'
        Rows with a NaN or null prediction: 'drop' them, or rank them 'last'.

    Notes
    -----
    Per user: the k rows with the highest prediction (ties broken by item ascending); precision
    = relevant among them / k, also when the user has fewer than k rows. With the defaults this
    equals Spark's ``RankingEvaluator(metricName="precisionAtK", k=k)`` fed, per user, the
    top-k predicted items and the relevant items. :py:class:`RankingMetricsEvaluator` has the
    other metrics; this is the one with ``metricName='precisionAtK'``.

    Examples
    --------
    >>> from spark_recs import PrecisionAtKEvaluator
    >>> predictions = spark.createDataFrame(
    ...     [("ann", "a", 1.0, 0.9), ("ann", "b", 0.0, 0.8), ("bob", "a", 3.0, 0.5)],
    ...     ["user", "item", "rating", "prediction"])
    >>> PrecisionAtKEvaluator(k=1).evaluate(predictions)
    1.0
    >>> PrecisionAtKEvaluator(k=2).evaluate(predictions)  # ann 1/2, bob 1/2
    0.5
    >>> PrecisionAtKEvaluator(k=2).save(temp_path + "/p-at-k")
    >>> PrecisionAtKEvaluator.load(temp_path + "/p-at-k").getK()
    2
    """

    _input_kwargs: Dict[str, Any]

    @keyword_only
    def __init__(
        self,
        *,
        k: int = 10,
        userCol: str = "user",
        itemCol: str = "item",
        ratingCol: str = "rating",
        predictionCol: str = "prediction",
        threshold: float = 0.0,
        noRelevantUsers: str = "zero",
        nanPredictions: str = "drop",
    ) -> None:
        super().__init__()
        kwargs = self._input_kwargs
        self.setParams(**kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        k: int = 10,
        userCol: str = "user",
        itemCol: str = "item",
        ratingCol: str = "rating",
        predictionCol: str = "prediction",
        threshold: float = 0.0,
        noRelevantUsers: str = "zero",
        nanPredictions: str = "drop",
    ) -> "PrecisionAtKEvaluator":
        """Sets params for this PrecisionAtKEvaluator."""
        kwargs = self._input_kwargs
        return self._set(**kwargs)

    def _metric(self) -> str:
        return "precisionAtK"
