"""PopularityRecommender: the most-popular baseline as a Spark ML stage with factors, so it
ranks and recommends wherever an ALSModel does."""

from typing import Any, Dict, Optional, Tuple

from pyspark import keyword_only
from pyspark.ml.base import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasPredictionCol
from pyspark.ml.util import DefaultParamsWriter, MLReadable, MLReader, MLWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_recs import _persistence as P
from spark_recs import _validation as V
from spark_recs._compat import metadata_context
from spark_recs._validation import column
from spark_recs.param import HasItemCol, HasRatingCol, HasUserCol, without_none

__all__ = ["PopularityRecommender", "PopularityModel"]

_WEIGHTINGS = ["count", "sum"]


class _PopularityParams(HasUserCol, HasItemCol, HasRatingCol, HasPredictionCol):
    """Params shared by :py:class:`PopularityRecommender` and its model."""

    weighting: "Param[str]" = Param(
        Params._dummy(), "weighting",
        "an item's popularity: 'count' (the users with a positive rating for it) or 'sum' (its "
        "ratings added up).",
        typeConverter=TypeConverters.toString,
    )

    timestampCol: "Param[str]" = Param(
        Params._dummy(), "timestampCol",
        "column of the interactions' times (numeric, timestamp or date) that windowStart and "
        "windowEnd read; not set: no window.",
        typeConverter=TypeConverters.toString,
    )
    windowStart: "Param[str]" = Param(
        Params._dummy(), "windowStart",
        "count only interactions at or after this time (a number for a numeric timestampCol, "
        "an ISO 8601 date or time otherwise); not set: from the first.",
        typeConverter=TypeConverters.toString,
    )
    windowEnd: "Param[str]" = Param(
        Params._dummy(), "windowEnd",
        "count only interactions before this time (as windowStart); not set: to the last.",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._setDefault(predictionCol="prediction", weighting="count")

    def getTimestampCol(self) -> str:
        """Gets the value of :py:attr:`timestampCol` (no default)."""
        return self.getOrDefault(self.timestampCol)

    def setTimestampCol(self, value: str) -> Any:
        """Sets the value of :py:attr:`timestampCol`."""
        return self._set(timestampCol=value)

    def getWindowStart(self) -> str:
        """Gets the value of :py:attr:`windowStart` (no default)."""
        return self.getOrDefault(self.windowStart)

    def setWindowStart(self, value: str) -> Any:
        """Sets the value of :py:attr:`windowStart`."""
        return self._set(windowStart=value)

    def getWindowEnd(self) -> str:
        """Gets the value of :py:attr:`windowEnd` (no default)."""
        return self.getOrDefault(self.windowEnd)

    def setWindowEnd(self, value: str) -> Any:
        """Sets the value of :py:attr:`windowEnd`."""
        return self._set(windowEnd=value)

    def getWeighting(self) -> str:
        """Gets the value of :py:attr:`weighting` or its default value 'count'."""
        return self.getOrDefault(self.weighting)

    def setWeighting(self, value: str) -> Any:
        """Sets the value of :py:attr:`weighting`."""
        return self._set(weighting=value)

    def setUserCol(self, value: str) -> Any:
        """Sets the value of :py:attr:`userCol`."""
        return self._set(userCol=value)

    def setItemCol(self, value: str) -> Any:
        """Sets the value of :py:attr:`itemCol`."""
        return self._set(itemCol=value)

    def setRatingCol(self, value: str) -> Any:
        """Sets the value of :py:attr:`ratingCol`."""
        return self._set(ratingCol=value)

    def setPredictionCol(self, value: str) -> Any:
        """Sets the value of :py:attr:`predictionCol`."""
        return self._set(predictionCol=value)


class PopularityRecommender(
    Estimator["PopularityModel"], _PopularityParams, P.ParamsReadable, P.ParamsWritable
):
    """The most-popular baseline: every user gets the items with the most interactions.

    Parameters
    ----------
    userCol, itemCol, ratingCol, predictionCol : str
        Defaults 'user', 'item', 'rating', 'prediction'; ids are integers (ALS's ids).
    weighting : str, default 'count'
        'count': an item's popularity is the number of distinct users with a rating > 0 for
        it (interactions; zero-filled rows do not count); 'sum': the sum of its ratings.
    timestampCol : str, optional
        The interactions' times (numeric such as MovieLens's seconds since the epoch,
        timestamp or date). Needed by windowStart and windowEnd.
    windowStart, windowEnd : str, optional
        Count only the interactions in [windowStart, windowEnd): numbers for a numeric
        timestampCol, ISO 8601 dates or times ('2024-01-31', '2024-01-31 12:00:00', in the
        session time zone) otherwise. Items and users of the fit data outside the window stay in
        the model (items with popularity 0), so the catalogue is the same with or without it.

    Raises
    ------
    ValueError
        An unknown weighting; empty input; null ids, ids that are not integers in Int range
        (index them with ``IdIndexer``); null or NaN ratings; a window bound without
        timestampCol, a bound that does not read as a time, null times.
    TypeError
        A non-numeric id or rating column; a timestampCol that is not numeric, timestamp or
        date.

    Spark jobs
    ----------
    At fit: the input check (one aggregation, as ``ImplicitALS``'s), with a window the null
    count of timestampCol, and the popularities (one aggregation, kept with
    ``localCheckpoint``).

    Notes
    -----
    The model is a rank-1 factor model: every user of the fit data has the factor [1.0] and
    every item [its popularity], so ``UnseenItemRankerModel.fromFitted``, the evaluators and
    ``recommend_for_users`` use it as they use an ALSModel. Items with the same popularity tie
    (the evaluators' tieRule='average' scores a tie by its expected value; top-N lists break it
    by item id). Users not in the fit data have no factor (cold, as in ALS); items not in it
    score NaN.
    Microsoft Recommenders and RePlay call it the popularity baseline (``PopRec``).

    Examples
    --------
    >>> from spark_recs import PopularityRecommender
    >>> plays = spark.createDataFrame([(0, 0, 3.0), (1, 0, 1.0), (1, 1, 2.0), (2, 2, 0.0)],
    ...                               ["user", "item", "rating"])
    >>> model = PopularityRecommender().fit(plays)
    >>> sorted((r.id, r.features[0]) for r in model.itemFactors.collect())
    [(0, 2.0), (1, 1.0), (2, 0.0)]
    >>> model.transform(plays).select("item", "prediction").distinct().orderBy("item").collect()[0].prediction
    2.0
    >>> model.write().overwrite().save(temp_path + "/popularity")
    >>> PopularityModel.load(temp_path + "/popularity").rank
    1
    """

    _input_kwargs: Dict[str, Any]

    @keyword_only
    def __init__(
        self,
        *,
        userCol: str = "user",
        itemCol: str = "item",
        ratingCol: str = "rating",
        predictionCol: str = "prediction",
        weighting: str = "count",
        timestampCol: Optional[str] = None,
        windowStart: Optional[str] = None,
        windowEnd: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.setParams(**without_none(self._input_kwargs))

    @keyword_only
    def setParams(
        self,
        *,
        userCol: str = "user",
        itemCol: str = "item",
        ratingCol: str = "rating",
        predictionCol: str = "prediction",
        weighting: str = "count",
        timestampCol: Optional[str] = None,
        windowStart: Optional[str] = None,
        windowEnd: Optional[str] = None,
    ) -> "PopularityRecommender":
        """Sets params for this PopularityRecommender."""
        return self._set(**without_none(self._input_kwargs))

    def _fit(self, dataset: DataFrame) -> "PopularityModel":
        V.require_choice(self, "weighting", self.getWeighting(), _WEIGHTINGS)
        window = self._window(dataset)
        V.check_interactions(self, dataset)
        user, item, rating = self.getUserCol(), self.getItemCol(), self.getRatingCol()
        counted = dataset if window is None else dataset.where(window)
        r = column(rating).cast("double")
        score = (F.count_distinct(F.when(r > 0, column(user))) if self.getWeighting() == "count"
                 else F.sum(r))
        # every item of the fit data, popularity 0 where it has no interaction in the window
        in_window = counted.groupBy(column(item).cast("int").alias("id")).agg(score.cast("float").alias("p"))
        items = (
            dataset.select(column(item).cast("int").alias("id")).distinct()
            .join(in_window, "id", "left")
            .select("id", F.array(F.coalesce(F.col("p"), F.lit(0.0).cast("float"))).alias("features"))
            .localCheckpoint(eager=True)
        )
        users = dataset.select(column(user).cast("int").alias("id")).distinct().select(
            "id", F.array(F.lit(1.0).cast("float")).alias("features"))
        return self._copyValues(PopularityModel._withData(users, items))

    def _window(self, dataset: DataFrame) -> Optional[Column]:
        """The rows inside [windowStart, windowEnd), or None without a window; checks the
        timestamp column (one job: its null count)."""
        bounds = [name for name in ("windowStart", "windowEnd") if self.isDefined(name)]
        if not self.isDefined(self.timestampCol):
            if bounds:
                raise ValueError(f"PopularityRecommender: {bounds[0]} is set but timestampCol is not: set "
                                 "the column of the interactions' times")
            return None
        ts = self.getTimestampCol()
        dt = V.require_type(self, "timestampCol", ts, dataset, V.is_time, "numeric, timestamp or date")
        nulls = dataset.where(column(ts).isNull()).count()
        if nulls:
            raise ValueError(
                f"PopularityRecommender: timestampCol '{ts}' has {nulls} null time(s); "
                "drop or fill them first"
            )
        inside = F.lit(True)
        if self.isDefined(self.windowStart):
            start = V.time_literal(self, "windowStart", self.getWindowStart(), ts, dt)
            inside = inside & (column(ts) >= start)
        if self.isDefined(self.windowEnd):
            end = V.time_literal(self, "windowEnd", self.getWindowEnd(), ts, dt)
            inside = inside & (column(ts) < end)
        return inside


class PopularityModel(Model, _PopularityParams, MLReadable["PopularityModel"], MLWritable):
    """The fitted popularity baseline: ``userFactors`` ([1.0] per user of the fit data),
    ``itemFactors`` ([popularity] per item) and ``rank`` 1, as an ALSModel has them.
    ``transform`` adds ``predictionCol``: the row's item's popularity (float; NaN for an item
    not in the fit data)."""

    def __init__(self) -> None:
        super().__init__()
        self._users: Optional[DataFrame] = None
        self._items: Optional[DataFrame] = None

    @classmethod
    def _withData(cls, users: DataFrame, items: DataFrame) -> "PopularityModel":
        that = cls()
        that._users, that._items = users, items
        return that

    def _data(self) -> Tuple[DataFrame, DataFrame]:
        """The user and item factors; a ValueError naming the stage when there are none."""
        if self._users is None or self._items is None:
            raise ValueError(
                f"{V.stage_name(self)}: the model has no factors; fit a PopularityRecommender or "
                "load a saved model"
            )
        return self._users, self._items

    @property
    def userFactors(self) -> DataFrame:
        """``(id int, features array<float>)``: [1.0] for every user of the fit data."""
        return self._data()[0]

    @property
    def itemFactors(self) -> DataFrame:
        """``(id int, features array<float>)``: [popularity] for every item of the fit data."""
        return self._data()[1]

    @property
    def rank(self) -> int:
        """1: one factor."""
        return 1

    def copy(self, extra: Optional[Dict[Param, Any]] = None) -> "PopularityModel":
        """A copy with ``extra`` applied to its params, sharing the factors."""
        that = Params.copy(self, extra)
        that._users, that._items = self._users, self._items
        return that

    def _transform(self, dataset: DataFrame) -> DataFrame:
        item = self.getItemCol()
        V.require_type(self, "itemCol", item, dataset, V.is_numeric, "numeric")
        V.require_new_column(self, "predictionCol", self.getPredictionCol(), dataset)
        scores = self._data()[1].select(
            F.col("id").alias("__spark_recs_i"), F.col("features")[0].alias("__spark_recs_p")
        )
        joined = dataset.join(
            F.broadcast(scores), column(item).cast("int") == F.col("__spark_recs_i"), "left"
        )
        prediction = F.coalesce(F.col("__spark_recs_p"), F.lit(float("nan")).cast("float"))
        return joined.select(*[column(c) for c in dataset.columns], prediction.alias(self.getPredictionCol()))

    def write(self) -> "_PopularityWriter":
        """Returns an MLWriter: JSON params plus the factors as Parquet."""
        return _PopularityWriter(self)

    @classmethod
    def read(cls) -> "_PopularityReader":
        """Returns an MLReader for this class."""
        return _PopularityReader(cls)


class _PopularityWriter(P.ClearSave):
    instance: PopularityModel

    def __init__(self, instance: PopularityModel) -> None:
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        model = self.instance
        users, items = model._data()
        DefaultParamsWriter.saveMetadata(model, path, metadata_context(self.sparkSession))
        users.write.parquet(f"{path}/data/userFactors")
        items.write.parquet(f"{path}/data/itemFactors")


class _PopularityReader(MLReader[PopularityModel]):
    def __init__(self, cls: type) -> None:
        super().__init__()
        self.cls = cls

    def load(self, path: str) -> PopularityModel:
        metadata = P.load_metadata(PopularityModel, path, self.sparkSession)
        users = P.read_data(PopularityModel, path, "userFactors", self.sparkSession)
        items = P.read_data(PopularityModel, path, "itemFactors", self.sparkSession)
        model = PopularityModel._withData(users, items)
        P.set_params(model, metadata, path)
        return model
