"""Synthetic data, loaders, download cache, wide_to_long and interaction_stats, on real Spark."""

import hashlib
import os
import random
import re
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.recommendation import ALS
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_recs import (
    download_movielens,
    interaction_stats,
    load_interactions,
    load_movielens,
    load_movielens_100k,
    load_taste_profile,
    synthetic_ratings,
    wide_to_long,
)
from spark_recs.datasets import KNOWN_SHA256, synthetic

GENRES = {"Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Documentary", "Animation"}


def write(path, text, encoding="utf-8"):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return str(path)


# ------------------------------------------------------------------------------------------
# synthetic_ratings
# ------------------------------------------------------------------------------------------


SMALL = dict(numUsers=40, numItems=120, numRatings=1500, seed=5)


@pytest.fixture(scope="module")
def small_explicit(spark_session):
    ratings, items = synthetic_ratings(spark_session, **SMALL)
    return ratings.cache(), items.cache()


def test_synthetic_columns_types_ranges(small_explicit):
    ratings, items = small_explicit
    assert ratings.schema.simpleString() == "struct<user:string,item:string,rating:float>"
    assert items.schema.simpleString() == "struct<item:string,title:string,genre:string>"
    rows = ratings.collect()
    n = len(rows)
    assert n == 1500
    assert len({(r.user, r.item) for r in rows}) == n  # no repeated pair
    assert all(re.fullmatch(r"user_\d\d", r.user) and int(r.user[5:]) < 40 for r in rows)
    assert all(re.fullmatch(r"item_\d\d\d", r.item) and int(r.item[5:]) < 120 for r in rows)
    assert Counter(r.rating for r in rows).keys() == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert len({r.user for r in rows}) == 40  # every user has rows
    catalogue = items.collect()
    assert sorted(r.item for r in catalogue) == [f"item_{k:03d}" for k in range(120)]
    assert len({r.title for r in catalogue}) == 120
    assert all(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+ \((19[5-9]\d|20[01]\d)\)", r.title) for r in catalogue)
    assert {r.genre for r in catalogue} == GENRES
    # titles join to every rated item
    assert ratings.join(items, "item", "left_anti").count() == 0
    assert ratings.join(items, "item").where(F.col("title").isNull()).count() == 0


@pytest.fixture(scope="module")
def small_implicit(spark_session):
    plays, items = synthetic_ratings(spark_session, kind="implicit", **SMALL)
    return plays.cache(), items


def test_synthetic_implicit_plays(small_implicit):
    plays, items = small_implicit
    assert plays.schema.simpleString() == "struct<user:string,item:string,rating:int>"
    stats = plays.agg(F.min("rating"), F.avg("rating"), F.max("rating"), F.count(F.lit(1))).first()
    assert stats[0] == 1 and 2.0 < stats[1] < 8.0 and stats[2] > 10
    assert items.count() == 120


def test_implicit_and_explicit_share_pairs_and_taste(small_explicit, small_implicit):
    stars, _ = small_explicit
    plays, _ = small_implicit
    joined = stars.withColumnRenamed("rating", "stars").join(plays, ["user", "item"], "full_outer")
    assert joined.where(F.col("stars").isNull() | F.col("rating").isNull()).count() == 0
    mean_plays = dict(joined.groupBy("stars").agg(F.avg("rating")).collect())
    # both come from the same planted taste z: five-star pairs get many more plays
    assert mean_plays[5.0] > 3 * mean_plays[1.0]
    assert mean_plays[1.0] < mean_plays[3.0] < mean_plays[5.0]


def test_rated_pairs_carry_taste(spark, small_explicit):
    ratings, _ = small_explicit
    index = F.substring_index("user", "_", -1).cast("long"), F.substring_index("item", "_", -1).cast("long")
    z = synthetic._taste(5, F.col("u"), F.col("i"), 8)
    rated = ratings.select(index[0].alias("u"), index[1].alias("i"), "rating").select(z.alias("z"), "rating")
    everything = spark.range(40).select(F.col("id").alias("u")).crossJoin(spark.range(120).select(F.col("id").alias("i")))
    rated_z, stars = rated.agg(F.avg("z"), F.avg("rating")).first()
    all_z = everything.select(z.alias("z")).agg(F.avg("z")).first()[0]
    # pairs are kept with probability sigmoid(3 z): z is about 0.69 over kept pairs, 0 over all
    assert abs(all_z) < 0.15 and 0.45 < rated_z < 0.9, (all_z, rated_z)
    # ratings use z standardised over the rows: centred on 3 stars
    assert 2.7 < stars < 3.3
    assert rated.stat.corr("z", "rating") > 0.7


def test_cut_is_exact_when_the_first_draws_fall_short(spark, small_explicit, monkeypatch):
    monkeypatch.setattr(synthetic, "_DRAW_MARGIN", 0.7)  # too few draws at first: they grow
    monkeypatch.setattr(synthetic, "_MASK_BUCKETS", 4)  # the coarse histogram and a second job
    grown, _ = synthetic_ratings(spark, **SMALL)
    pairs = sorted((r.user, r.item) for r in grown.collect())
    assert len(pairs) == 1500
    assert pairs == sorted((r.user, r.item) for r in small_explicit[0].collect())


def test_synthetic_deterministic_whatever_the_partitioning(spark, small_explicit):
    ratings, items = small_explicit
    old = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "5")
    try:
        for parts in (1, 7):  # other runs, same seed
            again, again_items = synthetic_ratings(spark, numPartitions=parts, **SMALL)
            assert sorted(again.collect()) == sorted(ratings.collect())
            assert sorted(again_items.collect()) == sorted(items.collect())
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", old)
    other, other_items = synthetic_ratings(spark, **dict(SMALL, seed=6))
    other_rows, rows = set(other.collect()), set(ratings.collect())
    assert len(other_rows) == 1500 and len(other_rows & rows) < 750
    assert sorted(other_items.collect()) != sorted(items.collect())


