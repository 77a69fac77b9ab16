"""Synthetic ratings with planted low-rank taste and Zipf-like item popularity, made on the executors."""

import hashlib
import math
from typing import Any, Dict, List, Optional, Tuple, cast

import numpy as np
from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from spark_recs._compat import array_position
from spark_recs._validation import require_choice

__all__ = ["SYNTHETIC_SETTINGS", "synthetic_ratings"]

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

#: Named settings of :py:func:`synthetic_ratings` that imitate the shape of a public data set
#: (the data are synthetic; only sizes and behaviour are imitated):
#:
#: - ``'ml-latest-small'`` (the function's defaults): about the size of MovieLens
#:   ``ml-latest-small`` (600 users, 9,000 items, 100,000 ratings).
#: - ``'ml-100k'``: MovieLens 100K's sizes (943 users, 1,682 items, 100,000 ratings), a
#:   flatter popularity curve and pickier users (``tasteThreshold``), chosen so that on a
#:   per-user 75/25 split with every unseen item ranked, most-popular reaches P@10 about 0.2
#:   and implicit ALS clearly more, as on the real data (README, "Compare against
#:   baselines"; the figures of the real data set are in issue 12 and the README).
SYNTHETIC_SETTINGS: Dict[str, Dict[str, Any]] = {
    "ml-latest-small": dict(numUsers=600, numItems=9000, numRatings=100_000),
    "ml-100k": dict(numUsers=943, numItems=1682, numRatings=100_000, rank=4, zipf=0.9, tasteThreshold=1.0),
}


def _derived_int(seed: int, tag: str) -> int:
    """A 64-bit integer derived from (seed, tag) on the driver, stable across Python versions."""
    # "spark_recs.datasets" is part of every seed: the data of a seed stay as they were.
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
#: Quantiles of z per rank at which P(keep) is averaged (:func:`_z_quantiles`).
_Z_QUANTILES = 256


