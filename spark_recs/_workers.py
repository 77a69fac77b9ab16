"""Spark's Python workers: whether they can import what the full-catalogue engine runs there.

``UnseenItemRankerModel`` scores blocks of factors in numpy on Arrow batches (``mapInPandas``),
so the Python workers need pandas, pyarrow, numpy and the kernels' module. PySpark starts the
workers with ``PYSPARK_PYTHON`` (as it was when the application started), else the first
``python3`` on PATH; a Spark Connect server with its own ``PYSPARK_PYTHON``, else
``PYSPARK_DRIVER_PYTHON``, else ``python3``. A virtual environment's interpreter run without
activating the environment (``.venv/bin/python job.py``, a notebook kernel, a scheduler) then
gets workers without those modules, and the user's first action fails deep in a worker with
``ModuleNotFoundError``. The engine's entry points call :py:func:`require_worker_modules`
first: one small probe job per Spark application, and a :py:class:`WorkerEnvironmentError`
that names the stage, the missing modules, the workers' interpreter and the fix.
"""

import os
import re
import shutil
import sys
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from spark_recs._session import is_connect

__all__ = ["REQUIRED_WORKER_MODULES", "WorkerEnvironmentError", "require_worker_modules"]

#: What the engine imports in Spark's Python workers: PySpark's Arrow batches need pandas and
#: pyarrow, the kernels numpy and numba (which compiles them), and the kernels' own module
#: (``mapInArrow`` functions travel by reference, so the workers import it, and with it the
#: package). A new kernel module, or a compiled one's dependency, goes here.
REQUIRED_WORKER_MODULES: Tuple[str, ...] = ("numpy", "pandas", "pyarrow", "numba", "spark_recs._blocks")

#: What a worker's traceback says when an import fails there.
_MISSING = re.compile(r"ModuleNotFoundError: No module named '([^'.]+)")

#: (application id, modules) whose probe passed -> the workers' interpreter.
_passed: Dict[Tuple[str, Tuple[str, ...]], str] = {}
_lock = threading.Lock()


class WorkerEnvironmentError(RuntimeError):
    """Spark's Python workers cannot import a module the full-catalogue engine runs there.

    Raised by ``UnseenItemRankerModel.transform``, ``recommendForAllUsers`` and
    ``recommendForUserSubset`` (and what calls them: ``recommend_for_users``, the command
    line), before any of their jobs. The message starts with the stage, then names the missing
    modules, the interpreter the workers ran (and where that came from) and the fix: point
    ``PYSPARK_PYTHON`` (or ``spark.pyspark.python`` with spark-submit) at an interpreter that
    has them, before the Spark application starts.
    """


def _probe(modules: Sequence[str]) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """``mapInPandas`` function: one row (the worker's ``sys.executable``, the modules of
    ``modules`` it cannot import). A closure, so it travels by value: the probe itself needs
    nothing of this package in the worker."""
    names = list(modules)

    def probe(batches: Iterator[Any]) -> Iterator[Any]:
        import importlib
        import sys

        import pandas as pd

        for _ in batches:
            pass
        missing = []
        for name in names:
            try:
                importlib.import_module(name)
            except ImportError as e:  # not installed, or a compiled module that does not load
                plain = isinstance(e, ModuleNotFoundError) and e.name == name
                missing.append(name if plain else f"{name} ({type(e).__name__}: {e})")
        yield pd.DataFrame({"executable": [sys.executable], "missing": [missing]})

    return probe


def _configured_python(spark: Any) -> str:
    """The interpreter Spark starts the workers with, as the driver can tell without them, and
    where that came from."""
    if not is_connect():
        # what the classic application sends with every Python function: PYSPARK_PYTHON at its
        # start, else 'python3' (a classic application started from Python ignores
        # spark.pyspark.python, which spark-submit turns into PYSPARK_PYTHON)
        exe = spark.sparkContext.pythonExec
        source = "SparkContext.pythonExec: PYSPARK_PYTHON when the application started, else python3"
    else:
        # a Connect server's own environment decides (SparkConnectPlanner.pythonExec); one started
        # here (remote('local[N]')) inherited this process's
        names = ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")
        found = [(os.environ[n], f"{n} of this process") for n in names if os.environ.get(n)]
        exe, source = (found + [("python3", "neither PYSPARK_PYTHON nor PYSPARK_DRIVER_PYTHON set here")])[0]
        source += ", as a Connect server started here picks it; a remote server reads its own environment"
    return _described(exe, source)


def _described(exe: str, source: str) -> str:
    """``exe (source)``; a bare name (``python3``) with what it is on this machine's PATH."""
    if os.sep not in exe:
        found = shutil.which(exe)
        source += f"; on this machine's PATH: {found}" if found else "; not on this machine's PATH"
    return f"{exe} ({source})"


def _message(stage: str, missing: List[str], interpreter: str, modules: Sequence[str]) -> str:
    return (
        f"{stage}: Spark's Python workers cannot import {', '.join(missing)}, which the full-catalogue "
        f"engine runs there (it needs {', '.join(modules)}); the workers ran {interpreter}. Fix: point "
        f"PYSPARK_PYTHON at an interpreter that has them (this driver's is {sys.executable}) before the "
        "Spark application starts, or spark.pyspark.python with spark-submit (a Spark Connect server: "
        "PYSPARK_PYTHON in the server's environment), or install them for the workers' interpreter"
    )


def require_worker_modules(
    spark: Any, stage: str, modules: Optional[Sequence[str]] = None
) -> str:
    """Check, once per Spark application, that the Python workers import ``modules``.

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
        A classic or Spark Connect session (on Connect, the server's workers are probed).
    stage : str
        What the error names first (the stage or function about to use the workers).
    modules : sequence of str, optional
        Module names; default :py:data:`REQUIRED_WORKER_MODULES`.

    Returns
    -------
    str
        The workers' interpreter (``sys.executable`` in a worker).

    Raises
    ------
    WorkerEnvironmentError
        A worker cannot import one of ``modules``, or pandas or pyarrow (which PySpark's Arrow
        batches import before the probe runs).

    Notes
    -----
    One job of one task on one row: ``mapInPandas`` of a function that imports each module in a
    worker (about a tenth of the smallest ``transform``'s time: docs/design.md "Python workers").
    A passed probe is remembered per application id and modules, so later calls run no job; a
    failed one is not. It probes one worker: executors of a cluster with different Python
    environments can still differ.

    Examples
    --------
    >>> from spark_recs._workers import require_worker_modules
    >>> require_worker_modules(spark, "UnseenItemRankerModel")
    '...python...'
    """
    names = tuple(REQUIRED_WORKER_MODULES if modules is None else modules)
    key = (str(spark.conf.get("spark.app.id", "")), names)
    with _lock:  # once, also when CrossValidator transforms from several threads
        if key in _passed:
            return _passed[key]
        probe = spark.range(0, 1, 1, 1).mapInPandas(_probe(names), "executable string, missing array<string>")
        try:
            (row,) = probe.collect()  # one partition: one row
        except Exception as e:  # PythonException, Py4JJavaError, SparkConnectGrpcException
            found = _MISSING.findall(str(e))
            if not found:
                raise
            raise WorkerEnvironmentError(
                _message(stage, sorted(set(found)), _configured_python(spark), names)
            ) from None
        if row["missing"]:
            where = f"{row['executable']} (their sys.executable)"
            raise WorkerEnvironmentError(_message(stage, list(row["missing"]), where, names))
        _passed[key] = row["executable"]
        return row["executable"]
