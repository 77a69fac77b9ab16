"""The recommender workflow as a Python API: load, prepare, tune, report and write.

What ``spark-recs stats``, ``tune``, ``recommend`` and ``demo`` run, as functions that return
their results: :py:func:`load_data` reads interactions by loader, :py:func:`prepare` turns them
into what ALS fits for a kind of feedback, :py:func:`tune` cross-validates ALS over a grid on
per-user folds (reporting each fit through a :py:class:`Progress`) and returns a
:py:class:`TuneResult`, :py:func:`write_tune_outputs` saves the model, ``metrics.json``,
``grid.csv`` and ``grid.png``, which :py:func:`locate_tune_outputs` finds again, and
:py:func:`format_table` lays rows out as the commands print them. The command line
(:py:mod:`spark_recs.cli`) only parses arguments, builds the session and prints.
"""

import csv
import json
import math
import os
import sys
import threading
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import (
    Any,
    ContextManager,
    Dict,
    List,
    Literal,
    NamedTuple,
    Optional,
    Sequence,
    TextIO,
    Tuple,
    cast,
)

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.evaluation import Evaluator, RegressionEvaluator
from pyspark.ml.param import Param
from pyspark.ml.recommendation import ALS
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DataType

from spark_recs import datasets
from spark_recs._checkpoint import require_checkpointing
from spark_recs._session import conf_scope
from spark_recs._validation import column, require_choice
from spark_recs.baselines import fit_biases
from spark_recs.binary import BinaryRater
from spark_recs.evaluation import RankingMetricsEvaluator, ROEMEvaluator
from spark_recs.indexer import IdIndexer, IdIndexerModel
from spark_recs.popularity import PopularityRecommender
from spark_recs.ranking import UnseenItemRanker, UnseenItemRankerModel
from spark_recs.recommendation import ImplicitALS
from spark_recs.settings import DEFAULTS, Settings, settings_with
from spark_recs.top_n import als_and_indexer
from spark_recs.tuning import PerUserFolds, train_test_split_per_user
from spark_recs.weighting import ConfidenceWeighter
from spark_recs.zeros import ZeroFiller

__all__ = [
    "history_as_fit",
    "BaselineVerdict",
    "EXPLICIT_METRICS",
    "FEEDBACKS",
    "HOLDOUT_METRICS",
    "PROTOCOLS",
    "LOADERS",
    "METRICS",
    "LoadedData",
    "Progress",
    "TuneOutputs",
    "TuneResult",
    "format_table",
    "id_types",
    "load_data",
    "evaluate_holdout",
    "locate_tune_outputs",
    "positives",
    "metric_evaluator",
    "plot_grid",
    "prepare",
    "reporting_pipeline",
    "tune",
    "write_tune_outputs",
    "ROWS_PER_PARTITION",
    "INDEXED_COLUMNS",
    "HoldoutAndFolds",
    "TunedRanker",
    "WorkSizes",
    "cross_validate_ranker",
    "most_popular",
    "sized_shuffles",
    "split_holdout_and_folds",
    "work_sizes",
    "tie_notes",
    "versus_baseline",
    "weighting_stage",
]

#: Kinds of feedback: stars as they are, play counts (zero-filled), or 1/0 above a threshold.
FEEDBACKS = ("explicit", "implicit", "binary")
#: How :py:func:`load_data` reads a path.
LOADERS = ["synthetic", "movielens", "movielens-100k", "taste-profile", "csv", "parquet"]
#: Metrics for explicit feedback only.
EXPLICIT_METRICS = ("rmse", "mae")
#: Short names of the ranking metrics, and the ``RankingMetricsEvaluator`` metricName of each.
_RANKING = {
    "precision": "precisionAtK", "recall": "recallAtK", "ndcg": "ndcgAtK", "map": "meanAveragePrecision"
}
_RANKING_NAMES = ("precisionAtK", "recallAtK", "ndcgAtK", "meanAveragePrecision", "meanAveragePrecisionAtK")
#: How :py:func:`tune` scores: each held-out item among all the items its user did not see
#: (the field's protocol), or among the rows of a zero-filled table (the course's), both for
#: implicit and binary feedback; explicit feedback: each user's held-out ratings predicted
#: (RMSE, MAE).
PROTOCOLS = ("full-catalogue", "zero-filled", "held-out-ratings")
#: Every name :py:func:`metric_evaluator` takes.
METRICS = (*EXPLICIT_METRICS, "roem", *_RANKING, *_RANKING_NAMES)


# -- progress --------------------------------------------------------------------------------


#: Interaction rows per shuffle partition and per ALS block when an entry point sizes its work
#: to its data (:py:func:`work_sizes`).
ROWS_PER_PARTITION = 250_000


class WorkSizes(NamedTuple):
    """What :py:func:`work_sizes` returns."""

    #: ``spark.sql.shuffle.partitions``: 4 .. 200.
    shuffle_partitions: int
    #: ALS's ``numUserBlocks`` and ``numItemBlocks``: 2 .. 10.
    als_blocks: int


def work_sizes(rows: int) -> WorkSizes:
    """Shuffle partitions and ALS blocks for ``rows`` interactions: one per
    :py:data:`ROWS_PER_PARTITION` rows, at least 4 partitions and 2 blocks, at most Spark's
    defaults (200 shuffle partitions, 10 ALS blocks), which suit tens of millions of rows. On
    small data those defaults cost most of the time: 2,000 real Taste Profile triplets took
    270 s through the chapter-4 example (issue 15), each of 200 tiny tasks paying its fixed cost.

    Examples
    --------
    >>> from spark_recs.workflow import work_sizes
    >>> work_sizes(100_000), work_sizes(10_000_000), work_sizes(10**9)
    (WorkSizes(shuffle_partitions=4, als_blocks=2), WorkSizes(shuffle_partitions=40, als_blocks=10), \
WorkSizes(shuffle_partitions=200, als_blocks=10))
    """
    n = math.ceil(max(int(rows), 1) / ROWS_PER_PARTITION)
    return WorkSizes(shuffle_partitions=min(200, max(4, n)), als_blocks=min(10, max(2, n)))


def sized_shuffles(spark: SparkSession, partitions: Optional[int]) -> ContextManager[None]:
    """``spark.sql.shuffle.partitions`` set to ``partitions`` for a ``with`` block, the
    session's own value put back after it (classic and Spark Connect alike); None leaves the
    session's setting alone (the user chose one)."""
    if partitions is None:
        return nullcontext()
    return conf_scope(spark, {"spark.sql.shuffle.partitions": str(partitions)})


class Progress:
    """Counts fits across CrossValidator's threads and reports each one.

    Each :py:meth:`tick` writes one line: which fit of how many, the time since the
    :py:class:`Progress` was made, and an estimate of the time left (elapsed / done x left).

    Parameters
    ----------
    total : int
        Fits expected.
    label : str
        Printed in brackets at the start of each line.
    stream : file-like, optional
        Where lines go; standard error when None.
    """

    def __init__(self, total: int, label: str, stream: Optional[TextIO] = None) -> None:
        self.total, self.label, self.stream = total, label, stream
        self.done = 0
        self.start = time.monotonic()
        self.lock = threading.Lock()

    def tick(self, what: str = "") -> None:
        """Count one fit and write its line, e.g. ``[tune] fit 3/7 (rank=8) elapsed 12s, ~16s left``."""
        with self.lock:
            self.done += 1
            elapsed = time.monotonic() - self.start
            left = elapsed / self.done * (self.total - self.done)
            what = f" {what}" if what else ""
            print(
                f"[{self.label}] fit {self.done}/{self.total}{what} elapsed {elapsed:.0f}s, "
                f"~{left:.0f}s left",
                file=self.stream or sys.stderr,
                flush=True,
            )


def reporting_pipeline(stages: List[Any], progress: Progress) -> Pipeline:
    """A :py:class:`pyspark.ml.Pipeline` of ``stages`` that ticks ``progress`` after each fit.

    CrossValidator fits copies of the pipeline, from several threads; every copy ticks the same
    ``progress``, with the rank of the last stage when it has one.

    Parameters
    ----------
    stages : list of pipeline stages
    progress : Progress

    Returns
    -------
    :py:class:`pyspark.ml.Pipeline`
        Fits as ``Pipeline(stages=stages)`` does; it is not meant to be saved (its class is
        made here).
    """

    class ReportingPipeline(Pipeline):
        def _fit(self, dataset: DataFrame) -> PipelineModel:
            model = super()._fit(dataset)
            last = model.stages[-1]
            inner = getattr(last, "model", last)  # an UnseenItemRankerModel holds its ALSModel
            what = f"(rank={inner.rank})" if hasattr(inner, "rank") else ""
            progress.tick(what)
            return model

    return ReportingPipeline(stages=stages)


