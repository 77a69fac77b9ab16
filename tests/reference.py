"""Plain references the tests (and benchmarks) compare our stages with.

- numpy references: each metric from its definition, one user at a time, no Spark;
- the naive Spark recipes people write today: the course's ROEM (PERCENT_RANK window) and
  Spark's own RankingEvaluator fed per-user arrays.
"""

from collections import defaultdict

import numpy as np
from pyspark.ml.evaluation import RankingEvaluator
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def _by_user(users):
    groups = defaultdict(list)
    for i, u in enumerate(users):
        groups[u].append(i)
    return groups


def roem(users, ratings, predictions, tie_rule="min", nan_rule="drop"):
    """ROEM (Hu, Koren & Volinsky 2008) with PERCENT_RANK positions, from its definition."""
    r = np.asarray(ratings, dtype=float)
    p = np.asarray(predictions, dtype=float)
    keep = ~np.isnan(p) if nan_rule == "drop" else np.ones(len(p), bool)
    users = [u for u, k in zip(users, keep) if k]
    r, p = r[keep], p[keep]
    numerator = 0.0
    for rows in _by_user(users).values():
        pu, ru, n = p[rows], r[rows], len(rows)
        if n == 1:
            continue
        nan = np.isnan(pu)
        for pred, rating in zip(pu, ru):
            if np.isnan(pred):
                greater, ties = (~nan).sum(), nan.sum()
            else:
                greater, ties = (pu[~nan] > pred).sum(), (pu[~nan] == pred).sum()
            position = greater if tie_rule == "min" else greater + (ties - 1) / 2
            numerator += rating * position / (n - 1)
    return numerator / r.sum()


def _ranked_relevance(items, ratings, predictions, threshold):
    """Relevance flags of one user's rows, ranked by prediction desc (NaN last), item asc."""
    key = [(np.inf if np.isnan(p) else -p, i) for p, i in zip(predictions, items)]
    order = sorted(range(len(items)), key=lambda j: key[j])
    return [1 if ratings[j] > threshold else 0 for j in order]


def ranking_metric(users, items, ratings, predictions, metric, k, threshold=0.0,
                   no_relevant="zero", nan_rule="drop"):
    """Spark's RankingMetrics definitions, user by user."""
    p = np.asarray(predictions, dtype=float)
    scores = []
    for rows in _by_user(users).values():
        rows = [j for j in rows if nan_rule == "last" or not np.isnan(p[j])]
        if not rows:
            continue
        flags = _ranked_relevance([items[j] for j in rows], [ratings[j] for j in rows], p[rows], threshold)
        n_rel = sum(flags)
        if n_rel == 0:
            if no_relevant == "zero":
                scores.append(0.0)
            continue
        top = flags[:k]
        if metric == "precisionAtK":
            scores.append(sum(top) / k)
        elif metric == "recallAtK":
            scores.append(sum(top) / n_rel)
        elif metric == "ndcgAtK":
            dcg = sum(f / np.log2(i + 2) for i, f in enumerate(top))
            idcg = sum(1 / np.log2(i + 2) for i in range(min(n_rel, k)))
            scores.append(dcg / idcg)
        else:
            ranked = top if metric == "meanAveragePrecisionAtK" else flags
            hits, total = 0, 0.0
            for i, f in enumerate(ranked):
                if f:
                    hits += 1
                    total += hits / (i + 1)
            scores.append(total / (min(n_rel, k) if metric == "meanAveragePrecisionAtK" else n_rel))
    return float(np.mean(scores))


def course_roem(df: DataFrame, user="user", rating="rating", prediction="prediction") -> float:
    """The course's ROEM: a sum job, PERCENT_RANK over each user's predictions, a second sum."""
    denominator = df.groupBy().sum(rating).collect()[0][0]
    window = Window.partitionBy(user).orderBy(F.col(prediction).desc())
    ranked = df.withColumn("rank_ui", F.percent_rank().over(window))
    numerator = ranked.groupBy().agg(F.sum(F.col(rating) * F.col("rank_ui"))).collect()[0][0]
    return numerator / denominator


def spark_ranking_arrays(df: DataFrame, k, full=False, threshold=0.0, user="user", item="item",
                         rating="rating", prediction="prediction") -> DataFrame:
    """Per user: the top-k predicted items (ties by item) and the relevant items, as doubles."""
    ranked = F.sort_array(F.collect_list(F.struct((-F.col(prediction)).alias("np"), F.col(item).alias("i"))))
    items = F.transform(ranked, lambda x: x["i"].cast("double"))
    return df.groupBy(user).agg(
        (items if full else F.slice(items, 1, k)).alias("predicted"),
        F.collect_list(F.when(F.col(rating) > threshold, F.col(item).cast("double"))).alias("relevant"),
    )


def spark_ranking_metric(df: DataFrame, metric, k, threshold=0.0, **cols) -> float:
    """Spark's RankingEvaluator on arrays built from the raw rows: the naive recipe."""
    arrays = spark_ranking_arrays(df, k, full=metric == "meanAveragePrecision", threshold=threshold, **cols)
    evaluator = RankingEvaluator(predictionCol="predicted", labelCol="relevant", metricName=metric, k=k)
    return evaluator.evaluate(arrays)
