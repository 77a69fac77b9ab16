"""The comparison workflow behind ``spark-recs compare``: most-popular, the common explicit ALS
recipe and implicit ALS tuned on training data only, scored on one holdout with the
full-catalogue protocol, with accuracy and beyond-accuracy metrics side by side."""

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, TextIO, cast

from pyspark.ml.recommendation import ALS
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from spark_recs._checkpoint import require_checkpointing
from spark_recs.beyond_accuracy import beyond_accuracy_metrics
from spark_recs.evaluation import RankingMetricsEvaluator
from spark_recs.ranking import UnseenItemRankerModel
from spark_recs.settings import DEFAULTS, Settings, settings_with
from spark_recs.workflow import (
    BEATS_METRIC,
    INDEXED_COLUMNS,
    BaselineVerdict,
    Progress,
    check_grid_and_folds,
    cross_validate_ranker,
    evaluate_holdout,
    format_table,
    most_popular,
    positives,
    split_holdout_and_folds,
    versus_baseline,
)

__all__ = ["COMPARE_COLUMNS", "EXPLICIT_RECIPE", "CompareResult", "compare", "write_compare_outputs"]

#: The table's columns, in order: accuracy on the holdout (every held-out item ranked among
#: all the items its user did not have in training), then beyond-accuracy of each model's
#: top-10 lists for the holdout's users.
COMPARE_COLUMNS = ["precisionAtK@10", "recallAtK@10", "ndcgAtK@10", "meanAveragePrecision", "mrrAtK@10",
                   "roem", "coverageAtK@10", "novelty@10"]

#: The common explicit ALS recipe: the Spark documentation's MovieLens example and the
#: course's (rank 10, regParam 0.05, 10 iterations, ratings as explicit feedback).
EXPLICIT_RECIPE: Dict[str, Any] = dict(rank=10, regParam=0.05, maxIter=10)

#: The models' keys in :py:attr:`CompareResult.rows`, in the table's order.
MOST_POPULAR, EXPLICIT, IMPLICIT = "most-popular", "als-explicit-recipe", "als-implicit-tuned"
_COLOURS = {MOST_POPULAR: "#999999", EXPLICIT: "#d08c60", IMPLICIT: "#4c72b0"}


@dataclass
class CompareResult:
    """What :py:func:`compare` measured.

    Attributes
    ----------
    rows : dict of str to dict of str to float
        Per model ('most-popular', 'als-explicit-recipe' where the data are ratings,
        'als-implicit-tuned'), its value of each of :py:data:`COMPARE_COLUMNS`.
    best : dict of str to float
        The tuned implicit ALS's point of the grid (rank, regParam, alpha).
    holdout : dict of str to float
        The holdout's share of each user's pairs and its numbers of rows and users.
    grid : list of dict
        Every grid point with its cross-validated precisionAtK@10.
    versus : BaselineVerdict or None
        Whether the tuned implicit ALS beats most-popular on the holdout: strictly higher
        precisionAtK@10 (its selection metric; :py:func:`~spark_recs.workflow.versus_baseline`).
    settings : :py:class:`~spark_recs.settings.Settings`
        The settings compared with.
    weighting : str
        What the tuned implicit ALS read the ratings through: the settings' weighting for play
        counts, 'none' for explicit ratings.
    """

    rows: Dict[str, Dict[str, float]]
    best: Dict[str, Any]
    holdout: Dict[str, Any] = field(default_factory=dict)
    grid: List[Dict[str, Any]] = field(default_factory=list)
    versus: Optional[BaselineVerdict] = None
    settings: Settings = DEFAULTS
    weighting: str = "none"

    def label(self, name: str) -> str:
        """A model's name as the table prints it (the recipe's and the tuned point's params)."""
        if name == EXPLICIT:
            return "ALS explicit (rank {rank}, regParam {regParam})".format(**EXPLICIT_RECIPE)
        if name == IMPLICIT:
            weights = "" if self.weighting == "none" else f", {self.weighting} weights"
            point = ", ".join(f"{k} {v:g}" for k, v in self.best.items())
            return f"ALS implicit tuned ({point}{weights})"
        return name

    def table(self) -> str:
        """The comparison as a text table: a row per model, a column per metric."""
        rows = [{"model": self.label(name), **values} for name, values in self.rows.items()]
        return format_table(rows, ["model"] + COMPARE_COLUMNS)


def _top10(ranker: UnseenItemRankerModel, users: DataFrame) -> DataFrame:
    """(user, rank, item): each given user's top-10 unseen items."""
    user, item = ranker.getUserCol(), ranker.getItemCol()
    recs = ranker.recommendForUserSubset(users, 10)
    exploded = recs.select(F.col(user).alias("user"), F.posexplode("recommendations").alias("pos", "rec"))
    return exploded.select("user", (F.col("pos") + 1).alias("rank"), F.col("rec")[item].alias("item"))


