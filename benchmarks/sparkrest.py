"""Shuffle bytes and job counts of a job group, read from the driver UI's REST API.

The harness runs each timed call under its own job group (``SparkContext.setJobGroup``).
Afterwards, untimed, it runs a tiny marker job in a group of its own: the UI's status store
handles listener events in order, so once the marker job shows up as finished, every event of
the measured jobs has been handled too. Then it lists the jobs of the measured group and sums
``shuffleWriteBytes`` over the completed attempts of their stages (skipped stages, whose shuffle
output an earlier job of the group wrote, count once, through that job).

Only ``localhost`` is contacted: the port is read from ``SparkContext.uiWebUrl``.
"""

import datetime as dt
import itertools
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional

from pyspark.sql import SparkSession

_FINISHED = {"SUCCEEDED", "FAILED"}


def _timestamp(text: str) -> float:
    # the REST API writes e.g. "2025-11-27T22:01:02.345GMT"
    return dt.datetime.strptime(text.replace("GMT", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def _busy_seconds(jobs: List[Dict[str, Any]]) -> Optional[float]:
    """Wall time during which at least one of the jobs ran (the union of their intervals)."""
    try:
        spans = sorted((_timestamp(j["submissionTime"]), _timestamp(j["completionTime"])) for j in jobs)
    except (KeyError, ValueError):
        return None
    total, end = 0.0, float("-inf")
    for a, b in spans:
        if b > end:
            total += b - max(a, end)
            end = b
    return round(total, 3)


class ShuffleMeter:
    """Reads per-job-group shuffle bytes from ``http://localhost:<ui port>/api/v1``."""

    def __init__(self, spark: SparkSession, timeout: float = 10.0) -> None:
        self.spark = spark
        self.timeout = timeout
        self.error: Optional[str] = None  # the last failure, if any
        self.failures = 0  # readings that failed
        self._markers = itertools.count()
        sc = spark.sparkContext
        url = sc.uiWebUrl
        if not url:
            self.base = None
            self.error = "Spark UI disabled"
            return
        port = urllib.parse.urlparse(url).port
        self.base = f"http://localhost:{port}/api/v1/applications/{sc.applicationId}"

    @property
    def enabled(self) -> bool:
        return self.base is not None

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=self.timeout) as response:
            return json.loads(response.read().decode("utf-8"))

    def _jobs(self) -> List[Dict[str, Any]]:
        return self._get("/jobs")

    def _drain(self) -> None:
        """Run a marker job and wait until the status store has seen it finish."""
        group = f"bench-marker-{next(self._markers)}"
        sc = self.spark.sparkContext
        sc.setJobGroup(group, "listener-bus marker")
        self.spark.range(1, numPartitions=1).write.format("noop").mode("overwrite").save()
        sc.setJobGroup("bench-untimed", "untimed work")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if any(j.get("jobGroup") == group and j["status"] in _FINISHED for j in self._jobs()):
                return
            time.sleep(0.02)
        raise TimeoutError("marker job not seen in the UI status store")

    def measure(self, group: str) -> Optional[Dict[str, int]]:
        """Jobs, stages and shuffle bytes written by the jobs of ``group``; None if unreadable."""
        if not self.enabled:
            return None
        try:
            self._drain()
            jobs = [j for j in self._jobs() if j.get("jobGroup") == group]
            if not jobs or any(j["status"] not in _FINISHED for j in jobs):
                raise RuntimeError(f"jobs of group {group} not all finished: {len(jobs)} seen")
            stage_ids = sorted({s for j in jobs for s in j["stageIds"]})
            written = 0
            completed = 0
            for sid in stage_ids:
                try:
                    attempts = self._get(f"/stages/{sid}?details=false")
                except urllib.error.HTTPError as exc:
                    if exc.code == 404:  # never submitted (skipped): the store has no entry
                        continue
                    raise
                for attempt in attempts:
                    if attempt.get("status") == "COMPLETE":
                        completed += 1
                        written += int(attempt.get("shuffleWriteBytes", 0))
            return {
                "jobs": len(jobs),
                "stages": completed,
                "shuffle_write_bytes": written,
                "job_seconds": _busy_seconds(jobs),
            }
        except Exception as exc:  # noqa: BLE001 - reported in the output, never fatal
            self.failures += 1
            self.error = f"{type(exc).__name__}: {exc}"
            return None

    def final_plans(self, group: str) -> List[str]:
        """Final (adaptive) physical plans of the SQL executions that ran jobs of ``group``."""
        if not self.enabled:
            return []
        try:
            job_ids = {j["jobId"] for j in self._jobs() if j.get("jobGroup") == group}
            plans = []
            for execution in self._get("/sql?details=false"):
                ran = set(execution.get("successJobIds", [])) | set(execution.get("failedJobIds", []))
                if ran & job_ids:
                    detail = self._get(f"/sql/{execution['id']}?details=false&planDescription=true")
                    plans.append(detail.get("planDescription", ""))
            return plans
        except Exception as exc:  # noqa: BLE001
            self.error = f"{type(exc).__name__}: {exc}"
            return []
