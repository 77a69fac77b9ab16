"""Chapter 4: Million Songs implicit play counts — zeros, ROEM, precision@k, tuning, binary data.

Statistics of the play counts, the zeros every unplayed (user, song) pair needs, ROEM and
precision@k as the metrics, cross-validated implicit ALS (fits skip the zeros, validation keeps
them), the best params, then the same with binary played / not played ratings and
recommendations from the binary model. That is the course's protocol: each held-out song is
ranked among the zero-filled rows only. Last, the field's protocol on the same plays: no zeros,
each held-out song ranked among every song its user did not play (``UnseenItemRanker``), tuned
by cross-validation and compared with most-popular. Runs on the embedded synthetic plays, or on Echo Nest
Taste Profile triplets with ``--data train_triplets.txt`` (use a sample: the full file has
48 million rows).

    spark-submit examples/ch4_million_songs_implicit.py [--data triplets.txt]
"""

from pyspark.ml import PipelineModel
from pyspark.sql import functions as F
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

from _common import implicit_data, parse, session, show_recommendations, size_to_data
from spark_recs import (
    BinaryRater,
    IdIndexer,
    ImplicitALS,
    PerUserFolds,
    PopularityRecommender,
    PrecisionAtKEvaluator,
    ROEMEvaluator,
    UnseenItemRanker,
    UnseenItemRankerModel,
    ZeroFiller,
    recommend_for_users,
    train_test_split_per_user,
)
from spark_recs.datasets import interaction_stats


def tune(data, args, label, blocks):
    """Per-user folds on zero-filled data, CrossValidator over ImplicitALS with ROEM."""
    train, test = train_test_split_per_user(data, testFraction=0.2, seed=args.seed)
    # Integer ids once, before the folds (the vocabulary holds no play counts, so nothing leaks
    # into validation); CrossValidator then fits only ImplicitALS per grid point and fold.
    indexer = IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"], handleInvalid="keep").fit(data)
    n_folds = 2 if args.small else 3
    folds = PerUserFolds(numFolds=n_folds, seed=args.seed).transform(indexer.transform(train)).cache()
    als = ImplicitALS(userCol="user_idx", itemCol="item_idx", ratingCol="rating", coldStartStrategy="drop",
                      maxIter=3 if args.small else 10, seed=args.seed, **blocks)
    grid = (ParamGridBuilder().addGrid(als.rank, [4] if args.small else [4, 10]).addGrid(als.regParam, [0.1])
            .addGrid(als.alpha, [20.0] if args.small else [1.0, 20.0]).build())  # --small: one point
    cv = CrossValidator(estimator=als, estimatorParamMaps=grid, evaluator=ROEMEvaluator(), numFolds=n_folds,
                        foldCol="fold", parallelism=2)
    model = cv.fit(folds)
    folds.unpersist()
    best_i = min(range(len(grid)), key=lambda i: model.avgMetrics[i])  # ROEM: lower is better
    print(f"[{label}] best params: {({p.name: v for p, v in grid[best_i].items()})}, ROEM {model.avgMetrics[best_i]:.4f}")
    best = PipelineModel(stages=[indexer, model.bestModel])  # original ids in, original ids out
    predicted = best.transform(test)
    roem, precision = ROEMEvaluator().evaluate(predicted), PrecisionAtKEvaluator(k=10).evaluate(predicted)
    print(f"[{label}] held-out ROEM {roem:.4f} (random: 0.5), precision@10 {precision:.4f}")
    return best, roem


def rank_all_unseen(plays, args, blocks):
    """The field's protocol: per-user holdout of the plays (no zeros), CrossValidator over
    UnseenItemRanker on per-user folds, P@10 with each held-out song ranked among all the songs
    its user did not play in training; most-popular as the baseline."""
    indexer = IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"]).fit(plays)
    cols = dict(userCol="user_idx", itemCol="item_idx")
    train, test = train_test_split_per_user(indexer.transform(plays), testFraction=0.25, seed=args.seed, **cols)
    n_folds = 2 if args.small else 3
    folds = PerUserFolds(numFolds=n_folds, seed=args.seed, **cols).transform(train).cache()
    ranker = UnseenItemRanker(**cols, coldStartStrategy="drop", maxIter=3 if args.small else 10, seed=args.seed,
                              **blocks)
    grid = ParamGridBuilder().addGrid(ranker.rank, [4] if args.small else [4, 10]).addGrid(
        ranker.alpha, [20.0] if args.small else [1.0, 20.0]).build()
    precision = PrecisionAtKEvaluator(k=10, rankCol="rank")  # reads the rank: one pass over held-out rows
    cv = CrossValidator(estimator=ranker, estimatorParamMaps=grid, evaluator=precision, numFolds=n_folds,
                        foldCol="fold", parallelism=2).fit(folds)
    best_i = max(range(len(grid)), key=lambda i: cv.avgMetrics[i])
    print(f"[rank all unseen items] best params: {({p.name: v for p, v in grid[best_i].items()})}, "
          f"cross-validated P@10 {cv.avgMetrics[best_i]:.4f}")
    train = folds.drop("fold")
    popular = UnseenItemRankerModel.fromFitted(PopularityRecommender(**cols).fit(train), train)
    ours, baseline = (precision.evaluate(m.transform(test)) for m in (cv.bestModel, popular))
    print(f"[rank all unseen items] held-out P@10: implicit ALS {ours:.4f}, most-popular {baseline:.4f}")
    folds.unpersist()
    return ours, baseline


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    spark = session("ch4 Million Songs implicit")
    plays, songs = implicit_data(spark, args)
    plays = plays.cache()
    blocks = size_to_data(spark, plays)
    stats = interaction_stats(plays, ratingCol="rating")
    print(f"{stats['rows']} (user, song) play counts, {stats['users']} users, {stats['items']} songs, "
          f"sparsity {stats['sparsity']:.4f}; plays per row {stats['rating']}")

    filled = ZeroFiller(handleDuplicates="sum").transform(plays).cache()
    print(f"with zeros: {filled.count()} rows, {filled.where('rating = 0').count()} of them zeros")
    model, roem = tune(filled, args, "play counts", blocks)

    binary = BinaryRater(threshold=0.0, outputCol="rating").transform(filled)
    print("binary ratings:", {r["rating"]: r["count"] for r in binary.groupBy("rating").count().collect()})
    binary_model, binary_roem = tune(binary, args, "binary", blocks)

    named = [r["user"] for r in plays.select("user").distinct().orderBy("user").limit(3).collect()]
    titles = songs.select("item", "title") if songs is not None else None
    recs = recommend_for_users(binary_model, named, n=5, rated=plays, titles=titles)
    show_recommendations(recs)
    assert recs.count() == 15 and roem < 0.5 and binary_roem < 0.5

    ours, baseline = rank_all_unseen(plays.where(F.col("rating") > 0), args, blocks)
    assert 0 <= baseline <= 1 and 0 <= ours <= 1


if __name__ == "__main__":
    main()
