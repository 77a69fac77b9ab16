"""The benchmark cases: each times our stage ("ours") against the recipe people use today
("naive"), both forced to full evaluation, and says how to check that they agree."""

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from pyspark.ml.evaluation import Evaluator
from pyspark.ml.feature import StringIndexer
from pyspark.ml.recommendation import ALS
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_recs import (
    BinaryRater,
    IdIndexer,
    ImplicitALS,
    PrecisionAtKEvaluator,
    RankingMetricsEvaluator,
    ROEMEvaluator,
    UnseenItemRankerModel,
    ZeroFiller,
)
from tests.reference import course_roem, spark_ranking_metric

import datagen

K = 10
TOLERANCE = 1e-9

RANKING = {
    "precision_at_k": "precisionAtK",
    "ndcg_at_k": "ndcgAtK",
    "map_at_k": "meanAveragePrecisionAtK",
    "recall_at_k": "recallAtK",
    "map": "meanAveragePrecision",
}

ALL_CASES = ["roem", *RANKING, "zeros", "zeros_smj", "zeros_sample", "ids", "binarize", "implicit_cv",
             "full_catalogue"]
CV_SIZES = ("warmup", "XS", "S")  # implicit_cv runs at these sizes only (its target is set at S)


@dataclass
class Inputs:
    """The materialized inputs of one size."""

    spark: SparkSession
    size_name: str
    preds: DataFrame  # user int, item int, rating double (plays, 0 = unobserved), prediction float
    observed: DataFrame  # user int, item int, rating double: the positives of preds
    explicit: DataFrame  # user string, item string, rating double (1..5 stars), same pairs
    users: int
    items: int
    positives: int
    rating_sum: float
    exact_rows_check: bool  # compare whole outputs row by row (XS only)


@dataclass
class Case:
    name: str
    what: str
    # label -> callable; "ours" and "naive" always, extras ("scan", "floor", "ours_error") after them
    contestants: Dict[str, Callable[[], Optional[float]]]
    compare_values: bool = False  # contestants return numbers (or tuples of them) that must agree
    tolerance: float = TOLERANCE  # how far apart those numbers may be
    conf: Dict[str, str] = field(default_factory=dict)  # Spark SQL conf set around the runs
    check: Optional[Callable[[], Dict[str, Any]]] = None  # untimed; returns {"ok": bool, ...}
    plans_of: List[str] = field(default_factory=list)  # labels whose final plans are recorded


def noop(df: DataFrame) -> None:
    """Run the whole plan, write nothing: the way to time a DataFrame without count()."""
    df.write.format("noop").mode("overwrite").save()


def naive_zeros(observed: DataFrame) -> DataFrame:
    users = observed.select("user").distinct()
    items = observed.select("item").distinct()
    return users.crossJoin(items).join(observed, ["user", "item"], "left").fillna(0)


def naive_sampled_zeros(observed: DataFrame, seed: int = 7) -> DataFrame:
    """Negative sampling as commonly written: the unobserved grid, sampled to ~1 per positive."""
    stats = observed.agg(
        F.count(F.lit(1)).alias("n"),
        F.count_distinct("user").alias("u"),
        F.count_distinct("item").alias("i"),
    ).first()
    fraction = min(1.0, stats["n"] / max(1, stats["u"] * stats["i"] - stats["n"]))
    users = observed.select("user").distinct()
    items = observed.select("item").distinct()
    unobserved = users.crossJoin(items).join(observed, ["user", "item"], "left_anti")
    zeros = unobserved.sample(fraction=fraction, seed=seed).withColumn("rating", F.lit(0.0))
    return observed.unionByName(zeros)


