"""The workflow's Python API: its checks and helpers. The whole of tune, its outputs and the demo
run in test_cli.py, through the command line."""

import io
import os

import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.recommendation import ALS
from pyspark.sql import Row
from pyspark.sql.types import LongType, StringType

from spark_recs import IdIndexer
from spark_recs.workflow import (
    METRICS,
    LoadedData,
    Progress,
    format_table,
    id_types,
    load_data,
    locate_tune_outputs,
    metric_evaluator,
    prepare,
    tune,
)


@pytest.mark.parametrize(
    "feedback, metric, k, expected_type, expected_name, larger",
    [
        ("explicit", None, 10, "RegressionEvaluator", "rmse", False),
        ("explicit", "mae", 10, "RegressionEvaluator", "mae", False),
        ("implicit", None, 10, "ROEMEvaluator", "roem", False),
        ("binary", "precision", 5, "RankingMetricsEvaluator", "precisionAtK@5", True),
        ("implicit", "map", 5, "RankingMetricsEvaluator", "meanAveragePrecision", True),
        ("implicit", "meanAveragePrecisionAtK", 3, "RankingMetricsEvaluator", "meanAveragePrecisionAtK@3", True),
    ],
)
def test_metric_evaluator(spark, feedback, metric, k, expected_type, expected_name, larger):
    # spark: RegressionEvaluator wraps a JVM object, made in the session's JVM
    evaluator, name = metric_evaluator(feedback, metric, k)
    assert (type(evaluator).__name__, name, evaluator.isLargerBetter()) == (expected_type, expected_name, larger)
    assert metric is None or metric in METRICS


def test_metric_evaluator_errors():
    with pytest.raises(ValueError, match=r"^metric_evaluator: metric 'mae' is for explicit feedback, found feedback "
                                         r"'binary'; use roem or a ranking metric$"):
        metric_evaluator("binary", "mae")
    with pytest.raises(ValueError, match=r"^metric_evaluator: metric must be one of \[.*'roem'.*\], found 'auc'$"):
        metric_evaluator("implicit", "auc")


