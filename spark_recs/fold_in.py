"""Fold-in: factors for users who were not in the fit, from their interactions and the model's
fixed item factors, by the least-squares problem ALS solves for a user."""

from typing import Any, Iterator, Optional, Union

import numpy as np
import pyarrow as pa
from pyspark.ml import PipelineModel
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from spark_recs import _validation as V
from spark_recs import _workers as W
from spark_recs._recommenders import als_and_indexer, factor_rank, original_ids
from spark_recs.popularity import PopularityModel
from spark_recs.ranking import UnseenItemRankerModel

__all__ = ["UNKNOWN_ITEMS", "fold_in", "fold_in_with", "solve_user", "nnls"]

_NAME = "fold_in"
#: What fold_in does with interactions whose item the model has no factor for.
UNKNOWN_ITEMS = ["error", "skip"]
_I = "__spark_recs_item_idx"


def fold_in(
    model: Union[PipelineModel, ALSModel, UnseenItemRankerModel, str],
    interactions: DataFrame,
    *,
    ratingCol: str = "rating",
    regParam: Optional[float] = None,
    alpha: Optional[float] = None,
    implicitPrefs: Optional[bool] = None,
    nonnegative: Optional[bool] = None,
    unknownItems: str = "error",
) -> DataFrame:
    """Factors for the users of ``interactions``, solved against the model's item factors as
    ALS solves a user's factor in its last half-iteration.

    Parameters
    ----------
    model : :py:class:`pyspark.ml.PipelineModel`, ALSModel, UnseenItemRankerModel or str
        A fitted pipeline (its ``IdIndexerModel`` encodes the items; the users need not be in
        its vocabulary), a bare model, or a saved pipeline's path.
    interactions : :py:class:`pyspark.sql.DataFrame`
        The users' rows: the model's original user and item columns (the indexer's inputs)
        and ``ratingCol`` (numeric: stars, or play counts under implicit feedback). Each row
        counts once, as in ALS (duplicates add up).
    ratingCol : str, default 'rating'
    regParam, alpha, implicitPrefs, nonnegative : optional
        The fit's ALS params. An ``UnseenItemRankerModel`` (from ``UnseenItemRanker`` or
        ``tune``) remembers them; a bare ``ALSModel`` does not, so they must be given (an
        error names the missing one). A value given overrides the remembered one.
    unknownItems : str, default 'error'
        Rows whose item has no factor: 'error' (raise, naming up to 10) or 'skip' (leave them
        out; a user left without rows then gets no row).

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        ``(user column, features array<float>)``: one row per user of ``interactions`` (the
        column's own name and type). A user whose system has no solution (implicit feedback
        with no positive row and a singular Gram matrix) gets NaN factors, which the engine
        ranks after everything (nothing is recommended from them).

    Raises
    ------
    ValueError
        Missing columns, null ids or ratings, NaN ratings, unknown items under 'error', a
        param the model does not remember and was not given, ``regParam`` < 0, ``alpha`` < 0,
        a ``PopularityModel``.
    TypeError
        A rating column that is not numeric.

    Notes
    -----
    Per user u with rows (i, r) (Spark's ``ALS.computeFactors``; Zhou et al. 2008 for the
    ``regParam`` scaling, Hu, Koren & Volinsky 2008 for implicit feedback):

    - explicit: ``(sum_i y_i y_i^T + regParam * n_u I) x = sum_i r y_i``, n_u the rows;
    - implicit: with c = alpha |r|, ``(Y^T Y + sum_i c y_i y_i^T + regParam * n_u I) x =
      sum_{r > 0} (1 + c) y_i``, n_u the rows with r > 0, Y^T Y over every item factor
      (computed once, in Spark);
    - ``nonnegative``: the same problem under x >= 0, solved exactly by Lawson and Hanson's
      active set (Spark's ALS uses an iterative solver, so the two agree to its tolerance).

    Solved in float64 from ALS's float32 factors, returned as float32, as ALS stores them.
    Jobs: one check (nulls, NaN, unknown items), one for Y^T Y (implicit only; a rank x rank
    matrix is all that reaches the driver), and the result's: the rows joined to their item
    factors, grouped per user, solved in numpy on Arrow batches (``mapInArrow``).
    """
    recommender, indexer = als_and_indexer(model, _NAME)
    return fold_in_with(
        recommender, indexer, interactions, ratingCol=ratingCol, regParam=regParam, alpha=alpha,
        implicitPrefs=implicitPrefs, nonnegative=nonnegative, unknownItems=unknownItems,
    )