def bare_roem(preds: DataFrame) -> float:
    """The cheapest correct ROEM we can write (tieRule 'min', no NaN predictions, no checks):
    one groupBy(user) that sorts each user's predictions once and finds each rated row's
    position with ``array_position``, then one sum. The floor ``ROEMEvaluator`` is held to:
    what ours adds over it is its checks (nulls, NaN, negative ratings) and NaN handling."""
    p, r = F.col("prediction"), F.col("rating")
    per_user = preds.groupBy("user").agg(
        F.sort_array(F.collect_list(p), asc=False).alias("preds"),
        F.collect_list(F.when(r != 0, F.struct(p.alias("p"), r.alias("r")))).alias("rated"),
        F.count(F.lit(1)).alias("n"),
        F.sum(r).alias("rsum"),
    )
    weighted = F.aggregate(
        F.col("rated"), F.lit(0.0), lambda acc, x: acc + x["r"] * (F.array_position(F.col("preds"), x["p"]) - 1)
    )
    term = F.when(F.col("n") > 1, weighted / (F.col("n") - 1)).otherwise(0.0)
    row = per_user.agg(F.sum(term).alias("num"), F.sum("rsum").alias("den")).first()
    return float(row["num"] / row["den"])


def naive_binary(df: DataFrame) -> DataFrame:
    return df.withColumn("binary", F.when(F.col("rating") > 0, 1).otherwise(0))


def string_indexers() -> StringIndexer:
    return StringIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"])


def id_indexer() -> IdIndexer:
    return IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"])


def build(inp: Inputs) -> Dict[str, Case]:
    preds, observed, explicit = inp.preds, inp.observed, inp.explicit
    cases: Dict[str, Case] = {}

    cases["roem"] = Case(
        "roem",
        "ROEMEvaluator(tieRule='min') (the course's ties) vs course_roem (PERCENT_RANK window); "
        "scan = noop write; floor = bare_roem (one groupBy, no checks)",
        {
            "ours": lambda: ROEMEvaluator(tieRule="min").evaluate(preds),
            "naive": lambda: course_roem(preds),
            "scan": lambda: noop(preds),
            "floor": lambda: bare_roem(preds),
        },
        compare_values=True,
    )
    for name, metric in RANKING.items():
        cases[name] = Case(
            name,
            f"RankingMetricsEvaluator({metric}, k={K}, tieRule='itemId') vs RankingEvaluator on per-user arrays "
            "(both break ties by item id, so the numbers agree)",
            {
                "ours": (lambda m=metric: RankingMetricsEvaluator(metricName=m, k=K, tieRule="itemId").evaluate(preds)),
                "naive": (lambda m=metric: spark_ranking_metric(preds, m, K)),
            },
            compare_values=True,
            check=(lambda: _check_precision_alias(preds)) if metric == "precisionAtK" else None,
        )

    cases["zeros"] = Case(
        "zeros",
        "ZeroFiller().transform(observed) vs users.crossJoin(items).join(observed, left).fillna(0)",
        {
            "ours": lambda: noop(ZeroFiller().transform(observed)),
            "naive": lambda: noop(naive_zeros(observed)),
        },
        check=lambda: _check_zeros(inp, exact_rows=inp.exact_rows_check),
        plans_of=["naive"],
    )
    cases["zeros_smj"] = Case(
        "zeros_smj",
        "zeros with spark.sql.autoBroadcastJoinThreshold below the observed data's size",
        dict(cases["zeros"].contestants),
        conf={"spark.sql.autoBroadcastJoinThreshold": str(below_size(inp))},
        check=lambda: _check_zeros(inp, exact_rows=False),  # rows compared in "zeros"
        plans_of=["naive"],
    )
    cases["zeros_sample"] = Case(
        "zeros_sample",
        "ZeroFiller(strategy='sample', numZeros=1.0) vs left_anti grid .sample(fraction) + union",
        {
            "ours": lambda: noop(ZeroFiller(strategy="sample", numZeros=1.0).transform(observed)),
            "naive": lambda: noop(naive_sampled_zeros(observed)),
        },
        check=lambda: _check_sample(inp),
    )

    def ours_ids() -> None:
        noop(id_indexer().fit(explicit).transform(explicit))

    def naive_ids() -> None:
        noop(string_indexers().fit(explicit).transform(explicit))

    cases["ids"] = Case(
        "ids",
        "IdIndexer(inputCols=[user, item]).fit+transform vs StringIndexer(inputCols=...) fit+transform",
        {"ours": ours_ids, "naive": naive_ids},
        check=lambda: _check_ids(inp),
    )

    cases["binarize"] = Case(
        "binarize",
        "BinaryRater(handleInvalid='keep') vs withColumn(when(rating > 0, 1).otherwise(0)); "
        "ours_error = BinaryRater() default (runs a null/NaN check job)",
        {
            "ours": lambda: noop(BinaryRater(handleInvalid="keep").transform(preds)),
            "naive": lambda: noop(naive_binary(preds)),
            "ours_error": lambda: noop(BinaryRater().transform(preds)),
        },
        check=lambda: _check_binary(inp),
    )
    if inp.size_name in CV_SIZES:
        grid_rows = preds.select("user", "item", "rating")
        cases["implicit_cv"] = Case(
            "implicit_cv",
            "CrossValidator(ImplicitALS, ROEMEvaluator) vs CrossValidator(ALS(implicitPrefs=True), "
            "course ROEM) on the same zero-filled data, grid and folds",
            {
                "ours": lambda: _cross_validate(grid_rows, ours=True)[1],
                "naive": lambda: _cross_validate(grid_rows, ours=False)[1],
            },
            check=lambda: _check_cv(grid_rows),
        )

    held_out = HeldOut(observed)
    cases["full_catalogue"] = Case(
        "full_catalogue",
        "P@10 + ROEM of a fitted implicit ALS, each held-out row ranked among all its user's unseen items: "
        "UnseenItemRankerModel.fromFitted + transform + both evaluators in rank mode vs ZeroFiller grid "
        "(less training pairs, held-out users only) + ALSModel.transform + both evaluators in rows mode",
        {
            "ours": lambda: full_catalogue_ours(held_out),
            "naive": lambda: full_catalogue_naive(held_out),
        },
        compare_values=True,
        tolerance=FULL_CATALOGUE_TOLERANCE,
        check=lambda: _check_full_catalogue(held_out),
    )
    return cases


