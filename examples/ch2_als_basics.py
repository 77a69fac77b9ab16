"""Chapter 2: ALS basics — wide to long, integer ids, ALS, RMSE.

Ratings often arrive as a wide table (one column per item). Turn it into long (user, item,
rating) rows, give users and items the integer ids ALS needs, fit ALS on a training split and
measure RMSE on the held-out rows.

    spark-submit examples/ch2_als_basics.py [--data ml-latest-small]
"""

from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.recommendation import ALS
from pyspark.sql import functions as F

from _common import explicit_data, parse, session, size_to_data
from spark_recs import IdIndexer, train_test_split_per_user
from spark_recs.datasets import wide_to_long


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    spark = session("ch2 ALS basics")
    ratings, _ = explicit_data(spark, args)
    blocks = size_to_data(spark, ratings)
    # a wide table of the 20 most rated items, as spreadsheets and surveys deliver them
    top = [r["item"] for r in ratings.groupBy("item").count().orderBy(F.desc("count"), "item").limit(20).collect()]
    wide = ratings.where(F.col("item").isin(top)).groupBy("user").pivot("item", top).agg(F.first("rating"))
    print(f"wide: {wide.count()} users x {len(wide.columns) - 1} item columns")
    long = wide_to_long(wide, userCol="user", itemColName="item", ratingColName="rating")
    long.show(5)
    assert long.count() == ratings.where(F.col("item").isin(top)).count()

    indexer = IdIndexer(inputCols=["user", "item"], outputCols=["user_id", "item_id"]).fit(ratings)
    indexed = indexer.transform(ratings)
    indexed.show(5)
    train, test = train_test_split_per_user(indexed, testFraction=0.2, seed=args.seed)
    als = ALS(userCol="user_id", itemCol="item_id", ratingCol="rating", rank=10, maxIter=10, regParam=0.1,
              coldStartStrategy="drop", seed=args.seed, **blocks)
    model = als.fit(train)
    rmse = RegressionEvaluator(metricName="rmse", labelCol="rating", predictionCol="prediction")
    value = rmse.evaluate(model.transform(test))
    print(f"test RMSE: {value:.4f}")
    assert 0 < value < 2


if __name__ == "__main__":
    main()
