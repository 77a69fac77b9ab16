"""The ``spark-recs`` command: demo, stats, tune, compare, recommend and similar.

Every command builds one SparkSession (``--master`` and ``--conf KEY=VALUE`` pass through; under
spark-submit the submitted settings apply; ``--remote URL`` makes it a Spark Connect session,
whose server reads and writes the data and model paths), prints results on standard output and
progress on standard error. Bad arguments, unreadable files, bad data and Python workers without
what the engine needs give one line ``spark-recs: error: ...`` and exit code 2, never a Java
stack trace.

This module only parses arguments, builds the session and prints: the work is done by
:py:mod:`spark_recs.workflow` and :py:mod:`spark_recs.demo`, and of the package only ``__main__``
imports this module.
"""

import argparse
import json
import math
import os
import sys
import warnings
from dataclasses import replace
from typing import Any, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

from spark_recs._workers import WorkerEnvironmentError
from spark_recs.datasets import SYNTHETIC_SETTINGS
from spark_recs.settings import DEFAULTS, Settings
from spark_recs.similar import SIMILARITY_METRICS
from spark_recs.top_n import COLD_START
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
    history_as_fit,
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


def _floats(text: str, option: str = "", least: Optional[float] = None) -> List[float]:
    where = f"{option} " if option else ""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{where}expected comma-separated numbers, found {text!r}") from None
    if any(not math.isfinite(v) or (least is not None and v < least) for v in values):
        raise UsageError(f"{where}expected comma-separated finite numbers >= {least:g}, found {text!r}")
    return values


def _ints(text: str, option: str = "") -> List[int]:
    values = _floats(text, option)
    if any(v != int(v) or v < 1 for v in values):
        where = f"{option} " if option else ""
        raise UsageError(f"{where}expected comma-separated whole numbers >= 1, found {text!r}")
    return [int(v) for v in values]


def _settings(args: argparse.Namespace) -> Settings:
    """The :py:class:`~spark_recs.settings.Settings` that tune's and compare's options give
    (each option's default is the settings' default), the grid checked: whole ranks >= 1,
    regParams and alphas >= 0."""
    only_tune = {"k": args.k, "threshold": args.threshold} if hasattr(args, "k") else {}
    return replace(
        DEFAULTS, ranks=tuple(_ints(args.ranks, "--ranks")),
        regParams=tuple(_floats(args.reg_params, "--reg-params", 0.0)),
        alphas=tuple(_floats(args.alphas, "--alphas", 0.0)), weighting=args.weighting, maxIter=args.max_iter,
        folds=args.folds, holdout=args.holdout, seed=args.seed, parallelism=args.parallelism, **only_tune,
    )


def _joined(values: Sequence[Any]) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _settings_options(p: argparse.ArgumentParser, what: str) -> None:
    """tune's and compare's options for the settings they share, defaults from
    :py:data:`~spark_recs.settings.DEFAULTS` (``--help`` prints them)."""
    p.add_argument("--ranks", default=_joined(DEFAULTS.ranks), help=f"{what}: ALS ranks" + _D)
    p.add_argument("--reg-params", default=_joined(DEFAULTS.regParams), help=f"{what}: ALS regParams" + _D)
    p.add_argument("--alphas", default=_joined(DEFAULTS.alphas),
                   help=f"{what}, implicit/binary: ALS confidence scales, c = 1 + alpha * weight" + _D)
    p.add_argument("--weighting", choices=list(WEIGHTING_METHODS), default=DEFAULTS.weighting,
                   help="implicit feedback: what ALS reads of each play count r: log(1 + r), BM25 weights "
                        "or r itself" + _D)
    p.add_argument("--max-iter", type=int, default=DEFAULTS.maxIter, help="ALS iterations per fit" + _D)
    p.add_argument("--folds", type=int, default=DEFAULTS.folds, help="per-user cross-validation folds" + _D)


