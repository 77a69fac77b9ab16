"""Fit IdIndexer on N distinct string ids (default 5 million) with default driver memory.

Ids are 40-character hex strings made on the executors (sha1 of a number); every id appears
once, the worst case for a vocabulary. Prints seconds for fit, for a full transform (forced with
the ``noop`` writer) and for decoding back, medians over ``--repeats``, and the same for
``pyspark.ml.feature.StringIndexer`` for comparison (it collects all labels to the driver and
may run out of memory there).

    python benchmarks/indexer_fit.py --rows 5000000 --repeats 3
"""

import argparse
import json
import statistics
import time

from pyspark.ml.feature import StringIndexer
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_recs import IdIndexer


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--skip-string-indexer", action="store_true")
    args = parser.parse_args()
    spark = (
        SparkSession.builder.master(args.master)
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    ids = spark.range(0, args.rows).select(F.sha1(F.col("id").cast("string")).alias("user"))
    ids = ids.localCheckpoint(eager=True)  # generate once; every round reads the same data
    times = {"fit": [], "transform": [], "decode": [], "string_indexer_fit_transform": []}
    errors = {}
    for _ in range(args.repeats):
        t, model = timed(lambda: IdIndexer(inputCol="user", outputCol="user_idx").fit(ids))
        times["fit"].append(t)
        out = model.transform(ids)
        t, _ = timed(lambda: out.write.format("noop").mode("overwrite").save())
        times["transform"].append(t)
        back = model.decode(out.select("user_idx"))
        t, _ = timed(lambda: back.write.format("noop").mode("overwrite").save())
        times["decode"].append(t)
        assert model.vocabularySizes == [args.rows]
        if not args.skip_string_indexer and "string_indexer" not in errors:
            try:
                def naive():
                    m = StringIndexer(inputCol="user", outputCol="user_idx").fit(ids)
                    m.transform(ids).write.format("noop").mode("overwrite").save()
                t, _ = timed(naive)
                times["string_indexer_fit_transform"].append(t)
            except Exception as exc:  # noqa: BLE001 - reported, not hidden
                errors["string_indexer"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    summary = {
        k: {"median_s": round(statistics.median(v), 2), "min_s": round(min(v), 2), "max_s": round(max(v), 2)}
        for k, v in times.items() if v
    }
    print(json.dumps({"rows": args.rows, "master": args.master,
                      "driver_memory": spark.conf.get("spark.driver.memory", "1g (default)"),
                      "times": summary, "errors": errors}, indent=2))
    spark.stop()


if __name__ == "__main__":
    main()
