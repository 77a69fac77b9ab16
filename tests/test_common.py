"""The contract of every public stage and evaluator, checked over all of them at once, as
pyspark's ``check_params`` and scikit-learn's ``parametrize_with_checks`` do: keyword-only
construction, a build with no arguments, signature defaults equal to the default param map, a
getter and a setter per param, ``copy()`` independence, and save/load alone and inside a
Pipeline with the same uid, type, params and output. Behaviour is tested per stage elsewhere.

The classes are every ``pyspark.ml`` ``Params`` class in ``spark_recs.__all__``. Each needs an
entry in ``SAMPLES`` (its keyword arguments and the tiny data it reads): a public class without
one fails here, so no new stage slips past.
"""

import inspect
from typing import Any, Dict, NamedTuple, Optional

import pytest
from pyspark.ml import Estimator, Model, Pipeline, PipelineModel, Transformer
from pyspark.ml.evaluation import Evaluator
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import DataFrame
from pyspark.sql.utils import is_remote
from pyspark.testing import assertDataFrameEqual

import spark_recs
from spark_recs import (
    BinaryRater,
    ConfidenceWeighter,
    IdIndexer,
    IdIndexerModel,
    ImplicitALS,
    PerUserFolds,
    PopularityModel,
    PopularityRecommender,
    PrecisionAtKEvaluator,
    RankingMetricsEvaluator,
    ROEMEvaluator,
    UnseenItemRanker,
    UnseenItemRankerModel,
    UserFolds,
    ZeroFiller,
)
from tests.helpers import assert_same_stage, param_values

# -- the classes and their samples -------------------------------------------------------------

PUBLIC = sorted(
    (obj for obj in (getattr(spark_recs, name) for name in spark_recs.__all__)
     if isinstance(obj, type) and issubclass(obj, Params)),
    key=lambda cls: cls.__name__,
)
STAGES = [cls for cls in PUBLIC if not issubclass(cls, Evaluator)]
EVALUATORS = [cls for cls in PUBLIC if issubclass(cls, Evaluator)]

#: Tiny tables, by name: (DDL schema, rows). "held" shares no (user, item) pair with "train".
DATA = {
    "named": ("user string, item string, rating double", [
        ("ann", "abba", 3.0), ("ann", "bach", 1.0), ("bob", "abba", 2.0), ("bob", "cage", 5.0),
        ("cid", "bach", 1.0), ("cid", "dufay", 2.0), ("dee", "cage", 1.0),
    ]),
    "train": ("user int, item int, rating double", [
        (1, 10, 3.0), (1, 11, 1.0), (2, 10, 2.0), (2, 12, 5.0), (3, 11, 1.0), (3, 13, 2.0),
        (4, 12, 1.0), (4, 14, 4.0), (5, 10, 1.0), (5, 13, 0.0),
    ]),
    "held": ("user int, item int, rating double", [
        (1, 12, 1.0), (1, 14, 0.0), (2, 11, 2.0), (3, 10, 1.0), (4, 13, 3.0), (5, 14, 2.0),
    ]),
    "scored": ("user int, item int, rating double, prediction double", [
        (1, 10, 3.0, 0.9), (1, 11, 0.0, 0.2), (1, 12, 1.0, 0.5), (2, 10, 0.0, 0.7),
        (2, 11, 2.0, 0.7), (2, 12, 0.0, 0.1), (3, 10, 1.0, 0.3), (3, 11, 0.0, 0.6),
        (3, 12, 0.0, float("nan")),
    ]),
}

#: ALS as small as it gets: fast, and the same factors on every fit.
ALS_SMALL = dict(rank=2, maxIter=2, regParam=0.1, seed=3, numUserBlocks=1, numItemBlocks=1)


class Sample(NamedTuple):
    """How the contract builds one instance of a class and what it feeds it."""

    params: Dict[str, Any]  #: keyword arguments
    data: str  #: the DATA that transform or evaluate reads
    fit: Optional[str] = None  #: the DATA that fit reads, when not ``data``
    metric: Optional[str] = None  #: an evaluator's getMetricName()


#: A Model is what its Estimator's sample fits (the same params and data).
FITTED_BY = {IdIndexerModel: IdIndexer, UnseenItemRankerModel: UnseenItemRanker,
             PopularityModel: PopularityRecommender}