def test_planted_low_rank_structure_als(spark):
    ratings, _ = synthetic_ratings(spark, numUsers=120, numItems=150, numRatings=6000, rank=8, seed=1)
    df = ratings.select(
        F.substring_index("user", "_", -1).cast("int").alias("u"),
        F.substring_index("item", "_", -1).cast("int").alias("i"),
        "rating",
    )
    held_out = F.pmod(F.xxhash64("u", "i"), F.lit(5)) == 0  # 20%, whatever the partitioning
    train, test = df.where(~held_out).cache(), df.where(held_out).cache()
    rmse = RegressionEvaluator(labelCol="rating", metricName="rmse")
    mean = train.agg(F.avg("rating")).first()[0]
    baseline = rmse.evaluate(test.withColumn("prediction", F.lit(mean)))

    def als_rmse(rank):
        model = ALS(userCol="u", itemCol="i", rank=rank, maxIter=8, regParam=0.05, seed=1,
                    coldStartStrategy="drop", numUserBlocks=1, numItemBlocks=1).fit(train)
        return rmse.evaluate(model.transform(test))

    rank8, rank1 = als_rmse(8), als_rmse(1)
    assert rank8 < 0.8 * baseline and rank8 < 0.8 * rank1, (rank8, rank1, baseline)
    assert rank8 < 1.0


def top_share(df, col, top):
    counts = sorted((r[1] for r in df.groupBy(col).count().collect()), reverse=True)
    return sum(counts[:top]) / sum(counts)


def test_popularity_heavy_tailed_and_heavy_users(spark):
    zipf1, _ = synthetic_ratings(spark, numUsers=60, numItems=600, numRatings=3000, zipf=1.0, seed=2)
    uniform, _ = synthetic_ratings(spark, numUsers=60, numItems=600, numRatings=3000, zipf=0.0, seed=2)
    zipf1, uniform = zipf1.cache(), uniform.cache()
    assert zipf1.count() == 3000 and uniform.count() == 3000
    # the top 10% of the catalogue's 600 items
    assert top_share(zipf1, "item", 60) > 0.4
    assert top_share(uniform, "item", 60) < 0.2
    # the 6 heavy users of 60 get 25% of the draws on top of their uniform share
    assert 0.25 < top_share(uniform, "user", 6) < 0.4
    assert uniform.select("user").distinct().count() == 60


