"""Beyond-accuracy metrics of top-k lists: catalogue coverage, the Gini index of item exposure,
novelty and average recommended popularity."""

import math
from typing import Dict, cast

from pyspark.sql import DataFrame, Row, Window
from pyspark.sql import functions as F

from spark_recs import _validation as V
from spark_recs._validation import column

__all__ = ["BEYOND_ACCURACY_METRICS", "beyond_accuracy_metrics"]

_NAME = "beyond_accuracy_metrics"

#: The names :py:func:`beyond_accuracy_metrics` returns, in order.
BEYOND_ACCURACY_METRICS = ["coverageAtK", "giniIndex", "novelty", "averageRecommendedPopularity"]


def beyond_accuracy_metrics(
    recommendations: DataFrame,
    train: DataFrame,
    k: int = 10,
    userCol: str = "user",
    itemCol: str = "item",
    rankCol: str = "rank",
) -> Dict[str, float]:
    """Catalogue coverage@k, the Gini index of item exposure, novelty and average recommended
    popularity of top-k lists, against the training interactions.

    Parameters
    ----------
    recommendations : :py:class:`pyspark.sql.DataFrame`
        One row per recommendation: ``userCol``, ``itemCol`` and ``rankCol`` (1 = best), as
        :py:func:`~spark_recs.recommend_for_users` returns them; rows with a rank above ``k``
        are left out.
    train : :py:class:`pyspark.sql.DataFrame`
        The interactions the model was fit on (``userCol``, ``itemCol``; repeated pairs count
        once). Its items are the catalogue; an item's popularity is its number of users.
    k : int, default 10
        The list length (>= 1).
    userCol, itemCol, rankCol : str
        Column names, the same in both frames (ids of any atomic type; the rank numeric).

    Returns
    -------
    dict of str to float
        With :py:data:`BEYOND_ACCURACY_METRICS` as keys, where n is the number of catalogue
        items, U the number of training users, pop(i) item i's number of training users,
        x(i) the number of top-k lists holding item i, L the set of (user, item) rows of the
        top-k lists and L(u) user u's list:

        - ``coverageAtK``: |{i : x(i) > 0}| / n, in [0, 1] (catalogue coverage; Microsoft
          Recommenders' ``catalog_coverage``, RePlay's ``Coverage``).
        - ``giniIndex``: sum over the catalogue sorted by x ascending, positions j = 1..n, of
          (2j - n - 1) x(j), divided by n * sum x; in [0, 1 - 1/n]: 0 when every item is
          recommended equally often, near 1 when a few take all exposure. Items never
          recommended count with x = 0 (Gini index of item exposure as in Fleder & Hosanagar
          2009; Recommenders' ``distributional_coverage`` measures the same skew by entropy
          instead).
        - ``novelty``: the mean over L of -log2(pop(i) / U), in bits: mean self-information
          under the discovery model (the chance that a random training user knows the item;
          Zhou et al. 2010, Castells et al. 2011). Recommenders' ``novelty`` uses the choice
          model, pop(i) / (all training interactions N), which adds log2(N / U) to ours.
        - ``averageRecommendedPopularity``: the mean over users of the mean pop(i) over
          L(u) (ARP, Abdollahpouri et al. 2019; ours counts users, not rating rows).

    Raises
    ------
    ValueError
        ``k`` < 1; a missing column; no recommendation with rank <= k; an empty ``train``;
        recommended items that are not in ``train`` (no popularity: the lists and the
        training data do not belong together), naming up to 10 of them.
    TypeError
        Ids or rank of an unusable type.

    Notes
    -----
    Spark jobs: one that looks for recommended items outside the catalogue (up to 10 reach the
    driver), then one action over single-row aggregates (the catalogue, the lists' rows and
    users, the exposure distribution); nothing per user or per item reaches the driver. The
    Gini sum groups items by exposure (at most one group per count of lists), so it needs no
    global sort of the catalogue.

    Examples
    --------
    >>> from spark_recs.beyond_accuracy import beyond_accuracy_metrics
    >>> train = spark.createDataFrame([("a", "x"), ("b", "x"), ("b", "y"), ("c", "z")], ["user", "item"])
    >>> recs = spark.createDataFrame([("a", 1, "y"), ("c", 1, "x"), ("c", 2, "y")], ["user", "rank", "item"])
    >>> m = beyond_accuracy_metrics(recs, train, k=2)
    >>> round(m["coverageAtK"], 4), round(m["giniIndex"], 4), round(m["novelty"], 4)
    (0.6667, 0.4444, 1.2516)
    """
    V.require_param(_NAME, "k", k, int(k) >= 1, "be >= 1", f"items per list of userCol '{userCol}'")
    for frame, what in ((recommendations, "recommendations"), (train, "train")):
        V.require_type(_NAME, "userCol", userCol, frame, V.is_atomic_id, f"an atomic type (in {what})")
        V.require_type(_NAME, "itemCol", itemCol, frame, V.is_atomic_id, f"an atomic type (in {what})")
    V.require_type(_NAME, "rankCol", rankCol, recommendations, V.is_numeric, "numeric")
    u, i = column(userCol), column(itemCol)
    top = recommendations.where(column(rankCol) <= F.lit(int(k))).select(u.alias("u"), i.alias("i"))
    popularity = train.groupBy(i.alias("i")).agg(F.count_distinct(u).alias("pop"))
    outside = [
        r[0] for r in top.join(popularity, "i", "left_anti").select("i").distinct().limit(10).collect()
    ]
    if outside:
        raise ValueError(f"{_NAME}: recommended items {outside} of itemCol '{itemCol}' are not in train: "
                         "pass the interactions the model was fit on")
    users = train.agg(F.count_distinct(u).alias("U"))
    scored = top.join(popularity, "i")
    lists = scored.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.log2(F.col("pop").cast("double"))).alias("sum_log_pop"),
        F.count_distinct("i").alias("covered"),
    )
    arp = scored.groupBy("u").agg(F.avg("pop").alias("p")).agg(F.avg("p").alias("arp"))
    exposure = (
        popularity.select("i")
        .join(top.groupBy("i").agg(F.count(F.lit(1)).alias("x")), "i", "left")
        .select(F.coalesce(F.col("x"), F.lit(0)).cast("double").alias("x"))
    )
    groups = exposure.groupBy("x").agg(F.count(F.lit(1)).cast("double").alias("m"))
    below = F.coalesce(
        F.sum("m").over(Window.orderBy("x").rowsBetween(Window.unboundedPreceding, -1)), F.lit(0.0)
    )
    # positions below+1 .. below+m share exposure x: their (2j - n - 1) add up to
    # m (2 below + m + 1) - m (n + 1)
    gini_parts = groups.select("x", "m", below.alias("a")).agg(
        F.sum(F.col("m")).alias("n"),
        F.sum(F.col("m") * (2 * F.col("a") + F.col("m") + 1) * F.col("x")).alias("s1"),
        F.sum(F.col("m") * F.col("x")).alias("mx"),
    )
    # four aggregations without groups, one row each
    row = cast(Row, users.crossJoin(lists).crossJoin(arp).crossJoin(gini_parts).first())
    if not row["rows"]:
        raise ValueError(f"{_NAME}: no recommendation with rankCol '{rankCol}' <= {k}")
    n, total = row["n"], row["mx"]
    gini = (row["s1"] - (n + 1) * total) / (n * total)
    return {
        "coverageAtK": row["covered"] / n,
        "giniIndex": float(gini),
        "novelty": math.log2(row["U"]) - row["sum_log_pop"] / row["rows"],
        "averageRecommendedPopularity": float(row["arp"]),
    }
