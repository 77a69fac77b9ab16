"""Per-user folds for ``CrossValidator(foldCol=...)`` and a per-user train/test split.

A random row split leaves some users only in validation, where ALS cannot score them. Here
every user's rows are spread over the folds (or between train and test) in a seeded random
order, so each user is in every training set that can hold it.
"""

from typing import Any, Dict, Optional, Tuple

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasSeed
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_recs import _validation as V
from spark_recs._persistence import ParamsReadable, ParamsWritable
from spark_recs._validation import column
from spark_recs.param import HasItemCol, HasUserCol, fixed_seed, without_none_seed

__all__ = ["PerUserFolds", "train_test_split_per_user"]

#: The default seed (see fixed_seed).
_DEFAULT_SEED = fixed_seed("spark_recs.tuning")


def _per_user_order(stage: Any, dataset: DataFrame, user: str, item: str, seed: int) -> Tuple[Column, Column, Column]:
    """Check the columns; return (0-based position of the row in its user's seeded random
    order, rows of the user, a seeded per-user offset hash).

    Rows of one (user, item) pair tie in (hash, item); the other atomic columns break the tie,
    so that which of them lands where does not depend on the partitioning either.
    """
    V.require_type(stage, "userCol", user, dataset, V.is_atomic_id, "an atomic type")
    V.require_type(stage, "itemCol", item, dataset, V.is_atomic_id, "an atomic type")
    u, i, s = column(user), column(item), F.lit(seed)
    others = [column(f.name) for f in dataset.schema.fields if f.name not in (user, item) and V.is_atomic_id(f.dataType)]
    by_user = Window.partitionBy(u)
    position = F.row_number().over(by_user.orderBy(F.xxhash64(s, u, i), i, *others)) - 1
    return position, F.count(F.lit(1)).over(by_user), F.xxhash64(s, u)


class PerUserFolds(Transformer, HasUserCol, HasItemCol, HasSeed, ParamsReadable, ParamsWritable):
    """Adds an integer fold column that spreads each user's rows evenly over ``numFolds`` folds.

    Use the column with ``CrossValidator(foldCol=..., numFolds=...)`` for per-user stratified
    k-fold cross-validation.

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

    Notes
    -----
    Each user's rows are put in a random order that depends only on the seed, the user and the
    item (``xxhash64``, ties by item), and dealt to the folds in turn starting at a random fold
    of the user's own: a user with n rows has floor(n / numFolds) or ceil(n / numFolds) rows in
    each fold, and users with fewer rows than folds do not all crowd into fold 0. The result is
    the same whatever the partitioning. Rows are numbered with a window partitioned by user.
    Every row gets one fold, null users and duplicate (user, item) rows too: duplicates tie in
    the order and the row's other atomic columns break the tie. No Spark job runs.

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
    ) -> None:
        super().__init__()
        self._setDefault(foldCol="fold", numFolds=3, seed=_DEFAULT_SEED)
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

    def getFoldCol(self) -> str:
        """Gets the value of :py:attr:`foldCol` or its default value 'fold'."""
        return self.getOrDefault(self.foldCol)

    def getNumFolds(self) -> int:
        """Gets the value of :py:attr:`numFolds` or its default value 3."""
        return self.getOrDefault(self.numFolds)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        n = self.getNumFolds()
        V.require_param(self, "numFolds", n, n >= 2, "be >= 2", f"folds of each userCol '{self.getUserCol()}'")
        V.require_new_column(self, "foldCol", self.getFoldCol(), dataset)
        position, _, offset = _per_user_order(self, dataset, self.getUserCol(), self.getItemCol(), self.getSeed())
        fold = F.pmod(position + F.pmod(offset, F.lit(n)), F.lit(n)).cast("int")
        return dataset.withColumn(self.getFoldCol(), fold)


def train_test_split_per_user(
    dataset: DataFrame,
    testFraction: float = 0.2,
    seed: int = _DEFAULT_SEED,
    userCol: str = "user",
    itemCol: str = "item",
) -> Tuple[DataFrame, DataFrame]:
    """Split each user's rows into train and test, for the final holdout.

    A user with n rows puts ``floor(n * testFraction)`` of them, chosen in a seeded random
    order (as :py:class:`PerUserFolds` orders them), in test and the rest in train; a user
    always keeps at least one row in train, so users with few rows stay in train only. Every
    row lands in exactly one of the two; the split is the same whatever the partitioning.

    Parameters
    ----------
    dataset : :py:class:`pyspark.sql.DataFrame`
    testFraction : float, default 0.2
        In [0, 1).
    seed : int
    userCol, itemCol : str

    Returns
    -------
    (train, test) : tuple of :py:class:`pyspark.sql.DataFrame`

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
    position, rows, _ = _per_user_order("train_test_split_per_user", dataset, userCol, itemCol, seed)
    n_test = F.least(F.floor(rows * F.lit(float(testFraction))), rows - 1)
    flagged = dataset.withColumn("__spark_recs_test", position < n_test)
    test = flagged.where(F.col("__spark_recs_test")).drop("__spark_recs_test")
    train = flagged.where(~F.col("__spark_recs_test")).drop("__spark_recs_test")
    return train, test

