"""Whether ALS can checkpoint in this session, the error before a fit that would die without,
and the temporary checkpoint directory a command of ours owns.

ALS cuts its lineage by checkpointing every ``checkpointInterval`` iterations, but only when the
SparkContext has a checkpoint directory; without one the setting is silently ignored, the
lineage grows with every iteration, and past a few more than 10 iterations a task dies while
being deserialized with ``java.lang.StackOverflowError`` (reported for years; SPARK-5955 added
checkpointInterval, and apache/spark#20759 documented that it is ignored without a directory).
A library stage cannot give the session a directory without changing it for every other fit
there (PySpark can set a checkpoint directory, never unset it),
so our stages raise a clear error instead; the command line, which owns its session, sets one.
"""

import atexit
import os
import shutil
import tempfile
from typing import Any, Optional

from spark_recs._session import is_connect

__all__ = ["SAFE_ITERATIONS", "checkpoint_dir", "require_checkpointing", "own_checkpoint_dir"]

#: The most ALS iterations a fit runs without a checkpoint here: Spark's default maxIter, which
#: fits MovieLens-100K-sized data in local mode every time (15 failed once in three fresh
#: sessions, 30 always; measured, docs/design.md "Checkpoints").
SAFE_ITERATIONS = 10

#: The core setting (Spark >= 4.0) that gives a new SparkContext its checkpoint directory; the
#: only way to give one to a Spark Connect server.
CONF = "spark.checkpoint.dir"


def checkpoint_dir(spark: Any) -> Optional[str]:
    """The session's checkpoint directory, or None: ``SparkContext.getCheckpointDir()`` on a
    classic session, the ``spark.checkpoint.dir`` setting the server started with on Spark
    Connect (where no client API sets or reads the SparkContext's)."""
    if not is_connect():
        found = spark.sparkContext.getCheckpointDir()
        if found:
            return str(found)
    value = spark.conf.get(CONF, None)
    return str(value) if value else None


def require_checkpointing(stage: Any, spark: Any, max_iter: int, interval: int) -> None:
    """Raise ``ValueError`` before a fit whose ALS would run more than ``SAFE_ITERATIONS``
    iterations without a checkpoint: no checkpoint directory (or ``checkpointInterval`` -1)
    and ``maxIter`` above it, or ``checkpointInterval`` above it. Reads the session's state
    only: no Spark job."""
    name = stage if isinstance(stage, str) else type(stage).__name__
    if max_iter <= SAFE_ITERATIONS:
        return
    directory = checkpoint_dir(spark)
    if directory and 1 <= interval <= SAFE_ITERATIONS:
        return
    if directory:
        raise ValueError(
            f"{name}: checkpointInterval={interval} with maxIter={max_iter} lets "
            f"{max_iter if interval < 1 else min(interval, max_iter)} ALS iterations run between "
            f"checkpoints; past {SAFE_ITERATIONS} the lineage can overflow a task's stack "
            f"(java.lang.StackOverflowError). Set checkpointInterval between 1 and {SAFE_ITERATIONS}."
        )
    fix = (
        f"start the Spark Connect server with --conf {CONF}=DIR"
        if is_connect()
        else "spark.sparkContext.setCheckpointDir('/tmp/spark-checkpoints')  # an HDFS path on a cluster"
    )
    raise ValueError(
        f"{name}: maxIter={max_iter} needs ALS checkpoints, but this session has no checkpoint "
        f"directory, so Spark ignores checkpointInterval={interval} and the lineage of {max_iter} "
        f"iterations can overflow a task's stack (java.lang.StackOverflowError). Give the session "
        f"one first: {fix}; or use maxIter <= {SAFE_ITERATIONS}."
    )


def own_checkpoint_dir(spark: Any) -> Optional[str]:
    """For a command that owns its session: if it has no checkpoint directory and runs on one
    machine (a ``local`` master: executors share the driver's disk), give it a temporary one
    under ``spark.local.dir`` (else the system's temporary directory), removed when the process
    exits. Returns the directory set, None when nothing was set (one exists, or a cluster,
    which needs a shared path: ``--conf spark.checkpoint.dir=hdfs://...``). On Spark Connect
    the server's directory cannot be set from the client: see :func:`server_conf`."""
    if is_connect() or checkpoint_dir(spark):
        return None
    if not str(spark.sparkContext.master).startswith("local"):
        return None
    root = (spark.conf.get("spark.local.dir", None) or "").split(",")[0] or None
    path = tempfile.mkdtemp(
        prefix="spark-recs-checkpoints-", dir=root if root and os.path.isdir(root) else None
    )
    atexit.register(shutil.rmtree, path, True)
    spark.sparkContext.setCheckpointDir(path)
    return path


def server_conf() -> dict:
    """The setting to start a local Spark Connect server with: a temporary checkpoint
    directory for its SparkContext, removed when the process exits."""
    path = tempfile.mkdtemp(prefix="spark-recs-checkpoints-")
    atexit.register(shutil.rmtree, path, True)
    return {CONF: path}
