"""Similar items and similar users ("more like this"): each item's (or user's) top-N nearest
neighbours by a fitted factor model's vectors, exactly, on the full-catalogue engine, in the
original ids."""

from typing import Any, Optional, Sequence, Union

from pyspark.ml import PipelineModel
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_recs._recommenders import als_and_indexer, encode_ids, factor_rank, original_ids
from spark_recs._validation import column, require_choice, require_column, require_param
from spark_recs.business_rules import item_rules
from spark_recs.popularity import PopularityModel
from spark_recs.ranking import Factors, UnseenItemRankerModel

__all__ = ["SIMILARITY_METRICS", "similar_items", "similar_users"]

#: How two factor vectors u, v are compared: 'cosine' (u . v / (|u| |v|)) or 'dot' (u . v).
SIMILARITY_METRICS = ["cosine", "dot"]

_Q, _S = "__spark_recs_query", "__spark_recs_similar"


def similar_items(
    model: Union[PipelineModel, ALSModel, UnseenItemRankerModel, str],
    items: Optional[Union[Sequence[Any], DataFrame]] = None,
    n: int = 10,
    *,
    metric: str = "cosine",
    candidates: Optional[DataFrame] = None,
    exclude: Optional[DataFrame] = None,
    titles: Optional[DataFrame] = None,
    itemTitleCol: str = "title",
) -> DataFrame:
    """The ``n`` catalogue items most similar to each given item (or to every item), by the
    model's item factors, the item itself left out.

    Parameters
    ----------
    model : :py:class:`pyspark.ml.PipelineModel`, ALSModel, UnseenItemRankerModel or str
        A fitted pipeline holding an ``ALSModel`` (from ``ALS`` or
        :py:class:`~spark_recs.ImplicitALS`) or an :py:class:`~spark_recs.UnseenItemRankerModel`,
        usually with the ``IdIndexerModel`` that encoded its ids; a bare model; or the path of
        a saved pipeline.
    items : list or :py:class:`pyspark.sql.DataFrame`, optional
        The items, by their original ids, or a one-column DataFrame of them; None (the default)
        for every item with factors. Ids given as text for integer ids (``["2"]``) are read as
        integers.
    n : int, default 10
        Neighbours per item (>= 1).
    metric : str, default 'cosine'
        'cosine': ``u . v / (|u| |v|)``, in [-1, 1], blind to a vector's length (ALS item
        vectors grow with popularity, so the dot product favours popular items); 'dot':
        ``u . v``, the model's own score scale. A zero vector has no cosine (NaN).
    candidates : :py:class:`pyspark.sql.DataFrame`, optional
        Restrict the neighbours to these items (a column named like the item column, original
        ids): items on sale, in stock, in one category. The queried items need not be among
        them; every candidate must have factors.
    exclude : :py:class:`pyspark.sql.DataFrame`, optional
        Items never to give as neighbours (the item column, original ids), left out inside the
        engine, so ``n`` remain whenever the catalogue allows; items the model does not know
        need no leaving out.
    titles : :py:class:`pyspark.sql.DataFrame`, optional
        Item ids (the item column's name) and ``itemTitleCol``: adds the neighbour's title.
    itemTitleCol : str, default 'title'

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        One row per (item, neighbour): the item column (original ids), ``rank`` (int, 1 = most
        similar), ``similar_<item column>`` (the neighbour, same type) and ``similarity``
        (float), plus the neighbour's title when ``titles`` is given; sorted by item and rank.
        Ties are broken by the neighbour's index (the ``IdIndexer`` number) ascending. Fewer
        than ``n`` neighbours only when the catalogue (or ``candidates``) runs out; an item with
        no neighbour to give (its vector is NaN or zero under 'cosine', or no candidate is
        left) keeps one row with null rank, neighbour and similarity.

    Raises
    ------
    ValueError
        ``n`` < 1; a ``metric`` not in :py:data:`SIMILARITY_METRICS`; items the model does not
        know, or candidates without factors (naming up to 10, and the column); an empty ``items`` list; a
        ``PopularityModel`` (it has one constant factor: no similarity); a pipeline without
        exactly one recommender; missing columns in ``candidates``, ``exclude`` or ``titles``.
    TypeError
        Items whose type differs from the model's item ids.
    FileNotFoundError
        ``model`` is a path where nothing is saved.

    Notes
    -----
    The same engine and scoring rule as :py:meth:`~spark_recs.UnseenItemRankerModel.recommendForUserSubset`
    (``float32`` of the float64 dot product of the float32 vectors, cosine vectors normalised
    in double first): the queried items are packed into blocks (``userBlockSize``), every block
    meets the whole (candidate) catalogue, broadcast once, inside one task, and a compiled
    running top-N keeps each item's best; the item itself is left out as a user's seen item
    is, so exactly ``n`` remain whenever the catalogue allows. Memory: the broadcast catalogue
    (items x rank x 4 bytes) on every executor. Jobs: one that looks for unknown items (when
    items are named) and one for unknown candidates, two small ones that set up the engine
    (each query as its own seen item, ``localCheckpoint``-ed, and the catalogue's size), one
    approximate count of the queries, and the result's. Nothing per item is collected to the
    driver. The cosine of the factors is implicit's ``similar_items`` (benfred/implicit), which
    lists the queried item itself first (implicit #353); here it is left out, since it is
    always its own nearest neighbour.

    Examples
    --------
    >>> from pyspark.ml import Pipeline
    >>> from pyspark.ml.recommendation import ALS
    >>> from spark_recs import IdIndexer, similar_items
    >>> plays = spark.createDataFrame(
    ...     [("jane", "a", 3.0), ("jane", "b", 1.0), ("taylor", "a", 5.0), ("taylor", "c", 2.0),
    ...      ("sam", "b", 4.0), ("sam", "c", 1.0), ("sam", "d", 2.0)], ["user", "item", "plays"])
    >>> model = Pipeline(stages=[
    ...     IdIndexer(inputCols=["user", "item"], outputCols=["u", "i"]),
    ...     ALS(userCol="u", itemCol="i", ratingCol="plays", implicitPrefs=True, rank=2, seed=1),
    ... ]).fit(plays)
    >>> near = similar_items(model, ["a"], n=2)
    >>> near.columns
    ['item', 'rank', 'similar_item', 'similarity']
    >>> [(r.rank, r.similar_item != "a") for r in near.collect()]
    [(1, True), (2, True)]
    """
    return _similar(model, "items", items, n, metric, candidates, exclude, titles, itemTitleCol,
                    "similar_items")


