"""Who may send what: the registry's MQTT devices and bindings, checked for every message.

Hearth's own topic ``hearth/<household>/<device>/<kind>`` must name a registry device of that
kind in that household (a forged household is dead-lettered, never stored under the home it
names); a payload's `room` must be the registry's room for that device. A real device's
message must come from a bound device (profile, device ref, kind). And whatever passes, the
series of one household are bounded (`collectors.mqtt.max_series_per_household`), so that no
payload can make InfluxDB's series grow without end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from collectors.mqtt_payload import PayloadError
from collectors.profile_parse import Binding
from hearth.registry.db import registry_exists

log = logging.getLogger("hearth.collectors.mqtt")


@dataclass(frozen=True, slots=True)
class HearthDevice:
    household_id: str
    kind: str
    room: str | None


@dataclass
class DeviceDirectory:
    """The registry's view for the collector (loaded once at start)."""

    hearth: dict[str, HearthDevice] = field(default_factory=dict)
    # (profile, device_ref) -> {kind: binding}
    bound: dict[tuple[str, str], dict[str, Binding]] = field(default_factory=dict)

    @classmethod
    def from_registry(cls, path) -> DeviceDirectory | None:
        """None when there is no registry file yet (checks are then off, and logged so)."""
        if not registry_exists(path):
            return None
        from hearth.registry.bindings import bindings
        from hearth.registry.store import Registry

        with Registry(path, migrate_schema=False) as reg:
            hearth = {d.device_id: HearthDevice(d.household_id, d.kind, d.room)
                      for d in reg.devices(protocol="mqtt")}
            try:
                rows = bindings(reg)
            except Exception as exc:  # a registry older than migration 0007
                log.warning("registry %s has no device bindings (%s): run `hearth registry"
                            " init`", path, exc)
                rows = []
        out = cls(hearth)
        for row in rows:
            out.add(Binding(*row))
        return out

    def add(self, b: Binding) -> None:
        self.bound.setdefault((b.profile, b.device_ref), {})[b.kind] = b

    def binding(self, profile: str, device_ref: str, kinds: tuple[str, ...]) -> Binding:
        """The binding of a device for the first of `kinds` it is bound as."""
        found = self.bound.get((profile, device_ref))
        if found:
            for kind in kinds:
                b = found.get(kind)
                if b is not None:
                    return b
            raise PayloadError(f"unknown_device: {profile} device {device_ref[:80]!r} is bound"
                               f" as {', '.join(sorted(found))}, not as {' or '.join(kinds)}")
        raise PayloadError(f"unknown_device: {profile} device {device_ref[:80]!r} is not bound"
                           " to a household (`hearth collect bind`)")

    def check_hearth(self, household: str, device: str, kind: str, room: str | None) -> str | None:
        """Checks a Hearth-format message's topic and room tag; returns the registry's room."""
        d = self.hearth.get(device)
        if d is None:
            raise PayloadError(f"unknown_device: {device!r} is not an MQTT device in the"
                               " registry")
        if d.household_id != household:
            raise PayloadError(f"household_mismatch: device {device!r} belongs to another"
                               f" household than {household!r} (forged or misconfigured topic)")
        if d.kind != kind:
            raise PayloadError(f"kind_mismatch: device {device!r} is a {d.kind}, the topic"
                               f" says {kind}")
        if room is not None and room != d.room:
            raise PayloadError(f"unknown_tag: room {room!r:.40} is not the registry's room for"
                               f" {device!r} ({d.room})")
        return d.room


class SeriesGuard:
    """At most `limit` series (measurement, device, tags) per household."""

    def __init__(self, limit: int):
        self.limit = limit
        self._seen: dict[str, set[tuple]] = {}

    def admit(self, measurement: str, tags) -> None:
        household = tags.get("household", "")
        key = (measurement, *sorted(tags.items()))
        seen = self._seen.get(household)
        if seen is None:
            seen = self._seen[household] = set()
        if key in seen:
            return
        if len(seen) >= self.limit:
            raise PayloadError(f"too_many_series: household {household!r} already has"
                               f" {len(seen)} series (collectors.mqtt.max_series_per_household)")
        seen.add(key)
