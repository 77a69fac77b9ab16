"""IdIndexer: dense integer ids that ALS accepts, learned from data, and back again."""

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, cast

from pyspark import keyword_only
from pyspark.ml.base import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import (
    HasHandleInvalid,
    HasInputCol,
    HasInputCols,
    HasOutputCol,
    HasOutputCols,
)
from pyspark.ml.util import (
    DefaultParamsWriter,
    MLReadable,
    MLReader,
    MLWritable,
)
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DataType,
    IntegralType,
    StringType,
    StructType,
)

from spark_recs import _persistence as P
from spark_recs import _validation as V
from spark_recs._compat import metadata_context
from spark_recs._dense import INDEX, counted_dense_index
from spark_recs._sizes import fits_broadcast
from spark_recs._validation import column as col

__all__ = ["IdIndexer", "IdIndexerModel"]

VALUE = "value"
COUNT = "count"
_ORDER_TYPES = ["frequencyDesc", "frequencyAsc", "valueAsc", "valueDesc"]
_ROW_OVERHEAD_BYTES = 32  # UnsafeRow: null bits + one 8-byte word per field of (value, index)
_COLUMN = "__column"  # the input column's number in the stacked vocabulary of all columns
#: What the transform's job fails with on a null lookup under handleInvalid='error'
_INVALID_MARK = "has an id unseen at fit time, or a null id"


def _order(order_type: str, values: Sequence[Column]) -> List[Column]:
    """The total order of a vocabulary: ties in frequency are broken by value ascending.

    ``values`` are the value columns of a stacked vocabulary (one per input column; on each row
    all but one are null), so ordering by all of them orders each column's rows by its own value.
    """
    count = F.col(COUNT)
    return {
        "frequencyDesc": [count.desc(), *[v.asc() for v in values]],
        "frequencyAsc": [count.asc(), *[v.asc() for v in values]],
        "valueAsc": [v.asc() for v in values],
        "valueDesc": [v.desc() for v in values],
    }[order_type]


