"""Plain references the tests (and benchmarks) compare our stages with.

- numpy references: each metric from its definition, one user at a time, no Spark;
- the naive Spark recipes people write today: the course's ROEM (PERCENT_RANK window) and
  Spark's own RankingEvaluator fed per-user arrays.
"""

import itertools
import math
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


def _metric_of_order(flags, metric, k):
    """One user's metric for relevance flags in rank order (Spark's RankingMetrics; MRR@k and
    hit rate@k as RePlay defines them)."""
    n_rel = sum(flags)
    top = flags[:k]
    if metric == "precisionAtK":
        return sum(top) / k
    if metric == "recallAtK":
        return sum(top) / n_rel
    if metric == "ndcgAtK":
        dcg = sum(f / np.log2(i + 2) for i, f in enumerate(top))
        return dcg / sum(1 / np.log2(i + 2) for i in range(min(n_rel, k)))
    if metric == "mrrAtK":
        return next((1 / (i + 1) for i, f in enumerate(top) if f), 0.0)
    if metric == "hitRateAtK":
        return float(any(top))
    ranked = top if metric == "meanAveragePrecisionAtK" else flags
    hits, total = 0, 0.0
    for i, f in enumerate(ranked):
        if f:
            hits += 1
            total += hits / (i + 1)
    return total / (min(n_rel, k) if metric == "meanAveragePrecisionAtK" else n_rel)


def _expected_with_ties(scores, relevant, metric, k):
    """One user's metric, its expected value over a uniformly random order of each tie, from
    explicit sums over the positions each relevant row can take (no closed forms): a relevant
    row with h rows above and t tied (m of them relevant, rg relevant above) is at position
    h + 1 + x, x uniform on 0..t-1, with x (m - 1) / (t - 1) relevant tied rows before it."""
    s = np.where(np.isnan(scores), -np.inf, scores)  # NaN rows rank last, tied
    rel = np.asarray(relevant, bool)
    n_rel = int(rel.sum())
    rows = []
    for j in np.flatnonzero(rel):
        h, t = int((s > s[j]).sum()), int((s == s[j]).sum())
        rows.append((h, t, int((s[rel] > s[j]).sum()), int((s[rel] == s[j]).sum())))
    limit = k if metric.endswith("AtK") else len(s)
    if metric in ("mrrAtK", "hitRateAtK"):
        h, t, _, m = min(rows)  # the best group holding a relevant row
        if metric == "hitRateAtK":
            slots = k - h
            return 0.0 if slots <= 0 else 1.0 if slots >= t else 1 - math.comb(t - m, slots) / math.comb(t, slots)
        return sum(math.comb(t - 1 - y, m - 1) / math.comb(t, m) / (h + 1 + y)
                   for y in range(t - m + 1) if h + 1 + y <= k)
    total = 0.0
    for h, t, rg, m in rows:
        for x in range(t):
            pos = h + 1 + x
            if pos > limit:
                continue
            if metric in ("precisionAtK", "recallAtK"):
                total += 1 / t
            elif metric == "ndcgAtK":
                total += 1 / t / np.log2(pos + 1)
            else:
                before = x * (m - 1) / (t - 1) if t > 1 else 0.0
                total += (1 + rg + before) / pos / t
    if metric == "precisionAtK":
        return total / k
    if metric == "recallAtK":
        return total / n_rel
    if metric == "ndcgAtK":
        return total / sum(1 / np.log2(i + 2) for i in range(min(n_rel, k)))
    return total / (min(n_rel, k) if metric == "meanAveragePrecisionAtK" else n_rel)


def _enumerated(scores, relevant, metric, k):
    """One user's metric averaged over every order of its ties (small ties only)."""
    s = np.where(np.isnan(scores), -np.inf, scores)
    groups = [list(np.flatnonzero(s == v)) for v in sorted(set(s), reverse=True)]
    values = [_metric_of_order([int(relevant[j]) for j in itertools.chain(*order)], metric, k)
              for order in itertools.product(*[list(itertools.permutations(g)) for g in groups])]
    return float(np.mean(values))


