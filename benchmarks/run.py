"""Benchmark spark-recs stages against the plain Spark recipes they replace.

    python benchmarks/run.py --sizes XS --repeats 1      # a quick look, a few minutes
    python benchmarks/run.py --sizes S,M                 # the reference run (3 repeats)

One Spark session; per size, synthetic data generated on the executors and materialized once;
then, per round, every case times "ours" and "naive" (alternating which goes first), forced to
full evaluation (the ``noop`` writer, or an evaluator's number). Prints a table per size and
writes everything to ``benchmarks/results/<timestamp>.json``. Exits non-zero when a correctness
check fails. See benchmarks/README.md.
"""

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for path in (HERE, ROOT):  # ROOT: for tests.reference (the naive recipes)
    if path not in sys.path:
        sys.path.insert(0, path)

import pyspark  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

import cases as C  # noqa: E402
from spark_recs._session import conf_scope  # noqa: E402
import datagen  # noqa: E402
from sparkrest import ShuffleMeter  # noqa: E402

UNTIMED = "bench-untimed"
PRIMARY = ("ours", "naive")
FLOORS = ("scan", "floor")  # extras timed as ours / extra: a scan of the input, the cheapest correct plan


# -- setup --------------------------------------------------------------------------------------


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="XS,S,M", help="comma list of XS,S,M,L (default XS,S,M)")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds per size (default 3)")
    p.add_argument("--cases", default=",".join(C.ALL_CASES), help="comma list; default all: " + ",".join(C.ALL_CASES))
    p.add_argument("--out", default=None, help="JSON output (default benchmarks/results/<timestamp>.json)")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--shuffle-partitions", type=int, default=8, help="spark.sql.shuffle.partitions")
    p.add_argument("--driver-memory", default="4g", help="spark.driver.memory (local masters)")
    p.add_argument("--input-partitions", type=int, default=None,
                   help="partitions of the generated inputs (default max(8, grid rows / 2M))")
    p.add_argument("--materialize", choices=["checkpoint", "parquet"], default="checkpoint",
                   help="how generated inputs are frozen: localCheckpoint(eager=True) or Parquet in a temp dir")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up pass on tiny data")
    p.add_argument("--no-shuffle-bytes", action="store_true",
                   help="disable the Spark UI (and so the REST shuffle-byte readings)")
    args = p.parse_args(argv)
    args.sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in args.sizes if s not in datagen.SIZES]
    if unknown:
        p.error(f"unknown sizes {unknown}; choose from {list(datagen.SIZES)}")
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in args.cases if c not in C.ALL_CASES]
    if unknown:
        p.error(f"unknown cases {unknown}; choose from {C.ALL_CASES}")
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


def start_spark(args: argparse.Namespace) -> SparkSession:
    ui = not args.no_shuffle_bytes
    if args.master.startswith("local") and ui:
        # the UI (and its REST API) listens on 127.0.0.1 only
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers run this interpreter (with its pandas and pyarrow), not whatever
    # ``python3`` is first on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(args.master)
        .appName("spark-recs-benchmarks")
        .config("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
        .config("spark.ui.enabled", "true" if ui else "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.ui.retainedJobs", "400")
        .config("spark.ui.retainedStages", "800")
        .config("spark.sql.ui.retainedExecutions", "200")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.catalogImplementation", "in-memory")
    )
    if args.master.startswith("local") and args.driver_memory:  # None: Spark's default
        builder = builder.config("spark.driver.memory", args.driver_memory)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def machine_info(spark: SparkSession) -> Dict[str, Any]:
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    java = None
    try:
        java_bin = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if "JAVA_HOME" in os.environ else "java"
        out = subprocess.run([java_bin, "-version"], capture_output=True, text=True, timeout=30)
        java = (out.stderr or out.stdout).splitlines()[0]
    except Exception:  # noqa: BLE001
        pass
    commit = None
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "spark_recs"],
                               capture_output=True, text=True).stdout.strip()
        commit += "+dirty" if dirty else ""
    except Exception:  # noqa: BLE001
        pass
    import spark_recs

    return {
        "nproc": os.cpu_count(),
        "memory_bytes": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pyspark": pyspark.__version__,
        "spark": spark.version,
        "java": java,
        "spark_recs": getattr(spark_recs, "__version__", None),
        "git_commit": commit,
        "loadavg_start": list(os.getloadavg()),
    }


