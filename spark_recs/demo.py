"""``spark-recs demo``: the course's whole workflow on the embedded synthetic data.

Explicit stars and implicit play counts: statistics, a per-user holdout, per-user folds,
CrossValidator over a small grid (RMSE; ROEM with precision@10 beside it), the best params,
held-out metrics against a baseline, and top-5 items with titles for three named users.
"""

import time
from dataclasses import replace
from typing import Any, Callable, Dict, Optional

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_recs.datasets import interaction_stats, synthetic_ratings
from spark_recs.evaluation import PrecisionAtKEvaluator, ROEMEvaluator
from spark_recs.settings import DEFAULTS
from spark_recs.top_n import recommend_for_users
from spark_recs.tuning import train_test_split_per_user
from spark_recs.workflow import format_table, sized_shuffles, tie_notes, tune
from spark_recs.zeros import ZeroFiller

__all__ = ["run_demo"]

DEMO_SHUFFLE_PARTITIONS = 4

#: The data sizes, ALS blocks and settings of the demo and of ``--quick``: the settings are
#: tune's and compare's defaults (:py:data:`~spark_recs.settings.DEFAULTS`), cut down for
#: ``--quick`` to one grid point and 3 iterations. The play counts come from picky users
#: (``tasteThreshold=1``: a user keeps fewer of the items drawn, those it likes most), so which
#: items a user plays says more about taste than popularity, as on MovieLens 100K; with the
#: generator's default (0) most-popular ranked as well as any ALS (P@10 0.2393 vs 0.2175).
SIZES: Dict[bool, Dict[str, Any]] = {
    False: {"explicit": dict(numUsers=600, numItems=9000, numRatings=100_000),
            "implicit": dict(numUsers=600, numItems=1000, numRatings=30_000, tasteThreshold=1.0),
            "settings": DEFAULTS, "blocks": 4},
    True: {"explicit": dict(numUsers=60, numItems=200, numRatings=2_000),
           "implicit": dict(numUsers=50, numItems=100, numRatings=1_000, tasteThreshold=1.0),
           "settings": replace(DEFAULTS, ranks=(8,), alphas=DEFAULTS.alphas[:1], maxIter=3), "blocks": 2},
}


def _stats(title: str, df: DataFrame, out: Callable[[str], None]) -> None:
    s = interaction_stats(df, userCol="user", itemCol="item", ratingCol="rating")
    out(f"{title}: {s['rows']:,} rows, {s['users']:,} users, {s['items']:,} items, "
        f"sparsity {s['sparsity']:.4f}")
    out(f"  rows per user min/mean/max {s['rows_per_user']['min']}/{s['rows_per_user']['mean']:.1f}/"
        f"{s['rows_per_user']['max']}; rows per item {s['rows_per_item']['min']}/"
        f"{s['rows_per_item']['mean']:.1f}/{s['rows_per_item']['max']}; rating "
        f"{s['rating']['min']:g}..{s['rating']['max']:g} (mean {s['rating']['mean']:.2f})")


def _top5(model: Any, users: list, rated: DataFrame, items: DataFrame) -> None:
    recs = recommend_for_users(model, users, n=5, rated=rated, titles=items.select("item", "title"))
    print(format_table(recs.collect(), recs.columns))
    for note in tie_notes(recs, recs.columns[0]):
        print(note)


def run_demo(spark: Any, quick: bool = False, seed: int = 42, parallelism: int = 2,
             out: Callable[[str], None] = print, shuffle_partitions: Optional[int] = DEMO_SHUFFLE_PARTITIONS
             ) -> Dict[str, Any]:
    """Run the demo on the embedded synthetic data, print a report, and return its figures.

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
        A classic or Spark Connect session.
    quick : bool, default False
        Small data, grid and folds (what CI runs): about half a minute instead of two.
    seed : int, default 42
        Seed of the data, the splits, the folds and ALS.
    parallelism : int, default 2
        Models that each CrossValidator fits at once.
    out : callable, default print
        Receives each line of the report (the top-5 tables are printed).
    shuffle_partitions : int or None, default 4
        ``spark.sql.shuffle.partitions`` while the demo runs; None keeps the session's.

    Returns
    -------
    dict
        ``explicit``: best params, held-out RMSE and the item-mean baseline's;
        ``implicit``: best params, held-out ROEM and precision@10 and the most-popular
        baseline's, under the course's zero-filled protocol; ``full_catalogue``: best params,
        the holdout's metrics and most-popular's under the field's protocol (rank all unseen
        items); ``seconds``: the demo's time.

    Notes
    -----
    The demo's data are small (100,000 ratings; 600,000 play rows with the zeros), so it runs
    its shuffles in 4 partitions instead of the session's setting (``docs/design.md``, "Shuffle
    partitions") and puts the session's setting back at the end, also when it fails.
    """
    with sized_shuffles(spark, shuffle_partitions):
        return _run_demo(spark, quick, seed, parallelism, out)