def ranking_metric(users, items, ratings, predictions, metric, k, threshold=0.0,
                   no_relevant="zero", nan_rule="drop", tie_rule="itemId", enumerate_ties=False):
    """Spark's RankingMetrics definitions, user by user; ties by item (tie_rule 'itemId') or
    the expected value over random orders of ties ('average': from the positions each row can
    take, or with ``enumerate_ties`` by averaging the metric over every order)."""
    p = np.asarray(predictions, dtype=float)
    scores = []
    for rows in _by_user(users).values():
        rows = [j for j in rows if nan_rule == "last" or not np.isnan(p[j])]
        if not rows:
            continue
        relevant = [ratings[j] > threshold for j in rows]
        if not any(relevant):
            if no_relevant == "zero":
                scores.append(0.0)
            continue
        if tie_rule == "itemId":
            flags = _ranked_relevance([items[j] for j in rows], [ratings[j] for j in rows], p[rows], threshold)
            scores.append(_metric_of_order(flags, metric, k))
        elif enumerate_ties:
            scores.append(_enumerated(p[rows], relevant, metric, k))
        else:
            scores.append(_expected_with_ties(p[rows], relevant, metric, k))
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


def unseen_item_ranks(user_factors, item_factors, seen, held, cold="nan"):
    """Where each held-out (user, item) pair ranks among all the user's unseen catalogue
    items, from the full users x items score matrix (float32 of the float64 dot products).

    ``user_factors`` and ``item_factors`` map ids to vectors (the catalogue is the items of
    ``item_factors``), ``seen`` maps a user to the items it had in training. Returns
    {(user, item): (score, rank, above, tied, candidates)}; rank breaks ties by item id.

    A NaN score (a NaN or infinite factor, a user without factors, or, with cold="nan", a
    held-out item without factors, which is then its user's candidate too) ranks after every
    other score and ties with the other NaN scores. cold="drop" leaves out the rows of users
    or items without factors, and rows whose score is NaN.
    """
    items = sorted(item_factors)
    rank_ = len(next(iter(item_factors.values())))
    V = np.array([item_factors[i] for i in items], dtype=np.float32).astype(np.float64)
    out = {}
    for u in sorted({u for u, _ in held}):
        mine = sorted({i for v, i in held if v == u})
        cold_items = [i for i in mine if i not in item_factors] if cold == "nan" else []
        known = u in user_factors
        vec = np.asarray(user_factors.get(u, np.full(rank_, np.nan)), dtype=np.float32).astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            scores = (V @ vec).astype(np.float32)
        score = {i: s for i, s in zip(items, scores) if i not in seen.get(u, set())}
        score.update({i: np.float32(np.nan) for i in cold_items})
        for i in mine:
            if i in item_factors:
                with np.errstate(invalid="ignore", over="ignore"):
                    s = np.float32(vec @ np.asarray(item_factors[i], dtype=np.float32).astype(np.float64))
            else:
                s = np.float32(np.nan)
            if cold == "drop" and (not known or i not in item_factors or s != s):
                continue
            others = [(c, x) for c, x in score.items() if c != i]
            if s == s:
                above = sum(x == x and x > s for _, x in others)
                tied = 1 + sum(x == s for _, x in others)
                before = sum(x == s and c < i for c, x in others)
            else:
                above = sum(x == x for _, x in others)
                tied = 1 + sum(x != x for _, x in others)
                before = sum(x != x and c < i for c, x in others)
            out[(u, i)] = (float(s), above + before + 1, above, tied, len(score))
    return out


def unseen_top_n(user_factors, item_factors, seen, users, n):
    """Each user's top ``n`` unseen catalogue items from the full score matrix: [(item, score)]
    by score descending, ties by item ascending; NaN scores (and users without factors) give
    none."""
    items = sorted(item_factors)
    rank_ = len(next(iter(item_factors.values())))
    V = np.array([item_factors[i] for i in items], dtype=np.float32).astype(np.float64)
    out = {}
    for u in users:
        vec = np.asarray(user_factors.get(u, np.full(rank_, np.nan)), dtype=np.float32).astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            scores = (V @ vec).astype(np.float32)
        cand = [(-float(s), i) for i, s in zip(items, scores) if i not in seen.get(u, set()) and s == s]
        out[u] = [(i, -s) for s, i in sorted(cand)[:n]]
    return out


