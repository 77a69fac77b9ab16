"""Rank all unseen items: each held-out row ranked among every catalogue item its user did not
have in training, exactly, blockwise, with no users x items table; and top-N recommendations
that leave seen items out."""

import math
import os
from typing import Any, Dict, List, Optional, Tuple, Type

from pyspark import keyword_only
from pyspark.ml.base import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasPredictionCol
from pyspark.ml.recommendation import ALSModel, _ALSParams
from pyspark.ml.util import DefaultParamsWriter, MLReadable, MLReader, MLWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import IntegralType

from spark_recs import _blocks as B
from spark_recs import _persistence as P
from spark_recs import _validation as V
from spark_recs import _workers as W
from spark_recs._compat import metadata_context
from spark_recs._validation import column
from spark_recs.param import P as Self
from spark_recs.param import fixed_seed, without_none_seed
from spark_recs.popularity import PopularityModel
from spark_recs.recommendation import ALSSetters, fit_als

__all__ = ["Factors", "UnseenItemRanker", "UnseenItemRankerModel"]

#: The default seed (see fixed_seed).
_DEFAULT_SEED = fixed_seed("spark_recs.ranking.UnseenItemRanker")

_COLD_START = ["nan", "drop"]
#: Columns of the model's seen data: per user, the items it had in the fit data, and how many
#: of them are catalogue items (have factors).
_SEEN_ITEMS, _SEEN_COUNT = "items", "numSeen"
_U, _I = "__spark_recs_u", "__spark_recs_i"


