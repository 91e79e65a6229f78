"""MQTT device profiles: how a real device's topics and JSON become Hearth readings (docs/devices.md).

A profile is a TOML file (shipped ones in config/profiles/, a council's own in the folders of
`collectors.mqtt.profile_dirs`). Each ``[[channel]]`` maps one topic pattern, with ``{device}``
standing for the id the device reports itself by, to one Hearth device kind: which JSON paths
give which Hearth fields, in which unit, and where the sample time comes from. Profiles are
validated once, at start, and every error names the file, the channel and the key.

This module is the model and the loader only; `collectors.profile_parse` applies a channel to
a payload.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hearth.errors import ConfigError

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "config" / "profiles"
# The kinds a channel can produce: the registry's device kinds plus `appliance` (a plug or a
# switch metering one circuit or appliance: never a household's supply, so never in usage_30m).
CHANNEL_KINDS = ("electricity_meter", "gas_meter", "thermostat", "appliance")
TIME_FORMATS = ("iso8601", "local", "epoch_s", "epoch_ms", "auto")
FORMATS = ("mapped", "hearth")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
_LEVEL_VAR = re.compile(r"^\{([a-z_]+)\}$")

# Unit conversions: Hearth field suffix -> {unit the device reports: factor to Hearth's unit}.
UNITS: dict[str, dict[str, float]] = {
    "_kwh": {"kWh": 1.0, "Wh": 1e-3, "MWh": 1e3},
    "_w": {"W": 1.0, "kW": 1e3, "mW": 1e-3},
    "_c": {"C": 1.0},
    "_pct": {"%": 1.0},
    "_v": {"V": 1.0, "mV": 1e-3},
    "_a": {"A": 1.0, "mA": 1e-3},
    "_m3": {"m3": 1.0, "l": 1e-3},
    "_gbp": {"GBP": 1.0, "p": 1e-2},
}


def unit_factor(field_name: str, unit: str) -> float | None:
    """Factor from `unit` to the unit `field_name` is named in; None when they do not fit."""
    for suffix, table in UNITS.items():
        if field_name.endswith(suffix):
            return table.get(unit)
    return None


@dataclass(frozen=True, slots=True)
class FieldMap:
    """One Hearth field from one JSON path: ``value * scale`` [the field's unit]."""

    name: str
    path: tuple[str, ...]
    unit: str
    scale: float
    counter: bool            # a cumulative register (never negative), else an instantaneous value
    kind: str = "float"      # "float", or "bool" with `true_values`
    true_values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TimeSpec:
    """Where a channel's sample time comes from; `path` None means the time of receipt."""

    path: tuple[str, ...] | None
    format: str = "auto"
    zone: str | None = None          # for local times without a UTC offset
    fallback_receipt: bool = False   # no time in the payload: use the time of receipt


@dataclass(frozen=True, slots=True)
class Channel:
    """One topic pattern of a profile and what its payloads give."""

    profile: str
    index: int
    topic: str
    levels: tuple[str, ...]
    kind: str
    fields: tuple[FieldMap, ...]
    time: TimeSpec
    require: tuple[str, ...]
    unit_paths: tuple[tuple[tuple[str, ...], str], ...] = ()  # (path, unit it must say)

    @property
    def subscription(self) -> str:
        """The MQTT filter that receives this channel's topics (every variable level a +)."""
        return "/".join("+" if _LEVEL_VAR.match(lv) else lv for lv in self.levels)

    def match(self, parts: list[str]) -> dict[str, str] | None:
        """Variables of a topic split at '/', or None when it is not this channel's."""
        if len(parts) != len(self.levels):
            return None
        out = {}
        for level, part in zip(self.levels, parts, strict=True):
            m = _LEVEL_VAR.match(level)
            if m:
                if not part:
                    return None
                out[m.group(1)] = part
            elif level != part:
                return None
        return out

    def device_topic(self, device_ref: str, **values: str) -> str:
        """This channel's topic for one device; variables not given stay MQTT's '+'."""
        out = []
        for level in self.levels:
            m = _LEVEL_VAR.match(level)
            if not m:
                out.append(level)
            elif m.group(1) == "device":
                out.append(device_ref)
            else:
                out.append(values.get(m.group(1), "+"))
        return "/".join(out)


@dataclass(frozen=True)
class Profile:
    """A device family's topics and payloads (one TOML file)."""

    name: str
    description: str
    source: str
    format: str
    channels: tuple[Channel, ...]
    path: Path | None = None
    zone: str | None = None
    notes: str = ""
    kinds: tuple[str, ...] = field(default=())
    # JSON paths of personal data the device sends (a meter's MPAN): removed from the payload
    # before a message is dead-lettered, never stored (readings never take them anyway)
    redact: tuple[tuple[str, ...], ...] = ()
    # Topic where the bridge lists its groups (Zigbee2MQTT: ``zigbee2mqtt/bridge/groups``, a
    # retained JSON list of {"friendly_name": ...}); a group's state comes on a device's topic
    # but is no device's reading: it is ignored and counted, not dead-lettered.
    groups_topic: str | None = None

    def subscriptions(self) -> list[str]:
        out = [c.subscription for c in self.channels]
        return list(dict.fromkeys(out + ([self.groups_topic] if self.groups_topic else [])))

    def device_topics(self, device_ref: str, **values: str) -> list[str]:
        """The topics a device with this id publishes on (for per-device broker ACLs): e.g.
        ``glow/<id>/SENSOR/electricitymeter``; the Hearth profile also takes `household`."""
        return list(dict.fromkeys(c.device_topic(device_ref, **values) for c in self.channels))


class ProfileError(ConfigError):
    """A profile file is invalid; the message names the file, the channel and the key."""


def _path(text, where: str) -> tuple[str, ...]:
    if not isinstance(text, str) or not text.strip():
        raise ProfileError(f"{where}: 'path' must be a JSON path such as \"ENERGY.Total\"")
    parts = tuple(text.split("."))
    if any(not p for p in parts):
        raise ProfileError(f"{where}: path {text!r} has an empty step")
    return parts


def _zone(value, where: str) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ProfileError(f"{where}: zone {value!r} is not an IANA time zone such as"
                           " \"Europe/London\"") from None
    return value


def _known(table: dict, allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ProfileError(f"{where}: unknown key {extra[0]!r}; allowed: {', '.join(sorted(allowed))}")


def _field(name: str, spec, kind: str, where: str) -> FieldMap:
    from collectors.mqtt_payload import KINDS

    w = f"{where}.fields.{name}"
    if not isinstance(spec, dict):
        raise ProfileError(f"{w}: must be a table such as {{ path = \"...\", unit = \"kWh\" }}")
    _known(spec, {"path", "unit", "counter", "true_values"}, w)
    valid = KINDS[kind][2]
    if name not in valid:
        raise ProfileError(f"{w}: {name!r} is not a field of a {kind} (expected one of"
                           f" {', '.join(valid)})")
    path = _path(spec.get("path"), w)
    if valid[name].kind == "bool":
        tv = spec.get("true_values", [True])
        if not isinstance(tv, list) or not tv:
            raise ProfileError(f"{w}: 'true_values' must be a list such as [\"ON\", true]")
        return FieldMap(name, path, "", 1.0, False, "bool",
                        tuple(str(v) if not isinstance(v, bool) else ("true" if v else "false")
                              for v in tv))
    unit = spec.get("unit")
    if not isinstance(unit, str):
        raise ProfileError(f"{w}: 'unit' is required (the unit the device reports)")
    factor = unit_factor(name, unit)
    if factor is None:
        suffix = next((s for s in UNITS if name.endswith(s)), None)
        allowed = ", ".join(UNITS[suffix]) if suffix else "none"
        raise ProfileError(f"{w}: unit {unit!r} cannot become {name} (allowed: {allowed})")
    counter = spec.get("counter", False)
    if not isinstance(counter, bool):
        raise ProfileError(f"{w}: 'counter' must be true or false")
    return FieldMap(name, path, unit, factor, counter)


def _time(spec, profile_zone: str | None, where: str) -> TimeSpec:
    if spec is None or spec == "receipt":
        return TimeSpec(None)
    w = f"{where}.time"
    if not isinstance(spec, dict):
        raise ProfileError(f"{w}: must be \"receipt\" or a table such as"
                           " { path = \"Time\", format = \"local\" }")
    _known(spec, {"path", "format", "zone", "fallback"}, w)
    fmt = spec.get("format", "auto")
    if fmt not in TIME_FORMATS:
        raise ProfileError(f"{w}: format {fmt!r}; expected one of {', '.join(TIME_FORMATS)}")
    zone = _zone(spec.get("zone"), w) or profile_zone
    if fmt == "local" and zone is None:
        raise ProfileError(f"{w}: format \"local\" needs a 'zone' (here or at the top of the"
                           " profile), e.g. \"Europe/London\"")
    fallback = spec.get("fallback")
    if fallback not in (None, "receipt"):
        raise ProfileError(f"{w}: fallback {fallback!r}; the only fallback is \"receipt\"")
    return TimeSpec(_path(spec.get("path"), w), fmt, zone, fallback == "receipt")


def _channel(profile: str, index: int, spec, zone: str | None, where: str) -> Channel:
    w = f"{where}: channel[{index}]"
    if not isinstance(spec, dict):
        raise ProfileError(f"{w}: must be a table")
    _known(spec, {"topic", "kind", "fields", "time", "require", "units"}, w)
    topic = spec.get("topic")
    if not isinstance(topic, str) or not topic or "#" in topic or "+" in topic:
        raise ProfileError(f"{w}.topic: must be a topic such as \"zigbee2mqtt/{{device}}\""
                           " (no MQTT wildcards: variables in braces)")
    levels = tuple(topic.split("/"))
    names = [m.group(1) for lv in levels if (m := _LEVEL_VAR.match(lv))]
    bad = [lv for lv in levels if ("{" in lv or "}" in lv) and not _LEVEL_VAR.match(lv)]
    if bad or "device" not in names or any(n not in ("device", "household", "kind")
                                           for n in names):
        raise ProfileError(f"{w}.topic: {topic!r} must have one level \"{{device}}\" (and may"
                           " have {household}, {kind}); a variable fills a whole level")
    kind = spec.get("kind")
    if kind not in CHANNEL_KINDS:
        raise ProfileError(f"{w}.kind: {kind!r}; expected one of {', '.join(CHANNEL_KINDS)}")
    fields_spec = spec.get("fields")
    if not isinstance(fields_spec, dict) or not fields_spec:
        raise ProfileError(f"{w}.fields: at least one field is needed, e.g."
                           " fields.energy_kwh = { path = \"ENERGY.Total\", unit = \"kWh\" }")
    fields = tuple(_field(n, s, kind, w) for n, s in fields_spec.items())
    require = spec.get("require", [])
    if not isinstance(require, list) or any(r not in fields_spec for r in require):
        raise ProfileError(f"{w}.require: must list fields of this channel"
                           f" ({', '.join(fields_spec)})")
    units = spec.get("units", {})
    if not isinstance(units, dict) or any(not isinstance(v, str) for v in units.values()):
        raise ProfileError(f"{w}.units: must map JSON paths to the unit text the device sends,"
                           " e.g. { \"power.units\" = \"kW\" }")
    unit_paths = tuple((_path(p, f"{w}.units"), u) for p, u in units.items())
    return Channel(profile, index, topic, levels, kind, fields, _time(spec.get("time"), zone, w),
                   tuple(require), unit_paths)


def parse_profile(data: dict, path: Path | None = None) -> Profile:
    """A validated profile from a TOML document (raises ProfileError)."""
    where = str(path) if path else "profile"
    _known(data, {"name", "description", "source", "format", "zone", "notes", "channel",
                  "redact", "groups_topic"}, where)
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ProfileError(f"{where}: 'name' must be 1-64 lower-case letters, digits, '_', '.'"
                           " or '-'")
    where = f"{where} (profile {name!r})"
    fmt = data.get("format", "mapped")
    if fmt not in FORMATS:
        raise ProfileError(f"{where}: format {fmt!r}; expected one of {', '.join(FORMATS)}")
    for key in ("description", "source"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ProfileError(f"{where}: {key!r} is required (what the device is; where its"
                               " payloads are documented)")
    zone = _zone(data.get("zone"), where)
    chans = data.get("channel")
    if not isinstance(chans, list) or not chans:
        raise ProfileError(f"{where}: at least one [[channel]] is needed")
    if fmt == "hearth":
        channels = []
        for i, c in enumerate(chans):
            w = f"{where}: channel[{i}]"
            _known(c, {"topic"}, w)
            levels = tuple(str(c.get("topic", "")).split("/"))
            if "{device}" not in levels or "{household}" not in levels or "{kind}" not in levels:
                raise ProfileError(f"{w}.topic: the hearth format needs {{household}}, {{device}}"
                                   " and {kind} levels")
            channels.append(Channel(name, i, c["topic"], levels, "thermostat", (), TimeSpec(None),
                                    ()))
        kinds: tuple[str, ...] = ("electricity_meter", "gas_meter", "thermostat")
    else:
        channels = [_channel(name, i, c, zone, where) for i, c in enumerate(chans)]
        kinds = tuple(dict.fromkeys(c.kind for c in channels))
    redact = data.get("redact", [])
    if not isinstance(redact, list):
        raise ProfileError(f"{where}: 'redact' must be a list of JSON paths")
    groups_topic = data.get("groups_topic")
    if groups_topic is not None and (not isinstance(groups_topic, str) or not groups_topic
                                     or any(c in groups_topic for c in "+#{}")):
        raise ProfileError(f"{where}: 'groups_topic' must be one topic without wildcards, e.g."
                           " \"zigbee2mqtt/bridge/groups\"")
    return Profile(name, data["description"].strip(), data["source"].strip(), fmt,
                   tuple(channels), path, zone, str(data.get("notes", "")).strip(), kinds,
                   tuple(_path(r, f"{where}: redact") for r in redact), groups_topic)


def load_profile(path: Path) -> Profile:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read ({exc.strerror})") from None
    return parse_profile(data, Path(path))


def load_profiles(extra_dirs=(), shipped: Path | None = SHIPPED_DIR) -> dict[str, Profile]:
    """Every profile of the shipped folder and the extra folders, by name (validated once).

    A council's profile may not reuse a shipped name: a change to a shipped profile is made
    by copying it under a new name, so that what a name means never depends on the site."""
    out: dict[str, Profile] = {}
    dirs = ([Path(shipped)] if shipped is not None else []) + [Path(d) for d in extra_dirs]
    for d in dirs:
        if not d.is_dir():
            raise ProfileError(f"profile folder {d} does not exist"
                               " (collectors.mqtt.profile_dirs)")
        for path in sorted(d.glob("*.toml")):
            p = load_profile(path)
            if p.name in out:
                raise ProfileError(f"{path}: profile name {p.name!r} is already used by"
                                   f" {out[p.name].path}; choose another name")
            out[p.name] = p
    return out
