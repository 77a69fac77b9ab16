"""Persistence: every saved fixture of every release loads with its params and results, and
saving or loading what is not there, or not right, gives an error naming the stage and the path.

The fixtures are made by ``tests/fixtures/make_saved_models.py`` (run once per release and
committed): ``tests/fixtures/saved/<version>/<stage>/`` and ``expected.json`` beside them.
"""

import glob
import json
import os
import shutil
import sys
from importlib import import_module

import pytest
from pyspark.ml import PipelineModel

from spark_recs import (
    IdIndexerModel,
    ImplicitALS,
    PerUserFolds,
    PrecisionAtKEvaluator,
    RankingMetricsEvaluator,
    ROEMEvaluator,
    ZeroFiller,
)
from tests.helpers import param_values

SAVED = os.path.join(os.path.dirname(__file__), "fixtures", "saved")
VERSIONS = sorted(os.listdir(SAVED))


def expected(version):
    with open(os.path.join(SAVED, version, "expected.json")) as f:
        return json.load(f)


FIXTURES = [(v, name) for v in VERSIONS for name in sorted(expected(v)["stages"])]


def load_class(path):
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def assert_params(stage, saved):
    """The saved params come back; a param added after that release (such as
    ROEMEvaluator.method, after 0.1.0) is not set by the load, so it has its default."""
    got = param_values(stage)
    assert {name: got.get(name) for name in saved} == saved
    for param in stage.params:
        if param.name not in saved:
            assert not stage.isSet(param), param.name


def rows(df):
    return sorted([list(r) for r in df.collect()], key=lambda r: [str(v) for v in r])


def test_fixtures_are_small_json_and_parquet_only():
    files = [os.path.join(d, n) for d, _, ns in os.walk(SAVED) for n in ns]
    assert VERSIONS and files
    assert sum(os.path.getsize(f) for f in files) < 1_000_000
    for f in files:
        assert f.endswith((".json", ".txt", ".parquet")), f
        with open(f, "rb") as fh:
            assert not fh.read(2).startswith(b"\x80"), f"{f} looks like a pickle"


@pytest.mark.parametrize("version, name", FIXTURES, ids=[f"{v}-{n}" for v, n in FIXTURES])
def test_saved_fixture_loads_with_its_params_and_results(spark, version, name):
    info = expected(version)
    entry = info["stages"][name]
    cls = load_class(entry["class"])
    stage = cls.load(os.path.join(SAVED, version, name))
    assert type(stage) is cls
    if name == "pipeline_model":
        assert [type(s).__module__ + "." + type(s).__name__ for s in stage.stages] == entry["stages"]
        assert len(stage.stages) == len(entry["params"])
        for s, saved in zip(stage.stages, entry["params"]):
            assert_params(s, saved)
    else:
        assert stage.uid == entry["uid"]
        assert_params(stage, entry["params"])
    data = None
    if entry["input"] is not None:
        source = info["inputs"][entry["input"]]
        data = spark.createDataFrame([tuple(r) for r in source["rows"]], source["ddl"])
    if entry["check"] == "transform":
        out = stage.transform(data)
        assert out.columns == entry["columns"]
        got = rows(out)
        assert [r[:-1] for r in got] == [r[:-1] for r in entry["rows"]]
        assert [r[-1] for r in got] == pytest.approx([r[-1] for r in entry["rows"]], rel=1e-6)
    elif entry["check"] == "evaluate":
        assert stage.evaluate(data) == pytest.approx(entry["value"], rel=1e-12)
    elif entry["check"] == "fit":
        assert [rows(v) for v in stage.fit(data).vocabularies] == entry["vocabularies"]
    else:
        assert entry["check"] == "params" and isinstance(stage, ImplicitALS)


def test_evaluators_of_0_1_0_keep_their_tie_and_nan_rules(spark):
    """0.1.0 defaulted to tieRule='min' (ROEM), ties by item id (top-k) and
    nanPredictions='drop'; its saved evaluators keep those rules, new ones get the safe ones."""
    saved = os.path.join(SAVED, "0.1.0")
    roem = ROEMEvaluator.load(os.path.join(saved, "roem_evaluator"))
    assert roem.getTieRule() == "average" and roem.isSet(roem.tieRule)  # set when saved
    assert roem._defaultParamMap[roem.tieRule] == "min"  # the default it was saved with
    assert roem.getNanPredictions() == "drop" and not roem.isSet(roem.nanPredictions)
    for name, cls in [("precision_at_k_evaluator", PrecisionAtKEvaluator),
                      ("ranking_metrics_evaluator", RankingMetricsEvaluator)]:
        loaded = cls.load(os.path.join(saved, name))
        assert (loaded.getTieRule(), loaded.getNanPredictions()) == ("itemId", "drop"), name
        assert not loaded.isSet(loaded.tieRule)
        assert (cls().getTieRule(), cls().getNanPredictions()) == ("average", "last")
    assert (ROEMEvaluator().getTieRule(), ROEMEvaluator().getNanPredictions()) == ("average", "last")


