"""Shared by the chapter examples: the command line and the data they run on."""

import argparse
from typing import Tuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import is_remote

from spark_recs.datasets import load_movielens, load_taste_profile, synthetic_ratings


def parse(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", help="a real data set (see the script's docstring); default: the embedded synthetic data")
    parser.add_argument("--small", action="store_true", help="small synthetic data and grids (CI)")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args()


def als_blocks(args: argparse.Namespace) -> dict:
    """ALS's numUserBlocks and numItemBlocks. ALS cuts users and items into 10 blocks by
    default, sized for big data; small data (--small) runs much faster in a few."""
    blocks = 2 if args.small else 10
    return dict(numUserBlocks=blocks, numItemBlocks=blocks)


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
