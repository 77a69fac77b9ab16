"""A pipeline's fitted recommender, the IdIndexerModel that encodes its ids, and ids given by
a caller turned into the model's (the errors name the caller)."""

import re
from typing import Any, List, Optional, Sequence, Tuple, Union

from pyspark.errors import AnalysisException, PySparkTypeError
from pyspark.ml import PipelineModel
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegralType, StringType, StructField, StructType

from spark_recs._validation import column, same_id_type, spark_error_is
from spark_recs.indexer import IdIndexerModel
from spark_recs.popularity import PopularityModel
from spark_recs.ranking import UnseenItemRankerModel

__all__ = ["RECOMMENDERS", "als_and_indexer", "encode_ids", "original_ids"]

_NAME = "recommend_for_users"

#: The fitted recommenders a pipeline may hold: factor models the full-catalogue engine scores.
RECOMMENDERS = (ALSModel, PopularityModel, UnseenItemRankerModel)


def als_and_indexer(
    model: Union[PipelineModel, ALSModel, PopularityModel, UnseenItemRankerModel, str], name: str = _NAME,
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


def factor_rank(inner: Any) -> int:
    """The rank of a factor model: its ``rank``, or the length of its first item vector (one
    small job) for a model that has none."""
    return int(inner.rank) if hasattr(inner, "rank") else len(inner.itemFactors.first()["features"])


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


def encode_ids(
    spark: SparkSession, ids: Union[Sequence[Any], DataFrame], col: str, vocab: Optional[DataFrame],
    index: str, name: str, what: str, param: str, unknown: str = "error",
) -> DataFrame:
    """The requested ids (a list, or a one-column DataFrame) as a DataFrame of ``col`` (original
    ids, distinct) and ``index`` (the model's integer id), through ``vocab`` when the ids are
    encoded (an ``IdIndexerModel`` vocabulary: value, index).

    Raises ``ValueError`` naming up to 10 ids the model does not know (one job looks for them),
    an empty list or a DataFrame of several columns, and ``TypeError`` for ids of the wrong type;
    the messages name ``name`` (the caller), ``what`` ('users', 'items') and ``param`` ('userCol').
    With ``unknown='keep'`` unknown ids stay, with a null ``index``, and nothing is checked.
    """
    wanted = _ids_frame(spark, ids, col, vocab, name, what, param)
    if vocab is not None:
        codes = vocab.select(F.col("value").alias(col), F.col("index").alias(index))
        encoded = wanted.join(codes, col, "left")
    else:
        encoded = wanted.withColumn(index, column(col))
    if unknown == "keep":
        return encoded
    missing = [r[0] for r in encoded.where(F.col(index).isNull()).select(col).limit(10).collect()]
    if missing:
        raise ValueError(f"{name}: {what} {missing} are not known to the model ({param} '{col}')")
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
