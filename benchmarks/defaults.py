"""How tune's defaults were chosen (README, "One set of defaults"): holdout P@10 of implicit ALS
per (weighting, alpha) on one per-user 75/25 split, against most-popular.

    python benchmarks/defaults.py lastfm-like            # writes the data first, then measures
    python benchmarks/defaults.py ml-100k --input ml-100k  # a MovieLens 100K directory

``lastfm-like`` writes a tab-separated play-count file shaped like HetRec Last.fm 2K's
``user_artists.dat`` (userID, artistID, weight; 1,892 users, 17,632 items, 92,834 pairs) to
``--data`` (default /tmp/lastfm-like): the synthetic taste-driven count of each pair times a
per-user and a per-pair log-normal factor (sd 0.8 each, median 100): median 247, mean
1,024, max 3.6 million. ``spark-recs tune --input DIR --sep '\\t' --user-col userID
--item-col artistID --rating-col weight --feedback implicit`` reads it.
"""

import argparse
import itertools
import json
import math
import os
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_recs import ConfidenceWeighter, UnseenItemRanker
from spark_recs.datasets import synthetic_ratings
from spark_recs.workflow import (
    INDEXED_COLUMNS,
    evaluate_holdout,
    load_data,
    most_popular,
    positives,
    split_holdout_and_folds,
)


def _normal(tag, *cols):
    """A standard normal per row from two hash uniforms (Box-Muller)."""
    def uniform(t):
        bits = F.shiftrightunsigned(F.xxhash64(F.lit(t), *cols), 11).cast("double")
        return (bits + 0.5) / F.lit(float(2**53))

    u1, u2 = uniform(tag), uniform(tag + "b")
    return F.sqrt(-2 * F.log(u1)) * F.cos(2 * math.pi * u2)


def write_lastfm_like(spark, path):
    pairs, _ = synthetic_ratings(spark, numUsers=1892, numItems=17632, numRatings=92834, kind="implicit",
                                 rank=8, zipf=1.0, tasteThreshold=1.0, seed=7)
    scale = F.exp(F.lit(4.6) + F.lit(0.8) * _normal("act", F.col("user"))
                  + F.lit(0.8) * _normal("pair", F.col("user"), F.col("item")))
    counts = pairs.select(
        F.regexp_replace("user", "user_", "").cast("int").alias("userID"),
        F.regexp_replace("item", "item_", "").cast("int").alias("artistID"),
        F.greatest(F.lit(1), F.round(F.col("rating") * scale).cast("int")).alias("weight"),
    )
    counts.coalesce(1).write.mode("overwrite").option("sep", "\t").option("header", True).csv(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", choices=["lastfm-like", "ml-100k"])
    parser.add_argument("--input", help="ml-100k: the MovieLens 100K directory")
    parser.add_argument("--data-dir", default="/tmp/lastfm-like", help="lastfm-like: where the file goes")
    parser.add_argument("--methods", default="none,log")
    parser.add_argument("--alphas", default="0.5,1,2,5,10")
    parser.add_argument("--ranks", default="16")
    parser.add_argument("--reg-params", default="0.1")
    args = parser.parse_args()
    spark = (SparkSession.builder.master("local[2]").config("spark.sql.shuffle.partitions", "4")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    if args.data == "lastfm-like":
        if not os.path.isdir(args.data_dir):
            write_lastfm_like(spark, args.data_dir)
        loaded = load_data(spark, args.data_dir, loader="csv", sep="\t", userCol="userID", itemCol="artistID",
                           ratingCol="weight")
    else:
        loaded = load_data(spark, args.input, loader="movielens-100k")
    data = positives(loaded.as_user_item_rating(), "implicit")
    split = split_holdout_and_folds(data, holdout=0.25, folds=2, seed=42)
    train, test = split.train.drop("fold"), split.test
    popular = evaluate_holdout(most_popular(train), test)["precisionAtK@10"]
    print(json.dumps({"model": "most-popular", "p10": popular}), flush=True)
    grid = itertools.product(args.methods.split(","), map(float, args.alphas.split(",")),
                             map(int, args.ranks.split(",")), map(float, args.reg_params.split(",")))
    for method, alpha, rank, reg in grid:
        start = time.time()
        weighted = ConfidenceWeighter(method=method, outputCol="w", **INDEXED_COLUMNS).transform(train)
        ranker = UnseenItemRanker(**INDEXED_COLUMNS, ratingCol="w", implicitPrefs=True, rank=rank,
                                  regParam=reg, alpha=alpha, maxIter=10, seed=42, numUserBlocks=2,
                                  numItemBlocks=2)
        p10 = evaluate_holdout(ranker.fit(weighted), test)["precisionAtK@10"]
        print(json.dumps({"method": method, "alpha": alpha, "rank": rank, "regParam": reg,
                          "p10": round(p10, 4), "seconds": round(time.time() - start, 1)}), flush=True)


if __name__ == "__main__":
    main()
