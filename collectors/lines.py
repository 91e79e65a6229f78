"""Readings as InfluxDB line protocol, and which retention policy each measurement goes to."""

from __future__ import annotations

from collections.abc import Iterable

from collectors.base import Reading

# DESIGN.md: raw readings in "raw", derived half-hourly usage and forecasts in "usage".
RETENTION_POLICY = {"meter": "raw", "thermostat": "raw", "weather": "raw",
                    "usage_30m": "usage", "usage_day": "usage", "forecast": "usage"}
DEFAULT_RP = "raw"

_TAG_ESCAPE = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_MEAS_ESCAPE = str.maketrans({",": "\\,", " ": "\\ "})


def retention_policy(measurement: str) -> str:
    return RETENTION_POLICY.get(measurement, DEFAULT_RP)


def _field(value) -> str:
    # Order matters: bool is an int. Numbers are written as floats so that a field never
    # changes type between sources (InfluxDB keeps a field's first type and refuses others).
    t = type(value)
    if t is float:
        if value - value != 0.0:  # NaN or infinity
            raise ValueError(f"field value {value!r} is not finite")
        return repr(value)
    if t is bool:
        return "true" if value else "false"
    if isinstance(value, int | float):
        try:
            return _field(float(value))
        except OverflowError:
            raise ValueError(f"field value {value!r} is too large") from None
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ValueError(f"field value of type {type(value).__name__} cannot be stored")


# Escaped line heads ("measurement,tag=value,...") and field keys, cached: a collector sees the
# same few thousand devices over and over, and escaping and sorting dominated line building.
_HEADS: dict[tuple, str] = {}
_KEYS: dict[str, str] = {}
_CACHE_MAX = 200_000


def _head(measurement: str, tags) -> str:
    key = (measurement, *tags.items())
    head = _HEADS.get(key)
    if head is None:
        head = measurement.translate(_MEAS_ESCAPE)
        if tags:
            head += "," + ",".join(f"{k.translate(_TAG_ESCAPE)}={str(v).translate(_TAG_ESCAPE)}"
                                   for k, v in sorted(tags.items()) if v != "")
        if len(_HEADS) >= _CACHE_MAX:
            _HEADS.clear()
        _HEADS[key] = head
    return head


def _key(name: str) -> str:
    k = _KEYS.get(name)
    if k is None:
        k = _KEYS[name] = name.translate(_TAG_ESCAPE)
    return k


def reading_to_line(r: Reading) -> str:
    """One reading as one line; tags sorted (cheaper for InfluxDB), fields as given."""
    if not r.fields:
        raise ValueError(f"reading of {r.measurement!r} has no fields")
    fields = ",".join([f"{_key(k)}={_field(v)}" for k, v in r.fields.items()])
    return f"{_head(r.measurement, r.tags)} {fields} {int(r.time_ns)}"


def group_lines(readings: Iterable[Reading]) -> dict[str, list[str]]:
    """Lines per retention policy. `usage_30m` readings bring their `usage_day` rollup lines
    (hearth.influx.usage), so that half-hourly usage arriving as readings is read as fast as
    derived usage."""
    out: dict[str, list[str]] = {}
    half_hours: list[Reading] = []
    for r in readings:
        out.setdefault(retention_policy(r.measurement), []).append(reading_to_line(r))
        if r.measurement == "usage_30m" and "energy_kwh" in r.fields:
            half_hours.append(r)
    if half_hours:
        from hearth.influx.usage import usage_day_lines

        e = [r.fields["energy_kwh"] for r in half_hours]
        if any(not isinstance(v, int | float) or isinstance(v, bool) for v in e):
            raise ValueError("usage_30m energy_kwh must be a number")
        out[retention_policy("usage_day")].extend(usage_day_lines(
            [r.tags.get("household", "") for r in half_hours],
            [r.tags.get("fuel", "") for r in half_hours], e,
            [int(r.time_ns) for r in half_hours]))
    return out
