"""Evaluators that score recommenders on ``ALSModel.transform`` output as it comes, or on the
ranks that :py:class:`spark_recs.UnseenItemRankerModel` gives held-out rows.

Rows mode (the default): one row per (user, item) with the true rating and the prediction is
all they need, so they plug into ``CrossValidator`` next to ``ALS`` where Spark's
``RankingEvaluator`` (which wants per-user arrays) cannot. Rank mode (``rankCol`` set): each
held-out row carries where it ranks among all the items its user did not see in training, and
the metric is computed from those rows alone. Every metric is SQL expressions, in one Spark job:
no Python UDF, and nothing per user reaches the driver.

Ties are safe by default: tied rows are scored by the expected value of the metric over a
random order of the tie (``tieRule='average'``), so a model that predicts one constant, or
nothing, scores what random ranking scores, never better. Rows mode takes rows as they come (a
(user, item) pair with two rows is ranked twice); rank mode adds up the ratings of a pair's rows
(it is one candidate). Null users, items or ratings and NaN ratings raise ``ValueError``; NaN or
null predictions follow ``nanPredictions``.
"""

import sys
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, cast

import pyspark.ml.evaluation
from pyspark import keyword_only
from pyspark.ml.evaluation import Evaluator
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasPredictionCol
from pyspark.sql import Column, DataFrame, Row, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, FloatType

from spark_recs import _rank_metrics as M
from spark_recs import _validation as V
from spark_recs._compat import array_position, has_min_by_k
from spark_recs._persistence import ParamsReadable, ParamsWritable
from spark_recs._validation import column
from spark_recs.param import HasItemCol, HasK, HasRatingCol, HasUserCol, P

__all__ = ["ROEMEvaluator", "RankingMetricsEvaluator", "PrecisionAtKEvaluator", "AllRowsRelevantWarning"]

_U, _I, _R, _P, _NAN = "__u", "__i", "__r", "__p", "__nan"
_H, _T, _RANK, _NCAND = "__h", "__t", "__rank", "__ncand"
_REL = "__rel"
_NAN_RULES = ["last", "drop"]
_TIE_RULES = ["average", "min"]
_TOP_K_TIE_RULES = ["average", "itemId"]
_NO_RELEVANT_RULES = ["zero", "exclude"]
_K_METRICS = ["precisionAtK", "recallAtK", "ndcgAtK", "meanAveragePrecisionAtK", "mrrAtK", "hitRateAtK"]
_METRICS = _K_METRICS + ["meanAveragePrecision"]

#: Use the window top-k even where ``min_by(x, ord, k)`` exists (Spark >= 4.2); tests flip it
#: to check that both plans give the same numbers.
_FORCE_WINDOW_TOP_K = False


class AllRowsRelevantWarning(UserWarning):
    """A rows-mode ranking metric was computed on data with no non-relevant row.

    Positives-only data (plays, clicks, ratings above the threshold: no zeros) make every
    row relevant, so precision@k and the other top-k metrics are about 1 whatever the model
    ranks. :py:class:`RankingMetricsEvaluator` and :py:class:`PrecisionAtKEvaluator` warn with
    this class, once per call site (Python's default warning filter), from the job that
    computes the metric. Rank each held-out row among all the items its user did not see
    instead: :py:class:`~spark_recs.UnseenItemRanker` and the evaluator's ``rankCol='rank'``.
    Silence it with ``warnings.simplefilter("ignore", AllRowsRelevantWarning)``.
    """


#: The files whose frames stand between an evaluator's caller and its warnings.
_EVALUATOR_FILES = {__file__, pyspark.ml.evaluation.__file__}


def _warn_at_call_site(message: str, category: type) -> None:
    """``warnings.warn`` attributed to the first frame outside this module and
    ``pyspark.ml.evaluation`` (the user's ``evaluate`` call, or CrossValidator's), so that the
    default filter shows it once per call site whatever path led here."""
    frame, level = sys._getframe(0), 1
    while frame.f_back is not None and frame.f_code.co_filename in _EVALUATOR_FILES:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


