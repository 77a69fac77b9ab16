"""``ZeroFiller``: add the unobserved (user, item) pairs of implicit data with rating 0."""

from typing import Any, Dict, Optional, cast

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasSeed
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, DataType, StringType

from spark_recs._dense import INDEX, SMALL, dense_index, small_dense_index
from spark_recs._persistence import ParamsReadable, ParamsWritable
from spark_recs._sizes import fits_broadcast
from spark_recs._validation import (
    column,
    empty_input,
    is_atomic_id,
    is_numeric,
    null_nan_counts,
    require_choice,
    require_distinct,
    require_param,
    require_type,
    stage_name,
)
from spark_recs.param import HasItemCol, HasRatingCol, HasUserCol, fixed_seed, without_none_seed

__all__ = ["ZeroFiller"]

# Internal column names: the input's own names are put back only at the very end, so a user,
# item or rating column may be called anything (even "index").
_U = "__spark_recs_user"
_I = "__spark_recs_item"
_R = "__spark_recs_rating"
_IDX = "__spark_recs_index"
_OBS = "__spark_recs_observed"
_N = "__spark_recs_n"
_Z = "__spark_recs_z"
_K1 = "__spark_recs_k1"
_K2 = "__spark_recs_k2"
_K3 = "__spark_recs_k3"

#: Bytes per input row in a broadcast hash table, besides string ids' own bytes.
_BROADCAST_ROW_BYTES = 64
#: Rounds of cycle walking in ``strategy="sample"`` (see the Notes of :class:`ZeroFiller`).
_WALK = 32
#: The default seed (see fixed_seed).
_DEFAULT_SEED = fixed_seed("spark_recs.zeros.ZeroFiller")


