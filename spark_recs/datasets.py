"""Data for recommenders: a synthetic generator, loaders for the usual public data sets, helpers.

- :func:`synthetic_ratings`: a synthetic data set (explicit stars or implicit play counts) with
  planted low-rank taste structure and Zipf-like item popularity, generated on the executors.
- :func:`load_movielens`, :func:`load_movielens_100k`, :func:`load_taste_profile`,
  :func:`load_interactions`: read files the user has into DataFrames with documented columns,
  checking that the files are what the loader expects. They never touch the network.
- :func:`download_movielens`: fetch a MovieLens archive from GroupLens into a local cache,
  checksum verified.
- :func:`wide_to_long`, :func:`interaction_stats`: re-exported from
  :mod:`spark_recs.interactions`.

Everything but :func:`download_movielens` uses the DataFrame API only: no RDD, no Python UDF,
and nothing per user or per id is collected to the driver.
"""

import hashlib
import math
import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    FloatType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from spark_recs._compat import array_position
from spark_recs._validation import (
    column,
    is_atomic_id,
    is_numeric,
    require_choice,
    require_column,
    require_distinct,
    require_type,
    spark_error_is,
)
from spark_recs.interactions import interaction_stats, wide_to_long

__all__ = [
    "download_movielens",
    "interaction_stats",
    "load_interactions",
    "load_movielens",
    "load_movielens_100k",
    "load_taste_profile",
    "synthetic_ratings",
    "wide_to_long",
]

PathLike = Union[str, "os.PathLike[str]"]

# --------------------------------------------------------------------------------------------
# synthetic_ratings
# --------------------------------------------------------------------------------------------

#: Share of draws that go to the heavy users (see the Notes of :func:`synthetic_ratings`).
_HEAVY_SHARE = 0.25
#: Fraction of users that are heavy users.
_HEAVY_FRACTION = 0.1
#: Explicit ratings: 3 + _STAR_SCALE * z + _STAR_NOISE * noise, rounded and clipped to 1..5.
_STAR_SCALE = 1.5
_STAR_NOISE = 0.5
#: Implicit play counts: 1 + geometric with mean _PLAY_SCALE * exp(z).
_PLAY_SCALE = 2.0
#: At most this many draws per requested row (guards against unreachable numRatings).
_MAX_DRAWS_PER_ROW = 64
#: A drawn (user, item) pair is kept with probability sigmoid(_CHOICE_TASTE * z): users pick
#: what they like. Over random pairs z is symmetric about 0, so about half the draws are kept.
_CHOICE_TASTE = 3.0
#: Extra draws on top of the estimate of how many give numRatings distinct kept pairs.
_DRAW_MARGIN = 1.05
#: Fixed-point scale of the sums of z in the cut job.
_FIXED_POINT = 2**20
#: The exact cut to numRatings rows: at most this many buckets of 64 draws in one job ...
_MASK_BUCKETS = 65536
#: ... else this many coarse buckets and a second job.
_CUT_BUCKETS = 1024

_ADJECTIVES = (
    "Silent", "Crimson", "Golden", "Hidden", "Broken", "Electric", "Frozen", "Midnight",
    "Lonely", "Wild", "Secret", "Burning", "Distant", "Iron", "Velvet", "Forgotten",
    "Restless", "Silver", "Endless", "Quiet", "Savage", "Gentle", "Hollow", "Bright",
    "Dark", "Lost", "Final", "Little", "Hungry", "Paper", "Glass", "Painted",
    "Sleeping", "Falling", "Rising", "Last", "Northern", "Bitter", "Lucky", "Strange",
)
_NOUNS = (
    "River", "Empire", "Garden", "Harbor", "Kingdom", "Mirror", "Forest", "Station",
    "Letter", "Horizon", "Island", "Machine", "Promise", "Shadow", "Summer", "Winter",
    "Highway", "Orchard", "Lighthouse", "Circus", "Detective", "Dragon", "Voyage", "Ghost",
    "Stranger", "Saint", "Country", "Planet", "Heart", "City", "Desert", "Mountain",
    "Ocean", "Bridge", "Castle", "Carnival", "Engine", "Hotel", "Canyon", "Crown",
    "Thief", "Witness", "Dancer", "Soldier", "Painter", "Prophet", "Runner", "Sister",
    "Brother", "Stars",
)
_FIRST_YEAR = 1950
_YEARS = 70  # 1950 .. 2019
_TITLE_CYCLE = len(_ADJECTIVES) * len(_NOUNS) * _YEARS  # distinct (adjective, noun, year)
_GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Documentary", "Animation")

_TWO_POW_53 = float(2**53)
_MAX_ID = 2**31 - 1


