"""Shared by the tests, the doctests in ``spark_recs/`` and the examples in README.md."""

import os
import sys

import pytest

# Spark starts its Python workers with $PYSPARK_PYTHON, else with the first ``python3`` on PATH,
# which is not this interpreter when the run is ``venv/bin/python -m pytest`` with the venv not
# activated (and PySpark refuses a worker of another minor version): give them this one.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.fixture(autouse=True)
def _doctest_spark(request, doctest_namespace):
    """Doctests and README examples see ``spark`` as in the pyspark shell or a notebook."""
    if "doctest" in request.node.__class__.__name__.lower():
        doctest_namespace["spark"] = request.getfixturevalue("spark_session")
        doctest_namespace["temp_path"] = str(request.getfixturevalue("tmp_path"))