# -- inputs -------------------------------------------------------------------------------------


class Materializer:
    def __init__(self, spark: SparkSession, how: str) -> None:
        self.spark, self.how = spark, how
        self.tmp = tempfile.mkdtemp(prefix="spark-recs-bench-") if how == "parquet" else None

    def __call__(self, df: DataFrame, name: str) -> DataFrame:
        if self.how == "checkpoint":
            return df.localCheckpoint(eager=True)
        path = os.path.join(self.tmp, name)
        df.write.parquet(path)
        return self.spark.read.parquet(path)

    def close(self) -> None:
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def make_inputs(spark: SparkSession, size: datagen.Size, args, materialize: Materializer):
    start = time.perf_counter()
    parts = args.input_partitions or max(8, size.grid // 2_000_000)
    grid = datagen.grid(spark, size, args.seed, parts)
    preds = materialize(grid.select("user", "item", "rating", "prediction"), f"{size.name}/preds")
    observed = materialize(
        preds.where(F.col("rating") > 0).select("user", "item", "rating"), f"{size.name}/observed"
    )
    explicit = materialize(
        grid.where(F.col("rating") > 0).select(
            datagen.user_id(F.col("user")).alias("user"),
            datagen.item_id(F.col("item")).alias("item"),
            F.col("stars").alias("rating"),
        ),
        f"{size.name}/explicit",
    )
    seconds = time.perf_counter() - start
    o = observed.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum("rating").alias("s"),
        F.count_distinct("user").alias("u"),
        F.count_distinct("item").alias("i"),
    ).first()
    tied = preds.agg(F.count_distinct("user", "prediction").alias("d")).first()["d"]
    inputs = C.Inputs(
        spark=spark,
        size_name=size.name,
        preds=preds,
        observed=observed,
        explicit=explicit,
        users=int(o["u"]),
        items=int(o["i"]),
        positives=int(o["n"]),
        rating_sum=float(o["s"]),
        exact_rows_check=size.name == "XS",
    )
    meta = {
        "users": size.users,
        "items": size.items,
        "nominal_density": size.density,
        "grid_rows": size.grid,
        "positives": inputs.positives,
        "density": inputs.positives / size.grid,
        "observed_users": inputs.users,
        "observed_items": inputs.items,
        "play_count_sum": inputs.rating_sum,
        "tied_prediction_rows": size.grid - int(tied),
        "input_partitions": parts,
        "materialize": args.materialize,
        "generate_seconds": seconds,
    }
    return inputs, meta


# -- timing -------------------------------------------------------------------------------------


def run_one(spark, meter: ShuffleMeter, group: str, fn) -> Dict[str, Any]:
    sc = spark.sparkContext
    sc.setJobGroup(group, group)
    error = None
    value = None
    start = time.perf_counter()
    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 - recorded, makes the run fail at the end
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        traceback.print_exc()
    seconds = time.perf_counter() - start
    sc.setJobGroup(UNTIMED, "untimed work")
    record: Dict[str, Any] = {"seconds": seconds, "value": value}
    if error:
        record["error"] = error
    measured = meter.measure(group)
    if measured:
        record.update(measured)
    return record


def values_agree(records: Dict[str, Dict[str, Any]], tolerance: float = C.TOLERANCE, other: str = "naive") -> Optional[bool]:
    """Whether ours and ``other`` returned the same number, or the same tuple of numbers."""
    a, b = records.get("ours", {}).get("value"), records.get(other, {}).get("value")
    if a is None or b is None:
        return False
    pairs = list(zip(a, b)) if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b) else [(a, b)]
    return all(abs(x - y) <= tolerance or (math.isnan(x) and math.isnan(y)) for x, y in pairs)


_JOIN = re.compile(r"\b(BroadcastHashJoin|SortMergeJoin|ShuffledHashJoin|BroadcastNestedLoopJoin|CartesianProduct)\b")


def join_nodes(plans: List[str]) -> List[str]:
    """Join operators of the plans that ran: the adaptive "Final Plan" section when present."""
    found: List[str] = []
    for plan in plans:
        tree = plan.split("\n\n")[0]  # the operator tree, before the per-node details
        if "== Final Plan ==" in tree:
            tree = tree.split("== Final Plan ==")[1].split("== Initial Plan ==")[0]
        for name in _JOIN.findall(tree):
            if name not in found:
                found.append(name)
    return found


