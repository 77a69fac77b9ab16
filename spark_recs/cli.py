"""The ``spark-recs`` command: demo, stats, tune and recommend.

Every command builds one SparkSession (``--master`` and ``--conf KEY=VALUE`` pass through; under
spark-submit the submitted settings apply; ``--remote URL`` makes it a Spark Connect session,
whose server reads and writes the data and model paths), prints results on standard output and
progress on standard error. Bad arguments, unreadable files and bad data give one line
``spark-recs: error: ...`` and exit code 2, never a Java stack trace.

This module only parses arguments, builds the session and prints: the work is done by
:py:mod:`spark_recs.workflow` and :py:mod:`spark_recs.demo`, and of the package only ``__main__``
imports this module.
"""

import argparse
import json
import os
import sys
from dataclasses import replace
from typing import Any, List, NoReturn, Optional, Sequence

from spark_recs.datasets import SYNTHETIC_SETTINGS
from spark_recs.settings import DEFAULTS, Settings
from spark_recs.weighting import WEIGHTING_METHODS
from spark_recs.workflow import (
    EXPLICIT_METRICS,
    FEEDBACKS,
    LOADERS,
    METRICS,
    PROTOCOLS,
    LoadedData,
    WorkSizes,
    format_table,
    id_types,
    load_data,
    locate_tune_outputs,
    sized_shuffles,
    tune,
    work_sizes,
    write_tune_outputs,
)

__all__ = ["main"]

SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"

EXIT_USAGE = 2


