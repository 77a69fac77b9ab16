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
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import IntegralType

from spark_recs import _blocks as B
from spark_recs import _persistence as P
from spark_recs import _validation as V
from spark_recs._compat import has_min_by_k, metadata_context
from spark_recs._sizes import fits_broadcast
from spark_recs._validation import column
from spark_recs.param import P as Self
from spark_recs.param import fixed_seed, without_none_seed
from spark_recs.popularity import PopularityModel
from spark_recs.recommendation import ALSSetters, fit_als

__all__ = ["UnseenItemRanker", "UnseenItemRankerModel"]

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
        Params._dummy(), "userBlockSize", "users scored together in one task (>= 1).",
        typeConverter=TypeConverters.toInt,
    )
    itemBlockSize: "Param[int]" = Param(
        Params._dummy(), "itemBlockSize", "items scored together in one task (>= 1).",
        typeConverter=TypeConverters.toInt,
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._setDefault(
            predictionCol="prediction", rankCol="rank", numAboveCol="numAbove", numTiedCol="numTied",
            numCandidatesCol="numCandidates", coldStartStrategy="nan", userBlockSize=1024, itemBlockSize=4096,
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
        """Gets the value of :py:attr:`userBlockSize` or its default value 1024."""
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
    userBlockSize, itemBlockSize : int, default 1024, 4096
        Users and items scored together in one task: a task holds a ``userBlockSize x
        itemBlockSize`` score matrix (8 bytes a score while computed), so they bound its
        memory.

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
        userBlockSize: int = 1024,
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
        userBlockSize: int = 1024,
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

    Notes
    -----
    Scores are ``float32(u . v)`` summed in float64 from the float32 factors; ALS's own
    ``transform`` sums in float32, so the two can differ in the last bit. Jobs: one counts the
    held-out users (to size the blocks); the output then runs one plan: held-out pairs joined
    to their factors and seen items, packed into user blocks, crossed with the item blocks
    (broadcast when they fit ``spark.sql.autoBroadcastJoinThreshold``), each pair of blocks
    scored by one matrix product in ``mapInPandas``, and the counts summed per held-out pair.
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
        cls, model: Model, dataset: DataFrame, ratingCol: Optional[str] = None
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

    def _itemBlocks(self, spark: Any) -> DataFrame:
        """The catalogue in blocks of at most itemBlockSize items (ITEM_BLOCK_SCHEMA)."""
        size = self.getItemBlockSize()
        factors = self._data()[0].itemFactors
        blocks = max(1, math.ceil(self._numItems / size))
        packed = factors.repartitionByRange(blocks, "id").mapInPandas(
            B.pack_items(self._rank(), size), B.ITEM_BLOCK_SCHEMA
        )
        if fits_broadcast(spark, self._numItems * (self._rank() * 4 + 16)):
            packed = F.broadcast(packed)
        return packed

    def _userBlocks(self, users: DataFrame, num_users: int) -> DataFrame:
        """Per-user rows (user, features, held, seen) in blocks of at most userBlockSize users."""
        size = self.getUserBlockSize()
        blocks = max(1, math.ceil(num_users / size))
        return users.repartition(blocks, "user").mapInPandas(
            B.pack_users(self._rank(), size), B.USER_BLOCK_SCHEMA
        )

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
        nan = self.getColdStartStrategy() == "nan"
        pairs = dataset.select(
            column(user).cast("int").alias(_U), column(item).cast("int").alias(_I)
        ).distinct()
        model, seen_items = self._data()
        items = model.itemFactors.select(F.col("id").alias(_I), F.col("features").alias("ivec"))
        users = model.userFactors.select(F.col("id").alias(_U), F.col("features").alias("uvec"))
        seen = seen_items.select(
            F.col("user").alias(_U), F.col(_SEEN_ITEMS).alias("seen"), F.col(_SEEN_COUNT).alias("nseen")
        )
        pairs = pairs.join(items, _I, "left").join(users, _U, "left").join(seen, _U, "left")
        known_item, known_user = F.col("ivec").isNotNull(), F.col("uvec").isNotNull()
        valid = F.col(_U).isNotNull() & F.col(_I).isNotNull()
        # what the block engine ranks: scored pairs, and every item of a user without factors
        # (all its candidates score 0 there: they all tie, and the engine counts them by id)
        engine = pairs.where(valid & (known_item | ~known_user))
        per_user = engine.groupBy(_U).agg(
            F.first("uvec", ignorenulls=True).alias("features"),
            F.collect_list(F.struct(F.col(_I).alias("item"), F.col("ivec").alias("features"))).alias("held"),
            F.first("seen", ignorenulls=True).alias("seen"),
        ).withColumnRenamed(_U, "user")
        num_users = per_user.count()
        ranked = self._userBlocks(per_user, num_users).crossJoin(self._itemBlocks(spark)).mapInPandas(
            B.rank_in_blocks, B.RANK_SCHEMA
        )
        counts = ranked.groupBy(F.col("user").alias(_U), F.col("item").alias(_I)).agg(
            F.min("target").alias("target"), F.sum("above").alias("above"), F.sum("tied").alias("tied"),
            F.sum("tied_before").alias("before"),
        )
        # cold held-out items per user: how many, and each one's place among them by id
        cold = pairs.where(valid & ~known_item)
        cold_rank = cold.select(
            _U, _I, (F.rank().over(Window.partitionBy(_U).orderBy(_I)) - 1).alias("cold_before")
        )
        cold_count = cold.groupBy(_U).agg(F.count(F.lit(1)).alias("n_cold"))
        out = (
            pairs.join(counts, [_U, _I], "left")
            .join(cold_rank, [_U, _I], "left")
            .join(cold_count, _U, "left")
        )
        n_cold = F.coalesce(F.col("n_cold"), F.lit(0)) if nan else F.lit(0)
        # the user's catalogue candidates
        scored = F.lit(self._numItems) - F.coalesce(F.col("nseen"), F.lit(0))
        candidates = scored + n_cold
        before_cold = F.coalesce(F.col("cold_before"), F.lit(0))
        is_scored = valid & known_user & known_item
        # a row without an id has no rank; a cold row of a user with factors ranks after its
        # scored candidates; every candidate of a user without factors ties
        null = F.lit(None).cast("long")
        above = (
            F.when(~valid, null).when(is_scored, F.col("above")).when(known_user, scored).otherwise(F.lit(0))
        )
        tied = (
            F.when(~valid, null)
            .when(is_scored, F.col("tied") + 1)
            .when(known_user, n_cold)
            .otherwise(candidates)
        )
        rank = (
            F.when(~valid, null)
            .when(is_scored, F.col("above") + F.col("before") + 1)
            .when(known_user, scored + before_cold + 1)
            .otherwise(F.coalesce(F.col("before"), F.lit(0)) + before_cold + 1)
        )
        candidates = F.when(valid, candidates)
        in_fit = F.when(
            valid & known_item,
            F.array_contains(F.coalesce(F.col("seen"), F.array().cast("array<int>")), F.col(_I)),
        )
        stage = V.stage_name(self)
        prediction = F.when(
            in_fit.eqNullSafe(True),
            F.raise_error(F.concat(
                F.lit(f"{stage}: a held-out row of userCol '{user}', itemCol '{item}' is the pair ("),
                F.col(_U).cast("string"), F.lit(", "), F.col(_I).cast("string"),
                F.lit("), which was in the fit data, so it is not a candidate; split by (user, item) pairs "
                      "(PerUserFolds, train_test_split_per_user)"),
            )).cast("float"),
        ).otherwise(F.when(is_scored, F.col("target")).otherwise(F.lit(float("nan"))).cast("float"))
        result = out.select(
            _U, _I, prediction.alias("__p"), rank.cast("int").alias("__rank"),
            above.cast("int").alias("__above"), tied.cast("int").alias("__tied"),
            candidates.cast("int").alias("__cand"), is_scored.alias("__scored"),
        )
        if not nan:
            result = result.where(F.col("__scored"))
        keyed = dataset.withColumn(_U, column(user).cast("int")).withColumn(_I, column(item).cast("int"))
        how = "left" if nan else "inner"
        joined = keyed.join(result, [keyed[_U].eqNullSafe(result[_U]), keyed[_I].eqNullSafe(result[_I])], how)
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
            ``ALSModel.recommendForAllUsers``, best first, ties by item id ascending; items the
            user had in the fit data are left out (fewer than ``numItems`` only when the
            catalogue runs out).
        """
        model, _ = self._data()
        user, _ = _inner_columns(model)
        return self.recommendForUserSubset(model.userFactors.select(F.col("id").alias(user)), numItems)

    def recommendForUserSubset(self, dataset: DataFrame, numItems: int) -> DataFrame:
        """Top ``numItems`` unseen items for the users of ``dataset`` (its userCol; users
        without factors get none), as :py:meth:`recommendForAllUsers`."""
        model, seen_items = self._data()
        user, item = _inner_columns(model)
        V.require_param(self, "numItems", numItems, numItems >= 1, "be >= 1", f"items per userCol '{user}'")
        V.require_type(self, "userCol", user, dataset, V.is_numeric, "numeric (integer ids in Int range)")
        wanted = dataset.select(column(user).cast("int").alias(_U)).where(F.col(_U).isNotNull()).distinct()
        users = model.userFactors.select(F.col("id").alias(_U), F.col("features").alias("features"))
        seen = seen_items.select(F.col("user").alias(_U), F.col(_SEEN_ITEMS).alias("seen"))
        per_user = wanted.join(users, _U).join(seen, _U, "left").select(
            F.col(_U).alias("user"),
            "features",
            F.array().cast("array<struct<item:int,features:array<float>>>").alias("held"),
            "seen",
        )
        num_users = per_user.count()
        spark = dataset.sparkSession
        tops = self._userBlocks(per_user, num_users).crossJoin(self._itemBlocks(spark)).mapInPandas(
            B.top_in_blocks(numItems), B.TOP_SCHEMA
        )
        order = F.struct((-F.col("score")).alias("s"), F.col("item").alias("i"))
        rec = F.struct(F.col("item").alias(item), F.col("score").alias("rating"))
        if has_min_by_k(spark):
            best = tops.groupBy("user").agg(
                F.call_function("min_by", rec, order, F.lit(numItems)).alias("recommendations")
            )
        else:
            ranked = tops.withColumn("__n", F.row_number().over(Window.partitionBy("user").orderBy(order)))
            best = ranked.where(F.col("__n") <= numItems).groupBy("user").agg(
                F.transform(
                    F.sort_array(F.collect_list(F.struct(order.alias("o"), rec.alias("r")))), lambda x: x["r"]
                ).alias("recommendations")
            )
        return best.withColumnRenamed("user", user)

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