def _z_quantiles(rank: int) -> np.ndarray:
    """``_Z_QUANTILES`` evenly spaced quantiles of z = sum_k a_k b_k / sqrt(rank) with a, b
    standard normal (from 65,536 fixed-seed samples on the driver): for a small rank z is far
    from normal (heavy tails), which a picky ``tasteThreshold`` feels."""
    rng = np.random.default_rng(0)
    z = np.zeros(65536)
    for _ in range(rank):  # a coordinate at a time: memory stays 65,536 floats whatever the rank
        a, b = rng.standard_normal((2, 65536))
        z += a * b
    z = np.sort(z / math.sqrt(rank))
    return z[(np.arange(_Z_QUANTILES) * len(z) + len(z) // 2) // _Z_QUANTILES]


def _keep(threshold: float, rank: int) -> np.ndarray:
    """P(keep) at the quantiles of z: sigmoid(_CHOICE_TASTE * (z - threshold))."""
    return 1.0 / (1.0 + np.exp(-_CHOICE_TASTE * (_z_quantiles(rank) - threshold)))


def _expected_distinct(
    draws: int, keep: np.ndarray, classes: List[Tuple[int, float]], q: np.ndarray, count: np.ndarray
) -> float:
    """Expected number of distinct kept (user, item) pairs among ``draws`` draws, taking z of
    each pair as distributed as z over random pairs (:func:`_z_quantiles`; an approximation:
    it only sets how many draws are tried first)."""
    total = 0.0
    for users, p in classes:
        rate = np.log1p(-np.outer(keep, p * q))  # (nodes, bins)
        seen = -np.expm1(draws * rate)
        total += users * float(seen.mean(axis=0) @ count)
    return total


def _draws_for(
    num_ratings: int, num_users: int, num_items: int, zipf: float, threshold: float, rank: int, cap: int
) -> int:
    """Smallest number of draws whose expected number of distinct kept pairs reaches
    num_ratings; raises ValueError if cap draws are expected to fall short."""
    q, count = _item_probabilities(num_items, zipf)
    classes = _user_classes(num_users)
    keep = _keep(threshold, rank)
    reach = _expected_distinct(cap, keep, classes, q, count)
    if reach < num_ratings:
        raise ValueError(
            f"synthetic_ratings: numRatings={num_ratings} distinct (user, item) pairs are out "
            f"of reach with numUsers={num_users}, numItems={num_items}, zipf={zipf} "
            f"({cap} draws give about {int(reach)}); lower numRatings, zipf or tasteThreshold"
        )
    lo, hi = num_ratings, num_ratings
    while _expected_distinct(hi, keep, classes, q, count) < num_ratings:
        lo, hi = hi, min(2 * hi, cap)
    while lo < hi:
        mid = (lo + hi) // 2
        if _expected_distinct(mid, keep, classes, q, count) < num_ratings:
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
    tasteThreshold: float = 0.0,
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
    tasteThreshold : float, default 0.0
        How picky users are: a drawn pair is kept with probability
        ``1 / (1 + exp(-3 (z - tasteThreshold)))`` (see Notes). 0 keeps about half of the
        draws; a higher value keeps fewer, those the user likes most, so which items a user
        has says more about taste and less about popularity (the ``'ml-100k'`` settings of
        :py:data:`SYNTHETIC_SETTINGS` use it). More draws are then made for the same
        ``numRatings``.
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
    - kept or not, by taste: the draw is kept with probability
      ``1 / (1 + exp(-3 (z - tasteThreshold)))``, so users mostly rate and play what they
      like (at the default threshold 0, about half the draws are kept). Which items a
      user has rated thus carries taste too, as in real data, not only the rating values.

    Rows. A pair kept more than once counts once, at its first kept draw. Draws are made
    until the number of distinct pairs reaches ``numRatings`` and the pairs first kept after
    that are left out, so there are exactly ``numRatings`` rows. Finding that cut runs one
    Spark job (two past 4 million draws) whose result is a histogram: nothing per user or per
    id reaches the driver (``docs/design.md``, "Synthetic data").

    Values. With ``zs = (z - mean) / sd``, z standardised over the rows (mean and sd come
    from the histogram job above, summed in fixed point so they do not depend on the
    partitioning; they may include up to 63 pairs past the cut):

    - explicit: ``rating = clip(round(3 + 1.5 zs + 0.5 e), 1, 5)`` with ``e ~ N(0, 1)`` drawn
      per pair, rounded half up; float.
    - implicit: ``rating = 1 + G`` play counts, G geometric on 0, 1, 2, ... with mean
      ``m = 2 exp(zs)``, drawn as ``floor(-ln(1 - U) / ln(1 + 1 / m))``; int.

    The same seed gives the same pairs for both kinds.

    Items. Titles are ``"<Adjective> <Noun> (<year>)"``, unique (items past 140,000 get a
    sequel number, "Silent River 2 (1987)"), dealt to the items by a seeded permutation.
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
    if (isinstance(tasteThreshold, bool) or not isinstance(tasteThreshold, (int, float))
            or not math.isfinite(tasteThreshold)):
        raise ValueError(
            f"synthetic_ratings: tasteThreshold must be a finite number, found {tasteThreshold!r}"
        )
    threshold = float(tasteThreshold)
    if numPartitions is not None:
        _check_int("numPartitions", numPartitions, 1)
    if num_ratings > num_users * num_items:
        raise ValueError(
            f"synthetic_ratings: numRatings must be <= numUsers * numItems = "
            f"{num_users * num_items}, found {num_ratings}"
        )

    first = _first_draws(spark, seed_, num_users, num_items, zipf, threshold, rank_, numPartitions)
    cap = _MAX_DRAWS_PER_ROW * num_ratings
    needed = _draws_for(num_ratings, num_users, num_items, zipf, threshold, rank_, cap)
    draws = min(cap, math.ceil(_DRAW_MARGIN * needed) + 10)
    while True:
        cut = _cut(first(draws), num_ratings, draws)
        if cut is not None:
            break
        if draws >= cap:
            raise ValueError(
                f"synthetic_ratings: numRatings={num_ratings} distinct (user, item) pairs are out "
                f"of reach with numUsers={num_users}, numItems={num_items}, zipf={zipf} "
                f"({cap} draws give fewer); lower numRatings, zipf or tasteThreshold"
            )
        draws = min(cap, math.ceil(1.25 * draws))
    last, mean, sd = cut
    pairs = first(draws).where(F.col("d") <= F.lit(last))

    u, i = F.col("u"), F.col("i")
    z = (F.col("z") - F.lit(mean)) / F.lit(sd)
    if kind == "explicit":
        stars = F.round(
            F.lit(3.0) + F.lit(_STAR_SCALE) * z + F.lit(_STAR_NOISE) * _normal(seed_, "noise", u, i)
        )
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
    spark: SparkSession, seed: int, num_users: int, num_items: int, zipf: float, threshold: float, rank: int,
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
    # keep the draw with probability sigmoid(c (z - t)) = 1 / (1 + exp(-c (z - t))), c = _CHOICE_TASTE
    gap = F.col("z") - F.lit(threshold) if threshold else F.col("z")  # threshold 0: the 0.1 plans
    keep = _uniform(seed, "keep", F.col("j")) * (F.lit(1.0) + F.exp(F.lit(-_CHOICE_TASTE) * gap))

    def pairs(draws: int) -> DataFrame:
        shown = spark.range(0, draws, 1, num_partitions).select(
            j.alias("j"), user.alias("u"), item.alias("i")
        )
        shown = shown.select("j", "u", "i", _taste(seed, F.col("u"), F.col("i"), rank).alias("z"))
        # z is a function of (u, i): min picks the one value
        return (
            shown.where(keep < F.lit(1.0))
            .groupBy("u", "i")
            .agg(F.min("j").alias("d"), F.min("z").alias("z"))
        )

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
                t = int(cast(Row, inside.select(F.element_at("ds", k)).first())[0])  # one row
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
