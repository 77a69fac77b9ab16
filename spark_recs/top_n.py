"""Top-N recommendations for named users, in their original ids, from a fitted or saved pipeline.

(Until 0.1.0 this module was ``spark_recs.recommend``, a near-twin of ``spark_recs.recommendation``,
which holds :py:class:`~spark_recs.ImplicitALS`; ``spark_recs.recommend`` still re-exports it.)
"""

import re
from typing import Any, List, Optional, Sequence, Tuple, Union

from pyspark.errors import AnalysisException, PySparkTypeError
from pyspark.ml import PipelineModel
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegralType, StringType, StructField, StructType

from spark_recs._validation import column, require_column, require_param, same_id_type, spark_error_is
from spark_recs.indexer import IdIndexerModel
from spark_recs.popularity import PopularityModel
from spark_recs.ranking import UnseenItemRankerModel

__all__ = [
    "RECOMMENDERS", "all_users", "als_and_indexer", "encode_ids", "original_ids", "recommend_for_users",
]

_NAME = "recommend_for_users"

#: The fitted recommenders a pipeline may hold: factor models the full-catalogue engine scores.
RECOMMENDERS = (ALSModel, PopularityModel, UnseenItemRankerModel)


def als_and_indexer(
    model: Union[PipelineModel, ALSModel, str], name: str = _NAME,
) -> Tuple[Union[ALSModel, PopularityModel, UnseenItemRankerModel], Optional[IdIndexerModel]]:
    """The ALS model of a pipeline and the ``IdIndexerModel`` that encodes its ids, if any.

    The indexer is found by what it encodes, wherever it stands in the pipeline: the one whose
    :py:attr:`~spark_recs.IdIndexerModel.outputColumns` hold ALS's ``userCol`` or ``itemCol``.

    Parameters
    ----------
    model : :py:class:`pyspark.ml.PipelineModel`, ALSModel or str
        A fitted pipeline, a bare ``ALSModel`` (or one of :py:data:`RECOMMENDERS`), or the
        path of a saved pipeline.
    name : str, default 'recommend_for_users'
        The caller, named by the errors.

    Returns
    -------
    tuple of (ALSModel or another of :py:data:`RECOMMENDERS`, IdIndexerModel or None)

    Raises
    ------
    ValueError
        The pipeline holds no ALS model or several, or several indexers encode its columns.
    FileNotFoundError
        ``model`` is a path where nothing is saved.

    Notes
    -----
    Runs no Spark job, unless ``model`` is a path: then loading it runs Spark's reads.
    """
    if isinstance(model, str):
        model = _load_pipeline(model, name)
    stages = model.stages if isinstance(model, PipelineModel) else [model]
    als = [s for s in stages if isinstance(s, RECOMMENDERS)]
    if len(als) != 1:
        raise ValueError(
            f"{name}: model must hold exactly one ALSModel, PopularityModel or UnseenItemRankerModel, found "
            f"{len(als)} in "
            f"{[type(s).__name__ for s in stages]}"
        )
    wanted = {als[0].getUserCol(), als[0].getItemCol()}
    indexers = [s for s in stages if isinstance(s, IdIndexerModel) and wanted & set(s.outputColumns)]
    if len(indexers) > 1:
        raise ValueError(f"{name}: several IdIndexerModels encode the ALS columns {sorted(wanted)}")
    return als[0], (indexers[0] if indexers else None)


def original_ids(
    recommender: Any, indexer: Optional[IdIndexerModel]
) -> Tuple[Tuple[str, Optional[DataFrame]], Tuple[str, Optional[DataFrame]]]:
    """For the recommender's user and item columns: the original column's name and the
    vocabulary (value, index) that encodes it, or the column itself and None when no indexer
    encodes it. Runs no Spark job."""
    out: List[Tuple[str, Optional[DataFrame]]] = []
    for idx in (recommender.getUserCol(), recommender.getItemCol()):
        if indexer is not None and idx in indexer.outputColumns:
            out.append(indexer.vocabularyOf(idx))
        else:
            out.append((idx, None))
    return out[0], out[1]


