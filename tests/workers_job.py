"""Run as a script by tests/test_workers.py, with ``PYSPARK_PYTHON`` set to an interpreter that
lacks pandas and pyarrow: a classic application whose Python workers cannot run the
full-catalogue engine. Fits and saves a pipeline of IdIndexer and a ranker (both run in the JVM:
no Python worker), then tries the engine's entry points and ``spark-recs recommend`` on the
saved pipeline, and prints one line ``FACTS {json}``: each entry point's error (type and
message), the command's exit code and standard error.

With ``remote`` as its argument (``local[1]``) it runs the same on a Spark Connect server it
starts (the server inherits ``PYSPARK_PYTHON``), by hand.
"""

import contextlib
import io
import json
import os
import sys
import tempfile

from pyspark.ml import Pipeline
from pyspark.sql import SparkSession

from spark_recs import IdIndexer, UnseenItemRanker, WorkerEnvironmentError
from spark_recs.cli import main as spark_recs_command


def main(remote: str = "") -> None:
    builder = (
        SparkSession.builder.appName("spark-recs workers check")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
    )
    spark = builder.remote(remote).getOrCreate() if remote else builder.master("local[1]").getOrCreate()
    if not remote:
        spark.sparkContext.setLogLevel("OFF")
    # a saved pipeline of string ids (what `spark-recs recommend` reads); its ranker for the calls
    train = spark.createDataFrame(
        [("u0", "i0", 1.0), ("u0", "i1", 2.0), ("u1", "i1", 1.0), ("u1", "i2", 3.0)],
        "user string, item string, rating double",
    )
    indexer = IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"])
    ranker = UnseenItemRanker(rank=2, maxIter=1, seed=1, numUserBlocks=1, numItemBlocks=1,
                              userCol="user_idx", itemCol="item_idx")
    pipeline = Pipeline(stages=[indexer, ranker]).fit(train)
    saved = os.path.join(tempfile.mkdtemp(prefix="spark-recs-workers-job-"), "model")
    pipeline.write().save(saved)
    model = pipeline.stages[-1]
    facts = {"driver": sys.executable, "fitted_items": model.numItems}
    held_out = spark.createDataFrame([(0, 5), (1, 6)], "user_idx int, item_idx int")
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
            facts[name] = {
                "type": type(e).__name__, "runtime_error": isinstance(e, RuntimeError), "message": str(e)
            }
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = spark_recs_command(["recommend", "--model", saved, "--users", "u0,u1", "--keep-rated"])
    facts["command"] = {"code": code, "stderr": err.getvalue()}
    print("FACTS " + json.dumps(facts), flush=True)
    spark.stop()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