# -- data ------------------------------------------------------------------------------------


class LoadedData(NamedTuple):
    """What :py:func:`load_data` read."""

    #: The interactions, with the loader's column names.
    interactions: DataFrame
    #: Items with titles (synthetic, MovieLens), or None.
    items: Optional[DataFrame]
    #: The (user, item, rating) column names of ``interactions``.
    columns: Tuple[str, str, str]

    def as_user_item_rating(self) -> DataFrame:
        """The interactions as three columns named ``user``, ``item``, ``rating`` (what
        :py:func:`prepare` and :py:func:`tune` take)."""
        user, item, rating = self.columns
        return self.interactions.select(
            column(user).alias("user"), column(item).alias("item"), column(rating).alias("rating")
        )


def load_data(
    spark: SparkSession,
    path: Optional[str] = None,
    *,
    loader: Optional[str] = None,
    feedback: str = "explicit",
    userCol: str = "user",
    itemCol: str = "item",
    ratingCol: str = "rating",
    sep: str = ",",
    synthetic: str = "ml-latest-small",
    numUsers: Optional[int] = None,
    numItems: Optional[int] = None,
    numRatings: Optional[int] = None,
    seed: int = 42,
) -> LoadedData:
    """Read interactions with one of the :py:data:`LOADERS`, or make synthetic ones.

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
    path : str, optional
        A file or directory; without it (and without ``loader``) the embedded synthetic data.
    loader : str, optional
        One of :py:data:`LOADERS`; by default 'parquet' for a path ending ``.parquet`` or
        ``.pq``, 'csv' for any other path, 'synthetic' without a path.
    feedback : str, default 'explicit'
        Synthetic data: 'explicit' makes 1-5 stars, 'implicit' and 'binary' play counts.
    userCol, itemCol, ratingCol, sep : str
        'csv' and 'parquet': the columns to read (the result keeps their names; its rating
        is a number, its csv ids strings) and the csv field separator.
    synthetic : str, default 'ml-latest-small'
        Synthetic data: one of :py:data:`~spark_recs.datasets.SYNTHETIC_SETTINGS`, the shape
        of the public data set it imitates.
    numUsers, numItems, numRatings : int, optional
        Synthetic data: sizes that replace those of ``synthetic``.
    seed : int, default 42
        Synthetic data: the seed.

    Returns
    -------
    LoadedData
        ``interactions`` with the loader's columns ('movielens', 'movielens-100k' (a
        directory in ml-100k's layout, or one ``u.data``-style file, without titles): userId,
        movieId, rating; 'taste-profile': user, song, plays; 'csv' and 'parquet': userCol,
        itemCol, ratingCol; 'synthetic': user, item, rating),
        ``items`` (synthetic and MovieLens titles, else None) and ``columns``, the (user, item,
        rating) names.

    Raises
    ------
    ValueError
        An unknown loader or ``synthetic`` setting, a loader other than 'synthetic' without a
        path, or what the loader raises (bad fields, negative play counts, ...).
    FileNotFoundError
        ``path`` does not exist.

    Notes
    -----
    The loaders of :py:mod:`spark_recs.datasets` run one checking job per file; the synthetic
    data are generated by a Spark job when they are first used.
    """
    loader = loader or ("synthetic" if not path else None)
    if loader is None:
        loader = "parquet" if str(path).lower().endswith((".parquet", ".pq")) else "csv"
    if loader not in LOADERS:
        raise ValueError(f"load_data: loader must be one of {LOADERS}, found {loader!r}")
    if loader == "synthetic":
        require_choice("load_data", "synthetic", synthetic, list(datasets.SYNTHETIC_SETTINGS))
        settings = dict(datasets.SYNTHETIC_SETTINGS[synthetic])
        sizes = dict(numUsers=numUsers, numItems=numItems, numRatings=numRatings)
        settings.update({name: value for name, value in sizes.items() if value is not None})
        kind = "explicit" if feedback == "explicit" else "implicit"
        ratings, items = datasets.synthetic_ratings(spark, **settings, kind=kind, seed=seed)
        return LoadedData(ratings, items, ("user", "item", "rating"))
    if not path:
        raise ValueError(f"load_data: loader {loader!r} needs a path")
    if loader == "movielens":
        ratings, movies = datasets.load_movielens(spark, path)
        return LoadedData(ratings, movies, ("userId", "movieId", "rating"))
    if loader == "movielens-100k" and os.path.isfile(path):  # one u.data-style file: no titles
        ratings = datasets.load_movielens_100k_ratings(spark, path)
        return LoadedData(ratings, None, ("userId", "movieId", "rating"))
    if loader == "movielens-100k":
        ratings, movies = datasets.load_movielens_100k(spark, path)
        return LoadedData(ratings, movies, ("userId", "movieId", "rating"))
    if loader == "taste-profile":
        return LoadedData(datasets.load_taste_profile(spark, path), None, ("user", "song", "plays"))
    df = datasets.load_interactions(
        spark, path, format=loader, user=userCol, item=itemCol, rating=ratingCol, sep=sep,
    )
    # the file's own names again (load_interactions names them user, item, rating), so that
    # what tune saves and recommend prints speaks of the user's columns
    names = (userCol, itemCol, ratingCol)
    df = df.select(*[column(a).alias(b) for a, b in zip(("user", "item", "rating"), names)])
    return LoadedData(df, None, names)


def prepare(df: DataFrame, feedback: str, threshold: float = 0.0) -> DataFrame:
    """Interactions as ALS fits them for a kind of feedback.

    Parameters
    ----------
    df : :py:class:`pyspark.sql.DataFrame`
        Columns ``user``, ``item``, ``rating``.
    feedback : str
        'explicit': returned as they are; 'implicit': zero-filled, repeated pairs summed;
        'binary': 1 where rating > ``threshold``, else 0, then zero-filled, repeated pairs
        kept once (their max).
    threshold : float, default 0.0
        'binary' only.

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        ``user``, ``item``, ``rating``; for 'implicit' and 'binary' one row per (user, item)
        pair, unobserved pairs rated 0.

    Raises
    ------
    ValueError, TypeError
        What :py:class:`~spark_recs.BinaryRater` and :py:class:`~spark_recs.ZeroFiller` raise
        (a NaN threshold, null ids, negative ratings, ...).

    Notes
    -----
    Spark jobs: none for 'explicit'; ``BinaryRater``'s checking job and ``ZeroFiller``'s
    counting job for the others.

    Examples
    --------
    >>> plays = spark.createDataFrame([("a", "x", 3.0), ("b", "y", 1.0)], ["user", "item", "rating"])
    >>> sorted(tuple(r) for r in prepare(plays, "implicit").collect())
    [('a', 'x', 3.0), ('a', 'y', 0.0), ('b', 'x', 0.0), ('b', 'y', 1.0)]
    """
    if feedback not in FEEDBACKS:
        raise ValueError(f"prepare: feedback must be one of {list(FEEDBACKS)}, found {feedback!r}")
    if feedback == "binary":
        df = BinaryRater(threshold=threshold, outputCol="rating").transform(df)
    if feedback in ("implicit", "binary"):
        df = ZeroFiller(handleDuplicates="sum" if feedback == "implicit" else "max").transform(df)
    return df


# -- tune ------------------------------------------------------------------------------------