class _UnseenItemRankerParams(HasPredictionCol):
    """Params shared by :py:class:`UnseenItemRanker` and its model."""

    rankCol: "Param[str]" = Param(
        Params._dummy(), "rankCol",
        "output column: the row's 1-based rank among its user's candidates, ties by item id.",
        typeConverter=TypeConverters.toString,
    )
    numAboveCol: "Param[str]" = Param(
        Params._dummy(), "numAboveCol", "output column: candidates scored strictly above the row.",
        typeConverter=TypeConverters.toString,
    )
    numTiedCol: "Param[str]" = Param(
        Params._dummy(), "numTiedCol", "output column: candidates tied with the row, itself included.",
        typeConverter=TypeConverters.toString,
    )
    numCandidatesCol: "Param[str]" = Param(
        Params._dummy(), "numCandidatesCol", "output column: the number of candidates of the row's user.",
        typeConverter=TypeConverters.toString,
    )
    coldStartStrategy: "Param[str]" = Param(
        Params._dummy(), "coldStartStrategy",
        "held-out rows of users or items without factors: 'nan' (prediction NaN, ranked after "
        "every scored candidate) or 'drop' (left out), as ALS's coldStartStrategy.",
        typeConverter=TypeConverters.toString,
    )
    userBlockSize: "Param[int]" = Param(
        Params._dummy(), "userBlockSize", "users scored together in one task, about (>= 1).",
        typeConverter=TypeConverters.toInt,
    )
    itemBlockSize: "Param[int]" = Param(
        Params._dummy(), "itemBlockSize", "items scored at a time in a task (>= 1).",
        typeConverter=TypeConverters.toInt,
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._setDefault(
            predictionCol="prediction", rankCol="rank", numAboveCol="numAbove", numTiedCol="numTied",
            numCandidatesCol="numCandidates", coldStartStrategy="nan", userBlockSize=16384,
            itemBlockSize=4096,
        )

    def getRankCol(self) -> str:
        """Gets the value of :py:attr:`rankCol` or its default value 'rank'."""
        return self.getOrDefault(self.rankCol)

    def getNumAboveCol(self) -> str:
        """Gets the value of :py:attr:`numAboveCol` or its default value 'numAbove'."""
        return self.getOrDefault(self.numAboveCol)

    def getNumTiedCol(self) -> str:
        """Gets the value of :py:attr:`numTiedCol` or its default value 'numTied'."""
        return self.getOrDefault(self.numTiedCol)

    def getNumCandidatesCol(self) -> str:
        """Gets the value of :py:attr:`numCandidatesCol` or its default value 'numCandidates'."""
        return self.getOrDefault(self.numCandidatesCol)

    def getColdStartStrategy(self) -> str:
        """Gets the value of :py:attr:`coldStartStrategy` or its default value 'nan'."""
        return self.getOrDefault(self.coldStartStrategy)

    def getUserBlockSize(self) -> int:
        """Gets the value of :py:attr:`userBlockSize` or its default value 16384."""
        return self.getOrDefault(self.userBlockSize)

    def getItemBlockSize(self) -> int:
        """Gets the value of :py:attr:`itemBlockSize` or its default value 4096."""
        return self.getOrDefault(self.itemBlockSize)

    def setPredictionCol(self: Self, value: str) -> Self:
        """Sets the value of :py:attr:`predictionCol`."""
        return self._set(predictionCol=value)

    def setRankCol(self: Self, value: str) -> Self:
        """Sets the value of :py:attr:`rankCol`."""
        return self._set(rankCol=value)

    def setNumAboveCol(self: Self, value: str) -> Self:
        """Sets the value of :py:attr:`numAboveCol`."""
        return self._set(numAboveCol=value)

    def setNumTiedCol(self: Self, value: str) -> Self:
        """Sets the value of :py:attr:`numTiedCol`."""
        return self._set(numTiedCol=value)

    def setNumCandidatesCol(self: Self, value: str) -> Self:
        """Sets the value of :py:attr:`numCandidatesCol`."""
        return self._set(numCandidatesCol=value)

    def setColdStartStrategy(self: Self, value: str) -> Self:
        """Sets the value of :py:attr:`coldStartStrategy`."""
        return self._set(coldStartStrategy=value)

    def setUserBlockSize(self: Self, value: int) -> Self:
        """Sets the value of :py:attr:`userBlockSize`."""
        return self._set(userBlockSize=value)

    def setItemBlockSize(self: Self, value: int) -> Self:
        """Sets the value of :py:attr:`itemBlockSize`."""
        return self._set(itemBlockSize=value)

    def _outputs(self) -> List[Tuple[str, str]]:
        return [("predictionCol", self.getPredictionCol()), ("rankCol", self.getRankCol()),
                ("numAboveCol", self.getNumAboveCol()), ("numTiedCol", self.getNumTiedCol()),
                ("numCandidatesCol", self.getNumCandidatesCol())]

    def _checkParams(self) -> None:
        V.require_choice(self, "coldStartStrategy", self.getColdStartStrategy(), _COLD_START)
        for name in ("userBlockSize", "itemBlockSize"):
            value = self.getOrDefault(name)
            V.require_param(self, name, value, value >= 1, "be >= 1", "rows of a block scored in one task")
        V.require_distinct(self, "output columns", [c for _, c in self._outputs()])


class Factors:
    """Given factors as the engine's recommender, what :py:meth:`UnseenItemRankerModel.fromFitted`
    reads (``userFactors``, ``itemFactors``, ``rank``, ``getUserCol()``, ``getItemCol()``), for
    the engine's other uses: similar items (the queried items' vectors as the users), folded-in
    users (their solved factors)."""

    def __init__(self, users: DataFrame, items: DataFrame, rank: int, userCol: str, itemCol: str) -> None:
        self.userFactors, self.itemFactors, self.rank = users, items, rank
        self._cols = (userCol, itemCol)

    def getUserCol(self) -> str:
        return self._cols[0]

    def getItemCol(self) -> str:
        return self._cols[1]


def _shuffle_partitions(spark: Any) -> int:
    try:
        return max(1, int(spark.conf.get("spark.sql.shuffle.partitions", "200")))
    except ValueError:
        return 200


def _inner_columns(model_or_estimator: Any) -> Tuple[str, str]:
    return model_or_estimator.getUserCol(), model_or_estimator.getItemCol()


# mypy's [misc] below: ALSSetters holds ALS's own setters, typed for ALS, where
# _UnseenItemRankerParams' setColdStartStrategy and setPredictionCol are typed for this class;
# both set the same param (ALSSetters' come first in the MRO).
class UnseenItemRanker(  # type: ignore[misc]
    Estimator["UnseenItemRankerModel"], _ALSParams, ALSSetters, _UnseenItemRankerParams,
    P.ParamsReadable, P.ParamsWritable,
):
    """Fits ALS and ranks held-out rows among all the items each user has not seen.

    The field's evaluation protocol ("rank all unseen items", as Microsoft Recommenders,
    LensKit, RePlay and implicit evaluate): each held-out item is ranked among every catalogue
    item its user did not have in the fit data, not among the rows it happens to come with.
    ``fit`` fits ALS (as :py:class:`spark_recs.ImplicitALS` does: implicit fits skip rating-0
    rows) and remembers which items each user had; the model's ``transform`` ranks held-out
    rows blockwise, exactly, with no users x items table. It has every param of
    :py:class:`pyspark.ml.recommendation.ALS` (defaults as ImplicitALS's: ``implicitPrefs=True``
    and a fixed seed), so each can go in a ``ParamGridBuilder`` and a ``CrossValidator`` tunes
    ALS on the full-catalogue metric. A model fitted elsewhere (an ``ALSModel``, or any model
    with factors) gets the same ranking from :py:meth:`UnseenItemRankerModel.fromFitted`.

    Parameters
    ----------
    rank, maxIter, regParam, alpha, implicitPrefs, userCol, itemCol, ratingCol, ... :
        ALS's params (userCol and itemCol: integer ids in Int range).
    predictionCol, rankCol, numAboveCol, numTiedCol, numCandidatesCol : str
        Output columns (defaults 'prediction', 'rank', 'numAbove', 'numTied',
        'numCandidates'): the score (float), the 1-based rank among the user's candidates with
        ties broken by item id ascending (int), the candidates scored strictly above and tied
        with the row, itself included (int), and the user's candidates (int).
    coldStartStrategy : str, default 'nan'
        Held-out rows whose user or item has no factors: 'nan' keeps them with a NaN
        prediction, ranked after every scored candidate and tied with each other; 'drop'
        leaves them out (ALS's param, with the same meaning).
    userBlockSize, itemBlockSize : int, default 16384, 4096
        Users per task (about; fewer when they bring many held-out rows, and at least one
        task per 256 users up to ``spark.sql.shuffle.partitions``), and items scored at a time
        in it: a task holds about ``1024 x itemBlockSize`` scores at once (12 bytes a score
        while computed) besides the catalogue's factors. Each task costs about 0.2 s besides
        its scoring on a 2-core machine, so blocks are large (0.2.0: 16384, was 1024;
        ``benchmarks/README.md``).

    Raises
    ------
    ValueError, TypeError
        As :py:class:`spark_recs.ImplicitALS` (bad ids or ratings, too many iterations between
        checkpoints), and a block size or coldStartStrategy out of range.

    Notes
    -----
    The items a user "has" are the (user, item) pairs of the fit data; with
    ``implicitPrefs=True``, rows with rating 0 are not interactions (ZeroFiller's zeros) and
    do not count. ``fit`` runs ALS's jobs plus one that collects each user's items (kept with
    ``localCheckpoint``) and one that counts the catalogue. See
    :py:class:`UnseenItemRankerModel` for what ``transform`` returns.

    Examples
    --------
    >>> from spark_recs import UnseenItemRanker, RankingMetricsEvaluator
    >>> train = spark.createDataFrame(
    ...     [(0, 0, 3.0), (0, 1, 1.0), (1, 1, 2.0), (1, 2, 4.0), (2, 0, 5.0), (2, 3, 1.0)],
    ...     ["user", "item", "rating"])
    >>> held_out = spark.createDataFrame([(0, 2, 1.0), (1, 3, 2.0), (2, 1, 1.0)], ["user", "item", "rating"])
    >>> model = UnseenItemRanker(rank=2, maxIter=5, seed=1).fit(train)
    >>> ranked = model.transform(held_out)
    >>> ranked.select("user", "item", "rank", "numCandidates").orderBy("user").show()
    +----+----+----+-------------+
    |user|item|rank|numCandidates|
    +----+----+----+-------------+
    |   0|   2|   1|            2|
    |   1|   3|   2|            2|
    |   2|   1|   1|            2|
    +----+----+----+-------------+
    <BLANKLINE>
    >>> RankingMetricsEvaluator(metricName="mrrAtK", k=1, rankCol="rank").evaluate(ranked)
    0.666...
    >>> model.write().overwrite().save(temp_path + "/ranker-model")
    >>> UnseenItemRankerModel.load(temp_path + "/ranker-model").transform(held_out).count()
    3
    """

    _input_kwargs: Dict[str, Any]

    @keyword_only
    def __init__(
        self,
        *,
        rank: int = 10,
        maxIter: int = 10,
        regParam: float = 0.1,
        numUserBlocks: int = 10,
        numItemBlocks: int = 10,
        implicitPrefs: bool = True,
        alpha: float = 1.0,
        userCol: str = "user",
        itemCol: str = "item",
        seed: Optional[int] = None,
        ratingCol: str = "rating",
        nonnegative: bool = False,
        checkpointInterval: int = 10,
        intermediateStorageLevel: str = "MEMORY_AND_DISK",
        finalStorageLevel: str = "MEMORY_AND_DISK",
        coldStartStrategy: str = "nan",
        blockSize: int = 4096,
        predictionCol: str = "prediction",
        rankCol: str = "rank",
        numAboveCol: str = "numAbove",
        numTiedCol: str = "numTied",
        numCandidatesCol: str = "numCandidates",
        userBlockSize: int = 16384,
        itemBlockSize: int = 4096,
    ) -> None:
        super().__init__()
        self._setDefault(implicitPrefs=True, seed=_DEFAULT_SEED)
        self._set(**without_none_seed(self._input_kwargs))

    @keyword_only
    def setParams(
        self,
        *,
        rank: int = 10,
        maxIter: int = 10,
        regParam: float = 0.1,
        numUserBlocks: int = 10,
        numItemBlocks: int = 10,
        implicitPrefs: bool = True,
        alpha: float = 1.0,
        userCol: str = "user",
        itemCol: str = "item",
        seed: Optional[int] = None,
        ratingCol: str = "rating",
        nonnegative: bool = False,
        checkpointInterval: int = 10,
        intermediateStorageLevel: str = "MEMORY_AND_DISK",
        finalStorageLevel: str = "MEMORY_AND_DISK",
        coldStartStrategy: str = "nan",
        blockSize: int = 4096,
        predictionCol: str = "prediction",
        rankCol: str = "rank",
        numAboveCol: str = "numAbove",
        numTiedCol: str = "numTied",
        numCandidatesCol: str = "numCandidates",
        userBlockSize: int = 16384,
        itemBlockSize: int = 4096,
    ) -> "UnseenItemRanker":
        """Sets params for this UnseenItemRanker."""
        return self._set(**without_none_seed(self._input_kwargs))

    def _fit(self, dataset: DataFrame) -> "UnseenItemRankerModel":
        self._checkParams()
        model = fit_als(self, dataset)  # what ImplicitALS does, with errors naming this stage
        rating = self.getRatingCol() if self.getImplicitPrefs() else None
        return self._copyValues(UnseenItemRankerModel.fromFitted(model, dataset, ratingCol=rating))


class UnseenItemRankerModel(Model, _UnseenItemRankerParams, MLReadable["UnseenItemRankerModel"], MLWritable):
    """Ranks held-out rows among all the items each user did not have in the fit data, and
    recommends top-N unseen items.

    ``transform(heldOut)`` returns the rows of ``heldOut`` (the inner model's userCol and
    itemCol: integer ids) with five columns: the prediction (float: the score, the dot
    product of the user's and the item's factors), the rank (int, 1-based, among the user's
    candidates, ties by item id ascending), numAbove and numTied (int: candidates scored
    strictly above it and tied with it, itself included) and numCandidates (int). A user's
    candidates are every catalogue item (an item with factors) it did not have in the fit
    data. The evaluators read these columns with ``rankCol`` set.

    Cold rows (user or item without factors), by coldStartStrategy: 'drop' leaves them out;
    'nan' keeps them with a NaN prediction, ranked after every scored candidate of the user and
    tied with its other cold rows (a user without factors has no scored candidate: all its
    candidates tie), and counts a held-out item without factors as a candidate of its user.
    This is exactly where ``ALSModel.transform`` (coldStartStrategy='nan') puts them in the
    zero-filled table of the user's candidates under nanPredictions='last'.

    Raises
    ------
    ValueError
        (when the output is computed) a held-out row of a (user, item) pair that was in the
        fit data: it is not a candidate; split by pairs (``PerUserFolds``,
        ``train_test_split_per_user``). Before: missing or clashing columns, non-integral ids.
    WorkerEnvironmentError
        (when called, before the engine's jobs; also ``recommendForAllUsers`` and
        ``recommendForUserSubset``) Spark's Python workers cannot import a module the engine
        runs there (pandas, pyarrow, numpy, ``REQUIRED_WORKER_MODULES``): the message names
        it, the workers' interpreter and the fix.

    Notes
    -----
    Scores are ``float32(u . v)`` summed in float64 from the float32 factors; ALS's own
    ``transform`` sums in float32, so the two can differ in the last bit. A NaN score (a NaN
    factor) ranks after every finite candidate and ties with the other NaN ones, as a cold row
    does. Jobs: once per Spark application, a one-row probe that the Python workers import
    what the engine needs (see ``WorkerEnvironmentError``); one small job sizes the blocks (an
    approximate count of the held-out users, no shuffle); the output then runs one plan:
    held-out pairs grouped per user, joined to their factors and seen items, one user block
    per task met with the broadcast catalogue, each block scored ``itemBlockSize`` items at a
    time by a matrix product and counted by a compiled kernel (``mapInArrow``), one final row
    per held-out pair joined back to the rows. The catalogue's factors travel to every task:
    ``numItems x rank x 4`` bytes each.
    Nothing per user reaches the driver. Design and timings: ``docs/design.md``.
    """

    def __init__(self) -> None:
        super().__init__()
        # the inner model, duck-typed (see fromFitted), and the seen items of its fit data
        self._model: Optional[Any] = None
        self._seen: Optional[DataFrame] = None
        self._numItems = 0

    def _data(self) -> Tuple[Any, DataFrame]:
        """The inner model and the seen items; a ValueError naming the stage when there are none."""
        if self._model is None or self._seen is None:
            raise ValueError(f"{V.stage_name(self)}: the model has no inner model (fit UnseenItemRanker)")
        return self._model, self._seen

    @classmethod
    def _withData(cls, model: Model, seen: DataFrame, num_items: int) -> "UnseenItemRankerModel":
        that = cls()
        that._model, that._seen, that._numItems = model, seen, int(num_items)
        return that

    @classmethod
    def fromFitted(
        cls, model: Any, dataset: DataFrame, ratingCol: Optional[str] = None
    ) -> "UnseenItemRankerModel":
        """The ranker of a recommender already fitted on ``dataset``: remembers which items
        each user had there. (``UnseenItemRanker.fit`` fits, then calls this.)

        Parameters
        ----------
        model : :py:class:`pyspark.ml.Model`
            An ``ALSModel``, or any model with ``userFactors`` and ``itemFactors`` DataFrames
            ``(id int, features array<float>)``, ``rank``, ``getUserCol()`` and ``getItemCol()``.
        dataset : :py:class:`pyspark.sql.DataFrame`
            What it was fitted on: its userCol and itemCol pairs are the seen items.
        ratingCol : str, optional
            Implicit feedback: rows whose rating in this column is 0 are not interactions
            (ZeroFiller's zeros), so their items stay candidates.

        Returns
        -------
        UnseenItemRankerModel
            With default params. Runs two jobs: the seen items per user (kept with
            ``localCheckpoint``) and the catalogue's size.

        Raises
        ------
        ValueError
            A model without ``userFactors`` or ``itemFactors``; missing columns.
        """
        for name in ("userFactors", "itemFactors"):
            if not hasattr(model, name):
                raise ValueError(f"UnseenItemRankerModel: the model, a {type(model).__name__}, has no {name}")
        factors: Any = model  # duck-typed: it has the factors, checked above
        user, item = _inner_columns(model)
        for param, name in (("userCol", user), ("itemCol", item)):
            V.require_type(
                "UnseenItemRankerModel", param, name, dataset, V.is_numeric, "numeric (integer ids)"
            )
        rows = dataset
        if ratingCol is not None:
            V.require_type("UnseenItemRankerModel", "ratingCol", ratingCol, dataset, V.is_numeric, "numeric")
            rows = dataset.where(column(ratingCol) != 0)  # zeros are not interactions
        pairs = rows.select(column(user).cast("int").alias(_U), column(item).cast("int").alias(_I))
        catalogue = factors.itemFactors.select(F.col("id").alias(_I), F.lit(True).alias("known"))
        seen = (
            pairs.where(F.col(_U).isNotNull() & F.col(_I).isNotNull()).distinct()
            .join(catalogue, _I, "left")
            .groupBy(_U)
            .agg(
                F.sort_array(F.collect_list(_I)).alias(_SEEN_ITEMS),
                F.count("known").cast("int").alias(_SEEN_COUNT),
            )
            .withColumnRenamed(_U, "user")
            .localCheckpoint(eager=True)
        )
        return cls._withData(model, seen, factors.itemFactors.count())

    @property
    def model(self) -> Model:
        """The fitted inner model (an ``ALSModel``, for ALS and ImplicitALS)."""
        return self._data()[0]

    def getUserCol(self) -> str:
        """The inner model's userCol: the held-out rows' user ids."""
        return self._data()[0].getUserCol()

    def getItemCol(self) -> str:
        """The inner model's itemCol: the held-out rows' item ids."""
        return self._data()[0].getItemCol()

    @property
    def seenItems(self) -> DataFrame:
        """Per user of the fit data: ``user`` (int), ``items`` (array<int>, ascending: the
        items it had) and ``numSeen`` (int: how many of them are catalogue items)."""
        return self._data()[1]

    @property
    def numItems(self) -> int:
        """The catalogue's size: items with factors."""
        return self._numItems

    def copy(self, extra: Optional[Dict[Param, Any]] = None) -> "UnseenItemRankerModel":
        """A copy with ``extra`` applied to its params; it shares the inner model and data."""
        that = Params.copy(self, extra)
        that._model, that._seen, that._numItems = self._model, self._seen, self._numItems
        return that

    def setUserBlockSize(self, value: int) -> "UnseenItemRankerModel":
        """Sets the value of :py:attr:`userBlockSize`."""
        return self._set(userBlockSize=value)

    def _rank(self) -> int:
        model, _ = self._data()
        if hasattr(model, "rank"):
            return int(model.rank)
        return len(model.itemFactors.first()["features"])

    def _catalogue(self) -> DataFrame:
        """The catalogue in one row (CATALOGUE_SCHEMA), broadcast to every task."""
        factors = self._data()[0].itemFactors.select("id", F.col("features").cast("array<float>"))
        return F.broadcast(
            factors.repartition(1).mapInArrow(B.pack_catalogue(self._rank()), B.CATALOGUE_SCHEMA)
        )

    def _numBlocks(self, spark: Any, users: DataFrame, held_rows: bool) -> int:
        """User blocks for the users of ``users`` (its ``_U``): about userBlockSize users each,
        fewer when they bring many held-out rows (eight cost about one user's scoring), and
        at least one block per 256 users up to spark.sql.shuffle.partitions, so that small
        data still keep every core busy. One small job (an approximate count, no shuffle)."""
        counts = [F.approx_count_distinct(_U).alias("users")]
        if held_rows:
            counts.append(F.count(F.lit(1)).alias("rows"))
        row = users.agg(*counts).first()
        n_users = int(row["users"] or 0) if row is not None else 0
        work = n_users + (int(row["rows"] or 0) / 8.0 if held_rows and row is not None else 0.0)
        spread = min(_shuffle_partitions(spark), math.ceil(n_users / 256))
        return max(1, math.ceil(work / self.getUserBlockSize()), spread)

    def _perUser(self, users: DataFrame) -> DataFrame:
        """(user, features, held, seen) for the users of ``users`` (``_U`` and ``held``):
        their factors (null without) and the items they had in the fit data (null without)."""
        model, seen_items = self._data()
        factors = model.userFactors.select(F.col("id").alias(_U), F.col("features").cast("array<float>"))
        seen = seen_items.select(F.col("user").alias(_U), F.col(_SEEN_ITEMS).alias("seen"))
        return users.join(factors, _U, "left").join(seen, _U, "left").select(
            F.col(_U).alias("user"), "features", "held", "seen"
        )

    def _engine(self, per_user: DataFrame, blocks: int, kernel: B.BatchFunction, schema: str) -> DataFrame:
        """One task per user block: the block's users packed once, met with the broadcast
        catalogue, and ``kernel`` run over the pair; its rows are final."""
        pack = B.pack_users(self._rank())
        packed = per_user.repartition(blocks, "user").mapInArrow(pack, B.USER_BLOCK_SCHEMA)
        return packed.crossJoin(self._catalogue()).mapInArrow(kernel, schema)

    def _checkInput(self, dataset: DataFrame) -> Tuple[str, str]:
        self._checkParams()
        user, item = _inner_columns(self._data()[0])
        for param, name in (("userCol", user), ("itemCol", item)):
            V.require_type(self, param, name, dataset, V.is_numeric, "numeric (integer ids in Int range)")
        for param, name in self._outputs():
            V.require_new_column(self, param, name, dataset)
        return user, item

    def _transform(self, dataset: DataFrame) -> DataFrame:
        user, item = self._checkInput(dataset)
        spark = dataset.sparkSession
        W.require_worker_modules(spark, V.stage_name(self))
        nan = self.getColdStartStrategy() == "nan"
        pairs = dataset.select(
            column(user).cast("int").alias(_U), column(item).cast("int").alias(_I)
        ).where(F.col(_U).isNotNull() & F.col(_I).isNotNull())
        # one shuffle: a repeated pair is ranked once (array_distinct), its rows all get it
        held = pairs.groupBy(_U).agg(F.array_distinct(F.collect_list(_I)).alias("held"))
        blocks = self._numBlocks(spark, pairs, held_rows=True)  # a scan, not the shuffle again
        ranked = self._engine(
            self._perUser(held), blocks, B.rank_users(self.getItemBlockSize(), nan), B.RANK_SCHEMA
        )
        stage = V.stage_name(self)
        prediction = F.when(
            F.col("inFit"),
            F.raise_error(F.concat(
                F.lit(f"{stage}: a held-out row of userCol '{user}', itemCol '{item}' is the pair ("),
                F.col("user").cast("string"), F.lit(", "), F.col("item").cast("string"),
                F.lit("), which was in the fit data, so it is not a candidate; split by (user, item) pairs "
                      "(PerUserFolds, train_test_split_per_user)"),
            )).cast("float"),
        ).otherwise(F.col("prediction"))
        result = ranked.select(
            F.col("user").alias(_U), F.col("item").alias(_I), prediction.alias("__p"),
            F.col("rank").alias("__rank"), F.col("numAbove").alias("__above"),
            F.col("numTied").alias("__tied"), F.col("numCandidates").alias("__cand"),
        )
        if not nan:  # as ALS's 'drop': rows without a score go
            result = result.where(~F.isnan("__p"))
        keyed = dataset.withColumn(_U, column(user).cast("int")).withColumn(_I, column(item).cast("int"))
        joined = keyed.join(result, [_U, _I], "left" if nan else "inner")
        names = [c for _, c in self._outputs()]
        return joined.select(
            *[keyed[c] for c in dataset.columns],
            F.coalesce(result["__p"], F.lit(float("nan")).cast("float")).alias(names[0]),
            result["__rank"].alias(names[1]), result["__above"].alias(names[2]),
            result["__tied"].alias(names[3]), result["__cand"].alias(names[4]),
        )

    # -- top-N ----------------------------------------------------------------------------

    def recommendForAllUsers(self, numItems: int) -> DataFrame:
        """Top ``numItems`` unseen items for every user with factors (as ALS gives them).

        Returns
        -------
        :py:class:`pyspark.sql.DataFrame`
            ``(userCol int, recommendations array<struct<itemCol int, rating float>>)``, as
            ``ALSModel.recommendForAllUsers``: one row per user, best first, ties by item id
            ascending; items the user had in the fit data are left out, and so are items it
            scores NaN (a NaN factor): fewer than ``numItems`` only when its scored unseen
            items run out, an empty array when it has none (it has seen every item).

        Raises
        ------
        ValueError
            ``numItems`` < 1.

        Notes
        -----
        Jobs: one approximate count of the users (to size the blocks), then the result's
        plan: one task per user block, the broadcast catalogue scored against it
        ``itemBlockSize`` items at a time, each user's running top-N kept by a compiled
        kernel (``docs/design.md``, "The engine").
        """
        model, _ = self._data()
        user, _ = _inner_columns(model)
        return self.recommendForUserSubset(model.userFactors.select(F.col("id").alias(user)), numItems)

    def recommendForUserSubset(self, dataset: DataFrame, numItems: int) -> DataFrame:
        """Top ``numItems`` unseen items for the users of ``dataset`` (its userCol), as
        :py:meth:`recommendForAllUsers`: one row per distinct user asked about, with an
        empty array for a user without factors (unknown to the model) or without scored
        unseen items.

        Raises
        ------
        ValueError
            ``numItems`` < 1.
        TypeError
            A userCol that is not numeric.
        """
        model, _ = self._data()
        user, item = _inner_columns(model)
        V.require_param(self, "numItems", numItems, numItems >= 1, "be >= 1", f"items per userCol '{user}'")
        V.require_type(self, "userCol", user, dataset, V.is_numeric, "numeric (integer ids in Int range)")
        spark = dataset.sparkSession
        W.require_worker_modules(spark, V.stage_name(self))
        asked = dataset.select(column(user).cast("int").alias(_U)).where(F.col(_U).isNotNull())
        wanted = asked.distinct()
        blocks = self._numBlocks(spark, asked, held_rows=False)  # a scan, not the distinct again
        per_user = self._perUser(wanted.withColumn("held", F.array().cast("array<int>")))
        tops = self._engine(
            per_user, blocks, B.top_users(numItems, self.getItemBlockSize(), item), B.top_schema(item)
        )
        return tops.withColumnRenamed("user", user)

    # -- persistence -----------------------------------------------------------------------

    def write(self) -> "_RankerModelWriter":
        """Returns an MLWriter: JSON params, the inner model in ``model/`` and the seen items
        as Parquet in ``data/seen/``."""
        return _RankerModelWriter(self)

    @classmethod
    def read(cls) -> "_RankerModelReader":
        """Returns an MLReader for this class."""
        return _RankerModelReader(cls)

    # -- the fit's params: what CrossValidator's bestModel is read for ---------------------

    #: The ALS params of the UnseenItemRanker that fitted the model (its fit copies them; they
    #: are saved with it). The inner ALSModel does not carry them. A model from fromFitted, or
    #: saved before 0.2.0, has none of them: their getters raise.
    maxIter: "Param[int]" = Param(Params._dummy(), "maxIter", "the fit's ALS maxIter",
                                  typeConverter=TypeConverters.toInt)
    regParam: "Param[float]" = Param(Params._dummy(), "regParam", "the fit's ALS regParam",
                                     typeConverter=TypeConverters.toFloat)
    alpha: "Param[float]" = Param(Params._dummy(), "alpha", "the fit's ALS alpha",
                                  typeConverter=TypeConverters.toFloat)
    implicitPrefs: "Param[bool]" = Param(Params._dummy(), "implicitPrefs", "the fit's ALS implicitPrefs",
                                         typeConverter=TypeConverters.toBoolean)
    nonnegative: "Param[bool]" = Param(Params._dummy(), "nonnegative", "the fit's ALS nonnegative",
                                       typeConverter=TypeConverters.toBoolean)

    def _fitParam(self, param: "Param[Any]") -> Any:
        if not self.isDefined(param):
            raise ValueError(
                f"{V.stage_name(self)}: {param.name} is not known: the model was not fitted by "
                "UnseenItemRanker (fromFitted), or was saved before 0.2.0"
            )
        return self.getOrDefault(param)

    @property
    def rank(self) -> int:
        """The rank of the inner model's factors (``ALSModel.rank``)."""
        return self._rank()

    def getRank(self) -> int:
        """The rank of the inner model's factors: the ``rank`` the fit used."""
        return self._rank()

    def getMaxIter(self) -> int:
        """The fit's ALS ``maxIter`` (ValueError when not known, see :py:attr:`maxIter`)."""
        return self._fitParam(self.maxIter)

    def getRegParam(self) -> float:
        """The fit's ALS ``regParam`` (ValueError when not known)."""
        return self._fitParam(self.regParam)

    def getAlpha(self) -> float:
        """The fit's ALS ``alpha`` (ValueError when not known)."""
        return self._fitParam(self.alpha)

    def getImplicitPrefs(self) -> bool:
        """The fit's ALS ``implicitPrefs`` (ValueError when not known)."""
        return self._fitParam(self.implicitPrefs)

    def getNonnegative(self) -> bool:
        """The fit's ALS ``nonnegative`` (ValueError when not known)."""
        return self._fitParam(self.nonnegative)


# -- persistence ------------------------------------------------------------------------------

_DATA_FORMAT = 1


def _inner_classes() -> Dict[str, Type[MLReadable[Any]]]:
    """The fitted models a saved ranker may hold, by the class path their metadata records
    (Spark's own record their JVM class); loading never imports a class a file names."""
    return {
        "org.apache.spark.ml.recommendation.ALSModel": ALSModel,
        P.class_path(PopularityModel): PopularityModel,
    }


def _load_inner(stage: str, path: str, spark: Any) -> Any:
    import json

    where = os.path.join(path, "metadata")
    row = spark.read.text(where).first()
    try:
        name = json.loads(row[0])["class"] if row is not None else None
    except ValueError:
        name = None
    cls = _inner_classes().get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            f"{stage}: '{path}' holds a {name!r}, which a ranker cannot hold "
            f"(expected one of {sorted(_inner_classes())})"
        )
    return cls.load(path)