def fold_in_with(
    recommender: Any, indexer: Any, interactions: DataFrame, *, ratingCol: str = "rating",
    regParam: Optional[float] = None, alpha: Optional[float] = None, implicitPrefs: Optional[bool] = None,
    nonnegative: Optional[bool] = None, unknownItems: str = "error",
) -> DataFrame:
    """:py:func:`fold_in` for a recommender and its indexer (or None) already found in a
    pipeline (:py:func:`spark_recs._recommenders.als_and_indexer`)."""
    if isinstance(recommender, PopularityModel):
        raise ValueError(f"{_NAME}: a PopularityModel has no user factors to fold in; pass a factor model")
    inner: Any = recommender.model if isinstance(recommender, UnseenItemRankerModel) else recommender
    remembered = isinstance(recommender, UnseenItemRankerModel)
    params = {}
    for name, given in (("regParam", regParam), ("alpha", alpha), ("implicitPrefs", implicitPrefs),
                        ("nonnegative", nonnegative)):
        if given is None and not remembered:
            raise ValueError(
                f"{_NAME}: {name} is not known: an {type(recommender).__name__} does not remember its fit's "
                f"params; pass {name}= (or an UnseenItemRankerModel, which does)"
            )
        getter: Any = getattr(recommender, "get" + name[0].upper() + name[1:], None)
        params[name] = given if given is not None else getter()
    for name in ("regParam", "alpha"):
        V.require_param(_NAME, name, params[name], params[name] >= 0, "be >= 0", f"ALS's {name}")
    V.require_choice(_NAME, "unknownItems", unknownItems, UNKNOWN_ITEMS)
    (user_col, _), (item_col, vocab) = original_ids(inner, indexer)
    for param, name in (("userCol", user_col), ("itemCol", item_col)):
        V.require_column(_NAME, f"interactions {param}", name, interactions)
    rating_type = V.require_type(_NAME, "ratingCol", ratingCol, interactions, V.is_numeric, "numeric")
    spark = interactions.sparkSession
    W.require_worker_modules(spark, _NAME)
    rows = interactions.select(
        V.column(user_col), V.column(item_col), V.column(ratingCol).cast("double").alias("r")
    )
    if vocab is not None:
        codes = vocab.select(F.col("value").alias(item_col), F.col("index").alias(_I))
        rows = rows.join(codes, item_col, "left")
    else:
        rows = rows.withColumn(_I, V.column(item_col).cast("int"))
    known = inner.itemFactors.select(F.col("id").alias(_I), F.col("features"))
    rows = rows.join(known, _I, "left")
    _check_rows(rows, user_col, item_col, ratingCol, rating_type, unknownItems)
    if unknownItems == "skip":
        rows = rows.where(F.col("features").isNotNull())
    rank = factor_rank(inner)
    gram = _gram(inner.itemFactors, rank) if params["implicitPrefs"] else np.zeros((rank, rank))
    per_user = rows.groupBy(V.column(user_col)).agg(
        F.collect_list("features").alias("Y"), F.collect_list("r").alias("r")
    )
    user_type = interactions.schema[user_col].dataType.simpleString()
    schema = f"`{user_col}` {user_type}, features array<float>"
    solve = _solve_batches(user_col, rank, gram, float(params["regParam"]), float(params["alpha"]),
                           bool(params["implicitPrefs"]), bool(params["nonnegative"]))
    return per_user.mapInArrow(solve, schema)


def _check_rows(
    rows: DataFrame, user_col: str, item_col: str, rating: str, rating_type: Any, policy: str
) -> None:
    """One job: null ids, null or NaN ratings, items without factors (up to 10 named)."""
    nulls, nans = V.null_nan_counts(F.col("r"), rating_type)
    unknown = F.col("features").isNull() & V.column(item_col).isNotNull()
    counts: Optional[Row] = rows.agg(
        F.count(F.when(V.column(user_col).isNull(), 1)).alias("null_users"),
        F.count(F.when(V.column(item_col).isNull(), 1)).alias("null_items"),
        (nulls + nans).alias("bad_ratings"),
        F.count(F.when(unknown, 1)).alias("unknown"),
        F.slice(F.array_distinct(F.collect_list(F.when(unknown, V.column(item_col).cast("string")))), 1, 10)
        .alias("examples"),
    ).first()
    assert counts is not None  # an aggregation without groups has one row
    for key, what, param, col in (("null_users", "null ids", "userCol", user_col),
                                  ("null_items", "null ids", "itemCol", item_col),
                                  ("bad_ratings", "null or NaN ratings", "ratingCol", rating)):
        if counts[key]:
            raise ValueError(f"{_NAME}: interactions {param} '{col}' has {counts[key]} {what}")
    if counts["unknown"] and policy == "error":
        raise ValueError(
            f"{_NAME}: interactions itemCol '{item_col}' has {counts['unknown']} row(s) of items the model "
            f"has no factors for, e.g. {sorted(counts['examples'])}; leave them out with unknownItems='skip'"
        )