class _IdIndexerParams(HasHandleInvalid, HasInputCol, HasOutputCol, HasInputCols, HasOutputCols):
    """Params for :py:class:`IdIndexer` and :py:class:`IdIndexerModel`."""

    handleInvalid: "Param[str]" = Param(
        Params._dummy(),
        "handleInvalid",
        "how to handle ids that were not seen at fit time, and null ids, at transform time. "
        "Options are 'error' (raise, naming the column, the count and a few examples), "
        "'skip' (drop those rows) or 'keep' (give them the index n, the vocabulary's size, "
        "which no fitted id has, so ALS's coldStartStrategy treats them as unknown).",
        typeConverter=TypeConverters.toString,
    )

    orderType: "Param[str]" = Param(
        Params._dummy(),
        "orderType",
        "how to order the ids of a column; the first gets index 0. Options are "
        "'frequencyDesc' (most frequent first), 'frequencyAsc', 'valueAsc', 'valueDesc'. "
        "Ties in frequency are broken by value ascending.",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._setDefault(handleInvalid="error", orderType="frequencyDesc")

    def getOrderType(self) -> str:
        """Gets the value of :py:attr:`orderType` or its default value 'frequencyDesc'."""
        return self.getOrDefault(self.orderType)

    def _columnPairs(self) -> Tuple[List[str], List[str]]:
        """The (input, output) column names, checked: one of inputCol/inputCols, same lengths."""
        stage = V.stage_name(self)
        single, multi = self.isSet(self.inputCol), self.isSet(self.inputCols)
        if single and multi:
            raise ValueError(f"{stage}: set inputCol or inputCols, not both")
        if multi:
            ins = self.getInputCols()
            if not self.isSet(self.outputCols):
                raise ValueError(f"{stage}: inputCols is set, so outputCols must be set too")
            outs = self.getOutputCols()
            if len(ins) != len(outs) or not ins:
                raise ValueError(
                    f"{stage}: inputCols and outputCols must have the same, non-zero length, "
                    f"found {len(ins)} and {len(outs)}"
                )
        elif single:
            if self.isSet(self.outputCols):
                raise ValueError(f"{stage}: inputCol is set, so use outputCol, not outputCols")
            ins, outs = [self.getInputCol()], [self.getOutputCol()]
        else:
            raise ValueError(f"{stage}: set inputCol (with outputCol) or inputCols (with outputCols)")
        V.require_distinct(self, "inputCols", ins)
        V.require_distinct(self, "outputCols", outs)
        both = sorted(set(ins) & set(outs))
        if both:
            raise ValueError(f"{stage}: outputCols {both} are also inputCols")
        return ins, outs

    def _inputParam(self) -> str:
        return "inputCols" if self.isSet(self.inputCols) else "inputCol"

    def _outputParam(self) -> str:
        return "outputCols" if self.isSet(self.outputCols) else "outputCol"

    def _checkChoices(self) -> None:
        V.require_choice(self, "handleInvalid", self.getHandleInvalid(), V.HANDLE_INVALID)
        V.require_choice(self, "orderType", self.getOrderType(), _ORDER_TYPES)


class IdIndexer(Estimator["IdIndexerModel"], _IdIndexerParams, P.ParamsReadable, P.ParamsWritable):
    """Learns dense integer ids 0..n-1 for one or more id columns, as ALS needs them.

    ALS wants user and item ids that are integers in Int range; real data has string hashes,
    longs or sparse integers. Like :py:class:`pyspark.ml.feature.StringIndexer`, this Estimator
    learns a vocabulary per column; the fitted :py:class:`IdIndexerModel` maps ids to indices
    and decodes indices (also those inside ``recommendForAllUsers`` output) back to ids.

    Parameters
    ----------
    inputCol, outputCol : str, optional
        One id column and the name of its index column.
    inputCols, outputCols : list of str, optional
        Several id columns, each with a vocabulary of its own, and their index columns.
    handleInvalid : str, default 'error'
        Ids unseen at fit time and null ids at transform time: 'error', 'skip' or 'keep'
        (index n, the vocabulary's size, as StringIndexer does; ALS, which has not seen it,
        treats it as a cold-start id).
    orderType : str, default 'frequencyDesc'
        'frequencyDesc', 'frequencyAsc', 'valueAsc' or 'valueDesc'.

    Notes
    -----
    - Input columns may have any atomic type (string, integral, decimal, date, ...); index
      columns are ``IntegerType``, dense from 0 to n - 1.
    - Order: with 'frequencyDesc' the most frequent id gets 0; ids of equal frequency are ordered
      by value ascending (Spark's ordering: strings by their UTF-8 bytes). The order is total, so
      the same data gives the same indices whatever its partitioning.
    - Fitting runs one aggregation job over all columns (counts per id, locally checkpointed
      on the executors, and the totals checked below). Up to 1,000,000 ids in all, the ids are
      numbered lazily in one sorted partition of those counts, with no job of their own; above,
      a distributed sort, a ``localCheckpoint`` and a small job that counts rows per partition
      number them. The vocabulary stays a DataFrame (``value``, ``index``, ``count``); nothing
      per id reaches the driver.
      Null ids in the fit input raise ``ValueError``; so does an empty input.

    Examples
    --------
    >>> df = spark.createDataFrame(
    ...     [("ann", "s1"), ("bob", "s1"), ("ann", "s2"), ("cy", "s1")], ["user", "song"])
    >>> indexer = IdIndexer(inputCols=["user", "song"], outputCols=["user_idx", "song_idx"])
    >>> model = indexer.fit(df)
    >>> model.vocabularySizes
    [3, 2]
    >>> model.transform(df).orderBy("user", "song").show()
    +----+----+--------+--------+
    |user|song|user_idx|song_idx|
    +----+----+--------+--------+
    | ann|  s1|       0|       0|
    | ann|  s2|       0|       1|
    | bob|  s1|       1|       0|
    |  cy|  s1|       2|       0|
    +----+----+--------+--------+
    <BLANKLINE>
    >>> model.vocabularies[0].orderBy("index").show()
    +-----+-----+-----+
    |value|index|count|
    +-----+-----+-----+
    |  ann|    0|    2|
    |  bob|    1|    1|
    |   cy|    2|    1|
    +-----+-----+-----+
    <BLANKLINE>
    >>> unseen = spark.createDataFrame([("dee", "s1")], ["user", "song"])
    >>> model.transform(unseen)
    Traceback (most recent call last):
        ...
    ValueError: IdIndexerModel: inputCols 'user' has 1 row(s) with 1 id(s) unseen at fit time...
    >>> model.setHandleInvalid("keep").transform(unseen).show()
    +----+----+--------+--------+
    |user|song|user_idx|song_idx|
    +----+----+--------+--------+
    | dee|  s1|       3|       0|
    +----+----+--------+--------+
    <BLANKLINE>
    >>> indexer.save(temp_path + "/id-indexer")
    >>> IdIndexer.load(temp_path + "/id-indexer").getOutputCols()
    ['user_idx', 'song_idx']
    >>> model.save(temp_path + "/id-indexer-model")
    >>> loaded = IdIndexerModel.load(temp_path + "/id-indexer-model")
    >>> loaded.uid == model.uid, loaded.vocabularySizes
    (True, [3, 2])
    """

    _input_kwargs: Dict[str, Any]

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: Optional[str] = None,
        outputCol: Optional[str] = None,
        inputCols: Optional[List[str]] = None,
        outputCols: Optional[List[str]] = None,
        handleInvalid: str = "error",
        orderType: str = "frequencyDesc",
    ) -> None:
        super().__init__()
        kwargs = self._input_kwargs
        self.setParams(**kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        inputCol: Optional[str] = None,
        outputCol: Optional[str] = None,
        inputCols: Optional[List[str]] = None,
        outputCols: Optional[List[str]] = None,
        handleInvalid: str = "error",
        orderType: str = "frequencyDesc",
    ) -> "IdIndexer":
        """Sets params for this IdIndexer."""
        kwargs = self._input_kwargs
        return self._set(**kwargs)

    def setInputCol(self, value: str) -> "IdIndexer":
        """Sets the value of :py:attr:`inputCol`."""
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> "IdIndexer":
        """Sets the value of :py:attr:`outputCol`."""
        return self._set(outputCol=value)

    def setInputCols(self, value: List[str]) -> "IdIndexer":
        """Sets the value of :py:attr:`inputCols`."""
        return self._set(inputCols=value)

    def setOutputCols(self, value: List[str]) -> "IdIndexer":
        """Sets the value of :py:attr:`outputCols`."""
        return self._set(outputCols=value)

    def setHandleInvalid(self, value: str) -> "IdIndexer":
        """Sets the value of :py:attr:`handleInvalid`."""
        return self._set(handleInvalid=value)

    def setOrderType(self, value: str) -> "IdIndexer":
        """Sets the value of :py:attr:`orderType`."""
        return self._set(orderType=value)

    def _fit(self, dataset: DataFrame) -> "IdIndexerModel":
        ins, _ = self._columnPairs()
        self._checkChoices()
        param = self._inputParam()
        for name in ins:
            V.require_type(
                self, param, name, dataset, V.is_atomic_id,
                "an atomic type (string, integral, decimal, date, ...)",
            )
        vocabularies, sizes, nbytes = self._fitColumns(dataset, param, ins)
        model = IdIndexerModel._create(vocabularies, sizes, nbytes)
        return self._copyValues(model)

    def _fitColumns(
        self, dataset: DataFrame, param: str, names: Sequence[str]
    ) -> Tuple[List[DataFrame], List[int], List[int]]:
        """Every column's vocabulary from one pass over the data.

        The input columns are stacked (one row per input row and column: the column's number
        and its value in that column's own slot, the other slots null), counted in one
        aggregation and numbered in one sort by (column, orderType): each column's ids then
        hold a contiguous run of the numbering, which less the run's start is its index.
        """
        stage = V.stage_name(self)
        types = [dataset.schema[name].dataType for name in names]
        slots = [f"__value{k}" for k in range(len(names))]
        stacked = F.explode(F.array(*[
            F.struct(F.lit(k).alias(_COLUMN), *[
                (col(name) if j == k else F.lit(None).cast(types[j])).alias(slots[j])
                for j in range(len(names))
            ])
            for k, name in enumerate(names)
        ]))
        counts = (
            dataset.select(stacked.alias("__stacked")).select("__stacked.*")
            .groupBy(_COLUMN, *slots).agg(F.count(F.lit(1)).alias(COUNT))
        )
        sums: Dict[str, Column] = {}
        for k, (slot, dtype) in enumerate(zip(slots, types)):
            mine = F.col(_COLUMN) == F.lit(k)
            sums[f"ids{k}"] = F.when(mine, F.lit(1)).otherwise(F.lit(0))
            sums[f"null_rows{k}"] = F.when(mine & F.col(slot).isNull(), F.col(COUNT)).otherwise(F.lit(0))
            if isinstance(dtype, (StringType, BinaryType)):
                sums[f"value_bytes{k}"] = F.when(mine, F.octet_length(F.col(slot))).otherwise(F.lit(0))
        order = [F.col(_COLUMN).asc(), *_order(self.getOrderType(), [F.col(slot) for slot in slots])]
        # bigint: the columns together may hold more than 2**31 - 1 ids, each column fewer
        indexed = counted_dense_index(counts, order, sums, index_type="bigint")
        totals = indexed.totals
        vocabularies, sizes, nbytes = [], [], []
        start = 0
        for k, (name, slot) in enumerate(zip(names, slots)):
            size = totals[f"ids{k}"]
            if totals[f"null_rows{k}"]:
                raise ValueError(
                    f"{stage}: {param} '{name}' has {totals[f'null_rows{k}']} null value(s); "
                    "drop or fill them before fitting"
                )
            if size == 0:
                raise ValueError(f"{stage}: {param} '{name}': the input DataFrame is empty")
            if size > V.INT_MAX:
                raise ValueError(
                    f"{stage}: {param} '{name}' has {size} distinct ids, more than the "
                    f"{V.INT_MAX} that fit an integer index"
                )
            vocabularies.append(
                indexed.frame.where(F.col(_COLUMN) == F.lit(k)).select(
                    F.col(slot).alias(VALUE), (F.col(INDEX) - F.lit(start)).cast("int").alias(INDEX), COUNT
                )
            )
            sizes.append(size)
            nbytes.append(size * _ROW_OVERHEAD_BYTES + totals.get(f"value_bytes{k}", 8 * size))
            start += size
        return vocabularies, sizes, nbytes


