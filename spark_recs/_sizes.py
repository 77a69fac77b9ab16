"""Byte sizes: Spark's byte-size settings read as numbers, and whether a table of a given
estimated size is within the session's broadcast threshold."""

from typing import Any

__all__ = ["fits_broadcast"]


def _parse_bytes(text: str) -> int:
    """Spark's byte-size strings ('10485760', '10MB', '10m', '-1') in bytes."""
    text = str(text).strip().lower()
    units = {
        "b": 1, "k": 2**10, "kb": 2**10, "m": 2**20, "mb": 2**20, "g": 2**30, "gb": 2**30,
        "t": 2**40, "tb": 2**40,
    }
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * units[unit])
    return int(float(text))


def fits_broadcast(spark: Any, nbytes: int) -> bool:
    """Whether ``nbytes`` is within the session's ``spark.sql.autoBroadcastJoinThreshold``
    (never, when it is negative: broadcasting disabled)."""
    threshold = _parse_bytes(spark.conf.get("spark.sql.autoBroadcastJoinThreshold", "10MB"))
    return 0 <= nbytes <= threshold
