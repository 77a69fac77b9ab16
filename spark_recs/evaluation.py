"""Evaluators that score recommenders on ``ALSModel.transform`` output as it comes.

One row per (user, item) with the true rating and the prediction is all they need, so they
plug into ``CrossValidator`` next to ``ALS`` where Spark's ``RankingEvaluator`` (which wants
per-user arrays) cannot. Every metric is SQL expressions, in one Spark job (a few for ROEM's
``method='pairs'``): no Python UDF, and nothing per user reaches the driver.

Rows are taken as they come: a (user, item) pair with two rows is ranked twice. Null users,
items or ratings and NaN ratings raise ``ValueError``; NaN or null predictions follow
``nanPredictions``.
"""

from typing import Any, Dict, List, Optional, Tuple

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
_ROEM_METHODS = ["sort", "pairs"]
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
    method : str, default 'sort'
        How it is computed (see Notes), with the same result: 'sort' reads the rows once;
        'pairs' reads them three times but never shuffles them, which is faster when they
        are cheap to read again (cached, checkpointed, in files) and slower when each read
        computes them again (``ALSModel.transform`` output, as in ``CrossValidator``).

    Notes
    -----
    Hu, Koren & Volinsky (2008), "Collaborative Filtering for Implicit Feedback Datasets":
    for each user u, rank u's rows by prediction, descending; ``rank_ui`` is the percentile
    rank ``(position - 1) / (rows of u - 1)``, 0 for a user with one row;

        ROEM = sum_ui(rating_ui * rank_ui) / sum_ui(rating_ui).

    With the defaults this equals the course recipe ``PERCENT_RANK() OVER (PARTITION BY user
    ORDER BY prediction DESC)`` exactly, ties included. 0.5 is what random ranking gives.

    How it runs: a zero rating adds nothing to the numerator, so only the ranks of rated rows
    are needed, and a rated row's position is the number of the user's rows with a strictly
    greater prediction; the rating sum and the checks come from the same pass.

    - 'sort': one aggregation per user sorts the user's predictions once (``sort_array``) and
      finds each rated row with ``array_position``. One Spark job; the rows are read once.
    - 'pairs': one aggregation counts each user's rows and rated rows and runs the checks (bad
      input raises here); its small per-user result is cached for the evaluation. Then the
      rated rows (a few per user in zero-filled data) are broadcast, every row is joined, on
      its user, to the rated rows it beats, and their ratings, each over the user's rows - 1,
      are summed: no per-user aggregation of the rows. A user with more than 64 rated rows,
      and every user when such rated rows exceed 1,000,000 in all, is scored by 'sort'
      instead. On 10M materialized rows this takes 0.4x the time of the course recipe and
      0.6x that of 'sort'; on ``ALSModel.transform`` output, which every read computes
      again, 1.6x that of 'sort'.

    Nothing per user reaches the driver.

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

    method: "Param[str]" = Param(
        Params._dummy(),
        "method",
        "how ROEM is computed, with the same result: 'sort' (one pass: each user's predictions "
        "are sorted; best when the rows are computed as they are read, such as "
        "ALSModel.transform output in CrossValidator) or 'pairs' (three passes, no shuffle of "
        "the rows; faster when the predictions are materialized: cached, checkpointed or "
        "read from files).",
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
        method: str = "sort",
    ) -> None:
        super().__init__()
        self._setDefault(tieRule="min", method="sort")
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
        method: str = "sort",
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

    def setMethod(self, value: str) -> "ROEMEvaluator":
        """Sets the value of :py:attr:`method`."""
        return self._set(method=value)

    def getMethod(self) -> str:
        """Gets the value of :py:attr:`method` or its default value 'sort'."""
        return self.getOrDefault(self.method)

    def isLargerBetter(self) -> bool:
        """ROEM is an expected rank: lower is better."""
        return False

    def getMetricName(self) -> str:
        """The name of the metric this evaluator computes, as Spark's evaluators answer it.

        Returns
        -------
        str
            Always 'roem' (there is no ``metricName`` param). MLflow's
            ``mlflow.pyspark.ml.autolog()`` names its metrics with it: ``avg_roem`` and
            ``std_roem`` in each ``CrossValidator`` child run, ``roem_<dataset>`` for an
            evaluation after the fit.

        Examples
        --------
        >>> from spark_recs import ROEMEvaluator
        >>> ROEMEvaluator().getMetricName()
        'roem'
        """
        return "roem"

    def _evaluate(self, dataset: DataFrame) -> float:
        rows = self._rows(dataset, None)
        V.require_choice(self, "tieRule", self.getTieRule(), _TIE_RULES)
        V.require_choice(self, "method", self.getMethod(), _ROEM_METHODS)
        average = self.getTieRule() == "average"
        prediction_type = V.require_type(self, "predictionCol", self.getPredictionCol(), dataset, V.is_numeric, "numeric")
        # ALS predicts floats: comparing them as floats, not as their exact double casts, is the
        # same order with half the bytes per value
        p = F.col(_P).cast("float") if isinstance(prediction_type, FloatType) else F.col(_P)
        rows = rows.withColumn(_P, p)
        if self.getMethod() == "sort":
            totals = _roem_by_sorting(rows, average).agg(*_sums()).first().asDict()
            self._raiseOnBadTotals(totals)
        else:
            totals = self._byPairs(rows, average)
        return float(totals["numerator"] / totals["denominator"])

    def _byPairs(self, rows: DataFrame, average: bool) -> Dict[str, Any]:
        """Method 'pairs': the checks' totals and ROEM's numerator and denominator."""
        per_user = _per_user(rows, average).persist()
        try:
            light = F.col("c") <= _PAIRS_MAX_RATED
            totals = per_user.agg(
                *_sums(F.when(light, F.col("term"))),
                F.sum(F.when(light, F.col("c"))).alias("light_rated"),
                F.count(F.when(~light, 1)).alias("heavy_users"),
            ).first().asDict()
            self._raiseOnBadTotals(totals)
            totals["numerator"] = totals["numerator"] or 0.0
            if (totals["light_rated"] or 0) <= _PAIRS_MAX_ROWS:
                totals["numerator"] += _pairs_sum(rows, per_user.where(light), average)
                if totals["heavy_users"]:
                    heavy = F.broadcast(per_user.where(~light).select(_U))
                    totals["numerator"] += _sorted_sum(rows.join(heavy, _U, "left_semi"), average)
            else:
                totals["numerator"] = _sorted_sum(rows, average)
        finally:
            per_user.unpersist()
        return totals

    def _raiseOnBadTotals(self, totals: Dict[str, Any]) -> None:
        """Bad rows; negative ratings, or none above 0, which leave ROEM undefined."""
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


