"""recommend_for_users against a brute-force ranking of every item by the same pipeline."""

import random

import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.recommendation import ALS
from pyspark.sql import functions as F
from pyspark.sql.utils import is_remote

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


@pytest.fixture(scope="module")
def integer_ids(spark_session):
    # each user rated 4 of the 6 items, each item has 4 raters
    rows = [(u, i, float(1 + (u + i) % 3)) for u in range(1, 7) for i in range(10, 16) if (u * 7 + i) % 3]
    ratings = spark_session.createDataFrame(rows, "userId long, movieId int, rating double")
    model = Pipeline(stages=[
        IdIndexer(inputCols=["userId", "movieId"], outputCols=["u", "i"]),
        ALS(userCol="u", itemCol="i", rank=2, maxIter=2, seed=2, numUserBlocks=1, numItemBlocks=1),
    ]).fit(ratings)
    return model, ratings


def test_users_typed_as_text_for_integer_ids(integer_ids):
    model, ratings = integer_ids
    as_text = recommend_for_users(model, ["2", "3"], n=2, rated=ratings)
    assert as_text.columns == ["userId", "rank", "movieId", "score"]
    assert as_text.collect() == recommend_for_users(model, [2, 3], n=2, rated=ratings).collect()
    with pytest.raises(TypeError, match=r"recommend_for_users: users \['two'\] do not fit the model's userCol "
                                        r"'userId' ids, which are bigint"):
        recommend_for_users(model, ["2", "two"], n=2, rated=ratings)


def test_missing_and_existing_paths(integer_ids, tmp_path):
    from pyspark.errors import AnalysisException

    model, ratings = integer_ids
    missing = str(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"recommend_for_users: no PipelineModel saved at '.*missing' "
                                                r"\(no such path\)"):
        recommend_for_users(missing, [2], rated=ratings)
    # a PipelineModel is Spark's own: saving over a path raises Spark's error (README, Errors)
    model.save(str(tmp_path / "saved"))
    if not is_remote():  # a Connect server words it its own way
        with pytest.raises(AnalysisException, match=r"PATH_ALREADY_EXISTS"):
            model.save(str(tmp_path / "saved"))
    model.write().overwrite().save(str(tmp_path / "saved"))
    assert recommend_for_users(str(tmp_path / "saved"), [2], n=1, rated=ratings).count() == 1
