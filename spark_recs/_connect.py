"""Session helpers: what differs between a classic SparkSession and a Spark Connect one, in
one place, and Spark SQL settings scoped to a block (the same on both).

The stages use only the DataFrame API, which both sessions share. What a Connect session lacks
is the JVM in the client: no ``SparkContext`` (so no ``setLogLevel``), and PySpark's
``MLWriter.overwrite()`` deletes the old directory through the JVM. Here are the few
replacements, each doing exactly what PySpark does on a classic session.
"""

import warnings
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

from pyspark.ml import util as _util

__all__ = ["DefaultParamsWriter", "MLWriter", "conf_scope", "get_or_create", "is_connect", "set_log_level"]


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


def _parse_bytes(text: str) -> int:
    """Spark's byte-size strings ('10485760', '10MB', '10m', '-1') in bytes."""
    text = str(text).strip().lower()
    units = {"b": 1, "k": 2**10, "kb": 2**10, "m": 2**20, "mb": 2**20, "g": 2**30, "gb": 2**30, "t": 2**40, "tb": 2**40}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * units[unit])
    return int(float(text))


def fits_broadcast(spark: Any, nbytes: int) -> bool:
    """Whether ``nbytes`` is within the session's ``spark.sql.autoBroadcastJoinThreshold``
    (never, when it is negative: broadcasting disabled)."""
    threshold = _parse_bytes(spark.conf.get("spark.sql.autoBroadcastJoinThreshold", "10MB"))
    return 0 <= nbytes <= threshold


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


class MLWriter(_util.MLWriter):
    """PySpark's ``MLWriter`` whose ``overwrite()`` also works on Spark Connect: there the
    server deletes the old directory, as it does for ``Pipeline`` and ``CrossValidator``."""

    def _handleOverwrite(self, path: str) -> None:
        if not is_connect():
            super()._handleOverwrite(path)
            return
        from pyspark.ml.connect.readwrite import RemoteMLWriter

        RemoteMLWriter.handleOverwrite(path, True)


class DefaultParamsWriter(MLWriter, _util.DefaultParamsWriter):
    """PySpark's ``DefaultParamsWriter`` (JSON params, nothing else) with :class:`MLWriter`'s
    overwrite."""