def test_synthetic_bad_arguments(spark):
    with pytest.raises(ValueError, match=r"synthetic_ratings: numUsers must be in \[1, 2147483647\], found 0"):
        synthetic_ratings(spark, numUsers=0)
    with pytest.raises(TypeError, match=r"synthetic_ratings: rank must be an int, found '8'"):
        synthetic_ratings(spark, rank="8")
    with pytest.raises(ValueError, match=r"synthetic_ratings: numPartitions must be in \[1, 2147483647\], found 0"):
        synthetic_ratings(spark, numPartitions=0)
    with pytest.raises(ValueError, match=r"synthetic_ratings: kind must be one of \['explicit', 'implicit'\], found 'stars'"):
        synthetic_ratings(spark, kind="stars")
    with pytest.raises(ValueError, match=r"synthetic_ratings: zipf must be a finite number >= 0, found -1"):
        synthetic_ratings(spark, zipf=-1)
    with pytest.raises(ValueError, match=r"synthetic_ratings: numRatings must be <= numUsers \* numItems = 20, found 21"):
        synthetic_ratings(spark, numUsers=2, numItems=10, numRatings=21)
    with pytest.raises(ValueError, match=r"synthetic_ratings: numRatings=95 distinct \(user, item\) pairs are out of reach"):
        synthetic_ratings(spark, numUsers=2, numItems=50, numRatings=95, zipf=3.0)
    with pytest.raises(ValueError, match=r"synthetic_ratings: tasteThreshold must be a finite number, found nan"):
        synthetic_ratings(spark, tasteThreshold=float("nan"))
    with pytest.raises(ValueError, match=r"lower numRatings, zipf or tasteThreshold"):
        synthetic_ratings(spark, numUsers=5, numItems=20, numRatings=95, tasteThreshold=6.0)


def test_synthetic_taste_threshold_makes_users_pick_by_taste(spark):
    # Pickier users (a higher tasteThreshold) keep the draws they like most, so which items
    # they have follows taste more and popularity less: the 10 most popular items hold a
    # smaller share of the rows. Same seed and sizes; only the threshold differs.
    def top10_share(threshold):
        df, _ = synthetic_ratings(spark, numUsers=100, numItems=200, numRatings=1000, zipf=1.0,
                                  tasteThreshold=threshold, seed=4)
        counts = sorted((r["count"] for r in df.groupBy("item").count().collect()), reverse=True)
        assert sum(counts) == 1000
        return sum(counts[:10]) / 1000

    assert top10_share(1.0) < 0.9 * top10_share(0.0)  # 0.283 and 0.332


def test_synthetic_ml_100k_settings(spark):
    # the sizes of MovieLens 100K, and the popularity curve the README quotes (top item 716 raters)
    settings = synthetic.SYNTHETIC_SETTINGS["ml-100k"]
    df, items = synthetic_ratings(spark, **settings, seed=42)
    stats = df.agg(F.count(F.lit(1)).alias("rows"), F.count_distinct("user").alias("users")).first()
    assert (stats["rows"], stats["users"], items.count()) == (100_000, 943, 1682)
    assert df.groupBy("item").count().agg(F.max("count")).first()[0] == 716


# ------------------------------------------------------------------------------------------
# MovieLens (ml-latest)
# ------------------------------------------------------------------------------------------

RATINGS_CSV = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n2,3,0.5,1445714835\n"
MOVIES_CSV = (
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
    '3,"American President, The (1995)",Comedy|Drama|Romance\n'
    '7,"""Great Performances"" Cats (1998)",Musical\n'
    "9,Café (2001),(no genres listed)\n"
)


@pytest.fixture
def movielens_dir(tmp_path):
    write(tmp_path / "ml" / "ratings.csv", RATINGS_CSV)
    write(tmp_path / "ml" / "movies.csv", MOVIES_CSV)
    return tmp_path / "ml"


def test_load_movielens(spark, movielens_dir):
    ratings, movies = load_movielens(spark, movielens_dir)
    expected_ratings = spark.createDataFrame(
        [(1, 1, 4.0, 964982703), (1, 3, 4.5, 964981247), (2, 3, 0.5, 1445714835)],
        "userId int, movieId int, rating float, timestamp long",
    )
    expected_movies = spark.createDataFrame(
        [
            (1, "Toy Story (1995)", "Adventure|Animation|Children|Comedy|Fantasy"),
            (3, "American President, The (1995)", "Comedy|Drama|Romance"),
            (7, '"Great Performances" Cats (1998)', "Musical"),
            (9, "Café (2001)", "(no genres listed)"),
        ],
        "movieId int, title string, genres string",
    )
    assert ratings.schema == expected_ratings.schema
    assert movies.schema == expected_movies.schema
    assertDataFrameEqual(ratings, expected_ratings)
    assertDataFrameEqual(movies, expected_movies)
    assert load_movielens(spark, str(movielens_dir) + "/")[0].count() == 3


