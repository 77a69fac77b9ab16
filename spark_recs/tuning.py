"""Per-user folds for ``CrossValidator(foldCol=...)`` and a per-user train/test split.

A random row split leaves some users only in validation, where ALS cannot score them. Here
every user's (user, item) pairs are spread over the folds (or between train and test) in a
seeded random order, so each user is in every training set that can hold it, and all rows of a
pair stay on one side, so no model is scored on a pair it was trained on.
"""

from typing import Any, Dict, Optional, Tuple

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasSeed
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_recs import _validation as V
from spark_recs._per_user import (
    COUNT,
    POSITION,
    UNITS,
    deal_first,
    order_per_user,
    seeded_order,
)
from spark_recs._persistence import ParamsReadable, ParamsWritable
from spark_recs._validation import column
from spark_recs.param import HasItemCol, HasUserCol, fixed_seed, without_none_seed

__all__ = ["PerUserFolds", "train_test_split_per_user"]

#: The default seed (see fixed_seed).
_DEFAULT_SEED = fixed_seed("spark_recs.tuning")


def _checked_order(stage: Any, dataset: DataFrame, user: str, item: str, seed: int, unit: str) -> DataFrame:
    """Check the columns and ``unit``; return ``dataset`` with each user's units in a seeded
    random order (see :py:func:`spark_recs._per_user.order_per_user`)."""
    V.require_type(stage, "userCol", user, dataset, V.is_atomic_id, "an atomic type")
    V.require_type(stage, "itemCol", item, dataset, V.is_atomic_id, "an atomic type")
    V.require_choice(stage, "splitBy", unit, UNITS)
    return order_per_user(dataset, user, item, seeded_order(user, item, seed), unit)


class PerUserFolds(Transformer, HasUserCol, HasItemCol, HasSeed, ParamsReadable, ParamsWritable):
    """Adds an integer fold column that spreads each user's pairs evenly over ``numFolds`` folds.

    Use the column with ``CrossValidator(foldCol=..., numFolds=...)`` for per-user stratified
    k-fold cross-validation. All rows of one (user, item) pair go to one fold, so a model is
    never validated on a pair it was trained on (play-event logs hold a row per play).

    Parameters
    ----------
    userCol, itemCol : str
        Defaults 'user', 'item'.
    foldCol : str, default 'fold'
        Name of the new column (``IntegerType``, 0 .. numFolds - 1).
    numFolds : int, default 3
        Number of folds (>= 2).
    seed : int, optional
        Seed of the random order; the default is a fixed number.
    splitBy : str, default 'pair'
        What is dealt to the folds: 'pair' (each distinct (user, item) pair, with all its rows)
        or 'row' (each row on its own: the rows of a repeated pair can then land in several
        folds, and the model is validated on pairs it was trained on; ask for it only when
        that is what you mean).

    Raises
    ------
    ValueError
        ``numFolds`` < 2, ``splitBy`` not one of 'pair', 'row', a missing column, or
        ``foldCol`` already a column.
    TypeError
        ``userCol`` or ``itemCol`` is not of an atomic type.

    Notes
    -----
    Each user's pairs are put in a random order that depends only on the seed, the user and
    the item (``xxhash64``, ties by item), and dealt to the folds in turn starting at a random
    fold of the user's own: a user with n pairs has floor(n / numFolds) or ceil(n / numFolds)
    pairs in each fold (rows, with ``splitBy='row'``), and users with fewer pairs than folds do
    not all crowd into fold 0. The result is the same whatever the partitioning. Pairs are
    numbered with ``dense_rank`` over a window partitioned by user (rows: ``row_number``, the
    rows' other atomic columns breaking ties between rows of one pair). Every row gets one
    fold, null users too. No Spark job runs.

    Examples
    --------
    >>> from spark_recs import PerUserFolds
    >>> df = spark.createDataFrame([("ann", i) for i in range(6)] + [("bob", 0)], ["user", "item"])
    >>> folds = PerUserFolds(numFolds=3, seed=7).transform(df)
    >>> sorted(folds.where("user = 'ann'").groupBy("fold").count().collect())
    [Row(fold=0, count=2), Row(fold=1, count=2), Row(fold=2, count=2)]
    >>> folds.where("user = 'bob'").count()
    1
    >>> PerUserFolds(numFolds=3).save(temp_path + "/folds")
    >>> PerUserFolds.load(temp_path + "/folds").getNumFolds()
    3
    """

    foldCol: "Param[str]" = Param(
        Params._dummy(), "foldCol", "name of the fold column to add.", typeConverter=TypeConverters.toString
    )
    numFolds: "Param[int]" = Param(
        Params._dummy(), "numFolds", "number of folds (>= 2).", typeConverter=TypeConverters.toInt
    )
    splitBy: "Param[str]" = Param(
        Params._dummy(),
        "splitBy",
        "what is dealt to the folds: 'pair' (all rows of a (user, item) pair in one fold) or "
        "'row' (rows on their own: a repeated pair can straddle folds).",
        typeConverter=TypeConverters.toString,
    )

    _input_kwargs: Dict[str, Any]

    @keyword_only
    def __init__(
        self,
        *,
        userCol: str = "user",
        itemCol: str = "item",
        foldCol: str = "fold",
        numFolds: int = 3,
        seed: Optional[int] = None,
        splitBy: str = "pair",
    ) -> None:
        super().__init__()
        self._setDefault(foldCol="fold", numFolds=3, seed=_DEFAULT_SEED, splitBy="pair")
        kwargs = self._input_kwargs
        self.setParams(**kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        userCol: str = "user",
        itemCol: str = "item",
        foldCol: str = "fold",
        numFolds: int = 3,
        seed: Optional[int] = None,
        splitBy: str = "pair",
    ) -> "PerUserFolds":
        """Sets params for this PerUserFolds."""
        return self._set(**without_none_seed(self._input_kwargs))

    def setFoldCol(self, value: str) -> "PerUserFolds":
        """Sets the value of :py:attr:`foldCol`."""
        return self._set(foldCol=value)

    def setNumFolds(self, value: int) -> "PerUserFolds":
        """Sets the value of :py:attr:`numFolds`."""
        return self._set(numFolds=value)

    def setSeed(self, value: int) -> "PerUserFolds":
        """Sets the value of :py:attr:`seed`."""
        return self._set(seed=value)

    def setSplitBy(self, value: str) -> "PerUserFolds":
        """Sets the value of :py:attr:`splitBy`."""
        return self._set(splitBy=value)

    def getSplitBy(self) -> str:
        """Gets the value of :py:attr:`splitBy` or its default value 'pair'."""
        return self.getOrDefault(self.splitBy)

    def getFoldCol(self) -> str:
        """Gets the value of :py:attr:`foldCol` or its default value 'fold'."""
        return self.getOrDefault(self.foldCol)

    def getNumFolds(self) -> int:
        """Gets the value of :py:attr:`numFolds` or its default value 3."""
        return self.getOrDefault(self.numFolds)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        n = self.getNumFolds()
        V.require_param(self, "numFolds", n, n >= 2, "be >= 2",
                        f"folds of each userCol '{self.getUserCol()}'")
        V.require_new_column(self, "foldCol", self.getFoldCol(), dataset)
        user, seed = self.getUserCol(), self.getSeed()
        ordered = _checked_order(self, dataset, user, self.getItemCol(), seed, self.getSplitBy())
        offset = F.xxhash64(F.lit(seed), column(user))  # the user's first fold
        fold = F.pmod(F.col(POSITION) + F.pmod(offset, F.lit(n)), F.lit(n)).cast("int")
        return ordered.withColumn(self.getFoldCol(), fold).drop(POSITION, COUNT)


