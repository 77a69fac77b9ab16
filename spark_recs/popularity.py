"""PopularityRecommender: the most-popular baseline as a Spark ML stage with factors, so it
ranks and recommends wherever an ALSModel does."""

from typing import Any, Dict, Optional

from pyspark import keyword_only
from pyspark.ml.base import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasPredictionCol
from pyspark.ml.util import DefaultParamsWriter, MLReadable, MLReader, MLWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_recs import _persistence as P
from spark_recs import _validation as V
from spark_recs._compat import metadata_context
from spark_recs._validation import column
from spark_recs.param import HasItemCol, HasRatingCol, HasUserCol

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

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._setDefault(predictionCol="prediction", weighting="count")

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


class PopularityRecommender(Estimator["PopularityModel"], _PopularityParams, P.ParamsReadable, P.ParamsWritable):
    """The most-popular baseline: every user gets the items with the most interactions.

    Parameters
    ----------
    userCol, itemCol, ratingCol, predictionCol : str
        Defaults 'user', 'item', 'rating', 'prediction'; ids are integers (ALS's ids).
    weighting : str, default 'count'
        'count': an item's popularity is the number of distinct users with a rating > 0 for
        it (interactions; zero-filled rows do not count); 'sum': the sum of its ratings.

    Raises
    ------
    ValueError, TypeError
        A missing or non-numeric column, an unknown weighting.

    Notes
    -----
    The model is a rank-1 factor model: every user of the fit data has the factor [1.0] and
    every item [its popularity], so ``UnseenItemRankerModel.fromFitted``, the evaluators and
    ``recommend_for_users`` use it as they use an ALSModel. Items with the same popularity tie
    (the evaluators' tieRule='average' scores a tie by its expected value; top-N lists break it
    by item id). Users not in the fit data have no factor (cold, as in ALS); items not in it
    score NaN. One aggregation job at fit (the popularities, kept with ``localCheckpoint``).
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
    ) -> None:
        super().__init__()
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        userCol: str = "user",
        itemCol: str = "item",
        ratingCol: str = "rating",
        predictionCol: str = "prediction",
        weighting: str = "count",
    ) -> "PopularityRecommender":
        """Sets params for this PopularityRecommender."""
        return self._set(**self._input_kwargs)

    def _fit(self, dataset: DataFrame) -> "PopularityModel":
        V.require_choice(self, "weighting", self.getWeighting(), _WEIGHTINGS)
        user, item, rating = self.getUserCol(), self.getItemCol(), self.getRatingCol()
        for param, name in (("userCol", user), ("itemCol", item), ("ratingCol", rating)):
            V.require_type(self, param, name, dataset, V.is_numeric, "numeric")
        r = column(rating).cast("double")
        score = (F.count_distinct(F.when(r > 0, column(user))) if self.getWeighting() == "count"
                 else F.sum(F.coalesce(r, F.lit(0.0))))
        items = (
            dataset.where(column(item).isNotNull()).groupBy(column(item).cast("int").alias("id"))
            .agg(F.array(score.cast("float")).alias("features"))
            .localCheckpoint(eager=True)
        )
        users = (
            dataset.where(column(user).isNotNull()).select(column(user).cast("int").alias("id")).distinct()
            .select("id", F.array(F.lit(1.0).cast("float")).alias("features"))
        )
        return self._copyValues(PopularityModel._withData(users, items))


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

    @property
    def userFactors(self) -> DataFrame:
        """``(id int, features array<float>)``: [1.0] for every user of the fit data."""
        return self._users

    @property
    def itemFactors(self) -> DataFrame:
        """``(id int, features array<float>)``: [popularity] for every item of the fit data."""
        return self._items

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
        scores = self._items.select(F.col("id").alias("__spark_recs_i"), F.col("features")[0].alias("__spark_recs_p"))
        joined = dataset.join(F.broadcast(scores), column(item).cast("int") == F.col("__spark_recs_i"), "left")
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
    def __init__(self, instance: PopularityModel) -> None:
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        model = self.instance
        DefaultParamsWriter.saveMetadata(model, path, metadata_context(self.sparkSession))
        model._users.write.parquet(f"{path}/data/userFactors")
        model._items.write.parquet(f"{path}/data/itemFactors")


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
