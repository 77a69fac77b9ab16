"""Every example script and the chapter-4 notebook run on small data, in the test session."""

import json
import os
import runpy
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
SCRIPTS = sorted(f for f in os.listdir(EXAMPLES) if f.startswith("ch") and f.endswith(".py"))


@pytest.fixture
def example_path(monkeypatch):
    monkeypatch.syspath_prepend(EXAMPLES)  # the scripts import _common from their folder


def test_one_script_per_chapter():
    assert [s.split("_")[0] for s in SCRIPTS] == ["ch1", "ch2", "ch3", "ch4"]


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.end_to_end
def test_example_runs(script, spark_session, example_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [script, "--small"])
    runpy.run_path(os.path.join(EXAMPLES, script), run_name="__main__")
    assert capsys.readouterr().out.strip()


@pytest.mark.end_to_end
def test_notebook_runs_as_a_databricks_user_would(spark_session, example_path):
    with open(os.path.join(EXAMPLES, "ch4_million_songs_implicit.ipynb")) as fh:
        notebook = json.load(fh)
    namespace = {"spark": spark_session}  # Databricks provides `spark`
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert len(cells) >= 6
    for cell in cells:
        exec(compile("".join(cell["source"]), "notebook-cell", "exec"), namespace)
    assert namespace["held_out_roem"] < 0.5
    assert namespace["recs"].count() == 15
    assert 0 <= namespace["full_catalogue_p10"] <= 1  # the field's protocol ran too
