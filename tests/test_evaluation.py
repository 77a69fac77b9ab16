"""ROEM and ranking evaluators against numpy references, the course recipe and Spark's own."""

import math
import random

import numpy as np
import pytest
from pyspark.sql import functions as F

import spark_recs.evaluation as evaluation
from spark_recs import PrecisionAtKEvaluator, RankingMetricsEvaluator, ROEMEvaluator
from spark_recs._compat import has_min_by_k
from tests import reference

SPARK_METRICS = ["precisionAtK", "recallAtK", "ndcgAtK", "meanAveragePrecisionAtK", "meanAveragePrecision"]
METRICS = SPARK_METRICS + ["mrrAtK", "hitRateAtK"]


def make_rows(seed=0, users=25, items=15, nan_share=0.0):
    """Random implicit predictions with ties (predictions on a 0.1 grid), mostly zero ratings,
    a user with one row and a user with no relevant item."""
    rng = random.Random(seed)
    rows = []
    for u in range(users):
        for i in rng.sample(range(items), rng.randint(2, items)):
            rating = float(rng.choice([0, 0, 0, 1, 2, 5]))
            prediction = round(rng.random(), 1)
            if rng.random() < nan_share:
                prediction = float("nan")
            rows.append((u, i, rating, prediction))
    rows.append((users, 3, 4.0, 0.7))  # a user with one row
    rows += [(users + 1, i, 0.0, 0.1 * i) for i in range(5)]  # a user with no relevant item
    return rows


def columns(rows):
    return [list(c) for c in zip(*rows)]


@pytest.fixture(scope="module")
def rows():
    return make_rows()


@pytest.fixture
def predictions(spark, rows):
    return spark.createDataFrame(rows, "user int, item int, rating double, prediction double")


@pytest.fixture(params=["min_by_k", "window"])
def top_k_plan(request, monkeypatch, spark):
    """Both plans of the top-k aggregation: the bounded aggregate (Spark >= 4.2) and the window."""
    if request.param == "min_by_k" and not has_min_by_k(spark):
        pytest.skip("min_by(x, ord, k) needs Spark >= 4.2")
    monkeypatch.setattr(evaluation, "_FORCE_WINDOW_TOP_K", request.param == "window")
    return request.param


# -- ROEM ------------------------------------------------------------------------------------


def test_roem_equals_numpy_and_course_recipe(predictions, rows):
    users, _, ratings, preds = columns(rows)
    ours = ROEMEvaluator(tieRule="min").evaluate(predictions)
    assert ours == pytest.approx(reference.roem(users, ratings, preds), rel=1e-12, abs=1e-12)
    assert ours == pytest.approx(reference.course_roem(predictions), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2])
def test_roem_average_ties_equals_numpy(spark, seed):
    rows = make_rows(seed)
    df = spark.createDataFrame(rows, "user int, item int, rating double, prediction double")
    users, _, ratings, preds = columns(rows)
    ours = ROEMEvaluator().evaluate(df)  # the default rule
    assert ours == pytest.approx(reference.roem(users, ratings, preds, tie_rule="average"), rel=1e-12)
    # ties exist, so the rules differ (the 'min' rule is checked against numpy above)
    assert ours != pytest.approx(reference.roem(users, ratings, preds), rel=1e-9)


@pytest.mark.parametrize("tie_rule", ["min", "average"])
@pytest.mark.parametrize("nan_rule", ["drop", "last"])
def test_roem_float_predictions_rank_as_floats(spark, tie_rule, nan_rule):
    """ALS predicts floats, which ROEM sorts as floats: the same numbers as on their double casts."""
    rows = make_rows(4, nan_share=0.1)
    rows += [(0, 100, 2.0, 0.3 + 1e-12), (0, 101, 0.0, 0.3)]  # two doubles, one float: a tie
    df = spark.createDataFrame(rows, "user int, item int, rating double, prediction float")
    users, _, ratings, preds = columns(rows)
    as_float = [float(np.float32(p)) for p in preds]
    evaluator = ROEMEvaluator(tieRule=tie_rule, nanPredictions=nan_rule)
    ours = evaluator.evaluate(df)
    assert ours == pytest.approx(reference.roem(users, ratings, as_float, tie_rule, nan_rule), rel=1e-12)
    if tie_rule == "min" and nan_rule == "drop":  # the double casts rank the same (a tie only in float)
        assert ours == evaluator.evaluate(df.withColumn("prediction", F.col("prediction").cast("double")))


