"""What differs between a classic SparkSession and a Spark Connect one, in one place.

The stages use only the DataFrame API, which both sessions share. What a Connect session lacks
is the JVM in the client: PySpark's ``MLWriter.overwrite()`` deletes the old directory through
the JVM. Here are the replacements, each doing exactly what PySpark does on a classic session.
"""

from pyspark.ml import util as _util

__all__ = ["DefaultParamsWritable", "DefaultParamsWriter", "MLWriter", "is_connect"]


def is_connect() -> bool:
    """Whether this process runs PySpark against Spark Connect (as PySpark itself decides)."""
    from pyspark.sql.utils import is_remote

    return is_remote()


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


class DefaultParamsWritable(_util.DefaultParamsWritable):
    """PySpark's ``DefaultParamsWritable``, writing with :class:`DefaultParamsWriter`."""

    def write(self) -> DefaultParamsWriter:
        """Returns a DefaultParamsWriter instance for this class."""
        return DefaultParamsWriter(self)
