"""Apply a profile's channel to one payload: JSON paths to Hearth fields, units, sample time.

Pure functions of (channel, binding, payload object, time of receipt): the collector, the
`hearth collect parse` check and the tests all go through `reading_from`. A payload that does
not fit raises `PayloadError` with a short reason code, as Hearth's own format does.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from collectors.base import Reading
from collectors.mqtt_payload import _TAG_VALUE, EPOCH, KINDS, OLDEST_NS, PayloadError
from collectors.profiles import Channel, TimeSpec

RECEIPT_FIELD = "time_from_receipt"  # true on readings stamped with the time of receipt


@dataclass(frozen=True, slots=True)
class Binding:
    """A device bound to a household in the registry (table device_bindings)."""

    profile: str
    device_ref: str          # the id the device reports itself by (in its topic)
    household_id: str
    device_id: str           # Hearth's id: the `device` tag
    kind: str
    room: str | None = None
    time_zone: str | None = None  # overrides the profile's zone for local times


def lookup(obj, path: tuple[str, ...]):
    """The value at a dotted path, or None when any step is missing."""
    for step in path:
        if isinstance(obj, dict):
            obj = obj.get(step)
        elif isinstance(obj, list) and step.isdigit() and int(step) < len(obj):
            obj = obj[int(step)]
        else:
            return None
        if obj is None:
            return None
    return obj


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _ns(t: dt.datetime) -> int:
    d = t - EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000_000 + d.microseconds * 1_000


def sample_time_ns(value, spec: TimeSpec, zone: str | None) -> int:
    """A device's time value -> ns since the epoch, in the format the profile names.

    ISO 8601 with any UTC offset; a local time without an offset is read in `zone` (at a
    clock change an ambiguous hour is taken as its first occurrence here; `reading_from`
    then picks the pass nearer the time of receipt); epoch seconds or
    milliseconds as numbers or digit strings; "auto" tells them apart by type and size."""
    fmt = spec.format
    if isinstance(value, bool):
        raise PayloadError(f"bad_ts: time {value!r} is not a time")
    if isinstance(value, str) and fmt in ("epoch_s", "epoch_ms", "auto"):
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            value = float(text)
    if isinstance(value, int | float):
        if fmt in ("iso8601", "local"):
            raise PayloadError(f"bad_ts: time {value!r} is a number; the profile expects {fmt}")
        if not math.isfinite(value):
            raise PayloadError(f"bad_ts: time {value!r} is not finite")
        ms = fmt == "epoch_ms" or (fmt == "auto" and abs(value) >= 1e11)
        return round(value * (1e6 if ms else 1e9))
    if not isinstance(value, str) or len(value) > 40:
        raise PayloadError(f"bad_ts: time must be a string or a number, got {value!r:.60}")
    if fmt in ("epoch_s", "epoch_ms"):
        raise PayloadError(f"bad_ts: time {value!r} is not epoch {fmt[6:]}")
    try:
        t = dt.datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise PayloadError(f"bad_ts: time {value!r} is not ISO 8601") from None
    if t.tzinfo is None:
        if zone is None:
            raise PayloadError(f"bad_ts: time {value!r} has no UTC offset and the profile"
                               " names no zone to read it in")
        t = t.replace(tzinfo=_zone(zone))
    elif fmt == "local":
        pass  # an offset, though local was expected: the offset is exact, use it
    return _ns(t.astimezone(dt.UTC))


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadError(f"bad_type: {name} must be a number, got {value!r:.60}")
    try:
        v = float(value)
    except (ValueError, OverflowError):
        raise PayloadError(f"bad_type: {name} must be a number, got {value!r:.60}") from None
    if not math.isfinite(v):
        raise PayloadError(f"not_finite: {name} is {v}")
    return v


# Per channel, its fields as flat tuples (path, name, scale, lo, hi, true_values or None):
# built once, so that a message costs lookups and arithmetic only.
_PLANS: dict[int, tuple] = {}
_TIMES: dict[tuple[str, str | None], int] = {}  # (time text, zone) -> ns: repeats are common


def _plan(channel: Channel) -> tuple:
    plan = _PLANS.get(id(channel))
    if plan is None or plan[0] is not channel:
        specs = KINDS[channel.kind][2]
        rows = []
        for f in channel.fields:
            spec = specs[f.name]
            rows.append((f.path, f.name, f.scale, 0.0 if f.counter else spec.lo, spec.hi,
                         f.true_values if f.kind == "bool" else None))
        plan = _PLANS[id(channel)] = (channel, tuple(rows))
    return plan[1]


def _time_ns(value, spec: TimeSpec, zone: str | None) -> int:
    if type(value) is not str:
        return sample_time_ns(value, spec, zone)
    key = (value, zone)
    ns = _TIMES.get(key)
    if ns is None:
        ns = sample_time_ns(value, spec, zone)
        if len(_TIMES) > 4096:
            _TIMES.clear()
        _TIMES[key] = ns
    return ns


_HALF_HOUR_NS = 1_800 * 10**9


@lru_cache(maxsize=4096)
def _second_pass_ns(value: str, zone: str) -> int | None:
    """The second pass of a local time in the hour repeated when the clocks go back [ns], or
    None when the time is not ambiguous (cached: a late or replayed message costs a lookup)."""
    try:
        t = dt.datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    if t.tzinfo is not None:
        return None
    first, second = t.replace(tzinfo=_zone(zone)), t.replace(tzinfo=_zone(zone), fold=1)
    if first.utcoffset() == second.utcoffset():
        return None
    return _ns(second.astimezone(dt.UTC))


def _nearer_fold(value: str, zone: str, time_ns: int, receipt_ns: int, max_future_ns: int) -> int:
    """A local time without an offset in the hour that repeats when the clocks go back: the
    pass nearer the time of receipt (sample_time_ns takes the first; a second-pass reading so
    stamped would overwrite the first pass's reading an hour earlier). Otherwise `time_ns`."""
    other_ns = _second_pass_ns(value, zone)
    if other_ns is not None and abs(other_ns - receipt_ns) < abs(time_ns - receipt_ns) \
            and other_ns <= receipt_ns + max_future_ns:
        return other_ns
    return time_ns


def reading_from(channel: Channel, binding: Binding, obj, receipt_ns: int,
                 max_future_ns: int, source: str = "mqtt") -> Reading:
    """The reading one payload (a decoded JSON value) gives on `channel` for `binding`."""
    if not isinstance(obj, dict):
        raise PayloadError(f"not_an_object: the payload must be a JSON object, got"
                           f" {type(obj).__name__}")
    measurement, fuel, _ = KINDS[channel.kind]
    for path, unit in channel.unit_paths:
        said = lookup(obj, path)
        if said is not None and said != unit:
            raise PayloadError(f"bad_unit: {'.'.join(path)} is {said!r:.20}; the profile"
                               f" {channel.profile!r} expects {unit!r}")
    fields: dict[str, float | bool] = {}
    for path, name, scale, lo, hi, true_values in _plan(channel):
        value = lookup(obj, path)
        if value is None:
            continue
        if true_values is not None:
            key = ("true" if value else "false") if isinstance(value, bool) else str(value)
            fields[name] = key in true_values
            continue
        t = type(value)
        if t is float or t is int:
            v = float(value)
            if v - v != 0.0:
                raise PayloadError(f"not_finite: {'.'.join(path)!r} ({name}) is {v}")
        else:
            v = _number(value, f"{'.'.join(path)!r} ({name})")
        if scale != 1.0:
            v = round(v * scale, 9)  # 0.951 kW is 951 W, not 951.0000000000001
        if not lo <= v <= hi:
            raise PayloadError(f"out_of_range: {'.'.join(path)} gives {name} = {v:g}, outside"
                               f" [{lo:g}, {hi:g}]")
        fields[name] = v
    for name in channel.require:
        if name not in fields:
            path = next(".".join(f.path) for f in channel.fields if f.name == name)
            raise PayloadError(f"missing_field: {path!r} ({name}) is required by profile"
                               f" {channel.profile!r}")
    if not fields:
        raise PayloadError(f"no_fields: none of {', '.join('.'.join(f.path) for f in channel.fields)}"
                           f" is in the payload (profile {channel.profile!r})")
    spec_t = channel.time
    raw_time = lookup(obj, spec_t.path) if spec_t.path is not None else None
    if raw_time is None:
        if spec_t.path is not None and not spec_t.fallback_receipt:
            raise PayloadError(f"missing_field: {'.'.join(spec_t.path)!r} (sample time) is"
                               f" required by profile {channel.profile!r}")
        time_ns = receipt_ns
        fields[RECEIPT_FIELD] = True
    else:
        zone = binding.time_zone or spec_t.zone
        time_ns = _time_ns(raw_time, spec_t, zone)
        if receipt_ns - time_ns > _HALF_HOUR_NS and zone is not None and type(raw_time) is str:
            time_ns = _nearer_fold(raw_time, zone, time_ns, receipt_ns, max_future_ns)
        if time_ns > receipt_ns + max_future_ns:
            raise PayloadError(f"bad_ts: {raw_time} is more than {max_future_ns / 1e9:.0f} s"
                               " in the future (device clock wrong? collectors.mqtt.max_future_s)")
        if time_ns < OLDEST_NS:
            raise PayloadError(f"bad_ts: {raw_time} is before 2000 (device clock not set?)")
    tags = {"household": binding.household_id, "device": binding.device_id}
    if channel.kind == "thermostat" and binding.room and _TAG_VALUE.match(binding.room):
        tags["room"] = binding.room
    if fuel is not None:
        tags["fuel"] = fuel
    if fuel is not None or channel.kind == "appliance":
        tags["source"] = source
    return Reading(measurement, tags, fields, time_ns)
