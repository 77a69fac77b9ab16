"""MLflow as Databricks users meet it: ``mlflow.pyspark.ml.autolog()`` around a CrossValidator with
each of our evaluators, and ``mlflow.spark.log_model`` / ``load_model`` of a PipelineModel of our
stages. Needs the ``mlflow`` extra; skipped without it (the PySpark 3.5 leg does not install it).
The tracking store is a SQLite file under the test's temporary directory: no server, no network.
"""

import csv

import numpy as np
import pytest
from pyspark.ml import Pipeline
from pyspark.ml.recommendation import ALSModel
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql.utils import is_remote
from pyspark.testing import assertDataFrameEqual

from spark_recs import (
    BinaryRater,
    IdIndexer,
    IdIndexerModel,
    ImplicitALS,
    PerUserFolds,
    PrecisionAtKEvaluator,
    RankingMetricsEvaluator,
    ROEMEvaluator,
    ZeroFiller,
)

mlflow = pytest.importorskip("mlflow", reason="needs the mlflow extra: pip install '.[mlflow]'")
import mlflow.pyspark.ml  # noqa: E402
import mlflow.spark  # noqa: E402
from mlflow import MlflowClient  # noqa: E402


@pytest.fixture(scope="module")
def tracking_store(tmp_path_factory):
    """One SQLite tracking store for the module (creating its tables takes seconds)."""
    previous = mlflow.get_tracking_uri()
    root = tmp_path_factory.mktemp("mlflow")
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    yield root
    mlflow.set_tracking_uri(previous)


@pytest.fixture
def experiment(tracking_store, request):
    """A fresh experiment per test, its artifacts under the store's directory."""
    client = MlflowClient()
    name = request.node.name
    experiment_id = client.create_experiment(name, artifact_location=(tracking_store / name).as_uri())
    mlflow.set_experiment(experiment_id=experiment_id)
    return client, experiment_id


@pytest.fixture(scope="module")
def folds(spark_session):
    """Zero-filled play counts of 24 users x 12 items with planted taste, in 2 per-user folds."""
    rng = np.random.default_rng(7)
    users, items = rng.normal(size=(24, 2)), rng.normal(size=(12, 2))
    rows = [(u, int(i), float(1 + rng.poisson(2)))
            for u in range(24) for i in np.argsort(-(users[u] @ items.T))[:4]]
    plays = spark_session.createDataFrame(rows, ["user", "item", "rating"])
    folds = PerUserFolds(numFolds=2, seed=1).transform(ZeroFiller().transform(plays)).cache()
    yield folds
    folds.unpersist()


