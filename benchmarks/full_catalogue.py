"""Full-catalogue ranking at size XL: 200,000 users x 50,000 items, rank 32, synthetic factors.

    python benchmarks/full_catalogue.py                         # XL, 1 round (about 25 min)
    python benchmarks/full_catalogue.py --users 20000 --items 5000 --repeats 3   # a quick look

The cases, on one ALSModel whose factors are synthetic (generated on the executors):

- ``evaluate``: P@10 + ROEM of the held-out rows, each ranked among all the items its user did
  not see (``UnseenItemRankerModel.fromFitted`` + ``transform`` + ``PrecisionAtKEvaluator`` and
  ``ROEMEvaluator`` in rank mode). The zero-fill route cannot run here (its grid would have
  users x items = 10^10 rows): there is no naive contestant. Printed with the user-item scores
  per second it reaches, next to numpy's float64 matrix-product rate on this machine.
- ``top10``: ``UnseenItemRankerModel.recommendForAllUsers(10)`` (seen items left out) vs
  ``ALSModel.recommendForAllUsers(10)`` (nothing left out) on the same factors.
- ``similar10`` (only when asked, ``--cases similar10``): ``similar_items(model, n=10)`` for
  every item vs our top-10 for as many users, on the same factors (issue 26's bar: no slower).

The harness of ``run.py`` times them (job groups, rounds, medians, the JSON report). See
benchmarks/README.md.
"""

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for path in (HERE, ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)

import numpy as np  # noqa: E402
from pyspark.ml.recommendation import ALS, ALSModel  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

import cases as C  # noqa: E402
import datagen  # noqa: E402
import run  # noqa: E402
from sparkrest import ShuffleMeter  # noqa: E402
from spark_recs import UnseenItemRankerModel, similar_items  # noqa: E402
from tests import reference  # noqa: E402

ALL_CASES = ["evaluate", "top10", "similar10"]
DEFAULT_CASES = ["evaluate", "top10"]
TOP_N = 10
#: Large primes: a user's items are start + j * prime (mod items), j = 0, 1, ..., which are
#: distinct for j < items whenever the prime does not divide the number of items.
_STRIDES = [1_000_003, 1_000_033, 1_000_037, 1_000_039, 1_000_081, 1_000_099, 1_000_117, 1_000_121,
            1_000_133, 1_000_151, 1_000_159, 1_000_171, 1_000_183, 1_000_187, 1_000_193, 1_000_199]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=200_000)
    p.add_argument("--items", type=int, default=50_000)
    p.add_argument("--seen", type=int, default=50, help="training (seen) items per user (default 50: 10M in all)")
    p.add_argument("--held", type=int, default=10, help="held-out items per user (default 10: 2M rows)")
    p.add_argument("--rank", type=int, default=32)
    p.add_argument("--repeats", type=int, default=1, help="timed rounds (default 1: a round takes minutes)")
    p.add_argument("--cases", default=",".join(DEFAULT_CASES),
                   help="comma list of " + ",".join(ALL_CASES) + " (default: " + ",".join(DEFAULT_CASES) + ")")
    p.add_argument("--user-block-size", type=int, default=None, help="the ranker's userBlockSize (default its own)")
    p.add_argument("--item-block-size", type=int, default=None, help="the ranker's itemBlockSize (default its own)")
    p.add_argument("--twice", action="store_true",
                   help="evaluate also as ours_twice: the transform output not materialized, so each "
                        "evaluator runs it (twice the scoring)")
    p.add_argument("--check-users", type=int, default=100,
                   help="users whose ranks and top-10s are checked against numpy (untimed; 0: none)")
    p.add_argument("--out", default=None, help="JSON output (default benchmarks/results/xl-<timestamp>.json)")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--shuffle-partitions", type=int, default=8, help="spark.sql.shuffle.partitions")
    p.add_argument("--driver-memory", default=None, help="spark.driver.memory (default: Spark's own, 1g)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed pass on tiny data")
    p.add_argument("--no-shuffle-bytes", action="store_true", help="disable the Spark UI (and shuffle bytes)")
    args = p.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in args.cases if c not in ALL_CASES]
    if unknown:
        p.error(f"unknown cases {unknown}; choose from {ALL_CASES}")
    if args.seen + args.held > args.items:
        p.error("--seen + --held must not exceed --items")
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


# -- data ---------------------------------------------------------------------------------------