# -- full-catalogue evaluation (issue 12) -------------------------------------------------------

HOLDOUT_FRACTION = 0.25
_SPLIT_SEED = 12
#: ALS scores with a float32 dot product, ours are float64 sums rounded to float32: a score can
#: differ in its last bit, which can move a held-out row past a near-tie. The check reports the
#: exact differences, and compares ours with rows mode on float64-summed predictions at 1e-9.
FULL_CATALOGUE_TOLERANCE = 1e-4


class HeldOut:
    """The positives split per (user, item) pair: about 25% held out, the rest for training;
    held-out rows of users or items without training rows are dropped (they would be cold).
    Implicit ALS (rank 10, 5 iterations) is fitted on the training rows. All of it happens at
    first use, untimed (the correctness check runs first), and is kept for the rounds."""

    def __init__(self, observed: DataFrame) -> None:
        self.observed = observed

    @functools.cached_property
    def _data(self) -> Tuple[DataFrame, DataFrame, DataFrame, Any]:
        obs = self.observed
        drawn = datagen.uniform(_SPLIT_SEED, 0, F.col("user"), F.col("item")) < F.lit(HOLDOUT_FRACTION)
        train = obs.where(~drawn).localCheckpoint(eager=True)
        held = (
            obs.where(drawn)
            .join(train.select("user").distinct(), "user", "left_semi")
            .join(train.select("item").distinct(), "item", "left_semi")
            .select("user", "item", "rating")
            .localCheckpoint(eager=True)
        )
        positives = train.unionByName(held).localCheckpoint(eager=True)
        als = ALS(userCol="user", itemCol="item", ratingCol="rating", implicitPrefs=True, rank=10, maxIter=5,
                  regParam=0.1, alpha=1.0, seed=1)
        return train, held, positives, als.fit(train)

    @property
    def train(self) -> DataFrame:
        return self._data[0]

    @property
    def held(self) -> DataFrame:
        return self._data[1]

    @property
    def positives(self) -> DataFrame:
        return self._data[2]

    @property
    def model(self) -> Any:
        return self._data[3]