def _measure(ranker: UnseenItemRankerModel, test: DataFrame, train: DataFrame) -> Dict[str, float]:
    """A model's row: the full-catalogue metrics of ``test`` and the beyond-accuracy metrics
    of the top-10 lists of ``test``'s users against ``train``'s popularity."""
    values = evaluate_holdout(ranker, test)
    lists = _top10(ranker, test.select(ranker.getUserCol()).distinct()).cache()
    try:
        user, item = F.col(ranker.getUserCol()).alias("user"), F.col(ranker.getItemCol()).alias("item")
        pairs = train.select(user, item)
        beyond = beyond_accuracy_metrics(lists, pairs, k=10)
    finally:
        lists.unpersist()
    row = {c: values[c] for c in COMPARE_COLUMNS if c in values}
    row["coverageAtK@10"], row["novelty@10"] = beyond["coverageAtK"], beyond["novelty"]
    return row


def compare(
    df: DataFrame,
    *,
    explicit: bool,
    settings: Optional[Settings] = None,
    blocks: int = 4,
    progressStream: Optional[TextIO] = None,
    **deprecated: Any,
) -> CompareResult:
    """Most-popular, the common explicit ALS recipe (when ``explicit``) and implicit ALS tuned by
    cross-validation on the training pairs only, each scored on one per-user holdout with
    every held-out item ranked among all the items its user did not have in training ("rank
    all unseen items").

    The protocol: the positive interactions (one row per (user, item) pair; ratings or play
    counts added up, rows <= 0 left out) are split per user, ``holdout`` of each user's pairs
    to test (:py:func:`~spark_recs.train_test_split_per_user`, whole pairs). Every model is
    fitted on train only: most-popular counts interactions
    (:py:class:`~spark_recs.PopularityRecommender`); the explicit recipe is ALS with
    :py:data:`EXPLICIT_RECIPE` on the ratings; implicit ALS (ratings as confidence) is
    cross-validated over the settings' ranks x regParams x alphas on per-user folds of train
    (:py:class:`~spark_recs.PerUserFolds`) by full-catalogue precision@10, and its best point
    refit on all of train. Each is then scored on test by
    :py:func:`~spark_recs.workflow.evaluate_holdout` (the field's protocol, as in Microsoft
    Recommenders' benchmark table and LensKit) and by
    :py:func:`~spark_recs.beyond_accuracy_metrics` of its top-10 lists for the test users.

    Parameters
    ----------
    df : :py:class:`pyspark.sql.DataFrame`
        ``user``, ``item`` (any atomic type) and ``rating`` (numeric): ratings or play counts.
    explicit : bool
        Whether ``rating`` holds explicit ratings (then the explicit recipe runs too, and the
        tuned implicit ALS reads the ratings as they are); otherwise play counts, which every
        implicit fit reads through the settings' weighting (default 'log').
    settings : :py:class:`~spark_recs.settings.Settings`, optional
        The implicit grid (ranks x regParams x alphas), weighting, maxIter, folds, holdout (each
        user's share of pairs in test, in (0, 1); a user keeps at least one pair in train), seed
        and parallelism; default :py:data:`~spark_recs.settings.DEFAULTS` (4 grid points, 2
        folds: a grid twice as big doubles the run time).
    blocks : int, default 4
        ALS's numUserBlocks and numItemBlocks.
    progressStream : file-like, optional
        A progress line per fit (standard error when None).
    **deprecated
        ``ranks``, ``regParams``, ``alphas``, ``maxIter``, ``folds``, ``holdout``, ``seed``,
        ``parallelism``: the keywords before 0.2.0, which replace the values of ``settings``
        with a DeprecationWarning (they go in 0.3.0).

    Returns
    -------
    CompareResult
        Per model the values of :py:data:`COMPARE_COLUMNS`; the tuned point; the holdout's size.

    Raises
    ------
    ValueError
        An empty grid, ``holdout`` outside (0, 1), ``folds`` < 2; more than 10 iterations
        without a checkpoint directory (ALS's lineage); what the stages raise for bad input
        (null ids, a missing column, ...).

    Notes
    -----
    Spark jobs: the positives and the IdIndexer fit; the split and folds (checkpointed once);
    per grid point and fold an ALS fit and an evaluation; the best point's refit; per model
    its fit, the ranking of the held-out rows (cached, then one job for the ranking metrics and
    one for ROEM) and its top-10 lists (one beyond-accuracy job). Fits: ``len(grid) * folds +
    1`` ALS, plus the recipe's, plus most-popular's aggregation.

    Examples
    --------
    >>> import io
    >>> from spark_recs import synthetic_ratings
    >>> from spark_recs.comparison import compare
    >>> ratings, _ = synthetic_ratings(spark, numUsers=40, numItems=60, numRatings=800, seed=1)
    >>> from spark_recs.settings import Settings
    >>> grid = Settings(ranks=(4,), regParams=(0.1,), alphas=(1.0,), maxIter=3, folds=2)
    >>> result = compare(ratings, explicit=True, settings=grid, blocks=1,
    ...                  progressStream=io.StringIO())  # doctest: +SKIP
    >>> list(result.rows), sorted(result.best)  # doctest: +SKIP
    (['most-popular', 'als-explicit-recipe', 'als-implicit-tuned'], ['alpha', 'rank', 'regParam'])
    >>> print(result.table())  # doctest: +SKIP

    (Not run as a doctest, for CI's time: ``tests/test_comparison.py`` runs these calls.)
    """
    s = settings_with("compare", settings, deprecated)
    holdout, folds, seed = s.holdout, s.folds, s.seed
    if not 0 < holdout < 1:
        raise ValueError(f"compare: holdout must be in (0, 1), found {holdout!r}")
    check_grid_and_folds("compare", s.ranks, s.regParams, s.alphas, folds)
    require_checkpointing("compare", df.sparkSession, s.maxIter, 10)
    split = split_holdout_and_folds(positives(df, "implicit"), holdout=holdout, folds=folds, seed=seed)
    train, test = split.train.drop("fold"), split.test
    progress = Progress(s.grid_size() * folds + 1 + int(explicit) + 1, "compare", progressStream)
    rows: Dict[str, Dict[str, float]] = {}

    rows[MOST_POPULAR] = _measure(most_popular(train), test, train)
    progress.tick("(most-popular)")

    if explicit:
        als = ALS(**INDEXED_COLUMNS, ratingCol="rating", seed=seed, numUserBlocks=blocks,
                  numItemBlocks=blocks, **EXPLICIT_RECIPE)
        rows[EXPLICIT] = _measure(UnseenItemRankerModel.fromFitted(als.fit(train), train), test, train)
        progress.tick("(explicit ALS recipe)")

    evaluator = RankingMetricsEvaluator(metricName="precisionAtK", k=10, rankCol="rank", **INDEXED_COLUMNS)
    weighting = "none" if explicit else s.weighting
    tuned = cross_validate_ranker(
        split.train, ranks=s.ranks, regParams=s.regParams, alphas=s.alphas, maxIter=s.maxIter, blocks=blocks,
        seed=seed, evaluator=evaluator, folds=folds, parallelism=s.parallelism, progress=progress,
        weighting=weighting,
    )
    points = tuned.points("precisionAtK@10")
    best = {k: v for k, v in points[tuned.best_index].items() if k != "precisionAtK@10"}
    rows[IMPLICIT] = _measure(tuned.model, test, train)
    counted = test.agg(F.count(F.lit(1)).alias("rows"), F.count_distinct("user_idx").alias("users"))
    sizes = cast(Row, counted.first())  # an aggregation without groups: one row
    versus = versus_baseline(rows[IMPLICIT], rows[MOST_POPULAR], {BEATS_METRIC: True}, MOST_POPULAR)
    return CompareResult(rows=rows, best=best, grid=points, versus=versus,
                         holdout={"fraction": holdout, "rows": sizes["rows"], "users": sizes["users"]},
                         settings=s, weighting=weighting)