def metric_evaluator(feedback: str, metric: Optional[str] = None, k: int = 10) -> Tuple[Evaluator, str]:
    """The evaluator for a metric name, and the name results give the metric.

    Parameters
    ----------
    feedback : str
        One of :py:data:`FEEDBACKS`.
    metric : str, optional
        One of :py:data:`METRICS`: 'rmse' or 'mae' (explicit feedback only), 'roem',
        'precision', 'recall', 'ndcg', 'map', or a ``RankingMetricsEvaluator`` metricName.
        Default: 'rmse' for explicit feedback, 'roem' for the others.
    k : int, default 10
        The k of precision, recall, ndcg and MAP@k.

    Returns
    -------
    tuple of (:py:class:`pyspark.ml.evaluation.Evaluator`, str)
        A ``RegressionEvaluator`` (labelCol 'rating'), :py:class:`~spark_recs.ROEMEvaluator` or
        :py:class:`~spark_recs.RankingMetricsEvaluator` with its defaults' columns, and the
        metric's name: 'rmse', 'mae', 'roem', 'precisionAtK@10', ..., 'meanAveragePrecision'.

    Raises
    ------
    ValueError
        An unknown metric, or 'rmse' / 'mae' for implicit or binary feedback.

    Examples
    --------
    >>> evaluator, name = metric_evaluator("implicit", "ndcg", k=5)
    >>> type(evaluator).__name__, name, evaluator.isLargerBetter()
    ('RankingMetricsEvaluator', 'ndcgAtK@5', True)
    >>> metric_evaluator("implicit", "rmse")
    Traceback (most recent call last):
        ...
    ValueError: metric_evaluator: metric 'rmse' is for explicit feedback, found feedback 'implicit';
    use roem...
    """
    metric = metric or ("rmse" if feedback == "explicit" else "roem")
    if metric not in METRICS:
        raise ValueError(f"metric_evaluator: metric must be one of {list(METRICS)}, found {metric!r}")
    if metric in EXPLICIT_METRICS:
        if feedback != "explicit":
            raise ValueError(
                f"metric_evaluator: metric {metric!r} is for explicit feedback, found feedback {feedback!r}; "
                "use roem or a ranking metric"
            )
        explicit = cast(Literal["rmse", "mae"], metric)  # one of EXPLICIT_METRICS
        return RegressionEvaluator(metricName=explicit, labelCol="rating", predictionCol="prediction"), metric
    if metric == "roem":
        return ROEMEvaluator(), metric
    name = _RANKING.get(metric, metric)
    return RankingMetricsEvaluator(metricName=name, k=k), f"{name}@{k}" if name.endswith("AtK") else name


@dataclass(frozen=True)
class TuneResult:
    """What :py:func:`tune` learned."""

    #: The fitted ``IdIndexerModel`` (user, item -> user_idx, item_idx) and the best ALS model,
    #: refit on all rows.
    model: PipelineModel
    #: One dict per grid point, in grid order: its params by name (rank, regParam, alpha) and
    #: its cross-validated metric under :py:attr:`metric`.
    grid: List[Dict[str, float]]
    #: The metric's name, e.g. 'rmse', 'roem', 'precisionAtK@10'.
    metric: str
    #: The best grid point (an entry of :py:attr:`grid`).
    best: Dict[str, float]
    #: The evaluator CrossValidator used.
    evaluator: Evaluator
    #: Whether a larger metric is better.
    larger_is_better: bool
    #: The feedback kind tuned for.
    feedback: str
    #: The number of per-user folds.
    folds: int
    #: 'full-catalogue' (each held-out item ranked among all the items its user did not see),
    #: 'zero-filled' (the course's: ranked among the rows of a zero-filled table) or
    #: 'held-out-ratings' (explicit: each user's held-out ratings predicted).
    protocol: str = "zero-filled"
    #: Full-catalogue and held-out-ratings protocols: the model's metrics on the per-user
    #: holdout, by name (fitted on the other pairs).
    holdout: Optional[Dict[str, float]] = None
    #: ... and the baseline's, on the same holdout: most-popular's (full-catalogue) or the
    #: bias baseline's (held-out ratings).
    baseline: Optional[Dict[str, float]] = None
    #: Whether the refit model beats the baseline on the holdout (:py:func:`versus_baseline`).
    versus: Optional["BaselineVerdict"] = None
    #: The settings tuned with (grid, weighting, folds, holdout, seed, ...).
    settings: Settings = DEFAULTS
    #: With :py:attr:`settings`, what reproduces the run: feedback, protocol, metric, blocks.
    run: Dict[str, Any] = field(default_factory=dict)


#: The metrics the full-catalogue protocol reports on the holdout: name -> evaluator params.
HOLDOUT_METRICS: Dict[str, Dict[str, Any]] = {
    "precisionAtK@10": dict(metricName="precisionAtK", k=10),
    "recallAtK@10": dict(metricName="recallAtK", k=10),
    "ndcgAtK@10": dict(metricName="ndcgAtK", k=10),
    "meanAveragePrecision": dict(metricName="meanAveragePrecision"),
    "mrrAtK@10": dict(metricName="mrrAtK", k=10),
    "hitRateAtK@10": dict(metricName="hitRateAtK", k=10),
}


def positives(df: DataFrame, feedback: str, threshold: float = 0.0) -> DataFrame:
    """The interactions of implicit or binary feedback, one row per (user, item) pair: play
    counts added up ('implicit'; rows with a count of 0 or less are not interactions), or the
    pairs rated above ``threshold`` with rating 1 ('binary'). What the full-catalogue protocol
    splits, folds and fits: no zero-filled grid.

    Raises
    ------
    ValueError
        A feedback other than 'implicit' or 'binary'; for 'binary', what
        :py:class:`~spark_recs.BinaryRater` raises (a NaN ``threshold``, a null or NaN rating).
    """
    if feedback not in ("implicit", "binary"):
        raise ValueError(f"positives: feedback must be 'implicit' or 'binary', found {feedback!r}")
    r = column("rating").cast("double")
    if feedback == "binary":
        # BinaryRater checks the threshold and the ratings (a NaN threshold, a null rating)
        rated = BinaryRater(inputCol="rating", outputCol="binary", threshold=float(threshold)).transform(df)
        rows = rated.where(F.col("binary") == 1).select("user", "item", F.lit(1.0).alias("rating"))
        return rows.groupBy("user", "item").agg(F.max("rating").alias("rating"))
    return df.groupBy("user", "item").agg(F.sum(r).alias("rating")).where(F.col("rating") > 0)


def evaluate_holdout(
    model: Any, test: DataFrame, extra: Optional[Dict[str, Tuple[str, int]]] = None
) -> Dict[str, float]:
    """The full-catalogue metrics of a ranker on held-out rows: :py:data:`HOLDOUT_METRICS`,
    ``extra`` (name -> (metricName, k), e.g. the selection metric at another k) and ROEM: the
    held-out rows ranked once (cached while they are read), then one job for the ranking
    metrics (:py:meth:`~spark_recs.RankingMetricsEvaluator.evaluateMetrics`) and one for ROEM.
    The evaluators read the model's userCol and itemCol."""
    cols = dict(userCol=model.getUserCol(), itemCol=model.getItemCol(), rankCol="rank")
    ranked = model.transform(test).cache()
    try:
        specs = {name: (args["metricName"], args.get("k", 10)) for name, args in HOLDOUT_METRICS.items()}
        specs.update(extra or {})
        values = RankingMetricsEvaluator(**cols).evaluateMetrics(ranked, specs)
        values["roem"] = ROEMEvaluator(**cols).evaluate(ranked)
    finally:
        ranked.unpersist()
    return values


#: Besides the selection metric, the held-out metric a ranker must beat most-popular on.
BEATS_METRIC = "precisionAtK@10"


class BaselineVerdict(NamedTuple):
    """Whether a model beats its baseline on a holdout (what :py:func:`versus_baseline` returns)."""

    #: True when the model is strictly better than the baseline on every metric of ``figures``.
    beats: bool
    #: Per metric: ``{"model": value, "baseline": value, "largerIsBetter": bool}``.
    figures: Dict[str, Dict[str, Any]]
    #: The baseline's name, e.g. 'most-popular'.
    baseline: str

    def line(self) -> str:
        """The verdict in one line, e.g. ``the tuned model beats most-popular on the holdout:
        precisionAtK@10 0.4013 vs 0.2043, roem 0.1130 vs 0.2586 (lower is better)``; prefixed
        ``warning:`` when it does not."""
        figures = ", ".join(
            f"{name} {f['model']:.4f} vs {f['baseline']:.4f}"
            + ("" if f["largerIsBetter"] else " (lower is better)")
            for name, f in self.figures.items()
        )
        if self.beats:
            return f"the tuned model beats {self.baseline} on the holdout: {figures}"
        return (f"warning: the tuned model does not beat {self.baseline} on the holdout ({figures}); "
                "try another grid before using it")

    def as_json(self) -> Dict[str, Any]:
        """``{"beatsBaseline": bool, "baselineComparison": {"baseline": name, "rule": ...,
        "metrics": figures}}``, as ``metrics.json`` and ``compare.json`` hold it."""
        rule = "strictly better than the baseline on every one of these held-out metrics"
        return {"beatsBaseline": self.beats,
                "baselineComparison": {"baseline": self.baseline, "rule": rule, "metrics": self.figures}}