class UsageError(Exception):
    """A problem with the command line or the input: one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        raise UsageError(f"{self.prog}: {message}")


# -- Spark ----------------------------------------------------------------------------------


def _spark(args: argparse.Namespace, app: str) -> Any:
    from pyspark.sql import SparkSession

    from spark_recs._checkpoint import CONF as CHECKPOINT_CONF
    from spark_recs._checkpoint import own_checkpoint_dir, server_conf
    from spark_recs._session import get_or_create, local_python_workers, set_log_level

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
    own_dir = not _conf_given(args, CHECKPOINT_CONF)
    if own_dir and remote.startswith("local"):  # the server's SparkContext: set only as it starts
        builder = builder.config(map=server_conf())
    local_python_workers(args.master, remote or None)
    spark = get_or_create(builder, remote or None)
    set_log_level(spark, args.log_level)
    if own_dir:
        # ALS needs one for long fits; a local master's executors share this disk (a cluster's
        # checkpoint directory must be shared: --conf spark.checkpoint.dir=hdfs://...)
        own_checkpoint_dir(spark)
    return spark


# -- data -------------------------------------------------------------------------------------


def _conf_given(args: argparse.Namespace, key: str) -> bool:
    return any(item.partition("=")[0].strip() == key for item in args.conf or [])


def _shuffle_partitions(args: argparse.Namespace, sized: int) -> Optional[int]:
    """``sized`` shuffle partitions for the command's data, or None (the session's setting)
    when the user set ``spark.sql.shuffle.partitions`` with --conf."""
    return None if _conf_given(args, SHUFFLE_PARTITIONS) else sized


def _sizes(args: argparse.Namespace, loaded: LoadedData, synthetic: str = "ml-latest-small") -> WorkSizes:
    """Shuffle partitions and ALS blocks for the data (:py:func:`work_sizes`): the synthetic
    data's size is known; a file's rows are counted (one job)."""
    if args.input:
        rows = loaded.interactions.count()
    else:
        rows = args.ratings or SYNTHETIC_SETTINGS[args.synthetic or synthetic]["numRatings"]
    return work_sizes(rows)


def _load(spark: Any, args: argparse.Namespace, synthetic: str = "ml-latest-small") -> LoadedData:
    """What --loader and --input name (without them, the embedded synthetic data: --synthetic,
    else ``synthetic``)."""
    if args.loader not in (None, "synthetic") and not args.input:
        raise UsageError(f"--loader {args.loader} needs --input PATH")
    return load_data(
        spark, args.input, loader=args.loader, feedback=args.feedback,
        userCol=args.user_col, itemCol=args.item_col, ratingCol=args.rating_col, sep=args.sep,
        synthetic=args.synthetic or synthetic, numUsers=args.users, numItems=args.items,
        numRatings=args.ratings, seed=args.seed,
    )


# -- tune's arguments ---------------------------------------------------------------------


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


def _settings(args: argparse.Namespace) -> Settings:
    """The :py:class:`~spark_recs.settings.Settings` that tune's and compare's options give
    (each option's default is the settings' default)."""
    only_tune = {"k": args.k, "threshold": args.threshold} if hasattr(args, "k") else {}
    return replace(
        DEFAULTS, ranks=tuple(_ints(args.ranks)), regParams=tuple(_floats(args.reg_params)),
        alphas=tuple(_floats(args.alphas)), weighting=args.weighting, maxIter=args.max_iter, folds=args.folds,
        holdout=args.holdout, seed=args.seed, parallelism=args.parallelism, **only_tune,
    )


def _joined(values: Sequence[Any]) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _settings_options(p: argparse.ArgumentParser, what: str) -> None:
    """tune's and compare's options for the settings they share, defaults from
    :py:data:`~spark_recs.settings.DEFAULTS` (``--help`` prints them)."""
    p.add_argument("--ranks", default=_joined(DEFAULTS.ranks),
                   help=f"{what}: ALS ranks (default %(default)s)")
    p.add_argument("--reg-params", default=_joined(DEFAULTS.regParams),
                   help=f"{what}: ALS regParams (default %(default)s)")
    p.add_argument("--alphas", default=_joined(DEFAULTS.alphas),
                   help=f"{what}, implicit/binary: ALS confidence scales, c = 1 + alpha * weight "
                        "(default %(default)s)")
    p.add_argument("--weighting", choices=list(WEIGHTING_METHODS), default=DEFAULTS.weighting,
                   help="implicit feedback: what ALS reads of each play count r: log(1 + r), BM25 weights "
                        "or r itself (default %(default)s)")
    p.add_argument("--max-iter", type=int, default=DEFAULTS.maxIter,
                   help="ALS iterations per fit (default %(default)s)")
    p.add_argument("--folds", type=int, default=DEFAULTS.folds,
                   help="per-user cross-validation folds (default %(default)s)")


def _check_metric(feedback: str, metric: Optional[str]) -> None:
    """--metric against --feedback, before any Spark work."""
    if metric in EXPLICIT_METRICS and feedback != "explicit":
        raise UsageError(f"--metric {metric} is for explicit feedback; use roem or a ranking metric")
    if metric and metric not in METRICS:
        raise UsageError(f"unknown --metric {metric!r}: use rmse, mae, roem, precision, recall, ndcg or map")


def _check_holdout(args: argparse.Namespace) -> None:
    """--holdout in (0, 1), before any Spark work."""
    if not 0 < args.holdout < 1:
        raise UsageError(f"--holdout must be between 0 and 1, found {args.holdout}")


# -- commands -------------------------------------------------------------------------------


def cmd_stats(args: argparse.Namespace) -> int:
    from spark_recs import interaction_stats

    spark = _spark(args, "stats")
    df, _, (user, item, rating) = _load(spark, args)
    stats = interaction_stats(df, userCol=user, itemCol=item, ratingCol=rating)
    print(json.dumps(stats, indent=2))
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _check_metric(args.feedback, args.metric)
    if args.protocol == "full-catalogue" and args.feedback == "explicit":
        raise UsageError("--protocol full-catalogue is for implicit or binary feedback")
    _check_holdout(args)
    spark = _spark(args, "tune")
    loaded = _load(spark, args)
    df = loaded.as_user_item_rating()
    sizes = _sizes(args, loaded)
    with sized_shuffles(spark, _shuffle_partitions(args, sizes.shuffle_partitions)):
        result = tune(
            df, feedback=args.feedback, settings=settings, metric=args.metric,
            blocks=args.blocks or sizes.als_blocks, protocol=args.protocol,
        )
        write_tune_outputs(args.out, result, df, items=loaded.items)
    report = {"metric": result.metric, "protocol": result.protocol, "best": result.best, "out": args.out}
    if result.holdout is not None:
        report.update(holdout=result.holdout, baseline=result.baseline)
    print(json.dumps(report, indent=2))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from spark_recs.comparison import compare, write_compare_outputs

    settings = _settings(args)
    if args.feedback == "binary":
        raise UsageError("compare takes ratings (--feedback explicit) or play counts (--feedback implicit)")
    _check_holdout(args)
    spark = _spark(args, "compare")
    loaded = _load(spark, args, synthetic="ml-100k")
    sizes = _sizes(args, loaded, synthetic="ml-100k")
    with sized_shuffles(spark, _shuffle_partitions(args, sizes.shuffle_partitions)):
        result = compare(
            loaded.as_user_item_rating(), explicit=args.feedback == "explicit", settings=settings,
            blocks=args.blocks or sizes.als_blocks,
        )
    print(result.table())
    if args.out:
        for path in write_compare_outputs(args.out, result):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from pyspark.ml import PipelineModel
    from pyspark.sql.types import IntegralType

    from spark_recs import recommend_for_users
    from spark_recs.top_n import all_users

    if args.all == bool(args.users):
        raise UsageError("recommend needs --users ID,ID,... or --all (with --out DIR)")
    if args.all and not args.out:
        raise UsageError("--all writes every user's top-N to a directory: pass --out DIR")
    spark = _spark(args, "recommend")
    if not os.path.exists(args.model):
        raise UsageError(f"--model {args.model}: no such directory")
    found = locate_tune_outputs(args.model)
    model = PipelineModel.load(found.model)
    rated = None
    rated_path = args.rated or found.rated
    if rated_path and not args.keep_rated:
        if os.path.isdir(rated_path):
            rated = spark.read.parquet(rated_path)
        else:
            rated = spark.read.csv(rated_path, header=True)
    elif not args.keep_rated:
        raise UsageError("no rated interactions found beside the model: pass --rated FILE or --keep-rated")
    titles = None
    if args.titles:
        if args.titles.endswith(".csv"):
            titles = spark.read.csv(args.titles, header=True)
        else:
            titles = spark.read.parquet(args.titles)
    elif found.items:
        titles = spark.read.parquet(found.items)
    user_type, item_type = id_types(model)
    users: Any = all_users(model) if args.all else [u.strip() for u in args.users.split(",") if u.strip()]
    if not args.all and isinstance(user_type, IntegralType):
        try:
            users = [int(u) for u in users]
        except ValueError:
            raise UsageError(f"--users: the model's user ids are integers, found {args.users!r}") from None
    if titles is not None:
        item_col = "item"
        if item_col not in titles.columns and args.title_item_col in titles.columns:
            titles = titles.withColumnRenamed(args.title_item_col, item_col)
        if args.title_col not in titles.columns or item_col not in titles.columns:
            raise UsageError(
                f"--titles needs columns item (or --title-item-col) and {args.title_col}, "
                f"found {titles.columns}"
            )
        if item_type is not None:
            titles = titles.withColumn(item_col, titles[item_col].cast(item_type))
    recs = recommend_for_users(model, users, n=args.n, rated=rated, excludeRated=not args.keep_rated,
                               titles=titles, itemTitleCol=args.title_col)
    if args.all:
        recs.write.mode("overwrite").parquet(args.out)
        print(json.dumps({"out": args.out, "n": args.n}, indent=2))
        return 0
    print(format_table(recs.collect(), recs.columns))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from spark_recs.demo import DEMO_SHUFFLE_PARTITIONS, run_demo

    spark = _spark(args, "demo")
    # the demo sizes its shuffles for its small data unless the user set them with --conf
    run_demo(spark, quick=args.quick, seed=args.seed, parallelism=args.parallelism,
             shuffle_partitions=_shuffle_partitions(args, DEMO_SHUFFLE_PARTITIONS))
    return 0


# -- parser -----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    from spark_recs import __version__

    parser = _Parser(
        prog="spark-recs", description="Recommendation engines with Spark ALS: demo, stats, tune, recommend."
    )
    parser.add_argument("--version", action="version", version=f"spark-recs {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("--master", help="Spark master (default: Spark's, e.g. from spark-submit)")
    common.add_argument(
        "--remote", metavar="URL",
        help="run on Spark Connect: a server's sc://host:15002, or local[N] to start one here",
    )
    common.add_argument(
        "--conf", action="append", metavar="KEY=VALUE", help="a Spark setting; repeat as needed"
    )
    common.add_argument("--log-level", default="ERROR", help="Spark log level (default ERROR)")
    common.add_argument("--seed", type=int, default=DEFAULTS.seed,
                        help="seed of the data, splits, folds and ALS (default %(default)s)")
    common.add_argument("--parallelism", type=int, default=DEFAULTS.parallelism,
                        help="models CrossValidator fits at once (default %(default)s)")
    data = _Parser(add_help=False)
    data.add_argument("--input", help="a file or directory; default: the embedded synthetic data")
    data.add_argument("--loader", choices=LOADERS, help="how to read --input (default: from its ending)")
    data.add_argument("--user-col", default="user", help="csv/parquet: the user column")
    data.add_argument("--item-col", default="item", help="csv/parquet: the item column")
    data.add_argument("--rating-col", default="rating", help="csv/parquet: the rating column")
    data.add_argument("--sep", default=",", help="csv: the field separator")
    data.add_argument("--synthetic", choices=list(SYNTHETIC_SETTINGS),
                      help="synthetic: the public data set whose shape it imitates (default ml-latest-small; "
                           "compare's ml-100k)")
    data.add_argument("--users", type=int, help="synthetic: number of users (default: --synthetic's)")
    data.add_argument("--items", type=int, help="synthetic: number of items (default: --synthetic's)")
    data.add_argument("--ratings", type=int, help="synthetic: number of ratings (default: --synthetic's)")
    data.add_argument("--feedback", choices=list(FEEDBACKS), default="explicit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "demo", parents=[common], help="the whole workflow on the embedded data",
        description="The whole workflow on the embedded synthetic data. Its shuffles run in "
                    "4 partitions (the data are small) unless --conf spark.sql.shuffle.partitions=N "
                    "is given; the session's setting is put back at the end.",
    )
    p.add_argument("--quick", action="store_true", help="smaller data and grid (for CI)")
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("stats", parents=[common, data], help="interaction statistics")
    p.set_defaults(run=cmd_stats)

    p = sub.add_parser("tune", parents=[common, data], help="cross-validate ALS over a grid; save the best")
    _settings_options(p, "grid")
    p.add_argument(
        "--blocks", type=int,
        help="ALS numUserBlocks and numItemBlocks (default: one per 250,000 rows, 2 to 10; Spark's is 10)"
    )
    p.add_argument("--metric", help="rmse|mae (explicit), roem|precision|recall|ndcg|map (implicit/binary)")
    p.add_argument("--k", type=int, default=DEFAULTS.k,
                   help="k of precision/recall/ndcg (default %(default)s)")
    p.add_argument("--threshold", type=float, default=DEFAULTS.threshold,
                   help="binary: rating > threshold is 1 (default %(default)s)")
    p.add_argument("--protocol", choices=list(PROTOCOLS),
                   help="implicit/binary: 'full-catalogue' (default: each held-out item ranked among all the "
                        "items its user did not see) or 'zero-filled' (the course's route)")
    p.add_argument("--holdout", type=float, default=DEFAULTS.holdout,
                   help="full-catalogue: each user's share of interactions held out for the final scores "
                        "(default %(default)s)")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(run=cmd_tune)

    p = sub.add_parser("compare", parents=[common, data],
                       help="most-popular, the explicit ALS recipe and tuned implicit ALS on one holdout",
                       description="Fit most-popular, the common explicit ALS recipe (rank 10, regParam "
                                   "0.05; ratings only) and implicit ALS cross-validated on the training "
                                   "pairs; score each on one per-user holdout, every held-out item ranked "
                                   "among all the items its user did not see; print the table. Without "
                                   "--input: synthetic data shaped like MovieLens 100K (--synthetic "
                                   "ml-100k).")
    _settings_options(p, "implicit grid")
    p.add_argument("--blocks", type=int,
                   help="ALS numUserBlocks and numItemBlocks (default: one per 250,000 rows, 2 to 10)")
    p.add_argument("--holdout", type=float, default=DEFAULTS.holdout,
                   help="each user's share of pairs held out (default %(default)s)")
    p.add_argument("--out", help="a directory for compare.json and compare.png")
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser("recommend", parents=[common], help="top-N items for named users")
    p.add_argument("--model", required=True, help="a tune output directory or a saved PipelineModel")
    p.add_argument("--users", help="comma-separated user ids")
    p.add_argument("--all", action="store_true", help="every user of the model (with --out)")
    p.add_argument("--out", help="with --all: a directory to write every user's top-N to, as Parquet")
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
