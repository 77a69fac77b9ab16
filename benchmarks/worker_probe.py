"""What the Python-worker probe of the full-catalogue engine costs (spark_recs/_workers.py).

    python benchmarks/worker_probe.py                 # local[2], 5 repeats

Times, in one fresh application: the first probe (it starts the Python workers, which the
engine's first ``mapInPandas`` would start otherwise), a probe on warm workers (another module
list, so not remembered: what the probe adds), a remembered call (no job), and for scale one
``UnseenItemRankerModel.transform`` + count of 200 held-out rows on warm workers. Prints JSON.
"""

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from spark_recs import UnseenItemRanker  # noqa: E402
from spark_recs._workers import REQUIRED_WORKER_MODULES, require_worker_modules  # noqa: E402


def seconds(action) -> float:
    t = time.perf_counter()
    action()
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--master", default="local[2]")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(args.master).config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false").config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    first = seconds(lambda: require_worker_modules(spark, "bench"))
    # another module list each time (json once more): not remembered, so each runs the probe job
    lists = [REQUIRED_WORKER_MODULES + ("json",) * (i + 1) for i in range(args.repeats)]
    warm = [seconds(lambda names=names: require_worker_modules(spark, "bench", names)) for names in lists]
    remembered = [seconds(lambda: require_worker_modules(spark, "bench")) for _ in range(args.repeats)]
    user, item = (F.col("id") % 100).cast("int").alias("user"), F.col("id") * 7 % 300
    train = spark.range(2000).select(user, item.cast("int").alias("item"), F.lit(1.0).alias("rating"))
    held = spark.range(200).select(user, (item + 1).cast("int").alias("item"))
    held = held.join(train, ["user", "item"], "left_anti")
    model = UnseenItemRanker(rank=4, maxIter=2, seed=1, numUserBlocks=1, numItemBlocks=1).fit(train)
    model.transform(held).count()  # warm
    transform = [seconds(lambda: model.transform(held).count()) for _ in range(args.repeats)]
    print(json.dumps({
        "master": args.master, "load_average_1min": os.getloadavg()[0],
        "first_probe_s": round(first, 3),
        "warm_probe_s_median": round(statistics.median(warm), 3), "warm_probe_s": [round(x, 3) for x in warm],
        "remembered_s_median": round(statistics.median(remembered), 6),
        "transform_count_s_median": round(statistics.median(transform), 3),
    }))
    spark.stop()


if __name__ == "__main__":
    main()