@pytest.fixture
def tiny(spark):
    return spark.createDataFrame([("a", "x", 3.0), ("b", "y", 1.0), ("b", "x", 2.0)], ["user", "item", "rating"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(feedback="stars"), r"^tune: feedback must be one of \['explicit', 'implicit', 'binary'\], found 'stars'"),
        (dict(folds=1), r"^tune: folds must be >= 2, found 1$"),
        (dict(ranks=[]), r"^tune: the grid is empty"),
        (dict(feedback="implicit", alphas=[]), r"^tune: the grid is empty"),
        (dict(feedback="implicit", metric="rmse"), r"^metric_evaluator: metric 'rmse' is for explicit feedback"),
        (dict(metric="precision"), r"^tune: metric 'precision' ranks items, but explicit feedback is tuned and scored "
                                   r"by how well it predicts held-out ratings \(rmse, mae\); for a ranking metric use "
                                   r"feedback 'binary'"),
        (dict(feedback="implicit", protocol="held-out-ratings"),
         r"^tune: protocol must be one of \['full-catalogue', 'zero-filled', 'held-out-ratings'\] \('held-out-ratings' "
         r"for explicit feedback only\), found 'held-out-ratings' for feedback 'implicit'$"),
        (dict(protocol="full-catalogue"), r"^tune: protocol must be one of .*found 'full-catalogue' for feedback 'explicit'$"),
    ],
)
def test_tune_checks_before_any_spark_work(tiny, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tune(tiny, **kwargs)


def test_explicit_zero_filled_protocol_is_deprecated(tiny):
    # 0.1.0 labelled explicit tune 'zero-filled'; it now means 'held-out-ratings', for one release
    with pytest.warns(DeprecationWarning, match=r"^tune: protocol 'zero-filled' for explicit feedback is deprecated "
                                                r"and means 'held-out-ratings'"):
        with pytest.raises(ValueError, match=r"^tune: folds must be >= 2, found 1$"):  # then the next check, no fit
            tune(tiny, protocol="zero-filled", folds=1)


def test_prepare(tiny):
    assert prepare(tiny, "explicit") is tiny
    binary = {tuple(r) for r in prepare(tiny, "binary", threshold=1.5).collect()}
    assert binary == {("a", "x", 1.0), ("a", "y", 0.0), ("b", "x", 1.0), ("b", "y", 0.0)}
    with pytest.raises(ValueError, match=r"^prepare: feedback must be one of \[.*\], found 'x'$"):
        prepare(tiny, "x")


def test_load_data_checks(spark, tmp_path):
    with pytest.raises(ValueError, match=r"^load_data: loader 'movielens' needs a path$"):
        load_data(spark, loader="movielens")
    with pytest.raises(ValueError, match=r"^load_data: loader must be one of \[.*\], found 'xls'$"):
        load_data(spark, str(tmp_path / "a.xls"), loader="xls")


def test_load_data_by_file_ending_and_renamed(spark, tmp_path):
    path = str(tmp_path / "plays.parquet")
    spark.createDataFrame([("u", "s", 2.0)], ["listener", "song", "count"]).write.parquet(path)
    loaded = load_data(spark, path, userCol="listener", itemCol="song", ratingCol="count")
    assert isinstance(loaded, LoadedData) and loaded.items is None and loaded.columns == ("listener", "song", "count")
    assert loaded.interactions.columns == ["listener", "song", "count"]  # the file's names
    assert [tuple(r) for r in loaded.as_user_item_rating().collect()] == [("u", "s", 2.0)]
    synthetic = load_data(spark, numUsers=5, numItems=6, numRatings=20, seed=1)
    assert synthetic.columns == ("user", "item", "rating") and synthetic.items is not None


def test_id_types_find_the_indexer_by_what_it_encodes(spark):
    df = spark.createDataFrame([(10, "x", 1.0), (11, "y", 2.0), (10, "y", 3.0)], "user long, item string, rating double")
    indexer = IdIndexer(inputCols=["user", "item"], outputCols=["u", "i"]).fit(df)
    other = IdIndexer(inputCol="item", outputCol="item_code").fit(df)
    als = ALS(userCol="u", itemCol="i", rank=1, maxIter=1, seed=1, numUserBlocks=1, numItemBlocks=1)
    als = als.fit(indexer.transform(df))
    assert id_types(PipelineModel(stages=[other, indexer, als])) == (LongType(), StringType())
    assert id_types(PipelineModel(stages=[als])) == (None, None)
    with pytest.raises(ValueError, match=r"model must hold exactly one ALSModel, PopularityModel or UnseenItemRankerModel, found 0"):
        id_types(PipelineModel(stages=[indexer]))


def test_locate_tune_outputs(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^locate_tune_outputs: no such directory '.*nowhere'$"):
        locate_tune_outputs(str(tmp_path / "nowhere"))
    bare = locate_tune_outputs(str(tmp_path))  # a saved PipelineModel itself
    assert bare.model == str(tmp_path) and bare.rated is None and bare.grid_png is None
    for name in ("model", "rated"):
        os.makedirs(tmp_path / name)
    (tmp_path / "metrics.json").write_text("{}")
    found = locate_tune_outputs(str(tmp_path))
    assert found.model == str(tmp_path / "model") and found.rated == str(tmp_path / "rated")
    assert found.metrics == str(tmp_path / "metrics.json") and found.items is None and found.grid_csv is None


def test_format_table_and_progress():
    rows = [Row(user="ann", rank=1, score=0.5), Row(user="bo", rank=10, score=0.123456)]
    assert format_table(rows, ["user", "rank", "score"]).splitlines() == [
        "user  rank  score", "ann   1     0.5000", "bo    10    0.1235"]
    assert format_table([], ["user"]) == "user"
    stream = io.StringIO()
    progress = Progress(2, "t", stream)
    progress.tick("(rank=2)")
    progress.tick()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[t] fit 1/2 (rank=2) elapsed ") and lines[1].startswith("[t] fit 2/2 elapsed ")
    assert lines[1].endswith("~0s left")


def test_explicit_tune_scores_held_out_ratings_against_the_bias_baseline(spark, tmp_path):
    import json
    import math

    import numpy as np

    from spark_recs import synthetic_ratings
    from spark_recs.workflow import split_holdout_and_folds, write_tune_outputs
    from tests import reference

    ratings = synthetic_ratings(spark, numUsers=30, numItems=40, numRatings=500, seed=2)[0].localCheckpoint()
    stream = io.StringIO()
    result = tune(ratings, ranks=[3], regParams=[0.1], maxIter=3, folds=2, blocks=1, seed=4, progressStream=stream)
    assert (result.protocol, result.metric, result.larger_is_better) == ("held-out-ratings", "rmse", False)
    assert stream.getvalue().splitlines()[-1].startswith("[tune] fit 4/4 (refit on all ratings)")  # 2 folds, 2 refits
    assert [type(s).__name__ for s in result.model.stages] == ["IdIndexerModel", "ALSModel"]
    # the baseline, from numpy on the same split: biases of the training ratings, scored on the
    # held-out rows ALS scores (coldStartStrategy='drop': their user and item are in training)
    split = split_holdout_and_folds(ratings, holdout=0.25, folds=2, seed=4)
    train = [tuple(r) for r in split.train.select("user_idx", "item_idx", "rating").collect()]
    test = [tuple(r) for r in split.test.select("user_idx", "item_idx", "rating").collect()]
    mu, bu, bi = reference.bias_baseline(*map(list, zip(*train)))
    errors = np.array([r - (mu + bu[u] + bi[i]) for u, i, r in test if u in bu and i in bi])
    assert 0 < len(errors) <= len(test)
    assert result.baseline == pytest.approx({"rmse": math.sqrt(np.mean(errors ** 2)), "mae": np.mean(np.abs(errors))})
    assert 0 < result.holdout["mae"] <= result.holdout["rmse"] < 4
    verdict = result.versus
    assert list(verdict.figures) == ["rmse", "mae"] and verdict.baseline.startswith("the bias baseline")
    assert verdict.beats == (result.holdout["rmse"] < result.baseline["rmse"] and
                             result.holdout["mae"] < result.baseline["mae"])
    # metrics.json: the protocol, both sides of the holdout and the verdict
    metrics = json.load(open(write_tune_outputs(str(tmp_path), result, ratings).metrics))
    assert metrics["protocol"] == "held-out-ratings" and metrics["holdout"] == pytest.approx(result.holdout)
    assert metrics["baseline"] == pytest.approx(result.baseline) and metrics["beatsBaseline"] is verdict.beats
    assert metrics["baselineComparison"]["metrics"]["rmse"] == {
        "model": result.holdout["rmse"], "baseline": result.baseline["rmse"], "largerIsBetter": False}


@pytest.mark.parametrize("data, reg_param, max_iter, beats", [
    # flat popularity and picky users: most-popular ranks about at random, ALS learns the taste
    (dict(zipf=0.0, tasteThreshold=1.5, rank=2), 0.1, 5, True),
    # a regParam so large that every factor rounds to 0 in one iteration: ALS ties every item
    # (ranked as random ranking under tieRule='average'), most-popular has steep popularity
    (dict(zipf=1.2, tasteThreshold=-4.0), 1e30, 1, False),
], ids=["planted-taste", "all-tied"])
def test_full_catalogue_tune_says_whether_it_beats_most_popular(spark, tmp_path, data, reg_param, max_iter, beats):
    import json

    from spark_recs import synthetic_ratings
    from spark_recs.workflow import write_tune_outputs

    plays = synthetic_ratings(spark, numUsers=60, numItems=120, numRatings=2000, kind="implicit", seed=5, **data)[0]
    plays = plays.localCheckpoint()
    result = tune(plays, feedback="implicit", ranks=[4], regParams=[reg_param], alphas=[1.0], maxIter=max_iter,
                  folds=2, blocks=1, seed=7, progressStream=io.StringIO())
    verdict = result.versus
    assert verdict.beats is beats and verdict.baseline == "most-popular"
    # the selection metric (ROEM, lower is better) and P@10, each the holdout's figure against most-popular's
    assert verdict.figures == {
        "roem": {"model": result.holdout["roem"], "baseline": result.baseline["roem"], "largerIsBetter": False},
        "precisionAtK@10": {"model": result.holdout["precisionAtK@10"], "baseline": result.baseline["precisionAtK@10"],
                            "largerIsBetter": True},
    }
    line = verdict.line()
    assert line.startswith("the tuned model beats most-popular on the holdout: roem " if beats else
                           "warning: the tuned model does not beat most-popular on the holdout (roem ")
    assert f"precisionAtK@10 {result.holdout['precisionAtK@10']:.4f} vs {result.baseline['precisionAtK@10']:.4f}" in line
    metrics = json.load(open(write_tune_outputs(str(tmp_path), result, plays).metrics))
    assert metrics["beatsBaseline"] is beats and metrics["baselineComparison"]["metrics"] == verdict.figures

# --- the settings tune, compare and the demo share ------------------------------------------


def test_settings_defaults_and_values():
    from dataclasses import FrozenInstanceError, replace

    from spark_recs.settings import DEFAULTS, Settings

    assert DEFAULTS == Settings()
    assert (DEFAULTS.ranks, DEFAULTS.regParams, DEFAULTS.alphas, DEFAULTS.weighting) == ((16, 32), (0.1,), (1.0, 5.0),
                                                                                         "log")
    assert (DEFAULTS.maxIter, DEFAULTS.folds, DEFAULTS.holdout, DEFAULTS.k, DEFAULTS.seed) == (10, 2, 0.25, 10, 42)
    given = Settings(ranks=[4, 8], alphas=[2], regParams=(1,))
    assert (given.ranks, given.alphas, given.regParams, given.grid_size()) == ((4, 8), (2.0,), (1.0,), 2)
    assert isinstance(given.alphas[0], float) and hash(given) == hash(Settings(ranks=(4, 8), alphas=(2.0,),
                                                                               regParams=(1.0,)))
    with pytest.raises(FrozenInstanceError):
        given.folds = 3
    assert replace(DEFAULTS, folds=3).as_dict() == {**DEFAULTS.as_dict(), "folds": 3}
    assert DEFAULTS.as_dict()["ranks"] == [16, 32]
    with pytest.raises(ValueError, match=r"^Settings: weighting must be one of \['none', 'log', 'bm25'\], "
                                         r"found 'sqrt'$"):
        Settings(weighting="sqrt")


def test_the_old_keywords_still_work_with_a_deprecation_warning():
    from spark_recs.settings import DEFAULTS, Settings, settings_with

    with pytest.warns(DeprecationWarning, match=r"^tune: the keywords \['alphas', 'folds'\] are deprecated since "
                                                r"0.2.0 and go in 0.3.0; pass settings=Settings\(...\)"):
        got = settings_with("tune", None, {"alphas": [10.0], "folds": 3, "seed": None})
    assert got == Settings(alphas=(10.0,), folds=3)
    base = Settings(ranks=(2,))
    assert settings_with("compare", base, {}) is base and settings_with("compare", None, {}) is DEFAULTS
    with pytest.raises(TypeError, match=r"^tune\(\) got unexpected keyword arguments \['rank', 'weighting'\]$"):
        settings_with("tune", None, {"rank": 4, "weighting": "log"})
