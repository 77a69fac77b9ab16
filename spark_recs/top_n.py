"""Top-N recommendations for named users, in their original ids, from a fitted or saved pipeline.

(Until 0.1.0 this module was ``spark_recs.recommend``, a near-twin of ``spark_recs.recommendation``,
which holds :py:class:`~spark_recs.ImplicitALS`; ``spark_recs.recommend`` still re-exports it.)
"""

from typing import Any, Dict, Optional, Sequence, Tuple, Union

from pyspark.ml import PipelineModel
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_recs._recommenders import RECOMMENDERS, als_and_indexer, encode_ids, factor_rank, original_ids
from spark_recs._validation import column, require_choice, require_column, require_param
from spark_recs.business_rules import ITEM, ItemRules, item_rules
from spark_recs.fold_in import fold_in_with
from spark_recs.indexer import IdIndexer
from spark_recs.popularity import PopularityRecommender
from spark_recs.ranking import Factors, UnseenItemRankerModel

__all__ = [
    "COLD_START", "RECOMMENDERS", "all_users", "als_and_indexer", "encode_ids", "original_ids",
    "recommend_for_users",
]

#: recommend_for_users' coldStart choices: users the model does not know, without history.
COLD_START = ["error", "popular", "skip"]

_NAME = "recommend_for_users"


def all_users(model: Union[PipelineModel, ALSModel, str]) -> DataFrame:
    """Every user the model has factors for, in original ids: a one-column DataFrame named
    like the users' original column (the indexer's input), for :py:func:`recommend_for_users`.

    Raises
    ------
    ValueError
        As :py:func:`als_and_indexer`.
    """
    recommender, indexer = als_and_indexer(model)
    # an ALSModel or PopularityModel: its ids and factors
    inner: Any = recommender.model if isinstance(recommender, UnseenItemRankerModel) else recommender
    user_idx = inner.getUserCol()
    ids = inner.userFactors.select(F.col("id").alias("index"))
    if indexer is not None and user_idx in indexer.outputColumns:
        user_col, vocab = indexer.vocabularyOf(user_idx)
        return ids.join(vocab, "index").select(F.col("value").alias(user_col))
    return ids.select(F.col("index").alias(user_idx))