def _load_pipeline(path: str, name: str) -> PipelineModel:
    """``PipelineModel.load(path)``; ``FileNotFoundError`` naming the path when nothing is there
    (Spark raises an ``AnalysisException``)."""
    try:
        return PipelineModel.load(path)
    except AnalysisException as e:
        if spark_error_is(e, "PATH_NOT_FOUND"):
            raise FileNotFoundError(f"{name}: no PipelineModel saved at '{path}' (no such path)") from None
        raise


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

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        One row per recommendation: user column, ``rank`` (1 = best), item column, ``score``
        (ALS's prediction), and the title when ``titles`` is given; users in the given order
        is not promised, rows are sorted by user and rank. A user with nothing to recommend
        (it has seen every item, or its scores are all NaN) keeps one row, with null rank,
        item and score.

    Raises
    ------
    ValueError
        Unknown users (naming up to 10 of them), ``n`` < 1, no ``rated`` when rated items are
        to be left out, a pipeline without exactly one recommender, missing columns.
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
    out); ties by item id. Jobs: one that looks for unknown users, the engine's (the rated
    pairs per user, the catalogue's size, the users' count) and the result's. Nothing per user
    is collected to the driver.

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
    """
    recommender, indexer = als_and_indexer(model)
    als = recommender
    spark = SparkSession.active() if not isinstance(users, DataFrame) else users.sparkSession
    user_idx, item_idx = als.getUserCol(), als.getItemCol()
    (user_col, user_vocab), (item_col, item_vocab) = original_ids(als, indexer)
    require_param(_NAME, "n", n, n >= 1, "be >= 1", f"items per user of userCol '{user_col}'")
    uid, iid = "__spark_recs_user_idx", "__spark_recs_item_idx"
    encoded = encode_ids(spark, users, user_col, user_vocab, uid, _NAME, "users", "userCol")
    if excludeRated and rated is None and not isinstance(recommender, UnseenItemRankerModel):
        raise ValueError(
            f"{_NAME}: pass the interactions as rated= to leave rated items out, or excludeRated=False"
        )
    ranker = _ranker(
        recommender, rated if excludeRated else None, user_col, item_col, user_vocab, item_vocab, excludeRated
    )
    recs = ranker.recommendForUserSubset(encoded.select(F.col(uid).alias(user_idx)), n)
    flat = recs.select(
        column(user_idx).alias(uid), F.posexplode_outer("recommendations").alias("pos", "rec")
    ).select(
        uid, (F.col("pos") + 1).alias("rank"), F.col("rec")[item_idx].alias(iid),
        F.col("rec.rating").alias("score"),
    )
    flat = encoded.join(flat, uid).drop(uid)
    if item_vocab is not None:
        names = item_vocab.select(F.col("index").alias(iid), F.col("value").alias(item_col))
        flat = flat.join(names, iid, "left")  # a user with nothing to give keeps its row
    else:
        flat = flat.withColumn(item_col, F.col(iid))
    flat = flat.drop(iid)
    result = flat.select(column(user_col), "rank", column(item_col), "score")
    if titles is not None:
        require_column(_NAME, "titles", item_col, titles)
        require_column(_NAME, "itemTitleCol", itemTitleCol, titles)
        result = result.join(titles.select(column(item_col), column(itemTitleCol)), item_col, "left").select(
            column(user_col), "rank", column(item_col), "score", column(itemTitleCol)
        )
    return result.orderBy(column(user_col), "rank")


def encode_ids(
    spark: SparkSession, ids: Union[Sequence[Any], DataFrame], col: str, vocab: Optional[DataFrame],
    index: str, name: str, what: str, param: str,
) -> DataFrame:
    """The requested ids (a list, or a one-column DataFrame) as a DataFrame of ``col`` (original
    ids, distinct) and ``index`` (the model's integer id), through ``vocab`` when the ids are
    encoded (an ``IdIndexerModel`` vocabulary: value, index).

    Raises ``ValueError`` naming up to 10 ids the model does not know (one job looks for them),
    an empty list or a DataFrame of several columns, and ``TypeError`` for ids of the wrong type;
    the messages name ``name`` (the caller), ``what`` ('users', 'items') and ``param`` ('userCol').
    """
    wanted = _ids_frame(spark, ids, col, vocab, name, what, param)
    if vocab is not None:
        codes = vocab.select(F.col("value").alias(col), F.col("index").alias(index))
        encoded = wanted.join(codes, col, "left")
    else:
        encoded = wanted.withColumn(index, column(col))
    unknown = [r[0] for r in encoded.where(F.col(index).isNull()).select(col).limit(10).collect()]
    if unknown:
        raise ValueError(f"{name}: {what} {unknown} are not known to the model ({param} '{col}')")
    return encoded


def _ids_frame(
    spark: SparkSession, ids: Union[Sequence[Any], DataFrame], col: str, vocab: Optional[DataFrame],
    name: str, what: str, param: str,
) -> DataFrame:
    """The requested ids as a one-column DataFrame named ``col``."""
    if isinstance(ids, DataFrame):
        if len(ids.columns) != 1:
            raise ValueError(f"{name}: {what} must have one column, found {ids.columns}")
        found = ids.schema.fields[0].dataType
        if vocab is not None and not same_id_type(found, vocab.schema["value"].dataType):
            raise TypeError(
                f"{name}: {what} column '{ids.columns[0]}' has type {found.simpleString()}, but the "
                f"model's {param} '{col}' ids are {vocab.schema['value'].dataType.simpleString()}"
            )
        return ids.select(F.col(ids.columns[0]).alias(col)).distinct()
    listed: List[Any] = list(dict.fromkeys(ids))
    if not listed:
        raise ValueError(f"{name}: {what} is empty")
    dtype = vocab.schema["value"].dataType if vocab is not None else None
    if dtype is None:
        return spark.createDataFrame([(u,) for u in listed], [col])
    if isinstance(dtype, IntegralType):  # "2" for the integer id 2, as typed on a command line
        listed = list(dict.fromkeys(
            int(u) if isinstance(u, str) and _INTEGER.match(u) else u for u in listed
        ))
    elif isinstance(dtype, StringType):
        listed = list(dict.fromkeys(str(u) if _fits(u, IntegralType()) else u for u in listed))
    try:
        return spark.createDataFrame([(u,) for u in listed], StructType([StructField(col, dtype, True)]))
    except (PySparkTypeError, TypeError, ValueError):
        wrong = [u for u in listed if not _fits(u, dtype)][:10]
        raise TypeError(
            f"{name}: {what} {wrong} do not fit the model's {param} '{col}' ids, which are "
            f"{dtype.simpleString()}"
        ) from None


#: An integer as text: what a user id of an integer column looks like on a command line.
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


def _fits(value: Any, dtype: Any) -> bool:
    """Whether ``value`` can stand in a column of ``dtype`` (for the error message)."""
    if isinstance(dtype, IntegralType):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(dtype, StringType):
        return isinstance(value, str)
    return True


def _ranker(
    recommender: Any, rated: Optional[DataFrame], user_col: str, item_col: str,
    user_vocab: Optional[DataFrame], item_vocab: Optional[DataFrame], exclude: bool,
) -> UnseenItemRankerModel:
    """The full-catalogue engine over the recommender's factors, with the rated pairs (in
    original ids, encoded here) as the items to leave out; none when ``exclude`` is False."""
    if isinstance(recommender, UnseenItemRankerModel) and (rated is None and exclude):
        return recommender
    # an ALSModel or PopularityModel: its ids and factors
    inner: Any = recommender.model if isinstance(recommender, UnseenItemRankerModel) else recommender
    user_idx, item_idx = inner.getUserCol(), inner.getItemCol()
    spark = inner.userFactors.sparkSession
    if rated is None:
        pairs = spark.createDataFrame([], f"`{user_idx}` int, `{item_idx}` int")
    else:
        require_column(_NAME, "rated", user_col, rated)
        require_column(_NAME, "rated", item_col, rated)
        pairs = rated.select(column(user_col), column(item_col)).distinct()
        for col_name, idx_name, vocab in ((user_col, user_idx, user_vocab), (item_col, item_idx, item_vocab)):
            if vocab is not None:
                pairs = pairs.join(
                    vocab.select(F.col("value").alias(col_name), F.col("index").alias(idx_name)), col_name
                )
            else:
                pairs = pairs.withColumn(idx_name, column(col_name))
        pairs = pairs.select(column(user_idx), column(item_idx))
    return UnseenItemRankerModel.fromFitted(inner, pairs)