def _derived_int(seed: int, tag: str) -> int:
    """A 64-bit integer derived from (seed, tag) on the driver, stable across Python versions."""
    digest = hashlib.sha256(f"spark_recs.datasets:{seed}:{tag}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _affine_permutation(seed: int, tag: str, n: int) -> Tuple[int, int]:
    """(a, b) with gcd(a, n) = 1, so x -> (a * x + b) mod n permutes 0 .. n - 1."""
    if n <= 1:
        return 1, 0
    a = 1 + _derived_int(seed, tag + ":a") % (n - 1)
    while math.gcd(a, n) != 1:
        a = a % (n - 1) + 1
    return a, _derived_int(seed, tag + ":b") % n


def _permute(x: Column, ab: Tuple[int, int], n: int) -> Column:
    a, b = ab
    return F.pmod(x * F.lit(a) + F.lit(b), F.lit(n))


def _uniform(seed: int, tag: str, *cols: Column) -> Column:
    """Hash-based pseudo-random number in [0, 1): the top 53 bits of xxhash64(seed, tag, cols)."""
    h = F.xxhash64(F.lit(seed).cast("long"), F.lit(tag), *cols)
    return F.shiftrightunsigned(h, 11).cast("double") / F.lit(_TWO_POW_53)


def _normal_pair(seed: int, tag: str, *cols: Column) -> Tuple[Column, Column]:
    """Two independent standard normal draws by Box-Muller from two hash-based uniforms."""
    radius = F.sqrt(F.lit(-2.0) * F.log(F.lit(1.0) - _uniform(seed, tag + ":r", *cols)))
    angle = F.lit(2.0 * math.pi) * _uniform(seed, tag + ":a", *cols)
    return radius * F.cos(angle), radius * F.sin(angle)


def _normal(seed: int, tag: str, *cols: Column) -> Column:
    """One standard normal draw."""
    return _normal_pair(seed, tag, *cols)[0]


def _factors(seed: int, side: str, idx: Column, rank: int) -> List[Column]:
    """A user's or an item's standard-normal factor coordinates (before the 1 / sqrt(rank))."""
    coords: List[Column] = []
    for k in range(0, rank, 2):
        coords.extend(_normal_pair(seed, f"{side}-factor:{k // 2}", idx))
    return coords[:rank]


def _taste(seed: int, user: Column, item: Column, rank: int) -> Column:
    """z = sqrt(rank) x_u . y_i = sum_k a_uk b_ik / sqrt(rank): mean 0, variance 1 over pairs."""
    products = [a * b for a, b in zip(_factors(seed, "user", user, rank), _factors(seed, "item", item, rank))]
    return sum(products[1:], products[0]) / F.lit(math.sqrt(rank))


def _zipf_cdf(x: np.ndarray, n: int, s: float) -> np.ndarray:
    """CDF of the continuous power law with density ~ x**-s on [1, n + 1]."""
    if abs(s - 1.0) < 1e-9:
        return np.log(x) / math.log(n + 1.0)
    return (np.power(x, 1.0 - s) - 1.0) / ((n + 1.0) ** (1.0 - s) - 1.0)


def _popularity_rank(u: Column, n: int, s: float) -> Column:
    """Inverse CDF of :func:`_zipf_cdf` at u, floored: a popularity rank 0 .. n - 1."""
    if abs(s - 1.0) < 1e-9:
        x = F.exp(u * F.lit(math.log(n + 1.0)))
    else:
        e = 1.0 - s
        x = F.pow(F.lit(1.0) + u * F.lit((n + 1.0) ** e - 1.0), F.lit(1.0 / e))
    return F.least(F.greatest(F.floor(x) - 1, F.lit(0)), F.lit(n - 1)).cast("long")


def _user_classes(num_users: int) -> List[Tuple[int, float]]:
    """(number of users, probability that one draw picks a given one of them) per user class."""
    heavy = max(1, math.ceil(num_users * _HEAVY_FRACTION))
    light_p = (1.0 - _HEAVY_SHARE) / num_users
    classes = [(heavy, light_p + _HEAVY_SHARE / heavy)]
    if num_users > heavy:
        classes.append((num_users - heavy, light_p))
    return classes


def _item_probabilities(num_items: int, zipf: float) -> Tuple[np.ndarray, np.ndarray]:
    """(q, count): popularity-rank probabilities, grouped into at most ~2000 bins of
    consecutive ranks for large catalogues (q is then the bin's mean, count its size)."""
    if num_items <= 4096:
        edges = np.arange(0, num_items + 1)
    else:
        edges = np.unique(np.round(np.geomspace(1, num_items + 1, 2048)).astype(np.int64) - 1)
        edges = np.unique(np.concatenate([[0], edges, [num_items]]))
    cdf = _zipf_cdf(edges.astype(float) + 1.0, num_items, zipf)
    count = np.diff(edges).astype(float)
    return np.clip(np.diff(cdf), 0.0, 1.0) / count, count


#: Gauss-Hermite nodes and weights (normalised) for averages over z ~ N(0, 1).
_Z_NODES, _Z_WEIGHTS = np.polynomial.hermite_e.hermegauss(24)
_Z_WEIGHTS = _Z_WEIGHTS / _Z_WEIGHTS.sum()
_KEEP = 1.0 / (1.0 + np.exp(-_CHOICE_TASTE * _Z_NODES))


def _expected_distinct(draws: int, classes: List[Tuple[int, float]], q: np.ndarray, count: np.ndarray) -> float:
    """Expected number of distinct kept (user, item) pairs among ``draws`` draws, taking z of
    each pair as N(0, 1) (an approximation: it only sets how many draws are tried first)."""
    total = 0.0
    for users, p in classes:
        rate = np.log1p(-np.outer(_KEEP, p * q))  # (nodes, bins)
        seen = -np.expm1(draws * rate)
        total += users * float(_Z_WEIGHTS @ seen @ count)
    return total


def _draws_for(num_ratings: int, num_users: int, num_items: int, zipf: float, cap: int) -> int:
    """Smallest number of draws whose expected number of distinct kept pairs reaches
    num_ratings; raises ValueError if cap draws are expected to fall short."""
    q, count = _item_probabilities(num_items, zipf)
    classes = _user_classes(num_users)
    reach = _expected_distinct(cap, classes, q, count)
    if reach < num_ratings:
        raise ValueError(
            f"synthetic_ratings: numRatings={num_ratings} distinct (user, item) pairs are out "
            f"of reach with numUsers={num_users}, numItems={num_items}, zipf={zipf} "
            f"({cap} draws give about {int(reach)}); lower numRatings or zipf"
        )
    lo, hi = num_ratings, num_ratings
    while _expected_distinct(hi, classes, q, count) < num_ratings:
        lo, hi = hi, min(2 * hi, cap)
    while lo < hi:
        mid = (lo + hi) // 2
        if _expected_distinct(mid, classes, q, count) < num_ratings:
            lo = mid + 1
        else:
            hi = mid
    return hi


def _check_int(name: str, value: Any, low: int, high: int = _MAX_ID) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"synthetic_ratings: {name} must be an int, found {value!r}")
    if not low <= value <= high:
        raise ValueError(f"synthetic_ratings: {name} must be in [{low}, {high}], found {value}")
    return int(value)