def versus_baseline(
    model: Dict[str, float], baseline: Dict[str, float], larger_is_better: Dict[str, bool], name: str
) -> BaselineVerdict:
    """Whether a model beats a baseline on a holdout: strictly better on every metric named in
    ``larger_is_better`` (larger where True, smaller where False); a tie does not beat.

    :py:func:`tune` and :py:func:`~spark_recs.comparison.compare` ask it of the tuned ranker
    against most-popular on the selection metric and :py:data:`BEATS_METRIC` (one metric
    when they are the same), and of explicit ALS against the bias baseline on RMSE and MAE.

    Parameters
    ----------
    model, baseline : dict of str to float
        Held-out metrics by name; each holds every name of ``larger_is_better``.
    larger_is_better : dict of str to bool
        The metrics to compare, in the order the verdict lists them, and their direction.
    name : str
        The baseline's name, for :py:meth:`BaselineVerdict.line`.

    Returns
    -------
    BaselineVerdict

    Raises
    ------
    KeyError
        A metric missing from ``model`` or ``baseline``.

    Examples
    --------
    >>> verdict = versus_baseline({"roem": 0.138, "precisionAtK@10": 0.0021},
    ...                           {"roem": 0.128, "precisionAtK@10": 0.0794},
    ...                           {"roem": False, "precisionAtK@10": True}, "most-popular")
    >>> verdict.beats
    False
    >>> print(verdict.line())
    warning: the tuned model does not beat most-popular on the holdout (roem 0.1380 vs 0.1280 (lower is \
better), precisionAtK@10 0.0021 vs 0.0794); try another grid before using it
    """
    figures = {
        metric: {"model": float(model[metric]), "baseline": float(baseline[metric]), "largerIsBetter": larger}
        for metric, larger in larger_is_better.items()
    }
    beats = all(f["model"] > f["baseline"] if f["largerIsBetter"] else f["model"] < f["baseline"]
                for f in figures.values())
    return BaselineVerdict(bool(beats), figures, name)


def tune(
    df: DataFrame,
    *,
    feedback: str = "explicit",
    settings: Optional[Settings] = None,
    metric: Optional[str] = None,
    label: str = "tune",
    prepared: bool = False,
    blocks: int = 4,
    progressStream: Optional[TextIO] = None,
    protocol: Optional[str] = None,
    **deprecated: Any,
) -> TuneResult:
    """Cross-validate ALS over a grid on per-user folds and refit the best on all rows.

    Implicit and binary feedback use the field's protocol by default
    (``protocol='full-catalogue'``): the interactions (no zero-filled grid) are split per user
    into train and a holdout (``holdout`` of each user's pairs), CrossValidator tunes an
    :py:class:`~spark_recs.UnseenItemRanker` on per-user folds of train, each validation item
    ranked among all the items its user did not see, the best point is refit on train and
    scored on the holdout against most-popular (:py:class:`~spark_recs.PopularityRecommender`),
    then refit on all interactions for the model returned. ``protocol='zero-filled'`` is the
    course's route (described next), which ranks each row only among the rows of a
    zero-filled table.

    Explicit feedback takes ``protocol='held-out-ratings'``: the ratings are split per user
    (``holdout`` of each user's pairs held out), ALS is cross-validated by RMSE or MAE on
    per-user folds of the rest, the best point refit there and scored on the holdout by RMSE
    and MAE against the bias baseline (global mean plus regularised user and item biases,
    :py:func:`~spark_recs.baselines.fit_biases`, fitted on the same rows), then refit on all
    ratings. A ranking metric on explicit feedback is refused: ALS fitted to star values is
    not a ranker of unseen items (``spark-recs compare`` shows how it ranks), and the
    zero-filled route scored every rated row as relevant (precision@10 about 0.96 whatever
    the model); binary or implicit feedback rank every unseen item instead.

    Whether the model beats its baseline on the holdout is :py:attr:`TuneResult.versus`
    (:py:func:`versus_baseline`): strictly better on the selection metric and on
    precisionAtK@10 than most-popular (full-catalogue), on RMSE and MAE than the bias baseline
    (held-out ratings).

    Ids are indexed once (``IdIndexer`` with ``handleInvalid='keep'``), every row gets a
    per-user fold (:py:class:`~spark_recs.PerUserFolds`), and ``CrossValidator(foldCol=...)``
    fits ALS (explicit) or :py:class:`~spark_recs.ImplicitALS` (implicit, binary) with
    ``coldStartStrategy='drop'`` at every grid point and fold, then once more on all rows with
    the best params. Each fit is reported on ``progressStream``. On implicit feedback every fit
    reads the counts through :py:class:`~spark_recs.ConfidenceWeighter` (``settings.weighting``,
    default 'log'); the evaluators read the raw counts.

    Parameters
    ----------
    df : :py:class:`pyspark.sql.DataFrame`
        Columns ``user``, ``item``, ``rating`` (ids of any atomic type).
    feedback : str, default 'explicit'
        One of :py:data:`FEEDBACKS`; the data are passed through :py:func:`prepare` unless
        ``prepared``.
    settings : :py:class:`~spark_recs.settings.Settings`, optional
        The grid (ranks, regParams, alphas: implicit and binary only), the weighting (implicit
        only), maxIter, folds, holdout (full-catalogue and held-out-ratings protocols: each
        user's share of pairs held out for the final scores), k, threshold (binary only), seed
        and parallelism; default :py:data:`~spark_recs.settings.DEFAULTS`.
    metric : str, optional
        See :py:func:`metric_evaluator`; default 'rmse' (explicit) or 'roem'. Explicit
        feedback takes 'rmse' or 'mae' only.
    label : str, default 'tune'
        The progress lines' label.
    prepared : bool, default False
        ``df`` is already what ALS fits (e.g. zero-filled): skip :py:func:`prepare`.
    blocks : int, default 4
        ALS's numUserBlocks and numItemBlocks (Spark's default of 10 is sized for big data).
    progressStream : file-like, optional
        Where the progress lines go; standard error when None.
    protocol : str, optional
        'full-catalogue' (default for implicit and binary feedback) or 'zero-filled' (the
        course's); 'held-out-ratings', the only one for explicit feedback ('zero-filled', its
        0.1.0 label, is accepted for it with a DeprecationWarning until the next release).
    **deprecated
        ``ranks``, ``regParams``, ``alphas``, ``maxIter``, ``folds``, ``k``, ``threshold``,
        ``seed``, ``parallelism``, ``holdout``: the keywords before 0.2.0, which replace the
        values of ``settings`` with a DeprecationWarning (they go in 0.3.0).

    Returns
    -------
    TuneResult
        The refit :py:class:`pyspark.ml.PipelineModel` (``IdIndexerModel``, ALS model), every
        grid point's metric, the best point, the metric's name and direction; with a holdout,
        the model's and the baseline's held-out metrics and the verdict.

    Raises
    ------
    ValueError
        An unknown feedback or metric, a metric that does not fit the feedback (a ranking
        metric for explicit feedback), a protocol that does not fit it, fewer than 2 folds, an
        empty grid, all before any Spark job; what :py:func:`prepare`, ``IdIndexer`` and ALS
        raise on the data.

    Notes
    -----
    Spark jobs (zero-filled): :py:func:`prepare`'s; the ``IdIndexer`` fit (one aggregation
    and sort, one count); then the folded data are cached and CrossValidator runs, per grid
    point and fold, an ALS fit (``maxIter`` iterations) and one evaluation job; last, one ALS
    fit on all rows. The cache is released before returning. Fits: ``len(grid) * folds + 1``.
    Held-out ratings: the split (two checkpoints), the same cross-validation on the training
    ratings, the bias baseline's fit and one job for the four held-out errors
    (:py:func:`rating_errors`), then one more fit on all ratings: ``len(grid) * folds + 2``.

    Examples
    --------
    >>> import io
    >>> from spark_recs import synthetic_ratings
    >>> ratings, _ = synthetic_ratings(spark, numUsers=20, numItems=30, numRatings=300, seed=1)
    >>> from spark_recs.settings import Settings
    >>> result = tune(ratings, settings=Settings(ranks=(2, 3), regParams=(0.1,), maxIter=2, folds=2),
    ...               blocks=1, progressStream=io.StringIO())
    >>> result.metric, result.protocol, len(result.grid), sorted(result.best)
    ('rmse', 'held-out-ratings', 2, ['rank', 'regParam', 'rmse'])
    >>> sorted(result.holdout), sorted(result.baseline), type(result.versus.beats).__name__
    (['mae', 'rmse'], ['mae', 'rmse'], 'bool')
    >>> [type(s).__name__ for s in result.model.stages]
    ['IdIndexerModel', 'ALSModel']
    >>> result.model.write().overwrite().save(temp_path + "/tuned")
    >>> from pyspark.ml import PipelineModel
    >>> PipelineModel.load(temp_path + "/tuned").transform(ratings).count() > 0
    True
    """
    s = settings_with("tune", settings, deprecated)
    if feedback not in FEEDBACKS:
        raise ValueError(f"tune: feedback must be one of {list(FEEDBACKS)}, found {feedback!r}")
    protocol = _protocol(feedback, protocol)
    if feedback == "explicit" and metric not in (None, *EXPLICIT_METRICS):
        raise ValueError(
            f"tune: metric {metric!r} ranks items, but explicit feedback is tuned and scored by how well "
            "it predicts held-out ratings (rmse, mae); for a ranking metric use feedback 'binary' (ratings "
            "above a threshold) or 'implicit' (ratings as confidence), scored by ranking every unseen item"
        )
    folds, seed = s.folds, s.seed
    check_grid_and_folds("tune", s.ranks, s.regParams, s.alphas if feedback != "explicit" else None, folds)
    require_checkpointing("tune", SparkSession.active(), s.maxIter, 10)
    evaluator, metric_name = metric_evaluator(feedback, metric, s.k)
    weighting = s.weighting if feedback == "implicit" else "none"
    run = dict(feedback=feedback, protocol=protocol, metric=metric_name, blocks=blocks)
    if protocol == "full-catalogue":
        return replace(_tune_full_catalogue(
            df, feedback=feedback, settings=s, weighting=weighting, evaluator=evaluator,
            metric_name=metric_name, label=label, prepared=prepared, blocks=blocks,
            progressStream=progressStream,
        ), run=run)
    grid_size = len(s.ranks) * len(s.regParams) * (len(s.alphas) if feedback != "explicit" else 1)
    cv_args: Dict[str, Any] = dict(
        feedback=feedback, ranks=s.ranks, regParams=s.regParams, alphas=s.alphas, maxIter=s.maxIter,
        seed=seed, blocks=blocks, evaluator=evaluator, folds=folds, parallelism=s.parallelism,
        metric_name=metric_name, weighter=weighting_stage(weighting),
    )
    if protocol == "held-out-ratings":
        split = split_holdout_and_folds(df, holdout=s.holdout, folds=folds, seed=seed)
        progress = Progress(grid_size * folds + 2, label, progressStream)
        tuned = _cross_validate_als(split.train, progress=progress, **cv_args)
        scores, baseline = rating_errors(tuned.model, split.train.drop("fold"), split.test)
        final = tuned.estimator.copy(tuned.params).fit(split.indexed)  # the best point, every rating
        progress.tick("(refit on all ratings)")
        return TuneResult(
            model=PipelineModel(stages=[split.indexer, final]), grid=tuned.points, metric=metric_name,
            best=tuned.best, evaluator=evaluator, larger_is_better=evaluator.isLargerBetter(),
            feedback=feedback, folds=folds, protocol=protocol, holdout=scores, baseline=baseline,
            versus=versus_baseline(scores, baseline, {"rmse": False, "mae": False}, BIAS_BASELINE),
            settings=s, run=run,
        )
    data = df if prepared else prepare(df, feedback, s.threshold)
    # Ids are indexed once, before the folds, not refit in every fold: the vocabulary carries
    # no rating, so fitting it on all rows leaks nothing, and an item seen only in a validation
    # fold still has no ALS factor there (coldStartStrategy drops it, as before).
    indexer = IdIndexer(
        inputCols=["user", "item"], outputCols=["user_idx", "item_idx"], handleInvalid="keep"
    ).fit(data)
    data = PerUserFolds(numFolds=folds, seed=seed).transform(indexer.transform(data)).cache()
    progress = Progress(grid_size * folds + 1, label, progressStream)
    tuned = _cross_validate_als(data, progress=progress, **cv_args)
    data.unpersist()
    return TuneResult(
        model=PipelineModel(stages=[indexer, tuned.model]), grid=tuned.points, metric=metric_name,
        best=tuned.best, evaluator=evaluator, larger_is_better=evaluator.isLargerBetter(), feedback=feedback,
        folds=folds, settings=s, run=run,
    )


