"""Chapter 3: MovieLens explicit ratings — statistics, split, grid, CrossValidator, best model.

Sparsity and summary statistics, a per-user train/test split, a ParamGridBuilder grid searched
by CrossValidator on per-user folds with RMSE, the best model and its params, test RMSE, and a
look at whether the recommendations make sense (the genres a user rated highest next to the
genres recommended).

    spark-submit examples/ch3_movielens_explicit.py [--data ml-latest-small]
"""

from pyspark.ml import PipelineModel
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.recommendation import ALS
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import functions as F

from _common import explicit_data, parse, session, show_recommendations, size_to_data
from spark_recs import IdIndexer, PerUserFolds, recommend_for_users, train_test_split_per_user
from spark_recs.datasets import interaction_stats


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    spark = session("ch3 MovieLens explicit")
    ratings, items = explicit_data(spark, args)
    ratings = ratings.cache()
    blocks = size_to_data(spark, ratings)
    stats = interaction_stats(ratings, ratingCol="rating")
    print(f"{stats['rows']} ratings, {stats['users']} users, {stats['items']} items, sparsity {stats['sparsity']:.4f}")
    print(f"ratings per user: {stats['rows_per_user']}; per item: {stats['rows_per_item']}")

    train, test = train_test_split_per_user(ratings, testFraction=0.2, seed=args.seed)
    # Integer ids once, before the folds: the vocabulary holds no ratings, so fitting it on all
    # rows leaks nothing into validation, and CrossValidator then fits only ALS per grid point.
    indexer = IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"], handleInvalid="keep").fit(ratings)
    n_folds = 2 if args.small else 3
    folds = PerUserFolds(numFolds=n_folds, seed=args.seed).transform(indexer.transform(train)).cache()
    als = ALS(userCol="user_idx", itemCol="item_idx", ratingCol="rating", coldStartStrategy="drop",
              maxIter=3 if args.small else 10, seed=args.seed, **blocks)
    grid = (ParamGridBuilder().addGrid(als.rank, [4, 10] if args.small else [5, 10, 20])
            .addGrid(als.regParam, [0.1] if args.small else [0.05, 0.2]).build())
    rmse = RegressionEvaluator(metricName="rmse", labelCol="rating", predictionCol="prediction")
    cv = CrossValidator(estimator=als, estimatorParamMaps=grid, evaluator=rmse, numFolds=n_folds, foldCol="fold",
                        parallelism=2)
    cv_model = cv.fit(folds)
    for params, value in zip(grid, cv_model.avgMetrics):
        print({p.name: v for p, v in params.items()}, f"RMSE {value:.4f}")
    best_i = min(range(len(grid)), key=lambda i: cv_model.avgMetrics[i])  # RMSE: lower is better
    best_params = {p.name: v for p, v in grid[best_i].items()}
    print(f"best params: {best_params}; the best model's rank: {cv_model.bestModel.rank}")
    best = PipelineModel(stages=[indexer, cv_model.bestModel])  # original ids in, original ids out
    test_rmse = rmse.evaluate(best.transform(test))
    print(f"test RMSE: {test_rmse:.4f}")

    # do the recommendations make sense? the genres a user liked next to those recommended
    user = ratings.groupBy("user").count().orderBy(F.desc("count"), "user").first()["user"]
    liked = ratings.where((F.col("user") == user) & (F.col("rating") >= 4)).join(items, "item")
    recs = recommend_for_users(best, [user], n=10, rated=ratings, titles=items.select("item", "title"))
    show_recommendations(recs)
    print("genres the user rated 4+:")
    liked.groupBy("genres").count().orderBy(F.desc("count")).show(5, truncate=False)
    print("genres recommended:")
    recs.join(items.select("item", "genres"), "item").groupBy("genres").count().orderBy(F.desc("count")).show(5, truncate=False)
    assert recs.count() == 10 and 0 < test_rmse < 2


if __name__ == "__main__":
    main()
