"""Shared by the chapter examples: the command line and the data they run on."""

import argparse
from typing import Tuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import is_remote

from spark_recs.datasets import load_movielens, load_taste_profile, synthetic_ratings
from spark_recs.workflow import tie_notes, work_sizes


def parse(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", help="a real data set (see the script's docstring); default: the embedded synthetic data")
    parser.add_argument("--small", action="store_true", help="small synthetic data and grids (CI)")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args()


def size_to_data(spark: SparkSession, df: DataFrame) -> dict:
    """Spark's shuffle partitions and ALS's blocks sized to the data (one per 250,000 rows,
    ``spark_recs.workflow.work_sizes``): Spark's defaults, 200 partitions and 10 blocks, suit
    tens of millions of rows, and on 2,000 real triplets they made chapter 4 take 270 s.
    A ``spark.sql.shuffle.partitions`` given at submit time (not Spark's 200) is kept. Counts
    the rows (one job); returns ALS's ``numUserBlocks`` and ``numItemBlocks``."""
    sizes = work_sizes(df.count())
    if spark.conf.get("spark.sql.shuffle.partitions") == "200":  # Spark's default: not chosen
        spark.conf.set("spark.sql.shuffle.partitions", str(sizes.shuffle_partitions))
    return dict(numUserBlocks=sizes.als_blocks, numItemBlocks=sizes.als_blocks)


def show_recommendations(recs: DataFrame) -> None:
    """Show top-N rows, and say for which users they tie (a model with no signal for them)."""
    recs.show(truncate=False)
    for note in tie_notes(recs, recs.columns[0]):
        print(note)


def session(name: str) -> SparkSession:
    """The session spark-submit or a notebook made, or a local one; a Spark Connect one too
    (e.g. with SPARK_REMOTE=sc://host:15002), whose server keeps its own log level."""
    spark = SparkSession.builder.appName(name).getOrCreate()
    if not is_remote():  # a Connect client has no SparkContext
        spark.sparkContext.setLogLevel("ERROR")
    return spark


def explicit_data(spark: SparkSession, args: argparse.Namespace) -> Tuple[DataFrame, DataFrame]:
    """(ratings: user, item, rating; items: item, title, genres), from MovieLens when --data is given."""
    if args.data:
        ratings, movies = load_movielens(spark, args.data)
        return (ratings.select(F.col("userId").alias("user"), F.col("movieId").alias("item"), "rating"),
                movies.select(F.col("movieId").alias("item"), "title", "genres"))
    size = dict(numUsers=120, numItems=400, numRatings=5000) if args.small else {}
    ratings, items = synthetic_ratings(spark, kind="explicit", seed=args.seed, **size)
    return ratings, items.withColumnRenamed("genre", "genres")


def implicit_data(spark: SparkSession, args: argparse.Namespace) -> Tuple[DataFrame, DataFrame]:
    """(plays: user, item, rating as play counts; items or None), from Taste Profile triplets
    when --data is given."""
    if args.data:
        plays = load_taste_profile(spark, args.data)
        return plays.select("user", F.col("song").alias("item"), F.col("plays").alias("rating")), None
    size = dict(numUsers=80, numItems=200, numRatings=2000) if args.small else dict(numUsers=300, numItems=1000, numRatings=15000)
    return synthetic_ratings(spark, kind="implicit", seed=args.seed, **size)