class _RowEvaluatorParams(HasUserCol, HasItemCol, HasRatingCol, HasPredictionCol):
    """Params shared by the evaluators of (user, item, rating, prediction) rows, and of the
    ranked held-out rows of :py:class:`spark_recs.UnseenItemRankerModel` (``rankCol`` set)."""

    nanPredictions: "Param[str]" = Param(
        Params._dummy(),
        "nanPredictions",
        "what to do with rows whose prediction is NaN or null (ALS cold-start rows): 'last' "
        "(rank them after every other row of the user, tied) or 'drop' (leave them out).",
        typeConverter=TypeConverters.toString,
    )
    rankCol: "Param[str]" = Param(
        Params._dummy(),
        "rankCol",
        "rank mode: the column of each held-out row's rank among all the items its user did "
        "not see in training (UnseenItemRankerModel's output); unset: rank the given rows.",
        typeConverter=TypeConverters.toString,
    )
    numAboveCol: "Param[str]" = Param(
        Params._dummy(),
        "numAboveCol",
        "rank mode: the column of the number of candidates scored strictly above the row.",
        typeConverter=TypeConverters.toString,
    )
    numTiedCol: "Param[str]" = Param(
        Params._dummy(),
        "numTiedCol",
        "rank mode: the column of the number of candidates tied with the row, itself included.",
        typeConverter=TypeConverters.toString,
    )
    numCandidatesCol: "Param[str]" = Param(
        Params._dummy(),
        "numCandidatesCol",
        "rank mode: the column of the number of candidates of the row's user.",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._setDefault(
            predictionCol="prediction", nanPredictions="last",
            numAboveCol="numAbove", numTiedCol="numTied", numCandidatesCol="numCandidates",
        )

    def setPredictionCol(self: P, value: str) -> P:
        """Sets the value of :py:attr:`predictionCol`."""
        return self._set(predictionCol=value)

    def setNanPredictions(self: P, value: str) -> P:
        """Sets the value of :py:attr:`nanPredictions`."""
        return self._set(nanPredictions=value)

    def getNanPredictions(self) -> str:
        """Gets the value of :py:attr:`nanPredictions` or its default value 'last'."""
        return self.getOrDefault(self.nanPredictions)

    def setRankCol(self: P, value: str) -> P:
        """Sets the value of :py:attr:`rankCol` (rank mode)."""
        return self._set(rankCol=value)

    def getRankCol(self) -> str:
        """Gets the value of :py:attr:`rankCol`; it has no default (rows mode)."""
        return self.getOrDefault(self.rankCol)

    def setNumAboveCol(self: P, value: str) -> P:
        """Sets the value of :py:attr:`numAboveCol`."""
        return self._set(numAboveCol=value)

    def getNumAboveCol(self) -> str:
        """Gets the value of :py:attr:`numAboveCol` or its default value 'numAbove'."""
        return self.getOrDefault(self.numAboveCol)

    def setNumTiedCol(self: P, value: str) -> P:
        """Sets the value of :py:attr:`numTiedCol`."""
        return self._set(numTiedCol=value)

    def getNumTiedCol(self) -> str:
        """Gets the value of :py:attr:`numTiedCol` or its default value 'numTied'."""
        return self.getOrDefault(self.numTiedCol)

    def setNumCandidatesCol(self: P, value: str) -> P:
        """Sets the value of :py:attr:`numCandidatesCol`."""
        return self._set(numCandidatesCol=value)

    def getNumCandidatesCol(self) -> str:
        """Gets the value of :py:attr:`numCandidatesCol` or its default value 'numCandidates'."""
        return self.getOrDefault(self.numCandidatesCol)

    def _rankMode(self) -> bool:
        """Whether ``rankCol`` is set (to a non-empty name)."""
        return self.isDefined(self.rankCol) and bool(self.getRankCol())

    def _select(self, dataset: DataFrame, item: Optional[str], *extra: Column) -> DataFrame:
        """Check the schema and ``nanPredictions``; the rows as (__u[, __i], __r, __p double,
        __nan, *extra), NaN rows included."""
        V.require_type(self, "userCol", self.getUserCol(), dataset, V.is_atomic_id, "an atomic type")
        if item is not None:
            V.require_type(self, "itemCol", item, dataset, V.is_atomic_id, "an atomic type")
        V.require_type(self, "ratingCol", self.getRatingCol(), dataset, V.is_numeric, "numeric")
        V.require_type(self, "predictionCol", self.getPredictionCol(), dataset, V.is_numeric, "numeric")
        V.require_choice(self, "nanPredictions", self.getNanPredictions(), _NAN_RULES)
        p = column(self.getPredictionCol()).cast("double")
        invalid = V.null_or_nan(p, DoubleType())
        return dataset.select(
            column(self.getUserCol()).alias(_U),
            *([column(item).alias(_I)] if item is not None else []),
            column(self.getRatingCol()).cast("double").alias(_R),
            F.when(invalid, F.lit(float("nan"))).otherwise(p).alias(_P),
            invalid.alias(_NAN),
            *extra,
        )

    def _rows(self, dataset: DataFrame, item: Optional[str]) -> DataFrame:
        """Rows mode: the rows as (__u[, __i], __r, __p double, __nan), less NaN rows under
        nanPredictions='drop'."""
        rows = self._select(dataset, item)
        return rows.where(~F.col(_NAN)) if self.getNanPredictions() == "drop" else rows

    def _rankedRows(self, dataset: DataFrame) -> DataFrame:
        """Rank mode: one row per (user, item) pair, its rows' ratings added up, as (__u, __i,
        __r, __p, __nan, __rank, __h, __t, __ncand, rows, null_ratings); NaN rows are kept
        (``nanPredictions`` acts per user, where the candidates are counted)."""
        cols = [("rankCol", self.getRankCol(), _RANK), ("numAboveCol", self.getNumAboveCol(), _H),
                ("numTiedCol", self.getNumTiedCol(), _T),
                ("numCandidatesCol", self.getNumCandidatesCol(), _NCAND)]
        for param, name, _ in cols:
            V.require_type(
                self, param, name, dataset, V.is_integral, "integral (UnseenItemRankerModel output)"
            )
        rows = self._select(
            dataset, self.getItemCol(), *[column(name).cast("long").alias(a) for _, name, a in cols]
        )
        return rows.groupBy(_U, _I).agg(
            F.sum(_R).alias(_R), F.count(F.lit(1)).alias("rows"),
            _invalid_ratings().alias("null_ratings"),
            F.max(_NAN).alias(_NAN),
            *[F.min(c).alias(c) for c in (_P, _RANK, _H, _T, _NCAND)],
        )

    def _raiseOnBadRows(self, totals: Dict[str, Any], item: Optional[str]) -> None:
        stage = V.stage_name(self)
        for key, param, name, what in (
            ("null_users", "userCol", self.getUserCol(), "null"),
            ("null_items", "itemCol", item, "null"),
            ("null_ratings", "ratingCol", self.getRatingCol(), "null or NaN"),
        ):
            if totals.get(key):
                raise ValueError(f"{stage}: {param} '{name}' has {totals[key]} {what} value(s)")
        if totals.get("null_ranks"):
            raise ValueError(
                f"{stage}: rankCol '{self.getRankCol()}', numAboveCol '{self.getNumAboveCol()}', numTiedCol "
                f"'{self.getNumTiedCol()}' or numCandidatesCol '{self.getNumCandidatesCol()}' is null on "
                f"{totals['null_ranks']} row(s) with a prediction; "
                "pass UnseenItemRankerModel.transform output"
            )
        if not totals.get("rows"):
            raise ValueError(
                f"{stage}: no rows to evaluate in predictionCol '{self.getPredictionCol()}'"
                + (" after dropping NaN/null predictions (nanPredictions='drop')"
                   if self.getNanPredictions() == "drop" else "")
            )


def _invalid_rating() -> Column:
    """A null or NaN rating (the rating is cast to double in ``_rows``)."""
    return V.null_or_nan(F.col(_R), DoubleType())


def _invalid_ratings() -> Column:
    """How many ratings are null or NaN (the rating is cast to double in ``_rows``)."""
    nulls, nans = V.null_nan_counts(F.col(_R), DoubleType())
    return nulls + nans


def _check_counts(rows: DataFrame) -> Dict[str, Column]:
    """Per-user counts of bad values, to be summed into the evaluation's job."""
    return {
        "rows": F.count(F.lit(1)),
        "null_users": F.count(F.when(F.col(_U).isNull(), 1)),
        "null_ratings": _invalid_ratings(),
        "null_items": F.count(F.when(F.col(_I).isNull(), 1)),
    }


class ROEMEvaluator(Evaluator, _RowEvaluatorParams, ParamsReadable, ParamsWritable):
    """Expected percentile ranking (ROEM) of implicit-feedback predictions; lower is better.

    Parameters
    ----------
    userCol, ratingCol, predictionCol : str
        Columns of ``ALSModel.transform`` output: user id, true rating (play count,
        confidence; >= 0) and prediction. Defaults 'user', 'rating', 'prediction'.
    tieRule : str, default 'average'
        'average': tied rows get the average of the positions they span, so a model that
        predicts one constant scores 0.5, what random ranking scores; 'min': tied predictions
        share the best position, as the course's ``PERCENT_RANK`` does. 'min' rewards ties: a
        constant model scores a perfect 0.0 under it, and wins a ``CrossValidator`` grid.
    nanPredictions : str, default 'last'
        Rows whose prediction is NaN or null: 'last' ranks them after all other rows of the
        user (tied among themselves, by ``tieRule``); 'drop' leaves them out.
    rankCol, numAboveCol, numTiedCol, numCandidatesCol, itemCol : str
        Rank mode (``rankCol`` set, no default): the held-out rows of
        :py:class:`spark_recs.UnseenItemRankerModel` with where each ranks among all the
        items its user did not see in training (defaults 'numAbove', 'numTied',
        'numCandidates', 'item').

    Returns
    -------
    float
        ``evaluate`` returns ROEM in [0, 1].

    Raises
    ------
    ValueError
        No row to evaluate, ratings that sum to 0, null users or ratings, negative ratings, a
        missing column or a param out of its choices.
    TypeError
        A column of the wrong type.

    Notes
    -----
    Hu, Koren & Volinsky (2008), "Collaborative Filtering for Implicit Feedback Datasets":
    for each user u, rank u's rows by prediction, descending; ``rank_ui`` is the percentile
    rank ``(position - 1) / (rows of u - 1)``, 0 for a user with one row;

        ROEM = sum_ui(rating_ui * rank_ui) / sum_ui(rating_ui).

    Random ranking gives 0.5 on users with more than one row (0 on users with one). With
    ``tieRule='min'`` this equals the course recipe ``PERCENT_RANK() OVER (PARTITION BY user
    ORDER BY prediction DESC)`` exactly, ties included.

    Rank mode: the user's rows are all its candidates (every catalogue item it did not have in
    training: held-out ones with their rating, the rest 0); a row's position - 1 is
    ``numAbove`` ('min') or ``numAbove + (numTied - 1) / 2`` ('average'), over
    ``numCandidates - 1``: the same number as rows mode on that zero-filled table. One job,
    over the held-out rows only.

    Rows mode runs one aggregation per user that sorts its predictions (``docs/design.md``,
    "ROEM's plan"), one Spark job.

    Nothing per user reaches the driver.

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
    >>> constant = predictions.withColumn("prediction", predictions.prediction * 0)
    >>> evaluator.evaluate(constant), ROEMEvaluator(tieRule="min").evaluate(constant)
    (0.5, 0.0)
    >>> evaluator.isLargerBetter(), evaluator.getMetricName()
    (False, 'roem')
    >>> evaluator.save(temp_path + "/roem")
    >>> ROEMEvaluator.load(temp_path + "/roem").getTieRule()
    'average'
    """

    tieRule: "Param[str]" = Param(
        Params._dummy(),
        "tieRule",
        "how tied predictions are ranked: 'average' (the average of the positions they span: a "
        "constant model scores 0.5, as random ranking does) or 'min' (all take the best "
        "position, as the course's PERCENT_RANK does; rewards ties).",
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
        tieRule: str = "average",
        nanPredictions: str = "last",
        itemCol: str = "item",
        rankCol: Optional[str] = None,
        numAboveCol: str = "numAbove",
        numTiedCol: str = "numTied",
        numCandidatesCol: str = "numCandidates",
    ) -> None:
        super().__init__()
        self._setDefault(tieRule="average")
        kwargs = self._input_kwargs
        self.setParams(**kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        userCol: str = "user",
        ratingCol: str = "rating",
        predictionCol: str = "prediction",
        tieRule: str = "average",
        nanPredictions: str = "last",
        itemCol: str = "item",
        rankCol: Optional[str] = None,
        numAboveCol: str = "numAbove",
        numTiedCol: str = "numTied",
        numCandidatesCol: str = "numCandidates",
    ) -> "ROEMEvaluator":
        """Sets params for this ROEMEvaluator."""
        kwargs = {k: v for k, v in self._input_kwargs.items() if not (k == "rankCol" and v is None)}
        return self._set(**kwargs)

    def setTieRule(self, value: str) -> "ROEMEvaluator":
        """Sets the value of :py:attr:`tieRule`."""
        return self._set(tieRule=value)

    def getTieRule(self) -> str:
        """Gets the value of :py:attr:`tieRule` or its default value 'average'."""
        return self.getOrDefault(self.tieRule)

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
        V.require_choice(self, "tieRule", self.getTieRule(), _TIE_RULES)
        average = self.getTieRule() == "average"
        if self._rankMode():
            totals = self._byRanks(dataset, average)
            return float(totals["numerator"] / totals["denominator"])
        rows = self._rows(dataset, None)
        prediction_type = V.require_type(
            self, "predictionCol", self.getPredictionCol(), dataset, V.is_numeric, "numeric"
        )
        # ALS predicts floats: comparing them as floats, not as their exact double casts, is the
        # same order with half the bytes per value
        p = F.col(_P).cast("float") if isinstance(prediction_type, FloatType) else F.col(_P)
        rows = rows.withColumn(_P, p)
        totals = cast(Row, _roem_by_sorting(rows, average).agg(*_sums()).first()).asDict()
        self._raiseOnBadTotals(totals)
        return float(totals["numerator"] / totals["denominator"])

    def _byRanks(self, dataset: DataFrame, average: bool) -> Dict[str, Any]:
        """Rank mode: per user, the rated rows' positions from their ranks among all the
        user's candidates; NaN rows are dropped or kept, by ``nanPredictions``, user by user."""
        pairs = self._rankedRows(dataset)
        drop = self.getNanPredictions() == "drop"
        kept = ~F.col(_NAN) if drop else F.lit(True)
        position = F.col(_H) + ((F.col(_T) - 1) / 2.0 if average else F.lit(0.0))
        r = F.col(_R)
        per_user = pairs.groupBy(_U).agg(
            F.sum(F.when(kept, r * position)).alias("weighted"),
            F.max(_NCAND).alias("ncand"),
            F.count(F.when(F.col(_NAN), 1)).alias("n_nan"),
            F.count(F.when(kept, 1)).alias("kept"),
            F.sum(F.when(kept, F.col("rows"))).alias("n"),
            F.sum(F.when(kept, r)).alias("rsum"),
            F.sum(F.when(kept & (r < 0), F.col("rows"))).alias("negative"),
            F.sum(F.when(kept, F.col("null_ratings"))).alias("null_ratings"),
            F.count(
                F.when(~F.col(_NAN) & (F.col(_H).isNull() | F.col(_T).isNull() | F.col(_NCAND).isNull()), 1)
            ).alias("null_ranks"),
        )
        # the user's rows in the zero-filled table: its candidates, less the NaN ones when dropped
        n = F.col("ncand") - (F.col("n_nan") if drop else F.lit(0))
        per_user = per_user.select(
            _U, "n", "rsum", "negative", "null_ratings", "null_ranks",
            _user_term(F.coalesce(F.col("weighted"), F.lit(0.0)), n).alias("term"),
        )
        totals = cast(Row, per_user.agg(*_sums(), F.sum("null_ranks").alias("null_ranks")).first()).asDict()
        self._raiseOnBadTotals(totals)
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


def _sums() -> List[Column]:
    """ROEM's totals over per-user rows: the numerator (the users' terms), the denominator and
    the checks' counts."""
    return [
        F.sum("term").alias("numerator"),
        F.sum("rsum").alias("denominator"),
        F.sum("n").alias("rows"),
        F.sum("negative").alias("negative"),
        F.sum(F.when(F.col(_U).isNull(), F.col("n"))).alias("null_users"),
        F.sum("null_ratings").alias("null_ratings"),
    ]


def _row_counts() -> List[Column]:
    """Per-user counts of rows mode: rows, rows without a prediction, the rating sum, and the
    checks' negative and null-or-NaN ratings."""
    r = F.col(_R)
    return [
        F.count(F.lit(1)).alias("n"),
        F.count(F.when(F.col(_NAN), 1)).alias("n_nan"),
        F.sum(r).alias("rsum"),
        F.count(F.when(r < 0, 1)).alias("negative"),
        _invalid_ratings().alias("null_ratings"),
    ]


def _user_term(numerator: Column, n: Column) -> Column:
    """A user's share of ROEM's numerator: the rank-weighted ratings over (rows - 1), or 0 for
    a user with one row."""
    return F.when(n > 1, numerator / F.greatest(n - 1, F.lit(1)).cast("double")).otherwise(0.0)


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
    per_user = per_user.withColumn("rpreds", F.reverse(F.col("preds")))

    def position(x: Column) -> Column:
        """0-based position of a rated row: rows ranked strictly above it, plus half the
        other rows tied with it under the 'average' rule."""
        above, tied = _tie_counts(F.col("preds"), F.col("rpreds"), x["p"], F.isnan(x["p"]), F.col("n_nan"))
        return above + (tied - 1) / 2.0 if average else above.cast("double")

    numerator = F.aggregate(F.col("rated"), F.lit(0.0), lambda acc, x: acc + x["r"] * position(x))
    return per_user.select(
        _U, _user_term(numerator, F.col("n")).alias("term"), "rsum", "n", "negative", "null_ratings"
    )


class _RankingParams(_RowEvaluatorParams, HasK):
    """Params of the top-k ranking evaluators."""

    #: Releases before tieRule broke ties by item id: evaluators they saved keep doing so.
    _behaviourBefore = {"tieRule": "itemId"}

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

    tieRule: "Param[str]" = Param(
        Params._dummy(),
        "tieRule",
        "how tied predictions are ordered: 'average' (the metric's expected value over a random "
        "order of each tie: a constant model scores what random ranking scores) or 'itemId' "
        "(ties by item id ascending, a fixed order: Spark's RankingEvaluator fed lists sorted "
        "so; it rewards a constant model when item ids follow popularity, as IdIndexer's do).",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._setDefault(threshold=0.0, noRelevantUsers="zero", tieRule="average")

    def getThreshold(self) -> float:
        """Gets the value of :py:attr:`threshold` or its default value 0.0."""
        return self.getOrDefault(self.threshold)

    def getNoRelevantUsers(self) -> str:
        """Gets the value of :py:attr:`noRelevantUsers` or its default value 'zero'."""
        return self.getOrDefault(self.noRelevantUsers)

    def getTieRule(self) -> str:
        """Gets the value of :py:attr:`tieRule` or its default value 'average'."""
        return self.getOrDefault(self.tieRule)

    def setThreshold(self: P, value: float) -> P:
        """Sets the value of :py:attr:`threshold`."""
        return self._set(threshold=value)

    def setNoRelevantUsers(self: P, value: str) -> P:
        """Sets the value of :py:attr:`noRelevantUsers`."""
        return self._set(noRelevantUsers=value)

    def setTieRule(self: P, value: str) -> P:
        """Sets the value of :py:attr:`tieRule`."""
        return self._set(tieRule=value)

    def _metric(self) -> str:
        raise NotImplementedError

    def _rankingMetric(self, dataset: DataFrame) -> float:
        return self._rankingMetrics(dataset, [(self._metric(), self.getK())])[0]

    def _sharesPerUserStats(self) -> bool:
        """Whether every metric and k read the same per-user stats (rank mode, or ties
        averaged), so that several can come from one job."""
        return self._rankMode() or self.getTieRule() != "itemId"

    def _rankingMetrics(self, dataset: DataFrame, specs: Sequence[Tuple[str, int]]) -> List[float]:
        """The value of each (metricName, k) of ``specs``, from one job. More than one spec
        needs :py:meth:`_sharesPerUserStats`."""
        stage = V.stage_name(self)
        threshold = self.getThreshold()
        for _, k in specs:
            V.require_param(self, "k", k, k >= 1, "be >= 1",
                            f"top-ranked rows per userCol '{self.getUserCol()}'")
        metric, k = specs[0]
        V.require_param(
            self, "threshold", threshold, threshold == threshold, "not be NaN",
            f"relevant when ratingCol '{self.getRatingCol()}' > threshold",
        )
        V.require_choice(self, "noRelevantUsers", self.getNoRelevantUsers(), _NO_RELEVANT_RULES)
        V.require_choice(self, "tieRule", self.getTieRule(), _TOP_K_TIE_RULES)
        by_item = self.getTieRule() == "itemId"
        relevant = F.col(_R) > F.lit(threshold)
        if self._rankMode():
            per_user = _ranked_stats(
                self._rankedRows(dataset), relevant, by_item, self.getNanPredictions() == "drop"
            )
        else:
            rows = self._rows(dataset, self.getItemCol()).withColumn(_REL, relevant.cast("int"))
            if not by_item:
                per_user = _sorted_stats(rows)
            elif metric == "meanAveragePrecision":
                per_user = _full_ranking_stats(rows)
            else:
                per_user = _top_k_stats(
                    rows, k, has_min_by_k(dataset.sparkSession) and not _FORCE_WINDOW_TOP_K
                )
        rel, n_rel = F.col("stats"), F.col("n_rel")
        counted = n_rel > 0 if self.getNoRelevantUsers() == "exclude" else F.lit(True)
        scores = [F.when(n_rel > 0, _METRIC_EXPRESSIONS[m](rel, n_rel, kk)).otherwise(F.lit(0.0))
                  for m, kk in specs]
        values = [F.avg(F.when(counted, score)).alias(f"value{j}") for j, score in enumerate(scores)]
        totals = cast(Row, per_user.agg(
            *values,
            F.count(F.when(counted, 1)).alias("users"),
            F.sum("rows").alias("rows"),
            F.sum(F.when(F.col(_U).isNull(), F.col("rows"))).alias("null_users"),
            F.sum("null_items").alias("null_items"),
            F.sum("null_ratings").alias("null_ratings"),
            F.sum("null_ranks").alias("null_ranks"),
            F.sum("n_rel").alias("relevant_rows"),  # rows mode: relevant rows (the warning's count)
        ).first()).asDict()
        self._raiseOnBadRows(totals, self.getItemCol())
        if not totals["users"]:
            raise ValueError(
                f"{stage}: no user has a relevant row (ratingCol '{self.getRatingCol()}' > "
                f"threshold {threshold}) and noRelevantUsers='exclude' leaves none to average"
            )
        if not self._rankMode() and totals["relevant_rows"] == totals["rows"]:
            _warn_at_call_site(
                f"{stage}: every row is relevant (ratingCol '{self.getRatingCol()}' > threshold {threshold} "
                "on all rows, none non-relevant): on positives-only data a rows-mode ranking metric is about "
                "1 whatever the model; rank held-out rows among all unseen items instead (UnseenItemRanker, "
                "then the evaluator with rankCol='rank')",
                AllRowsRelevantWarning,
            )
        return [float(totals[f"value{j}"]) for j in range(len(specs))]


#: Each metric from a user's relevant rows' ``stats`` (see ``_rank_metrics``), their number
#: and k.
_METRIC_EXPRESSIONS: Dict[str, Callable[[Column, Column, int], Column]] = {
    "precisionAtK": lambda rel, n, k: M.precision_at_k(rel, k),
    "recallAtK": lambda rel, n, k: M.recall_at_k(rel, n, k),
    "ndcgAtK": lambda rel, n, k: M.ndcg_at_k(rel, n, k),
    "meanAveragePrecisionAtK": lambda rel, n, k: M.average_precision(rel, n, k),
    "meanAveragePrecision": lambda rel, n, k: M.average_precision(rel, n),
    "mrrAtK": lambda rel, n, k: M.reciprocal_rank_at_k(rel, k),
    "hitRateAtK": lambda rel, n, k: M.hit_at_k(rel, k),
}


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
        F.lit(0).alias("null_ranks"),
    )


def _positions_stats(positions: Column) -> Column:
    """Stats of relevant rows in a fixed order, from their 1-based positions sorted
    ascending: h = position - 1, t = m = 1, rg = the relevant rows before it."""
    return F.transform(positions, lambda p, j: M.stats(p - 1, F.lit(1), j, F.lit(1)))


def _top_k_stats(rows: DataFrame, k: int, bounded_aggregate: bool) -> DataFrame:
    """tieRule='itemId': per user, the stats of the relevant rows among its k top-ranked rows
    (prediction descending, NaN last, ties by item ascending), and counts."""
    order = F.struct((-F.col(_P)).alias("np"), F.col(_I).alias("i"))
    if bounded_aggregate:
        # one aggregation; each partial aggregate keeps at most k rows per user
        per_user = rows.groupBy(_U).agg(
            F.call_function("min_by", F.col(_REL), order, F.lit(k)).alias("top"), *_per_user_counts(rows)
        )
        flags = F.col("top")
    else:
        # Spark < 4.2: number the rows per user and keep the first k (Spark plans a group limit)
        rank = F.row_number().over(Window.partitionBy(_U).orderBy(order))
        counts = rows.groupBy(_U).agg(*_per_user_counts(rows))
        top = (
            rows.withColumn("__rank", rank).where(F.col("__rank") <= k)
            .groupBy(_U)
            .agg(F.sort_array(F.collect_list(F.struct("__rank", _REL))).alias("top"))
        )
        per_user = counts.join(top, _U, "left").withColumn("top", F.coalesce(F.col("top"), F.array()))
        flags = F.transform(F.col("top"), lambda x: x[_REL])
    positions = F.filter(F.transform(flags, lambda x, i: F.when(x > 0, i + 1)), lambda p: p.isNotNull())
    return per_user.withColumn("stats", _positions_stats(positions))


def _full_ranking_stats(rows: DataFrame) -> DataFrame:
    """tieRule='itemId', whole ranking: per user, each relevant row's position among all its
    rows. Each user's (order, relevance) keys are sorted natively and each relevant key found
    with ``array_position``; nothing walks the whole ranking row by row (an interpreted fold
    over every row made full MAP 10x slower than Spark's). Copies of one key (duplicate rows)
    sit next to each other, so each copy after the first takes the next position."""
    order = F.struct((-F.col(_P)).alias("np"), F.col(_I).alias("i"))
    key = F.struct(order.alias("o"), F.col(_REL).alias("rel"))
    per_user = rows.groupBy(_U).agg(
        F.sort_array(F.collect_list(key)).alias("all"),
        F.collect_list(F.when(F.col(_REL) > 0, key)).alias("relevant"),
        *_per_user_counts(rows),
    )
    first = F.sort_array(F.transform(F.col("relevant"), lambda x: array_position(F.col("all"), x)))
    positions = F.transform(first, lambda p, j: p + j - array_position(first, p) + 1)
    return per_user.withColumn("stats", _positions_stats(positions))


def _tie_counts(
    preds: Column, reversed_preds: Column, p: Column, is_nan: Column, n_nan: Column
) -> Tuple[Column, Column]:
    """(rows strictly above, rows tied, itself included) of a row with prediction p among a
    user's non-NaN predictions ``preds``, sorted descending (p is among them unless NaN, and
    ``reversed_preds`` is them reversed); a NaN row ranks below them all, tied with the user's
    ``n_nan`` NaN rows."""
    first = array_position(preds, p)  # 1-based first of the tie
    last = F.size(preds) - array_position(reversed_preds, p) + 1
    above = F.when(is_nan, F.size(preds)).otherwise(first - 1)
    tied = F.when(is_nan, n_nan).otherwise(last - first + 1)
    return above, tied


def _with_average_stats(
    per_user: DataFrame, above: Callable[[Column], Column], tied: Callable[[Column], Column]
) -> DataFrame:
    """tieRule='average': ``per_user`` with ``stats``, the stats of each user's relevant rows
    (``rel``: structs with p and nan), given how many of all the user's rows are above and tied
    with each; the relevant rows above and tied come from the relevant rows' own predictions,
    sorted once per user into a column of their own (referenced, not re-evaluated, by each
    row's lambda: linear in the user's relevant rows, not quadratic)."""
    scored = F.sort_array(
        F.filter(F.transform("rel", lambda x: F.when(~x["nan"], x["p"])), lambda p: p.isNotNull()), asc=False
    )
    per_user = (
        per_user.withColumn("__rel_p", scored)
        .withColumn("__rel_rp", F.reverse("__rel_p"))
        .withColumn("__rel_nan", F.size(F.filter("rel", lambda x: x["nan"])))
    )

    def stat(x: Column) -> Column:
        rg, m = _tie_counts(F.col("__rel_p"), F.col("__rel_rp"), x["p"], x["nan"], F.col("__rel_nan"))
        return M.stats(above(x), tied(x), rg, m)

    return per_user.withColumn("stats", F.transform("rel", stat)).drop("__rel_p", "__rel_rp", "__rel_nan")


def _sorted_stats(rows: DataFrame) -> DataFrame:
    """tieRule='average', rows mode: per user, its predictions sorted once; each relevant
    row's rows above and tied from ``array_position`` in them (as ROEM's 'sort' plan)."""
    p = F.col(_P)
    per_user = rows.groupBy(_U).agg(
        # collect_list skips nulls: "preds" holds the user's non-NaN predictions
        F.sort_array(F.collect_list(F.when(~F.col(_NAN), p)), asc=False).alias("preds"),
        F.collect_list(
            F.when(F.col(_REL) > 0, F.struct(p.alias("p"), F.col(_NAN).alias("nan")))
        ).alias("rel"),
        F.count(F.when(F.col(_NAN), 1)).alias("n_nan"),
        *_per_user_counts(rows),
    ).withColumn("rpreds", F.reverse(F.col("preds")))

    def counts(x: Column) -> Tuple[Column, Column]:
        return _tie_counts(F.col("preds"), F.col("rpreds"), x["p"], x["nan"], F.col("n_nan"))

    return _with_average_stats(per_user, lambda x: counts(x)[0], lambda x: counts(x)[1])


def _ranked_stats(pairs: DataFrame, relevant: Column, by_item: bool, drop: bool) -> DataFrame:
    """Rank mode: per user, the stats of its relevant held-out rows from their ranks among
    all its candidates, and counts; NaN rows left out under nanPredictions='drop'."""
    kept = ~F.col(_NAN) if drop else F.lit(True)
    row = F.struct(F.col(_P).alias("p"), F.col(_NAN).alias("nan"), F.col(_H).alias("h"),
                   F.col(_T).alias("t"), F.col(_RANK).alias("rank"))
    per_user = pairs.groupBy(_U).agg(
        F.collect_list(F.when(kept & relevant, row)).alias("rel"),
        F.count(F.when(kept & relevant, 1)).alias("n_rel"),
        F.sum(F.when(kept, F.col("rows"))).alias("rows"),
        F.sum(F.when(kept, F.col("null_ratings"))).alias("null_ratings"),
        F.sum(F.when(F.col(_I).isNull(), F.col("rows"))).alias("null_items"),
        F.count(F.when(~F.col(_NAN) & (F.col(_H).isNull() | F.col(_T).isNull() | F.col(_RANK).isNull()), 1))
        .alias("null_ranks"),
        F.count(F.when(~F.col(_NAN) | (F.col(_H) > 0), 1)).alias("scored"),
    )
    if drop:
        # the user's table keeps its scored candidates: a user has some unless it has no factors
        # (its NaN rows have no candidate above them) or no candidate at all; without any it
        # has no row left and is not evaluated, as in rows mode
        per_user = per_user.where(F.col("scored") > 0)
    if not by_item:
        return _with_average_stats(per_user, lambda x: x["h"], lambda x: x["t"])
    positions = F.sort_array(F.transform(F.col("rel"), lambda x: x["rank"]))
    return per_user.withColumn("stats", _positions_stats(positions))


_SHARED_PARAMS_DOC = """    userCol, itemCol, ratingCol, predictionCol : str
        Defaults 'user', 'item', 'rating', 'prediction', as ALS names them.
    threshold : float, default 0.0
        A row is relevant when its rating is greater than ``threshold``.
    noRelevantUsers : str, default 'zero'
        Users with no relevant row score 0 and count ('zero', Spark's rule) or are left out
        ('exclude').
    tieRule : str, default 'average'
        Tied predictions: 'average' scores the metric's expected value over a random order of
        each tie, so a model that predicts one constant scores what random ranking scores;
        'itemId' breaks ties by item id ascending (Spark's ``RankingEvaluator`` fed lists
        sorted so), which rewards a constant model when ids follow popularity (IdIndexer's
        ids do: id 0 is the most frequent item).
    nanPredictions : str, default 'last'
        Rows with a NaN or null prediction: rank them 'last' (tied), or 'drop' them.
    rankCol, numAboveCol, numTiedCol, numCandidatesCol : str
        Rank mode (``rankCol`` set, no default): the held-out rows of
        :py:class:`spark_recs.UnseenItemRankerModel` with where each ranks among all the
        items its user did not see in training (defaults 'numAbove', 'numTied',
        'numCandidates'). The rows of one (user, item) pair are one candidate: their ratings
        add up.

"""

_SHARED_NOTES = """    Ties: under 'average' each metric is its expected value when every tie is put in a
    uniformly random order (McSherry & Najork 2008), computed exactly from how many rows rank
    above each relevant row and how many tie with it; under 'itemId' it is Spark's definition
    on the order (prediction descending, item ascending). Both give the same number when no
    prediction ties.

    Rank mode computes each metric from the held-out rows alone, in one job: the same number
    as rows mode on the zero-filled table of the user's candidates (every catalogue item it
    did not have in training: held-out ones with their rating, the rest 0).

    How rows mode runs: one aggregation per user. 'average' sorts each user's predictions once
    and finds each relevant row with ``array_position``. 'itemId' keeps a bounded top-k on
    Spark >= 4.2 (``min_by(rel, (-prediction, item), k)``: only k rows per user and partition
    are shuffled; older Spark numbers each user's rows in a window), and sorts each user's
    rows for meanAveragePrecision. Nothing per user reaches the driver.

"""


class RankingMetricsEvaluator(_RankingEvaluator, ParamsReadable, ParamsWritable):
    """Top-k ranking metrics (precision@k, recall@k, NDCG@k, MAP@k, MAP, MRR@k, hit rate@k)
    of ``ALSModel.transform`` output, or of held-out rows ranked among all unseen items.

    Parameters
    ----------
    metricName : str, default 'precisionAtK'
        'precisionAtK', 'recallAtK', 'ndcgAtK', 'meanAveragePrecisionAtK', 'mrrAtK',
        'hitRateAtK' or 'meanAveragePrecision' (over each user's whole ranking; ``k`` is
        not used).
    k : int, default 10
        How many top-ranked rows per user the metric looks at (>= 1).
{params}    Returns
    -------
    float
        ``evaluate`` returns the metric averaged over users, in [0, 1].

    Raises
    ------
    ValueError
        k < 1, a NaN threshold, a param out of its choices, a missing column, null users,
        items or ratings, NaN ratings, no row to evaluate, or no user with a relevant row under
        noRelevantUsers='exclude'.
    TypeError
        A column of the wrong type.

    Warns
    -----
    AllRowsRelevantWarning
        Rows mode, when no row is non-relevant (positives-only data: the metric is then about 1
        whatever the model); once per call site. Counted in the metric's own job.

    Notes
    -----
    For each user, ``R`` is the set of relevant rows and ``rel_i`` is 1 when the row at
    position i (0-based) of the user's ranking (prediction descending) is relevant. Per user:

    - precisionAtK = (relevant among the top k) / k (k, even if the user has fewer rows);
    - recallAtK = (relevant among the top k) / |R|;
    - ndcgAtK = sum_{i<k} rel_i / log2(i + 2), divided by the same sum for an ideal ranking,
      sum_{i < min(|R|, k)} 1 / log2(i + 2);
    - meanAveragePrecisionAtK = sum_{i<k, rel_i} P@(i+1) / min(|R|, k);
    - meanAveragePrecision = sum_{rel_i} P@(i+1) / |R| over the whole ranking;
    - mrrAtK = 1 / (position of the first relevant row) if it is within the top k, else 0
      (RePlay's MRR@K);
    - hitRateAtK = 1 if a relevant row is within the top k, else 0 (RePlay's HitRate@K),

    averaged over users. The first five are Spark's ``RankingMetrics`` definitions, so under
    tieRule='itemId' each equals ``RankingEvaluator`` fed, per user, the ranked items and the
    relevant items.

{notes}    Examples
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
    >>> evaluator.evaluate(predictions, {evaluator.metricName: "mrrAtK"})  # (1/1 + 1/2) / 2
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
        tieRule: str = "average",
        nanPredictions: str = "last",
        rankCol: Optional[str] = None,
        numAboveCol: str = "numAbove",
        numTiedCol: str = "numTied",
        numCandidatesCol: str = "numCandidates",
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
        tieRule: str = "average",
        nanPredictions: str = "last",
        rankCol: Optional[str] = None,
        numAboveCol: str = "numAbove",
        numTiedCol: str = "numTied",
        numCandidatesCol: str = "numCandidates",
    ) -> "RankingMetricsEvaluator":
        """Sets params for this RankingMetricsEvaluator."""
        return self._set(**_without_none_rank_col(self._input_kwargs))

    def setMetricName(self, value: str) -> "RankingMetricsEvaluator":
        """Sets the value of :py:attr:`metricName`."""
        return self._set(metricName=value)

    def getMetricName(self) -> str:
        """Gets the value of :py:attr:`metricName` or its default value."""
        return self.getOrDefault(self.metricName)

    def _metric(self) -> str:
        V.require_choice(self, "metricName", self.getMetricName(), _METRICS)
        return self.getMetricName()

    def evaluateMetrics(self, dataset: DataFrame, metrics: Mapping[str, Tuple[str, int]]) -> Dict[str, float]:
        """Several metrics of one dataset, each as :py:meth:`evaluate` with that ``metricName``
        and ``k`` (the other params this evaluator's) would give it.

        Parameters
        ----------
        dataset : :py:class:`pyspark.sql.DataFrame`
            As for :py:meth:`evaluate`.
        metrics : mapping of str to (str, int)
            A name of your choosing to (metricName, k); k is ignored by
            ``meanAveragePrecision``.

        Returns
        -------
        dict of str to float
            Each name's value.

        Raises
        ------
        ValueError
            What :py:meth:`evaluate` raises, for any of the metrics.

        Notes
        -----
        Spark jobs: one, when the metrics share their per-user ranking statistics: in rank
        mode (``rankCol`` set) or with ``tieRule='average'``; with ``tieRule='itemId'`` on
        scored rows (whose top-k depends on k and the metric) one job per metric.

        Examples
        --------
        >>> from spark_recs import RankingMetricsEvaluator
        >>> predictions = spark.createDataFrame(
        ...     [(1, 10, 1.0, 0.9), (1, 11, 0.0, 0.8), (1, 12, 1.0, 0.1), (2, 10, 1.0, 0.5)],
        ...     ["user", "item", "rating", "prediction"])
        >>> values = RankingMetricsEvaluator().evaluateMetrics(
        ...     predictions, {"p@1": ("precisionAtK", 1), "map": ("meanAveragePrecision", 1)})
        >>> {name: round(v, 4) for name, v in values.items()}
        {'p@1': 1.0, 'map': 0.9167}
        """
        names = list(metrics)
        for name in names:
            V.require_choice(self, "metricName", metrics[name][0], _METRICS)
        if self._sharesPerUserStats():
            values = self._rankingMetrics(dataset, [metrics[name] for name in names])
            return dict(zip(names, values))
        return {name: self.copy({self.metricName: m, self.k: k}).evaluate(dataset)
                for name, (m, k) in metrics.items()}


class PrecisionAtKEvaluator(_RankingEvaluator, ParamsReadable, ParamsWritable):
    """Precision at k: per user, the share of the k top-ranked rows that are relevant,
    averaged over users; larger is better.

    Parameters
    ----------
    k : int, default 10
        How many top-ranked rows per user count (>= 1).
{params}    Returns
    -------
    float
        ``evaluate`` returns precision@k averaged over users, in [0, 1].

    Raises
    ------
    ValueError, TypeError
        As :py:class:`RankingMetricsEvaluator`.

    Warns
    -----
    AllRowsRelevantWarning
        Rows mode, when no row is non-relevant (positives-only data: the metric is then about 1
        whatever the model); once per call site. As :py:class:`RankingMetricsEvaluator`.

    Notes
    -----
    Per user: relevant rows among the k with the highest prediction, over k (also when the
    user has fewer than k rows). Under tieRule='itemId' this equals Spark's
    ``RankingEvaluator(metricName="precisionAtK", k=k)`` fed, per user, the top-k predicted
    items and the relevant items. :py:class:`RankingMetricsEvaluator` has the other metrics;
    this is the one with ``metricName='precisionAtK'``.

{notes}    Examples
    --------
    >>> from spark_recs import PrecisionAtKEvaluator
    >>> predictions = spark.createDataFrame(
    ...     [("ann", "a", 1.0, 0.9), ("ann", "b", 0.0, 0.8), ("bob", "a", 3.0, 0.5)],
    ...     ["user", "item", "rating", "prediction"])
    >>> PrecisionAtKEvaluator(k=1).evaluate(predictions)
    1.0
    >>> PrecisionAtKEvaluator(k=2).evaluate(predictions)  # ann 1/2, bob 1/2
    0.5
    >>> tied = predictions.withColumn("prediction", predictions.prediction * 0)
    >>> PrecisionAtKEvaluator(k=1).evaluate(tied)  # ann: 1/2 expected, bob: 1
    0.75
    >>> PrecisionAtKEvaluator(k=2).getMetricName()
    'precisionAtK'
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
        tieRule: str = "average",
        nanPredictions: str = "last",
        rankCol: Optional[str] = None,
        numAboveCol: str = "numAbove",
        numTiedCol: str = "numTied",
        numCandidatesCol: str = "numCandidates",
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
        tieRule: str = "average",
        nanPredictions: str = "last",
        rankCol: Optional[str] = None,
        numAboveCol: str = "numAbove",
        numTiedCol: str = "numTied",
        numCandidatesCol: str = "numCandidates",
    ) -> "PrecisionAtKEvaluator":
        """Sets params for this PrecisionAtKEvaluator."""
        return self._set(**_without_none_rank_col(self._input_kwargs))

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


def _without_none_rank_col(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Keyword arguments less ``rankCol=None``, which leaves rows mode as it is."""
    return {k: v for k, v in kwargs.items() if not (k == "rankCol" and v is None)}


# The two top-k evaluators share these parts of their docstrings.
for _cls in (RankingMetricsEvaluator, PrecisionAtKEvaluator):
    _cls.__doc__ = (
        (_cls.__doc__ or "").replace("{params}", _SHARED_PARAMS_DOC).replace("{notes}", _SHARED_NOTES)
    )
del _cls