def p_at_10_and_roem(df: DataFrame, rank_mode: bool) -> Tuple[float, float]:
    """Both metrics with their defaults (tieRule 'average'), in rank mode or rows mode."""
    kw = {"rankCol": "rank"} if rank_mode else {}
    return PrecisionAtKEvaluator(k=K, **kw).evaluate(df), ROEMEvaluator(**kw).evaluate(df)


def full_catalogue_ours(h: HeldOut) -> Tuple[float, float]:
    ranked = UnseenItemRankerModel.fromFitted(h.model, h.train).transform(h.held)
    return p_at_10_and_roem(ranked, rank_mode=True)


def zero_filled_candidates(h: HeldOut) -> DataFrame:
    """The zero-filled table of each held-out user's candidates: ZeroFiller's users x items grid
    of the positives, less the training pairs, for the users with held-out rows."""
    grid = ZeroFiller().transform(h.positives)
    return (
        grid.join(h.train.select("user", "item"), ["user", "item"], "left_anti")
        .join(h.held.select("user"), "user", "left_semi")
    )


def full_catalogue_naive(h: HeldOut) -> Tuple[float, float]:
    return p_at_10_and_roem(h.model.transform(zero_filled_candidates(h)), rank_mode=False)


def float64_scores(h: HeldOut, table: DataFrame) -> DataFrame:
    """``table`` scored as UnseenItemRankerModel scores: float32 of the float64 sum of the
    products of the factors (ALS sums in float32)."""
    uf = h.model.userFactors.select(F.col("id").alias("user"), F.col("features").alias("u"))
    vf = h.model.itemFactors.select(F.col("id").alias("item"), F.col("features").alias("v"))
    products = F.zip_with("u", "v", lambda a, b: a.cast("double") * b.cast("double"))
    dot = F.aggregate(products, F.lit(0.0), lambda acc, x: acc + x)
    return table.join(uf, "user").join(vf, "item").withColumn("prediction", dot.cast("float")).drop("u", "v")


def _check_full_catalogue(h: HeldOut) -> Dict[str, Any]:
    ranker = UnseenItemRankerModel.fromFitted(h.model, h.train)
    ranked = ranker.transform(h.held).localCheckpoint(eager=True)
    ours = p_at_10_and_roem(ranked, rank_mode=True)
    table = zero_filled_candidates(h).localCheckpoint(eager=True)
    als = p_at_10_and_roem(h.model.transform(table), rank_mode=False)
    exact = p_at_10_and_roem(float64_scores(h, table), rank_mode=False)
    stats = ranked.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count(F.when(F.col("rank").isNull(), 1)).alias("null_ranks"),
        F.count_distinct("user").alias("users"),
    ).first()
    per_user = ranked.groupBy("user").agg(F.first("numCandidates").alias("c"))
    candidates = per_user.agg(F.sum("c")).first()[0]
    table_rows = table.count()
    held_rows = h.held.count()
    names = ("precisionAtK@10", "roem")
    diff_als = [a - b for a, b in zip(ours, als)]
    diff_exact = [a - b for a, b in zip(ours, exact)]
    ok = (
        stats["rows"] == held_rows
        and stats["null_ranks"] == 0
        and candidates == table_rows
        and all(abs(d) <= TOLERANCE for d in diff_exact)
        and all(abs(d) <= FULL_CATALOGUE_TOLERANCE for d in diff_als)
    )
    return {
        "ok": ok,
        "ours_rank_mode": dict(zip(names, ours)),
        "zero_filled_als_transform": dict(zip(names, als)),
        "zero_filled_float64_scores": dict(zip(names, exact)),
        "ours_minus_als_transform": dict(zip(names, diff_als)),
        "ours_minus_float64_scores": dict(zip(names, diff_exact)),
        "held_out_rows": held_rows,
        "ranked_rows": int(stats["rows"]),
        "held_out_users": int(stats["users"]),
        "training_rows": h.train.count(),
        "zero_filled_rows": table_rows,
        "sum_of_num_candidates": int(candidates),
        "catalogue_items": ranker.numItems,
    }