def recommend_for_users(
    model: Union[PipelineModel, ALSModel, str],
    users: Union[Sequence[Any], DataFrame],
    n: int = 10,
    *,
    rated: Optional[DataFrame] = None,
    excludeRated: bool = True,
    titles: Optional[DataFrame] = None,
    itemTitleCol: str = "title",
    history: Optional[DataFrame] = None,
    historyRatingCol: str = "rating",
    foldIn: Optional[Dict[str, Any]] = None,
    candidates: Optional[DataFrame] = None,
    exclude: Optional[DataFrame] = None,
    coldStart: str = "error",
) -> DataFrame:
    """Top-``n`` items for the given users, with original ids, leaving out what they rated.

    Parameters
    ----------
    model : :py:class:`pyspark.ml.PipelineModel`, ALSModel, UnseenItemRankerModel or str
        A fitted pipeline holding an ``ALSModel``, a :py:class:`~spark_recs.PopularityModel` or an
        :py:class:`~spark_recs.UnseenItemRankerModel`
        (and usually an ``IdIndexerModel`` that encoded its user and item columns), or the
        path of a saved one.
    users : list or :py:class:`pyspark.sql.DataFrame`
        The users, by their original ids (``["Jane", "Taylor"]``), or a one-column DataFrame.
        Ids given as text for integer ids (``["2"]``, as on a command line) are read as
        integers, integers for string ids as text.
    n : int, default 10
        How many items per user (>= 1).
    rated : :py:class:`pyspark.sql.DataFrame`, optional
        Interactions in original ids, with the user and item columns the pipeline was fit on
        (the IdIndexer's input columns); items a user has a row for are left out. An
        ``UnseenItemRankerModel`` already knows what each user had: ``rated`` then replaces it.
    excludeRated : bool, default True
        Leave out rated items; then ``rated`` is required (unless the model is an
        ``UnseenItemRankerModel``). ``False`` keeps them.
    titles : :py:class:`pyspark.sql.DataFrame`, optional
        Item ids (the item column's name) and ``itemTitleCol``; adds a title column.
    itemTitleCol : str, default 'title'
    history : :py:class:`pyspark.sql.DataFrame`, optional
        Interactions of users the model does not know (users who arrived after the fit), with
        the pipeline's original user and item columns and ``historyRatingCol``: each such user
        is folded in (:py:func:`~spark_recs.fold_in`: its factor solved from these rows and the
        model's item factors, as ALS solves a user) and gets its top ``n`` with these items left
        out. Rows of users the model knows are not read.
    historyRatingCol : str, default 'rating'
    foldIn : dict, optional
        Keywords for :py:func:`~spark_recs.fold_in` (``regParam``, ``alpha``, ``implicitPrefs``,
        ``nonnegative``, ``unknownItems``): needed for a model that does not remember its fit's
        params (a bare ``ALSModel``); an ``UnseenItemRankerModel`` does.
    candidates : :py:class:`pyspark.sql.DataFrame`, optional
        The only items to recommend (items on sale, in stock, in one category), for every user:
        a DataFrame with the item column (original ids). Each must be a catalogue item (an item
        with factors), else a ``ValueError`` names up to 10. Per-user candidate sets are not
        supported (a candidates frame with the user column is refused).
    exclude : :py:class:`pyspark.sql.DataFrame`, optional
        Items never to recommend, besides the rated ones: the item column alone (for every
        user), or the user and item columns (per user; a row whose user is null excludes its
        item for everyone). Items the model does not know need no leaving out.
    coldStart : str, default 'error'
        Users the model does not know (no factors) and who have no rows in ``history``:
        'error' (raise, naming up to 10), 'popular' (the items with the most users in the
        training interactions, ``rated`` or else the ranker's seen items, the rules applied;
        the scores are those user counts) or 'skip' (no rows for them).

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        One row per recommendation: user column, ``rank`` (1 = best), item column, ``score``
        (ALS's prediction), and the title when ``titles`` is given; users in the given order
        is not promised, rows are sorted by user and rank. A user with nothing to recommend
        (it has seen every item, or its scores are all NaN, or the rules leave nothing) keeps
        one row, with null rank, item and score. With ``history`` or ``coldStart='popular'``
        a last column ``source`` says where each user's rows come from: 'model' (its own
        factors), 'fold-in' (factors folded in from ``history``) or 'popular'. Exactly ``n``
        rows per user whenever the catalogue, less what is left out, allows.

    Raises
    ------
    ValueError
        Unknown users under ``coldStart='error'`` (users without factors, in the vocabulary or not;
        naming up to 10 of them; with ``history``, unknown users without rows there), ``n`` < 1, an
        unknown ``coldStart``, no ``rated`` when rated items are to be left out (or, under
        'popular', to be counted for a bare model), candidates that are not catalogue items or name
        users, a pipeline without exactly one recommender, missing columns.
    TypeError
        A users DataFrame whose column's type differs from the model's user ids, or listed
        users that do not fit their type (naming the users, the column and the type).
    FileNotFoundError
        ``model`` is a path where nothing is saved.

    Notes
    -----
    The top ``n`` come from the full-catalogue engine of
    :py:class:`~spark_recs.UnseenItemRankerModel` (``recommendForUserSubset``): the users'
    factors against all item factors, blockwise, with the rated items left out inside the
    scoring, so exactly ``n`` remain whatever a user rated (fewer only when the catalogue runs
    out); ties by item id. Candidates and global exclusions restrict the catalogue the users
    are scored against, per-user exclusions join the rated items (``spark_recs.business_rules``),
    so the rules cost no over-fetching. Jobs: one that looks for unknown users, the engine's
    (the rated pairs per user, the catalogue's size, the users' count) and the result's; one
    more checking ``candidates``; with ``history``, fold_in's check, the new users' numbering
    (an ``IdIndexer`` fit) and a second engine run for them; with 'popular', the popularity
    count (``PopularityRecommender``) and a third engine run. Nothing per user is collected
    to the driver.

    Examples
    --------
    >>> from pyspark.ml import Pipeline
    >>> from pyspark.ml.recommendation import ALS
    >>> from spark_recs import IdIndexer, recommend_for_users
    >>> plays = spark.createDataFrame(
    ...     [("jane", "a", 3.0), ("jane", "b", 1.0), ("taylor", "a", 5.0), ("taylor", "c", 2.0),
    ...      ("sam", "b", 4.0), ("sam", "c", 1.0), ("sam", "d", 2.0)], ["user", "item", "plays"])
    >>> model = Pipeline(stages=[
    ...     IdIndexer(inputCols=["user", "item"], outputCols=["u", "i"]),
    ...     ALS(userCol="u", itemCol="i", ratingCol="plays", implicitPrefs=True, rank=2, seed=1),
    ... ]).fit(plays)
    >>> recs = recommend_for_users(model, ["jane", "taylor"], n=2, rated=plays)
    >>> recs.columns
    ['user', 'rank', 'item', 'score']
    >>> sorted((r.user, r.item) for r in recs.collect())  # rated items are left out
    [('jane', 'c'), ('jane', 'd'), ('taylor', 'b'), ('taylor', 'd')]
    >>> on_sale = spark.createDataFrame([("b",), ("c",)], ["item"])
    >>> recs = recommend_for_users(model, ["jane", "newcomer"], n=2, rated=plays, candidates=on_sale,
    ...                            coldStart="popular")
    >>> [(r.user, r.item, r.source) for r in recs.collect()]  # b and c: 2 users each, ties by index
    [('jane', 'c', 'model'), ('newcomer', 'b', 'popular'), ('newcomer', 'c', 'popular')]
    """
    recommender, indexer = als_and_indexer(model)
    als = recommender
    spark = SparkSession.active() if not isinstance(users, DataFrame) else users.sparkSession
    user_idx, item_idx = als.getUserCol(), als.getItemCol()
    (user_col, user_vocab), (item_col, item_vocab) = original_ids(als, indexer)
    require_param(_NAME, "n", n, n >= 1, "be >= 1", f"items per user of userCol '{user_col}'")
    require_choice(_NAME, "coldStart", coldStart, COLD_START)
    encoded = encode_ids(spark, users, user_col, user_vocab, _UID, _NAME, "users", "userCol", unknown="keep")
    if excludeRated and rated is None and not isinstance(recommender, UnseenItemRankerModel):
        raise ValueError(
            f"{_NAME}: pass the interactions as rated= to leave rated items out, or excludeRated=False"
        )
    inner: Any = recommender.model if isinstance(recommender, UnseenItemRankerModel) else recommender
    rules = item_rules(_NAME, candidates, exclude, user_col, item_col, item_vocab, inner.itemFactors)
    encoded, new, cold = _known_new_cold(recommender, encoded, history, user_col, coldStart)
    ranker = _ranker(
        recommender, rated if excludeRated else None, user_col, item_col, user_vocab, item_vocab,
        excludeRated, rules, encoded,
    )
    result = _flat(ranker.recommendForUserSubset(encoded.select(F.col(_UID).alias(user_idx)), n),
                   encoded, user_idx, item_idx, user_col, item_col, item_vocab)
    marked = history is not None or coldStart == "popular"
    if marked:
        result = result.withColumn("source", F.lit("model"))
    if new is not None and history is not None:
        result = result.unionByName(_recommend_new(
            recommender, indexer, new, history, n, historyRatingCol, foldIn or {}, excludeRated,
            user_col, item_col, item_vocab, rules,
        ).withColumn("source", F.lit("fold-in")))
    if cold is not None:
        result = result.unionByName(_recommend_popular(
            recommender, cold, rated, n, user_col, item_col, user_vocab, item_vocab, rules,
        ).withColumn("source", F.lit("popular")))
    extra = ["source"] if marked else []
    if titles is not None:
        require_column(_NAME, "titles", item_col, titles)
        require_column(_NAME, "itemTitleCol", itemTitleCol, titles)
        result = result.join(titles.select(column(item_col), column(itemTitleCol)), item_col, "left").select(
            column(user_col), "rank", column(item_col), "score", column(itemTitleCol), *extra
        )
    return result.orderBy(column(user_col), "rank")