def _protocol(feedback: str, protocol: Optional[str]) -> str:
    """:py:func:`tune`'s protocol for a feedback: the default, or the one given if it fits.
    'zero-filled' for explicit feedback (0.1.0's label: explicit tune never zero-filled)
    means 'held-out-ratings' for one release, with a DeprecationWarning."""
    if feedback == "explicit" and protocol == "zero-filled":
        warnings.warn("tune: protocol 'zero-filled' for explicit feedback is deprecated and means "
                      "'held-out-ratings' (the default); it will be refused in the next release",
                      DeprecationWarning, stacklevel=3)
        return "held-out-ratings"
    chosen = protocol or ("held-out-ratings" if feedback == "explicit" else "full-catalogue")
    fits = (chosen == "held-out-ratings") == (feedback == "explicit")
    if chosen not in PROTOCOLS or not fits:
        raise ValueError(f"tune: protocol must be one of {list(PROTOCOLS)} ('held-out-ratings' for explicit "
                         f"feedback only), found {protocol!r} for feedback {feedback!r}")
    return chosen


class _TunedALS(NamedTuple):
    """What :py:func:`_cross_validate_als` returns."""

    estimator: Any  # ALS or ImplicitALS
    points: List[Dict[str, float]]
    best: Dict[str, float]
    #: The best grid point's params.
    params: Dict[Param, Any]
    #: The best point refit on all the rows cross-validated.
    model: Any


def _cross_validate_als(
    data: DataFrame, *, feedback: str, ranks: Sequence[int], regParams: Sequence[float],
    alphas: Sequence[float], maxIter: int, seed: int, blocks: int, evaluator: Evaluator, folds: int,
    parallelism: int, metric_name: str, progress: Progress, weighter: Optional[ConfidenceWeighter] = None,
) -> _TunedALS:
    """CrossValidator over ALS (explicit) or ImplicitALS with ``coldStartStrategy='drop'`` on
    the ``fold`` column of ``data`` (indexed ids ``user_idx``, ``item_idx``), ranks x regParams
    (x alphas unless explicit), every fit reading its ratings through ``weighter`` if given;
    CrossValidator refits the best point on all of ``data``. The model returned is the ALS
    model alone (the weighter acts on fits; transform and recommend need no counts)."""
    common: Dict[str, Any] = dict(
        userCol="user_idx", itemCol="item_idx", ratingCol=weighter.getOutputCol() if weighter else "rating",
        maxIter=maxIter, seed=seed, coldStartStrategy="drop", numUserBlocks=blocks, numItemBlocks=blocks,
    )
    als = ALS(**common) if feedback == "explicit" else ImplicitALS(**common)
    builder = ParamGridBuilder().addGrid(als.rank, list(ranks)).addGrid(als.regParam, list(regParams))
    if feedback != "explicit":
        builder = builder.addGrid(als.alpha, list(alphas))
    grid = builder.build()
    cv = CrossValidator(
        estimator=reporting_pipeline([weighter, als] if weighter else [als], progress),
        estimatorParamMaps=grid, evaluator=evaluator, numFolds=folds, foldCol="fold",
        parallelism=parallelism, seed=seed,
    )
    cv_model = cv.fit(data)
    points = [{**{p.name: v for p, v in params.items()}, metric_name: float(value)}
              for params, value in zip(grid, cv_model.avgMetrics)]
    sign = 1 if evaluator.isLargerBetter() else -1
    best = max(range(len(points)), key=lambda i: cv_model.avgMetrics[i] * sign)
    refit = cast(PipelineModel, cv_model.bestModel).stages[-1]
    return _TunedALS(als, points, points[best], grid[best], refit)


#: The name the held-out-ratings protocol gives its baseline (:py:func:`rating_errors`).
BIAS_BASELINE = "the bias baseline (global mean + user and item biases)"


def rating_errors(model: Any, train: DataFrame, test: DataFrame) -> Tuple[Dict[str, float], Dict[str, float]]:
    """RMSE and MAE on held-out ratings of ``model`` and of the bias baseline fitted on
    ``train`` (:py:func:`~spark_recs.baselines.fit_biases`, default regularisation), on the
    same rows: those ``model`` predicts (an ALS model with ``coldStartStrategy='drop'`` leaves
    out the held-out rows of items ``train`` lacks).

    Parameters
    ----------
    model : ALSModel
        Fitted on ``train``; reads ``user_idx``, ``item_idx``.
    train, test : :py:class:`pyspark.sql.DataFrame`
        ``user_idx``, ``item_idx``, ``rating``.

    Returns
    -------
    tuple of (dict, dict)
        ``{"rmse": ..., "mae": ...}`` of the model, then of the baseline.

    Raises
    ------
    ValueError
        ``model`` predicts none of the held-out rows.

    Notes
    -----
    Spark jobs: the baseline's fit (:py:func:`~spark_recs.baselines.fit_biases`), then one
    aggregation for the four errors.
    """
    biases = fit_biases(train, userCol="user_idx", itemCol="item_idx", ratingCol="rating")
    scored = biases.transform(model.transform(test), predictionCol="baseline")
    r = F.col("rating").cast("double")
    errors = [agg(r - F.col(c)).alias(f"{name}_{c}") for c in ("prediction", "baseline")
              for name, agg in (("rmse", lambda e: F.sqrt(F.avg(e * e))), ("mae", lambda e: F.avg(F.abs(e))))]
    row = cast(Row, scored.agg(*errors, F.count(F.lit(1)).alias("rows")).first())
    if not row["rows"]:
        raise ValueError("tune: no held-out rating has its user and item among the training ratings "
                         f"({test.count()} held out): too few ratings per user or item for a holdout")
    return ({"rmse": row["rmse_prediction"], "mae": row["mae_prediction"]},
            {"rmse": row["rmse_baseline"], "mae": row["mae_baseline"]})