@pytest.mark.parametrize(
    "ratings_text, message",
    [
        ("userId;movieId;rating;timestamp\n1;1;4.0;964982703\n",
         r"load_movielens: ratings.csv '.*ratings.csv' must start with the header line "
         r"'userId,movieId,rating,timestamp', found 'userId;movieId;rating;timestamp'"),
        (RATINGS_CSV + "1,5,3.0,964982703,extra\n",
         r"load_movielens: 1 of 4 lines of ratings.csv '.*' do not parse as the 4 fields "
         r"userId,movieId,rating,timestamp \(int,int,float,bigint\) separated by ',', "
         r"e.g. '1,5,3.0,964982703,extra'"),
        (RATINGS_CSV + "1,5,3.0\n", r"1 of 4 lines of ratings.csv .* e.g. '1,5,3.0'"),
        (RATINGS_CSV + "1,5,good,964982703\n", r"1 of 4 lines of ratings.csv .* e.g. '1,5,good,964982703'"),
        (RATINGS_CSV + "1,5,,964982703\n",
         r"load_movielens: field 'rating' is empty in 1 of 4 lines of ratings.csv '.*ratings.csv'"),
        ("userId,movieId,rating,timestamp\n", r"load_movielens: ratings.csv '.*' has no data lines"),
        ("", r"load_movielens: ratings.csv '.*' is empty"),
    ],
)
def test_load_movielens_bad_ratings(spark, movielens_dir, ratings_text, message):
    write(movielens_dir / "ratings.csv", ratings_text)
    with pytest.raises(ValueError, match=message):
        load_movielens(spark, movielens_dir)


def test_load_movielens_bad_movies_and_paths(spark, movielens_dir, tmp_path):
    write(movielens_dir / "movies.csv", "movieId,title,genres\n3,American President, The (1995),Comedy\n")
    with pytest.raises(ValueError, match=r"load_movielens: 1 of 1 lines of movies.csv .* e.g. '3,American President"):
        load_movielens(spark, movielens_dir)
    os.remove(movielens_dir / "movies.csv")
    with pytest.raises(FileNotFoundError, match=r"load_movielens: movies.csv '.*ml/movies.csv' does not exist"):
        load_movielens(spark, movielens_dir)
    with pytest.raises(FileNotFoundError, match=r"load_movielens: directory '.*nowhere' does not exist"):
        load_movielens(spark, tmp_path / "nowhere")


# ------------------------------------------------------------------------------------------
# MovieLens 100K
# ------------------------------------------------------------------------------------------

FLAGS = "|0|0|1" + "|0" * 16


@pytest.fixture
def ml100k_dir(tmp_path):
    d = tmp_path / "ml-100k"
    write(d / "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n")
    write(
        d / "u.item",
        "242|Kolya (1996)|24-Jan-1997||http://us.imdb.com/M/title-exact?Kolya%20(1996)" + FLAGS + "\n"
        "302|Café au lait (1994)|01-Jan-1994||http://us.imdb.com/x" + FLAGS + "\n"
        "377|Heavyweights (1994)|01-Jan-1994||" + FLAGS + "\n"
        "267|unknown||||0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n",
        encoding="latin-1",
    )
    return d


def test_load_movielens_100k(spark, ml100k_dir):
    assert "Café".encode("latin-1") in (ml100k_dir / "u.item").read_bytes()  # really Latin-1
    ratings, movies = load_movielens_100k(spark, ml100k_dir)
    expected_ratings = spark.createDataFrame(
        [(196, 242, 3.0, 881250949), (186, 302, 3.0, 891717742), (22, 377, 1.0, 878887116)],
        "userId int, movieId int, rating float, timestamp long",
    )
    expected_movies = spark.createDataFrame(
        [(242, "Kolya (1996)"), (302, "Café au lait (1994)"), (377, "Heavyweights (1994)"), (267, "unknown")],
        "movieId int, title string",
    )
    assert ratings.schema == expected_ratings.schema and movies.schema == expected_movies.schema
    assertDataFrameEqual(ratings, expected_ratings)
    assertDataFrameEqual(movies, expected_movies)