def run_round(spark, meter, case: C.Case, label_prefix: str, r: int, record_plans: bool) -> Dict[str, Any]:
    labels = list(case.contestants)
    present = [lab for lab in PRIMARY if lab in labels]  # a case may have no naive contestant
    primary = present if r % 2 == 0 else list(reversed(present))
    order = primary + [lab for lab in labels if lab not in PRIMARY]
    out: Dict[str, Any] = {"order": order, "runs": {}}
    with conf_scope(spark, case.conf):
        for label in order:
            group = f"{label_prefix}:{case.name}:{label}:{r}"
            rec = run_one(spark, meter, group, case.contestants[label])
            if record_plans and label in case.plans_of:
                rec["final_plan_joins"] = join_nodes(meter.final_plans(group))
            out["runs"][label] = rec
    if case.compare_values:
        # a floor that computes the metric (not a scan) must agree as well
        others = ["naive"] + [lab for lab in labels if lab in FLOORS and lab != "scan"]
        out["values_agree"] = all(values_agree(out["runs"], case.tolerance, other) for other in others)
    return out


def summarize(case: C.Case, rounds: List[Dict[str, Any]]) -> Dict[str, Any]:
    labels = list(case.contestants)
    summary: Dict[str, Any] = {}
    for label in labels:
        times = [rd["runs"][label]["seconds"] for rd in rounds]
        s: Dict[str, Any] = {
            "seconds": times,
            "median_s": statistics.median(times),
            "min_s": min(times),
            "max_s": max(times),
        }
        if label != "naive" and "naive" in labels:
            ratios = [rd["runs"][label]["seconds"] / rd["runs"]["naive"]["seconds"] for rd in rounds]
            s["ratio_to_naive"] = ratios
            s["median_ratio_to_naive"] = statistics.median(ratios)
        shuffles = [rd["runs"][label].get("shuffle_write_bytes") for rd in rounds]
        if all(x is not None for x in shuffles):
            s["shuffle_write_bytes"] = int(statistics.median(shuffles))
            s["jobs"] = int(statistics.median(rd["runs"][label]["jobs"] for rd in rounds))
            busy = [rd["runs"][label].get("job_seconds") for rd in rounds]
            if all(x is not None for x in busy):
                s["job_seconds"] = busy
                s["median_job_seconds"] = statistics.median(busy)
        if label in FLOORS:
            ratios = [rd["runs"]["ours"]["seconds"] / rd["runs"][label]["seconds"] for rd in rounds]
            summary[f"ours_to_{label}"] = ratios
            summary[f"median_ours_to_{label}"] = statistics.median(ratios)
        errors = [rd["runs"][label]["error"] for rd in rounds if "error" in rd["runs"][label]]
        if errors:
            s["errors"] = errors
        summary[label] = s
    return summary


def case_result(case: C.Case, rds: List[Dict[str, Any]], check: Optional[Dict[str, Any]], where: str,
                failures: List[str]) -> Dict[str, Any]:
    """A case's report: its rounds, their summary and its check; what failed goes to ``failures``."""
    res: Dict[str, Any] = {
        "what": case.what,
        "labels": list(case.contestants),
        "conf": case.conf,
        "rounds": rds,
        "summary": summarize(case, rds),
    }
    if check is not None:
        res["check"] = check
        if not check.get("ok"):
            failures.append(f"{where}: check {check}")
    if case.compare_values:
        agree = all(rd.get("values_agree") for rd in rds)
        res["values_agree"] = agree
        res["values"] = {lab: [rd["runs"][lab]["value"] for rd in rds] for lab in PRIMARY}
        if not agree:
            failures.append(f"{where}: ours {res['values']['ours']} != naive {res['values']['naive']}")
    errors = {lab: s["errors"] for lab, s in res["summary"].items() if isinstance(s, dict) and s.get("errors")}
    if errors:
        failures.append(f"{where}: errors {errors}")
    for rd in rds:
        joins = rd["runs"].get("naive", {}).get("final_plan_joins")
        if joins:
            res["naive_final_plan_joins"] = joins
            break
    return res


# -- output -------------------------------------------------------------------------------------