class IdIndexerModel(Model, _IdIndexerParams, MLReadable["IdIndexerModel"], MLWritable):
    """Model fitted by :py:class:`IdIndexer`: maps ids to dense indices and indices back to ids.

    Notes
    -----
    - ``transform`` adds the index columns (``IntegerType``) after the input's columns. It joins
      each vocabulary, with a broadcast hint when the vocabulary's estimated size is within
      ``spark.sql.autoBroadcastJoinThreshold``. With ``handleInvalid='error'`` it runs that
      lookup at once, in one Spark job (plus one per broadcast vocabulary), which fails on the
      first row whose id is unseen at fit time or null (``raise_error``), and keeps the output
      locally checkpointed on the executors, so reading it runs no lookup again. Only after
      such a failure does a second job count those ids, and ``ValueError`` is raised naming
      the column, the counts and a few examples. ``'skip'`` and ``'keep'`` run no job: the
      output is lazy.
    - Rows are never dropped unless ``handleInvalid='skip'``; ``'keep'`` gives unseen and null
      ids the index n (the vocabulary's size), which ALS has never seen, so its
      ``coldStartStrategy`` handles them ('drop' or NaN).
    - :py:meth:`decode` maps index columns back to the original ids, with their original type,
      also inside arrays of structs such as ``ALSModel.recommendForAllUsers`` output.
    - Saved as JSON metadata (params, vocabulary sizes) plus one Parquet vocabulary per column.
    """

    def __init__(self, *, vocabularies: Optional[Sequence[DataFrame]] = None) -> None:
        super().__init__()
        self._vocabularies: List[DataFrame] = list(vocabularies or [])
        self._sizes: List[int] = []
        self._bytes: List[int] = []

    @classmethod
    def _create(cls, vocabularies: List[DataFrame], sizes: List[int], nbytes: List[int]) -> "IdIndexerModel":
        model = cls(vocabularies=vocabularies)
        model._sizes = list(sizes)
        model._bytes = list(nbytes)
        return model

    @property
    def vocabularies(self) -> List[DataFrame]:
        """One DataFrame per input column: ``value`` (the id, original type), ``index`` (int),
        ``count`` (rows with that id at fit time)."""
        return list(self._vocabularies)

    @property
    def vocabularySizes(self) -> List[int]:
        """The number of distinct ids of each input column."""
        return list(self._sizes)

    @property
    def inputColumns(self) -> List[str]:
        """The id columns the model encodes, in order, whether set by ``inputCol`` or
        ``inputCols``; ``vocabularies[i]`` is the vocabulary of ``inputColumns[i]``."""
        return self._columnPairs()[0]

    @property
    def outputColumns(self) -> List[str]:
        """The index columns the model writes, in order, whether set by ``outputCol`` or
        ``outputCols``; ``outputColumns[i]`` holds the indices of ``inputColumns[i]``."""
        return self._columnPairs()[1]

    def vocabularyOf(self, outputCol: str) -> Tuple[str, DataFrame]:
        """The input column that an index column encodes, and that column's vocabulary.

        What a stage downstream of the indexer needs to go back to the original ids: ALS knows
        its ``userCol`` and ``itemCol``, which are this model's output columns.

        Parameters
        ----------
        outputCol : str
            One of :py:attr:`outputColumns`.

        Returns
        -------
        tuple of (str, :py:class:`pyspark.sql.DataFrame`)
            The input column's name and its vocabulary, as in :py:attr:`vocabularies`:
            ``value`` (the id, with the input column's type), ``index`` (int), ``count``
            (rows with that id at fit time).

        Raises
        ------
        ValueError
            If ``outputCol`` is not an output column of the model, or the model has no
            vocabulary.

        Notes
        -----
        Runs no Spark job: the vocabulary is a DataFrame, read when it is used.

        Examples
        --------
        >>> df = spark.createDataFrame([("ann", "s1"), ("bob", "s1")], ["user", "song"])
        >>> model = IdIndexer(inputCols=["user", "song"], outputCols=["u", "s"]).fit(df)
        >>> model.inputColumns, model.outputColumns
        (['user', 'song'], ['u', 's'])
        >>> column, vocabulary = model.vocabularyOf("s")
        >>> column, [(r["value"], r["index"]) for r in vocabulary.collect()]
        ('song', [('s1', 0)])
        >>> model.vocabularyOf("song")
        Traceback (most recent call last):
            ...
        ValueError: IdIndexerModel: outputCols 'song' not in [u, s]
        >>> model.save(temp_path + "/id-indexer-model-vocabulary-of")
        >>> IdIndexerModel.load(temp_path + "/id-indexer-model-vocabulary-of").vocabularyOf("u")[0]
        'user'
        """
        ins, outs = self._columnPairs()
        self._checkModel(ins)
        if outputCol not in outs:
            raise ValueError(
                f"{V.stage_name(self)}: {self._outputParam()} '{outputCol}' not in [{', '.join(outs)}]"
            )
        i = outs.index(outputCol)
        return ins[i], self._vocabularies[i]

    def setInputCol(self, value: str) -> "IdIndexerModel":
        """Sets the value of :py:attr:`inputCol`."""
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> "IdIndexerModel":
        """Sets the value of :py:attr:`outputCol`."""
        return self._set(outputCol=value)

    def setInputCols(self, value: List[str]) -> "IdIndexerModel":
        """Sets the value of :py:attr:`inputCols`."""
        return self._set(inputCols=value)

    def setOutputCols(self, value: List[str]) -> "IdIndexerModel":
        """Sets the value of :py:attr:`outputCols`."""
        return self._set(outputCols=value)

    def setHandleInvalid(self, value: str) -> "IdIndexerModel":
        """Sets the value of :py:attr:`handleInvalid`."""
        return self._set(handleInvalid=value)

    # -- transform -------------------------------------------------------------------------

    def _checkModel(self, ins: List[str]) -> None:
        if not self._vocabularies:
            raise ValueError(
                f"{V.stage_name(self)}: the model has no vocabulary; fit an IdIndexer or load a saved model"
            )
        if len(ins) != len(self._vocabularies):
            raise ValueError(
                f"{V.stage_name(self)}: {self._inputParam()} names {len(ins)} column(s) but the "
                f"model has {len(self._vocabularies)} vocabularies"
            )

    def _vocabularyType(self, i: int) -> DataType:
        return self._vocabularies[i].schema[VALUE].dataType

    def _broadcastable(self, dataset: DataFrame, i: int) -> bool:
        return fits_broadcast(dataset.sparkSession, self._bytes[i])

    def _lookup(self, dataset: DataFrame, i: int, key: str, target: str, by_value: bool) -> DataFrame:
        """Vocabulary ``i`` as a two-column join side: ``key`` -> ``target``."""
        src, dst = (VALUE, INDEX) if by_value else (INDEX, VALUE)
        side = self._vocabularies[i].select(F.col(src).alias(key), F.col(dst).alias(target))
        return F.broadcast(side) if self._broadcastable(dataset, i) else side

    def _transform(self, dataset: DataFrame) -> DataFrame:
        ins, outs = self._columnPairs()
        self._checkModel(ins)
        self._checkChoices()
        in_param, out_param = self._inputParam(), self._outputParam()
        for i, name in enumerate(ins):
            dt = V.require_column(self, in_param, name, dataset)
            fitted = self._vocabularyType(i)
            if not V.same_id_type(dt, fitted):
                raise TypeError(
                    f"{V.stage_name(self)}: {in_param} '{name}' has type {dt.simpleString()} but the "
                    f"model was fit on {fitted.simpleString()}"
                )
        for name in outs:
            V.require_new_column(self, out_param, name, dataset)
        mode = self.getHandleInvalid()
        result = dataset
        how = "inner" if mode == "skip" else "left"
        for i, (name, out) in enumerate(zip(ins, outs)):
            key = f"__spark_recs_key_{i}"
            result = result.join(
                self._lookup(dataset, i, key, out, by_value=True), col(name) == F.col(key), how
            ).drop(key)
        # 'keep': unseen and null ids get index n, which ALS never saw (Spark 4's ALS rejects
        # null ids, so a null index would fail there instead of reaching coldStartStrategy);
        # 'error': a null lookup (an unseen or a null id) fails the job that computes it
        def index(i: int, out: str) -> Column:
            if mode == "keep":
                return F.coalesce(col(out), F.lit(self._sizes[i]))
            if mode == "error":
                fail = F.raise_error(F.lit(self._invalidMark(i)))
                return F.when(col(out).isNull(), fail).otherwise(col(out))
            return col(out)

        output = result.select(
            *[col(c) for c in dataset.columns], *[index(i, out).alias(out) for i, out in enumerate(outs)]
        )
        if mode != "error":
            return output
        try:
            return output.localCheckpoint(eager=True)
        except Exception as failure:  # the job's error, as the session reports it
            if _INVALID_MARK not in str(failure):
                raise
            self._raiseOnInvalid(dataset, ins)
            raise

    def _invalidMark(self, i: int) -> str:
        return f"{V.stage_name(self)}: {self._inputParam()} '{self._columnPairs()[0][i]}' {_INVALID_MARK}"

    def _raiseOnInvalid(self, dataset: DataFrame, ins: List[str]) -> None:
        """After a failed lookup: count, per column, rows whose id is null or unseen at fit
        time (one job), and raise naming the first such column, its counts and examples."""
        probe = dataset.select(*[col(c).alias(f"__spark_recs_in_{i}") for i, c in enumerate(ins)])
        for i in range(len(ins)):
            # the looked-up index is never null for a vocabulary row: null means unseen
            key, flag = f"__spark_recs_key_{i}", f"__spark_recs_seen_{i}"
            side = self._lookup(dataset, i, key, flag, by_value=True)
            probe = probe.join(side, F.col(f"__spark_recs_in_{i}") == F.col(key), "left").drop(key)
        counts = cast(Row, probe.agg(
            *[
                F.sum(F.when(F.col(f"__spark_recs_in_{i}").isNull(), 1).otherwise(0)).alias(f"n{i}")
                for i in range(len(ins))
            ],
            *[
                F.sum(
                    F.when(
                        F.col(f"__spark_recs_in_{i}").isNotNull() & F.col(f"__spark_recs_seen_{i}").isNull(),
                        1,
                    ).otherwise(0)
                ).alias(f"u{i}")
                for i in range(len(ins))
            ],
        ).first())
        for i, name in enumerate(ins):
            nulls, unseen = counts[f"n{i}"] or 0, counts[f"u{i}"] or 0
            if not nulls and not unseen:
                continue
            values = probe.where(
                F.col(f"__spark_recs_in_{i}").isNotNull() & F.col(f"__spark_recs_seen_{i}").isNull()
            ).select(F.col(f"__spark_recs_in_{i}").alias("v"))
            stats = cast(Row, values.agg(F.count_distinct("v").alias("d")).first())
            examples = [r["v"] for r in values.distinct().orderBy("v").limit(5).collect()]
            raise ValueError(
                f"{V.stage_name(self)}: {self._inputParam()} '{name}' has {unseen} row(s) with "
                f"{stats['d']} id(s) unseen at fit time (e.g. {examples}) and {nulls} null id(s); "
                "set handleInvalid='skip' to drop those rows or 'keep' to give them the index n"
            )

    # -- decode ----------------------------------------------------------------------------

    def decode(self, dataset: DataFrame) -> DataFrame:
        """Replace index columns by the original ids, also inside arrays of structs.

        A top-level integer column named like one of the output columns becomes the original
        id column (named like its input column, at the same position). An array-of-structs
        column whose structs have a field named like an output column, such as the
        ``recommendations`` column of ``ALSModel.recommendForAllUsers``, gets that field
        decoded and renamed the same way, with the array's order kept. Null indices and the
        index n that ``handleInvalid='keep'`` gives decode to null; indices outside [0, n] raise
        ``ValueError`` (one Spark job checks them).

        Parameters
        ----------
        dataset : :py:class:`pyspark.sql.DataFrame`
            For example ``alsModel.recommendForAllUsers(10)`` or ``alsModel.transform(...)``.

        Returns
        -------
        :py:class:`pyspark.sql.DataFrame`

        Examples
        --------
        >>> df = spark.createDataFrame([("ann", "s1"), ("bob", "s2")], ["user", "item"])
        >>> model = IdIndexer(inputCols=["user", "item"], outputCols=["u", "i"]).fit(df)
        >>> recs = spark.createDataFrame(
        ...     [(1, [(0, 0.9), (1, 0.5)])],
        ...     "u int, recommendations array<struct<i: int, rating: float>>")
        >>> model.decode(recs).collect()
        [Row(user='bob', recommendations=[Row(item='s1', rating=0.89...), Row(item='s2', rating=0.5)])]
        """
        ins, outs = self._columnPairs()
        self._checkModel(ins)
        stage = f"{V.stage_name(self)}.decode"
        by_out = {out: i for i, out in enumerate(outs)}
        scalars: List[Tuple[str, int]] = []
        nested: List[Tuple[str, str, int]] = []
        for field in dataset.schema.fields:
            dt = field.dataType
            if field.name in by_out:
                if not isinstance(dt, IntegralType):
                    raise TypeError(
                        f"{stage}: {self._outputParam()} '{field.name}' must be integral to decode, "
                        f"found {dt.simpleString()}"
                    )
                scalars.append((field.name, by_out[field.name]))
            elif isinstance(dt, ArrayType) and isinstance(dt.elementType, StructType):
                hits = [f.name for f in dt.elementType.fields if f.name in by_out]
                if len(hits) > 1:
                    raise ValueError(f"{stage}: column '{field.name}' holds several index fields {hits}")
                if hits:
                    nested.append((field.name, hits[0], by_out[hits[0]]))
        if not scalars and not nested:
            raise ValueError(
                f"{stage}: no column to decode: expected a column named one of {outs}, or an "
                f"array of structs with such a field, in {dataset.columns}"
            )
        for name, i in scalars:
            if ins[i] in dataset.columns:
                raise ValueError(
                    f"{stage}: decoding '{name}' would overwrite existing column '{ins[i]}' in "
                    f"{dataset.columns}; drop or rename it first"
                )
        self._checkRange(dataset, stage, scalars, nested)
        result = dataset
        for name, i in scalars:
            key, target = f"__spark_recs_key_{i}", f"__spark_recs_value_{i}"
            result = result.join(
                self._lookup(dataset, i, key, target, by_value=False), col(name) == F.col(key), "left"
            )
            result = result.drop(key)
        for arr, field_name, i in nested:
            result = self._decodeNested(result, arr, field_name, i, ins[i])
        select = []
        for c in dataset.columns:
            hit = [i for n, i in scalars if n == c]
            select.append(F.col(f"__spark_recs_value_{hit[0]}").alias(ins[hit[0]]) if hit else col(c))
        return result.select(*select)

    def _checkRange(
        self, dataset: DataFrame, stage: str, scalars: List[Tuple[str, int]],
        nested: List[Tuple[str, str, int]],
    ) -> None:
        exprs, checks = [], []
        for n, (name, i) in enumerate(scalars):
            exprs += [F.min(col(name)).alias(f"lo{n}"), F.max(col(name)).alias(f"hi{n}")]
            checks.append((f"lo{n}", f"hi{n}", f"'{name}'", i))
        for n, (arr, field_name, i) in enumerate(nested):
            values = F.transform(col(arr), lambda x: x[field_name])
            exprs += [
                F.min(F.array_min(values)).alias(f"nlo{n}"), F.max(F.array_max(values)).alias(f"nhi{n}")
            ]
            checks.append((f"nlo{n}", f"nhi{n}", f"'{arr}.{field_name}'", i))
        row = cast(Row, dataset.agg(*exprs).first())  # an aggregation without groups: one row
        for lo, hi, what, i in checks:
            if row[lo] is not None and (row[lo] < 0 or row[hi] > self._sizes[i]):
                raise ValueError(
                    f"{stage}: {self._outputParam()} {what} has indices outside [0, {self._sizes[i]}]: "
                    f"found min {row[lo]}, max {row[hi]}"
                )

    def _decodeNested(
        self, dataset: DataFrame, arr: str, field_name: str, i: int, new_name: str
    ) -> DataFrame:
        """Decode one field of an array of structs: explode, join, collect back in order.

        Other columns ride along through the aggregation (``first``), so the input is read once
        and no row identity has to survive a second evaluation.
        """
        row_id, pos, elem = "__spark_recs_row", "__spark_recs_pos", "__spark_recs_elem"
        key, target = f"__spark_recs_key_{i}", f"__spark_recs_nested_{i}"
        others = [c for c in dataset.columns if c != arr]
        # decode() took arr for an array of structs
        elem_type = cast(StructType, cast(ArrayType, dataset.schema[arr].dataType).elementType)
        # the row id is taken before the explode, in its own projection
        exploded = dataset.select(
            F.monotonically_increasing_id().alias(row_id), *[col(c) for c in dataset.columns]
        ).select(
            row_id,
            *[col(c) for c in others],
            col(arr).isNull().alias("__spark_recs_null"),
            F.posexplode_outer(col(arr)).alias(pos, elem),
        )
        joined = exploded.join(
            self._lookup(dataset, i, key, target, by_value=False),
            F.col(elem)[field_name] == F.col(key),
            "left",
        )
        rebuilt = F.struct(
            *[
                (
                    F.col(target).alias(new_name) if f.name == field_name
                    else F.col(elem)[f.name].alias(f.name)
                )
                for f in elem_type.fields
            ]
        )
        grouped = joined.groupBy(row_id).agg(
            *[F.first(col(c)).alias(c) for c in others],
            F.first("__spark_recs_null").alias("__spark_recs_null"),
            F.sort_array(
                F.collect_list(
                    F.when(F.col(pos).isNotNull(), F.struct(F.col(pos).alias("p"), rebuilt.alias("e")))
                )
            ).alias(arr),
        )
        decoded = F.when(F.col("__spark_recs_null"), F.lit(None)).otherwise(
            F.transform(col(arr), lambda x: x["e"])
        )
        return grouped.select(*[decoded.alias(c) if c == arr else col(c) for c in dataset.columns])

    # -- persistence -----------------------------------------------------------------------

    def write(self) -> "IdIndexerModelWriter":
        """Returns an MLWriter instance for this ML instance."""
        return IdIndexerModelWriter(self)

    @classmethod
    def read(cls) -> "IdIndexerModelReader":
        """Returns an MLReader instance for this class."""
        return IdIndexerModelReader(cls)