SAMPLES = {
    IdIndexer: Sample(dict(inputCols=["user", "item"], outputCols=["u", "i"], handleInvalid="keep",
                           orderType="valueAsc"), "named"),
    ZeroFiller: Sample(dict(strategy="sample", numZeros=2.0, numZerosMode="perUser", maxRows=1000), "train"),
    BinaryRater: Sample(dict(outputCol="liked", threshold=1.5), "train"),
    ConfidenceWeighter: Sample(dict(method="bm25", k1=1.5, b=0.5, outputCol="w"), "train"),
    PerUserFolds: Sample(dict(numFolds=2, seed=7), "train"),
    UserFolds: Sample(dict(numFolds=2, seed=7, foldCol="f"), "train"),
    ImplicitALS: Sample(dict(ALS_SMALL, alpha=2.0), "train"),
    UnseenItemRanker: Sample(dict(ALS_SMALL, rankCol="r", userBlockSize=2), "held", fit="train"),
    PopularityRecommender: Sample(dict(weighting="sum", predictionCol="popularity"), "held", fit="train"),
    ROEMEvaluator: Sample(dict(tieRule="min"), "scored", metric="roem"),
    PrecisionAtKEvaluator: Sample(dict(k=2), "scored", metric="precisionAtK"),
    RankingMetricsEvaluator: Sample(dict(metricName="ndcgAtK", k=2, nanPredictions="drop"), "scored",
                                    metric="ndcgAtK"),
}
SAMPLES.update({model: SAMPLES[estimator] for model, estimator in FITTED_BY.items()})

#: Params a class has no setter for, and why (the test fails when the setter appears).
NO_SETTER = {
    # acts at fit time only; pyspark's StringIndexerModel has no setStringOrderType either
    IdIndexerModel: {"orderType"},
    # what the fit used, copied from UnseenItemRanker (the inner ALSModel does not carry them)
    UnseenItemRankerModel: {"maxIter", "regParam", "alpha", "implicitPrefs", "nonnegative"},
}

#: Params the constructor does not take, and why (the test fails when it takes them).
NOT_IN_SIGNATURE = {
    # as pyspark's ALS, whose __init__ leaves predictionCol out (setPredictionCol sets it)
    ImplicitALS: {"predictionCol"},
}

#: Params whose signature default is None although they have a default: one made per instance
#: or per class by pyspark's mixins (HasOutputCol: uid + '__output'; HasSeed and ours: a seed
#: from the class name), as in pyspark's own stages.
DERIVED_DEFAULTS = {"outputCol", "seed"}


#: Checks that cannot run on Spark Connect, and why: the classic_only mark skips them there.
_LOADED_ALS = ("on Spark Connect, PySpark 4.3's ALSModel.load gives a model without its params in the "
               "client (getUserCol() raises KeyError), and a loaded UnseenItemRankerModel reads its "
               "ALSModel's userCol")
CLASSIC_ONLY = {
    ("alone", UnseenItemRankerModel): _LOADED_ALS,
    ("pipeline", UnseenItemRanker): _LOADED_ALS,
    ("pipeline", UnseenItemRankerModel): _LOADED_ALS,
}


def cases(check: str, classes):
    """``classes`` as pytest params of ``check``, marked classic_only where CLASSIC_ONLY says."""
    return [
        pytest.param(cls, id=cls.__name__, marks=[pytest.mark.classic_only(CLASSIC_ONLY[check, cls])]
                     if (check, cls) in CLASSIC_ONLY else [])
        for cls in classes
    ]


def sample(cls: type) -> Sample:
    if cls not in SAMPLES:
        pytest.fail(f"{cls.__name__} is public but has no entry in tests/test_common.py SAMPLES: add one")
    return SAMPLES[cls]