@pytest.mark.parametrize("tie_rule", ["min", "average"])
@pytest.mark.parametrize("nan_rule", ["drop", "last"])
def test_roem_nan_predictions(spark, tie_rule, nan_rule):
    rows = make_rows(3, nan_share=0.2)
    df = spark.createDataFrame(rows, "user int, item int, rating double, prediction double")
    # null predictions count as NaN
    df = df.withColumn("prediction", F.when(F.col("item") == 0, F.lit(None)).otherwise(F.col("prediction")))
    rows = [(u, i, r, float("nan") if i == 0 else p) for u, i, r, p in rows]
    users, _, ratings, preds = columns(rows)
    ours = ROEMEvaluator(tieRule=tie_rule, nanPredictions=nan_rule).evaluate(df)
    assert ours == pytest.approx(reference.roem(users, ratings, preds, tie_rule, nan_rule), rel=1e-12)


def test_roem_single_row_user_and_float_predictions(spark):
    df = spark.createDataFrame(
        [("a", 2, 0.5), ("b", 1, 0.9), ("b", 0, 0.9), ("b", 0, 0.1)], "user string, rating int, prediction float"
    )
    # a: one row, rank 0; b: the rated row ties first with another: PERCENT_RANK 0
    assert ROEMEvaluator(tieRule="min").evaluate(df) == 0.0
    # average ties (the default): b's rated row at position 0.5 of 2 -> 0.25, weight 1 of 3
    assert ROEMEvaluator().evaluate(df) == pytest.approx(0.25 / 3)
    assert reference.course_roem(df) == 0.0