def human_bytes(n: Optional[int]) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def print_size(name: str, meta: Dict[str, Any], results: Dict[str, Any]) -> None:
    print()
    print(
        f"== {name}: {meta['users']:,} users x {meta['items']:,} items, {meta['positives']:,} positives "
        f"({100 * meta['density']:.2f}%), grid {meta['grid_rows']:,} rows, "
        f"{meta['tied_prediction_rows']:,} tied predictions; generated in {meta['generate_seconds']:.1f} s"
    )
    print_cases(results)


def print_cases(results: Dict[str, Any]) -> None:
    """The table of one size: a block of lines per case, then its notes."""
    header = f"{'case':<15}{'run':<11}{'median s':>9}{'min':>8}{'max':>8}   {'ratio vs naive per round':<26}{'median':>7}{'shuffle':>11}{'jobs':>5}{'in jobs':>8}"
    print(header)
    print("-" * len(header))
    for case_name, res in results.items():
        summary = res["summary"]
        first = True
        for label in res["labels"]:
            s = summary[label]
            ratios = " ".join(f"{x:.2f}" for x in s.get("ratio_to_naive", []))
            med = f"{s['median_ratio_to_naive']:.2f}" if "median_ratio_to_naive" in s else ""
            if label in FLOORS:
                ratios = f"(ours/{label}) " + " ".join(f"{x:.2f}" for x in summary[f"ours_to_{label}"])
                med = f"{summary[f'median_ours_to_{label}']:.2f}"
            flag = "  ERROR" if s.get("errors") else ""
            print(
                f"{case_name if first else '':<15}{label:<11}{s['median_s']:>9.3f}{s['min_s']:>8.3f}{s['max_s']:>8.3f}   "
                f"{ratios:<26}{med:>7}{human_bytes(s.get('shuffle_write_bytes')):>11}{s.get('jobs', ''):>5}"
                f"{(format(s['median_job_seconds'], '.2f') if 'median_job_seconds' in s else '-'):>8}{flag}"
            )
            first = False
        notes = []
        check = res.get("check")
        if check is not None:
            notes.append("check " + ("ok" if check.get("ok") else "FAILED"))
        if "values_agree" in res:
            notes.append("values " + ("agree" if res["values_agree"] else "DIFFER"))
        if case_name == "zeros_sample" and check:
            notes.append(f"rows {check.get('rows'):,} = {check.get('rows_per_positive', 0):.2f} x positives "
                         f"(grid {check.get('grid_rows'):,}; naive sample {check.get('naive_rows'):,})")
        if case_name == "full_catalogue" and check and "ours_minus_als_transform" in check:
            diffs = "; ".join(
                f"{m} ours {check['ours_rank_mode'][m]:.6g}, ours - ALS.transform route "
                f"{check['ours_minus_als_transform'][m]:.2g}, ours - float64-scored route "
                f"{check['ours_minus_float64_scores'][m]:.2g}"
                for m in check["ours_rank_mode"]
            )
            notes.append(f"{check['held_out_rows']:,} held-out rows of {check['held_out_users']:,} users, "
                         f"zero-filled table {check['zero_filled_rows']:,} rows; {diffs}")
        if case_name == "implicit_cv" and check and "ours_best" in check:
            same = "same" if check["ours_best"] == check["naive_best"] else "DIFFERENT"
            notes.append(f"{same} best params {check['ours_best']}; avg metrics differ by up to "
                         f"{check['max_relative_metric_difference']:.1%}")
        joins = res.get("naive_final_plan_joins")
        if joins:
            notes.append("naive joins: " + ", ".join(joins))
        if res.get("conf"):
            notes.append("conf " + ", ".join(f"{k}={v}" for k, v in res["conf"].items()))
        if notes:
            print(f"{'':<15}  [{'; '.join(notes)}]")


def warm_up(spark: SparkSession, args: argparse.Namespace, materialize: "Materializer") -> float:
    """Run every selected case once on tiny data, untimed: the JVM loads classes, generates
    and compiles code (Spark caches generated classes by their source, so the timed plans reuse
    them) and the JIT warms up before the first timed round."""
    print("[warm-up] every selected case once on 200 x 200 (untimed) ...", flush=True)
    start = time.perf_counter()
    inputs, _ = make_inputs(spark, datagen.WARMUP, args, materialize)
    built = C.build(inputs)
    for name in args.cases:
        case = built[name]
        with conf_scope(spark, case.conf):
            for fn in case.contestants.values():
                try:
                    fn()
                except Exception:  # noqa: BLE001 - the timed rounds record errors
                    traceback.print_exc()
    return time.perf_counter() - start