class Samples:
    """The sample instance of each class, its fitted Model and its output, each made once per
    module: fitting and running every sample once keeps the contract fast."""

    def __init__(self, spark):
        self.spark = spark
        self._instances: Dict[type, Params] = {}
        self._fitted: Dict[type, Model] = {}
        self._expected: Dict[type, Any] = {}

    def frame(self, name: str) -> DataFrame:
        ddl, rows = DATA[name]
        return self.spark.createDataFrame(rows, ddl)

    def data(self, cls: type) -> DataFrame:
        return self.frame(sample(cls).data)

    def fit_data(self, cls: type) -> DataFrame:
        s = sample(cls)
        return self.frame(s.fit or s.data)

    def instance(self, cls: type) -> Params:
        """The sample instance: built from its params, or for a Model fitted by its Estimator."""
        if cls not in self._instances:
            made = self.fitted(FITTED_BY[cls]) if cls in FITTED_BY else cls(**sample(cls).params)
            assert type(made) is cls
            self._instances[cls] = made
        return self._instances[cls]

    def fitted(self, cls: type) -> Model:
        """The Model that the sample instance of Estimator ``cls`` fits."""
        if cls not in self._fitted:
            self._fitted[cls] = self.instance(cls).fit(self.fit_data(cls))
        return self._fitted[cls]

    def output(self, cls: type, stage: Params) -> Any:
        """What ``stage`` gives on the sample data of ``cls``: a DataFrame, or an evaluator's
        number. An Estimator's is its fitted Model's."""
        if isinstance(stage, Evaluator):
            return stage.evaluate(self.data(cls))
        if isinstance(stage, Estimator):
            stage = self.fitted(cls) if stage is self.instance(cls) else stage.fit(self.fit_data(cls))
        return stage.transform(self.data(cls))

    def expected(self, cls: type) -> Any:
        """The sample instance's output, computed once (a DataFrame of its collected rows)."""
        if cls in FITTED_BY:
            return self.expected(FITTED_BY[cls])
        if cls not in self._expected:
            got = self.output(cls, self.instance(cls))
            if isinstance(got, DataFrame):
                got = self.spark.createDataFrame(got.collect(), got.schema)
            self._expected[cls] = got
        return self._expected[cls]


@pytest.fixture(scope="module")
def samples(spark_session):
    return Samples(spark_session)


def assert_same_output(got, expected):
    if isinstance(expected, float):
        # the same plan over the same rows; only the order of partial sums may differ
        assert got == pytest.approx(expected, rel=1e-12, nan_ok=True)
    else:
        assertDataFrameEqual(got, expected)


def a_value(stage: Params, param: Param) -> Any:
    """A valid value of ``param``: its default, else one its type converter takes."""
    if stage.hasDefault(param):
        return stage.getOrDefault(param)
    by_converter = {TypeConverters.toString: "x", TypeConverters.toListString: ["x", "y"], TypeConverters.toInt: 3,
                    TypeConverters.toFloat: 0.5, TypeConverters.toBoolean: True}
    if param.typeConverter not in by_converter:
        pytest.fail(f"{type(stage).__name__}.{param.name}: no default and no sample value for its type")
    return by_converter[param.typeConverter]


def capitalized(name: str) -> str:
    return name[0].upper() + name[1:]


# -- the checks ----------------------------------------------------------------------------------


def test_every_public_class_has_a_sample():
    assert len(PUBLIC) >= 11
    assert sorted(c.__name__ for c in PUBLIC if c not in SAMPLES) == []
    assert set(SAMPLES) == set(PUBLIC)  # and no sample of a class that is no longer public


@pytest.mark.parametrize("cls", PUBLIC, ids=lambda c: c.__name__)
def test_keyword_only_construction(cls):
    for method in (cls.__init__, getattr(cls, "setParams", None)):
        if method is None:
            continue
        arguments = list(inspect.signature(method).parameters.values())[1:]
        assert [a.name for a in arguments if a.kind is not inspect.Parameter.KEYWORD_ONLY] == [], method
    with pytest.raises(TypeError):
        cls("user")
    if hasattr(cls, "setParams"):
        with pytest.raises(TypeError):
            cls().setParams("user")


@pytest.mark.parametrize("cls", PUBLIC, ids=lambda c: c.__name__)
def test_builds_with_no_arguments_and_sets_no_param(cls):
    stage = cls()
    assert [p.name for p in stage.params if stage.isSet(p)] == []
    assert all(p.parent == stage.uid for p in stage.params)
    assert cls().uid != stage.uid


@pytest.mark.parametrize("cls", PUBLIC, ids=lambda c: c.__name__)
def test_signature_defaults_are_the_default_param_map(cls):
    stage = cls()
    if not hasattr(cls, "setParams"):
        # a Model: its Estimator's fit sets its params; its constructor takes none
        assert issubclass(cls, Model)
        assert not [n for n in inspect.signature(cls.__init__).parameters if stage.hasParam(n)]
        return
    init, set_params = (inspect.signature(m).parameters for m in (cls.__init__, cls.setParams))
    assert [(a.name, a.default) for a in init.values()] == [(a.name, a.default) for a in set_params.values()]
    names = [n for n in init if n != "self"]
    assert [n for n in names if not stage.hasParam(n)] == []
    left_out = {p.name for p in stage.params} - set(names)
    assert left_out == NOT_IN_SIGNATURE.get(cls, set())
    for name in names:
        default, param = init[name].default, stage.getParam(name)
        if default is None:
            assert not stage.hasDefault(param) or name in DERIVED_DEFAULTS, name
        else:
            assert stage.hasDefault(param) and stage.getOrDefault(param) == default, name
    assert stage.setParams() is stage
    assert [p.name for p in stage.params if stage.isSet(p)] == []