class CourseROEM(Evaluator):
    """The course's ROEM recipe as an Evaluator, the way a course user plugs it into CV."""

    def _evaluate(self, dataset: DataFrame) -> float:
        return course_roem(dataset)

    def isLargerBetter(self) -> bool:
        return False


def _cross_validate(df: DataFrame, ours: bool) -> Any:
    """rank x alpha grid, 2 folds: ImplicitALS fits on the positives only; ALS on every row."""
    common = dict(userCol="user", itemCol="item", ratingCol="rating", maxIter=5, regParam=0.1, seed=1,
                  coldStartStrategy="drop", numUserBlocks=2, numItemBlocks=2)
    als = ImplicitALS(**common) if ours else ALS(implicitPrefs=True, **common)
    grid = ParamGridBuilder().addGrid(als.rank, [4, 8]).addGrid(als.alpha, [1.0, 10.0]).build()
    evaluator = ROEMEvaluator() if ours else CourseROEM()
    model = CrossValidator(estimator=als, estimatorParamMaps=grid, evaluator=evaluator, numFolds=2,
                           seed=3, parallelism=1).fit(df)
    best = min(range(len(grid)), key=lambda i: model.avgMetrics[i])
    return [{p.name: v for p, v in grid[best].items()}, list(model.avgMetrics)], min(model.avgMetrics)


def _check_cv(df: DataFrame) -> Dict[str, Any]:
    (ours_best, ours_metrics), _ = _cross_validate(df, ours=True)
    (naive_best, naive_metrics), _ = _cross_validate(df, ours=False)
    # The two runs need not give equal metrics: a user or item whose every training row in a
    # fold is 0 is in the naive fit (factor 0, its validation rows scored 0) but not in ours (no
    # factor: coldStartStrategy drops its validation rows), and ALS draws the random start of
    # each block in the order of the ids it holds. The target asks for the same best params.
    spread = max(abs(a - b) / abs(b) for a, b in zip(ours_metrics, naive_metrics))
    return {"ok": ours_best == naive_best, "ours_best": ours_best, "naive_best": naive_best,
            "ours_avg_metrics": ours_metrics, "naive_avg_metrics": naive_metrics,
            "max_relative_metric_difference": spread}


# -- correctness checks (untimed) ---------------------------------------------------------------


def below_size(inp: Inputs) -> int:
    """A broadcast threshold well below the observed data's size (16-byte payload per row)."""
    return max(1024, inp.positives * 16 // 4)


def _check_precision_alias(preds: DataFrame) -> Dict[str, Any]:
    a = PrecisionAtKEvaluator(k=K).evaluate(preds)
    b = RankingMetricsEvaluator(metricName="precisionAtK", k=K).evaluate(preds)
    return {"ok": abs(a - b) <= TOLERANCE, "PrecisionAtKEvaluator": a, "RankingMetricsEvaluator": b}


def _count_sum(df: DataFrame) -> Dict[str, Any]:
    row = df.agg(F.count(F.lit(1)).alias("rows"), F.sum("rating").alias("rating_sum")).first()
    return {"rows": int(row["rows"]), "rating_sum": float(row["rating_sum"] or 0.0)}


def _check_zeros(inp: Inputs, exact_rows: bool) -> Dict[str, Any]:
    ours_df = ZeroFiller().transform(inp.observed)
    naive_df = naive_zeros(inp.observed)
    ours, naive = _count_sum(ours_df), _count_sum(naive_df)
    expected_rows = inp.users * inp.items
    ok = (
        ours == naive
        and ours["rows"] == expected_rows
        and abs(ours["rating_sum"] - inp.rating_sum) <= TOLERANCE
    )
    result: Dict[str, Any] = {"ours": ours, "naive": naive, "expected_rows": expected_rows}
    if exact_rows:
        a, b = ours_df.select("user", "item", "rating"), naive_df.select("user", "item", "rating")
        only_ours, only_naive = a.exceptAll(b).count(), b.exceptAll(a).count()
        result.update(rows_only_in_ours=only_ours, rows_only_in_naive=only_naive)
        ok = ok and only_ours == 0 and only_naive == 0
    result["ok"] = ok
    return result


def _check_sample(inp: Inputs) -> Dict[str, Any]:
    out = ZeroFiller(strategy="sample", numZeros=1.0).transform(inp.observed)
    n_items = inp.items
    per_user = inp.observed.groupBy("user").agg(F.count(F.lit(1)).alias("n"))
    expected = per_user.agg(
        F.sum(F.col("n") + F.least(F.lit(n_items) - F.col("n"), F.col("n"))).alias("rows")
    ).first()["rows"]
    stats = out.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_distinct("user", "item").alias("pairs"),
        F.count(F.when(F.col("rating") > 0, 1)).alias("positives"),
        F.sum("rating").alias("rating_sum"),
    ).first()
    zeros = out.where(F.col("rating") == 0).select("user", "item")
    overlap = zeros.join(inp.observed, ["user", "item"], "left_semi").count()
    naive_rows = naive_sampled_zeros(inp.observed).count()
    ok = (
        stats["rows"] == expected
        and stats["pairs"] == stats["rows"]
        and stats["positives"] == inp.positives
        and abs(stats["rating_sum"] - inp.rating_sum) <= TOLERANCE
        and overlap == 0
    )
    return {
        "ok": ok,
        "rows": int(stats["rows"]),
        "expected_rows": int(expected),
        "rows_per_positive": stats["rows"] / inp.positives,
        "grid_rows": inp.users * inp.items,
        "zeros_on_observed_pairs": overlap,
        "naive_rows": naive_rows,
    }