def similar_users(
    model: Union[PipelineModel, ALSModel, UnseenItemRankerModel, str],
    users: Optional[Union[Sequence[Any], DataFrame]] = None,
    n: int = 10,
    *,
    metric: str = "cosine",
    candidates: Optional[DataFrame] = None,
    exclude: Optional[DataFrame] = None,
) -> DataFrame:
    """The ``n`` users most similar to each given user (or to every user), by the model's user
    factors, the user itself left out: :py:func:`similar_items` on the other side.

    Parameters
    ----------
    model : :py:class:`pyspark.ml.PipelineModel`, ALSModel, UnseenItemRankerModel or str
        As :py:func:`similar_items`.
    users : list or :py:class:`pyspark.sql.DataFrame`, optional
        The users, by their original ids; None for every user with factors.
    n : int, default 10
        Neighbours per user (>= 1).
    metric : str, default 'cosine'
        As :py:func:`similar_items`.
    candidates : :py:class:`pyspark.sql.DataFrame`, optional
        Restrict the neighbours to these users (a column named like the user column).
    exclude : :py:class:`pyspark.sql.DataFrame`, optional
        Users never to give as neighbours (the user column).

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        The user column, ``rank``, ``similar_<user column>`` and ``similarity``, as
        :py:func:`similar_items` gives for items.

    Raises
    ------
    ValueError, TypeError, FileNotFoundError
        As :py:func:`similar_items`, for users.

    Notes
    -----
    Jobs and memory as :py:func:`similar_items`, with the users' vectors as the broadcast
    catalogue (users x rank x 4 bytes).
    """
    return _similar(model, "users", users, n, metric, candidates, exclude, None, "title", "similar_users")


