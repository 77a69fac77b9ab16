"""Run as a script by tests/test_cluster.py: a Spark application on a multi-process
``local-cluster[2,1,1024]`` master (a driver and two executor JVMs), as spark-submit would run it.

On play counts with string ids, generated on the executors: ``ZeroFiller`` puts the zeros back,
``IdIndexer`` gives integer ids, ``PerUserFolds`` and a ``CrossValidator`` over ``ImplicitALS``
with ``ROEMEvaluator`` pick a rank; the best model's ``recommendForAllUsers`` is decoded back to
the string ids and its scores checked against the pipeline's own predictions; ``ROEMEvaluator``
and ``PrecisionAtKEvaluator`` are checked against the numpy references of the test suite on the
collected predictions (tests/test_tuning.py checks, in local mode, that CrossValidator's metrics
equal the fits and evaluations done by hand). Prints one JSON line of facts for the test.
"""

import json
import os
import sys
import time

from pyspark.ml import PipelineModel
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_recs import IdIndexer, ImplicitALS, PerUserFolds, PrecisionAtKEvaluator, ROEMEvaluator, ZeroFiller

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests import reference  # noqa: E402  (the numpy references of the test suite)

T0 = time.monotonic()


def log(step: str) -> None:
    print(f"{step} at {time.monotonic() - T0:.1f} s", file=sys.stderr)


def main(master: str) -> None:
    spark = (
        SparkSession.builder.master(master)
        .appName("spark-recs-cluster-check")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.executor.memory", "512m")
        # the test suite's speed settings (setup.cfg): tiny queries, no re-planning or codegen
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.sql.codegen.wholeStage", "false")
        .getOrCreate()
    )
    log("session up")
    # 40 users x 20 items (ids whose number is a multiple of 3 are left out), 0 to 3 plays
    df = (
        spark.range(0, 40 * 30, numPartitions=4)
        .where(F.col("id") % 3 != 0)
        .select(
            F.format_string("user_%03d", (F.col("id") / 30).cast("int")).alias("user"),
            F.format_string("item_%03d", F.col("id") % 30).alias("item"),
        )
        .withColumn("rating", F.pmod(F.xxhash64("user", "item"), F.lit(4)).cast("double"))
    )
    filled = ZeroFiller(seed=5).transform(df.where("rating > 0")).cache()
    indexer = IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"]).fit(filled)
    folds = PerUserFolds(numFolds=2, seed=3).transform(indexer.transform(filled)).cache()
    als = ImplicitALS(userCol="user_idx", itemCol="item_idx", maxIter=2, seed=1, coldStartStrategy="drop",
                      numUserBlocks=2, numItemBlocks=2)  # a block per executor
    grid = ParamGridBuilder().addGrid(als.rank, [2, 4]).build()
    roem, precision = ROEMEvaluator(), PrecisionAtKEvaluator(k=5)
    cv_model = CrossValidator(estimator=als, estimatorParamMaps=grid, evaluator=roem, numFolds=2, foldCol="fold",
                              parallelism=2).fit(folds)
    log("cross-validation done")

    model = PipelineModel(stages=[indexer, cv_model.bestModel])
    recs = indexer.decode(cv_model.bestModel.recommendForAllUsers(3)).cache()
    flat = recs.select("user", F.posexplode("recommendations").alias("pos", "rec")).select(
        "user", "pos", F.col("rec.item").alias("item"), F.col("rec.rating").alias("score")
    )
    # each recommended score equals the pipeline's own prediction for that (user, item)
    predicted = model.transform(flat.select("user", "item")).select("user", "item", "prediction")
    check = flat.join(predicted, ["user", "item"]).agg(
        F.max(F.abs(F.col("score") - F.col("prediction"))).alias("max_diff"), F.count("*").alias("n")
    ).first()
    known = recs.agg(F.count("*").alias("users"), F.countDistinct("user").alias("distinct_users")).first()
    unknown = {
        side: frame.join(df.select(side).distinct(), side, "left_anti").count()
        for side, frame in (("user", recs), ("item", flat))
    }
    predictions = model.transform(filled)
    rows = predictions.select("user", "item", "rating", "prediction").collect()  # 800 rows: a test's reference
    users, items, ratings, scores = zip(*[(r["user"], r["item"], r["rating"], r["prediction"]) for r in rows])
    facts = {
        "master": spark.sparkContext.master,
        "parallelism": spark.sparkContext.defaultParallelism,
        "users": known["users"],
        "distinct_users": known["distinct_users"],
        "user_type": recs.schema["user"].dataType.simpleString(),
        "recs_type": recs.schema["recommendations"].dataType.simpleString(),
        "unknown_users": unknown["user"],
        "unknown_items": unknown["item"],
        "rec_rows": flat.count(),
        "checked": check["n"],
        "max_diff": check["max_diff"],
        "filled_rows": filled.count(),
        "predictions": len(rows),
        "rows": df.count(),
        "cv_metrics": cv_model.avgMetrics,
        "cv_best_rank": cv_model.bestModel.rank,
        "roem": roem.evaluate(predictions),
        "roem_numpy": reference.roem(users, ratings, scores, tie_rule="average", nan_rule="last"),
        "precision": precision.evaluate(predictions),
        "precision_numpy": reference.ranking_metric(users, items, ratings, scores, "precisionAtK", 5,
                                                    tie_rule="average"),
        **rank_all_unseen(cv_model.bestModel, indexer.transform(df.where("rating > 0"))),
    }
    log("all done")
    print("FACTS " + json.dumps(facts))
    spark.stop()


def rank_all_unseen(als_model, plays):
    """UnseenItemRankerModel with executors in other processes: the cross-validated model's
    blockwise ranks (two user blocks x two item blocks here) against the numpy reference on
    its collected factors. The seen items are the plays outside one per-user fold."""
    from spark_recs import UnseenItemRankerModel

    folds = PerUserFolds(numFolds=3, seed=4, userCol="user_idx", itemCol="item_idx").transform(plays)
    train, held = folds.where("fold > 0").drop("fold"), folds.where("fold = 0").drop("fold")
    model = UnseenItemRankerModel.fromFitted(als_model, train).setUserBlockSize(16).setItemBlockSize(8)
    ranked_df = model.transform(held).cache()
    ranked = ranked_df.collect()
    users = {r.id: r.features for r in als_model.userFactors.collect()}
    items = {r.id: r.features for r in als_model.itemFactors.collect()}
    seen = {}
    for r in train.select("user_idx", "item_idx").collect():
        seen.setdefault(r.user_idx, set()).add(r.item_idx)
    expected = reference.unseen_item_ranks(users, items, seen, [(r.user_idx, r.item_idx) for r in ranked])
    mismatches = sum(
        (r.rank, r.numAbove, r.numTied, r.numCandidates) != expected[(r.user_idx, r.item_idx)][1:] for r in ranked
    )
    log("full-catalogue ranking done")
    return {"ranked_rows": len(ranked), "ranked_mismatches": mismatches,
            "ranked_precision": PrecisionAtKEvaluator(k=5, userCol="user_idx", itemCol="item_idx",
                                                      rankCol="rank").evaluate(ranked_df)}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "local-cluster[2,1,1024]")