def factors(spark: SparkSession, n: int, rank: int, seed: int, salt: int, partitions: int) -> DataFrame:
    """(id int, features array<float>): uniform factors scaled so that a dot product has sd ~1."""
    scale = (9.0 / rank) ** 0.25
    rid = F.col("id")
    values = [(datagen.uniform(seed, salt + k, rid) * 2 - 1) * F.lit(scale) for k in range(rank)]
    return spark.range(0, n, 1, partitions).select(rid.cast("int").alias("id"), F.array(*values).cast("array<float>").alias("features"))


def interactions(spark: SparkSession, args: argparse.Namespace, partitions: int) -> DataFrame:
    """(user, item, rating, held): per user ``seen + held`` distinct items, spread over the
    catalogue (start + j * stride mod items, no popularity skew: the engine's cost does not
    depend on which items a user has); the last ``held`` of them are held out, with a play
    count 1 + floor(Exp(mean 2)) as rating (datagen's)."""
    per_user = args.seen + args.held
    rid = F.col("id")
    user = (rid / F.lit(per_user)).cast("long")
    j = rid % F.lit(per_user)
    u = F.col("user")
    start = F.floor(datagen.uniform(args.seed, 300, u) * F.lit(args.items)).cast("long")
    stride = F.element_at(F.array(*[F.lit(s) for s in _STRIDES]),
                          (F.floor(datagen.uniform(args.seed, 301, u) * F.lit(len(_STRIDES))) + 1).cast("int"))
    plays = F.lit(1.0) + F.floor(-F.log1p(-datagen.uniform(args.seed, 302, u, F.col("j"))) * F.lit(2.0))
    base = spark.range(0, args.users * per_user, 1, partitions).select(user.alias("user"), j.alias("j"))
    return base.select(
        u.cast("int").alias("user"),
        ((start + F.col("j") * stride) % F.lit(args.items)).cast("int").alias("item"),
        plays.alias("rating"),
        (F.col("j") >= F.lit(args.seen)).alias("held"),
    )


def synthetic_als_model(spark: SparkSession, tmp: str, tag: str, users: DataFrame, items: DataFrame, rank: int) -> ALSModel:
    """An ALSModel over the given factors: a tiny ALS of this rank is fitted and saved, its
    factors replaced by ours on disk (ALS's own persistence layout: Parquet ``userFactors`` and
    ``itemFactors``) and the model loaded back. Spark's and our top-N then read the same
    factors."""
    tiny = spark.createDataFrame([(0, 0, 1.0), (0, 1, 1.0), (1, 1, 1.0)], "user int, item int, rating double")
    path = os.path.join(tmp, tag, "als")
    ALS(rank=rank, maxIter=1, implicitPrefs=True, seed=1).fit(tiny).write().save(path)
    for name, df in (("userFactors", users), ("itemFactors", items)):
        shutil.rmtree(os.path.join(path, name))
        df.write.parquet(os.path.join(path, name))
    return ALSModel.load(path)