_UID, _IID = "__spark_recs_user_idx", "__spark_recs_item_idx"


def _flat(recs: DataFrame, encoded: DataFrame, user_idx: str, item_idx: str, user_col: str, item_col: str,
          item_vocab: Optional[DataFrame]) -> DataFrame:
    """The engine's top-N arrays as rows (user, rank, item, score) in original ids; a user with
    nothing to give keeps one row, with null rank, item and score. ``encoded`` maps the
    original users (``user_col``) to the engine's (``_UID``)."""
    flat = recs.select(
        column(user_idx).alias(_UID), F.posexplode_outer("recommendations").alias("pos", "rec")
    ).select(
        _UID, (F.col("pos") + 1).alias("rank"), F.col("rec")[item_idx].alias(_IID),
        F.col("rec.rating").alias("score"),
    )
    flat = encoded.select(column(user_col), _UID).join(flat, _UID).drop(_UID)
    if item_vocab is not None:
        names = item_vocab.select(F.col("index").alias(_IID), F.col("value").alias(item_col))
        flat = flat.join(names, _IID, "left")  # a user with nothing to give keeps its row
    else:
        flat = flat.withColumn(item_col, F.col(_IID))
    return flat.select(column(user_col), "rank", column(item_col), "score")


def _known_new_cold(
    recommender: Any, encoded: DataFrame, history: Optional[DataFrame], user_col: str, cold_start: str
) -> Tuple[DataFrame, Optional[DataFrame], Optional[DataFrame]]:
    """The asked users the model has factors for (``encoded``'s rows); those it has not who have
    rows in ``history`` (their ``user_col``; None without history); and the others, who get
    ``cold_start``: 'error' raises naming up to 10 (one job), 'skip' leaves them out, 'popular'
    returns them (their ``user_col``; else None)."""
    if history is not None:
        require_column(_NAME, "history", user_col, history)
    inner: Any = recommender.model if isinstance(recommender, UnseenItemRankerModel) else recommender
    has = inner.userFactors.select(F.col("id").alias(_UID), F.lit(True).alias("__has"))
    marked = encoded.join(has, _UID, "left")
    unknown = marked.where(F.col("__has").isNull()).select(user_col)
    new = cold = None
    if history is not None:
        with_rows = history.select(user_col).distinct()
        new = unknown.join(with_rows, user_col, "left_semi")
        cold = unknown.join(with_rows, user_col, "left_anti")
    else:
        cold = unknown
    if cold_start == "error":
        missing = [r[0] for r in cold.limit(10).collect()]
        if missing:
            rows = " and have no rows in history" if history is not None else ""
            raise ValueError(
                f"{_NAME}: users {missing} are not known to the model{rows} (userCol '{user_col}'); "
                "coldStart='popular' recommends them the most popular items, 'skip' leaves them out"
            )
    return marked.where(F.col("__has")).drop("__has"), new, cold if cold_start == "popular" else None


