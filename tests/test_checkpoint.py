"""ALS checkpoints: our stages never start a fit ALS would not survive (a long fit without a
checkpoint directory dies with java.lang.StackOverflowError), and with a directory the
iteration counts users pick fit, on classic sessions and on Spark Connect. The command line
gives its own session a directory: tests/test_cli.py::test_runs_under_spark_submit."""

import json
import os
import subprocess
import sys

import pytest
from pyspark.sql import functions as F

from spark_recs import ImplicitALS
from spark_recs._checkpoint import SAFE_ITERATIONS, checkpoint_dir

CHECKPOINT_JOB = os.path.join(os.path.dirname(__file__), "checkpoint_job.py")


@pytest.fixture(scope="module")
def plays(spark_session):
    return spark_session.range(600).select(
        (F.col("id") % 30).cast("int").alias("user"), (F.col("id") / 30).cast("int").alias("item"),
        ((F.col("id") * 7) % 5 + 1).cast("double").alias("rating"),
    )


def test_forty_iterations_fit_with_a_checkpoint_directory(spark, plays):
    assert checkpoint_dir(spark)  # the test session has one (conftest), as a cluster should
    model = ImplicitALS(rank=3, maxIter=40, seed=1, numUserBlocks=1, numItemBlocks=1).fit(plays)
    assert model.userFactors.count() == 30


def test_too_long_a_run_between_checkpoints_raises_before_fitting(spark, plays):
    with pytest.raises(ValueError, match=r"^ImplicitALS: checkpointInterval=25 with maxIter=40 lets 25 ALS iterations run "
                                         r"between checkpoints; .*StackOverflowError.*Set checkpointInterval between 1 and 10"):
        ImplicitALS(maxIter=40, checkpointInterval=25).fit(plays)
    with pytest.raises(ValueError, match=r"checkpointInterval=-1 with maxIter=12 lets 12 ALS iterations run"):
        ImplicitALS(maxIter=12, checkpointInterval=-1).fit(plays)
    assert SAFE_ITERATIONS == 10


@pytest.mark.classic_only("runs its own classic application without a checkpoint directory in a subprocess")
@pytest.mark.end_to_end
def test_without_a_checkpoint_directory():
    done = subprocess.run([sys.executable, CHECKPOINT_JOB], capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("FACTS ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    facts = json.loads(lines[-1][len("FACTS "):])
    assert facts["dir_before"] is None
    assert facts["error"].startswith(
        "ImplicitALS: maxIter=40 needs ALS checkpoints, but this session has no checkpoint directory, so Spark "
        "ignores checkpointInterval=10"
    )
    assert "java.lang.StackOverflowError" in facts["error"]
    assert "spark.sparkContext.setCheckpointDir('/tmp/spark-checkpoints')" in facts["error"]
    assert "or use maxIter <= 10" in facts["error"]
    assert facts["default_fits"] == 30  # maxIter=10 (ALS's default) needs no directory
    # a plain ALS fit in the same session is left as the user configured it: no directory
    assert facts["plain_als_fits"] == 30 and facts["dir_after_plain_als"] is None
    assert facts["fits_with_dir"] == 30
    assert facts["interval_error"].startswith("ImplicitALS: checkpointInterval=25 with maxIter=40")