@pytest.mark.parametrize(
    "evaluator, name",
    [
        (ROEMEvaluator(), "roem"),
        (PrecisionAtKEvaluator(k=3), "precisionAtK"),
        (RankingMetricsEvaluator(metricName="ndcgAtK", k=3), "ndcgAtK"),
    ],
    ids=["roem", "precisionAtK", "ndcgAtK"],
)
def test_autolog_names_cross_validated_metrics_after_the_evaluator(folds, experiment, evaluator, name):
    client, experiment_id = experiment
    als = ImplicitALS(maxIter=2, seed=3, numUserBlocks=1, numItemBlocks=1)
    grid = ParamGridBuilder().addGrid(als.rank, [1, 3]).build()
    cv = CrossValidator(estimator=als, estimatorParamMaps=grid, evaluator=evaluator,
                        numFolds=2, foldCol="fold", parallelism=2, seed=0)
    # Databricks' defaults but two, which do not meet our evaluators: log_models (autolog logs no
    # ALSModel anyway: not on its allowlist) and log_datasets (a Python RDD job per DataFrame).
    # On Spark Connect, mlflow 3.17's autolog() reads the path of its allowlist file from
    # spark.sparkContext, which a Connect session has not; given the allowlist, it does not.
    connect = {"log_model_allowlist": ["pyspark.ml.tuning.CrossValidatorModel"]} if is_remote() else {}
    mlflow.pyspark.ml.autolog(log_models=False, log_datasets=False, silent=True, **connect)
    try:
        model = cv.fit(folds)
        validation = folds.where("fold = 0")
        predictions = model.transform(validation)
        value = evaluator.evaluate(predictions)  # after the fit: logged to the CrossValidator's run
    finally:
        mlflow.pyspark.ml.autolog(disable=True)

    runs = client.search_runs([experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2
    # one child run per grid point, with its mean and standard deviation over the folds
    by_rank = {int(c.data.params["rank"]): c.data.metrics for c in children}
    assert by_rank == {
        params[als.rank]: {f"avg_{name}": pytest.approx(avg), f"std_{name}": pytest.approx(std)}
        for params, avg, std in zip(grid, model.avgMetrics, model.stdMetrics)
    }
    # the parent: the best grid point (chosen by isLargerBetter), the table of all, and the metric
    # of the evaluation after the fit, named "<metric>_<variable passed to transform>"
    assert parent.data.params["best_ImplicitALS.rank"] == str(model.bestModel.rank)
    assert parent.data.metrics == {f"{name}_validation": pytest.approx(value)}
    table = client.download_artifacts(parent.info.run_id, "search_results.csv")
    with open(table) as f:
        assert [float(row[f"avg_{name}"]) for row in csv.DictReader(f)] == pytest.approx(model.avgMetrics)


@pytest.mark.classic_only(
    "mlflow.spark.log_model and load_model copy the saved model through the Hadoop FileSystem "
    "of the JVM of a classic SparkContext in this process"
)
def test_log_model_and_load_model_round_trip_a_pipeline_of_every_stage(spark, experiment, tmp_path):
    plays = spark.createDataFrame(
        [("jane", "hey jude", 3.0), ("jane", "yesterday", 1.0), ("taylor", "hey jude", 5.0),
         ("taylor", "let it be", 2.0), ("sam", "yesterday", 4.0), ("sam", "let it be", 1.0),
         ("alex", "help", 2.0), ("alex", "hey jude", 1.0)],
        ["user", "song", "plays"])
    model = Pipeline(stages=[
        IdIndexer(inputCols=["user", "song"], outputCols=["u", "i"]),
        ZeroFiller(userCol="u", itemCol="i", ratingCol="plays"),
        BinaryRater(inputCol="plays", outputCol="played"),
        PerUserFolds(userCol="u", itemCol="i", numFolds=2, seed=1),
        ImplicitALS(userCol="u", itemCol="i", ratingCol="plays", rank=2, maxIter=2, seed=3,
                    numUserBlocks=1, numItemBlocks=1),
    ]).fit(plays)
    stages = [IdIndexerModel, ZeroFiller, BinaryRater, PerUserFolds, ALSModel]
    assert [type(s) for s in model.stages] == stages

    # mlflow saves the model with Spark under dfs_tmpdir (default /tmp/mlflow), then moves it into
    # the run's artifacts; load_model copies it back to dfs_tmpdir when Spark's default file
    # system is not the local one (a cluster's DFS), and loads it with PipelineModel.load.
    # Given pip_requirements, mlflow skips inferring them (inferring loads the model again in a
    # new Python process, which starts a Spark of its own).
    with mlflow.start_run():
        info = mlflow.spark.log_model(model, "model", dfs_tmpdir=str(tmp_path / "dfs-save"),
                                      pip_requirements=["pyspark", "spark-recs"])
    loaded = mlflow.spark.load_model(info.model_uri, dfs_tmpdir=str(tmp_path / "dfs-load"))

    assert [(type(s), s.uid) for s in loaded.stages] == [(type(s), s.uid) for s in model.stages]
    for before, after in zip(model.stages, loaded.stages):
        assert {p.name: v for p, v in after.extractParamMap().items()} == \
            {p.name: v for p, v in before.extractParamMap().items()}
    expected = model.transform(plays).collect()
    assert len(expected) == 16  # 4 users x 4 songs, zero-filled
    assertDataFrameEqual(loaded.transform(plays), expected)