_DATA_FORMAT = 1


class IdIndexerModelWriter(P.ClearSave):
    """Writes an :py:class:`IdIndexerModel`: ``metadata/`` (JSON params, as Spark's
    ``DefaultParamsWriter`` writes them, plus vocabulary sizes) and ``data/vocabulary_<i>/``
    (Parquet: ``value``, ``index``, ``count``), one per input column. No pickle."""

    instance: IdIndexerModel

    def __init__(self, instance: IdIndexerModel) -> None:
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        model = self.instance
        if not model._vocabularies:
            raise ValueError("IdIndexerModel: cannot save a model with no vocabulary")
        DefaultParamsWriter.saveMetadata(
            model,
            path,
            metadata_context(self.sparkSession),
            extraMetadata={
                "dataFormat": _DATA_FORMAT,
                "vocabularySizes": model._sizes,
                "vocabularyBytes": model._bytes,
            },
        )
        for i, vocabulary in enumerate(model._vocabularies):
            vocabulary.write.parquet(os.path.join(path, "data", f"vocabulary_{i}"))


class IdIndexerModelReader(MLReader[IdIndexerModel]):
    """Reads what :py:class:`IdIndexerModelWriter` wrote; runs no code from the files."""

    def __init__(self, cls: type) -> None:
        super().__init__()
        self.cls = cls

    def load(self, path: str) -> IdIndexerModel:
        metadata = P.load_metadata(IdIndexerModel, path, self.sparkSession)
        if metadata.get("dataFormat") != _DATA_FORMAT:
            raise ValueError(
                f"IdIndexerModel: {path} has data format {metadata.get('dataFormat')!r}; this "
                f"release reads format {_DATA_FORMAT}"
            )
        try:
            sizes = [int(s) for s in metadata["vocabularySizes"]]
            nbytes = [int(b) for b in metadata["vocabularyBytes"]]
        except (KeyError, TypeError, ValueError):
            sizes, nbytes = [], [0]
        if not sizes or len(sizes) != len(nbytes):
            raise ValueError(
                f"IdIndexerModel: {path}/metadata lacks vocabularySizes and vocabularyBytes of one "
                f"length: found {metadata.get('vocabularySizes')!r}, {metadata.get('vocabularyBytes')!r}"
            )
        vocabularies = [
            P.read_data(IdIndexerModel, path, f"vocabulary_{i}", self.sparkSession) for i in range(len(sizes))
        ]
        for i, vocabulary in enumerate(vocabularies):
            types = [f.dataType for f in vocabulary.schema.fields]
            integral = all(isinstance(t, IntegralType) for t in types[1:])
            if vocabulary.columns != [VALUE, INDEX, COUNT] or not integral:
                raise ValueError(
                    f"IdIndexerModel: {path}/data/vocabulary_{i} has schema "
                    f"{vocabulary.schema.simpleString()}, expected value (any atomic type), "
                    "index int, count bigint"
                )
        model = IdIndexerModel._create(vocabularies, sizes, nbytes)
        P.set_params(model, metadata, path)
        return model