#: ROEM's pair plan: a user with at most this many rated rows is scored by comparing each of
#: its rows with each of its rated rows (broadcast); a user with more is scored by sorting.
_PAIRS_MAX_RATED = 64
#: ... and the pair plan is used only when those users' rated rows, which every task holds,
#: number at most this many (about 40 bytes each).
_PAIRS_MAX_ROWS = 1_000_000


def _sums(term: Optional[Column] = None) -> List[Column]:
    """ROEM's totals over per-user rows: the numerator (the users' terms, or ``term``), the
    denominator and the checks' counts."""
    return [
        F.sum(F.col("term") if term is None else term).alias("numerator"),
        F.sum("rsum").alias("denominator"),
        F.sum("n").alias("rows"),
        F.sum("negative").alias("negative"),
        F.sum(F.when(F.col(_U).isNull(), F.col("n"))).alias("null_users"),
        F.sum("null_ratings").alias("null_ratings"),
    ]


def _row_counts() -> List[Column]:
    """Per-user counts both ROEM plans aggregate: rows, rows without a prediction, the rating
    sum, and the checks' negative and null-or-NaN ratings."""
    r = F.col(_R)
    return [
        F.count(F.lit(1)).alias("n"),
        F.count(F.when(F.col(_NAN), 1)).alias("n_nan"),
        F.sum(r).alias("rsum"),
        F.count(F.when(r < 0, 1)).alias("negative"),
        F.count(F.when(_invalid_rating(), 1)).alias("null_ratings"),
    ]


def _user_term(numerator: Column, n: Column) -> Column:
    """A user's share of ROEM's numerator: the rank-weighted ratings over (rows - 1), or 0 for
    a user with one row."""
    return F.when(n > 1, numerator / F.greatest(n - 1, F.lit(1)).cast("double")).otherwise(0.0)


def _rated(rows: DataFrame) -> Column:
    """The rows the pair plan ranks: a user, a rating other than 0 and a prediction."""
    return F.col(_U).isNotNull() & (F.col(_R) != 0) & ~_invalid_rating() & ~F.col(_NAN)


