"""Which topics a device may publish to, by the MQTT profile its topic follows.

The ACL gives each home's hub `topic write` on these patterns and nothing else. A profile is
recognised from the device's registered topic (or named by a `profile` attribute, where the
registry has one); to add a profile, add a function to `TOPIC_PATTERNS` and a prefix rule to
`profile_of_topic`.
"""

from __future__ import annotations

from collections.abc import Callable

# Characters that would widen or break an ACL line: wildcards, level separator, whitespace.
_UNSAFE = set("+#/ \t\r\n\x00")


class UnsafeTopicIdError(ValueError):
    """An id that cannot stand in a topic pattern without widening it."""


def _safe(value: str, what: str) -> str:
    if not value or _UNSAFE & set(value):
        raise UnsafeTopicIdError(f"{what} {value!r} contains a topic wildcard, '/' or whitespace;"
                            " it cannot be given a narrow ACL")
    return value


def _levels(topic: str) -> list[str]:
    return topic.split("/")


def _hearth(device) -> list[str]:
    # Hearth's own format: hearth/<household>/<device>/<kind>
    return [f"hearth/{_safe(device.household_id, 'household')}/"
            f"{_safe(device.device_id, 'device')}/#"]


def _glow(device) -> list[str]:
    # Glow CAD: glow/<id>/SENSOR/electricitymeter|gasmeter, glow/<id>/STATE
    return [f"glow/{_safe(_levels(device.mqtt_topic)[1], 'Glow id')}/#"]


def _zigbee2mqtt(device) -> list[str]:
    # Zigbee2MQTT: zigbee2mqtt/<friendly_name> (and its /availability subtopic)
    name = _safe(_levels(device.mqtt_topic)[1], "Zigbee2MQTT friendly name")
    return [f"zigbee2mqtt/{name}", f"zigbee2mqtt/{name}/#"]


def _tasmota(device) -> list[str]:
    # Tasmota: tele/<topic>/SENSOR|STATE|LWT, stat/<topic>/...
    topic = _safe(_levels(device.mqtt_topic)[1], "Tasmota topic")
    return [f"tele/{topic}/#", f"stat/{topic}/#"]


def _shelly(device) -> list[str]:
    # Shelly Gen2+: <shelly-id>/status/switch:0, <shelly-id>/online, <shelly-id>/events/rpc
    return [f"{_safe(_levels(device.mqtt_topic)[0], 'Shelly id')}/#"]


TOPIC_PATTERNS: dict[str, Callable[[object], list[str]]] = {
    "hearth": _hearth, "glow": _glow, "zigbee2mqtt": _zigbee2mqtt, "tasmota": _tasmota,
    "shelly": _shelly,
}

# A real device bound in the registry (device_bindings: profile, device_ref; docs/devices.md):
# the topics its profile (config/profiles/*.toml) reads, widened to the device's subtree.
BINDING_PATTERNS: dict[str, Callable[[str], list[str]]] = {
    "glow": lambda ref: [f"glow/{ref}/#"],
    "zigbee2mqtt": lambda ref: [f"zigbee2mqtt/{ref}", f"zigbee2mqtt/{ref}/#"],
    "tasmota": lambda ref: [f"tele/{ref}/#", f"stat/{ref}/#"],
    "shelly-gen2": lambda ref: [f"{ref}/#"],
}


def binding_patterns(profile: str, device_ref: str) -> list[str]:
    """The topic patterns a bound device may publish to. Raises UnsafeTopicIdError, or
    KeyError for a profile without an entry in BINDING_PATTERNS."""
    if profile not in BINDING_PATTERNS:
        raise KeyError(f"no ACL patterns for profile {profile!r}: add it to"
                       " hearth/broker/topics.py BINDING_PATTERNS")
    return BINDING_PATTERNS[profile](_safe(device_ref, f"{profile} device ref"))


def profile_of_topic(topic: str) -> str:
    """The profile a registered topic follows, from its first level."""
    first = _levels(topic)[0]
    if first in ("hearth", "glow", "zigbee2mqtt"):
        return first
    if first in ("tele", "stat"):
        return "tasmota"
    return "shelly"  # <device-id>/status/...: Shelly's own layout has no fixed prefix


def publish_patterns(device) -> list[str]:
    """The topic patterns `device` may publish to. Raises UnsafeTopicIdError or KeyError."""
    if device.protocol != "mqtt" or not device.mqtt_topic:
        return []
    profile = getattr(device, "profile", None) or profile_of_topic(device.mqtt_topic)
    return TOPIC_PATTERNS[profile](device)
