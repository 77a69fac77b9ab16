"""The ``spark-recs`` command: demo, stats, tune and recommend.

Every command builds one SparkSession (``--master`` and ``--conf KEY=VALUE`` pass through; under
spark-submit the submitted settings apply; ``--remote URL`` makes it a Spark Connect session,
whose server reads and writes the data and model paths), prints results on standard output and
progress on standard error. Bad arguments, unreadable files and bad data give one line
``spark-recs: error: ...`` and exit code 2, never a Java stack trace.
"""

import argparse
import csv
import json
import os
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = ["main"]

EXIT_USAGE = 2


class UsageError(Exception):
    """A problem with the command line or the input: one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        raise UsageError(f"{self.prog}: {message}")


# -- Spark ----------------------------------------------------------------------------------


def _spark(args: argparse.Namespace, app: str) -> Any:
    from pyspark.sql import SparkSession

    from spark_recs._connect import get_or_create, set_log_level

    if args.master and args.remote:
        raise UsageError("--master and --remote exclude each other: --remote local[N] starts a local server")
    remote = args.remote or os.environ.get("SPARK_REMOTE", "")  # what PySpark reads without --remote
    builder = SparkSession.builder
    if not remote.startswith("sc://"):  # a shared Connect server keeps its own name and console
        builder = builder.appName(f"spark-recs {app}").config("spark.ui.showConsoleProgress", "false")
    if args.master:
        builder = builder.master(args.master)
    if remote.startswith("local"):  # a Connect server starts here, at our log level
        builder = builder.config("spark.log.level", args.log_level.upper())
    for item in args.conf or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--conf takes KEY=VALUE, found {item!r}")
        builder = builder.config(key, value)
    spark = get_or_create(builder, remote or None)
    set_log_level(spark, args.log_level)
    return spark


class Progress:
    """Counts fits across CrossValidator's threads; prints which fit, elapsed, estimate left."""

    def __init__(self, total: int, label: str, stream: Any = None) -> None:
        self.total, self.label, self.stream = total, label, stream
        self.done = 0
        self.start = time.monotonic()
        self.lock = threading.Lock()

    def tick(self, what: str = "") -> None:
        with self.lock:
            self.done += 1
            elapsed = time.monotonic() - self.start
            left = elapsed / self.done * (self.total - self.done)
            print(
                f"[{self.label}] fit {self.done}/{self.total} {what} elapsed {elapsed:.0f}s, "
                f"~{left:.0f}s left",
                file=self.stream or sys.stderr,
                flush=True,
            )


def _reporting_pipeline(stages: List[Any], progress: Progress) -> Any:
    """A Pipeline that reports each fit (CrossValidator fits copies of it, from threads)."""
    from pyspark.ml import Pipeline

    class ReportingPipeline(Pipeline):
        def _fit(self, dataset: Any) -> Any:
            model = super()._fit(dataset)
            last = model.stages[-1]
            what = f"(rank={last.rank})" if hasattr(last, "rank") else ""
            progress.tick(what)
            return model

    return ReportingPipeline(stages=stages)


# -- data -------------------------------------------------------------------------------------


LOADERS = ["synthetic", "movielens", "movielens-100k", "taste-profile", "csv", "parquet"]


