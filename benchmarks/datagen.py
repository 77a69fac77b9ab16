"""Synthetic recommender data for the benchmarks, generated on the executors.

Every value is a SQL expression of the row id and a seed: pseudo-random numbers are
``xxhash64(seed, salt, ...)`` mapped to [0, 1), so the same seed gives the same data on any
master and any number of partitions, and no row is built on the driver.

Model (one row of the full users x items grid per ``spark.range`` id):

- latent factors: each user and each item gets ``RANK`` factors uniform in [-1, 1); the
  affinity is their scaled dot product (standard deviation about 1);
- Zipf-like popularity: item i (0-based) has weight (i + 1)^-ZIPF_S, normalized to mean 1;
- a pair is observed with probability min(1, density * weight * exp(affinity - 1/2)), so the
  density is close to (a bit below, where the probability is capped) the nominal one;
- implicit rating: play count 1 + floor(Exp(mean 2)) when observed, 0 otherwise;
- explicit rating: 1..5 stars, round(3 + affinity + noise), on the observed pairs;
- prediction: a noisy latent score (affinity + popularity + noise) rounded to 3 decimals, as a
  float, so that each user has tied predictions.
"""

import math
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

RANK = 4
ZIPF_S = 0.8
_AFFINITY_SCALE = 1.5  # sum of RANK products of two U[-1, 1): sd sqrt(RANK / 9); scaled to ~1
_MANTISSA = (1 << 53) - 1


@dataclass(frozen=True)
class Size:
    name: str
    users: int
    items: int
    density: float

    @property
    def grid(self) -> int:
        return self.users * self.items


SIZES = {
    "XS": Size("XS", 1_000, 1_000, 0.02),
    "S": Size("S", 2_000, 1_000, 0.02),
    "M": Size("M", 5_000, 2_000, 0.01),
    "L": Size("L", 10_000, 5_000, 0.01),
}

#: Tiny data for the untimed warm-up pass (class loading, code generation, JIT).
WARMUP = Size("warmup", 200, 200, 0.05)


def uniform(seed: int, salt: int, *cols: Column) -> Column:
    """A pseudo-random double in [0, 1) from (seed, salt, cols): 53 bits of xxhash64."""
    h = F.xxhash64(F.lit(seed), F.lit(salt), *cols)
    return h.bitwiseAND(F.lit(_MANTISSA)).cast("double") / F.lit(float(1 << 53))


def _zipf_mean(n: int, s: float) -> float:
    return math.fsum((i + 1) ** -s for i in range(n)) / n


def grid(spark: SparkSession, size: Size, seed: int, partitions: int) -> DataFrame:
    """The zero-filled prediction table: user int, item int, rating double, prediction float,
    plus ``stars`` (explicit rating, 0 where unobserved), one row per (user, item)."""
    n_items = size.items
    rid = F.col("id")
    user = (rid / F.lit(n_items)).cast("long").cast("int")
    item = (rid % F.lit(n_items)).cast("int")
    base = spark.range(0, size.grid, 1, partitions).select(user.alias("user"), item.alias("item"))
    u, i = F.col("user"), F.col("item")
    factors = [
        (uniform(seed, 10 + k, u) * 2 - 1) * (uniform(seed, 20 + k, i) * 2 - 1) for k in range(RANK)
    ]
    affinity = sum(factors[1:], factors[0]) * F.lit(_AFFINITY_SCALE)
    log_weight = F.lit(-ZIPF_S) * F.log(i.cast("double") + 1) - F.lit(math.log(_zipf_mean(n_items, ZIPF_S)))
    with_latent = base.select(u, i, affinity.alias("a"), log_weight.alias("lw"))
    a, lw = F.col("a"), F.col("lw")
    p_obs = F.least(F.lit(1.0), F.lit(size.density) * F.exp(lw + a - F.lit(0.5)))
    observed = uniform(seed, 1, u, i) < p_obs
    plays = F.lit(1.0) + F.floor(-F.log1p(-uniform(seed, 2, u, i)) * F.lit(2.0))
    noise = uniform(seed, 3, u, i) + uniform(seed, 4, u, i) + uniform(seed, 5, u, i) - F.lit(1.5)
    prediction = F.round(a + F.lit(0.6) * lw + noise, 3).cast("float")
    stars = F.least(F.lit(5.0), F.greatest(F.lit(1.0), F.round(F.lit(3.0) + a + noise)))
    return with_latent.select(
        u,
        i,
        F.when(observed, plays).otherwise(F.lit(0.0)).alias("rating"),
        prediction.alias("prediction"),
        F.when(observed, stars).otherwise(F.lit(0.0)).alias("stars"),
    )


def user_id(c: Column) -> Column:
    return F.format_string("user_%06d", c)


def item_id(c: Column) -> Column:
    return F.format_string("item_%05d", c)
