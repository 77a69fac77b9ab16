"""Session handling: what differs between a classic SparkSession and a Spark Connect one, and
Spark SQL settings scoped to a block (the same on both).

The stages use only the DataFrame API, which both sessions share. What a Connect client lacks
is the JVM: no ``SparkContext`` (so no ``setLogLevel``). Here are the few replacements, each
doing exactly what PySpark does on a classic session.
"""

import os
import sys
import warnings
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

__all__ = ["conf_scope", "get_or_create", "is_connect", "local_python_workers", "set_log_level"]


def is_connect() -> bool:
    """Whether this process runs PySpark against Spark Connect (as PySpark itself decides)."""
    from pyspark.sql.utils import is_remote

    return is_remote()


def set_log_level(spark: Any, level: str) -> None:
    """``SparkContext.setLogLevel`` on a classic session. A Connect client has no SparkContext:
    a server started for it takes the level from ``spark.log.level`` (see :func:`get_or_create`),
    a shared server keeps its own."""
    if not is_connect():
        spark.sparkContext.setLogLevel(level)


@contextmanager
def conf_scope(spark: Any, conf: Dict[str, str]) -> Iterator[None]:
    """Run the block with the Spark SQL settings ``conf``, then put the session's own values
    back (unset those it did not have), also when the block fails."""
    saved = {}
    try:
        for key, value in conf.items():
            saved[key] = spark.conf.get(key, None)
            spark.conf.set(key, value)
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, old)


def get_or_create(builder: Any, remote: Optional[str] = None) -> Any:
    """``builder.getOrCreate()``, or with a ``remote`` URL a Spark Connect session.

    ``local[N]`` (as PySpark tells it: the URL starts with ``local``) starts a server in this
    process with the builder's options; the client then sets every option again and warns about
    each one that only a starting server takes (``spark.ui.enabled``, ...). The server has taken
    them, so those warnings go. A shared server (``sc://host:port``) takes only runtime settings,
    and the warnings about the others stay.
    """
    if not remote:
        return builder.getOrCreate()
    builder = builder.remote(remote)
    if not remote.startswith("local"):
        return builder.getOrCreate()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Failed to set spark", UserWarning)
        return builder.getOrCreate()


def local_python_workers(master: Optional[str], remote: Optional[str]) -> None:
    """Let Spark's Python workers run this interpreter when they run on this machine.

    PySpark starts its workers with ``PYSPARK_PYTHON``, else the first ``python3`` on PATH.
    A console script of a virtual environment that is not activated (``.venv/bin/spark-recs``)
    then gets workers without the environment's pandas and pyarrow, and every Arrow batch
    (``mapInPandas``) fails with ``No module named 'pandas'``. So when the workers are local
    (a ``local`` master, or none and no ``spark-submit``, or a Spark Connect server started
    here with ``local[N]``) and ``PYSPARK_PYTHON`` is unset, it is set to ``sys.executable``.
    A cluster's master, a shared Connect server (``sc://``) and spark-submit keep their own
    setting.
    """
    if os.environ.get("PYSPARK_PYTHON") or os.environ.get("PYSPARK_GATEWAY_PORT"):  # set, or spark-submit
        return
    if remote:
        local = remote.startswith("local")
    else:
        local = master is None or master.startswith("local")
    if local:
        os.environ["PYSPARK_PYTHON"] = sys.executable
