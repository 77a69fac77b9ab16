"""recommend_for_users against a brute-force ranking of every item by the same pipeline."""

import random

import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.recommendation import ALS
from pyspark.sql import functions as F

from spark_recs import IdIndexer, recommend_for_users
from spark_recs.top_n import als_and_indexer


@pytest.fixture(scope="module")
def ratings(spark_session):
    rng = random.Random(8)
    rows = [(f"user_{u:02d}", f"item_{i:02d}", float(rng.randint(1, 5))) for u in range(25) for i in range(30)
            if rng.random() < 0.3]
    return spark_session.createDataFrame(rows, ["user", "item", "rating"])


@pytest.fixture(scope="module")
def fitted(ratings):
    return Pipeline(stages=[
        IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"]),
        ALS(userCol="user_idx", itemCol="item_idx", rank=4, maxIter=4, seed=2, numUserBlocks=1, numItemBlocks=1),
    ]).fit(ratings)


def brute_force(fitted, ratings, users, n, exclude=True):
    """Score every (user, item) pair with the pipeline and keep the best n unrated ones."""
    items = ratings.select("item").distinct()
    grid = ratings.sparkSession.createDataFrame([(u,) for u in users], ["user"]).crossJoin(items)
    if exclude:
        grid = grid.join(ratings.select("user", "item"), ["user", "item"], "left_anti")
    scored = fitted.transform(grid.withColumn("rating", F.lit(0.0))).collect()
    best = {}
    for u in users:
        rows = sorted((r for r in scored if r["user"] == u), key=lambda r: -r["prediction"])[:n]
        best[u] = [r["item"] for r in rows]
    return best


def as_lists(recs):
    out = {}
    for r in recs.orderBy("user", "rank").collect():
        out.setdefault(r["user"], []).append(r["item"])
    return out


def test_top_n_leaves_out_rated_items(fitted, ratings):
    users = ["user_03", "user_17"]
    recs = recommend_for_users(fitted, users, n=5, rated=ratings)
    assert recs.columns == ["user", "rank", "item", "score"]
    assert [r["rank"] for r in recs.where("user = 'user_03'").collect()] == [1, 2, 3, 4, 5]
    assert as_lists(recs) == brute_force(fitted, ratings, users, 5)
    assert recs.join(ratings, ["user", "item"]).count() == 0


def test_keep_rated_items_when_asked(fitted, ratings):
    users = ["user_05"]
    recs = recommend_for_users(fitted, users, n=4, excludeRated=False)
    assert as_lists(recs) == brute_force(fitted, ratings, users, 4, exclude=False)


def test_saved_model_and_titles(fitted, ratings, tmp_path):
    path = str(tmp_path / "model")
    fitted.save(path)
    titles = ratings.select("item").distinct().withColumn("title", F.concat(F.lit("Title of "), "item"))
    recs = recommend_for_users(path, ["user_11"], n=3, rated=ratings, titles=titles)
    assert recs.columns == ["user", "rank", "item", "score", "title"]
    rows = recs.collect()
    assert [r["title"] for r in rows] == [f"Title of {r['item']}" for r in rows]
    assert [r["item"] for r in rows] == brute_force(fitted, ratings, ["user_11"], 3)["user_11"]


def test_pipeline_without_indexer(spark):
    df = spark.createDataFrame([(u, i, float((u + i) % 5 + 1)) for u in range(6) for i in range(8)], ["user", "item", "rating"])
    model = ALS(rank=2, maxIter=3, seed=1).fit(df)
    recs = recommend_for_users(model, [1, 2], n=2, excludeRated=False)
    assert recs.count() == 4 and recs.columns == ["user", "rank", "item", "score"]


def test_indexer_found_by_what_it_encodes_not_by_position(fitted, ratings):
    indexer, als = fitted.stages
    other = IdIndexer(inputCol="item", outputCol="item_code").fit(ratings)  # encodes no ALS column
    model = PipelineModel(stages=[other, als, indexer])
    found_als, found_indexer = als_and_indexer(model)
    assert found_als is als and found_indexer is indexer
    recs = recommend_for_users(model, ["user_03"], n=3, rated=ratings)
    assert as_lists(recs) == brute_force(fitted, ratings, ["user_03"], 3)


def test_old_module_path_still_imports():
    from spark_recs.recommend import recommend_for_users as moved

    assert moved is recommend_for_users


def test_bad_input(fitted, ratings):
    with pytest.raises(ValueError, match=r"recommend_for_users: users \['nobody'\] are not known to the model \(userCol 'user'\)"):
        recommend_for_users(fitted, ["user_01", "nobody"], rated=ratings)
    with pytest.raises(ValueError, match=r"recommend_for_users: n must be >= 1, found 0"):
        recommend_for_users(fitted, ["user_01"], n=0, rated=ratings)
    with pytest.raises(ValueError, match=r"recommend_for_users: pass the interactions as rated="):
        recommend_for_users(fitted, ["user_01"])
    with pytest.raises(ValueError, match=r"recommend_for_users: rated 'item' not in \[user\]"):
        recommend_for_users(fitted, ["user_01"], rated=ratings.select("user"))
    with pytest.raises(ValueError, match=r"recommend_for_users: users is empty"):
        recommend_for_users(fitted, [], excludeRated=False)
    with pytest.raises(ValueError, match=r"recommend_for_users: model must hold exactly one ALSModel, PopularityModel or UnseenItemRankerModel, found 0"):
        recommend_for_users(Pipeline(stages=[IdIndexer(inputCol="user", outputCol="u")]).fit(ratings), ["user_01"])


def test_a_user_who_rated_every_item_keeps_a_row(fitted, ratings):
    """Issue 24: every user asked about has a row; with nothing to give, rank, item and score
    are null."""
    items = [r["item"] for r in ratings.select("item").distinct().collect()]
    everything = ratings.union(ratings.sparkSession.createDataFrame([("user_03", i, 1.0) for i in items], ratings.schema))
    recs = recommend_for_users(fitted, ["user_03", "user_17"], n=3, rated=everything)
    rows = {(r["user"], r["rank"], r["item"]) for r in recs.where("user = 'user_03'").collect()}
    assert rows == {("user_03", None, None)}
    assert recs.where("user = 'user_17'").count() == 3
