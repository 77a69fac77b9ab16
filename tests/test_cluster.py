"""Multi-process check: the stages, the evaluators and CrossValidator on a local-cluster master,
with executors in their own JVMs.

A second SparkContext cannot live in the test process, so the job runs as its own Python
process, as spark-submit would run it.
"""

import json
import os
import subprocess
import sys

import pytest

CLUSTER_JOB = os.path.join(os.path.dirname(__file__), "cluster_job.py")


@pytest.mark.classic_only("runs its own classic application in a subprocess; the Connect leg would repeat it")
@pytest.mark.end_to_end
def test_pipeline_on_local_cluster_decodes_recommendations():
    done = subprocess.run(
        [sys.executable, CLUSTER_JOB, "local-cluster[2,1,1024]"],
        capture_output=True, text=True, timeout=600,
    )
    lines = [l for l in done.stdout.splitlines() if l.startswith("FACTS ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    facts = json.loads(lines[-1][len("FACTS "):])
    assert facts["master"] == "local-cluster[2,1,1024]"
    assert facts["parallelism"] == 2
    # the zeros back in (every user x the 20 items of the input); a prediction for every row
    assert facts["filled_rows"] == facts["rows"] == facts["predictions"] == 40 * 20
    # recommendations decoded to the string ids, with the pipeline's own scores
    assert facts["users"] == facts["distinct_users"] == 40
    assert facts["user_type"] == "string"
    assert facts["recs_type"] == "array<struct<item:string,rating:float>>"
    assert facts["unknown_users"] == 0 and facts["unknown_items"] == 0
    assert facts["rec_rows"] == facts["checked"] == 40 * 3
    assert facts["max_diff"] < 1e-4
    # evaluators with executors in other processes: the numbers of the numpy references
    assert facts["roem"] == pytest.approx(facts["roem_numpy"], abs=1e-9) and 0 < facts["roem"] < 0.5
    assert facts["precision"] == pytest.approx(facts["precision_numpy"], abs=1e-9) and facts["precision"] > 0
    # CrossValidator: a metric per grid point, and the best one picked (ROEM: lower is better)
    metrics = facts["cv_metrics"]
    assert len(metrics) == 2 and all(0 < m < 1 for m in metrics)
    assert facts["cv_best_rank"] == [2, 4][metrics.index(min(metrics))]
    # the full-catalogue engine: user blocks x item blocks scored on the executors, every rank
    # as numpy ranks on the full matrix
    assert facts["ranked_rows"] > 50 and facts["ranked_mismatches"] == 0
    assert 0 < facts["ranked_precision"] <= 1
