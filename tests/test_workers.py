"""Spark's Python workers without what the full-catalogue engine imports there: one clear
WorkerEnvironmentError naming the stage, the module, the workers' interpreter and the fix,
instead of a JVM stack trace at the user's action (spark_recs/_workers.py)."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

import spark_recs
from spark_recs import WorkerEnvironmentError
from spark_recs._workers import REQUIRED_WORKER_MODULES, _described, require_worker_modules
from tests.helpers import job_count

WORKERS_JOB = os.path.join(os.path.dirname(__file__), "workers_job.py")
FIX = (r"Fix: point PYSPARK_PYTHON at an interpreter that has them \(this driver's is "
       + re.escape(sys.executable) + r"\) before the Spark application starts, or spark.pyspark.python "
       r"with spark-submit \(a Spark Connect server: PYSPARK_PYTHON in the server's environment\), or "
       r"install them for the workers' interpreter$")


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """A virtual environment of the base interpreter with nothing installed (no pip, no system
    site packages): the same Python version as this one (PySpark refuses another), no pandas."""
    where = tmp_path_factory.mktemp("bare-venv")
    made = subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(where)],
                          capture_output=True, text=True)
    python = os.path.join(where, "bin", "python")
    if made.returncode != 0 or not os.path.exists(python):
        pytest.skip(f"cannot make a bare venv from {sys._base_executable}: {made.stderr.strip()[-300:]}")
    has = subprocess.run([python, "-c", "import pandas"], capture_output=True)
    if has.returncode == 0:
        pytest.skip(f"the bare venv of {sys._base_executable} imports pandas; no interpreter without it")
    return python


def test_the_error_is_public_and_a_runtime_error():
    assert spark_recs.WorkerEnvironmentError is WorkerEnvironmentError
    assert issubclass(WorkerEnvironmentError, RuntimeError)
    assert REQUIRED_WORKER_MODULES[:3] == ("numpy", "pandas", "pyarrow")


@pytest.mark.classic_only("runs its own classic application in a subprocess; the Connect leg would repeat it")
@pytest.mark.end_to_end
def test_workers_without_pandas_get_one_clear_error_from_every_entry_point_and_the_command(bare_python):
    env = dict(os.environ, PYSPARK_PYTHON=bare_python)
    done = subprocess.run([sys.executable, WORKERS_JOB], capture_output=True, text=True, timeout=600, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("FACTS ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    facts = json.loads(lines[-1][len("FACTS "):])
    assert facts["fitted_items"] == 3  # ALS fits in the JVM: no Python worker needed
    pattern = (
        # PySpark 4.3's worker imports pyarrow first, then pandas; either is what it lacks
        r"^UnseenItemRankerModel: Spark's Python workers cannot import (pyarrow|pandas), which the "
        r"full-catalogue engine runs there \(it needs numpy, pandas, pyarrow, numba, spark_recs._blocks\); "
        r"the workers ran " + re.escape(bare_python)
        + r" \(SparkContext.pythonExec: PYSPARK_PYTHON when the application started, else python3\)\. " + FIX
    )
    for call in ("transform", "recommendForAllUsers", "recommendForUserSubset"):
        error = facts[call]
        assert error is not None, call
        assert error["type"] == "WorkerEnvironmentError" and error["runtime_error"], call
        assert re.match(pattern, error["message"]), error["message"]
    # spark-recs recommend on a saved pipeline: the same message as one line, exit code 2
    command = facts["command"]
    assert command["code"] == 2
    assert re.match(r"spark-recs: error: " + pattern[1:] + r"\n\Z", command["stderr"]), command


def test_a_module_the_workers_lack_is_named_with_their_interpreter(spark):
    workers = require_worker_modules(spark, "UnseenItemRankerModel")
    missing = ("numpy", "spark_recs_no_such_kernel", "spark_recs._no_such_module")
    with pytest.raises(
        WorkerEnvironmentError,
        match=r"^UnseenItemRankerModel: Spark's Python workers cannot import spark_recs_no_such_kernel, "
              r"spark_recs._no_such_module, which the full-catalogue engine runs there \(it needs numpy, "
              r"spark_recs_no_such_kernel, spark_recs._no_such_module\); the workers ran "
              + re.escape(workers) + r" \(their sys.executable\)\. " + FIX,
    ):
        require_worker_modules(spark, "UnseenItemRankerModel", missing)


@pytest.mark.classic_only("ships a module to the workers with SparkContext.addPyFile")
def test_a_module_that_fails_to_load_says_why(spark, tmp_path):
    # a compiled kernel built for another numpy raises ImportError on import: the reason is kept
    broken = tmp_path / "spark_recs_test_broken_kernel.py"
    broken.write_text("raise ImportError('built against another numpy')\n")
    spark.sparkContext.addPyFile(str(broken))
    with pytest.raises(
        WorkerEnvironmentError,
        match=r"^recommend_for_users: Spark's Python workers cannot import spark_recs_test_broken_kernel "
              r"\(ImportError: built against another numpy\), which",
    ):
        require_worker_modules(spark, "recommend_for_users", ["spark_recs_test_broken_kernel"])


@pytest.mark.classic_only("counts jobs with SparkContext.statusTracker, which a Connect client lacks")
def test_a_passed_probe_runs_once_per_application_and_a_failed_one_again(spark):
    found = []

    def probe():
        found.append(require_worker_modules(spark, "S", ["json"]))

    first, again = job_count(spark, "workers-first", probe), job_count(spark, "workers-again", probe)
    assert (first, again) == (1, 0)
    assert found[0] == found[1] and os.path.samefile(found[0], shutil.which(spark.sparkContext.pythonExec))

    def fails():
        missing = r"^S: Spark's Python workers cannot import no_such_x, which"
        with pytest.raises(WorkerEnvironmentError, match=missing):
            require_worker_modules(spark, "S", ["no_such_x"])

    assert [job_count(spark, f"workers-fails-{i}", fails) for i in range(2)] == [1, 1]


def test_an_interpreter_by_name_is_looked_up_on_path():
    python3 = shutil.which("python3")
    assert _described("python3", "the default") == f"python3 (the default; on this machine's PATH: {python3})"
    assert _described("no-such-python-x", "PYSPARK_PYTHON") == (
        "no-such-python-x (PYSPARK_PYTHON; not on this machine's PATH)"
    )
    assert _described("/opt/py/bin/python", "PYSPARK_PYTHON") == "/opt/py/bin/python (PYSPARK_PYTHON)"