def _load(spark: Any, args: argparse.Namespace) -> Tuple[Any, Optional[Any], Tuple[str, str, str]]:
    """(interactions, items-with-titles or None, (user, item, rating) column names)."""
    from spark_recs import datasets

    loader = args.loader or ("synthetic" if not args.input else None)
    if loader is None:
        lower = args.input.lower()
        loader = "parquet" if lower.endswith((".parquet", ".pq")) else "csv"
    if loader != "synthetic" and not args.input:
        raise UsageError(f"--loader {loader} needs --input PATH")
    if loader == "synthetic":
        kind = "explicit" if args.feedback == "explicit" else "implicit"
        ratings, items = datasets.synthetic_ratings(
            spark, numUsers=args.users, numItems=args.items, numRatings=args.ratings, kind=kind, seed=args.seed
        )
        return ratings, items, ("user", "item", "rating")
    if loader == "movielens":
        ratings, movies = datasets.load_movielens(spark, args.input)
        return ratings, movies, ("userId", "movieId", "rating")
    if loader == "movielens-100k":
        ratings, movies = datasets.load_movielens_100k(spark, args.input)
        return ratings, movies, ("userId", "movieId", "rating")
    if loader == "taste-profile":
        return datasets.load_taste_profile(spark, args.input), None, ("user", "song", "plays")
    df = datasets.load_interactions(
        spark, args.input, format=loader, user=args.user_col, item=args.item_col, rating=args.rating_col,
        sep=args.sep,
    )
    return df, None, ("user", "item", "rating")


# -- tune -------------------------------------------------------------------------------------


def _floats(text: str) -> List[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"expected comma-separated numbers, found {text!r}") from None


def _ints(text: str) -> List[int]:
    values = _floats(text)
    if any(v != int(v) or v < 1 for v in values):
        raise UsageError(f"expected comma-separated whole numbers >= 1, found {text!r}")
    return [int(v) for v in values]


def _evaluator(feedback: str, metric: Optional[str], k: int) -> Tuple[Any, str]:
    from pyspark.ml.evaluation import RegressionEvaluator

    from spark_recs import RankingMetricsEvaluator, ROEMEvaluator

    metric = metric or ("rmse" if feedback == "explicit" else "roem")
    if metric in ("rmse", "mae"):
        if feedback != "explicit":
            raise UsageError(f"--metric {metric} is for explicit feedback; use roem or a ranking metric")
        return RegressionEvaluator(metricName=metric, labelCol="rating", predictionCol="prediction"), metric
    if metric == "roem":
        return ROEMEvaluator(), metric
    ranking = {"precision": "precisionAtK", "recall": "recallAtK", "ndcg": "ndcgAtK", "map": "meanAveragePrecision"}
    name = ranking.get(metric, metric)
    if name not in ("precisionAtK", "recallAtK", "ndcgAtK", "meanAveragePrecision", "meanAveragePrecisionAtK"):
        raise UsageError(f"unknown --metric {metric!r}: use rmse, mae, roem, precision, recall, ndcg or map")
    return RankingMetricsEvaluator(metricName=name, k=k), f"{name}@{k}" if name.endswith("AtK") else name


def prepare(df: Any, feedback: str, threshold: float) -> Any:
    """Interactions as (user, item, rating) for the feedback kind: explicit as is; implicit
    and binary zero-filled (binary: 1 where rating > threshold first)."""
    from spark_recs import BinaryRater, ZeroFiller

    if feedback == "binary":
        df = BinaryRater(threshold=threshold, outputCol="rating").transform(df)
    if feedback in ("implicit", "binary"):
        df = ZeroFiller(handleDuplicates="sum" if feedback == "implicit" else "max").transform(df)
    return df