def synthetic_ratings(
    spark: SparkSession,
    *,
    numUsers: int = 600,
    numItems: int = 9000,
    numRatings: int = 100_000,
    rank: int = 8,
    kind: str = "explicit",
    zipf: float = 1.0,
    seed: int = 0,
    numPartitions: Optional[int] = None,
) -> Tuple[DataFrame, DataFrame]:
    """A synthetic ratings data set with planted low-rank taste and Zipf-like item popularity.

    Sized like MovieLens ``ml-latest-small`` by default. The data are made up by the model in
    the Notes: they stand in for real data in examples and tests, and are not real data.
    Everything is computed on the executors from ``spark.range`` with SQL expressions: the
    rows depend only on the arguments, never on the partitioning, and the generator scales
    with the cluster. One Spark job runs at call time to cut the rows to exactly
    ``numRatings`` (see Notes); the DataFrames returned are computed again when used, so
    cache them if you use them more than once.

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
    numUsers : int, default 600
        Number of users (ids ``user_000`` .. ``user_599``: zero-padded to the width of
        ``numUsers - 1``).
    numItems : int, default 9000
        Number of items in the catalogue (ids ``item_0000`` .. ``item_8999``).
    numRatings : int, default 100000
        Number of rows: distinct (user, item) pairs.
    rank : int, default 8
        Dimension of the planted user and item factors.
    kind : {'explicit', 'implicit'}, default 'explicit'
        ``'explicit'``: 1-5 star ratings (float). ``'implicit'``: play counts (int >= 1).
    zipf : float, default 1.0
        Item popularity exponent s >= 0: the item of popularity rank r is drawn with weight
        about 1 / r**s. 0 gives uniform popularity.
    seed : int, default 0
    numPartitions : int, optional
        Partitions of the ``spark.range`` the rows are drawn from (default: Spark's default
        parallelism). Changes the layout only, never the rows.

    Returns
    -------
    (ratings, items) : tuple of :py:class:`pyspark.sql.DataFrame`
        ``ratings``: ``user`` string, ``item`` string, ``rating`` float (explicit) or int
        (implicit); exactly ``numRatings`` rows, one per distinct (user, item) pair, in no
        particular order. ``items``: ``item`` string, ``title`` string, ``genre`` string; one
        row per item of the catalogue, rated or not.

    Raises
    ------
    TypeError, ValueError
        For arguments out of range, or a ``numRatings`` that the model cannot reach within
        ``64 * numRatings`` draws (e.g. a tiny catalogue with a steep ``zipf``).

    Notes
    -----
    Pseudo-random numbers. Every random number is a pure function of (seed, purpose, ids):
    the top 53 bits of ``xxhash64`` of them, divided by 2**53, give a uniform U in [0, 1);
    normals come in pairs ``sqrt(-2 ln(1 - U1)) (cos, sin)(2 pi U2)`` (Box-Muller).

    Taste. User u has factors ``x_u = a_u / sqrt(rank)`` and item i has ``y_i = b_i /
    sqrt(rank)`` with ``a_u, b_i ~ N(0, I)`` in ``rank`` dimensions, so ``x_u . y_i`` has mean 0
    and variance 1 / rank over random pairs; its z-score there is ``z = sqrt(rank) x_u . y_i``.

    Draws. Draw j = 0, 1, 2, ... makes a (user, item) pair:

    - user: with probability 0.75 one of all users uniformly, otherwise one of the
      ``ceil(numUsers / 10)`` heavy users uniformly (so a heavy user has about 4 times the
      rows of another). Which users are heavy is a seeded permutation of the ids.
    - item, by popularity: a popularity rank ``r = floor(X) - 1`` where X has density
      proportional to ``x**-zipf`` on ``[1, numItems + 1)``, drawn by inverse CDF from a
      uniform (``X = (numItems + 1)**U`` at zipf = 1), so rank r has probability
      ``integral from r + 1 to r + 2 of x**-zipf dx`` (normalised), about proportional to
      ``1 / (r + 1)**zipf``. The item of rank r is a seeded permutation
      ``(a r + b) mod numItems``, so popularity does not follow the id order.
    - kept or not, by taste: the draw is kept with probability ``1 / (1 + exp(-3 z))``, so
      users mostly rate and play what they like (about half the draws are kept). Which items a
      user has rated thus carries taste too, as in real data, not only the rating values.

    Rows. A pair kept more than once counts once, at its first kept draw. Draws are made
    until the number of distinct pairs reaches ``numRatings`` and the pairs first kept after
    that are left out, so there are exactly ``numRatings`` rows. The call runs one Spark job
    for this: a histogram of the first-draw indices in buckets of 64, with a bit mask per
    bucket that locates the exact cut (two jobs past 4 million draws; only the histogram,
    never anything per user or per id, reaches the driver). The number of draws tried first
    is computed on the driver (numpy) from the expected number of distinct kept pairs, taking
    z as N(0, 1) per pair; it grows by a quarter until it suffices.

    Values. With ``zs = (z - mean) / sd``, z standardised over the rows (mean and sd come
    from the histogram job above, summed in fixed point so they do not depend on the
    partitioning; they may include up to 63 pairs past the cut):

    - explicit: ``rating = clip(round(3 + 1.5 zs + 0.5 e), 1, 5)`` with ``e ~ N(0, 1)`` drawn
      per pair, rounded half up; float.
    - implicit: ``rating = 1 + G`` play counts, G geometric on 0, 1, 2, ... with mean
      ``m = 2 exp(zs)``, drawn as ``floor(-ln(1 - U) / ln(1 + 1 / m))``; int.

    The same seed gives the same pairs for both kinds.

    Items. Titles are ``"<Adjective> <Noun> (<year>)"`` from 40 adjectives, 50 nouns and the
    years 1950-2019, dealt to the items by a seeded permutation of the 140,000 combinations
    (four rounds of a Feistel-like shuffle of the item number's mixed-radix digits; items
    past 140,000 get a sequel number, "Silent River 2 (1987)"), so titles are unique.
    The genre is one of Action, Comedy, Drama, Horror, Romance, Sci-Fi, Documentary, Animation:
    the k-th of them when coordinate k is the largest of the item's first ``min(rank, 8)``
    factor coordinates. Genre is thus a content feature that carries part of the taste.

    Examples
    --------
    >>> from spark_recs import synthetic_ratings
    >>> ratings, items = synthetic_ratings(spark, numUsers=50, numItems=200, numRatings=1000, seed=3)
    >>> ratings.schema.simpleString()
    'struct<user:string,item:string,rating:float>'
    >>> items.schema.simpleString()
    'struct<item:string,title:string,genre:string>'
    >>> from pyspark.sql import functions as F
    >>> ratings.count(), items.count()
    (1000, 200)
    >>> sorted(r.rating for r in ratings.select("rating").distinct().collect())
    [1.0, 2.0, 3.0, 4.0, 5.0]
    >>> ratings.join(items, "item").select("user", "title", "genre", "rating") \\
    ...     .orderBy("user", "item").show(3)
    +-------+--------------------+-------+------+
    |   user|               title|  genre|rating|
    +-------+--------------------+-------+------+
    |user_00|Lonely Winter (1986)| Action|   1.0|
    |user_00|Northern River (1...|  Drama|   3.0|
    |user_00|Rising Runner (1955)|Romance|   4.0|
    +-------+--------------------+-------+------+
    only showing top 3 rows

    Implicit play counts, for the same (user, item) pairs:

    >>> plays, _ = synthetic_ratings(spark, numUsers=50, numItems=200, numRatings=1000,
    ...                              kind="implicit", seed=3)
    >>> plays.schema.simpleString()
    'struct<user:string,item:string,rating:int>'
    >>> plays.agg(F.min("rating")).first()[0]
    1
    """
    num_users = _check_int("numUsers", numUsers, 1)
    num_items = _check_int("numItems", numItems, 1)
    num_ratings = _check_int("numRatings", numRatings, 1, 2**40)
    rank_ = _check_int("rank", rank, 1, 1000)
    seed_ = _check_int("seed", seed, -(2**63), 2**63 - 1)
    require_choice("synthetic_ratings", "kind", kind, ["explicit", "implicit"])
    if isinstance(zipf, bool) or not isinstance(zipf, (int, float)) or not (0 <= zipf < math.inf):
        raise ValueError(f"synthetic_ratings: zipf must be a finite number >= 0, found {zipf!r}")
    zipf = float(zipf)
    if numPartitions is not None:
        _check_int("numPartitions", numPartitions, 1)
    if num_ratings > num_users * num_items:
        raise ValueError(
            f"synthetic_ratings: numRatings must be <= numUsers * numItems = "
            f"{num_users * num_items}, found {num_ratings}"
        )

    first = _first_draws(spark, seed_, num_users, num_items, zipf, rank_, numPartitions)
    cap = _MAX_DRAWS_PER_ROW * num_ratings
    draws = min(cap, math.ceil(_DRAW_MARGIN * _draws_for(num_ratings, num_users, num_items, zipf, cap)) + 10)
    while True:
        cut = _cut(first(draws), num_ratings, draws)
        if cut is not None:
            break
        if draws >= cap:
            raise ValueError(
                f"synthetic_ratings: numRatings={num_ratings} distinct (user, item) pairs are out "
                f"of reach with numUsers={num_users}, numItems={num_items}, zipf={zipf} "
                f"({cap} draws give fewer); lower numRatings or zipf"
            )
        draws = min(cap, math.ceil(1.25 * draws))
    last, mean, sd = cut
    pairs = first(draws).where(F.col("d") <= F.lit(last))

    u, i = F.col("u"), F.col("i")
    z = (F.col("z") - F.lit(mean)) / F.lit(sd)
    if kind == "explicit":
        stars = F.round(F.lit(3.0) + F.lit(_STAR_SCALE) * z + F.lit(_STAR_NOISE) * _normal(seed_, "noise", u, i))
        rating = F.least(F.greatest(stars, F.lit(1.0)), F.lit(5.0)).cast("float")
    else:
        expected = F.lit(_PLAY_SCALE) * F.exp(z)
        extra = F.floor(-F.log(F.lit(1.0) - _uniform(seed_, "plays", u, i)) / F.log1p(F.lit(1.0) / expected))
        rating = (F.lit(1) + extra).cast("int")

    ratings = pairs.select(
        _id_string("user", u, num_users).alias("user"),
        _id_string("item", i, num_items).alias("item"),
        rating.alias("rating"),
    )
    items = _synthetic_items(spark, num_items, rank_, seed_, numPartitions)
    return ratings, items


