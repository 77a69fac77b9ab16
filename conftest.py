"""Shared by the tests, the doctests in ``spark_recs/`` and the examples in README.md.

The session of the run is pytest-spark's, built from ``spark_options`` in setup.cfg. With
``--spark-connect`` or ``SPARK_RECS_TEST_CONNECT=1`` it is a Spark Connect session instead, on
a local Connect server started with the same options (``spark.master: local[2]`` becomes
``SparkSession.builder.remote("local[2]")``); tests marked ``classic_only`` are then skipped
with their reason.
"""

import os
import sys

import pytest

# Spark starts its Python workers with $PYSPARK_PYTHON, else with the first ``python3`` on PATH,
# which is not this interpreter when the run is ``venv/bin/python -m pytest`` with the venv not
# activated (and PySpark refuses a worker of another minor version): give them this one.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


#: setup.cfg's spark_options that only make the classic legs faster (see the comment there).
SPEED_ONLY_OPTIONS = ("spark.sql.adaptive.enabled", "spark.sql.codegen.wholeStage")


def pytest_addoption(parser):
    parser.addoption(
        "--spark-connect", action="store_true", default=False,
        help="run on a Spark Connect session (local server); also SPARK_RECS_TEST_CONNECT=1",
    )


def on_connect(config) -> bool:
    """Whether this run is the Spark Connect leg."""
    return config.getoption("spark_connect") or os.environ.get("SPARK_RECS_TEST_CONNECT", "").lower() in ("1", "true", "yes")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "classic_only(reason): needs a classic SparkSession; skipped on the Spark Connect leg"
    )
    config.addinivalue_line(
        "markers",
        "end_to_end: runs a command, an example or a job of its own from start to end (most start "
        "Spark in another process); the main leg runs them on the newest PySpark, and the PySpark 3.5 "
        "leg leaves them out (-m 'not end_to_end') to stay within CI's budget",
    )


def pytest_report_header(config):
    if on_connect(config):
        return "spark-recs: Spark Connect leg (a local Connect server on spark.master)"


def pytest_collection_modifyitems(config, items):
    if not on_connect(config):
        return
    for item in items:
        marker = item.get_closest_marker("classic_only")
        if marker is not None:
            item.add_marker(pytest.mark.skip(reason=f"classic only: {marker.args[0]}"))


@pytest.fixture(scope="session")
def spark_session(request, tmp_path_factory):
    """The one SparkSession of the test run (overrides pytest-spark's, which it reuses on the
    classic leg). It has a checkpoint directory, as a cluster that runs long ALS fits should
    (tests/checkpoint_job.py checks a session without one)."""
    checkpoints = str(tmp_path_factory.mktemp("checkpoints"))
    if not on_connect(request.config):
        from pytest_spark.util import reduce_logging

        session = request.getfixturevalue("_spark_session")
        reduce_logging(session.sparkContext)
        session.sparkContext.setCheckpointDir(checkpoints)
        yield session
        return
    from pyspark.sql import SparkSession
    from pytest_spark.config import SparkConfigBuilder

    from spark_recs._session import get_or_create

    # pytest-spark's options (its defaults and setup.cfg's spark_options) go to the local
    # server's SparkContext, as they go to the classic session's; the master is the remote URL.
    # The two test-speed settings are left out: this leg runs Spark's default planning
    # (adaptive execution, whole-stage code generation), so both kinds of plan are tested.
    options = dict(SparkConfigBuilder().get().getAll())
    for speed_only in SPEED_ONLY_OPTIONS:
        options.pop(speed_only, None)
    master = options.pop("spark.master")
    options["spark.checkpoint.dir"] = checkpoints  # a Connect client cannot set it later
    session = get_or_create(SparkSession.builder.config(map=options), remote=master)
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _doctest_spark(request, doctest_namespace):
    """Doctests and README examples see ``spark`` as in the pyspark shell or a notebook."""
    if "doctest" in request.node.__class__.__name__.lower():
        doctest_namespace["spark"] = request.getfixturevalue("spark_session")
        doctest_namespace["temp_path"] = str(request.getfixturevalue("tmp_path"))