# -- ranking metrics -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark_value():
    """Spark's RankingEvaluator on the ``predictions`` fixture (the module's rows) for
    (metric, k), computed once and shared by the tests that compare with it (both top-k
    plans, PrecisionAtKEvaluator)."""
    values = {}

    def value(predictions, metric, k):
        if (metric, k) not in values:
            values[metric, k] = reference.spark_ranking_metric(predictions, metric, k)
        return values[metric, k]

    return value


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("k", [1, 3, 10])
def test_ranking_metric_by_item_equals_numpy_and_spark(predictions, rows, metric, k, top_k_plan, spark_value):
    """tieRule='itemId': Spark's definitions on the order (prediction desc, item asc)."""
    users, items, ratings, preds = columns(rows)
    ours = RankingMetricsEvaluator(metricName=metric, k=k, tieRule="itemId").evaluate(predictions)
    assert ours == pytest.approx(reference.ranking_metric(users, items, ratings, preds, metric, k), rel=1e-12, abs=1e-15)
    if metric in SPARK_METRICS:
        assert ours == pytest.approx(spark_value(predictions, metric, k), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("k", [1, 3, 10])
def test_ranking_metric_average_ties_equals_numpy(predictions, rows, metric, k):
    """tieRule='average' (the default): the expected value over every order of the ties, both
    from the positions each row can take and by averaging over every order."""
    users, items, ratings, preds = columns(rows)
    ours = RankingMetricsEvaluator(metricName=metric, k=k).evaluate(predictions)
    expected = reference.ranking_metric(users, items, ratings, preds, metric, k, tie_rule="average")
    assert ours == pytest.approx(expected, rel=1e-12, abs=1e-15)
    enumerated = reference.ranking_metric(users, items, ratings, preds, metric, k, tie_rule="average", enumerate_ties=True)
    assert ours == pytest.approx(enumerated, rel=1e-12, abs=1e-15)
    if k == 3:  # the data have ties across the cut-off, so the two rules differ
        by_item = RankingMetricsEvaluator(metricName=metric, k=k, tieRule="itemId").evaluate(predictions)
        assert ours != pytest.approx(by_item, rel=1e-9)


@pytest.mark.parametrize("tie_rule", ["average", "itemId"])
def test_evaluate_metrics_equals_each_metric_against_numpy(predictions, rows, tie_rule):
    """evaluateMetrics: several (metricName, k) at once (one job with ties averaged, one per
    metric with ties by item) give what numpy gives each of them."""
    users, items, ratings, preds = columns(rows)
    specs = {f"{m}@{k}": (m, k) for m in METRICS for k in ((1, 3) if tie_rule == "average" else (3,))}
    got = RankingMetricsEvaluator(tieRule=tie_rule).evaluateMetrics(predictions, specs)
    assert list(got) == list(specs)
    for name, (m, k) in specs.items():
        expected = reference.ranking_metric(users, items, ratings, preds, m, k, tie_rule=tie_rule)
        assert got[name] == pytest.approx(expected, rel=1e-12, abs=1e-15), name


def test_evaluate_metrics_rejects_an_unknown_metric(predictions):
    with pytest.raises(ValueError, match=r"RankingMetricsEvaluator: metricName must be one of .*found 'auc'"):
        RankingMetricsEvaluator().evaluateMetrics(predictions, {"x": ("auc", 10)})


def test_without_ties_both_rules_agree(spark):
    rng = random.Random(8)
    rows = [(u, i, float(rng.choice([0, 0, 1, 3])), rng.random()) for u in range(20) for i in range(12)]
    df = spark.createDataFrame(rows, "user int, item int, rating double, prediction double")
    for metric in METRICS:
        a = RankingMetricsEvaluator(metricName=metric, k=4).evaluate(df)
        b = RankingMetricsEvaluator(metricName=metric, k=4, tieRule="itemId").evaluate(df)
        assert a == pytest.approx(b, rel=1e-12), metric


@pytest.mark.parametrize("k", [1, 3, 10])
def test_precision_at_k_evaluator_is_the_precision_metric(predictions, k, spark_value):
    ours = PrecisionAtKEvaluator(k=k).evaluate(predictions)
    assert ours == RankingMetricsEvaluator(metricName="precisionAtK", k=k).evaluate(predictions)
    by_item = PrecisionAtKEvaluator(k=k, tieRule="itemId").evaluate(predictions)
    assert by_item == pytest.approx(spark_value(predictions, "precisionAtK", k), rel=1e-12)
    assert PrecisionAtKEvaluator().isLargerBetter()


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("tie_rule", ["average", "itemId"])
def test_users_without_relevant_items_excluded(predictions, rows, metric, tie_rule, top_k_plan):
    if top_k_plan == "window" and tie_rule == "average":
        pytest.skip("the top-k plans serve tieRule='itemId' only")
    users, items, ratings, preds = columns(rows)
    ours = RankingMetricsEvaluator(metricName=metric, k=3, noRelevantUsers="exclude", tieRule=tie_rule).evaluate(predictions)
    expected = reference.ranking_metric(users, items, ratings, preds, metric, 3, no_relevant="exclude", tie_rule=tie_rule)
    assert ours == pytest.approx(expected, rel=1e-12)
    assert ours > RankingMetricsEvaluator(metricName=metric, k=3, tieRule=tie_rule).evaluate(predictions)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("nan_rule", ["drop", "last"])
@pytest.mark.parametrize("tie_rule", ["average", "itemId"])
def test_ranking_nan_predictions_and_threshold(spark, metric, nan_rule, tie_rule, top_k_plan):
    if top_k_plan == "window" and tie_rule == "average":
        pytest.skip("the top-k plans serve tieRule='itemId' only")
    rows = make_rows(4, nan_share=0.25)
    df = spark.createDataFrame(rows, "user int, item int, rating double, prediction double")
    users, items, ratings, preds = columns(rows)
    ours = RankingMetricsEvaluator(metricName=metric, k=3, threshold=1.5, nanPredictions=nan_rule,
                                   tieRule=tie_rule).evaluate(df)
    expected = reference.ranking_metric(users, items, ratings, preds, metric, 3, threshold=1.5, nan_rule=nan_rule,
                                        tie_rule=tie_rule)
    assert ours == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_string_items_ties(spark):
    # equal predictions: under 'itemId' item "a" ranks before "b"; only "b" is relevant
    df = spark.createDataFrame([("u", "b", 1.0, 0.5), ("u", "a", 0.0, 0.5)], ["user", "item", "rating", "prediction"])
    assert PrecisionAtKEvaluator(k=1, tieRule="itemId").evaluate(df) == 0.0
    assert RankingMetricsEvaluator(metricName="meanAveragePrecision", tieRule="itemId").evaluate(df) == 0.5
    # 'average': "b" is first half the time: precision@1 1/2, average precision (1 + 1/2) / 2
    assert PrecisionAtKEvaluator(k=1).evaluate(df) == 0.5
    assert RankingMetricsEvaluator(metricName="meanAveragePrecision").evaluate(df) == 0.75


def test_full_map_counts_duplicate_rows_at_their_own_positions(spark):
    # (0, 1) twice: both copies are relevant and ranked next to each other, as in the reference
    rows = [(0, 1, 1.0, 0.9), (0, 1, 1.0, 0.9), (0, 2, 0.0, 0.95), (0, 3, 2.0, 0.1), (1, 1, 1.0, 0.5), (1, 2, 0.0, 0.5)]
    df = spark.createDataFrame(rows, "user int, item int, rating double, prediction double")
    expected = reference.ranking_metric(*columns(rows), "meanAveragePrecision", 10)
    assert expected == pytest.approx(((1 / 2 + 2 / 3 + 3 / 4) / 3 + 1.0) / 2)
    ours = RankingMetricsEvaluator(metricName="meanAveragePrecision", tieRule="itemId").evaluate(df)
    assert ours == pytest.approx(expected, rel=1e-12)
    # 'average': the two copies tie (each first half the time), user 1's two rows tie
    expected = reference.ranking_metric(*columns(rows), "meanAveragePrecision", 10, tie_rule="average", enumerate_ties=True)
    assert RankingMetricsEvaluator(metricName="meanAveragePrecision").evaluate(df) == pytest.approx(expected, rel=1e-12)


# -- bad input -------------------------------------------------------------------------------


def test_missing_columns(predictions):
    with pytest.raises(ValueError, match=r"ROEMEvaluator: userCol 'userId' not in \[user, item, rating, prediction\]"):
        ROEMEvaluator(userCol="userId").evaluate(predictions)
    with pytest.raises(ValueError, match=r"PrecisionAtKEvaluator: itemCol 'song' not in"):
        PrecisionAtKEvaluator(itemCol="song").evaluate(predictions)
    with pytest.raises(ValueError, match=r"RankingMetricsEvaluator: predictionCol 'score' not in"):
        RankingMetricsEvaluator(predictionCol="score").evaluate(predictions)


def test_non_numeric_prediction_and_rating(predictions):
    df = predictions.withColumn("prediction", F.col("prediction").cast("string"))
    with pytest.raises(TypeError, match=r"ROEMEvaluator: predictionCol 'prediction' must be numeric, found string"):
        ROEMEvaluator().evaluate(df)
    df = predictions.withColumn("rating", F.col("rating").cast("string"))
    with pytest.raises(TypeError, match=r"PrecisionAtKEvaluator: ratingCol 'rating' must be numeric, found string"):
        PrecisionAtKEvaluator().evaluate(df)


@pytest.mark.parametrize("k", [0, -3])
def test_k_below_one(predictions, k):
    with pytest.raises(ValueError, match=rf"PrecisionAtKEvaluator: k must be >= 1, found {k}"):
        PrecisionAtKEvaluator(k=k).evaluate(predictions)
    with pytest.raises(ValueError, match=rf"RankingMetricsEvaluator: k must be >= 1, found {k}"):
        RankingMetricsEvaluator(metricName="ndcgAtK", k=k).evaluate(predictions)


def test_all_zero_ratings(predictions):
    zeros = predictions.withColumn("rating", F.lit(0.0))
    with pytest.raises(ValueError, match=r"ROEMEvaluator: ratingCol 'rating' sums to 0 over \d+ row\(s\): ROEM is undefined"):
        ROEMEvaluator().evaluate(zeros)
    with pytest.raises(ValueError, match=r"PrecisionAtKEvaluator: no user has a relevant row .* noRelevantUsers='exclude'"):
        PrecisionAtKEvaluator(noRelevantUsers="exclude").evaluate(zeros)
    assert PrecisionAtKEvaluator().evaluate(zeros) == 0.0  # Spark's rule: they score 0


def test_negative_and_null_ratings(spark):
    df = spark.createDataFrame([("a", -1.0, 0.5), ("a", 2.0, 0.1)], ["user", "rating", "prediction"])
    with pytest.raises(ValueError, match=r"ROEMEvaluator: ratingCol 'rating' has 1 negative value\(s\)"):
        ROEMEvaluator().evaluate(df)
    df = spark.createDataFrame([("a", None, 0.5), ("a", 2.0, 0.1)], "user string, rating double, prediction double")
    with pytest.raises(ValueError, match=r"ROEMEvaluator: ratingCol 'rating' has 1 null or NaN value\(s\)"):
        ROEMEvaluator().evaluate(df)


@pytest.mark.parametrize(
    "bad, message",
    [
        ((1, 2, -1.0, 0.5), r"ratingCol 'rating' has 1 negative value\(s\)"),
        ((1, 2, None, 0.5), r"ratingCol 'rating' has 1 null or NaN value\(s\)"),
        ((1, 2, float("nan"), 0.5), r"ratingCol 'rating' has 1 null or NaN value\(s\)"),
        ((None, 2, 1.0, 0.5), r"userCol 'user' has 1 null value\(s\)"),
    ],
)
def test_roem_bad_rows(spark, rows, bad, message):
    df = spark.createDataFrame(rows + [bad], "user int, item int, rating double, prediction double")
    with pytest.raises(ValueError, match="ROEMEvaluator: " + message):
        ROEMEvaluator(tieRule="average", nanPredictions="last").evaluate(df)


def test_roem_unrated(spark):
    zeros = spark.createDataFrame([(1, i, 0.0, i / 10) for i in range(5)], "user int, item int, rating double, prediction double")
    with pytest.raises(ValueError, match=r"ROEMEvaluator: ratingCol 'rating' sums to 0 over 5 row\(s\)"):
        ROEMEvaluator().evaluate(zeros)


def test_empty_and_all_nan(spark):
    empty = spark.createDataFrame([], "user int, item int, rating double, prediction double")
    with pytest.raises(ValueError, match=r"ROEMEvaluator: no rows to evaluate in predictionCol 'prediction'"):
        ROEMEvaluator().evaluate(empty)
    nan = spark.createDataFrame([(1, 1, 1.0, float("nan"))], "user int, item int, rating double, prediction double")
    with pytest.raises(ValueError, match=r"PrecisionAtKEvaluator: no rows to evaluate .* \(nanPredictions='drop'\)"):
        PrecisionAtKEvaluator(nanPredictions="drop").evaluate(nan)


def test_bad_params(predictions):
    with pytest.raises(ValueError, match=r"ROEMEvaluator: tieRule must be one of \['average', 'min'\], found 'max'"):
        ROEMEvaluator(tieRule="max").evaluate(predictions)
    with pytest.raises(ValueError, match=r"ROEMEvaluator: nanPredictions must be one of \['last', 'drop'\], found 'first'"):
        ROEMEvaluator(nanPredictions="first").evaluate(predictions)
    with pytest.raises(ValueError, match=r"PrecisionAtKEvaluator: tieRule must be one of \['average', 'itemId'\], found 'min'"):
        PrecisionAtKEvaluator(tieRule="min").evaluate(predictions)
    with pytest.raises(ValueError, match=r"RankingMetricsEvaluator: metricName must be one of .*found 'auc'"):
        RankingMetricsEvaluator(metricName="auc").evaluate(predictions)
    with pytest.raises(ValueError, match=r"PrecisionAtKEvaluator: threshold must not be NaN"):
        PrecisionAtKEvaluator(threshold=math.nan).evaluate(predictions)
    with pytest.raises(ValueError, match=r"noRelevantUsers must be one of \['zero', 'exclude'\]"):
        PrecisionAtKEvaluator(noRelevantUsers="skip").evaluate(predictions)


# -- persistence and params ------------------------------------------------------------------


@pytest.mark.parametrize(
    "evaluator",
    [
        ROEMEvaluator(userCol="u", tieRule="min", nanPredictions="drop"),
        RankingMetricsEvaluator(metricName="ndcgAtK", k=5, threshold=2.0, noRelevantUsers="exclude", tieRule="itemId"),
        PrecisionAtKEvaluator(k=3, itemCol="song", nanPredictions="drop", rankCol="r"),
    ],
)
def test_save_load(evaluator, tmp_path, predictions):
    path = str(tmp_path / "evaluator")
    evaluator.save(path)
    loaded = type(evaluator).load(path)
    assert loaded.uid == evaluator.uid
    assert {p.name: v for p, v in loaded.extractParamMap().items()} == {
        p.name: v for p, v in evaluator.extractParamMap().items()
    }
    assert loaded.isLargerBetter() == evaluator.isLargerBetter()


def test_evaluate_with_param_map_does_not_mutate(predictions):
    evaluator = RankingMetricsEvaluator(k=3)
    ndcg = evaluator.evaluate(predictions, {evaluator.metricName: "ndcgAtK"})
    assert evaluator.getMetricName() == "precisionAtK"
    assert ndcg == pytest.approx(RankingMetricsEvaluator(metricName="ndcgAtK", k=3).evaluate(predictions))


# -- positives-only data in rows mode --------------------------------------------------------


POSITIVES_ONLY = r"every row is relevant \(ratingCol 'rating' > threshold 0.0 on all rows, none non-relevant\)"
RANK_MODE_ROUTE = r"UnseenItemRanker, then the evaluator with rankCol='rank'"


@pytest.fixture
def positives_only(spark):
    """Plays without zeros: every row relevant, so rows-mode precision is about 1 for any model."""
    return spark.createDataFrame([(u, i, 1.0 + i, 0.1 * ((u * 7 + i * 3) % 5)) for u in range(4) for i in range(6)],
                                 "user int, item int, rating double, prediction double")


@pytest.mark.parametrize("evaluator", [
    PrecisionAtKEvaluator(k=3),
    PrecisionAtKEvaluator(k=3, tieRule="itemId"),
    RankingMetricsEvaluator(metricName="ndcgAtK", k=2),
    RankingMetricsEvaluator(metricName="meanAveragePrecision", tieRule="itemId"),
], ids=["precision", "precision-itemId", "ndcg", "map-itemId"])
def test_rows_mode_warns_when_no_row_is_non_relevant(positives_only, evaluator, top_k_plan):
    stage = type(evaluator).__name__
    with pytest.warns(evaluation.AllRowsRelevantWarning, match=rf"^{stage}: {POSITIVES_ONLY}.*{RANK_MODE_ROUTE}"):
        value = evaluator.evaluate(positives_only)
    assert value == pytest.approx(1.0)  # what the warning is about: every top-k row is relevant
    assert issubclass(evaluation.AllRowsRelevantWarning, UserWarning)


def test_positives_only_warning_is_shown_once_per_call_site(positives_only):
    import warnings

    evaluator = RankingMetricsEvaluator(k=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # Python's default for UserWarning: once per location
        for _ in range(2):
            evaluator.evaluate(positives_only)  # one call site, twice
        evaluator.evaluateMetrics(positives_only, {"p": ("precisionAtK", 3)})  # another call site
    assert [(w.category, w.filename) for w in caught] == [(evaluation.AllRowsRelevantWarning, __file__)] * 2
    assert caught[0].lineno != caught[1].lineno


def test_no_positives_only_warning_with_a_non_relevant_row_or_in_rank_mode(spark, positives_only, predictions):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", evaluation.AllRowsRelevantWarning)
        PrecisionAtKEvaluator(k=3).evaluate(predictions)  # zeros among the rows
        # the threshold makes rating 1.0 non-relevant
        PrecisionAtKEvaluator(k=3, threshold=1.0).evaluate(positives_only)
        # rank mode: every held-out row relevant is the normal case (the unseen items are the negatives)
        ranked = positives_only.where("item = 0").select(  # one held-out row per user, ranked first
            "user", "item", "rating", "prediction", F.lit(1).alias("rank"),
                                       F.lit(0).alias("numAbove"), F.lit(1).alias("numTied"),
                                       F.lit(6).alias("numCandidates"))
        assert PrecisionAtKEvaluator(k=3, rankCol="rank").evaluate(ranked) == pytest.approx(1 / 3)


@pytest.mark.classic_only("counts jobs with SparkContext.statusTracker, which a Connect client lacks")
def test_positives_only_check_runs_no_extra_job(spark, positives_only, predictions):
    import warnings

    def jobs(group, df):
        sc = spark.sparkContext
        sc.setJobGroup(group, group)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                PrecisionAtKEvaluator(k=3).evaluate(df)
        finally:
            sc.setLocalProperty("spark.jobGroup.id", None)
        return len(sc.statusTracker().getJobIdsForGroup(group))

    assert jobs("positives-only", positives_only) == jobs("with-zeros", predictions) == 1
