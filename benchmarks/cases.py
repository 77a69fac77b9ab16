"""The benchmark cases: each times our stage ("ours") against the recipe people use today
("naive"), both forced to full evaluation, and says how to check that they agree."""

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

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
    ZeroFiller,
)
from tests.reference import course_roem, spark_ranking_metric

K = 10
TOLERANCE = 1e-9

RANKING = {
    "precision_at_k": "precisionAtK",
    "ndcg_at_k": "ndcgAtK",
    "map_at_k": "meanAveragePrecisionAtK",
    "recall_at_k": "recallAtK",
    "map": "meanAveragePrecision",
}

ALL_CASES = ["roem", "roem_pairs", *RANKING, "zeros", "zeros_smj", "zeros_sample", "ids", "binarize", "implicit_cv"]
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
    # label -> callable; "ours" and "naive" always, extras ("scan", "ours_error") after them
    contestants: Dict[str, Callable[[], Optional[float]]]
    compare_values: bool = False  # contestants return numbers that must agree
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
        "ROEMEvaluator().evaluate(preds) vs course_roem (PERCENT_RANK window); scan = noop write",
        {
            "ours": lambda: ROEMEvaluator().evaluate(preds),
            "naive": lambda: course_roem(preds),
            "scan": lambda: noop(preds),
        },
        compare_values=True,
    )
    cases["roem_pairs"] = Case(
        "roem_pairs",
        "ROEMEvaluator(method='pairs'), for materialized predictions like these, vs the same",
        {
            "ours": lambda: ROEMEvaluator(method="pairs").evaluate(preds),
            "naive": lambda: course_roem(preds),
            "scan": lambda: noop(preds),
        },
        compare_values=True,
    )

    for name, metric in RANKING.items():
        cases[name] = Case(
            name,
            f"RankingMetricsEvaluator({metric}, k={K}) vs RankingEvaluator on per-user arrays",
            {
                "ours": (lambda m=metric: RankingMetricsEvaluator(metricName=m, k=K).evaluate(preds)),
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
    return cases


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