def test_load_movielens_100k_bad_files(spark, ml100k_dir, tmp_path):
    write(ml100k_dir / "u.data", "196,242,3,881250949\n")
    with pytest.raises(ValueError, match=r"load_movielens_100k: 1 of 1 lines of u.data '.*u.data' do not parse as the 4 "
                                         r"fields userId,movieId,rating,timestamp \(int,int,float,bigint\) "
                                         r"separated by '\\t', e.g. '196,242,3,881250949'"):
        load_movielens_100k(spark, ml100k_dir)
    write(ml100k_dir / "u.data", "196\t242\t3\t881250949\n")
    write(ml100k_dir / "u.item", "242|Kolya (1996)|24-Jan-1997||http://x|0|0\n")
    with pytest.raises(ValueError, match=r"load_movielens_100k: 1 of 1 lines of u.item .* do not parse as the 24 fields "
                                         r"movieId,title,releaseDate,.* separated by '\|'"):
        load_movielens_100k(spark, ml100k_dir)
    write(ml100k_dir / "u.item", "242||24-Jan-1997||http://x" + FLAGS + "\n")
    with pytest.raises(ValueError, match=r"load_movielens_100k: field 'title' is empty in 1 of 1 lines of u.item"):
        load_movielens_100k(spark, ml100k_dir)
    os.remove(ml100k_dir / "u.item")
    with pytest.raises(FileNotFoundError, match=r"load_movielens_100k: u.item '.*u.item' does not exist"):
        load_movielens_100k(spark, ml100k_dir)
    with pytest.raises(FileNotFoundError, match=r"load_movielens_100k: directory '.*missing' does not exist"):
        load_movielens_100k(spark, str(tmp_path / "missing"))


# ------------------------------------------------------------------------------------------
# Taste Profile
# ------------------------------------------------------------------------------------------

U1 = "b80344d063b5ccb3212f76538f3d9e43d87dca9e"
U2 = "85c1f87fea955d09b4bec2e36aee110927aedf9a"


def test_load_taste_profile(spark, tmp_path):
    path = write(tmp_path / "train_triplets.txt",
                 f"{U1}\tSOAKIMP12A8C130995\t1\n{U1}\tSOAPDEY12A81C210A9\t2\n{U2}\tSOAKIMP12A8C130995\t12\n")
    plays = load_taste_profile(spark, path)
    expected = spark.createDataFrame(
        [(U1, "SOAKIMP12A8C130995", 1), (U1, "SOAPDEY12A81C210A9", 2), (U2, "SOAKIMP12A8C130995", 12)],
        "user string, song string, plays int",
    )
    assert plays.schema == expected.schema
    assertDataFrameEqual(plays, expected)


@pytest.mark.parametrize(
    "text, message",
    [
        (f"{U1}\tSOAKIMP12A8C130995\tmany\n", r"load_taste_profile: 1 of 1 lines of triplets file '.*' do not parse as "
                                              r"the 3 fields user,song,plays \(string,string,int\)"),
        (f"{U1} SOAKIMP12A8C130995 1\n", r"1 of 1 lines of triplets file .* e.g. '" + U1 + " SOAKIMP12A8C130995 1'"),
        (f"{U1}\t\t3\n", r"load_taste_profile: field 'song' is empty in 1 of 1 lines of triplets file"),
    ],
)
def test_load_taste_profile_bad_files(spark, tmp_path, text, message):
    path = write(tmp_path / "t.txt", text)
    with pytest.raises(ValueError, match=message):
        load_taste_profile(spark, path)


