"""Chapter 1: recommendations for named users.

Fit ALS on ratings with string ids and print the top-5 unseen items, with titles, for three
users by name. Runs on the embedded synthetic data, or on a MovieLens ``ml-latest-small``
directory with ``--data PATH``.

    spark-submit examples/ch1_recommendations_for_named_users.py [--data ml-latest-small]
"""

from pyspark.ml import Pipeline
from pyspark.ml.recommendation import ALS

from _common import explicit_data, parse, session, show_recommendations, size_to_data
from spark_recs import IdIndexer, recommend_for_users


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    spark = session("ch1 named users")
    ratings, items = explicit_data(spark, args)
    blocks = size_to_data(spark, ratings)
    pipeline = Pipeline(stages=[
        IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"]),
        ALS(userCol="user_idx", itemCol="item_idx", ratingCol="rating", rank=10, maxIter=10, regParam=0.1,
            coldStartStrategy="drop", seed=args.seed, **blocks),
    ])
    model = pipeline.fit(ratings)
    named = [r["user"] for r in ratings.select("user").distinct().orderBy("user").limit(3).collect()]
    recs = recommend_for_users(model, named, n=5, rated=ratings, titles=items.select("item", "title"))
    show_recommendations(recs)
    assert recs.count() == 15, "five recommendations for each of three users"


if __name__ == "__main__":
    main()
