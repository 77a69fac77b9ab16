"""ImplicitALS: implicit-feedback ALS that does not pay for zero-rated rows when fitting."""

from typing import Any, Dict, Optional

from pyspark import keyword_only
from pyspark.ml.base import Estimator
from pyspark.ml.recommendation import ALS, ALSModel, _ALSParams
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_recs import _validation as V
from spark_recs._checkpoint import require_checkpointing
from spark_recs._persistence import ParamsReadable, ParamsWritable
from spark_recs._validation import column
from spark_recs.param import fixed_seed, without_none_seed

__all__ = ["ImplicitALS", "ALSSetters"]

#: The default seed (see fixed_seed).
_DEFAULT_SEED = fixed_seed("spark_recs.recommendation.ImplicitALS")


class ALSSetters:
    """ALS's setters, for estimators that carry ALS's params (``_ALSParams``): they only set
    params, so the same functions serve and return the estimator they are called on."""

    setRank = ALS.setRank
    setMaxIter = ALS.setMaxIter
    setRegParam = ALS.setRegParam
    setNumUserBlocks = ALS.setNumUserBlocks
    setNumItemBlocks = ALS.setNumItemBlocks
    setNumBlocks = ALS.setNumBlocks
    setImplicitPrefs = ALS.setImplicitPrefs
    setAlpha = ALS.setAlpha
    setUserCol = ALS.setUserCol
    setItemCol = ALS.setItemCol
    setRatingCol = ALS.setRatingCol
    setSeed = ALS.setSeed
    setNonnegative = ALS.setNonnegative
    setCheckpointInterval = ALS.setCheckpointInterval
    setIntermediateStorageLevel = ALS.setIntermediateStorageLevel
    setFinalStorageLevel = ALS.setFinalStorageLevel
    setColdStartStrategy = ALS.setColdStartStrategy
    setPredictionCol = ALS.setPredictionCol
    setBlockSize = ALS.setBlockSize


class ImplicitALS(Estimator[ALSModel], _ALSParams, ALSSetters, ParamsReadable, ParamsWritable):
    """Spark's ALS for implicit feedback, fitted without the rows whose rating is 0.

    In implicit ALS (Hu, Koren & Volinsky 2008, as Spark implements it) a row with rating r
    adds confidence ``alpha * |r|`` and preference ``r > 0``; a row with rating 0 adds
    nothing, so the factors are the same with or without those rows, while every fit pays for
    them. Zero-filled data is what ROEM and precision@k need for evaluation; this estimator
    lets a standard ``CrossValidator`` keep the zeros in its validation folds while its fits
    skip them.

    It has every param of :py:class:`pyspark.ml.recommendation.ALS`, with the same names and
    defaults except ``implicitPrefs=True`` and a fixed ``seed``; each can go in a
    ``ParamGridBuilder``. ``fit`` drops rows whose rating is exactly 0, fits an ``ALS`` with
    the same param values and returns its :py:class:`pyspark.ml.recommendation.ALSModel`.
    It is saved as JSON params (``DefaultParamsWriter``), so it loads back as itself, alone or
    inside a Pipeline or CrossValidator.

    Raises
    ------
    ValueError
        Before ALS runs: no rows, null ids, ids that are not integers in Int range, null or
        NaN ratings, or more than 10 iterations between checkpoints (see Notes).
    TypeError
        Id or rating columns that are not numeric.

    Notes
    -----
    - Factors equal those of ``ALS`` on the full data up to floating-point summation order.
    - A user or item whose rows all have rating 0 has no factors in the model (``ALS`` on the
      full data gives it an all-zero factor vector); ``coldStartStrategy`` then decides
      whether its predictions are NaN or dropped, as for any unseen id.
    - Negative ratings are kept: Spark gives them confidence ``alpha * |r|``.
    - With ``implicitPrefs=False`` nothing is dropped: a 0 is then a real explicit rating.
    - More than 10 iterations between checkpoints need the session's checkpoint directory:
      without one Spark ignores ``checkpointInterval`` and a long fit dies with
      ``java.lang.StackOverflowError``. ``fit`` raises ``ValueError`` before any work when
      ``maxIter`` > 10 and the session has none (or ``checkpointInterval`` > 10), naming the
      line that fixes it: ``spark.sparkContext.setCheckpointDir(path)`` (on Spark Connect,
      the server's ``spark.checkpoint.dir``).
    - ``fit`` checks its input before ALS runs: user and item ids must be numeric columns
      (``TypeError`` otherwise), and one aggregation job checks that there are rows, that no
      id is null, that every id is an integer in Int range (ALS casts ids to Int; map other
      ids to 0..n-1 with :py:class:`spark_recs.IdIndexer`) and that no rating is null or NaN
      (``ValueError`` naming the param and the column otherwise).

    Examples
    --------
    >>> from spark_recs import ImplicitALS
    >>> plays = spark.createDataFrame(
    ...     [(0, 0, 4.0), (0, 1, 0.0), (1, 1, 2.0), (1, 0, 0.0), (2, 0, 1.0), (2, 1, 3.0)],
    ...     ["user", "item", "rating"])
    >>> als = ImplicitALS(rank=2, maxIter=5, regParam=0.1, seed=7)
    >>> model = als.fit(plays)
    >>> model.rank, model.userFactors.count()
    (2, 3)
    >>> als.save(temp_path + "/implicit-als")
    >>> loaded = ImplicitALS.load(temp_path + "/implicit-als")
    >>> loaded.getRank(), loaded.getImplicitPrefs(), loaded.getSeed()
    (2, True, 7)
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
    ) -> "ImplicitALS":
        """Sets params for ImplicitALS."""
        return self._set(**without_none_seed(self._input_kwargs))

    def _fit(self, dataset: DataFrame) -> ALSModel:
        return fit_als(self, dataset)


def fit_als(stage: Any, dataset: DataFrame) -> ALSModel:
    """Fits ``pyspark.ml.recommendation.ALS`` with the ALS params of ``stage`` (an
    :py:class:`ImplicitALS` or a stage with the same params, which the errors name): checks
    that ALS can checkpoint, checks the input in one job, leaves rating-0 rows out under
    implicitPrefs (ALS gives them zero weight), then fits."""
    rating = stage.getRatingCol()
    require_checkpointing(stage, dataset.sparkSession, stage.getMaxIter(), stage.getCheckpointInterval())
    V.check_interactions(stage, dataset)
    als = stage._copyValues(ALS())
    # Set, not default: Spark Connect sends only set params to the server, whose ALS
    # defaults are implicitPrefs=false and another seed
    als._set(implicitPrefs=stage.getImplicitPrefs(), seed=stage.getSeed())
    if stage.getImplicitPrefs():
        dataset = dataset.where(column(rating) != F.lit(0))
    return als.fit(dataset)