def _first_draws(
    spark: SparkSession, seed: int, num_users: int, num_items: int, zipf: float, rank: int,
    num_partitions: Optional[int],
) -> Any:
    """A function of D: the distinct (u, i) pairs kept among draws 0 .. D-1, each with ``d``,
    the index of its first kept draw, and its taste ``z``. Draw j does not depend on D: more
    draws only add pairs."""
    heavy = max(1, math.ceil(num_users * _HEAVY_FRACTION))
    user_perm = _affine_permutation(seed, "users", num_users)
    item_perm = _affine_permutation(seed, "items", num_items)
    j = F.col("id")
    pick = _uniform(seed, "user", j)
    slot = F.when(_uniform(seed, "heavy", j) < F.lit(_HEAVY_SHARE), F.floor(pick * F.lit(heavy))).otherwise(
        F.floor(pick * F.lit(num_users))
    )
    user = _permute(slot.cast("long"), user_perm, num_users)
    item = _permute(_popularity_rank(_uniform(seed, "item", j), num_items, zipf), item_perm, num_items)
    # keep the draw with probability sigmoid(_CHOICE_TASTE * z): 1 / (1 + exp(-_CHOICE_TASTE * z))
    keep = _uniform(seed, "keep", F.col("j")) * (F.lit(1.0) + F.exp(F.lit(-_CHOICE_TASTE) * F.col("z")))

    def pairs(draws: int) -> DataFrame:
        shown = spark.range(0, draws, 1, num_partitions).select(j.alias("j"), user.alias("u"), item.alias("i"))
        shown = shown.select("j", "u", "i", _taste(seed, F.col("u"), F.col("i"), rank).alias("z"))
        # z is a function of (u, i): min picks the one value
        return shown.where(keep < F.lit(1.0)).groupBy("u", "i").agg(F.min("j").alias("d"), F.min("z").alias("z"))

    return pairs