# -- errors ------------------------------------------------------------------------------------

LATEST = os.path.join(SAVED, VERSIONS[-1]) if VERSIONS else ""


@pytest.fixture
def copy(spark, tmp_path):
    """A scratch copy of one saved fixture (and the session that loads it)."""

    def make(name):
        dst = tmp_path / name
        shutil.copytree(os.path.join(LATEST, name), dst)
        return str(dst)

    return make


def metadata_file(path):
    (found,) = glob.glob(os.path.join(path, "metadata", "part-*"))
    return found


@pytest.mark.parametrize(
    "name, cls",
    [("zero_filler", ZeroFiller), ("roem_evaluator", ROEMEvaluator), ("id_indexer_model", IdIndexerModel)],
)
def test_save_over_an_existing_path_needs_overwrite(copy, tmp_path, name, cls):
    stage = cls.load(copy(name))
    path = str(tmp_path / "again")  # not the path the model reads its data from
    stage.save(path)
    with pytest.raises(FileExistsError, match=rf"^{cls.__name__}: cannot save to '{path}': it already exists; use write\(\)\.overwrite\(\)"):
        stage.save(path)
    stage.write().overwrite().save(path)
    assert cls.load(path).uid == stage.uid


@pytest.mark.parametrize("cls", [ZeroFiller, IdIndexerModel])
def test_load_missing_path(spark, tmp_path, cls):
    path = str(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match=rf"^{cls.__name__}: nothing saved at '{path}'"):
        cls.load(path)


CORRUPTIONS = {
    "truncated": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "not-an-object": lambda text: "[1, 2, 3]",
    "no-param-map": lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "paramMap"}),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
@pytest.mark.parametrize("name, cls", [("per_user_folds", PerUserFolds), ("id_indexer_model", IdIndexerModel)])
def test_load_corrupted_metadata(copy, name, cls, corruption):
    path = copy(name)
    target = metadata_file(path)
    with open(target) as f:
        text = f.read()
    with open(target, "w") as f:
        f.write(CORRUPTIONS[corruption](text))
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: '{path}/metadata' is not the JSON metadata of a saved stage"):
        cls.load(path)


def test_load_param_of_the_wrong_type(copy):
    path = copy("per_user_folds")
    target = metadata_file(path)
    with open(target) as f:
        metadata = json.load(f)
    metadata["paramMap"]["numFolds"] = "many"
    with open(target, "w") as f:
        json.dump(metadata, f)
    with pytest.raises(ValueError, match=rf"^PerUserFolds: the params saved in '{path}/metadata' do not fit this release"):
        PerUserFolds.load(path)


def test_load_the_wrong_class_imports_nothing(copy):
    path = copy("zero_filler")
    with pytest.raises(ValueError, match=rf"^ROEMEvaluator: '{path}' holds a saved 'spark_recs.zeros.ZeroFiller', not 'spark_recs.evaluation.ROEMEvaluator'"):
        ROEMEvaluator.load(path)
    # a class named in the files is never imported: PySpark's own reader would import it
    target = metadata_file(path)
    with open(target) as f:
        metadata = json.load(f)
    metadata["class"] = "spark_recs_never_imported_module.Boom"
    with open(target, "w") as f:
        json.dump(metadata, f)
    with pytest.raises(ValueError, match=r"^ZeroFiller: .* holds a saved 'spark_recs_never_imported_module.Boom'"):
        ZeroFiller.load(path)
    assert "spark_recs_never_imported_module" not in sys.modules


def test_load_model_without_its_data(copy):
    path = copy("id_indexer_model")
    shutil.rmtree(os.path.join(path, "data", "vocabulary_1"))
    with pytest.raises(FileNotFoundError, match=rf"^IdIndexerModel: '{path}' is incomplete: '{path}/data/vocabulary_1' does not exist"):
        IdIndexerModel.load(path)


def test_load_model_with_the_wrong_schema(spark, copy):
    path = copy("id_indexer_model")
    target = os.path.join(path, "data", "vocabulary_0")
    shutil.rmtree(target)
    spark.createDataFrame([("ann", "0", 1)], "value string, index string, count bigint").write.parquet(target)
    with pytest.raises(ValueError, match=rf"^IdIndexerModel: {path}/data/vocabulary_0 has schema struct<value:string,index:string,count:bigint>, expected"):
        IdIndexerModel.load(path)


def test_pipeline_with_an_incomplete_stage_names_the_stage(copy):
    # (a stage's metadata JSON is first parsed by PySpark's pipeline reader, which reports
    # invalid JSON itself, as a ValueError without the path)
    path = copy("pipeline_model")
    (stage,) = glob.glob(os.path.join(path, "stages", "0_IdIndexerModel_*"))
    shutil.rmtree(os.path.join(stage, "data", "vocabulary_0"))
    with pytest.raises(FileNotFoundError, match=rf"^IdIndexerModel: '{stage}' is incomplete: '{stage}/data/vocabulary_0'"):
        PipelineModel.load(path)