def _check_metric(feedback: str, metric: Optional[str]) -> None:
    """--metric against --feedback, before any Spark work."""
    if metric in EXPLICIT_METRICS and feedback != "explicit":
        raise UsageError(f"--metric {metric} is for explicit feedback; use roem or a ranking metric")
    if metric and metric not in EXPLICIT_METRICS and feedback == "explicit":
        raise UsageError(f"--metric {metric} ranks items: explicit feedback is tuned by held-out rating "
                         "error (--metric rmse or mae); for ranking use --feedback binary --threshold T or "
                         "--feedback implicit, which rank every unseen item")
    if metric and metric not in METRICS:
        raise UsageError(f"unknown --metric {metric!r}: use rmse, mae, roem, precision, recall, ndcg or map")


#: The numeric options and what each must be: (option, test, what it must be). Checked by
#: :py:func:`_check_numbers` before any Spark work, for the options a command has and was given.
_NUMBERS: List[Tuple[str, Callable[[Any], bool], str]] = [
    ("--folds", lambda v: v >= 2, ">= 2"),
    ("--k", lambda v: v >= 1, ">= 1"),
    ("--n", lambda v: v >= 1, ">= 1"),
    ("--max-iter", lambda v: v >= 1, ">= 1"),
    ("--parallelism", lambda v: v >= 1, ">= 1"),
    ("--blocks", lambda v: v >= 1, ">= 1"),
    ("--holdout", lambda v: 0 < v < 1, "between 0 and 1"),
    ("--threshold", math.isfinite, "a finite number"),
    ("--users", lambda v: v >= 1, ">= 1"),
    ("--items", lambda v: v >= 1, ">= 1"),
    ("--ratings", lambda v: v >= 1, ">= 1"),
]