def _cut(pairs: DataFrame, num_ratings: int, draws: int) -> Optional[Tuple[int, float, float]]:
    """(t, mean, sd): the draw index t such that exactly num_ratings pairs have d <= t, and the
    mean and sd of z over those pairs; None if there are fewer pairs.

    One job: a histogram of d in buckets of 64 consecutive draw indices, each with its count,
    a 64-bit mask of the indices present, and sums of z and z**2 in fixed point (so that they
    do not depend on the order of summation). The driver finds the bucket where the count
    reaches num_ratings and the exact index in its mask. Past _MASK_BUCKETS buckets (very
    large draws) the histogram has _CUT_BUCKETS coarse buckets instead, and a second job sorts
    the d of the one bucket needed on an executor. The moments cover whole buckets, so they
    may count a few pairs past the cut.
    """
    fine = draws <= 64 * _MASK_BUCKETS
    width = 64 if fine else max(1, -(-draws // _CUT_BUCKETS))
    bucket = F.floor(F.col("d") / F.lit(width))
    fixed = float(_FIXED_POINT)
    aggs = [
        F.count(F.lit(1)).alias("n"),
        F.sum(F.round(F.col("z") * F.lit(fixed)).cast("long")).alias("s1"),
        F.sum(F.round(F.col("z") * F.col("z") * F.lit(fixed)).cast("long")).alias("s2"),
        (F.expr("bit_or(shiftleft(1L, CAST(pmod(d, 64) AS INT)))") if fine else F.lit(0)).alias("mask"),
    ]
    rows = sorted(tuple(r) for r in pairs.groupBy(bucket.alias("b")).agg(*aggs).collect())
    before = s1 = s2 = 0
    for b, n, b1, b2, mask in rows:
        s1, s2 = s1 + b1, s2 + b2
        if before + n >= num_ratings:
            k = num_ratings - before
            if fine:
                # a mask with bit 63 set is a negative long: Python's >> keeps two's complement
                present = [bit for bit in range(64) if (mask >> bit) & 1]
                t = b * 64 + present[k - 1]
            else:
                inside = pairs.where(bucket == F.lit(b)).agg(F.sort_array(F.collect_list("d")).alias("ds"))
                t = int(inside.select(F.element_at("ds", k)).first()[0])
            count = before + n
            mean = s1 / fixed / count
            sd = math.sqrt(max(s2 / fixed / count - mean * mean, 1e-12))
            return t, mean, sd
        before += n
    return None


def _id_string(prefix: str, idx: Column, n: int) -> Column:
    width = len(str(max(n - 1, 0)))
    return F.format_string(f"{prefix}_%0{width}d", idx)


def _synthetic_items(
    spark: SparkSession, num_items: int, rank: int, seed: int, num_partitions: Optional[int]
) -> DataFrame:
    i = F.col("id")
    n_adj, n_noun = len(_ADJECTIVES), len(_NOUNS)
    # The digits of i mod _TITLE_CYCLE in the mixed radix (adjective, noun, year), shuffled by
    # four rounds that each add a keyed hash of the other two digits to one digit: each round
    # can be undone, so distinct items get distinct (adjective, noun, year).
    rest = F.pmod(i, F.lit(_TITLE_CYCLE))
    digits = [F.pmod(rest, F.lit(n_adj)), F.pmod(F.floor(rest / F.lit(n_adj)), F.lit(n_noun)),
              F.floor(rest / F.lit(n_adj * n_noun))]
    radix = [n_adj, n_noun, _YEARS]
    for round_, k in enumerate((0, 1, 2, 0)):
        others = [digits[m] for m in range(3) if m != k]
        key = F.pmod(F.xxhash64(F.lit(seed).cast("long"), F.lit(f"title:{round_}"), *others), F.lit(radix[k]))
        digits[k] = F.pmod(digits[k] + key, F.lit(radix[k]))
    adjective = F.element_at(F.array(*[F.lit(w) for w in _ADJECTIVES]), (digits[0] + 1).cast("int"))
    noun = F.element_at(F.array(*[F.lit(w) for w in _NOUNS]), (digits[1] + 1).cast("int"))
    year = digits[2] + F.lit(_FIRST_YEAR)
    cycle = F.floor(i / F.lit(_TITLE_CYCLE))
    sequel = F.when(cycle > 0, F.concat(F.lit(" "), (cycle + 1).cast("string"))).otherwise(F.lit(""))
    title = F.format_string("%s %s%s (%d)", adjective, noun, sequel, year.cast("int"))
    dims = min(rank, len(_GENRES))
    coords = F.array(*_factors(seed, "item", i, rank)[:dims])
    genre = F.element_at(
        F.array(*[F.lit(g) for g in _GENRES[:dims]]), array_position(coords, F.array_max(coords)).cast("int")
    )
    return spark.range(0, num_items, 1, num_partitions).select(
        _id_string("item", i, num_items).alias("item"), title.alias("title"), genre.alias("genre")
    )


# --------------------------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------------------------

_CORRUPT = "__spark_recs_corrupt_record"


def _path_text(path: Any, func: str) -> str:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise TypeError(f"{func}: path must be a non-empty str or path, found {path!r}")
    return path


def _join(path: str, name: str) -> str:
    return path.rstrip("/") + "/" + name


def _is_path_not_found(e: Exception) -> bool:
    return spark_error_is(e, "PATH_NOT_FOUND")


def _not_found(func: str, what: str, path: str) -> FileNotFoundError:
    return FileNotFoundError(f"{func}: {what} '{path}' does not exist")


def _type_names(schema: StructType) -> str:
    return ",".join(f.dataType.simpleString() for f in schema.fields)


def _read_checked_csv(
    spark: SparkSession,
    func: str,
    what: str,
    path: str,
    schema: StructType,
    *,
    sep: str,
    header: Optional[str] = None,
    encoding: str = "UTF-8",
    quoted: bool = True,
    required: Optional[Sequence[str]] = None,
    nonnegative: Sequence[str] = (),
) -> DataFrame:
    """Read a CSV-like file with an explicit schema after checking that it fits the schema.

    ``header`` is the exact first line the file must have (None: no header line). The check
    is one aggregation job over the whole file (plus one tiny job reading the first line when
    there is a header): every line must split into exactly the schema's fields, each field
    must parse as its type, the ``required`` columns (default: all) must not be empty, and the
    ``nonnegative`` ones must not be negative.
    """
    options: Dict[str, Any] = {"sep": sep, "encoding": encoding, "header": header is not None}
    if quoted:
        options["escape"] = '"'  # quotes inside quoted fields are doubled ("")
    else:
        options["quote"] = ""
    try:
        if header is not None:
            first = spark.read.text(path).first()
            if first is None:
                raise ValueError(f"{func}: {what} '{path}' is empty")
            line = first[0].lstrip("\ufeff").rstrip("\r")
            if line != header:
                raise ValueError(
                    f"{func}: {what} '{path}' must start with the header line '{header}', found '{line[:200]}'"
                )
        checking = StructType(schema.fields + [StructField(_CORRUPT, StringType())])
        raw = spark.read.csv(
            path, schema=checking, mode="PERMISSIVE", columnNameOfCorruptRecord=_CORRUPT, **options
        )
        names = [f.name for f in schema.fields]
        required = names if required is None else list(required)
        # Every column is referenced, so the parser checks every field of every line.
        aggs = [F.count(F.lit(1)).alias("rows"), F.count(F.col(_CORRUPT)).alias("bad"), F.min(_CORRUPT).alias("example")]
        aggs += [F.count(column(n)).alias(f"n{k}") for k, n in enumerate(names)]
        aggs += [F.count(F.when(column(n) < 0, 1)).alias(f"neg{n}") for n in nonnegative]
        aggs += [F.min(column(n)).alias(f"min{n}") for n in nonnegative]
        stats = raw.agg(*aggs).first()
    except AnalysisException as e:
        if _is_path_not_found(e):
            raise _not_found(func, what, path) from None
        raise
    rows = stats["rows"]
    if rows == 0:
        raise ValueError(f"{func}: {what} '{path}' has no data lines")
    if stats["bad"]:
        raise ValueError(
            f"{func}: {stats['bad']} of {rows} lines of {what} '{path}' do not parse as the "
            f"{len(names)} fields {','.join(names)} ({_type_names(schema)}) separated by {sep!r}, "
            f"e.g. {stats['example'][:200]!r}"
        )
    for k, n in enumerate(names):
        missing = rows - stats[f"n{k}"]
        if n in required and missing:
            raise ValueError(f"{func}: field '{n}' is empty in {missing} of {rows} lines of {what} '{path}'")
    for n in nonnegative:
        if stats[f"neg{n}"]:
            raise ValueError(
                f"{func}: field '{n}' is negative in {stats[f'neg{n}']} of {rows} lines of {what} '{path}' "
                f"(the least is {stats[f'min{n}']}); it must be >= 0"
            )
    return spark.read.csv(path, schema=schema, mode="FAILFAST", **options)


_ML_RATINGS = StructType(
    [
        StructField("userId", IntegerType()),
        StructField("movieId", IntegerType()),
        StructField("rating", FloatType()),
        StructField("timestamp", LongType()),
    ]
)
_ML_MOVIES = StructType(
    [StructField("movieId", IntegerType()), StructField("title", StringType()), StructField("genres", StringType())]
)
_ML100K_ITEM = StructType(
    [
        StructField("movieId", IntegerType()),
        StructField("title", StringType()),
        StructField("releaseDate", StringType()),
        StructField("videoReleaseDate", StringType()),
        StructField("imdbUrl", StringType()),
    ]
    + [StructField(f"genre{k}", IntegerType()) for k in range(19)]
)
_TASTE = StructType(
    [StructField("user", StringType()), StructField("song", StringType()), StructField("plays", IntegerType())]
)


def load_movielens(spark: SparkSession, path: PathLike) -> Tuple[DataFrame, DataFrame]:
    """Read a MovieLens ``ml-latest`` or ``ml-latest-small`` directory (also ml-20m, ml-25m, ml-32m).

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
    path : str or path
        The directory holding ``ratings.csv`` and ``movies.csv``, as unpacked from the GroupLens
        zip (see :func:`download_movielens`); any path Spark reads.

    Returns
    -------
    (ratings, movies) : tuple of :py:class:`pyspark.sql.DataFrame`
        ``ratings``: ``userId`` int, ``movieId`` int, ``rating`` float (0.5 - 5 stars),
        ``timestamp`` long (seconds since 1970-01-01 UTC).
        ``movies``: ``movieId`` int, ``title`` string (with the year, "Toy Story (1995)"),
        ``genres`` string ("Adventure|Animation|Children", or "(no genres listed)").

    Raises
    ------
    FileNotFoundError
        When ``path``, ``ratings.csv`` or ``movies.csv`` is missing.
    ValueError
        When a file does not start with its header line (``userId,movieId,rating,timestamp``
        and ``movieId,title,genres``), a line does not split into those fields, a field does
        not parse as its type, or a field is empty.

    Notes
    -----
    Both files are comma-separated with a header line, UTF-8; fields holding commas are
    quoted, and a quote inside a quoted field is doubled (``""``). They are
    read with explicit schemas, after a check of each file: one job reads its first line, one
    aggregation job parses every line. The DataFrames returned read the files again when used
    (``mode='FAILFAST'``): cache them if you use them more than once.

    Examples
    --------
    >>> import os
    >>> from spark_recs import load_movielens
    >>> path = os.path.join(temp_path, "ml-latest-small")
    >>> os.makedirs(path)
    >>> with open(os.path.join(path, "ratings.csv"), "w") as f:
    ...     _ = f.write("userId,movieId,rating,timestamp\\n1,1,4.0,964982703\\n1,3,4.5,964981247\\n")
    >>> with open(os.path.join(path, "movies.csv"), "w") as f:
    ...     _ = f.write('movieId,title,genres\\n1,Toy Story (1995),Adventure|Animation\\n'
    ...                 '3,"American President, The (1995)",Comedy|Drama|Romance\\n')
    >>> ratings, movies = load_movielens(spark, path)
    >>> ratings.schema.simpleString()
    'struct<userId:int,movieId:int,rating:float,timestamp:bigint>'
    >>> movies.orderBy("movieId").show(truncate=False)
    +-------+------------------------------+--------------------+
    |movieId|title                         |genres              |
    +-------+------------------------------+--------------------+
    |1      |Toy Story (1995)              |Adventure|Animation |
    |3      |American President, The (1995)|Comedy|Drama|Romance|
    +-------+------------------------------+--------------------+
    <BLANKLINE>
    """
    func = "load_movielens"
    path = _path_text(path, func)
    if _local(path) and not os.path.isdir(_local(path)):
        raise _not_found(func, "directory", path)
    ratings = _read_checked_csv(
        spark, func, "ratings.csv", _join(path, "ratings.csv"), _ML_RATINGS, sep=",",
        header="userId,movieId,rating,timestamp",
    )
    movies = _read_checked_csv(
        spark, func, "movies.csv", _join(path, "movies.csv"), _ML_MOVIES, sep=",", header="movieId,title,genres"
    )
    return ratings, movies


def _local(path: str) -> Optional[str]:
    """The local file system path of ``path`` (plain or ``file:``), None for other schemes."""
    if path.startswith("file://"):
        return path[len("file://"):]
    if path.startswith("file:"):
        return path[len("file:"):]
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path) and not re.match(r"^[A-Za-z]:[\\/]", path):
        return None
    return path


def load_movielens_100k(spark: SparkSession, path: PathLike) -> Tuple[DataFrame, DataFrame]:
    """Read the MovieLens 100K directory ``ml-100k`` (``u.data`` and ``u.item``).

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
    path : str or path
        The directory holding ``u.data`` and ``u.item``.

    Returns
    -------
    (ratings, movies) : tuple of :py:class:`pyspark.sql.DataFrame`
        ``ratings``: ``userId`` int, ``movieId`` int, ``rating`` float (1 - 5 stars),
        ``timestamp`` long (seconds since 1970-01-01 UTC).
        ``movies``: ``movieId`` int, ``title`` string.

    Raises
    ------
    FileNotFoundError
        When ``path``, ``u.data`` or ``u.item`` is missing.
    ValueError
        When a line of ``u.data`` is not 4 tab-separated numbers, or a line of ``u.item`` is
        not 24 ``|``-separated fields (id, title, release date, video release date, IMDb URL,
        19 genre flags 0/1) with an integer id, a title and integer flags.

    Notes
    -----
    ``u.data`` has no header: user id, item id, rating, timestamp separated by tabs.
    ``u.item`` is Latin-1 encoded ("Café au lait (1994)" is stored as one byte per letter)
    and has no quoting. Each file is checked by one aggregation job before it is returned
    (see :func:`load_movielens`).

    Examples
    --------
    >>> import os
    >>> from spark_recs import load_movielens_100k
    >>> path = os.path.join(temp_path, "ml-100k")
    >>> os.makedirs(path)
    >>> with open(os.path.join(path, "u.data"), "w") as f:
    ...     _ = f.write("196\\t242\\t3\\t881250949\\n186\\t302\\t3\\t891717742\\n")
    >>> flags = "|0" * 19
    >>> with open(os.path.join(path, "u.item"), "wb") as f:
    ...     _ = f.write(("242|Kolya (1996)|24-Jan-1997||http://imdb" + flags + "\\n"
    ...                  "302|Café (1997)|01-Jan-1997||http://imdb" + flags + "\\n").encode("latin-1"))
    >>> ratings, movies = load_movielens_100k(spark, path)
    >>> ratings.orderBy("userId").collect()[0]
    Row(userId=186, movieId=302, rating=3.0, timestamp=891717742)
    >>> sorted(movies.collect())
    [Row(movieId=242, title='Kolya (1996)'), Row(movieId=302, title='Café (1997)')]
    """
    func = "load_movielens_100k"
    path = _path_text(path, func)
    if _local(path) and not os.path.isdir(_local(path)):
        raise _not_found(func, "directory", path)
    ratings = _read_checked_csv(spark, func, "u.data", _join(path, "u.data"), _ML_RATINGS, sep="\t", quoted=False)
    items = _read_checked_csv(
        spark, func, "u.item", _join(path, "u.item"), _ML100K_ITEM, sep="|", encoding="ISO-8859-1", quoted=False,
        required=["movieId", "title"],
    )
    return ratings, items.select("movieId", "title")


def load_taste_profile(spark: SparkSession, path: PathLike) -> DataFrame:
    """Read the Echo Nest Taste Profile triplets (``train_triplets.txt``) of the Million Song Dataset.

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
    path : str or path
        The triplets file (or a directory of such files, or a glob); any path Spark reads.

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        ``user`` string (a 40-character hash), ``song`` string (an Echo Nest song id such as
        ``SOAKIMP12A8C130995``), ``plays`` int (play count).

    Raises
    ------
    FileNotFoundError
        When ``path`` is missing.
    ValueError
        When a line is not three tab-separated fields with an integer play count, a field
        is empty, or a play count is negative.

    Notes
    -----
    Lines are ``user \\t song \\t plays`` with no header and no quoting. The file is checked
    by one aggregation job before it is returned (see :func:`load_movielens`).

    Examples
    --------
    >>> import os
    >>> from spark_recs import load_taste_profile
    >>> path = os.path.join(temp_path, "train_triplets.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("b80344d063b5ccb3212f76538f3d9e43d87dca9e\\tSOAKIMP12A8C130995\\t1\\n"
    ...                 "b80344d063b5ccb3212f76538f3d9e43d87dca9e\\tSOAPDEY12A81C210A9\\t2\\n")
    >>> plays = load_taste_profile(spark, path)
    >>> plays.schema.simpleString()
    'struct<user:string,song:string,plays:int>'
    >>> plays.groupBy("user").sum("plays").first()[1]
    3
    """
    func = "load_taste_profile"
    path = _path_text(path, func)
    return _read_checked_csv(
        spark, func, "triplets file", path, _TASTE, sep="\t", quoted=False, nonnegative=["plays"]
    )


def _infer_format(func: str, path: str) -> str:
    name = path.rstrip("/").lower()
    for suffix in (".gz", ".bz2", ".deflate", ".lz4", ".snappy", ".zst"):
        if name.endswith(".csv" + suffix) or name.endswith(".tsv" + suffix) or name.endswith(".txt" + suffix):
            name = name[: -len(suffix)]
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    raise ValueError(
        f"{func}: format cannot be inferred from path '{path}' (known endings: .csv, .tsv, .txt, "
        f".parquet, .pq); pass format='csv' or format='parquet'"
    )


def load_interactions(
    spark: SparkSession,
    path: PathLike,
    *,
    format: Optional[str] = None,
    user: str = "user",
    item: str = "item",
    rating: Optional[str] = "rating",
    header: bool = True,
    sep: str = ",",
) -> DataFrame:
    """Read any CSV or Parquet interaction file, renaming the mapped columns to user, item, rating.

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
    path : str or path
        A file, a directory of part files, or a glob; any path Spark reads.
    format : {'csv', 'parquet'}, optional
        Default: from the ending of ``path`` (``.csv``, ``.tsv``, ``.txt``, optionally
        compressed such as ``.csv.gz``: CSV; ``.parquet``, ``.pq``: Parquet).
    user, item : str, default 'user', 'item'
        Names of the file's user and item columns. For CSV without a header, the columns are
        named ``_c0``, ``_c1``, ... in file order.
    rating : str or None, default 'rating'
        Name of the rating column; None for files without one (the result then has only
        ``user`` and ``item``).
    header : bool, default True
        CSV only: whether the first line holds the column names.
    sep : str, default ','
        CSV only: the field separator (``'\\t'`` for tab-separated files).

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        ``user``, ``item`` and (unless ``rating`` is None) ``rating``, in that order, one row
        per line or row of the input (nothing is dropped or deduplicated). Parquet columns keep
        their types. CSV columns are read as strings (no type inference), so ``user`` and
        ``item`` are strings ("007" stays "007") and a CSV ``rating`` is parsed into a float.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the format is unknown, a mapped column is missing (naming the parameter, the
        column and the columns found), a CSV line has more or fewer fields than the header
        (or the first line), a rating does not parse as a number, a user, item or rating is
        empty (null), or there are no rows.
    TypeError
        When a Parquet user or item column is not of an atomic type, or a Parquet rating
        column is neither numeric nor string.

    Notes
    -----
    The column names come from the header line (or the number of fields of the first line),
    read by one small job; then one aggregation job checks every row.

    Examples
    --------
    >>> import os
    >>> from spark_recs import load_interactions
    >>> path = os.path.join(temp_path, "plays.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("listener,track,count,when\\nann,t1,3,2020\\nbob,t1,1,2021\\nbob,t2,7,2021\\n")
    >>> plays = load_interactions(spark, path, user="listener", item="track", rating="count")
    >>> plays.schema.simpleString()
    'struct<user:string,item:string,rating:float>'
    >>> plays.orderBy("user", "item").collect()[0]
    Row(user='ann', item='t1', rating=3.0)
    >>> plays.write.parquet(os.path.join(temp_path, "plays.parquet"))
    >>> load_interactions(spark, os.path.join(temp_path, "plays.parquet")).count()
    3
    """
    func = "load_interactions"
    path = _path_text(path, func)
    fmt = _infer_format(func, path) if format is None else format
    require_choice(func, "format", fmt, ["csv", "parquet"])
    mapped = [("user", user), ("item", item)] + ([("rating", rating)] if rating is not None else [])
    for param, name in mapped:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{func}: {param} must be a column name, found {name!r}")
    require_distinct(func, "user, item and rating columns", [name for _, name in mapped])
    if _local(path) is not None and "*" not in path and "?" not in path and not os.path.exists(_local(path)):
        raise _not_found(func, "path", path)
    try:
        if fmt == "parquet":
            return _load_parquet_interactions(spark, func, path, mapped)
        return _load_csv_interactions(spark, func, path, mapped, header=header, sep=sep)
    except AnalysisException as e:
        if _is_path_not_found(e):
            raise _not_found(func, "path", path) from None
        raise


def _load_parquet_interactions(spark: SparkSession, func: str, path: str, mapped: List[Tuple[str, str]]) -> DataFrame:
    try:
        df = spark.read.parquet(path)
    except AnalysisException:
        raise  # a missing path: the caller says so
    except Exception:  # Spark's "not a Parquet file" comes as a bare Java error
        raise ValueError(
            f"{func}: '{path}' does not read as Parquet (format='parquet'); pass format='csv' for a CSV file"
        ) from None
    for param, name in mapped:
        require_column(func, param, name, df)
    require_type(func, "user", mapped[0][1], df, is_atomic_id, "an atomic type")
    require_type(func, "item", mapped[1][1], df, is_atomic_id, "an atomic type")
    rating_is_string = False
    if len(mapped) == 3:
        dt = require_type(
            func, "rating", mapped[2][1], df, lambda t: is_numeric(t) or isinstance(t, StringType), "numeric or string"
        )
        rating_is_string = isinstance(dt, StringType)
    _check_interactions(func, f"'{path}'", df, mapped, rating_is_string)
    return df.select(*_renamed(mapped, rating_is_string))


def _load_csv_interactions(
    spark: SparkSession, func: str, path: str, mapped: List[Tuple[str, str]], *, header: bool, sep: str
) -> DataFrame:
    if not isinstance(sep, str) or not sep:
        raise ValueError(f"{func}: sep must be a non-empty string, found {sep!r}")
    options = {"sep": sep, "header": bool(header), "escape": '"'}
    names = spark.read.csv(path, **options).columns  # reads the first line only
    if not names:
        raise ValueError(f"{func}: '{path}' is empty")
    where = f"'{path}' read as CSV with sep={sep!r}, header={bool(header)}"
    for param, name in mapped:
        if name not in names:
            raise ValueError(f"{func}: {param} '{name}' not in [{', '.join(names)}] ({where})")
    schema = StructType([StructField(n, StringType()) for n in names])
    checking = StructType(schema.fields + [StructField(_CORRUPT, StringType())])
    raw = spark.read.csv(path, schema=checking, mode="PERMISSIVE", columnNameOfCorruptRecord=_CORRUPT, **options)
    corrupt = (
        F.count(F.col(_CORRUPT)).alias("bad"),
        F.min(_CORRUPT).alias("example"),
        # every column is referenced, so the parser checks every field of every line
        F.greatest(*[F.count(column(n)) for n in names], F.lit(0)).alias("touch"),
    )
    stats = _check_interactions(func, where, raw, mapped, True, extra=corrupt)
    if stats["bad"]:
        raise ValueError(
            f"{func}: {stats['bad']} of {stats['rows']} lines of {where} do not have the "
            f"{len(names)} fields {', '.join(names)}, e.g. {stats['example'][:200]!r}"
        )
    df = spark.read.csv(path, schema=schema, mode="FAILFAST", **options)
    return df.select(*_renamed(mapped, True))


def _rating_number(name: str) -> Column:
    quoted = "`" + name.replace("`", "``") + "`"
    return F.expr(f"try_cast({quoted} AS DOUBLE)")


def _renamed(mapped: List[Tuple[str, str]], rating_is_string: bool) -> List[Column]:
    cols = [column(name).alias(param) for param, name in mapped[:2]]
    if len(mapped) == 3:
        r = column(mapped[2][1])
        cols.append((r.cast("float") if rating_is_string else r).alias("rating"))
    return cols


def _check_interactions(
    func: str,
    where: str,
    df: DataFrame,
    mapped: List[Tuple[str, str]],
    rating_is_string: bool,
    extra: Sequence[Column] = (),
) -> Any:
    """One aggregation job: rows, nulls per mapped column, unparsable string ratings."""
    aggs = [F.count(F.lit(1)).alias("rows"), *extra]
    aggs += [F.count(column(name)).alias(f"n_{param}") for param, name in mapped]
    if len(mapped) == 3 and rating_is_string:
        name = mapped[2][1]
        bad = column(name).isNotNull() & _rating_number(name).isNull()
        aggs += [F.count(F.when(bad, 1)).alias("nan"), F.min(F.when(bad, column(name))).alias("nan_example")]
    stats = df.agg(*aggs).first()
    rows = stats["rows"]
    if rows == 0:
        raise ValueError(f"{func}: {where} has no rows")
    if "bad" in stats.asDict() and stats["bad"]:
        return stats  # the caller reports lines with the wrong number of fields first
    for param, name in mapped:
        missing = rows - stats[f"n_{param}"]
        if missing:
            raise ValueError(f"{func}: {param} column '{name}' is empty (null) in {missing} of {rows} rows of {where}")
    if len(mapped) == 3 and rating_is_string and stats["nan"]:
        raise ValueError(
            f"{func}: rating column '{mapped[2][1]}' is not numeric in {stats['nan']} of {rows} rows "
            f"of {where}, e.g. {stats['nan_example'][:100]!r}"
        )
    return stats


# --------------------------------------------------------------------------------------------
# download_movielens
# --------------------------------------------------------------------------------------------

_GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/{name}.zip"

#: SHA-256 of the GroupLens archives that do not change. (``ml-latest`` is updated from time to
#: time, so it has none: its checksum is recorded on first download, see download_movielens.)
KNOWN_SHA256 = {
    "ml-latest-small": "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    "ml-100k": "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
}

_MARKER = ".spark-recs-sha256"


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_digest(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            text = f.read().split()
    except FileNotFoundError:
        return None
    return text[0].lower() if text else None


def download_movielens(
    name: str = "ml-latest-small",
    cache_dir: Optional[PathLike] = None,
    url: Optional[str] = None,
    sha256: Optional[str] = None,
) -> str:
    """Download a MovieLens zip from GroupLens into a local cache, verify it, extract it.

    Parameters
    ----------
    name : str, default 'ml-latest-small'
        The archive's name on https://files.grouplens.org/datasets/movielens/ without
        ``.zip``: ``ml-latest-small``, ``ml-latest``, ``ml-100k``, ``ml-1m``, ``ml-25m``, ...
    cache_dir : str or path, optional
        Where the zip and its extracted directory are kept; default ``~/.cache/spark-recs``.
    url : str, optional
        Where to download from instead of GroupLens (a mirror, or a ``file://`` URL).
    sha256 : str, optional
        The archive's expected SHA-256 (64 hex digits). Default: the known checksum of
        ``name`` in ``KNOWN_SHA256`` (ml-latest-small, ml-100k), if any.

    Returns
    -------
    str
        The extracted directory ``<cache_dir>/<name>``, ready for :func:`load_movielens`
        (or :func:`load_movielens_100k` for ml-100k).

    Raises
    ------
    ValueError
        When the checksum does not match (a fresh download is then deleted), the name or
        checksum is malformed, or the file is not a zip archive.
    urllib.error.URLError
        When the download fails.

    Notes
    -----
    The zip is saved as ``<cache_dir>/<name>.zip`` and its SHA-256 written beside it in
    ``<name>.zip.sha256``. Later calls download nothing: they verify the cached zip against
    the expected checksum, or, when none is known, against the recorded one (trust on first
    use), and reuse the extracted directory when it was extracted from that same zip. An
    archive with one top-level folder (as GroupLens zips have) is extracted to
    ``<cache_dir>/<name>`` without that extra level. Uses :mod:`urllib` only. The MovieLens
    data sets have their own terms of use (see their README): no redistribution without
    permission, cite Harper and Konstan (2015), *The MovieLens Datasets: History and Context*,
    ACM TiiS 5(4).

    Examples
    --------
    A tiny archive made here stands in for the GroupLens one:

    >>> import os, pathlib, zipfile
    >>> from spark_recs import download_movielens, load_movielens
    >>> archive = os.path.join(temp_path, "tiny.zip")
    >>> with zipfile.ZipFile(archive, "w") as z:
    ...     z.writestr("ml-tiny/ratings.csv", "userId,movieId,rating,timestamp\\n1,1,4.0,964982703\\n")
    ...     z.writestr("ml-tiny/movies.csv", "movieId,title,genres\\n1,Toy Story (1995),Comedy\\n")
    >>> cache = os.path.join(temp_path, "cache")
    >>> path = download_movielens("ml-tiny", cache_dir=cache, url=pathlib.Path(archive).as_uri())
    >>> sorted(os.listdir(path))
    ['.spark-recs-sha256', 'movies.csv', 'ratings.csv']
    >>> ratings, movies = load_movielens(spark, path)
    >>> ratings.count(), movies.first().title
    (1, 'Toy Story (1995)')
    >>> download_movielens("ml-tiny", cache_dir=cache, url="file:///gone.zip") == path
    True
    """
    func = "download_movielens"
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"{func}: name must be a plain archive name such as 'ml-latest-small', found {name!r}")
    if sha256 is not None and (not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256)):
        raise ValueError(f"{func}: sha256 must be 64 hexadecimal digits, found {sha256!r}")
    expected = (sha256 or KNOWN_SHA256.get(name) or "").lower() or None
    source = url or _GROUPLENS_URL.format(name=name)
    cache = os.path.expanduser(os.fspath(cache_dir)) if cache_dir is not None else os.path.expanduser("~/.cache/spark-recs")
    os.makedirs(cache, exist_ok=True)
    zip_path = os.path.join(cache, name + ".zip")
    record = zip_path + ".sha256"
    target = os.path.join(cache, name)

    if os.path.exists(zip_path):
        digest = _sha256_file(zip_path)
        wanted = expected or _read_digest(record)
        if wanted is not None and digest != wanted:
            why = "expected" if expected else f"recorded in '{record}'"
            raise ValueError(
                f"{func}: SHA-256 of the cached '{zip_path}' is {digest}, {why} {wanted}; "
                f"delete it to download it again"
            )
    else:
        digest = _download(func, source, zip_path, expected)
    with open(record, "w") as f:
        f.write(f"{digest}  {name}.zip\n")

    if _read_digest(os.path.join(target, _MARKER)) != digest:
        _extract(func, zip_path, cache, target)
        with open(os.path.join(target, _MARKER), "w") as f:
            f.write(f"{digest}  {name}.zip\n")
    return target