def _index_stats(df: DataFrame, cols: List[str]) -> Dict[str, Dict[str, int]]:
    exprs = []
    for c in cols:
        exprs += [
            F.count_distinct(c).alias(f"{c}_distinct"),
            F.min(c).alias(f"{c}_min"),
            F.max(c).alias(f"{c}_max"),
            F.count(F.when(F.col(c).isNull(), 1)).alias(f"{c}_nulls"),
        ]
    row = df.agg(*exprs).first()
    return {
        c: {k: (int(row[f"{c}_{k}"]) if row[f"{c}_{k}"] is not None else None)
            for k in ("distinct", "min", "max", "nulls")}
        for c in cols
    }


def _check_ids(inp: Inputs) -> Dict[str, Any]:
    df = inp.explicit
    n = df.agg(F.count_distinct("user").alias("user"), F.count_distinct("item").alias("item")).first()
    ours = id_indexer().fit(df).transform(df)
    naive = string_indexers().fit(df).transform(df)
    s_ours = _index_stats(ours, ["user_idx", "item_idx"])
    s_naive = _index_stats(naive, ["user_idx", "item_idx"])

    def dense(stats: Dict[str, Dict[str, int]]) -> bool:
        return all(
            stats[f"{c}_idx"] == {"distinct": n[c], "min": 0, "max": n[c] - 1, "nulls": 0}
            for c in ("user", "item")
        )

    # informational: both order by frequency, ties by value, so the indices should coincide
    both = ours.alias("a").join(naive.alias("b"), ["user", "item"])
    differing = both.where(
        (F.col("a.user_idx") != F.col("b.user_idx").cast("int"))
        | (F.col("a.item_idx") != F.col("b.item_idx").cast("int"))
    ).count()
    return {
        "ok": dense(s_ours) and dense(s_naive),
        "distinct_ids": {"user": n["user"], "item": n["item"]},
        "ours": s_ours,
        "naive": s_naive,
        "rows_where_ours_differs_from_string_indexer": differing,
    }


def _check_binary(inp: Inputs) -> Dict[str, Any]:
    def ones(df: DataFrame) -> Dict[str, int]:
        row = df.agg(F.count(F.lit(1)).alias("rows"), F.sum("binary").alias("ones")).first()
        return {"rows": int(row["rows"]), "ones": int(row["ones"] or 0)}

    ours = ones(BinaryRater(handleInvalid="keep").transform(inp.preds))
    error = ones(BinaryRater().transform(inp.preds))
    naive = ones(naive_binary(inp.preds))
    ok = ours == naive == error and ours["ones"] == inp.positives
    return {"ok": ok, "ours": ours, "ours_error": error, "naive": naive}