def bias_baseline(users, items, ratings, reg_u=15.0, reg_i=10.0, n_epochs=10):
    """mu, {user: b_u}, {item: b_i}: Surprise's ``BaselineOnly`` with ``method='als'``
    (``surprise/prediction_algorithms/optimize_baselines.py``, ``baseline_als``), one rating at a
    time: from b_u = 0, each epoch sets every b_i, then every b_u."""
    r = np.asarray(ratings, dtype=float)
    mu = float(r.mean())
    by_item, by_user = _by_user(items), _by_user(users)
    bu = {u: 0.0 for u in by_user}
    bi = {i: 0.0 for i in by_item}
    for _ in range(n_epochs):
        for i, rows in by_item.items():
            bi[i] = sum(r[j] - mu - bu[users[j]] for j in rows) / (reg_i + len(rows))
        for u, rows in by_user.items():
            bu[u] = sum(r[j] - mu - bi[items[j]] for j in rows) / (reg_u + len(rows))
    return mu, bu, bi

def log_weight(counts, epsilon=1.0):
    """Hu, Koren & Volinsky 2008 (section 4, eq. 6) less its ``1 + alpha *``: log(1 + r / epsilon)."""
    return np.log1p(np.asarray(counts, dtype=float) / epsilon)


def bm25_weight(users, items, counts, k1=100.0, b=0.8):
    """implicit's ``bm25_weight`` (benfred/implicit, implicit/nearest_neighbours.py) on rows
    (user, item, count), users as documents and items as terms, one user and item at a time:
    idf_i = log(N) - log1p(n_i), norm_u = (1 - b) + b R_u / mean(R), w = r (k1 + 1) / (k1 norm_u
    + r) idf_i, with N the distinct users, n_i the rows of item i with r > 0, R_u user u's sum.
    A count of 0 gives 0 (no stored entry in implicit's sparse matrix)."""
    r = np.asarray(counts, dtype=float)
    user_ids = sorted(set(users))
    n_users = len(user_ids)
    row_sum = {u: r[[i for i, x in enumerate(users) if x == u]].sum() for u in user_ids}
    mean_sum = sum(row_sum.values()) / n_users
    holders = {i: sum(1 for x, c in zip(items, r) if x == i and c > 0) for i in set(items)}
    out = []
    for u, i, c in zip(users, items, r):
        if c == 0:
            out.append(0.0)
            continue
        idf = math.log(n_users) - math.log1p(holders[i])
        norm = (1.0 - b) + b * row_sum[u] / mean_sum
        out.append(c * (k1 + 1.0) / (k1 * norm + c) * idf)
    return np.asarray(out)


def similar_top_n(factors, n, metric="cosine", candidates=None):
    """Each vector's ``n`` most similar other vectors among ``candidates`` (default: all), from
    the full matrix: ``{id: [(other, similarity)]}``, similarity descending, ties by id
    ascending. 'cosine' takes the unit vectors (float64, then float32 as factors are stored;
    a zero or non-finite vector has none, so no neighbours and is no one's), 'dot' the vectors
    themselves; each similarity is float32 of the float64 sum."""
    ids = sorted(factors)
    m = np.array([factors[i] for i in ids], dtype=np.float32).astype(np.float64)
    if metric == "cosine":
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            norms = np.sqrt((m * m).sum(axis=1, keepdims=True))
            ok = (norms > 0) & np.isfinite(norms)
            m = np.where(ok, m / np.where(ok, norms, 1.0), np.nan).astype(np.float32).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        sims = (m @ m.T).astype(np.float32)
    allowed = set(ids) if candidates is None else set(candidates)
    out = {}
    for a, i in enumerate(ids):
        cand = [(-float(sims[a, b]), j) for b, j in enumerate(ids) if j != i and j in allowed and sims[a, b] == sims[a, b]]
        out[i] = [(j, -s) for s, j in sorted(cand)[:n]]
    return out
