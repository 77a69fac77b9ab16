"""Shared params of spark-recs stages, named and defaulted as ``pyspark.ml.recommendation.ALS``
names them, so one value serves every stage of a recommender pipeline."""

import zlib
from typing import Any, Dict, TypeVar

from pyspark.ml.param import Param, Params, TypeConverters

P = TypeVar("P", bound=Params)

__all__ = ["HasUserCol", "HasItemCol", "HasRatingCol", "HasK"]


def fixed_seed(name: str) -> int:
    """A fixed default seed for the stage or function ``name``. PySpark's ``HasSeed`` defaults
    to ``hash(class name)``, which changes from one Python process to the next (string hashing
    is randomised); a constant keeps default folds, samples and fits reproducible."""
    return zlib.crc32(name.encode())


def without_none(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Keyword arguments less those that are None: a param without a default stays unset."""
    return {k: v for k, v in kwargs.items() if v is not None}


def without_none_seed(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Keyword arguments less ``seed=None``, which leaves the seed as it is."""
    return {k: v for k, v in kwargs.items() if not (k == "seed" and v is None)}


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

    def setUserCol(self: P, value: str) -> P:
        """Sets the value of :py:attr:`userCol`."""
        return self._set(userCol=value)

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

    def setItemCol(self: P, value: str) -> P:
        """Sets the value of :py:attr:`itemCol`."""
        return self._set(itemCol=value)

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

    def setRatingCol(self: P, value: str) -> P:
        """Sets the value of :py:attr:`ratingCol`."""
        return self._set(ratingCol=value)

    def getRatingCol(self) -> str:
        """Gets the value of ratingCol or its default value."""
        return self.getOrDefault(self.ratingCol)


class HasK(Params):
    """Mixin for param k: how many top-ranked items per user a metric looks at (>= 1)."""

    k: "Param[int]" = Param(
        Params._dummy(),
        "k",
        "how many top-ranked items per user the metric looks at (>= 1).",
        typeConverter=TypeConverters.toInt,
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(k=10)

    def setK(self: P, value: int) -> P:
        """Sets the value of :py:attr:`k`."""
        return self._set(k=value)

    def getK(self) -> int:
        """Gets the value of k or its default value (10)."""
        return self.getOrDefault(self.k)