def write_compare_outputs(out: str, result: CompareResult) -> List[str]:
    """Write ``compare.json`` and ``compare.png`` to the directory ``out``.

    ``compare.json``: ``{"protocol": "full-catalogue", "columns": [...], "rows": {model:
    {metric: value}}, "labels": {model: label}, "best": {...}, "grid": [...], "holdout":
    {...}, "settings": {...}, "weighting": ..., "beatsBaseline": bool, "baselineComparison":
    {...}}`` (the last two: :py:meth:`~spark_recs.workflow.BaselineVerdict.as_json`).
    ``compare.png``: a bar chart per metric (matplotlib, the ``plot`` extra); without
    matplotlib it is skipped with a notice on standard error.

    Returns
    -------
    list of str
        The paths written.

    Raises
    ------
    OSError
        ``out`` cannot be created or written.
    """
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "compare.json")
    with open(path, "w") as fh:
        json.dump({"protocol": "full-catalogue", "columns": COMPARE_COLUMNS, "rows": result.rows,
                   "labels": {name: result.label(name) for name in result.rows}, "best": result.best,
                   "grid": result.grid, "holdout": result.holdout, "settings": result.settings.as_dict(),
                   "weighting": result.weighting, **(result.versus.as_json() if result.versus else {})},
                  fh, indent=2)
    written = [path]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("spark-recs: matplotlib is not installed (pip install 'spark-recs[plot]'): no compare.png",
              file=sys.stderr)
        return written
    names = list(result.rows)
    fig, axes = plt.subplots(2, 4, figsize=(14, 6))
    for ax, metric in zip(axes.flat, COMPARE_COLUMNS):
        colours = [_COLOURS.get(n, "#4c72b0") for n in names]
        ax.bar(range(len(names)), [result.rows[n][metric] for n in names], color=colours)
        ax.set_title(metric + (" (lower is better)" if metric == "roem" else ""), fontsize=9)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=15, fontsize=7)
    fig.suptitle("Held-out items ranked among all unseen items (k = 10)", fontsize=10)
    fig.tight_layout()
    png = os.path.join(out, "compare.png")
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return written + [png]