def _download(func: str, source: str, zip_path: str, expected: Optional[str]) -> str:
    fd, part = tempfile.mkstemp(prefix=os.path.basename(zip_path) + ".", suffix=".part", dir=os.path.dirname(zip_path))
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(source, timeout=60) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
        digest = h.hexdigest()
        if expected is not None and digest != expected:
            raise ValueError(
                f"{func}: SHA-256 of {source} is {digest}, expected {expected}; the download was deleted"
            )
        os.replace(part, zip_path)
    finally:
        if os.path.exists(part):
            os.remove(part)
    return digest


def _extract(func: str, zip_path: str, cache: str, target: str) -> None:
    scratch = tempfile.mkdtemp(prefix=os.path.basename(target) + ".", suffix=".extracting", dir=cache)
    try:
        try:
            with zipfile.ZipFile(zip_path) as z:
                z.extractall(scratch)  # zipfile drops absolute paths and '..' parts
        except zipfile.BadZipFile:
            raise ValueError(f"{func}: '{zip_path}' is not a zip archive; delete it to download it again") from None
        entries = [e for e in os.listdir(scratch) if e != "__MACOSX"]
        inner = os.path.join(scratch, entries[0]) if len(entries) == 1 else None
        src = inner if inner is not None and os.path.isdir(inner) else scratch
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(src, target)
    finally:
        if os.path.exists(scratch):
            shutil.rmtree(scratch)
