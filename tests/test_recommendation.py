"""ImplicitALS: the same factors as ALS on zero-filled data, in grids, pipelines and on disk."""

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.recommendation import ALS
from pyspark.ml.tuning import CrossValidator, CrossValidatorModel, ParamGridBuilder
from pyspark.sql import functions as F

from spark_recs import ImplicitALS, PerUserFolds, ROEMEvaluator, ZeroFiller

ALS_ARGS = dict(rank=4, maxIter=6, regParam=0.1, alpha=2.0, seed=5, numUserBlocks=1, numItemBlocks=1)


@pytest.fixture(scope="module")
def filled(spark_session):
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=(40, 4)), rng.normal(size=(30, 4))
    rows = [(a, b, float(1 + rng.poisson(2))) for a in range(40) for b in range(30) if u[a] @ v[b] > 0.8]
    plays = spark_session.createDataFrame(rows, ["user", "item", "rating"])
    return ZeroFiller().transform(plays).cache()


def factors(model):
    users = {r.id: np.array(r.features) for r in model.userFactors.collect()}
    items = {r.id: np.array(r.features) for r in model.itemFactors.collect()}
    return users, items


def test_same_factors_and_predictions_as_als_on_zero_filled_data(filled):
    assert filled.where("rating = 0").count() > filled.where("rating > 0").count()  # mostly zeros
    full = ALS(implicitPrefs=True, **ALS_ARGS).fit(filled)
    ours = ImplicitALS(**ALS_ARGS).fit(filled)
    (fu, fi), (ou, oi) = factors(full), factors(ours)
    assert set(ou) == set(fu) and set(oi) == set(fi)  # every user and item has a positive here
    for a, b in [(fu, ou), (fi, oi)]:
        for key in a:
            np.testing.assert_allclose(b[key], a[key], rtol=1e-4, atol=1e-5)
    p_full = {(r.user, r.item): r.prediction for r in full.transform(filled).collect()}
    p_ours = {(r.user, r.item): r.prediction for r in ours.transform(filled).collect()}
    assert p_full.keys() == p_ours.keys()
    assert max(abs(p_full[k] - p_ours[k]) for k in p_full) < 1e-4


def test_explicit_keeps_zero_ratings(filled):
    args = dict(ALS_ARGS, implicitPrefs=False)
    plain = ALS(**args).fit(filled)
    ours = ImplicitALS(**args).fit(filled)
    (pu, _), (ou, _) = factors(plain), factors(ours)
    for key in pu:
        np.testing.assert_allclose(ou[key], pu[key], rtol=1e-4, atol=1e-5)


def test_params_defaults_and_setters(spark):  # ALS() needs a running SparkContext
    als = ImplicitALS()
    assert als.getImplicitPrefs() is True
    assert als.getSeed() == ImplicitALS().getSeed()  # fixed, not hash(class name)
    assert {p.name for p in als.params} >= {p.name for p in ALS().params}
    assert als.setRank(3).setAlpha(4.0).getRank() == 3 and isinstance(als.setRegParam(0.2), ImplicitALS)


def test_string_rating_is_a_type_error(spark):
    df = spark.createDataFrame([(1, 1, "3")], ["user", "item", "rating"])
    with pytest.raises(TypeError, match=r"ImplicitALS: ratingCol 'rating' must be numeric, found string"):
        ImplicitALS().fit(df)


def test_cross_validator_same_choice_as_als(filled, tmp_path):
    folds = PerUserFolds(numFolds=2, seed=2).transform(filled).cache()
    evaluator = ROEMEvaluator()
    results = []
    for estimator in (ALS(implicitPrefs=True, coldStartStrategy="drop", **ALS_ARGS),
                      ImplicitALS(coldStartStrategy="drop", **ALS_ARGS)):
        grid = ParamGridBuilder().addGrid(estimator.rank, [1, 4]).build()
        cv = CrossValidator(estimator=Pipeline(stages=[estimator]), estimatorParamMaps=grid, evaluator=evaluator,
                            numFolds=2, foldCol="fold", parallelism=2)
        results.append(cv.fit(folds))
    als_cv, ours_cv = results
    # Same choice. The numbers differ a little: a user or item whose training-fold rows are all
    # zeros gets an all-zero factor from ALS (its validation rows all tie at rank 0) but no
    # factor from ImplicitALS (coldStartStrategy drops its validation rows).
    assert int(np.argmin(ours_cv.avgMetrics)) == int(np.argmin(als_cv.avgMetrics))
    assert ours_cv.avgMetrics == pytest.approx(als_cv.avgMetrics, abs=0.02)

    path = str(tmp_path / "cv")
    ours_cv.save(path)
    loaded = CrossValidatorModel.load(path)
    assert loaded.avgMetrics == pytest.approx(ours_cv.avgMetrics)
    assert isinstance(loaded.bestModel.stages[0], type(ours_cv.bestModel.stages[0]))


def test_save_load_alone_and_in_pipeline(filled, tmp_path):
    als = ImplicitALS(rank=3, alpha=4.0, coldStartStrategy="drop", seed=11)
    als.save(str(tmp_path / "als"))
    loaded = ImplicitALS.load(str(tmp_path / "als"))
    assert type(loaded) is ImplicitALS and loaded.uid == als.uid
    assert {p.name: v for p, v in loaded.extractParamMap().items()} == {p.name: v for p, v in als.extractParamMap().items()}

    pipeline = Pipeline(stages=[als])
    pipeline.save(str(tmp_path / "pipeline"))
    stage = Pipeline.load(str(tmp_path / "pipeline")).getStages()[0]
    assert type(stage) is ImplicitALS and stage.getAlpha() == 4.0

    model = pipeline.fit(filled)
    model.save(str(tmp_path / "model"))
    again = PipelineModel.load(str(tmp_path / "model"))
    before = model.transform(filled).select("user", "item", "prediction")
    after = again.transform(filled).select("user", "item", "prediction")
    assert before.exceptAll(after).count() == 0 and after.exceptAll(before).count() == 0
    assert filled.where(F.col("rating") != 0).count() > 0
