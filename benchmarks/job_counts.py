"""Spark jobs per call of the `ids` and `zeros_sample` cases, ours and naive: a count that a
busy machine does not change (timings it does). Classic session only: jobs are counted with
``sparkContext.statusTracker().getJobIdsForGroup`` of a job group per call.

    python benchmarks/job_counts.py [--size S] [--aqe true|false]
"""

import argparse
import json
import os
import sys
from typing import Callable, Dict

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases as C  # noqa: E402
import datagen  # noqa: E402

from spark_recs import ZeroFiller  # noqa: E402


def jobs_of(spark: SparkSession, fn: Callable[[], object], group: str) -> int:
    """The number of Spark jobs ``fn`` runs, counted by its own job group."""
    sc = spark.sparkContext
    sc.setJobGroup(group, group)
    try:
        fn()
    finally:
        sc.setJobGroup("untimed", "untimed")
    return len(sc.statusTracker().getJobIdsForGroup(group))


def count_all(spark: SparkSession, explicit: DataFrame, observed: DataFrame) -> Dict[str, Dict[str, int]]:
    out: Dict[str, Dict[str, int]] = {}
    for name, make in (("ours", C.id_indexer), ("naive", C.string_indexers)):
        fitted = {}
        out[f"ids/{name}"] = {
            "fit": jobs_of(spark, lambda: fitted.setdefault("m", make().fit(explicit)), f"{name}-fit"),
            "transform": jobs_of(spark, lambda: C.noop(fitted["m"].transform(explicit)), f"{name}-transform"),
            "fit+transform": jobs_of(
                spark, lambda: C.noop(make().fit(explicit).transform(explicit)), f"{name}-both"
            ),
        }
    out["zeros_sample/ours"] = {"transform": jobs_of(
        spark, lambda: C.noop(ZeroFiller(strategy="sample", numZeros=1.0).transform(observed)), "zs-ours"
    )}
    out["zeros_sample/naive"] = {"transform": jobs_of(
        spark, lambda: C.noop(C.naive_sampled_zeros(observed)), "zs-naive"
    )}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="XS", choices=sorted(datagen.SIZES))
    parser.add_argument("--aqe", default="true")
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[2]").appName("job-counts")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.adaptive.enabled", args.aqe)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    grid = datagen.grid(spark, datagen.SIZES[args.size], 42, 8)
    observed = grid.where(F.col("rating") > 0).select("user", "item", "rating").cache()
    explicit = grid.where(F.col("rating") > 0).select(
        datagen.user_id(F.col("user")).alias("user"),
        datagen.item_id(F.col("item")).alias("item"),
        F.col("stars").alias("rating"),
    ).cache()
    observed.count(), explicit.count()
    print(json.dumps({"size": args.size, "aqe": args.aqe, "jobs": count_all(spark, explicit, observed)}, indent=1))


if __name__ == "__main__":
    main()