def tune(
    spark: Any,
    df: Any,
    *,
    feedback: str,
    ranks: Sequence[int],
    regParams: Sequence[float],
    alphas: Sequence[float],
    maxIter: int,
    folds: int,
    metric: Optional[str],
    k: int,
    threshold: float,
    seed: int,
    parallelism: int,
    label: str = "tune",
    prepared: bool = False,
    blocks: int = 4,
) -> Dict[str, Any]:
    """Per-user folds, CrossValidator over the grid, refit of the best; returns what was learned."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.recommendation import ALS
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    from spark_recs import IdIndexer, ImplicitALS, PerUserFolds

    data = df if prepared else prepare(df, feedback, threshold)
    # Ids are indexed once, before the folds, not refit in every fold: the vocabulary carries
    # no rating, so fitting it on all rows leaks nothing, and an item seen only in a validation
    # fold still has no ALS factor there (coldStartStrategy drops it, as before).
    indexer = IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"], handleInvalid="keep").fit(data)
    data = PerUserFolds(numFolds=folds, seed=seed).transform(indexer.transform(data)).cache()
    common = dict(userCol="user_idx", itemCol="item_idx", ratingCol="rating", maxIter=maxIter, seed=seed,
                  coldStartStrategy="drop", numUserBlocks=blocks, numItemBlocks=blocks)
    als = ALS(**common) if feedback == "explicit" else ImplicitALS(**common)
    builder = ParamGridBuilder().addGrid(als.rank, list(ranks)).addGrid(als.regParam, list(regParams))
    if feedback != "explicit":
        builder = builder.addGrid(als.alpha, list(alphas))
    grid = builder.build()
    evaluator, metric_name = _evaluator(feedback, metric, k)
    progress = Progress(len(grid) * folds + 1, label)
    cv = CrossValidator(
        estimator=_reporting_pipeline([als], progress), estimatorParamMaps=grid, evaluator=evaluator,
        numFolds=folds, foldCol="fold", parallelism=parallelism, seed=seed,
    )
    cv_model = cv.fit(data)
    points = []
    for params, value in zip(grid, cv_model.avgMetrics):
        points.append({**{p.name: v for p, v in params.items()}, metric_name: float(value)})
    best = PipelineModel(stages=[indexer, *cv_model.bestModel.stages])
    data.unpersist()
    chosen = points[int(max(range(len(points)), key=lambda i: cv_model.avgMetrics[i] * (1 if evaluator.isLargerBetter() else -1)))]
    return {"model": best, "grid": points, "metric": metric_name, "best": chosen, "evaluator": evaluator,
            "larger_is_better": evaluator.isLargerBetter()}


def _write_outputs(out: str, result: Dict[str, Any], rated: Any, extra: Dict[str, Any]) -> None:
    os.makedirs(out, exist_ok=True)
    result["model"].write().overwrite().save(os.path.join(out, "model"))
    rated.select("user", "item").distinct().write.mode("overwrite").parquet(os.path.join(out, "rated"))
    metrics = {"metric": result["metric"], "larger_is_better": result["larger_is_better"], "best": result["best"],
               "grid": result["grid"], **extra}
    with open(os.path.join(out, "metrics.json"), "w") as fh:
        json.dump(metrics, fh, indent=2)
    with open(os.path.join(out, "grid.csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(result["grid"][0]))
        writer.writeheader()
        writer.writerows(result["grid"])
    _plot(out, result)


def _plot(out: str, result: Dict[str, Any]) -> Optional[str]:
    """grid.png: the metric against rank, one line per other setting (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("spark-recs: matplotlib is not installed (pip install 'spark-recs[plot]'): no grid.png",
              file=sys.stderr)
        return None
    metric = result["metric"]
    lines: Dict[str, List[Tuple[int, float]]] = {}
    for point in result["grid"]:
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


# -- commands -------------------------------------------------------------------------------


def cmd_stats(args: argparse.Namespace) -> int:
    from spark_recs import datasets

    spark = _spark(args, "stats")
    df, _, (user, item, rating) = _load(spark, args)
    stats = datasets.interaction_stats(df, userCol=user, itemCol=item, ratingCol=rating)
    print(json.dumps(stats, indent=2))
    return 0


def _renamed(df: Any, cols: Tuple[str, str, str]) -> Any:
    from pyspark.sql import functions as F

    user, item, rating = cols
    return df.select(F.col(user).alias("user"), F.col(item).alias("item"), F.col(rating).alias("rating"))


def cmd_tune(args: argparse.Namespace) -> int:
    spark = _spark(args, "tune")
    df, items, cols = _load(spark, args)
    df = _renamed(df, cols)
    result = tune(
        spark, df, feedback=args.feedback, ranks=_ints(args.ranks), regParams=_floats(args.reg_params),
        alphas=_floats(args.alphas), maxIter=args.max_iter, folds=args.folds, metric=args.metric, k=args.k,
        threshold=args.threshold, seed=args.seed, parallelism=args.parallelism, blocks=args.blocks,
    )
    _write_outputs(args.out, result, df, {"feedback": args.feedback, "folds": args.folds})
    if items is not None:
        items.write.mode("overwrite").parquet(os.path.join(args.out, "items"))
    print(json.dumps({"metric": result["metric"], "best": result["best"], "out": args.out}, indent=2))
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from pyspark.ml import PipelineModel

    from spark_recs import recommend_for_users

    spark = _spark(args, "recommend")
    model_dir = args.model
    if not os.path.exists(model_dir):
        raise UsageError(f"--model {model_dir}: no such directory")
    nested = os.path.join(model_dir, "model")
    model = PipelineModel.load(nested if os.path.isdir(nested) else model_dir)
    rated = None
    rated_dir = args.rated or (os.path.join(model_dir, "rated") if os.path.isdir(os.path.join(model_dir, "rated")) else None)
    if rated_dir and not args.keep_rated:
        rated = spark.read.parquet(rated_dir) if os.path.isdir(rated_dir) else spark.read.csv(rated_dir, header=True)
    elif not args.keep_rated:
        raise UsageError("no rated interactions found beside the model: pass --rated FILE or --keep-rated")
    titles = None
    if args.titles:
        titles = spark.read.csv(args.titles, header=True) if args.titles.endswith(".csv") else spark.read.parquet(args.titles)
    elif os.path.isdir(os.path.join(model_dir, "items")):
        titles = spark.read.parquet(os.path.join(model_dir, "items"))
    users = [u.strip() for u in args.users.split(",") if u.strip()]
    indexer = model.stages[0]
    if hasattr(indexer, "vocabularies"):
        from pyspark.sql.types import IntegralType

        if isinstance(indexer.vocabularies[0].schema["value"].dataType, IntegralType):
            try:
                users = [int(u) for u in users]
            except ValueError:
                raise UsageError(f"--users: the model's user ids are integers, found {args.users!r}") from None
    if titles is not None:
        item_col = "item"
        if item_col not in titles.columns and args.title_item_col in titles.columns:
            titles = titles.withColumnRenamed(args.title_item_col, item_col)
        if args.title_col not in titles.columns or item_col not in titles.columns:
            raise UsageError(f"--titles needs columns item (or --title-item-col) and {args.title_col}, found {titles.columns}")
        rec_vocab_type = indexer.vocabularies[1].schema["value"].dataType if hasattr(indexer, "vocabularies") else None
        if rec_vocab_type is not None:
            titles = titles.withColumn(item_col, titles[item_col].cast(rec_vocab_type))
    recs = recommend_for_users(model, users, n=args.n, rated=rated, excludeRated=not args.keep_rated,
                               titles=titles, itemTitleCol=args.title_col)
    _print_table(recs.collect(), recs.columns)
    return 0


def _print_table(rows: Sequence[Any], columns: Sequence[str]) -> None:
    cells = [[str(c) for c in columns]] + [[_fmt(r[c]) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def cmd_demo(args: argparse.Namespace) -> int:
    from spark_recs.demo import DEMO_SHUFFLE_PARTITIONS, run_demo

    spark = _spark(args, "demo")
    # the demo sizes its shuffles for its small data unless the user set them with --conf
    own = any(item.partition("=")[0].strip() == "spark.sql.shuffle.partitions" for item in args.conf or [])
    run_demo(spark, quick=args.quick, seed=args.seed, parallelism=args.parallelism,
             shuffle_partitions=None if own else DEMO_SHUFFLE_PARTITIONS)
    return 0


# -- parser -----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    from spark_recs import __version__

    parser = _Parser(prog="spark-recs", description="Recommendation engines with Spark ALS: demo, stats, tune, recommend.")
    parser.add_argument("--version", action="version", version=f"spark-recs {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("--master", help="Spark master (default: Spark's, e.g. from spark-submit)")
    common.add_argument("--remote", metavar="URL",
                        help="run on Spark Connect: a server's sc://host:15002, or local[N] to start one here")
    common.add_argument("--conf", action="append", metavar="KEY=VALUE", help="a Spark setting; repeat as needed")
    common.add_argument("--log-level", default="ERROR", help="Spark log level (default ERROR)")
    common.add_argument("--seed", type=int, default=42)
    common.add_argument("--parallelism", type=int, default=2, help="models CrossValidator fits at once")
    data = _Parser(add_help=False)
    data.add_argument("--input", help="a file or directory; default: the embedded synthetic data")
    data.add_argument("--loader", choices=LOADERS, help="how to read --input (default: from its ending)")
    data.add_argument("--user-col", default="user", help="csv/parquet: the user column")
    data.add_argument("--item-col", default="item", help="csv/parquet: the item column")
    data.add_argument("--rating-col", default="rating", help="csv/parquet: the rating column")
    data.add_argument("--sep", default=",", help="csv: the field separator")
    data.add_argument("--users", type=int, default=600, help="synthetic: number of users")
    data.add_argument("--items", type=int, default=9000, help="synthetic: number of items")
    data.add_argument("--ratings", type=int, default=100_000, help="synthetic: number of ratings")
    data.add_argument("--feedback", choices=["explicit", "implicit", "binary"], default="explicit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("demo", parents=[common], help="the whole workflow on the embedded data",
                       description="The whole workflow on the embedded synthetic data. Its shuffles run in "
                                   "4 partitions (the data are small) unless --conf spark.sql.shuffle.partitions=N "
                                   "is given; the session's setting is put back at the end.")
    p.add_argument("--quick", action="store_true", help="smaller data and grid (for CI)")
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("stats", parents=[common, data], help="interaction statistics")
    p.set_defaults(run=cmd_stats)

    p = sub.add_parser("tune", parents=[common, data], help="cross-validate ALS over a grid; save the best")
    p.add_argument("--ranks", default="4,8,16")
    p.add_argument("--reg-params", default="0.05,0.2")
    p.add_argument("--alphas", default="10", help="implicit/binary: confidence scales")
    p.add_argument("--max-iter", type=int, default=10)
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--blocks", type=int, default=4, help="ALS numUserBlocks and numItemBlocks (Spark's default is 10)")
    p.add_argument("--metric", help="rmse|mae (explicit), roem|precision|recall|ndcg|map (implicit/binary)")
    p.add_argument("--k", type=int, default=10, help="k of precision/recall/ndcg")
    p.add_argument("--threshold", type=float, default=0.0, help="binary: rating > threshold is 1")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(run=cmd_tune)

    p = sub.add_parser("recommend", parents=[common], help="top-N items for named users")
    p.add_argument("--model", required=True, help="a tune output directory or a saved PipelineModel")
    p.add_argument("--users", required=True, help="comma-separated user ids")
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--rated", help="interactions (parquet dir or csv) whose items to leave out")
    p.add_argument("--keep-rated", action="store_true", help="do not leave rated items out")
    p.add_argument("--titles", help="csv or parquet with item ids and titles")
    p.add_argument("--title-col", default="title")
    p.add_argument("--title-item-col", default="item", help="the item column of --titles")
    p.set_defaults(run=cmd_recommend)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
        if getattr(args, "folds", 2) < 2:
            raise UsageError("--folds must be >= 2")
        if getattr(args, "n", 1) < 1:
            raise UsageError("--n must be >= 1")
        return int(args.run(args) or 0)
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0)
    except (UsageError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"spark-recs: error: {_first_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # Spark's own errors (unreadable file, bad conf): one line
        from pyspark.errors import PySparkException

        if isinstance(exc, PySparkException):
            print(f"spark-recs: error: {_first_line(exc)}", file=sys.stderr)
            return EXIT_USAGE
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
