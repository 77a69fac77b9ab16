"""Saving and loading stages, with errors that name the stage and the path.

A saved stage is what Spark's ``DefaultParamsWriter`` writes: ``metadata/``, one line of JSON
(class, uid, params, defaults, Spark version), plus Parquet under ``data/`` for models that
carry data. Loading reads JSON and Parquet only. It never unpickles, and unlike PySpark's
``DefaultParamsReader`` it never imports the class that the metadata names: the class asked
to load must be the class that was saved, or loading stops before anything is built.

Saving works on Spark Connect too: PySpark's ``MLWriter.overwrite()`` deletes the old directory
through the JVM, which a Connect client lacks, so :py:class:`MLWriter` has the server delete it.
"""

import json
import os
from typing import Any, Dict, Type, TypeVar

from pyspark.errors import AnalysisException
from pyspark.ml import util as _util
from pyspark.ml.param import Params
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsReader, DefaultParamsWritable, MLReadable
from pyspark.sql import DataFrame, SparkSession

from spark_recs._session import is_connect
from spark_recs._validation import spark_error_is

RL = TypeVar("RL", bound=MLReadable[Any])  # as pyspark.ml.util's RL

#: What every metadata JSON of a saved stage holds.
_METADATA_KEYS = ("class", "uid", "paramMap", "defaultParamMap", "sparkVersion")


def class_path(cls: type) -> str:
    """The name saved models record for a class: ``spark_recs.zeros.ZeroFiller``."""
    return cls.__module__ + "." + cls.__name__


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


class ClearSave(MLWriter):
    """``save`` that names the stage and the path when the path exists and ``overwrite()``
    was not called (Spark's own message names neither the stage nor the fix); ``overwrite()``
    works on Spark Connect too (:py:class:`MLWriter`)."""

    instance: Params

    def save(self, path: str) -> None:
        try:
            super().save(path)
        except Exception as e:
            # Spark 4: PATH_ALREADY_EXISTS; PySpark 3.5 writes metadata through an RDD, whose
            # Hadoop output check raises FileAlreadyExistsException instead
            if spark_error_is(e, "PATH_ALREADY_EXISTS") or "FileAlreadyExistsException" in str(e):
                raise FileExistsError(
                    f"{type(self.instance).__name__}: cannot save to '{path}': it already exists; "
                    "use write().overwrite().save(path) to replace it"
                ) from None
            raise


class ParamsWriter(ClearSave, DefaultParamsWriter):
    """Spark's ``DefaultParamsWriter`` (JSON metadata), with :py:class:`ClearSave`'s errors."""


def load_metadata(cls: type, path: str, spark: SparkSession) -> Dict[str, Any]:
    """Read and check ``path/metadata``: it exists, is the JSON of a saved stage, and its class
    is ``cls``. Raises ``FileNotFoundError`` or ``ValueError`` naming the stage and the path."""
    name = cls.__name__
    where = os.path.join(path, "metadata")
    try:
        row = spark.read.text(where).first()
    except AnalysisException as e:
        if spark_error_is(e, "PATH_NOT_FOUND"):
            raise FileNotFoundError(f"{name}: nothing saved at '{path}': '{where}' does not exist") from None
        raise
    text = row[0] if row is not None else ""
    try:
        metadata = json.loads(text)
    except ValueError:
        metadata = None
    if not isinstance(metadata, dict) or any(key not in metadata for key in _METADATA_KEYS):
        raise ValueError(
            f"{name}: '{where}' is not the JSON metadata of a saved stage (truncated or "
            f"corrupted?); found {text[:80]!r}"
        )
    expected = class_path(cls)
    if metadata["class"] != expected:
        raise ValueError(f"{name}: '{path}' holds a saved {metadata['class']!r}, not {expected!r}")
    return metadata


def set_params(instance: Params, metadata: Dict[str, Any], path: str) -> None:
    """Give ``instance`` the uid, params and defaults of ``metadata``.

    A param the saved release did not have takes its default, as Spark's readers do, unless
    the class names, in ``_behaviourBefore``, what that release did instead (a param added to
    choose a behaviour that was fixed before): then that is its default, so the saved stage
    behaves as it did when it was saved.
    """
    instance._resetUid(metadata["uid"])
    try:
        # pyspark types the instance as an MLReadable; it uses it as the Params it is
        DefaultParamsReader.getAndSetParams(instance, metadata)  # type: ignore[type-var]
    except (AssertionError, AttributeError, KeyError, TypeError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(
            f"{type(instance).__name__}: the params saved in '{os.path.join(path, 'metadata')}' "
            f"do not fit this release: {reason}"
        ) from None
    saved = {**metadata.get("defaultParamMap", {}), **metadata["paramMap"]}
    for name, value in getattr(instance, "_behaviourBefore", {}).items():
        if name not in saved:
            instance._setDefault(**{name: value})


def read_data(cls: type, path: str, name: str, spark: SparkSession) -> DataFrame:
    """The Parquet data ``path/data/name`` of a saved model; ``FileNotFoundError`` naming the
    stage and the path when it is missing."""
    where = os.path.join(path, "data", name)
    try:
        data = spark.read.parquet(where)
        data.schema  # noqa: B018 - Spark Connect resolves the path lazily: make it fail here
        return data
    except AnalysisException as e:
        if spark_error_is(e, "PATH_NOT_FOUND"):
            raise FileNotFoundError(
                f"{cls.__name__}: '{path}' is incomplete: '{where}' does not exist"
            ) from None
        raise


class ParamsReader(DefaultParamsReader[RL]):
    """Loads what :py:class:`ParamsWriter` saved, for the class asked only."""

    cls: Type[Any]

    def load(self, path: str) -> RL:
        metadata = load_metadata(self.cls, path, self.sparkSession)
        instance = self.cls()
        set_params(instance, metadata, path)
        return instance


class ParamsReadable(DefaultParamsReadable[RL]):
    """``DefaultParamsReadable`` whose reader checks the saved class and names stage and path."""

    @classmethod
    def read(cls) -> ParamsReader[RL]:
        """Returns a :py:class:`ParamsReader` for this class."""
        return ParamsReader(cls)


class ParamsWritable(DefaultParamsWritable):
    """``DefaultParamsWritable`` whose writer names stage and path when the path exists."""

    def write(self) -> ParamsWriter:
        """Returns a :py:class:`ParamsWriter` for this instance."""
        return ParamsWriter(self)  # type: ignore[arg-type]