def weighting_stage(weighting: str) -> Optional[ConfidenceWeighter]:
    """The :py:class:`~spark_recs.ConfidenceWeighter` that every implicit fit of the workflow
    reads its ratings through (column ``weight``, from ``rating`` of the indexed ids), or None
    for 'none' (ALS reads ``rating`` itself)."""
    if weighting == "none":
        return None
    return ConfidenceWeighter(method=weighting, outputCol="weight", **INDEXED_COLUMNS)


#: The indexed id columns of the full-catalogue workflow (IdIndexer's outputs).
INDEXED_COLUMNS: Dict[str, Any] = dict(userCol="user_idx", itemCol="item_idx")


class HoldoutAndFolds(NamedTuple):
    """What :py:func:`split_holdout_and_folds` returns."""

    #: The IdIndexerModel of ``user`` and ``item`` (fit on every interaction).
    indexer: IdIndexerModel
    #: Every interaction, with ``user_idx`` and ``item_idx``.
    indexed: DataFrame
    #: Each user's training pairs, with a ``fold`` column (``PerUserFolds``); localCheckpointed.
    train: DataFrame
    #: Each user's held-out pairs; localCheckpointed.
    test: DataFrame


def check_grid_and_folds(caller: str, ranks: Sequence[int], regParams: Sequence[float],
                         alphas: Optional[Sequence[float]], folds: int) -> None:
    """Refuse a cross-validation that cannot run, before any Spark job.

    Parameters
    ----------
    caller : str
        Named at the start of the message (``tune``, ``compare``).
    ranks, regParams : sequence
        The grid's ranks and regParams; each needs a value.
    alphas : sequence or None
        The grid's alphas; None where the fits do not use alpha (explicit ALS).
    folds : int
        Cross-validation folds.

    Raises
    ------
    ValueError
        ``folds`` < 2, or a grid axis without a value.
    """
    if folds < 2:
        raise ValueError(f"{caller}: folds must be >= 2, found {folds!r}")
    if not list(ranks) or not list(regParams) or (alphas is not None and not list(alphas)):
        raise ValueError(f"{caller}: the grid is empty: give at least one rank, regParam"
                         + ("" if alphas is None else " and alpha"))


def split_holdout_and_folds(data: DataFrame, *, holdout: float, folds: int, seed: int) -> HoldoutAndFolds:
    """Index ``user`` and ``item`` of positive interactions (one row per pair) or of explicit
    ratings, hold out each user's share ``holdout`` of pairs
    (:py:func:`~spark_recs.train_test_split_per_user`) and deal the training pairs to ``folds``
    per-user folds (:py:class:`~spark_recs.PerUserFolds`).

    Ids are indexed on every interaction, not per fold: a vocabulary carries no rating, so
    this leaks nothing. Spark jobs: the IdIndexer fit, and one ``localCheckpoint`` each of
    train and test (so the folds and the holdout are computed once).

    Raises
    ------
    ValueError
        What the stages raise: missing columns, ``holdout`` outside [0, 1), ``folds`` < 2.
    """
    indexer = IdIndexer(
        inputCols=["user", "item"], outputCols=["user_idx", "item_idx"], handleInvalid="keep"
    ).fit(data)
    indexed = indexer.transform(data)
    train, test = train_test_split_per_user(indexed, testFraction=holdout, seed=seed, **INDEXED_COLUMNS)
    train = PerUserFolds(numFolds=folds, seed=seed, **INDEXED_COLUMNS).transform(train).localCheckpoint()
    return HoldoutAndFolds(indexer, indexed, train, test.localCheckpoint())


class TunedRanker(NamedTuple):
    """What :py:func:`cross_validate_ranker` returns."""

    #: The UnseenItemRanker the grid's params were applied to.
    estimator: UnseenItemRanker
    #: The param grid, in CrossValidator's order.
    grid: List[Dict[Param, Any]]
    #: CrossValidator's average metric per grid point.
    avg_metrics: List[float]
    #: The position of the best point in ``grid``.
    best_index: int
    #: The best point refit on all training rows.
    model: UnseenItemRankerModel
    #: What every fit read its ratings through (None: the counts as they are).
    weighter: Optional[ConfidenceWeighter] = None

    def refit(self, df: DataFrame) -> UnseenItemRankerModel:
        """The best point fitted on ``df`` (its counts weighted as in the cross-validation)."""
        data = self.weighter.transform(df) if self.weighter is not None else df
        return self.estimator.copy(self.grid[self.best_index]).fit(data)

    def points(self, metric_name: str) -> List[Dict[str, Any]]:
        """The grid as dicts of param name to value, each with its average metric."""
        return [{**{p.name: v for p, v in params.items()}, metric_name: float(value)}
                for params, value in zip(self.grid, self.avg_metrics)]


def cross_validate_ranker(
    train: DataFrame, *, ranks: Sequence[int], regParams: Sequence[float], alphas: Sequence[float],
    maxIter: int, blocks: int, seed: int, evaluator: Evaluator, folds: int, parallelism: int,
    progress: Progress, weighting: str = "none",
) -> TunedRanker:
    """Cross-validate implicit :py:class:`~spark_recs.UnseenItemRanker` over ranks x regParams x
    alphas on the ``fold`` column (0 .. ``folds`` - 1) of ``train`` (from
    :py:func:`split_holdout_and_folds`), with ``evaluator`` reading the ranker's ``rank``
    column (the full-catalogue protocol), and refit the best point on all of ``train``. With a
    ``weighting`` other than 'none' every fit reads its ratings through a
    :py:class:`~spark_recs.ConfidenceWeighter` of that method (:py:func:`weighting_stage`).

    Spark jobs: per grid point and fold an ALS fit (``maxIter`` iterations), the ranker's
    seen-items job and one evaluation; then the best point's fit on all of ``train``. Each
    fit ticks ``progress``.

    Raises
    ------
    ValueError
        What ALS, the ranker and the evaluator raise.
    """
    weighter = weighting_stage(weighting)
    ranker = UnseenItemRanker(**INDEXED_COLUMNS, ratingCol=weighter.getOutputCol() if weighter else "rating",
                              maxIter=maxIter, seed=seed, numUserBlocks=blocks, numItemBlocks=blocks,
                              implicitPrefs=True)
    grid = (
        ParamGridBuilder()
        .addGrid(ranker.rank, list(ranks))
        .addGrid(ranker.regParam, list(regParams))
        .addGrid(ranker.alpha, list(alphas))
        .build()
    )
    cv = CrossValidator(
        estimator=reporting_pipeline([weighter, ranker] if weighter else [ranker], progress),
        estimatorParamMaps=grid, evaluator=evaluator, numFolds=folds, foldCol="fold", parallelism=parallelism,
        seed=seed,
    )
    cv_model = cv.fit(train)
    sign = 1 if evaluator.isLargerBetter() else -1
    best_index = max(range(len(grid)), key=lambda i: cv_model.avgMetrics[i] * sign)
    best = cast(UnseenItemRankerModel, cast(PipelineModel, cv_model.bestModel).stages[-1])
    return TunedRanker(ranker, grid, list(cv_model.avgMetrics), best_index, best, weighter)


def most_popular(train: DataFrame) -> UnseenItemRankerModel:
    """Most-popular (:py:class:`~spark_recs.PopularityRecommender`, interactions counted) on
    the indexed ``train``, as a full-catalogue ranker. Spark jobs: the popularity fit and the
    ranker's seen-items job."""
    plain = train.drop("fold")
    return UnseenItemRankerModel.fromFitted(PopularityRecommender(**INDEXED_COLUMNS).fit(plain), plain)