def test_load_taste_profile_missing_path(spark, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load_taste_profile: triplets file '.*nope.txt' does not exist"):
        load_taste_profile(spark, str(tmp_path / "nope.txt"))


# ------------------------------------------------------------------------------------------
# load_interactions
# ------------------------------------------------------------------------------------------


def test_load_interactions_csv(spark, tmp_path):
    path = write(tmp_path / "plays.csv", 'who,what,stars,note\n007,"Up, the movie",4.5,x\nann,Jaws,1,\n')
    df = load_interactions(spark, path, user="who", item="what", rating="stars")
    expected = spark.createDataFrame([("007", "Up, the movie", 4.5), ("ann", "Jaws", 1.0)],
                                     "user string, item string, rating float")
    assert df.schema == expected.schema
    assertDataFrameEqual(df, expected)
    no_header = write(tmp_path / "plays.tsv", "1\ta\t3\n2\tb\t4\n")
    df = load_interactions(spark, no_header, user="_c0", item="_c1", rating=None, header=False, sep="\t")
    assertDataFrameEqual(df, spark.createDataFrame([("1", "a"), ("2", "b")], "user string, item string"))


def test_load_interactions_parquet_keeps_types(spark, tmp_path):
    source = spark.createDataFrame([(1, 10, 2.5, "x"), (2, 11, 3.0, "y")], "uid int, iid long, score double, other string")
    source.write.parquet(str(tmp_path / "data.parquet"))
    df = load_interactions(spark, tmp_path / "data.parquet", user="uid", item="iid", rating="score")
    expected = spark.createDataFrame([(1, 10, 2.5), (2, 11, 3.0)], "user int, item long, rating double")
    assert df.schema == expected.schema
    assertDataFrameEqual(df, expected)
    source.write.parquet(str(tmp_path / "no-ending"))
    assert load_interactions(spark, tmp_path / "no-ending", format="parquet", user="uid", item="iid",
                             rating=None).columns == ["user", "item"]


def test_load_interactions_errors(spark, tmp_path):
    csv = write(tmp_path / "r.csv", "user,item,rating\na,x,1\nb,y,2\n")
    with pytest.raises(ValueError, match=r"load_interactions: item 'song' not in \[user, item, rating\] "
                                         r"\('.*r.csv' read as CSV with sep=',', header=True\)"):
        load_interactions(spark, csv, item="song")
    semi = write(tmp_path / "semi.csv", "user;item;rating\na;x;1\n")
    with pytest.raises(ValueError, match=r"load_interactions: user 'user' not in \[user;item;rating\]"):
        load_interactions(spark, semi)
    fields = write(tmp_path / "fields.csv", "user,item,rating\na,x,1\nb,y,2,9\n")
    with pytest.raises(ValueError, match=r"load_interactions: 1 of 2 lines of '.*fields.csv' read as CSV .* do not have "
                                         r"the 3 fields user, item, rating, e.g. 'b,y,2,9'"):
        load_interactions(spark, fields)
    text = write(tmp_path / "text.csv", "user,item,rating\na,x,1\nb,y,five\n")
    with pytest.raises(ValueError, match=r"load_interactions: rating column 'rating' is not numeric in 1 of 2 rows "
                                         r"of '.*text.csv' .*, e.g. 'five'"):
        load_interactions(spark, text)
    empty_user = write(tmp_path / "nulls.csv", "user,item,rating\n,x,1\nb,y,2\n")
    with pytest.raises(ValueError, match=r"load_interactions: user column 'user' is empty \(null\) in 1 of 2 rows"):
        load_interactions(spark, empty_user)
    with pytest.raises(FileNotFoundError, match=r"load_interactions: path '.*gone.csv' does not exist"):
        load_interactions(spark, str(tmp_path / "gone.csv"))
    with pytest.raises(ValueError, match=r"load_interactions: format cannot be inferred from path '.*r.json'"):
        load_interactions(spark, str(tmp_path / "r.json"))
    with pytest.raises(ValueError, match=r"load_interactions: format must be one of \['csv', 'parquet'\], found 'json'"):
        load_interactions(spark, csv, format="json")
    with pytest.raises(ValueError, match=r"load_interactions: user, item and rating columns repeat \['a'\]"):
        load_interactions(spark, csv, user="a", item="a")
    pq = str(tmp_path / "p.parquet")
    spark.createDataFrame([("a", "x", True)], "u string, i string, liked boolean").write.parquet(pq)
    with pytest.raises(ValueError, match=r"load_interactions: user 'user' not in \[u, i, liked\]"):
        load_interactions(spark, pq)
    with pytest.raises(TypeError, match=r"load_interactions: rating 'liked' must be numeric or string, found boolean"):
        load_interactions(spark, pq, user="u", item="i", rating="liked")


# ------------------------------------------------------------------------------------------
# download_movielens
# ------------------------------------------------------------------------------------------


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "source" / "ml-tiny.zip"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("ml-tiny/ratings.csv", RATINGS_CSV)
        z.writestr("ml-tiny/movies.csv", MOVIES_CSV)
        z.writestr("ml-tiny/README.txt", "tiny test archive\n")
    return path


def test_download_extracts_records_and_reuses_cache(spark, tmp_path, archive):
    cache = tmp_path / "cache"
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    path = download_movielens("ml-tiny", cache_dir=cache, url=archive.as_uri())
    assert path == str(cache / "ml-tiny")
    assert sorted(os.listdir(path)) == [".spark-recs-sha256", "README.txt", "movies.csv", "ratings.csv"]
    assert (cache / "ml-tiny.zip").read_bytes() == archive.read_bytes()
    assert (cache / "ml-tiny.zip.sha256").read_text().split()[0] == digest
    ratings, movies = load_movielens(spark, path)
    assert ratings.count() == 3 and movies.count() == 4
    # second call: no download (the source is gone), the recorded checksum is verified
    archive.unlink()
    os.remove(os.path.join(path, "README.txt"))  # and no new extraction either
    assert download_movielens("ml-tiny", cache_dir=cache, url=archive.as_uri()) == path
    assert not os.path.exists(os.path.join(path, "README.txt"))
    assert download_movielens("ml-tiny", cache_dir=cache, url=archive.as_uri(), sha256=digest.upper()) == path
    # a damaged cache is caught by the recorded checksum
    with open(cache / "ml-tiny.zip", "ab") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match=r"download_movielens: SHA-256 of the cached '.*ml-tiny.zip' is [0-9a-f]{64}, "
                                         r"recorded in '.*ml-tiny.zip.sha256' " + digest + "; delete it"):
        download_movielens("ml-tiny", cache_dir=cache, url=archive.as_uri())


