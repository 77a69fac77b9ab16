"""A classic application with no checkpoint directory (the test session has one): ImplicitALS
refuses a fit ALS would not survive, a plain ALS fit is left as the user configured it, and
once the session has a directory maxIter=12 fits (40 iterations: tests/test_checkpoint.py, in the
test session). Prints one line ``FACTS {json}``.

Run by tests/test_checkpoint.py as its own process (a second SparkContext cannot live in the
test process).
"""

import json
import sys
import tempfile

from pyspark.ml.recommendation import ALS
from pyspark.sql import SparkSession

from spark_recs import ImplicitALS


def main() -> None:
    spark = (
        SparkSession.builder.master("local[2]").appName("spark-recs checkpoint check")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2").getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    plays = spark.createDataFrame(
        [(u, i, float((u * 7 + i * 3) % 5)) for u in range(30) for i in range(20)], "user int, item int, rating double"
    )
    args = dict(rank=3, seed=1, numUserBlocks=1, numItemBlocks=1)
    facts = {"dir_before": spark.sparkContext.getCheckpointDir()}
    try:
        ImplicitALS(maxIter=40, **args).fit(plays)
        facts["error"] = None
    except ValueError as e:
        facts["error"] = str(e)
    facts["default_fits"] = ImplicitALS(maxIter=10, **args).fit(plays).userFactors.count()
    facts["plain_als_fits"] = ALS(maxIter=2, implicitPrefs=True, **args).fit(plays).userFactors.count()
    facts["dir_after_plain_als"] = spark.sparkContext.getCheckpointDir()
    spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="spark-recs-checkpoint-job-"))
    facts["fits_with_dir"] = ImplicitALS(maxIter=12, **args).fit(plays).userFactors.count()
    try:
        ImplicitALS(maxIter=40, checkpointInterval=25, **args).fit(plays)
        facts["interval_error"] = None
    except ValueError as e:
        facts["interval_error"] = str(e)
    print("FACTS " + json.dumps(facts), flush=True)
    spark.stop()


if __name__ == "__main__":
    sys.exit(main())