def _gram(item_factors: DataFrame, rank: int) -> np.ndarray:
    """Y^T Y over every item factor (float64 of the float32 factors), summed in Spark: each
    partition's rank x rank partial sum, then their sum; only that matrix is collected."""

    def partial(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        g = np.zeros((rank, rank))
        for b in batches:
            if b.num_rows:
                y = _matrix(b.column(0), rank)
                g += y.T @ y
        yield pa.RecordBatch.from_pydict({"g": [g.ravel().tolist()]})

    parts = item_factors.select(F.col("features").cast("array<float>")).mapInArrow(partial, "g array<double>")
    summed = parts.agg(F.aggregate(
        F.collect_list("g"), F.array_repeat(F.lit(0.0), rank * rank),
        lambda acc, x: F.zip_with(acc, x, lambda a, c: a + c),
    ).alias("g")).first()
    return np.asarray(summed["g"] if summed is not None else [0.0] * rank * rank, float).reshape(rank, rank)


def _matrix(column: Any, rank: int) -> np.ndarray:
    """float64 (n, rank) of a list<float> Arrow column of n vectors."""
    values = column.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(values, np.float32).astype(np.float64).reshape(-1, rank)


def _solve_batches(user_col: str, rank: int, gram: np.ndarray, reg: float, alpha: float, implicit: bool,
                   nonneg: bool) -> Any:
    """``mapInArrow`` function: per-user rows (user, Y list<list<float>>, r list<double>) ->
    (user, features list<float>)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            if not b.num_rows:
                continue
            ys, rs = b.column(1), b.column(2)
            offsets = ys.offsets.to_numpy()
            y_all = _matrix(ys.flatten(), rank)
            r_all = rs.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
            out = np.empty((b.num_rows, rank), np.float32)
            for u in range(b.num_rows):
                lo, hi = offsets[u], offsets[u + 1]
                out[u] = solve_user(y_all[lo:hi], r_all[lo:hi], gram, reg, alpha, implicit, nonneg)
            features = pa.FixedSizeListArray.from_arrays(pa.array(out.ravel(), pa.float32()), rank)
            yield pa.RecordBatch.from_arrays(
                [b.column(0), features.cast(pa.list_(pa.float32()))], names=[user_col, "features"]
            )

    return run


def solve_user(y: np.ndarray, r: np.ndarray, gram: np.ndarray, reg: float, alpha: float, implicit: bool,
               nonneg: bool) -> np.ndarray:
    """One user's factor from its rows' item factors ``y`` (n, rank), ratings ``r`` (n,) and,
    under implicit feedback, the Gram matrix of every item factor: the normal equations of
    Spark's ``ALS.computeFactors`` (see :py:func:`fold_in`). NaN when they have no solution."""
    rank = y.shape[1]
    if implicit:
        c = alpha * np.abs(r)
        positive = r > 0
        a = gram + (y * c[:, None]).T @ y
        b = y.T @ np.where(positive, 1.0 + c, 0.0)
        n = int(positive.sum())
    else:
        a = y.T @ y
        b = y.T @ r
        n = len(r)
    a = a + reg * n * np.eye(rank)
    try:
        return nnls(a, b) if nonneg else np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.full(rank, np.nan)


def nnls(a: np.ndarray, b: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """argmin over x >= 0 of ``x^T a x / 2 - b^T x`` for a symmetric positive definite ``a``:
    Lawson and Hanson's active-set method (Solving Least Squares Problems, 1974, ch. 23) on the
    normal equations. Exact up to rounding; at most a few passes per coordinate."""
    k = len(b)
    x = np.zeros(k)
    free = np.zeros(k, bool)
    for _ in range(3 * k + 10):
        w = b - a @ x
        candidates = ~free & (w > tol * max(1.0, float(np.abs(b).max(initial=0.0))))
        if not candidates.any():
            return x
        free[np.argmax(np.where(candidates, w, -np.inf))] = True
        while True:
            z = np.zeros(k)
            idx = np.flatnonzero(free)
            z[idx] = np.linalg.solve(a[np.ix_(idx, idx)], b[idx])
            if (z[idx] > 0).all():
                x = z
                break
            bad = idx[z[idx] <= 0]
            gap = x[bad] - z[bad]
            step = float(np.min(np.where(gap > 0, x[bad] / np.where(gap > 0, gap, 1.0), 0.0)))
            x = x + step * (z - x)
            free &= x > 0
            x[~free] = 0.0
    return x