class _RankerModelWriter(P.ClearSave):
    instance: UnseenItemRankerModel

    def __init__(self, instance: UnseenItemRankerModel) -> None:
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        model = self.instance
        if model._model is None or model._seen is None:
            raise ValueError("UnseenItemRankerModel: cannot save a model with no inner model")
        DefaultParamsWriter.saveMetadata(
            model, path, metadata_context(self.sparkSession),
            # the inner model's id columns again: on Spark Connect, PySpark 4.3's ALSModel.load
            # gives a model whose client-side params are missing
            extraMetadata={"dataFormat": _DATA_FORMAT, "numItems": model._numItems,
                           "userCol": model.getUserCol(), "itemCol": model.getItemCol()},
        )
        model._model.write().save(os.path.join(path, "model"))
        model._seen.write.parquet(os.path.join(path, "data", "seen"))


class _RankerModelReader(MLReader[UnseenItemRankerModel]):
    def __init__(self, cls: type) -> None:
        super().__init__()
        self.cls = cls

    def load(self, path: str) -> UnseenItemRankerModel:
        stage = "UnseenItemRankerModel"
        metadata = P.load_metadata(UnseenItemRankerModel, path, self.sparkSession)
        if metadata.get("dataFormat") != _DATA_FORMAT or not isinstance(metadata.get("numItems"), int):
            raise ValueError(f"{stage}: {path}/metadata lacks dataFormat {_DATA_FORMAT} and numItems: found "
                             f"{metadata.get('dataFormat')!r}, {metadata.get('numItems')!r}")
        seen = P.read_data(UnseenItemRankerModel, path, "seen", self.sparkSession)
        if seen.columns != ["user", _SEEN_ITEMS, _SEEN_COUNT] or not isinstance(
            seen.schema["user"].dataType, IntegralType
        ):
            raise ValueError(f"{stage}: {path}/data/seen has schema {seen.schema.simpleString()}, expected "
                             "user int, items array<int>, numSeen int")
        inner = _load_inner(stage, os.path.join(path, "model"), self.sparkSession)
        for name in ("userCol", "itemCol"):
            if name in metadata and inner.hasParam(name):
                inner.set(inner.getParam(name), metadata[name])
        model = UnseenItemRankerModel._withData(inner, seen, metadata["numItems"])
        P.set_params(model, metadata, path)
        return model
