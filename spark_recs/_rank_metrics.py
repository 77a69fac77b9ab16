"""Top-k ranking metrics as SQL expressions over where each user's relevant rows rank.

Each relevant row of a user is a struct of four counts (``stats``):

- ``h``: the user's rows ranked strictly above it (a strictly greater score);
- ``t``: the user's rows tied with it (the same score), itself included;
- ``rg``: relevant rows strictly above it;
- ``m``: relevant rows tied with it, itself included.

Each metric is its expected value when the rows of every tie group are put in a uniformly random
order (McSherry & Najork 2008, "Computing Information Retrieval Performance Measures
Efficiently in the Presence of Tied Scores", ECIR): a model that ties every row scores exactly
what a random ranking scores on average. A row's position is then ``h + 1 + X`` with ``X``
uniform on ``0 .. t - 1``. A fixed order (ties broken by item id) is the case ``t = m = 1``,
``h`` = the row's position - 1 and ``rg`` = the relevant rows before it, for which every
expression below reduces to Spark's ``RankingMetrics`` definition. Derivations:
``docs/design.md`` ("Ties").
"""

import math
from typing import Callable, List, Optional

from pyspark.sql import Column
from pyspark.sql import functions as F

__all__ = [
    "stats",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "average_precision",
    "reciprocal_rank_at_k",
    "hit_at_k",
]

#: Harmonic numbers H(0..SMALL) exactly; above, the asymptotic expansion (error < 1e-13).
_SMALL = 64
_EULER_GAMMA = 0.57721566490153286061


def stats(h: Column, t: Column, rg: Column, m: Column) -> Column:
    """The struct the metrics read, as doubles (counts can exceed Int range in products)."""
    return F.struct(
        h.cast("double").alias("h"), t.cast("double").alias("t"),
        rg.cast("double").alias("rg"), m.cast("double").alias("m"),
    )


def _sum(rel: Column, term: Callable[[Column], Column]) -> Column:
    return F.aggregate(rel, F.lit(0.0), lambda acc, x: acc + term(x))


def _at(values: List[float], index: Column) -> Column:
    """``values[index]`` for a Column index in 0..len(values) - 1 (a literal array)."""
    return F.element_at(F.array(*[F.lit(float(v)) for v in values]), index.cast("int") + 1)


def _expected_hit(x: Column, k: int) -> Column:
    """P(the row is among the top k) = clamp((k - h) / t, 0, 1)."""
    return F.greatest(F.least((F.lit(float(k)) - x["h"]) / x["t"], F.lit(1.0)), F.lit(0.0))


def precision_at_k(rel: Column, k: int) -> Column:
    """Expected relevant rows among the top k, over k."""
    return _sum(rel, lambda x: _expected_hit(x, k)) / float(k)


def recall_at_k(rel: Column, n_rel: Column, k: int) -> Column:
    """Expected relevant rows among the top k, over the user's relevant rows."""
    return _sum(rel, lambda x: _expected_hit(x, k)) / n_rel.cast("double")


def _discounts(k: int) -> List[float]:
    """D(n) = sum_{p=1..n} 1 / log2(p + 1), n = 0 .. k."""
    out = [0.0]
    for p in range(1, k + 1):
        out.append(out[-1] + 1.0 / math.log2(p + 1))
    return out


def ndcg_at_k(rel: Column, n_rel: Column, k: int) -> Column:
    """Expected DCG@k over the ideal DCG@k. A row spread evenly over positions h+1 .. h+t adds
    (D(min(h+t, k)) - D(min(h, k))) / t."""
    d = _discounts(k)
    kk = F.lit(float(k))

    def gain(x: Column) -> Column:
        return (_at(d, F.least(x["h"] + x["t"], kk)) - _at(d, F.least(x["h"], kk))) / x["t"]

    return _sum(rel, gain) / _at(d, F.least(n_rel.cast("double"), kk))


def _harmonic_small() -> List[float]:
    out = [0.0]
    for n in range(1, _SMALL + 1):
        out.append(out[-1] + 1.0 / n)
    return out


def _tail(n: Column) -> Column:
    """H(n) - ln(n) - gamma for n > 64, from the asymptotic series to n^-6."""
    return 1.0 / (2 * n) - 1.0 / (12 * n**2) + 1.0 / (120 * n**4) - 1.0 / (252 * n**6)


