"""One MQTT message to one reading: find its profile, check its device, parse it.

Hearth's own topics go the fast path (`PayloadParser`, then the registry check); a real
device's topic is matched against the profiles' channels (cached per topic), its device ref
looked up in the registry's bindings and its payload mapped by `profile_parse`. A topic no
profile matches raises ``unmatched_topic`` and is counted per first topic level, so that a
misconfigured device shows in `hearth collect status` and the metrics.
"""

from __future__ import annotations

import time
from collections import Counter

from collectors.base import Reading
from collectors.device_check import DeviceDirectory, SeriesGuard
from collectors.mqtt_payload import _JSON_ERRORS, PayloadError, PayloadParser, _loads
from collectors.profile_parse import Binding, reading_from
from collectors.profiles import Channel, Profile

_UNCHECKED = object()
MAX_PREFIXES = 1000  # distinct topic prefixes counted; beyond, they count as "(other)"


def _redacted_text(payload: bytes, paths) -> bytes:
    """Payload that is not JSON (cut off, garbled): the value after each path's last key is
    replaced wherever that key appears, a string (closed or cut off) or a bare number."""
    import re

    for key in {path[-1] for path in paths}:
        pattern = re.compile(rb'("' + re.escape(key.encode()) + rb'"\s*:\s*)'
                             rb'(?:"(?:[^"\\]|\\.)*"?|[^,}\]\s]+)')
        payload = pattern.sub(rb'\1"[removed]"', payload)
    return payload


def redacted(payload: bytes, paths) -> bytes:
    """The payload with the values at `paths` replaced by "[removed]"; when it is not JSON,
    every value of those paths' last keys (a cut-off payload still carries its MPAN)."""
    import json

    try:
        obj = _loads(payload)
    except _JSON_ERRORS:
        return _redacted_text(payload, paths)
    hit = False
    for path in paths:
        node = obj
        for step in path[:-1]:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, dict) and path[-1] in node:
            node[path[-1]] = "[removed]"
            hit = True
    return json.dumps(obj, separators=(",", ":")).encode() if hit else payload


# Keys whose values are personal data in any device's payload (an address's meter point
# numbers), removed from a dead letter whose profile is unknown (an unmatched topic, a parser
# failure), wherever in the payload they appear.
PERSONAL_KEYS = frozenset({"mpan", "mprn"})