def _tune_full_catalogue(
    df: DataFrame, *, feedback: str, settings: Settings, weighting: str, evaluator: Evaluator,
    metric_name: str, label: str, prepared: bool, blocks: int, progressStream: Optional[TextIO],
) -> TuneResult:
    """:py:func:`tune` under the full-catalogue protocol (see there)."""
    s = settings
    data = df.where(column("rating") > 0) if prepared else positives(df, feedback, s.threshold)
    split = split_holdout_and_folds(data, holdout=s.holdout, folds=s.folds, seed=s.seed)
    ranked_evaluator = evaluator.copy({evaluator.getParam("rankCol"): "rank"})
    progress = Progress(s.grid_size() * s.folds + 2, label, progressStream)
    tuned = cross_validate_ranker(
        split.train, ranks=s.ranks, regParams=s.regParams, alphas=s.alphas, maxIter=s.maxIter, blocks=blocks,
        seed=s.seed, evaluator=ranked_evaluator, folds=s.folds, parallelism=s.parallelism, progress=progress,
        weighting=weighting,
    )
    points = tuned.points(metric_name)
    # the selection metric on the holdout too, where HOLDOUT_METRICS lacks it (another k)
    extra = {} if metric_name in (*HOLDOUT_METRICS, "roem") else {
        metric_name: (evaluator.getOrDefault("metricName"), evaluator.getOrDefault("k"))}
    scores = evaluate_holdout(tuned.model, split.test, extra)
    baseline = evaluate_holdout(most_popular(split.train), split.test, extra)
    final = tuned.refit(split.indexed)  # best point, every row
    progress.tick("(refit on all interactions)")
    criteria = {metric_name: evaluator.isLargerBetter(), BEATS_METRIC: True}
    return TuneResult(
        model=PipelineModel(stages=[split.indexer, final]), grid=points, metric=metric_name,
        best=points[tuned.best_index], evaluator=ranked_evaluator,
        larger_is_better=evaluator.isLargerBetter(),
        feedback=feedback, folds=s.folds, protocol="full-catalogue", holdout=scores, baseline=baseline,
        versus=versus_baseline(scores, baseline, criteria, "most-popular"), settings=s,
    )


# -- outputs ---------------------------------------------------------------------------------


class TuneOutputs(NamedTuple):
    """The paths of what :py:func:`write_tune_outputs` writes in a directory (None: absent)."""

    #: The best ``PipelineModel`` (``<out>/model``).
    model: str
    #: The rated (user, item) pairs, Parquet (``<out>/rated``).
    rated: Optional[str]
    #: Items with titles, Parquet (``<out>/items``).
    items: Optional[str]
    #: ``metrics.json``: metric, larger_is_better, best, grid, feedback, folds, protocol, settings.
    metrics: Optional[str]
    #: ``grid.csv``: one row per grid point.
    grid_csv: Optional[str]
    #: ``grid.png``: the metric against rank (needs matplotlib).
    grid_png: Optional[str]


def write_tune_outputs(
    out: str, result: TuneResult, rated: DataFrame, *, items: Optional[DataFrame] = None,
    columns: Optional[Sequence[str]] = None,
) -> TuneOutputs:
    """Save what :py:func:`tune` learned in a directory, as ``spark-recs tune --out`` does.

    Parameters
    ----------
    out : str
        A directory, made if missing; what it holds under the names below is overwritten.
    result : TuneResult
    rated : :py:class:`pyspark.sql.DataFrame`
        The interactions tuned on (``user``, ``item``, ...): their distinct pairs are saved,
        so that ``recommend`` leaves rated items out.
    items : :py:class:`pyspark.sql.DataFrame`, optional
        Items with titles, saved for ``recommend`` to show; their item column is named as the
        saved model's (``columns[1]``).
    columns : sequence of two str, optional
        The names the user's data gave the ``user`` and ``item`` columns (MovieLens: userId,
        movieId): the saved model's ``IdIndexerModel`` reads them and the rated pairs are saved
        under them, so the model transforms the user's own data and recommendations come back
        with the user's column names. Default: ``user`` and ``item``.

    Returns
    -------
    TuneOutputs
        The paths written: ``model/``, ``rated/``, ``metrics.json``, ``grid.csv``,
        ``grid.png`` (None without matplotlib) and ``items/`` (None without ``items``).

    Raises
    ------
    OSError
        ``out`` cannot be made or written.
    ValueError
        ``columns`` is not two distinct names.

    Notes
    -----
    ``metrics.json`` holds the metric, its direction, every grid point, the best, the
    protocol, the holdout and baseline scores (full-catalogue) and under ``run`` what
    reproduces the run: :py:attr:`TuneResult.settings` and :py:attr:`TuneResult.run`, the
    data's sizes (``rows`` of ``rated``, ``users`` and ``items`` the model's indexer knows) and
    the versions of spark-recs, PySpark, Spark (the session's) and Python.

    Spark jobs: the model's save, one job writing the distinct rated pairs, one counting
    ``rated``'s rows, and one writing ``items``. ``out`` is a local directory for the JSON,
    CSV and PNG files, and a Spark path for the rest.
    """
    user_col, item_col = ("user", "item") if columns is None else tuple(columns)
    if not user_col or not item_col or user_col == item_col:
        raise ValueError(f"write_tune_outputs: columns must be two distinct names, found {columns!r}")
    os.makedirs(out, exist_ok=True)
    model = os.path.join(out, "model")
    saved, indexer = _with_input_columns(result.model, user_col, item_col)
    saved.write().overwrite().save(model)
    rated_path = os.path.join(out, "rated")
    pairs = rated.select(column("user").alias(user_col), column("item").alias(item_col)).distinct()
    pairs.write.mode("overwrite").parquet(rated_path)
    metrics: Dict[str, Any] = {
        "metric": result.metric, "larger_is_better": result.larger_is_better, "best": result.best,
        "grid": result.grid, "feedback": result.feedback, "folds": result.folds, "protocol": result.protocol,
        "settings": result.settings.as_dict(),
    }
    if result.holdout is not None:
        metrics["holdout"] = result.holdout
        metrics["baseline"] = result.baseline
    if result.versus is not None:
        metrics.update(result.versus.as_json())
    metrics["run"] = {**result.settings.as_dict(), **result.run, "data": _data_sizes(rated, indexer),
                      "versions": _versions(rated)}
    metrics_path = os.path.join(out, "metrics.json")
    with open(metrics_path, "w") as fh:
        json.dump(metrics, fh, indent=2)
    grid_csv = os.path.join(out, "grid.csv")
    with open(grid_csv, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(result.grid[0]))
        writer.writeheader()
        writer.writerows(result.grid)
    grid_png = plot_grid(out, result)
    items_path = None
    if items is not None:
        items_path = os.path.join(out, "items")
        items.write.mode("overwrite").parquet(items_path)
    return TuneOutputs(model, rated_path, items_path, metrics_path, grid_csv, grid_png)


def _with_input_columns(
    model: PipelineModel, user_col: str, item_col: str
) -> Tuple[PipelineModel, Optional[IdIndexerModel]]:
    """``model`` with its ``IdIndexerModel`` of ``user`` and ``item`` reading ``user_col`` and
    ``item_col`` instead (a copy: ``model`` is unchanged), and that indexer."""
    stages = list(model.stages)
    for i, stage in enumerate(stages):
        if isinstance(stage, IdIndexerModel) and stage.inputColumns == ["user", "item"]:
            if (user_col, item_col) != ("user", "item"):
                stage = stage.copy().setInputCols([user_col, item_col])
                stages[i] = stage
            return PipelineModel(stages=stages), stage
    return model, None


def _data_sizes(rated: DataFrame, indexer: Optional[IdIndexerModel]) -> Dict[str, Optional[int]]:
    """Rows of the tuned interactions (one count job), users and items the indexer knows."""
    users, items = indexer.vocabularySizes if indexer is not None else (None, None)
    return {"rows": rated.count(), "users": users, "items": items}


def _versions(df: DataFrame) -> Dict[str, str]:
    """The versions a run depends on: spark-recs, PySpark (the client), Spark (the session's), Python."""
    import platform

    import pyspark

    from spark_recs._version import __version__

    return {"spark-recs": __version__, "pyspark": pyspark.__version__, "spark": df.sparkSession.version,
            "python": platform.python_version()}