def _per_user(rows: DataFrame, average: bool) -> DataFrame:
    """One aggregation of the rows: per user, the counts the checks need, ``c`` the number of
    rated rows with a prediction, and ``term``, the part of the user's ROEM term that the pair
    plan does not count: rated rows without a prediction (``nanPredictions='last'``), which
    rank below every other row, and under the 'average' rule minus the half rating each rated
    row gets for meeting itself as a tie."""
    r, nan = F.col(_R), F.col(_NAN)
    per_user = rows.groupBy(_U).agg(
        F.count(F.when(_rated(rows), 1)).alias("c"),
        F.sum(F.when(nan, r)).alias("rsum_nan"),
        *_row_counts(),
    )
    n, n_nan = F.col("n"), F.col("n_nan")
    rsum_nan = F.coalesce(F.col("rsum_nan"), F.lit(0.0))
    numerator = rsum_nan * ((n - n_nan) + ((n_nan - 1) / 2.0 if average else F.lit(0.0)))
    if average:
        numerator = numerator - (F.coalesce(F.col("rsum"), F.lit(0.0)) - rsum_nan) / 2.0
    return per_user.select(
        _U, "c", "n", "rsum", "negative", "null_ratings", _user_term(numerator, n).alias("term")
    )


def _pairs_sum(rows: DataFrame, per_user: DataFrame, average: bool) -> float:
    """The ROEM terms of ``per_user``'s users from their rated rows, by pairs, in two passes
    over the rows that shuffle nothing.

    A rated row's position is the number of the user's rows with a strictly greater
    prediction, so its term is the sum over rows of the ratings of the rated rows they beat,
    over (rows - 1). The rated rows, each with its rating over its user's rows - 1 (from
    ``per_user``, broadcast), are broadcast; every row is joined, on the user, to the rated
    rows it beats, and those are summed: no aggregation per user. Under the 'average' rule a
    tie counts half.
    """
    n1 = F.broadcast(per_user.where(F.col("n") > 1).select(_U, (F.col("n") - 1).cast("double").alias("__n1")))
    side = rows.where(_rated(rows)).join(n1, _U).select(
        F.col(_U).alias("__bu"), F.col(_P).alias("__t"), (F.col(_R) / F.col("__n1")).alias("__w")
    )
    p, t, w = F.col(_P), F.col("__t"), F.col("__w")
    beats = (p >= t) if average else (p > t)
    pairs = rows.where(~F.col(_NAN)).join(F.broadcast(side), (F.col(_U) == F.col("__bu")) & beats)
    weight = F.when(p == t, w / 2.0).otherwise(w) if average else w
    return float(pairs.agg(F.sum(weight)).first()[0] or 0.0)


def _sorted_sum(rows: DataFrame, average: bool) -> float:
    """The users' whole ROEM terms by sorting, summed (see ``_roem_by_sorting``)."""
    return float(_roem_by_sorting(rows, average).agg(F.sum("term")).first()[0] or 0.0)


def _roem_by_sorting(rows: DataFrame, average: bool) -> DataFrame:
    """Per-user ROEM terms, and the checks' counts, in one aggregation: each user's predictions
    are sorted once and each rated row's position found with ``array_position`` (the first
    tie: the number of strictly greater predictions)."""
    p, r = F.col(_P), F.col(_R)
    per_user = rows.groupBy(_U).agg(
        # collect_list skips nulls: "preds" holds the user's non-NaN predictions
        F.sort_array(F.collect_list(F.when(~F.col(_NAN), p)), asc=False).alias("preds"),
        F.collect_list(F.when(r != 0, F.struct(p.alias("p"), r.alias("r")))).alias("rated"),
        *_row_counts(),
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

    numerator = F.aggregate(F.col("rated"), F.lit(0.0), lambda acc, x: acc + x["r"] * position(x))
    return per_user.select(_U, _user_term(numerator, n).alias("term"), "rsum", "n", "negative", "null_ratings")


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

    def getMetricName(self) -> str:
        """The name of the metric this evaluator computes, as Spark's evaluators answer it.

        Returns
        -------
        str
            Always 'precisionAtK', the name Spark's ``RankingEvaluator`` and
            :py:class:`RankingMetricsEvaluator` give it (there is no ``metricName`` param;
            ``k`` is not part of the name). MLflow's ``mlflow.pyspark.ml.autolog()`` names
            its metrics with it: ``avg_precisionAtK`` and ``std_precisionAtK`` in each
            ``CrossValidator`` child run, ``precisionAtK_<dataset>`` for an evaluation after
            the fit.

        Examples
        --------
        >>> from spark_recs import PrecisionAtKEvaluator
        >>> PrecisionAtKEvaluator(k=5).getMetricName()
        'precisionAtK'
        """
        return self._metric()

    def _metric(self) -> str:
        return "precisionAtK"
