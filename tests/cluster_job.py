"""Run as a script by tests/test_cluster.py: a Spark application on a multi-process
``local-cluster[2,1,1024]`` master (a driver and two executor JVMs), as spark-submit would run it.

Fits ``Pipeline([IdIndexer, ALS])`` on string ids, decodes ``recommendForAllUsers`` back to the
string ids and prints one JSON line of facts for the test to check.
"""

import json
import sys

from pyspark.ml import Pipeline
from pyspark.ml.recommendation import ALS
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_recs import IdIndexer


def main(master: str) -> None:
    spark = (
        SparkSession.builder.master(master)
        .appName("spark-recs-cluster-check")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.executor.memory", "512m")
        .getOrCreate()
    )
    # 40 users x 30 items, string ids, generated on the executors
    df = (
        spark.range(0, 40 * 30, numPartitions=4)
        .select(
            F.format_string("user_%03d", (F.col("id") / 30).cast("int")).alias("user"),
            F.format_string("item_%03d", F.col("id") % 30).alias("item"),
            ((F.col("id") * 7 % 5) + 1).cast("float").alias("rating"),
        )
        .where(F.col("id") % 3 != 0)
    )
    pipeline = Pipeline(stages=[
        IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"]),
        ALS(userCol="user_idx", itemCol="item_idx", ratingCol="rating", rank=4, maxIter=3, seed=1,
            coldStartStrategy="drop"),
    ])
    model = pipeline.fit(df)
    indexer, als = model.stages
    recs = indexer.decode(als.recommendForAllUsers(3))
    flat = recs.select("user", F.posexplode("recommendations").alias("pos", "rec")).select(
        "user", "pos", F.col("rec.item").alias("item"), F.col("rec.rating").alias("score")
    )
    # each recommended score equals the pipeline's own prediction for that (user, item)
    predicted = model.transform(flat.select("user", "item")).select("user", "item", "prediction")
    check = flat.join(predicted, ["user", "item"]).agg(
        F.max(F.abs(F.col("score") - F.col("prediction"))).alias("max_diff"), F.count("*").alias("n")
    ).first()
    facts = {
        "master": spark.sparkContext.master,
        "parallelism": spark.sparkContext.defaultParallelism,
        "users": recs.count(),
        "distinct_users": recs.select("user").distinct().count(),
        "user_type": recs.schema["user"].dataType.simpleString(),
        "recs_type": recs.schema["recommendations"].dataType.simpleString(),
        "unknown_users": recs.join(df.select("user").distinct(), "user", "left_anti").count(),
        "unknown_items": flat.join(df.select("item").distinct(), "item", "left_anti").count(),
        "rec_rows": flat.count(),
        "checked": check["n"],
        "max_diff": check["max_diff"],
        "predictions": model.transform(df).count(),
        "rows": df.count(),
    }
    print("FACTS " + json.dumps(facts))
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "local-cluster[2,1,1024]")