def _unit(features: Column) -> Column:
    """The vector scaled to length 1, in double; NaN entries when its length is 0 or not finite
    (a zero vector has no direction, so no cosine)."""
    norm = F.sqrt(F.aggregate(features, F.lit(0.0), lambda acc, x: acc + x.cast("double") * x.cast("double")))
    ok = (norm > 0) & ~F.isnan(norm) & (norm != float("inf"))
    return F.transform(features, lambda x: F.when(ok, x.cast("double") / norm).otherwise(F.lit(float("nan"))))


def _similar(
    model: Any, side: str, ids: Any, n: int, metric: str, candidates: Optional[DataFrame],
    exclude: Optional[DataFrame], titles: Optional[DataFrame], title_col: str, name: str,
) -> DataFrame:
    recommender, indexer = als_and_indexer(model, name)
    if isinstance(recommender, PopularityModel):
        raise ValueError(
            f"{name}: a PopularityModel has one constant factor per {side[:-1]}, so no similarity; "
            "pass a factor model (ALS, ImplicitALS)"
        )
    inner: Any = recommender.model if isinstance(recommender, UnseenItemRankerModel) else recommender
    users, items = original_ids(inner, indexer)
    (col, vocab), param = (items, "itemCol") if side == "items" else (users, "userCol")
    factors = inner.itemFactors if side == "items" else inner.userFactors
    if vocab is None:  # the ids are the model's own: they name themselves (and unknown ones show)
        vocab = factors.select(F.col("id").alias("value"), F.col("id").alias("index"))
    require_param(name, "n", n, n >= 1, "be >= 1", f"similar {side} per {param} '{col}'")
    require_choice(name, "metric", metric, SIMILARITY_METRICS)
    spark = factors.sparkSession
    features = F.col("features")
    vectors = factors.select(
        "id", (_unit(features) if metric == "cosine" else features).cast("array<float>").alias("features")
    )
    if ids is None:
        queries = factors.select(F.col("id").alias(_Q)).join(
            vocab.select(F.col("index").alias(_Q), F.col("value").alias(col)), _Q
        )
    else:
        queries = encode_ids(spark, ids, col, vocab, _Q, name, side, param)
    rules = item_rules(name, candidates, exclude, None, col, vocab, factors, param)
    catalogue = rules.catalogue(vectors)
    rank = factor_rank(inner)
    # each query has itself as its one seen item: left out as a user's seen items are
    itself = queries.select(_Q, F.col(_Q).alias(_S))
    engine = UnseenItemRankerModel.fromFitted(Factors(vectors, catalogue, rank, _Q, _S), itself)
    found = engine.recommendForUserSubset(queries.select(_Q), n)
    flat = found.select(_Q, F.posexplode_outer("recommendations").alias("pos", "rec")).select(
        _Q, (F.col("pos") + 1).alias("rank"), F.col("rec")[_S].alias(_S),
        F.col("rec.rating").alias("similarity"),
    )
    similar_col = f"similar_{col}"
    flat = queries.select(_Q, column(col)).join(flat, _Q)
    names = vocab.select(F.col("index").alias(_S), F.col("value").alias(similar_col))
    flat = flat.join(names, _S, "left")  # an item without neighbours keeps its row
    result = flat.select(column(col), "rank", column(similar_col), "similarity")
    if titles is not None:
        require_column(name, "titles", col, titles)
        require_column(name, "itemTitleCol", title_col, titles)
        named = titles.select(column(col).alias(similar_col), column(title_col))
        result = result.join(named, similar_col, "left").select(
            column(col), "rank", column(similar_col), "similarity", column(title_col)
        )
    return result.orderBy(column(col), "rank")