def make_data(spark: SparkSession, args: argparse.Namespace, materialize: run.Materializer, tag: str):
    start = time.perf_counter()
    n_rows = args.users * (args.seen + args.held)
    parts = max(8, n_rows // 1_500_000)
    rows = interactions(spark, args, parts)
    seen = materialize(rows.where(~F.col("held")).select("user", "item"), f"{tag}/seen")
    held = materialize(rows.where(F.col("held")).select("user", "item", "rating"), f"{tag}/held")
    users = factors(spark, args.users, args.rank, args.seed, 100, max(2, args.users // 100_000))
    items = factors(spark, args.items, args.rank, args.seed, 200, 2)
    model = synthetic_als_model(spark, materialize.tmp, tag, users, items, args.rank)
    meta = {
        "users": args.users, "items": args.items, "rank": args.rank,
        "seen_rows": args.users * args.seen, "held_out_rows": args.users * args.held,
        "held_out_users": args.users, "grid_rows": args.users * args.items,
        "input_partitions": parts, "generate_seconds": time.perf_counter() - start,
    }
    return seen, held, model, meta


# -- contestants ----------------------------------------------------------------------------------


def ranker_of(model: ALSModel, seen: DataFrame, args: argparse.Namespace) -> UnseenItemRankerModel:
    ranker = UnseenItemRankerModel.fromFitted(model, seen)
    if args.user_block_size:
        ranker.setUserBlockSize(args.user_block_size)
    if args.item_block_size:
        ranker.setItemBlockSize(args.item_block_size)
    return ranker


def evaluate_once(model: ALSModel, seen: DataFrame, held: DataFrame, args: argparse.Namespace):
    """The ranked rows materialized once (``localCheckpoint``), then both evaluators: the
    held-out rows are scored once."""
    ranked = ranker_of(model, seen, args).transform(held).localCheckpoint(eager=True)
    return C.p_at_10_and_roem(ranked, rank_mode=True)


def evaluate_twice(model: ALSModel, seen: DataFrame, held: DataFrame, args: argparse.Namespace):
    """As a user writes it: both evaluators on the transform output, each running it."""
    ranked = ranker_of(model, seen, args).transform(held)
    return C.p_at_10_and_roem(ranked, rank_mode=True)


def build(seen: DataFrame, held: DataFrame, model: ALSModel, args: argparse.Namespace) -> Dict[str, C.Case]:
    evaluate = {"ours": lambda: evaluate_once(model, seen, held, args)}
    if args.twice:
        evaluate["ours_twice"] = lambda: evaluate_twice(model, seen, held, args)
    cases = {
        "evaluate": C.Case(
            "evaluate",
            "P@10 + ROEM of the held-out rows, ranked among all unseen items: fromFitted + transform, "
            "materialized once (localCheckpoint), + both evaluators in rank mode; ours_twice (--twice): "
            "the transform output not materialized, so each evaluator runs it",
            evaluate,
        ),
        "top10": C.Case(
            "top10",
            f"UnseenItemRankerModel.fromFitted + recommendForAllUsers({TOP_N}) (seen items left out) vs "
            f"ALSModel.recommendForAllUsers({TOP_N}) (nothing left out), same factors, noop write",
            {
                "ours": lambda: C.noop(ranker_of(model, seen, args).recommendForAllUsers(TOP_N)),
                "naive": lambda: C.noop(model.recommendForAllUsers(TOP_N)),
            },
        ),
        "similar10": C.Case(
            "similar10",
            f"similar_items(model, n={TOP_N}) for every item (cosine, the item itself left out) vs our "
            f"top-{TOP_N} for as many users (recommendForUserSubset, seen items left out), same factors, "
            "noop write",
            {
                "ours": lambda: C.noop(similar_items(model, n=TOP_N)),
                "naive": lambda: C.noop(ranker_of(model, seen, args).recommendForUserSubset(
                    model.userFactors.where(F.col("id") < args.items).select(F.col("id").alias("user")), TOP_N)),
            },
        ),
    }
    return {name: cases[name] for name in args.cases}


# -- checks (untimed) -----------------------------------------------------------------------------


def check(spark: SparkSession, seen: DataFrame, held: DataFrame, model: ALSModel, args: argparse.Namespace) -> Dict[str, Any]:
    """For a sample of users: ranks (score, rank, numAbove, numTied, numCandidates) and top-10s
    equal numpy on the full score matrix (tests/reference.py); Spark's top-10 is numpy's with
    seen items kept."""
    n = min(args.check_users, args.users)
    wanted = spark.range(0, n).select((F.col("id") * F.lit(args.users // n)).cast("int").alias("user"))
    user_factors = {r["id"]: r["features"] for r in model.userFactors.join(wanted.withColumnRenamed("user", "id"), "id").collect()}
    item_factors = {r["id"]: r["features"] for r in model.itemFactors.collect()}
    seen_of: Dict[int, set] = {u: set() for u in user_factors}
    for r in seen.join(wanted, "user", "left_semi").collect():
        seen_of[r["user"]].add(r["item"])
    held_rows = held.join(wanted, "user", "left_semi")
    held_pairs = [(r["user"], r["item"]) for r in held_rows.collect()]
    expected = reference.unseen_item_ranks(user_factors, item_factors, seen_of, held_pairs)
    ranker = ranker_of(model, seen, args)
    got = {(r["user"], r["item"]): (r["prediction"], r["rank"], r["numAbove"], r["numTied"], r["numCandidates"])
           for r in ranker.transform(held_rows).collect()}
    rank_mismatches = [k for k in expected if got.get(k) != tuple(expected[k])]

    ids = np.array(sorted(item_factors))
    V = np.array([item_factors[i] for i in ids], dtype=np.float32).astype(np.float64)
    ours_top = {r["user"]: [(x["item"], x["rating"]) for x in r["recommendations"]]
                for r in ranker.recommendForUserSubset(wanted, TOP_N).collect()}
    spark_top = {r["user"]: [(x["item"], x["rating"]) for x in r["recommendations"]]
                 for r in model.recommendForUserSubset(wanted, TOP_N).collect()}
    position = {int(i): k for k, i in enumerate(ids)}
    top_mismatches, spark_mismatches, spark_with_seen = [], [], 0
    for u, vec in user_factors.items():
        scores = (V @ np.asarray(vec, dtype=np.float32).astype(np.float64)).astype(np.float32)
        order = np.lexsort((ids, -scores))  # score descending, ties by item ascending
        unseen = [(int(ids[k]), float(scores[k])) for k in order if int(ids[k]) not in seen_of[u]][:TOP_N]
        if ours_top.get(u) != unseen:
            top_mismatches.append(u)
        # Spark's: a top-10 of all items, seen ones included; it sums in float32, so an item's
        # score may differ from numpy's in the last bits and near-ties may swap
        theirs = spark_top.get(u, [])
        tenth = float(scores[order[TOP_N - 1]])
        if len(theirs) != TOP_N or any(
            abs(s - float(scores[position[i]])) > 1e-5 or s < tenth - 1e-5 for i, s in theirs
        ):
            spark_mismatches.append(u)
        spark_with_seen += any(i in seen_of[u] for i, _ in theirs)
    return {
        "ok": not rank_mismatches and not top_mismatches and not spark_mismatches and len(got) == len(held_pairs),
        "users": n, "held_out_rows": len(held_pairs),
        "rank_mismatches": [list(k) for k in rank_mismatches[:10]],
        "top_mismatches": top_mismatches[:10],
        "spark_top_mismatches": spark_mismatches[:10],
        "spark_top_with_a_seen_item": spark_with_seen,
    }


# -- numpy's rate -----------------------------------------------------------------------------------

_NUMPY_RATE = """
import json, sys, time
import numpy as np
bu, bi, rank, seconds = (int(x) for x in sys.argv[1:5])
rng = np.random.default_rng(0)
u = rng.standard_normal((bu, rank))
v = rng.standard_normal((bi, rank))
u @ v.T
n, start = 0, time.perf_counter()
while time.perf_counter() - start < seconds:
    u @ v.T
    n += 1
print(json.dumps(bu * bi * n / (time.perf_counter() - start)))
"""


def numpy_rate(bu: int, bi: int, rank: int, threads: Optional[int], seconds: int = 5) -> float:
    """User-item scores per second of one process's float64 ``(bu x rank) @ (rank x bi)``, with
    ``threads`` BLAS threads (None: numpy's default). PySpark's Python workers run with one
    (OMP_NUM_THREADS=1), so two workers on two cores can reach at most twice the 1-thread rate."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(var, None)
        if threads:
            env[var] = str(threads)
    out = subprocess.run([sys.executable, "-c", _NUMPY_RATE, str(bu), str(bi), str(rank), str(seconds)],
                         capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip())


# -- main ---------------------------------------------------------------------------------------


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc)
    out_path = args.out or os.path.join(HERE, "results", "xl-" + started.strftime("%Y%m%dT%H%M%SZ") + ".json")
    uptime_start = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    spark = run.start_spark(args)
    meter = ShuffleMeter(spark)
    spark.sparkContext.setJobGroup(run.UNTIMED, "untimed work")
    defaults = UnseenItemRankerModel()
    bu = args.user_block_size or defaults.getUserBlockSize()
    bi = args.item_block_size or defaults.getItemBlockSize()
    report: Dict[str, Any] = {
        "date": started.isoformat(),
        "argv": sys.argv[1:] if argv is None else argv,
        "machine": run.machine_info(spark),
        "uptime_start": uptime_start,
        "spark_conf": {
            "master": args.master,
            "spark.sql.shuffle.partitions": args.shuffle_partitions,
            "spark.driver.memory": spark.conf.get("spark.driver.memory", None) or "1g (Spark's default)",
            "spark.sql.adaptive.enabled": spark.conf.get("spark.sql.adaptive.enabled"),
        },
        "ranker_blocks": {"userBlockSize": bu, "itemBlockSize": bi},
        "repeats": args.repeats,
        "cases": args.cases,
        "seed": args.seed,
    }
    failures: List[str] = []
    materialize = run.Materializer(spark, "parquet")
    try:
        if not args.no_warmup:
            print("[warm-up] every case once on 2,000 users x 1,000 items (untimed) ...", flush=True)
            t = time.perf_counter()
            tiny = parse_args(["--users", "2000", "--items", "1000", "--rank", str(args.rank), "--cases", ",".join(args.cases)])
            tiny.user_block_size, tiny.item_block_size = args.user_block_size, args.item_block_size
            for case in build(*make_data(spark, tiny, materialize, "warmup")[:3], tiny).values():
                for fn in case.contestants.values():
                    fn()
            report["warmup_seconds"] = time.perf_counter() - t

        print(f"[XL] generating {args.users:,} users x {args.items:,} items, rank {args.rank}, "
              f"{args.seen} seen + {args.held} held-out items per user ...", flush=True)
        seen, held, model, meta = make_data(spark, args, materialize, "xl")
        report["data"] = meta
        print(f"[XL] generated in {meta['generate_seconds']:.1f} s", flush=True)

        rates = {"before": {"1 thread": numpy_rate(bu, bi, args.rank, 1), "default threads": numpy_rate(bu, bi, args.rank, None)}}

        if args.check_users:
            print(f"[XL] checking {args.check_users} users against numpy (untimed) ...", flush=True)
            t = time.perf_counter()
            report["check"] = check(spark, seen, held, model, args)
            report["check"]["seconds"] = time.perf_counter() - t
            print(f"[XL] check {'ok' if report['check']['ok'] else 'FAILED'} in {report['check']['seconds']:.0f} s", flush=True)
            if not report["check"]["ok"]:
                failures.append(f"check {report['check']}")

        report["numpy_scores_per_second"] = rates
        report["cases"] = {}
        # case by case (a round of a case takes minutes), each written to the JSON when done
        for name, case in build(seen, held, model, args).items():
            rounds: List[Dict[str, Any]] = []
            for r in range(args.repeats):
                t = time.perf_counter()
                rounds.append(run.run_round(spark, meter, case, "bench:XL", r, record_plans=False))
                print(f"[XL] {name} round {r + 1}/{args.repeats} done in {time.perf_counter() - t:.1f} s: "
                      + ", ".join(f"{lab} {rec['seconds']:.1f} s" for lab, rec in rounds[-1]["runs"].items()), flush=True)
            report["cases"][name] = run.case_result(case, rounds, None, f"XL/{name}", failures)
            write_report(report, out_path)
        rates["after"] = {"1 thread": numpy_rate(bu, bi, args.rank, 1), "default threads": numpy_rate(bu, bi, args.rank, None)}
    finally:
        materialize.close()
        report["machine"]["loadavg_end"] = list(os.getloadavg())
        report["uptime_end"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        report["total_seconds"] = time.perf_counter() - t_start
        report["failures"] = failures
        write_report(report, out_path)
        spark.stop()

    print_report(report)
    print(f"results: {out_path}")
    if failures:
        print("\nFAILED CHECKS:")
        for f_ in failures:
            print("  " + f_)
        return 1
    return 0


def write_report(report: Dict[str, Any], out_path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(report, f, indent=1, default=str)


def print_report(report: Dict[str, Any]) -> None:
    meta = report["data"]
    print(f"\n== XL: {meta['users']:,} users x {meta['items']:,} items, rank {meta['rank']}, "
          f"{meta['seen_rows']:,} seen pairs, {meta['held_out_rows']:,} held-out rows of {meta['held_out_users']:,} "
          f"users; grid {meta['grid_rows']:,} rows; generated in {meta['generate_seconds']:.1f} s")
    run.print_cases(report["cases"])
    scores = meta["held_out_users"] * meta["items"]
    evaluate = report["cases"].get("evaluate")
    if evaluate:
        print(f"\nevaluate: {scores:.3g} user-item scores (held-out users x catalogue items)")
        for label in evaluate["labels"]:
            s = evaluate["summary"][label]
            print(f"  {label:<11} median {s['median_s']:.1f} s: {scores / s['median_s']:.3g} scores/s; "
                  f"P@10, ROEM = {evaluate['rounds'][0]['runs'][label]['value']}")
    for when, rate in report["numpy_scores_per_second"].items():
        blocks = report["ranker_blocks"]
        print(f"  numpy float64 ({blocks['userBlockSize']} x {meta['rank']}) @ ({meta['rank']} x "
              f"{blocks['itemBlockSize']}), one process, {when} the runs: "
              + ", ".join(f"{r:.3g} scores/s ({k})" for k, r in rate.items()))
    if "check" in report:
        c = report["check"]
        print(f"check {'ok' if c['ok'] else 'FAILED'}: {c['held_out_rows']} held-out rows of {c['users']} users "
              f"ranked as numpy ranks them, top-{TOP_N}s as numpy's; Spark's top-{TOP_N} holds a seen item for "
              f"{c['spark_top_with_a_seen_item']} of them")
    print(f"\ntotal {report['total_seconds']:.0f} s; {report['uptime_start']} -> {report['uptime_end']}")


if __name__ == "__main__":
    sys.exit(main())