def train_test_split_per_user(
    dataset: DataFrame,
    testFraction: float = 0.2,
    seed: int = _DEFAULT_SEED,
    userCol: str = "user",
    itemCol: str = "item",
    splitBy: str = "pair",
) -> Tuple[DataFrame, DataFrame]:
    """Split each user's (user, item) pairs into train and test, for the final holdout.

    A user with n distinct pairs puts ``floor(n * testFraction)`` of them, chosen in a seeded
    random order (as :py:class:`PerUserFolds` orders them), in test and the rest in train; a
    user always keeps at least one pair in train, so users with few pairs stay in train only.
    All rows of a pair go to the same side, so the model is never tested on a pair it was
    trained on. Every row lands in exactly one of the two; the split is the same whatever the
    partitioning. No Spark job runs (both are lazy, over one window partitioned by user).

    Parameters
    ----------
    dataset : :py:class:`pyspark.sql.DataFrame`
        Interactions; every column is kept.
    testFraction : float, default 0.2
        Share of each user's pairs in test, in [0, 1).
    seed : int
        Seed of the random order; the default is a fixed number.
    userCol, itemCol : str
        Defaults 'user', 'item'; any atomic type.
    splitBy : str, default 'pair'
        'pair', or 'row' to deal single rows (the rows of a repeated pair can then land on
        both sides; ask for it only when that is what you mean).

    Returns
    -------
    (train, test) : tuple of :py:class:`pyspark.sql.DataFrame`
        Both with ``dataset``'s schema.

    Raises
    ------
    ValueError
        ``testFraction`` outside [0, 1), ``splitBy`` not 'pair' or 'row', a missing column.
    TypeError
        ``userCol`` or ``itemCol`` is not of an atomic type.

    Examples
    --------
    >>> from spark_recs import train_test_split_per_user
    >>> df = spark.createDataFrame([("ann", i) for i in range(10)] + [("bob", 0)], ["user", "item"])
    >>> train, test = train_test_split_per_user(df, testFraction=0.3, seed=1)
    >>> train.count(), test.count(), test.where("user = 'bob'").count()
    (8, 3, 0)
    """
    V.require_param(
        "train_test_split_per_user", "testFraction", testFraction, 0.0 <= testFraction < 1.0,
        "be in [0, 1)", f"share of each userCol '{userCol}' in test",
    )
    ordered = _checked_order("train_test_split_per_user", dataset, userCol, itemCol, seed, splitBy)
    return deal_first(ordered, fraction=testFraction)