def test_download_checksum_mismatch(tmp_path, archive):
    cache = tmp_path / "cache"
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match=r"download_movielens: SHA-256 of file:.*ml-tiny.zip is " + digest +
                                         ", expected " + "0" * 64 + "; the download was deleted"):
        download_movielens("ml-tiny", cache_dir=cache, url=archive.as_uri(), sha256="0" * 64)
    assert os.listdir(cache) == []
    # the known GroupLens checksum applies to a name in the table, whatever the url
    with pytest.raises(ValueError, match=r"expected " + KNOWN_SHA256["ml-100k"]):
        download_movielens("ml-100k", cache_dir=cache, url=archive.as_uri())
    assert os.listdir(cache) == []
    path = download_movielens("ml-tiny", cache_dir=cache, url=archive.as_uri(), sha256=digest)
    assert os.path.isfile(os.path.join(path, "ratings.csv"))
    with pytest.raises(ValueError, match=r"download_movielens: SHA-256 of the cached .* expected " + "1" * 64):
        download_movielens("ml-tiny", cache_dir=cache, url=archive.as_uri(), sha256="1" * 64)


def test_download_bad_arguments_and_files(tmp_path):
    with pytest.raises(ValueError, match=r"download_movielens: name must be a plain archive name .*, found '../x'"):
        download_movielens("../x", cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"download_movielens: sha256 must be 64 hexadecimal digits, found 'abc'"):
        download_movielens("ml-tiny", cache_dir=tmp_path, sha256="abc")
    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"download_movielens: '.*ml-bad.zip' is not a zip archive"):
        download_movielens("ml-bad", cache_dir=tmp_path / "cache", url=not_zip.as_uri())
    with pytest.raises(OSError):
        download_movielens("ml-gone", cache_dir=tmp_path / "cache", url=(tmp_path / "gone.zip").as_uri())


def test_known_checksums_are_sha256():
    assert set(KNOWN_SHA256) == {"ml-latest-small", "ml-100k"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in KNOWN_SHA256.values())


# ------------------------------------------------------------------------------------------
# wide_to_long
# ------------------------------------------------------------------------------------------


@pytest.fixture
def wide(spark_session):
    return spark_session.createDataFrame(
        [("ann", 5.0, None, 3), ("bob", None, 4.0, 1), ("cy", None, None, None)],
        "user string, `Heat (1995)` double, Up double, Jaws int",
    )


def test_wide_to_long(spark, wide):
    long = wide_to_long(wide, userCol="user")
    expected = spark.createDataFrame(
        [("ann", "Heat (1995)", 5.0), ("ann", "Jaws", 3.0), ("bob", "Up", 4.0), ("bob", "Jaws", 1.0)],
        "user string, item string, rating double",
    )
    assert long.columns == ["user", "item", "rating"]
    assertDataFrameEqual(long, expected)
    kept = wide_to_long(wide, userCol="user", itemCols=["Up", "Jaws"], itemColName="movie",
                        ratingColName="stars", dropNulls=False)
    expected_kept = spark.createDataFrame(
        [("ann", "Up", None), ("ann", "Jaws", 3.0), ("bob", "Up", 4.0), ("bob", "Jaws", 1.0),
         ("cy", "Up", None), ("cy", "Jaws", None)],
        "user string, movie string, stars double",
    )
    assertDataFrameEqual(kept, expected_kept)