class Ignored(Exception):  # noqa: N818 - an outcome, not an error
    """A message that is no reading and no fault (a bridge's group list, a group's state):
    acknowledged and counted by ``reason``, neither stored nor dead-lettered."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def redacted_keys(payload: bytes, keys) -> bytes:
    """The payload with the value of every key in `keys`, at any depth, replaced by
    "[removed]"; when it is not JSON, every value after those keys found as text."""
    import json

    keys = frozenset(keys)
    try:
        obj = _loads(payload)
    except _JSON_ERRORS:
        return _redacted_text(payload, [(k,) for k in keys])
    hit = False

    def walk(node) -> None:
        nonlocal hit
        if isinstance(node, dict):
            for k in node:
                if k in keys:
                    node[k] = "[removed]"
                    hit = True
                else:
                    walk(node[k])
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(obj)
    return json.dumps(obj, separators=(",", ":")).encode() if hit else payload


def topic_prefix(topic: str) -> str:
    """The first level of a topic (where a device family's topics start)."""
    return topic.split("/", 1)[0][:64] or "(empty)"


def unmatched_by_prefix(dead_letter_dir) -> Counter:
    """MQTT dead letters `unmatched_topic` in the folder, per topic prefix."""
    from collectors.deadletter import read_dead_letters, reason_code

    counts: Counter = Counter()
    for rec in read_dead_letters(dead_letter_dir):
        if rec.get("source") == "mqtt" and reason_code(rec.get("reason") or "") == "unmatched_topic":
            counts[topic_prefix(str(rec.get("topic", "")))] += 1
    return counts


class MessageRouter:
    """Parses messages of every profile; counts what it rejects (thread-confined: paho's)."""

    def __init__(self, profiles: dict[str, Profile], directory: DeviceDirectory | None,
                 hearth: PayloadParser, max_series_per_household: int = 64,
                 source: str = "mqtt"):
        self.hearth = hearth
        self.directory = directory
        self.guard = SeriesGuard(max_series_per_household)
        self.source = source
        self.max_payload_bytes = hearth.max_payload_bytes
        self.max_future_ns = hearth.max_future_ns
        self.profiles = profiles
        self._hearth_prefix = hearth.topics.levels[0] + "/"
        # Channels of mapped profiles by their first topic level; "" for a variable first level
        self._by_first: dict[str, list[Channel]] = {}
        for p in profiles.values():
            if p.format != "mapped":
                continue
            for c in p.channels:
                first = "" if c.levels[0].startswith("{") else c.levels[0]
                self._by_first.setdefault(first, []).append(c)
        self._topic_cache: dict[str, tuple[tuple[Channel, ...], str]] = {}
        # A payload no profile claims could be any device's: every profile's personal keys go.
        self.personal_keys = PERSONAL_KEYS | {path[-1] for p in profiles.values()
                                              for path in p.redact}
        self._admitted: dict = {}  # (topic, room) of Hearth's format, or a profile's topic
        self.unmatched: Counter = Counter()   # topic prefix -> messages
        self.ignored: Counter = Counter()     # reason -> messages (Ignored)
        # Bridges' group lists: groups topic -> profile, and (profile, group name) seen
        self._groups_topics = {p.groups_topic: p.name for p in profiles.values()
                               if p.format == "mapped" and p.groups_topic}
        self._groups: dict[str, frozenset[str]] = {}
        self.rejected: Counter = Counter()    # reason code -> messages

    # ---- matching -----------------------------------------------------------------------------

    def channels_for(self, topic: str) -> tuple[tuple[Channel, ...], str]:
        """(channels whose pattern the topic fits, device ref); no channels when none fits."""
        hit = self._topic_cache.get(topic)
        if hit is not None:
            return hit
        parts = topic.split("/")
        found: list[Channel] = []
        ref = ""
        for c in self._by_first.get(parts[0], []) + self._by_first.get("", []):
            values = c.match(parts)
            if values is not None and (not found or values["device"] == ref):
                found.append(c)
                ref = values["device"]
        if len(self._topic_cache) > 100_000:
            self._topic_cache.clear()
        hit = self._topic_cache[topic] = (tuple(found), ref)
        return hit

    def _group_list(self, profile: str, payload: bytes) -> None:
        """Take a bridge's list of groups (raises Ignored; PayloadError when it is no list)."""
        try:
            groups = _loads(payload)
        except _JSON_ERRORS as exc:
            raise PayloadError(f"invalid_json: {profile} group list: {str(exc)[:120]}") from None
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise PayloadError(f"invalid_group_list: {profile} group list is not a JSON list"
                               " of objects")
        self._groups[profile] = frozenset(str(g["friendly_name"]) for g in groups
                                          if "friendly_name" in g)
        raise Ignored("group_list")

    def _unmatched(self, topic: str) -> PayloadError:
        prefix = topic_prefix(topic)
        if prefix not in self.unmatched and len(self.unmatched) >= MAX_PREFIXES:
            prefix = "(other)"
        self.unmatched[prefix] += 1
        return PayloadError(f"unmatched_topic: {topic[:120]!r} fits no enabled profile's topics"
                            " (`hearth collect profiles`)")

    # ---- parsing ------------------------------------------------------------------------------

    def parse(self, topic: str, payload: bytes, now_ns: int | None = None) -> tuple[str, Reading]:
        """(device key, reading) or PayloadError (counted by reason code), its ``raw`` the
        payload less personal data. Any other failure (a bug, a payload no check foresaw)
        becomes PayloadError ``parse_failed``, so its dead letter is redacted as well."""
        try:
            return self._parse(topic, payload, now_ns)
        except Ignored as exc:
            self.ignored[exc.reason] += 1
            raise
        except PayloadError as exc:
            if getattr(exc, "raw", None) is None:
                exc.raw = redacted_keys(payload, self.personal_keys)
            self.rejected[str(exc).split(":", 1)[0]] += 1
            raise
        except Exception as exc:
            err = PayloadError(f"parse_failed: {type(exc).__name__}: {str(exc)[:200]}")
            err.raw = redacted_keys(payload, self.personal_keys)
            self.rejected["parse_failed"] += 1
            raise err from exc

    def _parse(self, topic: str, payload: bytes, now_ns: int | None) -> tuple[str, Reading]:
        if topic.startswith(self._hearth_prefix):
            key, reading = self.hearth.parse(topic, payload, now_ns)
            # The topic fixes household, device and kind; only a payload's room varies: a
            # (topic, room) checked and admitted once needs no second look (the hot path).
            ck = (topic, reading.tags.get("room"))
            fill = self._admitted.get(ck, _UNCHECKED)
            if fill is _UNCHECKED:
                fill = None
                if self.directory is not None:
                    household, device, kind = key.split("/")
                    room = self.directory.check_hearth(household, device, kind, ck[1])
                    if room and ck[1] is None and kind == "thermostat":
                        fill = room
                tags = {**reading.tags, "room": fill} if fill else reading.tags
                self.guard.admit(reading.measurement, tags)
                if len(self._admitted) > 200_000:
                    self._admitted.clear()
                self._admitted[ck] = fill
            if fill:
                reading = Reading(reading.measurement, {**reading.tags, "room": fill},
                                  reading.fields, reading.time_ns)
            return key, reading
        if topic in self._groups_topics:
            self._group_list(self._groups_topics[topic], payload)
        channels, ref = self.channels_for(topic)
        if not channels:
            raise self._unmatched(topic)
        if ref in self._groups.get(channels[0].profile, ()):
            raise Ignored("group")
        try:
            if len(payload) > self.max_payload_bytes:
                raise PayloadError(f"too_large: {len(payload)} bytes, the limit is"
                                   f" {self.max_payload_bytes}"
                                   " (collectors.mqtt.max_payload_bytes)")
            if self.directory is None:
                raise PayloadError(f"unknown_device: {channels[0].profile} device"
                                   f" {ref[:80]!r}: no registry, so no device is bound")
            binding = self.directory.binding(channels[0].profile, ref,
                                             tuple(c.kind for c in channels))
            channel = next(c for c in channels if c.kind == binding.kind)
            try:
                obj = _loads(payload)
            except _JSON_ERRORS as exc:
                raise PayloadError(f"invalid_json: {str(exc)[:120]}") from None
            receipt_ns = time.time_ns() if now_ns is None else now_ns
            reading = reading_from(channel, binding, obj, receipt_ns, self.max_future_ns,
                                   self.source)
        except PayloadError as exc:
            paths = self.profiles[channels[0].profile].redact
            if paths:  # the dead letter keeps the payload without the device's personal data
                # (a too large one is not parsed: its keys are found as text)
                big = len(payload) > self.max_payload_bytes
                exc.raw = (_redacted_text if big else redacted)(payload, paths)
            raise
        if topic not in self._admitted:  # a bound device's tags never vary: admit it once
            self.guard.admit(reading.measurement, reading.tags)
            if len(self._admitted) > 200_000:
                self._admitted.clear()
            self._admitted[topic] = None
        return f"{binding.household_id}/{binding.device_id}/{binding.kind}", reading


def router_for_check(profile: Profile, topic: str, household: str | None,
                     hearth: PayloadParser, room: str | None = None,
                     time_zone: str | None = None, kind: str | None = None) -> MessageRouter:
    """A router that treats the device on `topic` as registered to `household` (for
    `hearth collect parse`): a binding of every kind the topic's channels give."""
    directory = DeviceDirectory()
    router = MessageRouter({profile.name: profile}, directory, hearth)
    if profile.format == "hearth":
        levels = hearth.topics.levels
        parts = topic.split("/")
        if household is not None and len(parts) == len(levels):
            from collectors.device_check import HearthDevice

            values = dict(zip(levels, parts, strict=True))
            directory.hearth[values.get("{device}", "")] = HearthDevice(
                household, values.get("{kind}", ""), room)
        else:
            router.directory = None  # no household given: the topic's own household
        return router
    channels, ref = router.channels_for(topic)
    for c in channels:
        if household is not None and kind in (None, c.kind):
            directory.add(Binding(profile.name, ref, household, ref_to_device_id(ref), c.kind,
                                  room or ("living_room" if c.kind == "thermostat" else None),
                                  time_zone))
    return router


def ref_to_device_id(ref: str) -> str:
    """A tag-safe device id from a device ref (for the parse check only)."""
    out = "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in ref)[:64]
    return out or "device"