def locate_tune_outputs(directory: str) -> TuneOutputs:
    """Find what :py:func:`write_tune_outputs` wrote in a directory.

    Parameters
    ----------
    directory : str
        A :py:func:`write_tune_outputs` directory, or a saved ``PipelineModel`` itself.

    Returns
    -------
    TuneOutputs
        ``model`` is ``<directory>/model`` when that is a directory, else ``directory``; the
        other paths where they exist, else None.

    Raises
    ------
    FileNotFoundError
        ``directory`` does not exist.

    Notes
    -----
    Runs no Spark job: it only looks at the local file system.
    """
    if not os.path.exists(directory):
        raise FileNotFoundError(f"locate_tune_outputs: no such directory {directory!r}")

    def found(name: str, is_dir: bool) -> Optional[str]:
        path = os.path.join(directory, name)
        return path if (os.path.isdir(path) if is_dir else os.path.isfile(path)) else None

    return TuneOutputs(
        found("model", True) or directory, found("rated", True), found("items", True),
        found("metrics.json", False), found("grid.csv", False), found("grid.png", False),
    )


def history_as_fit(
    history: DataFrame, metrics_path: Optional[str], recommender: Any, rating: str = "rating"
) -> Tuple[DataFrame, Dict[str, Any]]:
    """The interactions of users who arrived after a :py:func:`tune` run, on the scale its model
    was fit on, and the fit's params for :py:func:`~spark_recs.fold_in` where the model does not
    remember them: what ``spark-recs recommend --history`` folds in.

    Parameters
    ----------
    history : :py:class:`pyspark.sql.DataFrame`
        The rows, with the ``rating`` column as :py:func:`load_data` reads it (stars or counts).
    metrics_path : str or None
        The run's ``metrics.json`` (:py:func:`locate_tune_outputs`), or None.
    recommender : ALSModel or UnseenItemRankerModel
        The saved pipeline's recommender.
    rating : str, default 'rating'

    Returns
    -------
    (DataFrame, dict)
        ``history`` with ``rating`` as the fit read it: explicit as it is; implicit through the
        run's :py:class:`~spark_recs.ConfidenceWeighter` ('none' or 'log', per row); binary 1.0
        where the rating is above the run's threshold, else 0.0. And the keywords of
        ``fold_in`` for a bare ``ALSModel`` (the best point's ``regParam`` and ``alpha``, the
        feedback's ``implicitPrefs``, ``nonnegative`` False as tune fits), empty for an
        ``UnseenItemRankerModel``, which remembers them.

    Raises
    ------
    ValueError
        No ``metrics.json`` for a model that needs it, or a run weighted by 'bm25', whose
        weights need the training data's item statistics (fold in through the Python API with
        the same fitted weights).

    Notes
    -----
    Runs no Spark job (one local file read).
    """
    if metrics_path is None:
        if isinstance(recommender, UnseenItemRankerModel):
            return history, {}
        raise ValueError(
            "history_as_fit: the model has no metrics.json beside it, which holds the fit's regParam and "
            "feedback that fold-in needs"
        )
    with open(metrics_path) as fh:
        metrics = json.load(fh)
    feedback = metrics.get("feedback", "explicit")
    settings = metrics.get("settings", {})
    if feedback == "binary":
        threshold = float(settings.get("threshold", 0.0))
        history = history.withColumn(rating, F.when(column(rating) > threshold, 1.0).otherwise(0.0))
    elif feedback == "implicit":
        weighting = settings.get("weighting", "none")
        if weighting == "bm25":
            raise ValueError(
                "history_as_fit: the model was fit on bm25 weights, which need the training data's item "
                "statistics; fold in through the Python API (fold_in) with the weights computed as in the fit"
            )
        if weighting != "none":
            weighter = ConfidenceWeighter(method=weighting, inputCol=rating, outputCol=_WEIGHT)
            history = weighter.transform(history).withColumn(rating, F.col(_WEIGHT)).drop(_WEIGHT)
    if isinstance(recommender, UnseenItemRankerModel):
        return history, {}
    best = metrics.get("best", {})
    return history, {
        "regParam": float(best.get("regParam", settings.get("regParams", [0.1])[0])),
        "alpha": float(best.get("alpha", 1.0)),
        "implicitPrefs": feedback != "explicit",
        "nonnegative": False,
    }


_WEIGHT = "__spark_recs_weight"


def plot_grid(out: str, result: TuneResult) -> Optional[str]:
    """Draw ``grid.png`` in ``out``: the metric against rank, one line per other setting.

    Parameters
    ----------
    out : str
        An existing directory.
    result : TuneResult

    Returns
    -------
    str or None
        The path written; None, after a notice on standard error, when matplotlib is not
        installed (``pip install 'spark-recs[plot]'``).

    Notes
    -----
    Runs no Spark job.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("spark-recs: matplotlib is not installed (pip install 'spark-recs[plot]'): no grid.png",
              file=sys.stderr)
        return None
    metric = result.metric
    lines: Dict[str, List[Tuple[float, float]]] = {}
    for point in result.grid:
        key = ", ".join(f"{k}={v}" for k, v in point.items() if k not in ("rank", metric))
        lines.setdefault(key, []).append((point["rank"], point[metric]))
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, values in sorted(lines.items()):
        values.sort()
        ax.plot([v[0] for v in values], [v[1] for v in values], marker="o", label=key or metric)
    ax.set_xlabel("rank")
    ax.set_ylabel(metric)
    ax.set_title(f"cross-validated {metric}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(out, "grid.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# -- reporting -------------------------------------------------------------------------------


def id_types(model: PipelineModel) -> Tuple[Optional[DataType], Optional[DataType]]:
    """The types of the original user and item ids of a fitted pipeline.

    The ``IdIndexerModel`` is found by what it encodes (ALS's userCol and itemCol among its
    output columns), wherever it stands in the pipeline.

    Parameters
    ----------
    model : :py:class:`pyspark.ml.PipelineModel`
        A pipeline holding one ALS model, as :py:func:`tune` returns.

    Returns
    -------
    tuple of (DataType or None, DataType or None)
        The user and the item id type the indexer learned; None for a column that no
        ``IdIndexerModel`` encodes.

    Raises
    ------
    ValueError
        The pipeline does not hold exactly one ALS model, or several indexers encode its columns.

    Notes
    -----
    Runs no Spark job (the vocabularies' schemas are known without reading them).
    """
    als, indexer = als_and_indexer(model)
    found: List[Optional[DataType]] = []
    for name in (als.getUserCol(), als.getItemCol()):
        if indexer is not None and name in indexer.outputColumns:
            found.append(indexer.vocabularyOf(name)[1].schema["value"].dataType)
        else:
            found.append(None)
    return found[0], found[1]


def tie_notes(recs: DataFrame, userCol: str, scoreCol: str = "score") -> List[str]:
    """A line for each user whose top-N list (:py:func:`~spark_recs.recommend_for_users`'s
    rows) holds more than one item, all with one score: what a model with no signal for that
    user gives (a user with all-zero factors, a constant model), listed by item id, the tie
    rule. For printing beside a shown list: it collects one row per such user, so give it the
    recommendations of named users, not of all users.

    Raises
    ------
    ValueError
        A missing column.

    Examples
    --------
    >>> from spark_recs.workflow import tie_notes
    >>> recs = spark.createDataFrame([("ann", 1, "a", 0.0), ("ann", 2, "b", 0.0), ("bob", 1, "a", 0.9),
    ...                               ("bob", 2, "c", 0.4)], ["user", "rank", "item", "score"])
    >>> tie_notes(recs, "user")
    ["note: user ann's 2 recommendations all score 0 (a tie: the model has no signal for this user; \
they are listed by item id)"]
    """
    for name in (userCol, scoreCol):
        if name not in recs.columns:
            raise ValueError(f"tie_notes: column '{name}' not in {recs.columns}")
    per_user = recs.groupBy(userCol).agg(
        F.count(F.lit(1)).alias("n"), F.min(scoreCol).alias("low"), F.max(scoreCol).alias("high")
    )
    tied = per_user.where((F.col("n") > 1) & (F.col("low") == F.col("high"))).orderBy(userCol)
    return [
        f"note: user {r[userCol]}'s {r['n']} recommendations all score {r['low']:g} (a tie: the model has no "
        f"signal for this user; they are listed by item id)"
        for r in tied.collect()
    ]


def format_table(rows: Sequence[Any], columns: Sequence[str]) -> str:
    """Rows as a plain-text table: a header line, then one line per row, columns padded.

    Parameters
    ----------
    rows : sequence of :py:class:`pyspark.sql.Row` or mappings
        Collected rows; each is indexed by column name.
    columns : sequence of str

    Returns
    -------
    str
        Lines joined by newlines, without a final one; floats with 4 decimals, trailing spaces
        stripped.

    Examples
    --------
    >>> from pyspark.sql import Row
    >>> print(format_table([Row(user="ann", rank=1, score=0.91234)], ["user", "rank", "score"]))
    user  rank  score
    ann   1     0.9123
    """
    cells = [[str(c) for c in columns]] + [[_cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells)


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