def _recommend_new(
    recommender: Any, indexer: Any, new: DataFrame, history: DataFrame, n: int, rating: str,
    fold_params: Dict[str, Any], exclude: bool, user_col: str, item_col: str, item_vocab: Optional[DataFrame],
    rules: ItemRules,
) -> DataFrame:
    """Top-N for users the model does not know: folded in from their ``history`` rows, ranked by
    the engine with those items left out (unless ``exclude`` is False)."""
    inner: Any = recommender.model if isinstance(recommender, UnseenItemRankerModel) else recommender
    rows = history.join(new, user_col, "left_semi")
    folded = fold_in_with(recommender, indexer, rows, ratingCol=rating, **fold_params)
    seen = rows.select(column(user_col), column(item_col))
    seen = seen if exclude else seen.limit(0)
    if item_vocab is not None:
        codes = item_vocab.select(F.col("value").alias(item_col), F.col("index").alias(_IID))
        seen = seen.join(codes, item_col)
    else:
        seen = seen.withColumn(_IID, column(item_col))
    seen = seen.select(column(user_col), _IID)
    return _top_for(inner, new, folded, factor_rank(inner), inner.itemFactors, seen, n, user_col, item_col,
                    item_vocab, rules)


def _recommend_popular(
    recommender: Any, cold: DataFrame, rated: Optional[DataFrame], n: int, user_col: str, item_col: str,
    user_vocab: Optional[DataFrame], item_vocab: Optional[DataFrame], rules: ItemRules,
) -> DataFrame:
    """Top-N for users with nothing to go on: the items with the most users in the training
    interactions (``rated``, else the ranker's seen items), by the engine with a rank-1
    :py:class:`~spark_recs.PopularityModel` (ties by item id), the rules applied."""
    inner: Any = recommender.model if isinstance(recommender, UnseenItemRankerModel) else recommender
    user_idx, item_idx = inner.getUserCol(), inner.getItemCol()
    if rated is not None:
        pairs = _encoded_pairs(rated, user_col, item_col, user_idx, item_idx, user_vocab, item_vocab)
    elif isinstance(recommender, UnseenItemRankerModel):
        pairs = _seen_pairs(recommender, user_idx, item_idx)
    else:
        raise ValueError(
            f"{_NAME}: coldStart='popular' counts the training interactions: pass them as rated= (an "
            "UnseenItemRankerModel knows them)"
        )
    popular = PopularityRecommender(userCol=user_idx, itemCol=item_idx, ratingCol=_ONE).fit(
        pairs.withColumn(_ONE, F.lit(1.0))
    )
    ones = cold.select(column(user_col), F.array(F.lit(1.0)).cast("array<float>").alias("features"))
    nothing = cold.select(column(user_col), F.lit(None).cast("int").alias(_IID)).limit(0)
    return _top_for(inner, cold, ones, 1, popular.itemFactors, nothing, n, user_col, item_col, item_vocab,
                    rules)