def _run_demo(
    spark: Any, quick: bool, seed: int, parallelism: int, out: Callable[[str], None]
) -> Dict[str, Any]:
    start = time.monotonic()
    size = SIZES[quick]
    settings = replace(size["settings"], seed=seed, parallelism=parallelism)
    figures: Dict[str, Any] = {}
    out("spark-recs demo: synthetic data with planted taste (not real data)\n")

    # -- explicit: stars, RMSE ----------------------------------------------------------
    out("== explicit feedback: 1-5 stars ==")
    ratings, items = synthetic_ratings(spark, kind="explicit", seed=seed, **size["explicit"])
    # Checkpoints, not caches: they also cut the plan, which Spark Connect sends whole with every
    # action and rejects past about 100 nested messages (generator + ZeroFiller + split + the
    # indexer's fit went past it: "Exceeded upb_DecodeOptions_MaxDepth").
    ratings = ratings.localCheckpoint()
    _stats("ratings", ratings, out)
    result = tune(ratings, feedback="explicit", settings=replace(settings, holdout=0.2),
                  blocks=size["blocks"], metric="rmse", label="explicit")
    out("cross-validated RMSE per grid point (per-user folds of 80% of each user's ratings):")
    for point in result.grid:
        out(f"  rank={point['rank']:<3} regParam={point['regParam']:<5} RMSE={point['rmse']:.4f}")
    out(f"best params: rank={result.best['rank']}, regParam={result.best['regParam']}")
    scores, base = result.holdout or {}, result.baseline or {}
    out(f"held-out RMSE (the other 20%): ALS {scores['rmse']:.4f} vs bias baseline {base['rmse']:.4f} "
        f"(MAE {scores['mae']:.4f} vs {base['mae']:.4f})")
    if result.versus is not None:
        out(result.versus.line())
    figures["explicit"] = {"best": result.best, "test_rmse": scores["rmse"], "baseline_rmse": base["rmse"],
                           "test_mae": scores["mae"], "baseline_mae": base["mae"]}
    named = [r["user"] for r in ratings.select("user").distinct().orderBy("user").limit(3).collect()]
    out(f"top-5 for {', '.join(named)} (rated items left out):")
    _top5(result.model, named, ratings, items)

    # -- implicit: play counts, ROEM and precision@10 -------------------------------------
    out("\n== implicit feedback: play counts, the course's protocol (zero-filled) ==")
    out(f"(every fit reads the play counts through ConfidenceWeighter(method={settings.weighting!r}): "
        "spark_recs.settings.DEFAULTS.weighting)")
    plays, songs = synthetic_ratings(spark, kind="implicit", seed=seed + 1, **size["implicit"])
    plays = plays.withColumn("rating", F.col("rating").cast("double")).localCheckpoint()
    _stats("plays", plays, out)
    filled = ZeroFiller().transform(plays).localCheckpoint()
    out(f"with zeros: {filled.count():,} rows (every user x item)")
    train, test = train_test_split_per_user(filled, testFraction=0.2, seed=seed)
    result = tune(train, feedback="implicit", settings=settings, blocks=size["blocks"], metric="roem",
                  label="implicit", prepared=True, protocol="zero-filled")
    out("cross-validated ROEM per grid point (lower is better; random is 0.5), each held-out row ranked "
        "among its user's rows of the zero-filled table:")
    for point in result.grid:
        out(f"  rank={point['rank']:<3} regParam={point['regParam']:<5} alpha={point['alpha']:<5} "
            f"ROEM={point['roem']:.4f}")
    out(f"best params: rank={result.best['rank']}, regParam={result.best['regParam']}, "
        f"alpha={result.best['alpha']}")
    predicted = result.model.transform(test)
    roem, p_at_10 = ROEMEvaluator(), PrecisionAtKEvaluator(k=10)
    popularity = train.groupBy("item").agg(
        F.sum(F.when(F.col("rating") > 0, 1).otherwise(0)).cast("float").alias("prediction")
    )
    popular = test.join(popularity, "item", "left").fillna({"prediction": 0.0})
    implicit = {"best": result.best,
                "test_roem": roem.evaluate(predicted), "baseline_roem": roem.evaluate(popular),
                "test_precision_at_10": p_at_10.evaluate(predicted),
                "baseline_precision_at_10": p_at_10.evaluate(popular)}
    out(f"held-out ROEM: ALS {implicit['test_roem']:.4f} vs most-popular {implicit['baseline_roem']:.4f}")
    out(f"held-out precision@10: ALS {implicit['test_precision_at_10']:.4f} vs most-popular "
        f"{implicit['baseline_precision_at_10']:.4f}")
    figures["implicit"] = implicit

    # -- implicit, the field's protocol: rank all unseen items ---------------------------
    out("\n== implicit feedback: the field's protocol (each held-out item ranked among all the items "
        "its user did not play) ==")
    result = tune(plays, feedback="implicit", settings=settings, blocks=size["blocks"], metric="precision",
                  label="full-catalogue", protocol="full-catalogue")
    out("cross-validated precision@10 per grid point (plays only, no zero-filled grid):")
    for point in result.grid:
        out(f"  rank={point['rank']:<3} regParam={point['regParam']:<5} alpha={point['alpha']:<5} "
            f"P@10={point[result.metric]:.4f}")
    out(f"best params: rank={result.best['rank']}, regParam={result.best['regParam']}, "
        f"alpha={result.best['alpha']}")
    holdout, popular_scores = result.holdout or {}, result.baseline or {}
    out(f"{'held-out (25% of each user)':<28} {'ALS':>8} {'most-popular':>13}")
    for name in ("precisionAtK@10", "recallAtK@10", "ndcgAtK@10", "meanAveragePrecision", "roem"):
        out(f"  {name:<26} {holdout[name]:>8.4f} {popular_scores[name]:>13.4f}")
    out("(these rank every unseen item, so they are lower than the zero-filled figures above and "
        "comparable with published ones)")
    if result.versus is not None:
        out(result.versus.line())
    figures["full_catalogue"] = {"best": result.best, "holdout": holdout, "baseline": popular_scores}
    named = [r["user"] for r in plays.select("user").distinct().orderBy("user").limit(3).collect()]
    out(f"top-5 for {', '.join(named)} (played items left out):")
    _top5(result.model, named, plays, songs)
    figures["seconds"] = time.monotonic() - start
    out(f"\ndemo finished in {figures['seconds']:.0f} s")
    return figures