def test_wide_to_long_errors(spark, wide):
    with pytest.raises(ValueError, match=r"wide_to_long: userCol 'id' not in \[user, Heat \(1995\), Up, Jaws\]"):
        wide_to_long(wide, userCol="id")
    with pytest.raises(ValueError, match=r"wide_to_long: itemCols 'Alien' not in \[user, Heat \(1995\), Up, Jaws\]"):
        wide_to_long(wide, userCol="user", itemCols=["Up", "Alien"])
    with pytest.raises(ValueError, match=r"wide_to_long: itemCols holds userCol 'user'"):
        wide_to_long(wide, userCol="user", itemCols=["user", "Up"])
    with pytest.raises(ValueError, match=r"wide_to_long: itemCols is empty"):
        wide_to_long(wide, userCol="user", itemCols=[])
    with pytest.raises(ValueError, match=r"wide_to_long: itemCols repeat \['Up'\]"):
        wide_to_long(wide, userCol="user", itemCols=["Up", "Up"])
    with pytest.raises(ValueError, match=r"wide_to_long: userCol, itemColName and ratingColName must differ, "
                                         r"found 'user', 'User', 'rating'"):
        wide_to_long(wide, userCol="user", itemColName="User")
    named = wide.withColumn("note", F.lit("x"))
    with pytest.raises(TypeError, match=r"wide_to_long: itemCols 'note' must be numeric, found string"):
        wide_to_long(named, userCol="user")


# ------------------------------------------------------------------------------------------
# interaction_stats
# ------------------------------------------------------------------------------------------


def test_interaction_stats_expected(spark):
    df = spark.createDataFrame(
        [("ann", "a", 4), ("ann", "b", 2), ("ann", "c", 1), ("bob", "a", 5), ("cy", "a", 3), ("cy", "a", 3)],
        "user string, item string, rating int",
    )
    assert interaction_stats(df, ratingCol="rating") == {
        "rows": 6,
        "users": 3,
        "items": 3,
        "sparsity": pytest.approx(1 - 6 / 9),
        "rows_per_user": {"min": 1, "mean": 2.0, "max": 3},
        "rows_per_item": {"min": 1, "mean": 2.0, "max": 4},
        "rating": {"min": 1.0, "mean": pytest.approx(18 / 6), "max": 5.0},
        "interactions": 6,
        "interaction_sparsity": pytest.approx(1 - 6 / 9),
    }
    assert not {"rating", "interactions", "interaction_sparsity"} & set(interaction_stats(df))


def test_interaction_stats_against_python(spark):
    rng = random.Random(3)
    rows = [(rng.randrange(40), f"i{rng.randrange(25)}", rng.choice([None, 0.5, 1.0, 2.5, 5.0]))
            for _ in range(700)]
    df = spark.createDataFrame(rows, "u long, i string, r double").repartition(3)
    by_user, by_item = Counter(r[0] for r in rows), Counter(r[1] for r in rows)
    ratings = [r[2] for r in rows if r[2] is not None]
    played = sum(1 for r in ratings if r != 0)
    stats = interaction_stats(df, userCol="u", itemCol="i", ratingCol="r")
    assert stats == {
        "rows": 700,
        "users": len(by_user),
        "items": len(by_item),
        "sparsity": pytest.approx(1 - 700 / (len(by_user) * len(by_item))),
        "rows_per_user": {"min": min(by_user.values()), "mean": pytest.approx(700 / len(by_user)),
                          "max": max(by_user.values())},
        "rows_per_item": {"min": min(by_item.values()), "mean": pytest.approx(700 / len(by_item)),
                          "max": max(by_item.values())},
        "rating": {"min": min(ratings), "mean": pytest.approx(sum(ratings) / len(ratings)), "max": max(ratings)},
        "interactions": played,
        "interaction_sparsity": pytest.approx(1 - played / (len(by_user) * len(by_item))),
    }


def test_interaction_stats_errors(spark):
    df = spark.createDataFrame([("ann", "a", "4")], "user string, item string, rating string")
    with pytest.raises(ValueError, match=r"interaction_stats: itemCol 'song' not in \[user, item, rating\]"):
        interaction_stats(df, itemCol="song")
    with pytest.raises(TypeError, match=r"interaction_stats: ratingCol 'rating' must be numeric, found string"):
        interaction_stats(df, ratingCol="rating")
    with pytest.raises(ValueError, match=r"interaction_stats: userCol 'user', itemCol 'item': the input DataFrame is empty"):
        interaction_stats(df.limit(0))
    nulls = spark.createDataFrame([("ann", "a"), (None, "b"), ("bob", None)], "user string, item string")
    with pytest.raises(ValueError, match=r"interaction_stats: userCol 'user' is null in 1 of 3 rows"):
        interaction_stats(nulls)