# -- main ---------------------------------------------------------------------------------------


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc)
    out_path = args.out or os.path.join(HERE, "results", started.strftime("%Y%m%dT%H%M%SZ") + ".json")
    spark = start_spark(args)
    meter = ShuffleMeter(spark)  # reads nothing when the UI is disabled
    spark.sparkContext.setJobGroup(UNTIMED, "untimed work")
    report: Dict[str, Any] = {
        "date": started.isoformat(),
        "argv": sys.argv[1:] if argv is None else argv,
        "machine": machine_info(spark),
        "spark_conf": {
            "master": args.master,
            "spark.sql.shuffle.partitions": args.shuffle_partitions,
            "spark.driver.memory": spark.conf.get("spark.driver.memory", None),
            "spark.sql.adaptive.enabled": spark.conf.get("spark.sql.adaptive.enabled"),
            "spark.sql.autoBroadcastJoinThreshold": spark.conf.get("spark.sql.autoBroadcastJoinThreshold"),
        },
        "repeats": args.repeats,
        "cases": args.cases,
        "seed": args.seed,
        "k": C.K,
        "sizes": {},
    }
    failures: List[str] = []
    materialize = Materializer(spark, args.materialize)
    try:
        if not args.no_warmup:
            report["warmup_seconds"] = warm_up(spark, args, materialize)
        for size_name in args.sizes:
            size = datagen.SIZES[size_name]
            print(f"\n[{size_name}] generating {size.users:,} x {size.items:,} at {size.density:.0%} ...", flush=True)
            inputs, meta = make_inputs(spark, size, args, materialize)
            all_cases = C.build(inputs)
            selected = [all_cases[c] for c in args.cases if c in all_cases]  # some cases skip some sizes
            size_report: Dict[str, Any] = {"data": meta, "cases": {}}


            print(f"[{size_name}] correctness checks ...", flush=True)
            checks: Dict[str, Any] = {}
            t = time.perf_counter()
            for case in selected:
                if case.check is None:
                    continue
                t_case = time.perf_counter()
                try:
                    with conf_scope(spark, case.conf):
                        checks[case.name] = case.check()
                except Exception as exc:  # noqa: BLE001
                    traceback.print_exc()
                    checks[case.name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                checks[case.name]["seconds"] = time.perf_counter() - t_case
            size_report["check_seconds"] = time.perf_counter() - t

            rounds: Dict[str, List[Dict[str, Any]]] = {c.name: [] for c in selected}
            for r in range(args.repeats):
                t = time.perf_counter()
                for case in selected:
                    rounds[case.name].append(run_round(spark, meter, case, f"bench:{size_name}", r, record_plans=r == 0))
                print(f"[{size_name}] round {r + 1}/{args.repeats} done in {time.perf_counter() - t:.1f} s", flush=True)

            for case in selected:
                size_report["cases"][case.name] = case_result(case, rounds[case.name], checks.get(case.name),
                                                              f"{size_name}/{case.name}", failures)
            report["sizes"][size_name] = size_report
            print_size(size_name, meta, size_report["cases"])
            del inputs, all_cases, selected
    finally:
        materialize.close()
        if not meter.enabled:
            report["shuffle_bytes_source"] = f"unavailable: {meter.error}"
        else:
            report["shuffle_bytes_source"] = "Spark UI REST API (stages of each run's job group)" + (
                f"; {meter.failures} reading(s) failed, last: {meter.error}" if meter.failures else ""
            )
        report["machine"]["loadavg_end"] = list(os.getloadavg())
        report["total_seconds"] = time.perf_counter() - t_start
        report["failures"] = failures
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        with open(out_path, "w") as f:
            json.dump(report, f, indent=1, default=str)
        spark.stop()
    print(f"\ntotal {report['total_seconds']:.0f} s; load average {report['machine']['loadavg_start']} -> "
          f"{report['machine']['loadavg_end']}; shuffle bytes: {report['shuffle_bytes_source']}")
    print(f"results: {out_path}")
    if failures:
        print("\nFAILED CHECKS:")
        for f_ in failures:
            print("  " + f_)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