def _check_numbers(args: argparse.Namespace) -> None:
    """Every numeric option of the command in range, before any Spark work: a bad value names
    its option (``--k must be >= 1, found 0``), not the stage that would fail after fitting."""
    for option, ok, must in _NUMBERS:
        value = getattr(args, option[2:].replace("-", "_"), None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not ok(value):
            raise UsageError(f"{option} must be {must}, found {value}")


#: Options a command no longer takes, for one release: (command, option) -> why it went.
_REMOVED = {
    ("recommend", "seed"): "recommend fits nothing",
    ("recommend", "parallelism"): "recommend fits nothing",
    ("stats", "parallelism"): "stats fits nothing",
}


def _removed_options(args: argparse.Namespace) -> None:
    """A note on standard error (and a DeprecationWarning) for each removed option given."""
    for (command, name), why in _REMOVED.items():
        if args.command == command and getattr(args, name, None) is not None:
            option = "--" + name.replace("_", "-")
            text = (f"{command} {option} is deprecated and does nothing ({why}); it will be removed "
                    "in the next release: leave it out")
            warnings.warn(text, DeprecationWarning, stacklevel=2)
            print(f"spark-recs: note: {text}", file=sys.stderr)


# -- commands -------------------------------------------------------------------------------


def cmd_stats(args: argparse.Namespace) -> int:
    from spark_recs import interaction_stats

    spark = _spark(args, "stats")
    df, _, (user, item, rating) = _load(spark, args)
    stats = interaction_stats(df, userCol=user, itemCol=item, ratingCol=rating)
    # the sparsity of the interactions, not of the rows: a zero-filled file's rows fill the table
    report = {key: stats[key] for key in ("rows", "users", "items", "interactions")}
    report["sparsity"] = stats["interaction_sparsity"]
    report["sparsity_of"] = "interactions: rows whose rating is not 0 (nor null), of users x items"
    report.update((key, stats[key]) for key in ("rows_per_user", "rows_per_item", "rating"))
    print(json.dumps(report, indent=2))
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _check_metric(args.feedback, args.metric)
    if args.protocol == "full-catalogue" and args.feedback == "explicit":
        raise UsageError("--protocol full-catalogue is for implicit or binary feedback")
    if args.protocol == "held-out-ratings" and args.feedback != "explicit":
        raise UsageError("--protocol held-out-ratings is for explicit feedback")
    spark = _spark(args, "tune")
    loaded = _load(spark, args)
    df = loaded.as_user_item_rating()
    sizes = _sizes(args, loaded)
    with sized_shuffles(spark, _shuffle_partitions(args, sizes.shuffle_partitions)):
        result = tune(
            df, feedback=args.feedback, settings=settings, metric=args.metric,
            blocks=args.blocks or sizes.als_blocks, protocol=args.protocol,
        )
        write_tune_outputs(args.out, result, df, items=loaded.items, columns=loaded.columns[:2])
    report = {"metric": result.metric, "protocol": result.protocol, "best": result.best, "out": args.out}
    if result.holdout is not None:
        report.update(holdout=result.holdout, baseline=result.baseline)
    if result.versus is not None:
        report.update(result.versus.as_json())
        print(result.versus.line(), file=sys.stderr)  # standard output is the JSON
    print(json.dumps(report, indent=2))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from spark_recs.comparison import compare, write_compare_outputs

    settings = _settings(args)
    if args.feedback == "binary":
        raise UsageError("compare takes ratings (--feedback explicit) or play counts (--feedback implicit)")
    spark = _spark(args, "compare")
    loaded = _load(spark, args, synthetic="ml-100k")
    sizes = _sizes(args, loaded, synthetic="ml-100k")
    with sized_shuffles(spark, _shuffle_partitions(args, sizes.shuffle_partitions)):
        result = compare(
            loaded.as_user_item_rating(), explicit=args.feedback == "explicit", settings=settings,
            blocks=args.blocks or sizes.als_blocks,
        )
    print(result.table())
    if result.versus is not None:
        print(result.versus.line())
    if args.out:
        for path in write_compare_outputs(args.out, result):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _is_parquet(path: str) -> bool:
    """What --titles and --rated read as Parquet: a directory (as tune writes), or .parquet / .pq."""
    return os.path.isdir(path) or path.rstrip("/").lower().endswith((".parquet", ".pq"))


def _read_table(spark: Any, option: str, path: str, sep: str = ",") -> Any:
    """A --titles or --rated file: Parquet (:py:func:`_is_parquet`) or delimited text with a
    header, every column a string."""
    if "://" not in path and not os.path.exists(path):
        raise UsageError(f"{option} {path}: no such file or directory")
    if _is_parquet(path):
        return spark.read.parquet(path)
    return spark.read.csv(path, header=True, sep=sep, escape='"')


def _with_id_types(df: Any, option: str, types: Dict[str, Any]) -> Any:
    """``df`` with each id column cast to the model's id type (text files read ids as strings);
    a value that does not cast is an error naming the option and the column."""
    from pyspark.sql import functions as F

    for name, dtype in types.items():
        if dtype is None or df.schema[name].dataType == dtype:
            continue
        cast = F.expr(f"try_cast(`{name}` AS {dtype.simpleString()})")
        bad = df.where(F.col(name).isNotNull() & cast.isNull()).select(name).limit(3).collect()
        if bad:
            raise UsageError(f"{option}: column '{name}' has ids that are not {dtype.simpleString()}, as the "
                             f"model's are: {[r[0] for r in bad]}")
        df = df.withColumn(name, cast)
    return df


def _saved_model(args: argparse.Namespace, spark: Any) -> Tuple[Any, Any, Tuple[Any, Any], Tuple[str, str]]:
    """--model's pipeline, where tune's outputs lie beside it, the model's (user, item) id types
    and its (user, item) column names: the user's, which tune saves its indexer reading."""
    from pyspark.ml import PipelineModel

    from spark_recs.top_n import als_and_indexer, original_ids

    if not os.path.exists(args.model):
        raise UsageError(f"--model {args.model}: no such directory")
    found = locate_tune_outputs(args.model)
    model = PipelineModel.load(found.model)
    (user_col, _), (item_col, _) = original_ids(*als_and_indexer(model))
    return model, found, id_types(model), (user_col, item_col)


def _titles(args: argparse.Namespace, spark: Any, found: Any, item_col: str, item_type: Any) -> Any:
    """--titles (or the titles tune saved beside the model) as (item_col, --title-col), or None."""
    titles_path = args.titles or found.items
    if not titles_path:
        return None
    titles = _read_table(spark, "--titles", titles_path, args.titles_sep)
    source = args.title_item_col or item_col
    if source not in titles.columns or args.title_col not in titles.columns:
        if not args.titles:  # saved by an older tune, under other names: go without titles
            print(f"spark-recs: note: the titles beside the model ({titles_path}) have no column "
                  f"{source} or {args.title_col}: {args.command} goes on without titles", file=sys.stderr)
            return None
        sep = args.titles_sep
        read = "Parquet" if _is_parquet(titles_path) else f"text with --titles-sep {sep!r}"
        raise UsageError(
            f"--titles {titles_path} (read as {read}) needs the item column {source} (the model's, "
            f"or --title-item-col) and the title column {args.title_col} (--title-col), found "
            f"{titles.columns}"
        )
    titles = titles.select(titles[source].alias(item_col), titles[args.title_col])
    return _with_id_types(titles, "--titles", {item_col: item_type})


def _id_list(text: str, option: str, dtype: Any, what: str) -> List[Any]:
    """Comma-separated ids of --users or --items, as integers when the model's ids are."""
    from pyspark.sql.types import IntegralType

    ids = [u.strip() for u in text.split(",") if u.strip()]
    if isinstance(dtype, IntegralType):
        try:
            return [int(u) for u in ids]
        except ValueError:
            raise UsageError(f"{option}: the model's {what} ids are integers, found {text!r}") from None
    return ids


def _write_or_print(df: Any, args: argparse.Namespace) -> int:
    """--all: the rows to --out as Parquet, and a JSON line; otherwise a table on stdout."""
    if args.all:
        df.write.mode("overwrite").parquet(args.out)
        print(json.dumps({"out": args.out, "n": args.n}, indent=2))
        return 0
    print(format_table(df.collect(), df.columns))
    return 0


def _one_of_named_or_all(args: argparse.Namespace, command: str, option: str) -> None:
    if args.all == bool(getattr(args, option.lstrip("-"))):
        raise UsageError(f"{command} needs {option} ID,ID,... or --all (with --out DIR)")
    if args.all and not args.out:
        what = "user's top-N" if command == "recommend" else "item's neighbours"
        raise UsageError(f"--all writes every {what} to a directory: pass --out DIR")


def cmd_recommend(args: argparse.Namespace) -> int:
    from spark_recs import recommend_for_users
    from spark_recs.top_n import all_users

    _one_of_named_or_all(args, "recommend", "--users")
    spark = _spark(args, "recommend")
    model, found, (user_type, item_type), (user_col, item_col) = _saved_model(args, spark)
    rated = None
    rated_path = args.rated or found.rated
    if rated_path and not args.keep_rated:
        rated = _read_table(spark, "--rated", rated_path)
        missing = [c for c in (user_col, item_col) if c not in rated.columns]
        if missing:
            raise UsageError(f"--rated {rated_path}: needs the model's columns {user_col} and {item_col}, "
                             f"found {rated.columns}")
        rated = _with_id_types(rated, "--rated", {user_col: user_type, item_col: item_type})
    elif not args.keep_rated:
        raise UsageError("no rated interactions found beside the model: pass --rated FILE or --keep-rated")
    titles = _titles(args, spark, found, item_col, item_type)
    users: Any = all_users(model) if args.all else _id_list(args.users, "--users", user_type, "user")
    history, fold_params = None, None
    if args.history:
        history, fold_params = _history(args, spark, model, found, (user_col, item_col),
                                        (user_type, item_type))
    types = {user_col: user_type, item_col: item_type}
    recs = recommend_for_users(
        model, users, n=args.n, rated=rated, excludeRated=not args.keep_rated, titles=titles,
        itemTitleCol=args.title_col, history=history, foldIn=fold_params, coldStart=args.cold_start,
        candidates=_item_file(args, spark, "--candidates", [item_col], types),
        exclude=_item_file(args, spark, "--exclude", [item_col], types, optional=[user_col]),
    )
    return _write_or_print(recs, args)


def _history(args: argparse.Namespace, spark: Any, model: Any, found: Any, cols: Tuple[str, str],
             types: Tuple[Any, Any]) -> Tuple[Any, Dict[str, Any]]:
    """--history read as tune reads --input (--loader and the column options), in the model's
    column names and id types, on the scale the model was fit on (:py:func:`history_as_fit`)."""
    from spark_recs.top_n import als_and_indexer

    if args.loader == "synthetic":
        raise UsageError("--history needs a file: --loader synthetic makes data, it reads none")
    loaded = load_data(spark, args.history, loader=args.loader, userCol=args.user_col, itemCol=args.item_col,
                       ratingCol=args.rating_col, sep=args.sep)
    user, item, rating = loaded.columns
    rows = loaded.interactions.select(
        loaded.interactions[user].alias(cols[0]), loaded.interactions[item].alias(cols[1]),
        loaded.interactions[rating].alias("rating"),
    )
    rows = _with_id_types(rows, "--history", {cols[0]: types[0], cols[1]: types[1]})
    recommender, _ = als_and_indexer(model)
    return history_as_fit(rows, found.metrics, recommender)


def _item_file(args: argparse.Namespace, spark: Any, option: str, needed: List[str], types: Dict[str, Any],
               optional: Sequence[str] = ()) -> Any:
    """--candidates or --exclude: a Parquet or CSV file with the model's item column (and, for
    --exclude, optionally its user column), ids cast to the model's types; None when not given."""
    path = getattr(args, option.lstrip("-"))
    if not path:
        return None
    table = _read_table(spark, option, path)
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise UsageError(f"{option} {path}: needs the model's column {', '.join(missing)}, "
                         f"found {table.columns}")
    cols = list(needed) + [c for c in optional if c in table.columns]
    return _with_id_types(table.select(*cols), option, {c: types[c] for c in cols})


def cmd_similar(args: argparse.Namespace) -> int:
    from spark_recs import similar_items

    _one_of_named_or_all(args, "similar", "--items")
    spark = _spark(args, "similar")
    model, found, (_, item_type), (_, item_col) = _saved_model(args, spark)
    titles = _titles(args, spark, found, item_col, item_type)
    items = None if args.all else _id_list(args.items, "--items", item_type, "item")
    types = {item_col: item_type}
    near = similar_items(model, items, n=args.n, metric=args.metric, titles=titles,
                         itemTitleCol=args.title_col,
                         candidates=_item_file(args, spark, "--candidates", [item_col], types),
                         exclude=_item_file(args, spark, "--exclude", [item_col], types))
    return _write_or_print(near, args)


def cmd_demo(args: argparse.Namespace) -> int:
    from spark_recs.demo import DEMO_SHUFFLE_PARTITIONS, run_demo

    spark = _spark(args, "demo")
    # the demo sizes its shuffles for its small data unless the user set them with --conf
    run_demo(spark, quick=args.quick, seed=args.seed, parallelism=args.parallelism,
             shuffle_partitions=_shuffle_partitions(args, DEMO_SHUFFLE_PARTITIONS))
    return 0


# -- parser -----------------------------------------------------------------------------------


#: What each option's help ends with: its default, as argparse fills it in.
_D = " (default: %(default)s)"


def _named_or_all_options(p: argparse.ArgumentParser, what: str, result: str, per: str) -> None:
    """recommend's and similar's options: --model, --users or --items, --all with --out, --n."""
    p.add_argument("--model", required=True,
                   help="a tune output directory or a saved PipelineModel (required)")
    p.add_argument(f"--{what}s", help=f"comma-separated {what} ids (required unless --all)")
    p.add_argument("--all", action="store_true",
                   help=f"every {what} of the model, written to --out (default: off)")
    p.add_argument("--out", help=f"with --all: a directory to write every {what}'s {result} to, as Parquet "
                                 "(required with --all)")
    p.add_argument("--n", type=int, default=10, help=f"{per} per {what}" + _D)


def _rule_options(p: argparse.ArgumentParser, what: str) -> None:
    """--candidates and --exclude: the business rules of recommend and similar."""
    verb = "recommend" if what == "recommend" else what
    p.add_argument("--candidates",
                   help=f"the only items to {verb}: a Parquet or CSV file (with a header) with the model's "
                        "item column (default: every item)")
    per_user = " and, for per-user exclusions, its user column" if what == "recommend" else ""
    p.add_argument("--exclude",
                   help=f"items never to {verb}: a Parquet or CSV file with the model's item "
                        f"column{per_user} (default: none)")


def _parser() -> argparse.ArgumentParser:
    from spark_recs import __version__

    parser = _Parser(
        prog="spark-recs",
        description="Recommendation engines with Spark ALS: demo, stats, tune, compare, recommend, similar.",
    )
    parser.add_argument("--version", action="version", version=f"spark-recs {__version__}")
    session = _Parser(add_help=False)
    session.add_argument("--master", help="Spark master (default: Spark's, e.g. from spark-submit)")
    session.add_argument(
        "--remote", metavar="URL",
        help="run on Spark Connect: a server's sc://host:15002, or local[N] to start one here "
             "(default: a classic session)",
    )
    session.add_argument(
        "--conf", action="append", metavar="KEY=VALUE",
        help="a Spark setting; repeat as needed (default: none)",
    )
    session.add_argument("--log-level", default="ERROR", help="Spark log level" + _D)
    seed = _Parser(add_help=False)
    seed.add_argument("--seed", type=int, default=DEFAULTS.seed,
                      help="seed of the synthetic data, the splits, the folds and ALS" + _D)
    fits = _Parser(add_help=False)
    fits.add_argument("--parallelism", type=int, default=DEFAULTS.parallelism,
                      help="models CrossValidator fits at once" + _D)
    removed = _Parser(add_help=False)  # accepted for one release, with a note (_REMOVED)
    removed.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    removed.add_argument("--parallelism", type=int, default=None, help=argparse.SUPPRESS)
    no_fits = _Parser(add_help=False)
    no_fits.add_argument("--parallelism", type=int, default=None, help=argparse.SUPPRESS)
    data = _Parser(add_help=False)
    data.add_argument("--input", help="a file or directory (default: the embedded synthetic data)")
    data.add_argument("--loader", choices=LOADERS,
                      help="how to read --input (default: parquet for .parquet/.pq, else csv)")
    data.add_argument("--user-col", default="user", help="csv/parquet: the user column" + _D)
    data.add_argument("--item-col", default="item", help="csv/parquet: the item column" + _D)
    data.add_argument("--rating-col", default="rating",
                      help="csv/parquet: the rating or play-count column" + _D)
    data.add_argument("--sep", default=",", help="csv: the field separator, e.g. '\\t'" + _D)
    data.add_argument("--synthetic", choices=list(SYNTHETIC_SETTINGS),
                      help="synthetic: the public data set whose shape it imitates "
                           "(default: ml-latest-small; compare's: ml-100k)")
    data.add_argument("--users", type=int, help="synthetic: number of users (default: --synthetic's)")
    data.add_argument("--items", type=int, help="synthetic: number of items (default: --synthetic's)")
    data.add_argument("--ratings", type=int, help="synthetic: number of ratings (default: --synthetic's)")
    data.add_argument("--feedback", choices=list(FEEDBACKS), default="explicit",
                      help="explicit: ratings as they are; implicit: play counts (confidence); binary: "
                           "rating > --threshold is 1" + _D)
    titled = _Parser(add_help=False)
    titled.add_argument("--titles",
                   help="items with titles: Parquet (.parquet, .pq or a directory) or a delimited text file "
                        "with a header, any other ending (default: the titles tune saved beside the model, "
                        "if any)")
    titled.add_argument("--titles-sep", default=",",
                   help="the field separator of a text --titles file, e.g. '\\t'" + _D)
    titled.add_argument("--title-col", default="title", help="the title column of --titles" + _D)
    titled.add_argument("--title-item-col",
                   help="the item id column of --titles (default: the model's item column, e.g. movieId)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "demo", parents=[session, seed, fits], help="the whole workflow on the embedded data",
        description="The whole workflow on the embedded synthetic data. Its shuffles run in "
                    "4 partitions (the data are small) unless --conf spark.sql.shuffle.partitions=N "
                    "is given; the session's setting is put back at the end.",
    )
    p.add_argument("--quick", action="store_true", help="smaller data and grid, for CI (default: off)")
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("stats", parents=[session, seed, no_fits, data], help="interaction statistics",
                       description="Counts of users, items and rows, the sparsity of the interactions "
                                   "(rows whose rating is not 0), rows per user and item, the rating range.")
    p.set_defaults(run=cmd_stats)

    p = sub.add_parser("tune", parents=[session, seed, fits, data],
                       help="cross-validate ALS over a grid; save the best")
    _settings_options(p, "the grid")
    p.add_argument(
        "--blocks", type=int,
        help="ALS numUserBlocks and numItemBlocks (default: one per 250,000 rows, 2 to 10; Spark's is 10)"
    )
    p.add_argument("--metric",
                   help="rmse|mae (explicit), roem|precision|recall|ndcg|map (implicit/binary) "
                        "(default: rmse for explicit, roem for the others)")
    p.add_argument("--k", type=int, default=DEFAULTS.k, help="k of precision/recall/ndcg" + _D)
    p.add_argument("--threshold", type=float, default=DEFAULTS.threshold,
                   help="binary: rating > threshold is 1" + _D)
    p.add_argument("--protocol", choices=list(PROTOCOLS),
                   help="implicit/binary: 'full-catalogue' (each held-out item ranked among all the "
                        "items its user did not see) or 'zero-filled' (the course's route); explicit: "
                        "'held-out-ratings' (each user's held-out ratings predicted) "
                        "(default: full-catalogue; explicit: held-out-ratings)")
    p.add_argument("--holdout", type=float, default=DEFAULTS.holdout,
                   help="full-catalogue and held-out-ratings: each user's share of interactions held out "
                        "for the final scores (default: %(default)s)")
    p.add_argument("--out", required=True, help="output directory (required)")
    p.set_defaults(run=cmd_tune)

    p = sub.add_parser("compare", parents=[session, seed, fits, data],
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
                   help="each user's share of pairs held out" + _D)
    p.add_argument("--out", help="a directory for compare.json and compare.png (default: none, print only)")
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser("recommend", parents=[session, removed, titled], help="top-N items for named users",
                       description="Top-N items for named users (--users) or every user (--all), in the "
                                   "model's original ids and column names, rated items left out.")
    _named_or_all_options(p, "user", "top-N", "items")
    p.add_argument("--rated",
                   help="interactions (a Parquet directory or a CSV file with a header) whose items to leave "
                        "out (default: the rated pairs tune saved beside the model)")
    p.add_argument("--keep-rated", action="store_true", help="do not leave rated items out (default: off)")
    p.add_argument("--history",
                   help="interactions of users the model does not know (users who arrived after the fit), "
                        "read as tune reads --input (--loader, --user-col, --item-col, --rating-col, --sep): "
                        "each such user of --users is folded in, its history items left out (default: none)")
    p.add_argument("--loader", choices=[name for name in LOADERS if name != "synthetic"],
                   help="how to read --history (default: parquet for .parquet/.pq, else csv)")
    p.add_argument("--user-col", default="user", help="csv/parquet --history: the user column" + _D)
    p.add_argument("--item-col", default="item", help="csv/parquet --history: the item column" + _D)
    p.add_argument("--rating-col", default="rating",
                   help="csv/parquet --history: the rating or play-count column" + _D)
    p.add_argument("--sep", default=",", help="csv --history: the field separator, e.g. '\\t'" + _D)
    p.add_argument("--cold-start", choices=COLD_START, default="error",
                   help="users the model does not know, without --history rows: error, popular (the "
                        "most popular unseen items, marked in a source column) or skip" + _D)
    _rule_options(p, "recommend")
    p.set_defaults(run=cmd_recommend)

    p = sub.add_parser("similar", parents=[session, titled], help="the items most similar to named items",
                       description="The items most similar to named items (--items) or to every item "
                                   "(--all), by the model's item factors, each item itself left out, in "
                                   "the model's original ids and column names.")
    _named_or_all_options(p, "item", "neighbours", "neighbours")
    p.add_argument("--metric", choices=SIMILARITY_METRICS, default="cosine",
                   help="cosine of the item factors, or their dot product" + _D)
    _rule_options(p, "give as neighbours")
    p.set_defaults(run=cmd_similar)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
        _check_numbers(args)
        _removed_options(args)
        return int(args.run(args) or 0)
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0)
    except (UsageError, ValueError, TypeError, FileNotFoundError, WorkerEnvironmentError) as exc:
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