def harmonic_difference(lo: Column, hi: Column) -> Column:
    """H(hi) - H(lo) = sum_{p=lo+1..hi} 1/p for whole numbers 0 <= lo <= hi (doubles).

    Exact table up to 64; above, the asymptotic series, with ln(hi / lo) as log1p so that
    close large bounds lose no digits."""
    small = _harmonic_small()

    def h(n: Column) -> Column:
        safe = F.greatest(n, F.lit(float(_SMALL + 1)))
        return F.when(n <= _SMALL, _at(small, F.least(n, F.lit(float(_SMALL))))).otherwise(
            F.log(safe) + _EULER_GAMMA + _tail(safe)
        )

    safe_lo = F.greatest(lo, F.lit(float(_SMALL + 1)))
    both_large = F.log1p((hi - lo) / safe_lo) + _tail(F.greatest(hi, safe_lo)) - _tail(safe_lo)
    return F.when(hi <= lo, F.lit(0.0)).when(lo > _SMALL, both_large).otherwise(h(hi) - h(lo))


def average_precision(rel: Column, n_rel: Column, k: Optional[int] = None) -> Column:
    """Expected average precision (over min(|R|, k) with k, over |R| without).

    A relevant row at position p adds (relevant rows at positions <= p) / p. Given its offset
    x in its tie group, the other m - 1 relevant rows of the group stand before it x (m-1)/(t-1)
    times on average, so it adds, summed over p = h+1 .. L (L = h + t, or min(h + t, k)),
    ``b + (a - b (h + 1)) / p`` over t, with a = 1 + rg and b = (m - 1) / (t - 1)."""

    def term(x: Column) -> Column:
        h, t = x["h"], x["t"]
        last = h + t if k is None else F.least(h + t, F.lit(float(k)))
        a = 1.0 + x["rg"]
        b = F.when(t > 1, (x["m"] - 1.0) / F.greatest(t - 1.0, F.lit(1.0))).otherwise(F.lit(0.0))
        total = b * (last - h) + (a - b * (h + 1.0)) * harmonic_difference(h, last)
        return F.when(last > h, total / t).otherwise(F.lit(0.0))

    n = n_rel.cast("double")
    return _sum(rel, term) / (n if k is None else F.least(n, F.lit(float(k))))


def _first_group(rel: Column) -> Column:
    """The tie group of the best-ranked relevant rows: (h, t, m) of any of them."""
    return F.array_min(
        F.transform(rel, lambda x: F.struct(x["h"].alias("h"), x["t"].alias("t"), x["m"].alias("m")))
    )


def reciprocal_rank_at_k(rel: Column, k: int) -> Column:
    """Expected 1 / (position of the first relevant row) when it is within the top k, else 0.

    The first relevant row is the first of the best group's m relevant rows, at offset Y, the
    smallest of m distinct random offsets among t: P(Y = 0) = m / t and
    P(Y = y + 1) = P(Y = y) (t - m - y) / (t - 1 - y); summed over the at most k offsets that
    stay within the top k."""
    g = _first_group(rel)
    h, t, m = g["h"], g["t"], g["m"]
    slots = F.lit(float(k)) - h
    last = F.least(t - m, slots - 1.0).cast("int")
    start = F.struct((m / t).alias("p"), F.lit(0.0).alias("s"))

    def step(acc: Column, y: Column) -> Column:
        rest = t - 1.0 - y
        nxt = F.when(rest > 0, acc["p"] * (t - m - y) / F.greatest(rest, F.lit(1.0))).otherwise(F.lit(0.0))
        return F.struct(nxt.alias("p"), (acc["s"] + acc["p"] / (h + 1.0 + y)).alias("s"))

    value = F.aggregate(F.sequence(F.lit(0), last), start, step)["s"]
    return F.when((F.size(rel) > 0) & (slots > 0), value).otherwise(F.lit(0.0))


def hit_at_k(rel: Column, k: int) -> Column:
    """Probability that a relevant row is within the top k: 1 minus the chance that the s
    slots of the best group left within the top k (s = k - h) hold none of its m relevant
    rows, C(t - m, s) / C(t, s) = prod_{j<m} (t - s - j) / (t - j)."""
    g = _first_group(rel)
    h, t, m = g["h"], g["t"], g["m"]
    slots = F.lit(float(k)) - h
    miss = F.aggregate(
        F.sequence(F.lit(0), (m - 1.0).cast("int")), F.lit(1.0),
        lambda acc, j: acc * F.greatest((t - slots - j) / (t - j), F.lit(0.0)),
    )
    value = F.when(slots <= 0, F.lit(0.0)).when(slots >= t, F.lit(1.0)).otherwise(1.0 - miss)
    return F.when(F.size(rel) > 0, value).otherwise(F.lit(0.0))