@pytest.mark.parametrize("cls", PUBLIC, ids=lambda c: c.__name__)
def test_a_getter_and_a_setter_for_every_param(cls):
    stage = cls()
    no_setter = NO_SETTER.get(cls, set())
    for param in stage.params:
        name = capitalized(param.name)
        assert callable(getattr(stage, "get" + name, None)), f"{cls.__name__} has no get{name}"
        if param.name in no_setter:
            assert not hasattr(stage, "set" + name), f"{cls.__name__}.set{name} exists: take it off NO_SETTER"
            continue
        assert callable(getattr(stage, "set" + name, None)), f"{cls.__name__} has no set{name}"
        value = a_value(stage, param)
        assert getattr(stage, "set" + name)(value) is stage, f"{cls.__name__}.set{name} does not return self"
        assert stage.isSet(param) and getattr(stage, "get" + name)() == value, param.name
    if hasattr(cls, "setParams"):  # every argument sets its param, as the constructor does
        fresh = cls()
        names = [n for n in inspect.signature(cls.setParams).parameters if n != "self"]
        kwargs = {n: a_value(fresh, fresh.getParam(n)) for n in names}
        assert fresh.setParams(**kwargs) is fresh
        assert sorted(p.name for p in fresh.params if fresh.isSet(p)) == sorted(kwargs)
        assert param_values(fresh) == param_values(cls(**kwargs))


@pytest.mark.parametrize("cls", PUBLIC, ids=lambda c: c.__name__)
def test_copy_is_independent(cls):
    stage = cls()
    before = dict(stage.extractParamMap())
    for param in stage.params:
        value = a_value(stage, param)
        copied = stage.copy()
        assert type(copied) is cls and copied is not stage and copied.uid == stage.uid
        copied.set(copied.getParam(param.name), value)
        assert copied.isSet(param.name) and not stage.isSet(param), param.name
        extra = stage.copy({param: value})
        assert extra.isSet(param.name) and extra.getOrDefault(param.name) == value, param.name
    assert dict(stage.extractParamMap()) == before
    assert [p.name for p in stage.params if stage.isSet(p)] == []


@pytest.mark.parametrize("cls", cases("alone", PUBLIC))
def test_save_load_alone(cls, samples, tmp_path):
    stage = samples.instance(cls)
    path = str(tmp_path / cls.__name__)
    stage.save(path)
    loaded = cls.load(path)
    assert_same_stage(loaded, stage)
    assert_same_output(samples.output(cls, loaded), samples.expected(cls))
    if isinstance(stage, Model):  # a copy keeps the model's data
        assert_same_output(samples.output(cls, stage.copy()), samples.expected(cls))


@pytest.mark.parametrize("cls", cases("pipeline", STAGES))
def test_save_load_in_a_pipeline(cls, samples, tmp_path):
    """An Estimator or a plain Transformer in a Pipeline that is saved, loaded and fitted; a
    Model in a PipelineModel. The PipelineModel is saved and loaded: same stage, same output."""
    stage = samples.instance(cls)
    if isinstance(stage, Model):
        model = PipelineModel(stages=[stage])
    else:
        assert isinstance(stage, (Estimator, Transformer))
        Pipeline(stages=[stage]).save(str(tmp_path / "pipeline"))
        pipeline = Pipeline.load(str(tmp_path / "pipeline"))
        assert_same_stage(pipeline.getStages()[0], stage)
        model = pipeline.fit(samples.fit_data(cls))
    model.save(str(tmp_path / "model"))
    loaded = PipelineModel.load(str(tmp_path / "model"))
    assert len(loaded.stages) == 1
    if type(model.stages[0]).__module__.startswith("spark_recs."):
        assert_same_stage(loaded.stages[0], model.stages[0])
    else:  # ImplicitALS's ALSModel, as a plain ALS's: it comes back with blockSize set, and on
        # Spark Connect without its params in the client (PySpark 4.3)
        assert_same_stage(loaded.stages[0], model.stages[0], set_status=False, values=not is_remote())
    assert_same_output(loaded.transform(samples.data(cls)), samples.expected(cls))


@pytest.mark.parametrize("cls", EVALUATORS, ids=lambda c: c.__name__)
def test_evaluator_names_its_metric(cls):
    evaluator = cls(**sample(cls).params)
    assert evaluator.getMetricName() == sample(cls).metric
    assert isinstance(evaluator.isLargerBetter(), bool)
    assert evaluator.copy().getMetricName() == evaluator.getMetricName()
