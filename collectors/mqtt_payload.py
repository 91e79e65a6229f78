"""MQTT topics and payloads to readings, validating everything (docs/mqtt.md, docs/collectors.md).

A topic ``hearth/<household_id>/<device_id>/<kind>`` (the pattern is configurable) gives the
tags; the payload is a JSON object with ``ts`` (ISO 8601 UTC sample time) and the kind's fields.
Anything else raises `PayloadError` whose text starts with a short reason code; the collector
dead-letters the message with it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from dataclasses import dataclass

from collectors.base import Reading

try:  # orjson is about three times faster; json is the fallback
    import orjson

    _loads = orjson.loads
    _JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError,
                                                 RecursionError)
except ImportError:  # pragma: no cover - depends on the install
    _loads = json.loads
    _JSON_ERRORS = (ValueError, RecursionError)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
OLDEST_NS = 946_684_800 * 10**9  # 2000-01-01: older sample times are clock faults
GAS_M3_TO_KWH_FACTOR = 1.02264 / 3.6  # x calorific value [MJ/m3] (DESIGN.md)
_TAG_VALUE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class PayloadError(ValueError):
    """A message that cannot become a reading; str() is ``<code>: <detail>``."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """An expected payload field: `kind` "float" or "bool", and the physical range."""

    kind: str
    lo: float = -math.inf
    hi: float = math.inf
    required: bool = False


# Per device kind: measurement, fuel tag and fields (units in the names).
KINDS: dict[str, tuple[str, str | None, dict[str, FieldSpec]]] = {
    "thermostat": ("thermostat", None, {
        "temp_c": FieldSpec("float", -30.0, 60.0, required=True),
        "humidity_pct": FieldSpec("float", 0.0, 100.0, required=True),
        "setpoint_c": FieldSpec("float", 0.0, 40.0),
        "heating_on": FieldSpec("bool"),
        "battery_pct": FieldSpec("float", 0.0, 100.0),
    }),
    "electricity_meter": ("meter", "electricity", {
        "energy_kwh": FieldSpec("float", 0.0, 1e9, required=True),
        # Signed: negative while the home exports (solar, a battery); docs/nomenclature.md
        "power_w": FieldSpec("float", -30_000.0, 30_000.0),
        "voltage_v": FieldSpec("float", 0.0, 500.0),
        "credit_gbp": FieldSpec("float", -1_000.0, 10_000.0),
        "supply_on": FieldSpec("bool"),
        "energy_export_kwh": FieldSpec("float", 0.0, 1e9),
        "current_a": FieldSpec("float", 0.0, 200.0),
    }),
    "gas_meter": ("meter", "gas", {
        "volume_m3": FieldSpec("float", 0.0, 1e8, required=True),
        "energy_kwh": FieldSpec("float", 0.0, 1e9),
        "flow_m3_per_h": FieldSpec("float", 0.0, 50.0),
        "credit_gbp": FieldSpec("float", -1_000.0, 10_000.0),
    }),
    # A plug or switch metering one appliance or circuit: its own measurement, so that it is
    # never summed with the household's meter into usage_30m.
    "appliance": ("appliance", None, {
        "energy_kwh": FieldSpec("float", 0.0, 1e9),
        "energy_export_kwh": FieldSpec("float", 0.0, 1e9),
        "power_w": FieldSpec("float", -30_000.0, 30_000.0),
        "voltage_v": FieldSpec("float", 0.0, 500.0),
        "current_a": FieldSpec("float", 0.0, 200.0),
        "switch_on": FieldSpec("bool"),
    }),
}
# Optional string fields that become tags.
TAG_FIELDS = {"thermostat": ("room",)}


class TopicMap:
    """Topic levels to tags, from a pattern like ``hearth/{household}/{device}/{kind}``."""

    def __init__(self, pattern: str):
        self.levels = pattern.split("/")
        names = [lv[1:-1] for lv in self.levels if lv.startswith("{") and lv.endswith("}")]
        if "kind" not in names:
            raise ValueError(f"topic pattern {pattern!r} has no {{kind}} level")
        self.n = len(self.levels)

    def tags(self, topic: str) -> dict[str, str]:
        parts = topic.split("/")
        if len(parts) != self.n:
            raise PayloadError(f"bad_topic: {topic!r} does not match"
                               f" {'/'.join(self.levels)!r}")
        out = {}
        for level, part in zip(self.levels, parts, strict=True):
            if level.startswith("{"):
                if not _TAG_VALUE.match(part):
                    raise PayloadError(f"bad_topic: level {level} of {topic!r} must be 1-64"
                                       " letters, digits, '_', '.' or '-'")
                out[level[1:-1]] = part
            elif level != part:
                raise PayloadError(f"bad_topic: {topic!r} does not match"
                                   f" {'/'.join(self.levels)!r}")
        return out


def parse_ts(value) -> int:
    """ISO 8601 UTC sample time -> ns since the epoch."""
    if not isinstance(value, str) or len(value) > 40:
        raise PayloadError(f"bad_ts: 'ts' must be an ISO 8601 UTC string, got {value!r:.60}")
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(f"bad_ts: 'ts' {value!r} is not ISO 8601") from None
    if t.tzinfo is None or t.utcoffset() != dt.timedelta(0):
        raise PayloadError(f"bad_ts: 'ts' {value!r} must be UTC (end in Z or +00:00)")
    d = t - EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000_000 + d.microseconds * 1_000


class PayloadParser:
    """Validates messages and turns them into readings."""

    def __init__(self, topic_pattern: str = "hearth/{household}/{device}/{kind}",
                 max_payload_bytes: int = 65_536, max_future_s: float = 86_400.0,
                 gas_calorific_value_mj_per_m3: float = 39.5, source: str = "mqtt",
                 rooms: dict[str, str] | None = None):
        self.topics = TopicMap(topic_pattern)
        self.max_payload_bytes = max_payload_bytes
        self.max_future_ns = int(max_future_s * 1e9)
        self.gas_kwh_per_m3 = GAS_M3_TO_KWH_FACTOR * gas_calorific_value_mj_per_m3
        self.source = source
        self.rooms = rooms or {}  # device_id -> room (registry) for thermostats' room tag
        # Small caches: the same topics and (within a second) the same timestamps come by again
        # and again, and their parsing was a visible share of the collector's time.
        self._topic_cache: dict[str, tuple[dict[str, str], str]] = {}
        self._ts_cache: dict[str, int] = {}

    def _topic(self, topic: str) -> tuple[dict[str, str], str]:
        hit = self._topic_cache.get(topic)
        if hit is None:
            tags = self.topics.tags(topic)
            kind = tags.pop("kind")
            if len(self._topic_cache) > 100_000:
                self._topic_cache.clear()
            hit = self._topic_cache[topic] = (tags, kind)
        return dict(hit[0]), hit[1]

    def _ts(self, value) -> int:
        if isinstance(value, str):
            ns = self._ts_cache.get(value)
            if ns is None:
                ns = parse_ts(value)
                if len(self._ts_cache) > 4096:
                    self._ts_cache.clear()
                self._ts_cache[value] = ns
            return ns
        return parse_ts(value)

    def parse(self, topic: str, payload: bytes, now_ns: int | None = None) -> tuple[str, Reading]:
        """(device key, reading) or PayloadError."""
        if len(payload) > self.max_payload_bytes:
            raise PayloadError(f"too_large: {len(payload)} bytes, the limit is"
                               f" {self.max_payload_bytes} (collectors.mqtt.max_payload_bytes)")
        tags, kind = self._topic(topic)
        spec = KINDS.get(kind)
        if spec is None:
            raise PayloadError(f"unknown_kind: {kind!r}; expected one of {', '.join(KINDS)}")
        measurement, fuel, fields_spec = spec
        try:
            obj = _loads(payload)
        except _JSON_ERRORS as exc:
            raise PayloadError(f"invalid_json: {str(exc)[:120]}") from None
        if not isinstance(obj, dict):
            raise PayloadError(f"not_an_object: the payload must be a JSON object, got"
                               f" {type(obj).__name__}")
        time_ns = self._ts(obj["ts"]) if "ts" in obj else None
        if time_ns is None:
            raise PayloadError("missing_field: 'ts' (sample time, ISO 8601 UTC) is required")
        now_ns = time.time_ns() if now_ns is None else now_ns
        if time_ns > now_ns + self.max_future_ns:
            raise PayloadError(f"bad_ts: {obj['ts']} is more than"
                               f" {self.max_future_ns / 1e9:.0f} s in the future"
                               " (device clock wrong? collectors.mqtt.max_future_s)")
        if time_ns < OLDEST_NS:
            raise PayloadError(f"bad_ts: {obj['ts']} is before 2000 (device clock not set?)")
        fields: dict[str, float | bool] = {}
        tag_fields = TAG_FIELDS.get(kind, ())
        for key, value in obj.items():
            if key == "ts":
                continue
            if key in tag_fields:
                if not isinstance(value, str) or not _TAG_VALUE.match(value):
                    raise PayloadError(f"bad_type: {key!r} must be 1-64 letters, digits, '_',"
                                       f" '.' or '-', got {value!r:.60}")
                tags[key] = value
                continue
            f = fields_spec.get(key)
            if f is None:
                raise PayloadError(f"unexpected_field: {key!r:.60} is not a field of a {kind}"
                                   f" (expected {', '.join(fields_spec)})")
            if f.kind == "bool":
                if not isinstance(value, bool):
                    raise PayloadError(f"bad_type: {key!r} must be true or false, got"
                                       f" {value!r:.60}")
                fields[key] = value
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PayloadError(f"bad_type: {key!r} must be a number, got {value!r:.60}")
            try:
                v = float(value)
            except OverflowError:
                raise PayloadError(f"out_of_range: {key!r} is too large") from None
            if not math.isfinite(v):
                raise PayloadError(f"not_finite: {key!r} is {v}")
            if not f.lo <= v <= f.hi:
                raise PayloadError(f"out_of_range: {key!r} = {v:g} outside [{f.lo:g}, {f.hi:g}]")
            fields[key] = v
        for key, f in fields_spec.items():
            if f.required and key not in fields:
                raise PayloadError(f"missing_field: {key!r} is required for a {kind}")
        if kind == "gas_meter" and "energy_kwh" not in fields:
            fields["energy_kwh"] = fields["volume_m3"] * self.gas_kwh_per_m3
        if kind == "thermostat" and "room" not in tags:
            room = self.rooms.get(tags.get("device", ""))
            if room and _TAG_VALUE.match(room):
                tags["room"] = room
        if fuel is not None:
            tags["fuel"] = fuel
            tags["source"] = self.source
        device_key = f"{tags.get('household', '')}/{tags.get('device', '')}/{kind}"
        return device_key, Reading(measurement, tags, fields, time_ns)