class ZeroFiller(
    Transformer,
    HasUserCol,
    HasItemCol,
    HasRatingCol,
    HasSeed,
    ParamsReadable,
    ParamsWritable,
):
    """Add the unobserved (user, item) pairs of implicit data, such as play counts, with rating 0.

    Parameters
    ----------
    userCol : str, default "user"
        Column of user ids: any atomic type (string, integral, decimal, date, ...).
    itemCol : str, default "item"
        Column of item ids: any atomic type.
    ratingCol : str, default "rating"
        Column of ratings: any numeric type (not boolean).
    handleDuplicates : str, default "error"
        What to do when a (user, item) pair has more than one row: ``"error"`` raises,
        ``"sum"`` adds the ratings up, ``"max"`` keeps the largest.
    maxRows : int, default 100_000_000
        With ``strategy="full"``, the most output rows (distinct users x distinct items)
        allowed; a larger grid raises before any big job runs.
    strategy : str, default "full"
        ``"full"`` gives every user every item; ``"sample"`` gives each user a random sample of
        its unobserved items (see Notes), for data too big for the full grid.
    numZeros : float, default 1.0
        With ``strategy="sample"``, how many zeros per user: per positive or per user, as
        ``numZerosMode`` says. Must be >= 0 (``inf`` means every unobserved item).
    numZerosMode : str, default "perPositive"
        ``"perPositive"``: a user with n observed items gets ``round(numZeros * n)`` zeros;
        ``"perUser"``: every user gets ``round(numZeros)`` zeros.
    seed : int, optional
        Seed of the sample of ``strategy="sample"``. The default is a fixed number, so that the
        default sample is the same from one Python process to the next.

    Notes
    -----
    **Output.** Exactly the columns ``[userCol, itemCol, ratingCol]``, in that order, with the
    input's types: zeros are ``0`` cast to the rating type, aggregated duplicates are cast back
    to it (an overflow then raises under ANSI mode). Other input columns are not carried: a
    zero row would have no value for them. Row order is unspecified.

    **Input checks.** The three columns must exist and be distinct; ids must be of an atomic
    type and ratings numeric (``TypeError`` otherwise). Then one aggregation job counts the rows,
    the nulls of each column, the NaN ratings, the distinct items and (user, item) pairs, and
    with ``strategy="full"`` the distinct users.
    An empty input, a null anywhere or a NaN rating raises ``ValueError``; so do duplicated
    pairs unless ``handleDuplicates`` is ``"sum"`` or ``"max"``, in which case they are
    aggregated into one row per pair before anything else. Ratings are otherwise kept as they
    are, negative ones included, so the output's rating sum is the input's (with ``"max"``, the
    sum of each pair's largest rating). Let I be the number of distinct items and, for each user
    u, n_u its number of distinct observed items.

    **strategy="full".** Output: one row per (user, item) among the distinct users and items
    of the input, U x I rows; observed pairs keep their rating, the others get 0. If U x I >
    ``maxRows`` a ``ValueError`` is raised right after the counting job. The grid is never
    shuffled: small inputs are joined by broadcast, others go through each user's gaps between
    observed items (``docs/design.md``, "ZeroFiller's plans"); both give the same rows.

    **strategy="sample".** User u gets z_u = min(I - n_u, round(numZeros * n_u)) zeros with
    ``numZerosMode="perPositive"``, z_u = min(I - n_u, round(numZeros)) with ``"perUser"``,
    where round(x) = floor(x + 0.5) rounds halves up. The z_u items are drawn without
    replacement among the user's unobserved items: never an observed pair, never a repeated
    row, all of them when z_u = I - n_u, and so ``numZeros=inf`` gives the full grid. The output
    has sum(n_u + z_u) rows, proportional to the positives rather than to U x I. The draw (a
    keyed pseudo-random permutation of the items per user, ``docs/design.md``) depends only
    on the data and the seed, never on the partitioning of the input, and differs from one
    seed to another.

    **Jobs.** ``transform`` runs eagerly the counting job (and, for the gaps with more than
    1,000,000 distinct items, the jobs that index them: a sort and a ``localCheckpoint`` of I
    rows); it returns a lazy DataFrame for the big part. It uses the DataFrame API only, so
    it also runs on Spark Connect.

    Examples
    --------
    >>> df = spark.createDataFrame(
    ...     [("u1", "a", 3), ("u1", "c", 1), ("u2", "b", 5)], ["user", "item", "rating"])
    >>> filler = ZeroFiller()
    >>> full = filler.transform(df)
    >>> full.columns
    ['user', 'item', 'rating']
    >>> for row in sorted(full.collect()):
    ...     print(row)
    Row(user='u1', item='a', rating=3)
    Row(user='u1', item='b', rating=0)
    Row(user='u1', item='c', rating=1)
    Row(user='u2', item='a', rating=0)
    Row(user='u2', item='b', rating=5)
    Row(user='u2', item='c', rating=0)

    Duplicated pairs raise unless told how to combine them:

    >>> dup = df.union(spark.createDataFrame([("u1", "a", 2)], df.schema))
    >>> ZeroFiller().transform(dup)
    Traceback (most recent call last):
        ...
    ValueError: ZeroFiller: 1 extra rows repeat a (user, item) pair: 4 rows but 3 distinct ...
    >>> summed = ZeroFiller(handleDuplicates="sum").transform(dup)
    >>> for row in sorted(summed.where("rating > 0").collect()):
    ...     print(row)
    Row(user='u1', item='a', rating=5)
    Row(user='u1', item='c', rating=1)
    Row(user='u2', item='b', rating=5)

    Sampling draws one zero per positive here (u1 has 2 positives but only 1 unobserved item):

    >>> sampler = ZeroFiller(strategy="sample", numZeros=1.0, seed=7)
    >>> sorted((row.user, row.rating) for row in sampler.transform(df).collect())
    [('u1', 0), ('u1', 1), ('u1', 3), ('u2', 0), ('u2', 5)]

    >>> path = temp_path + "/zero-filler"
    >>> sampler.save(path)
    >>> loaded = ZeroFiller.load(path)
    >>> loaded.uid == sampler.uid
    True
    >>> loaded.extractParamMap() == sampler.extractParamMap()
    True
    >>> loaded.getStrategy(), loaded.getNumZeros(), loaded.getSeed()
    ('sample', 1.0, 7)
    """

    handleDuplicates: "Param[str]" = Param(
        Params._dummy(),
        "handleDuplicates",
        "what to do with several rows of one (user, item) pair: "
        "'error' (raise), 'sum' (add the ratings up) or 'max' (keep the largest).",
        typeConverter=TypeConverters.toString,
    )
    maxRows: "Param[int]" = Param(
        Params._dummy(),
        "maxRows",
        "with strategy 'full', the most output rows (distinct users x distinct items) "
        "allowed; a larger grid raises before any big job. Must be >= 1.",
        typeConverter=TypeConverters.toInt,
    )
    strategy: "Param[str]" = Param(
        Params._dummy(),
        "strategy",
        "'full' (every user gets every item) or 'sample' (every user gets a seeded random "
        "sample of its unobserved items, sized by numZeros and numZerosMode).",
        typeConverter=TypeConverters.toString,
    )
    numZeros: "Param[float]" = Param(
        Params._dummy(),
        "numZeros",
        "with strategy 'sample', how many zeros: per positive or per user as numZerosMode "
        "says, rounded half up, capped by the user's unobserved items. Must be >= 0.",
        typeConverter=TypeConverters.toFloat,
    )
    numZerosMode: "Param[str]" = Param(
        Params._dummy(),
        "numZerosMode",
        "'perPositive' (round(numZeros * observed items) zeros per user) or "
        "'perUser' (round(numZeros) zeros per user).",
        typeConverter=TypeConverters.toString,
    )

    _input_kwargs: Dict[str, Any]

    @keyword_only
    def __init__(
        self,
        *,
        userCol: str = "user",
        itemCol: str = "item",
        ratingCol: str = "rating",
        handleDuplicates: str = "error",
        maxRows: int = 100_000_000,
        strategy: str = "full",
        numZeros: float = 1.0,
        numZerosMode: str = "perPositive",
        seed: Optional[int] = None,
    ) -> None:
        super().__init__()
        self._setDefault(
            handleDuplicates="error",
            maxRows=100_000_000,
            strategy="full",
            numZeros=1.0,
            numZerosMode="perPositive",
            seed=_DEFAULT_SEED,
        )
        kwargs = self._input_kwargs
        self.setParams(**kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        userCol: str = "user",
        itemCol: str = "item",
        ratingCol: str = "rating",
        handleDuplicates: str = "error",
        maxRows: int = 100_000_000,
        strategy: str = "full",
        numZeros: float = 1.0,
        numZerosMode: str = "perPositive",
        seed: Optional[int] = None,
    ) -> "ZeroFiller":
        """Sets params for this ZeroFiller (``seed=None`` leaves the seed as it is)."""
        return self._set(**without_none_seed(self._input_kwargs))

    def setHandleDuplicates(self, value: str) -> "ZeroFiller":
        """Sets the value of :py:attr:`handleDuplicates`."""
        return self._set(handleDuplicates=value)

    def setMaxRows(self, value: int) -> "ZeroFiller":
        """Sets the value of :py:attr:`maxRows`."""
        return self._set(maxRows=value)

    def setStrategy(self, value: str) -> "ZeroFiller":
        """Sets the value of :py:attr:`strategy`."""
        return self._set(strategy=value)

    def setNumZeros(self, value: float) -> "ZeroFiller":
        """Sets the value of :py:attr:`numZeros`."""
        return self._set(numZeros=value)

    def setNumZerosMode(self, value: str) -> "ZeroFiller":
        """Sets the value of :py:attr:`numZerosMode`."""
        return self._set(numZerosMode=value)

    def setSeed(self, value: int) -> "ZeroFiller":
        """Sets the value of :py:attr:`seed`."""
        return self._set(seed=value)

    def getHandleDuplicates(self) -> str:
        """Gets the value of handleDuplicates or its default value."""
        return self.getOrDefault(self.handleDuplicates)

    def getMaxRows(self) -> int:
        """Gets the value of maxRows or its default value."""
        return self.getOrDefault(self.maxRows)

    def getStrategy(self) -> str:
        """Gets the value of strategy or its default value."""
        return self.getOrDefault(self.strategy)

    def getNumZeros(self) -> float:
        """Gets the value of numZeros or its default value."""
        return self.getOrDefault(self.numZeros)

    def getNumZerosMode(self) -> str:
        """Gets the value of numZerosMode or its default value."""
        return self.getOrDefault(self.numZerosMode)

    # ------------------------------------------------------------------ transform

    def _validate_params(self) -> None:
        require_choice(
            self, "handleDuplicates", self.getHandleDuplicates(), ["error", "sum", "max"]
        )
        require_choice(self, "strategy", self.getStrategy(), ["full", "sample"])
        require_choice(self, "numZerosMode", self.getNumZerosMode(), ["perPositive", "perUser"])
        num_zeros, max_rows = self.getNumZeros(), self.getMaxRows()
        user, item = self.getUserCol(), self.getItemCol()
        require_param(
            self, "numZeros", num_zeros, num_zeros >= 0, "be >= 0",
            f"zeros per userCol '{user}' with strategy 'sample'",
        )
        require_param(
            self, "maxRows", max_rows, max_rows >= 1, "be >= 1",
            f"rows of userCol '{user}' x itemCol '{item}' with strategy 'full'",
        )

    def _transform(self, dataset: DataFrame) -> DataFrame:
        name = stage_name(self)
        user, item, rating = self.getUserCol(), self.getItemCol(), self.getRatingCol()
        require_distinct(self, "userCol, itemCol and ratingCol", [user, item, rating])
        require_type(self, "userCol", user, dataset, is_atomic_id, "of an atomic type")
        require_type(self, "itemCol", item, dataset, is_atomic_id, "of an atomic type")
        rating_type = require_type(self, "ratingCol", rating, dataset, is_numeric, "numeric")
        self._validate_params()

        df = dataset.select(column(user).alias(_U), column(item).alias(_I), column(rating).alias(_R))
        stats = self._stats(df, rating_type, count_users=self.getStrategy() == "full")
        if stats["rows"] == 0:
            raise empty_input(self, ("userCol", user), ("itemCol", item), ("ratingCol", rating))
        for param, col, key in (
            ("userCol", user, "null_users"),
            ("itemCol", item, "null_items"),
            ("ratingCol", rating, "null_ratings"),
        ):
            if stats[key]:
                raise ValueError(
                    f"{name}: {param} '{col}' has {stats[key]} null values in "
                    f"{stats['rows']} rows; drop or fill them first"
                )
        if stats["nan_ratings"]:
            raise ValueError(
                f"{name}: ratingCol '{rating}' has {stats['nan_ratings']} NaN values in "
                f"{stats['rows']} rows; drop or fill them first"
            )
        extra = stats["rows"] - stats["pairs"]
        mode = self.getHandleDuplicates()
        if extra and mode == "error":
            raise ValueError(
                f"{name}: {extra} extra rows repeat a (user, item) pair: {stats['rows']} rows "
                f"but {stats['pairs']} distinct pairs of userCol '{user}' and itemCol '{item}'; "
                f"handleDuplicates is 'error', set it to 'sum' or 'max' to combine them"
            )
        strategy = self.getStrategy()
        users, items = stats.get("users", 0), stats["items"]
        if strategy == "full" and users * items > self.getMaxRows():
            raise ValueError(
                f"{name}: strategy 'full' would give {users} users x {items} items = "
                f"{users * items} rows > maxRows={self.getMaxRows()}; raise maxRows or use "
                f"strategy='sample'"
            )

        if extra:
            agg = F.sum(_R) if mode == "sum" else F.max(_R)
            df = df.groupBy(_U, _I).agg(agg.cast(rating_type).alias(_R))

        if strategy == "full" and fits_broadcast(dataset.sparkSession, stats["bytes"]):
            return self._output(self._broadcast_grid(df, rating_type), user, item, rating)

        distinct_items, by_value = df.select(_I).distinct(), [F.col(_I).asc()]
        if items <= SMALL:  # the usual case (the index is broadcast below): no extra job
            vocab = small_dense_index(distinct_items, by_value, items)
        else:
            vocab = dense_index(distinct_items, by_value)
        n_items = vocab.size
        items_by_index = F.broadcast(vocab.frame.withColumnRenamed(INDEX, _IDX))
        observed = df.join(items_by_index, on=_I).select(_U, _I, _R, _IDX)

        if strategy == "full":
            zero_index = self._full_zeros(observed, n_items)
        else:
            zero_index = self._sampled_zeros(observed, n_items)
        zeros = zero_index.join(items_by_index, on=_IDX).select(
            _U, _I, F.lit(0).cast(rating_type).alias(_R)
        )
        return self._output(df.select(_U, _I, _R).unionByName(zeros), user, item, rating)

    @staticmethod
    def _output(df: DataFrame, user: str, item: str, rating: str) -> DataFrame:
        """The internal columns under the input's own names, in the output's order."""
        return df.select(F.col(_U).alias(user), F.col(_I).alias(item), F.col(_R).alias(rating))

    @staticmethod
    def _broadcast_grid(df: DataFrame, rating_type: DataType) -> DataFrame:
        """The full grid when the input fits a broadcast: distinct users x distinct items
        (broadcast), left-joined to the input (broadcast), 0 where no row matched. Nothing of
        the grid is shuffled."""
        grid = df.select(_U).distinct().crossJoin(F.broadcast(df.select(_I).distinct()))
        zero, r = F.lit(0).cast(rating_type), F.col(_R)
        # the rating keeps the input's nullability, as the union of the gaps plan does
        rating = F.when(r.isNull(), zero).otherwise(r) if df.schema[_R].nullable else F.coalesce(r, zero)
        return grid.join(F.broadcast(df), [_U, _I], "left").select(_U, _I, rating.alias(_R))

    @staticmethod
    def _stats(df: DataFrame, rating_type: DataType, count_users: bool) -> dict:
        """Counts of the input in one aggregation job (distinct users only if ``count_users``:
        the sample needs none)."""
        u, i, r = F.col(_U), F.col(_I), F.col(_R)
        user_type, item_type = df.schema[_U].dataType, df.schema[_I].dataType
        null_users, _ = null_nan_counts(u, user_type)
        null_items, _ = null_nan_counts(i, item_type)
        null_ratings, nan_ratings = null_nan_counts(r, rating_type)
        # the input's size as a broadcast hash table: a row of three 8-byte words, its null
        # bits and the table's own entry, plus the bytes of string or binary ids
        nbytes = F.count(F.lit(1)) * F.lit(_BROADCAST_ROW_BYTES)
        for c, dtype in ((u, user_type), (i, item_type)):
            if isinstance(dtype, (StringType, BinaryType)):
                nbytes = nbytes + F.coalesce(F.sum(F.octet_length(c)), F.lit(0))
        row = cast(Row, df.agg(
            F.count(F.lit(1)).alias("rows"),
            null_users.alias("null_users"),
            null_items.alias("null_items"),
            null_ratings.alias("null_ratings"),
            nan_ratings.alias("nan_ratings"),
            *([F.count_distinct(u).alias("users")] if count_users else []),
            F.count_distinct(i).alias("items"),
            F.count_distinct(u, i).alias("pairs"),
            nbytes.alias("bytes"),
        ).first())
        return {k: int(v or 0) for k, v in row.asDict().items()}

    @staticmethod
    def _full_zeros(observed: DataFrame, n_items: int) -> DataFrame:
        """(user, index) of every unobserved pair, from the gaps between observed indices."""
        per_user = observed.groupBy(_U).agg(F.sort_array(F.collect_list(_IDX)).alias(_OBS))
        obs = F.col(_OBS)

        def gap(k: Column) -> Column:
            # Gap k lies between the observed indices k-1 and k (0-based), with -1 before the
            # first and I after the last; F.get gives null out of bounds.
            lo = F.coalesce(F.get(obs, k - 1) + 1, F.lit(0))
            hi = F.coalesce(F.get(obs, k) - 1, F.lit(n_items - 1))
            # sequence(lo, hi) counts down when lo > hi: an empty gap gives an empty array.
            return F.when(lo <= hi, F.sequence(lo, hi)).otherwise(
                F.array().cast("array<int>")
            )

        gaps = F.flatten(F.transform(F.sequence(F.lit(0), F.size(obs)), gap))
        return per_user.select(_U, F.explode(gaps).alias(_IDX))

    def _sampled_zeros(self, observed: DataFrame, n_items: int) -> DataFrame:
        """(user, index) of z_u unobserved pairs per user, by a keyed permutation of [0, I)."""
        bits = max(1, (n_items - 1).bit_length())  # ceil(log2 I), at least 1; I < 2^31
        mask = F.lit((1 << bits) - 1).cast("long")
        shift = max(1, (bits + 1) // 2)
        # Capping numZeros at I changes no z_u (n_u >= 1) and keeps the arithmetic small.
        num_zeros = min(self.getNumZeros(), float(n_items))
        n = F.col(_N)
        if self.getNumZerosMode() == "perPositive":
            wanted = F.floor(n.cast("double") * F.lit(num_zeros) + F.lit(0.5))
        else:
            wanted = F.floor(F.lit(num_zeros) + F.lit(0.5))
        z = F.least(F.lit(n_items).cast("long") - n, wanted.cast("long"))

        seed = F.lit(self.getSeed()).cast("long")

        def key(salt: int) -> Column:
            return F.xxhash64(F.col(_U), seed, F.lit(salt)).bitwiseAND(mask)

        k1, k2, k3 = F.col(_K1), F.col(_K2), F.col(_K3)

        def xorshift(y: Column) -> Column:
            return y.bitwiseXOR(F.shiftright(y, shift))

        def permute(x: Column) -> Column:
            # Each step is a bijection of [0, 2^bits); operands < 2^31 keep products in a long.
            y = x.bitwiseXOR(k1)
            y = xorshift((y * k2).bitwiseAND(mask))
            return xorshift((y * k3).bitwiseAND(mask))

        def walk(x: Column) -> Column:
            return F.aggregate(
                F.sequence(F.lit(1), F.lit(_WALK)),
                permute(x),
                lambda acc, _: F.when(acc >= n_items, permute(acc)).otherwise(acc),
            )

        # each user's observed indices, from the group that counts them
        per_user = (
            observed.groupBy(_U)
            .agg(F.collect_list(_IDX).alias(_OBS))
            .withColumn(_N, F.size(_OBS).cast("long"))
            .withColumn(_Z, z)
            .where(F.col(_Z) > 0)
            .select(
                _U,
                _Z,
                _OBS,
                key(1).alias(_K1),
                key(2).bitwiseOR(F.lit(1)).alias(_K2),
                key(3).bitwiseOR(F.lit(1)).alias(_K3),
                F.least(F.lit(n_items).cast("long"), F.col(_Z) + n + F.lit(4)).alias(_N),
            )
        )
        # P(0), P(1), ... as an array, those in [0, I), less the observed ones (array_except
        # keeps the order of its first argument), the first z_u of them: no join, no window
        walked = F.transform(
            F.sequence(F.lit(0), (F.col(_N) - 1).cast("int")), lambda j: walk(j.cast("long"))
        )
        in_range = F.transform(F.filter(walked, lambda x: x < F.lit(n_items)), lambda x: x.cast("int"))
        chosen = F.slice(F.array_except(in_range, F.col(_OBS)), 1, F.col(_Z).cast("int"))
        return per_user.select(_U, F.explode(chosen).alias(_IDX))
