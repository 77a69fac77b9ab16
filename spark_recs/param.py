"""Shared params of spark-recs stages, named and defaulted as ``pyspark.ml.recommendation.ALS``
names them, so one value serves every stage of a recommender pipeline."""

from pyspark.ml.param import Param, Params, TypeConverters

__all__ = ["HasUserCol", "HasItemCol", "HasRatingCol"]


class HasUserCol(Params):
    """Mixin for param userCol: column name for user ids (default ``"user"``, as in ALS)."""

    userCol: "Param[str]" = Param(
        Params._dummy(),
        "userCol",
        "column name for user ids.",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(userCol="user")

    def getUserCol(self) -> str:
        """Gets the value of userCol or its default value."""
        return self.getOrDefault(self.userCol)


class HasItemCol(Params):
    """Mixin for param itemCol: column name for item ids (default ``"item"``, as in ALS)."""

    itemCol: "Param[str]" = Param(
        Params._dummy(),
        "itemCol",
        "column name for item ids.",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(itemCol="item")

    def getItemCol(self) -> str:
        """Gets the value of itemCol or its default value."""
        return self.getOrDefault(self.itemCol)


class HasRatingCol(Params):
    """Mixin for param ratingCol: column name for ratings (default ``"rating"``, as in ALS)."""

    ratingCol: "Param[str]" = Param(
        Params._dummy(),
        "ratingCol",
        "column name for ratings.",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(ratingCol="rating")

    def getRatingCol(self) -> str:
        """Gets the value of ratingCol or its default value."""
        return self.getOrDefault(self.ratingCol)
