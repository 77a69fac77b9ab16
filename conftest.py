"""Shared by the tests, the doctests in ``spark_recs/`` and the examples in README.md."""

import pytest


@pytest.fixture(autouse=True)
def _doctest_spark(request, doctest_namespace):
    """Doctests and README examples see ``spark`` as in the pyspark shell or a notebook."""
    if "doctest" in request.node.__class__.__name__.lower():
        doctest_namespace["spark"] = request.getfixturevalue("spark_session")
        doctest_namespace["temp_path"] = str(request.getfixturevalue("tmp_path"))
