"""Run as a script by tests/test_workers.py, with ``PYSPARK_PYTHON`` set to an interpreter that
lacks pandas and pyarrow: a classic application whose Python workers cannot run the
full-catalogue engine. Fits a ranker (ALS runs in the JVM: no Python worker), then tries the
engine's entry points and prints one line ``FACTS {json}``: each entry point's error (type and
message) and the interpreter the application gives its workers.

With ``remote`` as its argument (``local[1]``) it runs the same on a Spark Connect server it
starts (the server inherits ``PYSPARK_PYTHON``), by hand.
"""

import json
import sys

from pyspark.sql import SparkSession

from spark_recs import UnseenItemRanker, WorkerEnvironmentError


def main(remote: str = "") -> None:
    builder = (
        SparkSession.builder.appName("spark-recs workers check")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
    )
    spark = builder.remote(remote).getOrCreate() if remote else builder.master("local[1]").getOrCreate()
    if not remote:
        spark.sparkContext.setLogLevel("OFF")
    train = spark.createDataFrame([(0, 0, 1.0), (0, 1, 2.0), (1, 1, 1.0), (1, 2, 3.0)], "user int, item int, rating double")
    model = UnseenItemRanker(rank=2, maxIter=1, seed=1, numUserBlocks=1, numItemBlocks=1).fit(train)
    facts = {"driver": sys.executable, "fitted_items": model.numItems}
    held_out = spark.createDataFrame([(0, 2), (1, 0)], "user int, item int")
    calls = {
        "transform": lambda: model.transform(held_out),
        "recommendForAllUsers": lambda: model.recommendForAllUsers(2),
        "recommendForUserSubset": lambda: model.recommendForUserSubset(held_out, 2),
    }
    for name, call in calls.items():
        try:
            call()
            facts[name] = None
        except WorkerEnvironmentError as e:
            facts[name] = {"type": type(e).__name__, "runtime_error": isinstance(e, RuntimeError), "message": str(e)}
    print("FACTS " + json.dumps(facts), flush=True)
    spark.stop()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
