"""Readings as InfluxDB line protocol, and which retention policy each measurement goes to."""

from __future__ import annotations

import math
from collections.abc import Iterable

from collectors.base import Reading

# DESIGN.md: raw readings in "raw", derived half-hourly usage and forecasts in "usage".
RETENTION_POLICY = {"meter": "raw", "thermostat": "raw", "weather": "raw",
                    "usage_30m": "usage", "forecast": "usage"}
DEFAULT_RP = "raw"

_TAG_ESCAPE = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_MEAS_ESCAPE = str.maketrans({",": "\\,", " ": "\\ "})


def retention_policy(measurement: str) -> str:
    return RETENTION_POLICY.get(measurement, DEFAULT_RP)


def _field(value) -> str:
    # Order matters: bool is an int. Numbers are written as floats so that a field never
    # changes type between sources (InfluxDB keeps a field's first type and refuses others).
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"field value {value!r} is not finite")
        return repr(v)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ValueError(f"field value of type {type(value).__name__} cannot be stored")


def reading_to_line(r: Reading) -> str:
    """One reading as one line; tags sorted (cheaper for InfluxDB), fields as given."""
    head = r.measurement.translate(_MEAS_ESCAPE)
    if r.tags:
        head += "," + ",".join(f"{k.translate(_TAG_ESCAPE)}={str(v).translate(_TAG_ESCAPE)}"
                               for k, v in sorted(r.tags.items()) if v != "")
    if not r.fields:
        raise ValueError(f"reading of {r.measurement!r} has no fields")
    fields = ",".join(f"{k.translate(_TAG_ESCAPE)}={_field(v)}" for k, v in r.fields.items())
    return f"{head} {fields} {int(r.time_ns)}"


def group_lines(readings: Iterable[Reading]) -> dict[str, list[str]]:
    """Lines per retention policy."""
    out: dict[str, list[str]] = {}
    for r in readings:
        out.setdefault(retention_policy(r.measurement), []).append(reading_to_line(r))
    return out