def _top_for(
    inner: Any, asked: DataFrame, factors: DataFrame, rank: int, item_factors: DataFrame, seen: DataFrame,
    n: int, user_col: str, item_col: str, item_vocab: Optional[DataFrame], rules: ItemRules,
) -> DataFrame:
    """The engine's top-N for users outside the model: ``asked`` (their ``user_col``) with
    ``factors`` (``user_col``, features) against ``item_factors``, ``seen`` (``user_col``,
    ``_IID``) and the rules' items left out, in the rows :py:func:`_flat` gives."""
    user_idx, item_idx = inner.getUserCol(), inner.getItemCol()
    numbering = IdIndexer(inputCol=user_col, outputCol=_UID).fit(asked)
    numbered = numbering.transform(asked)
    users = numbering.transform(factors).select(F.col(_UID).alias("id"), "features")
    left_out = numbering.transform(seen).select(F.col(_UID).alias(user_idx), F.col(_IID).alias(item_idx))
    extra = rules.excluded_pairs(numbered, user_col, _UID)
    if extra is not None:
        extra = extra.select(F.col(_UID).alias(user_idx), F.col(ITEM).alias(item_idx))
        left_out = left_out.unionByName(extra)
    engine = UnseenItemRankerModel.fromFitted(
        Factors(users, rules.catalogue(item_factors), rank, user_idx, item_idx), left_out
    )
    recs = engine.recommendForUserSubset(numbered.select(F.col(_UID).alias(user_idx)), n)
    return _flat(recs, numbered, user_idx, item_idx, user_col, item_col, item_vocab)


def _seen_pairs(ranker: UnseenItemRankerModel, user_idx: str, item_idx: str) -> DataFrame:
    """The ranker's seen items as (user_idx, item_idx) pairs."""
    return ranker.seenItems.select(F.col("user").alias(user_idx), F.explode("items").alias(item_idx))


def _encoded_pairs(
    rated: DataFrame, user_col: str, item_col: str, user_idx: str, item_idx: str,
    user_vocab: Optional[DataFrame], item_vocab: Optional[DataFrame],
) -> DataFrame:
    """``rated``'s distinct (user, item) pairs in the model's ids; pairs it does not know dropped
    (nothing to leave out or count for them)."""
    require_column(_NAME, "rated", user_col, rated)
    require_column(_NAME, "rated", item_col, rated)
    pairs = rated.select(column(user_col), column(item_col)).distinct()
    for col_name, idx_name, vocab in ((user_col, user_idx, user_vocab), (item_col, item_idx, item_vocab)):
        if vocab is not None:
            codes = vocab.select(F.col("value").alias(col_name), F.col("index").alias(idx_name))
            pairs = pairs.join(codes, col_name)
        else:
            pairs = pairs.withColumn(idx_name, column(col_name))
    return pairs.select(column(user_idx), column(item_idx))


def _ranker(
    recommender: Any, rated: Optional[DataFrame], user_col: str, item_col: str,
    user_vocab: Optional[DataFrame], item_vocab: Optional[DataFrame], exclude: bool, rules: ItemRules,
    encoded: DataFrame,
) -> UnseenItemRankerModel:
    """The full-catalogue engine over the recommender's factors, with the rated pairs (in
    original ids, encoded here) and the rules' per-user exclusions of the ``encoded`` users as
    the items to leave out (no rated pairs when ``exclude`` is False), and the rules' catalogue."""
    extra = rules.excluded_pairs(encoded, user_col, _UID)
    if isinstance(recommender, UnseenItemRankerModel) and (rated is None and exclude) \
            and extra is None and not rules.restricts_catalogue:
        return recommender
    # an ALSModel or PopularityModel: its ids and factors
    inner: Any = recommender.model if isinstance(recommender, UnseenItemRankerModel) else recommender
    user_idx, item_idx = inner.getUserCol(), inner.getItemCol()
    spark = inner.userFactors.sparkSession
    if rated is not None:
        pairs = _encoded_pairs(rated, user_col, item_col, user_idx, item_idx, user_vocab, item_vocab)
    elif isinstance(recommender, UnseenItemRankerModel) and exclude:
        pairs = _seen_pairs(recommender, user_idx, item_idx)
    else:
        pairs = spark.createDataFrame([], f"`{user_idx}` int, `{item_idx}` int")
    if extra is not None:
        pairs = pairs.unionByName(extra.select(F.col(_UID).alias(user_idx), F.col(ITEM).alias(item_idx)))
    factors: Any = inner
    if rules.restricts_catalogue:
        catalogue = rules.catalogue(inner.itemFactors)
        factors = Factors(inner.userFactors, catalogue, factor_rank(inner), user_idx, item_idx)
    return UnseenItemRankerModel.fromFitted(factors, pairs)


_ONE = "__spark_recs_one"
