"""MQTT publishers of the simulated thermostats and meters (paho-mqtt 2.x, MQTT 5, QoS 1).

Topic ``hearth/<household_id>/<device_id>/<kind>`` (or the device's registry `mqtt_topic`);
payload a JSON object ``{"ts": "<ISO 8601 UTC sample time>", <field_with_unit>: value, ...}``
(docs/mqtt.md). Malformed payloads are sent as EXTRA messages on the same topics at
`malformed_rate` per good message, so good traffic is never replaced by garbage.

Every publish is recorded in an `EmissionLog` (in memory and, optionally, JSON lines on disk)
so that an end-to-end test can check that every reading emitted landed exactly once.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hearth.errors import HearthError

log = logging.getLogger(__name__)

FLAG_FIELDS = ("supply_on", "heating_on")
MALFORMED_KINDS = ("random_bytes", "not_json", "not_object", "wrong_type", "missing_fields",
                   "missing_ts", "bad_ts", "nan", "infinity", "huge", "bad_utf8", "oversize")
OVERSIZE_BYTES = 1_000_000


def iso_ts(time_ns: int) -> str:
    """ISO 8601 UTC with a Z; whole seconds unless the time has a fraction."""
    t = datetime.fromtimestamp(time_ns // 1_000_000_000, UTC)
    frac = time_ns % 1_000_000_000
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac // 1000:06d}Z" if frac else f"{base}Z"


def parse_ts(text: str) -> int:
    """ns since the epoch of an ISO 8601 UTC time as `iso_ts` writes it."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def topic_for(device: Mapping) -> str:
    return device.get("mqtt_topic") or (
        f"hearth/{device['household_id']}/{device['device_id']}/{device['kind']}")


def payload_fields(fields: Mapping[str, float]) -> dict:
    """JSON-ready fields: flags as booleans, numbers as floats, NaN (absent) left out."""
    out: dict = {}
    for k, v in fields.items():
        if k in FLAG_FIELDS:
            out[k] = bool(v)
        elif v is not None and not (isinstance(v, float) and math.isnan(v)):
            out[k] = float(v)
    return out


def encode_payload(time_ns: int, fields: Mapping[str, float]) -> bytes:
    return json.dumps({"ts": iso_ts(time_ns), **payload_fields(fields)},
                      separators=(",", ":"), allow_nan=False).encode()


def malformed_payload(rng: np.random.Generator, time_ns: int, fields: Mapping[str, float],
                      kind: str | None = None) -> tuple[str, bytes]:
    """(kind, bytes) of a payload a collector must refuse. `oversize` is 1 MB, so it is drawn
    rarely unless asked for by name."""
    if kind is None:
        weights = np.array([0.0 if k == "oversize" else 1.0 for k in MALFORMED_KINDS])
        weights[MALFORMED_KINDS.index("oversize")] = 0.01
        kind = MALFORMED_KINDS[int(rng.choice(len(MALFORMED_KINDS), p=weights / weights.sum()))]
    good = {"ts": iso_ts(time_ns), **payload_fields(fields)}
    names = [k for k in good if k != "ts"] or ["temp_c"]
    victim = names[int(rng.integers(len(names)))]
    if kind == "random_bytes":
        body = rng.bytes(int(rng.integers(1, 200)))
    elif kind == "not_json":
        body = f"{victim}={good.get(victim, 1)};ts={good['ts']}".encode()
    elif kind == "not_object":
        body = json.dumps(list(good.values())).encode()
    elif kind == "wrong_type":
        bad = dict(good)
        bad[victim] = ["warm", {"v": 1}, "12,5", None][int(rng.integers(4))]
        body = json.dumps(bad).encode()
    elif kind == "missing_fields":
        body = json.dumps({"ts": good["ts"]}).encode()
    elif kind == "missing_ts":
        body = json.dumps({k: v for k, v in good.items() if k != "ts"}).encode()
    elif kind == "bad_ts":
        bad = dict(good)
        bad["ts"] = ["yesterday", "2026-13-45T99:00:00Z", 1700000000, ""][int(rng.integers(4))]
        body = json.dumps(bad).encode()
    elif kind in ("nan", "infinity"):
        bad = dict(good)
        bad[victim] = float("nan") if kind == "nan" else float("inf")
        body = json.dumps(bad).encode()   # NaN / Infinity tokens: not valid JSON
    elif kind == "huge":
        bad = dict(good)
        bad[victim] = float(rng.choice([1e300, -1e300, 1e18]))
        body = json.dumps(bad).encode()
    elif kind == "bad_utf8":
        body = b'{"ts":"' + good["ts"].encode() + b'","' + victim.encode() + b'":"\xff\xfe\xfa"}'
    elif kind == "oversize":
        bad = dict(good)
        bad["padding"] = "x" * OVERSIZE_BYTES
        body = json.dumps(bad).encode()
    else:
        raise ValueError(f"unknown malformed kind {kind!r}; known: {MALFORMED_KINDS}")
    return kind, body


class EmissionLog:
    """What the publishers sent: per device the (time_ns, fields) of every good reading, and
    every malformed payload's kind. Optionally appended to a JSON lines file."""

    def __init__(self, path: str | Path | None = None, append: bool = False):
        """`path`: also write JSON lines there, starting afresh unless `append`."""
        self.path = Path(path) if path else None
        self.readings: dict[str, list[tuple[int, dict]]] = {}
        self.malformed: list[tuple[str, str, int]] = []   # (device, kind, size bytes)
        self._lock = threading.Lock()
        self._file = None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a" if append else "w",  # noqa: SIM115 - kept open
                              buffering=1 << 16)

    def record(self, device_id: str, topic: str, time_ns: int, fields: Mapping | None,
               malformed_kind: str | None = None, size: int = 0) -> None:
        with self._lock:
            if malformed_kind:
                self.malformed.append((device_id, malformed_kind, size))
                line = {"device": device_id, "topic": topic, "time_ns": time_ns,
                        "malformed": malformed_kind, "bytes": size}
            else:
                clean = payload_fields(fields or {})
                self.readings.setdefault(device_id, []).append((time_ns, clean))
                line = {"device": device_id, "topic": topic, "time_ns": time_ns,
                        "ts": iso_ts(time_ns), "fields": clean}
            if self._file:
                self._file.write(json.dumps(line) + "\n")

    @property
    def good_count(self) -> int:
        return sum(len(v) for v in self.readings.values())

    def flush(self) -> None:
        with self._lock:
            if self._file:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file:
                self._file.close()
                self._file = None

    @staticmethod
    def load(path: str | Path) -> EmissionLog:
        """Read a JSON lines emission log back (for checks after a run)."""
        out = EmissionLog()
        for line in Path(path).read_text().splitlines():
            row = json.loads(line)
            if row.get("malformed"):
                out.malformed.append((row["device"], row["malformed"], row.get("bytes", 0)))
            else:
                out.readings.setdefault(row["device"], []).append((row["time_ns"], row["fields"]))
        return out


class _Link:
    """One MQTT connection (one identity) and its QoS 1 messages not yet acknowledged."""

    def __init__(self, host: str, port: int, username: str, password: str | None,
                 client_id: str, keepalive_s: int, tls_ca_path: str | None):
        from hearth.broker.tls import use_tls

        self.host, self.port, self.username = host, port, username
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        use_tls(self.client, tls_ca_path)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)        # unbounded: nothing dropped while down
        self.client.reconnect_delay_set(0.5, 10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.keepalive_s = keepalive_s
        self.connected = threading.Event()
        self.answered = threading.Event()     # the broker accepted or refused us
        self.lock = threading.Lock()
        self.unacked: set[int] = set()
        self.early: set[int] = set()
        self.acked = 0
        self.refused: str | None = None

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.refused = str(reason_code)
            log.error("MQTT broker %s:%d refused the simulator's identity %r: %s", self.host,
                      self.port, self.username, reason_code)
            self.answered.set()
            return
        self.connected.set()
        self.answered.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        if reason_code.is_failure:
            log.warning("simulator lost the MQTT broker (%s); reconnecting", reason_code)

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        if reason_code.is_failure:  # MQTT 5: the broker refused it (its ACL)
            log.error("MQTT broker refused a message of %r: %s", self.username, reason_code)
        with self.lock:
            if mid in self.unacked:
                self.unacked.discard(mid)
                self.acked += 1
            else:   # acknowledged before `send` registered it
                self.early.add(mid)

    def connect(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600   # unacked QoS 1 messages survive a reconnect
        try:
            self.client.connect_async(self.host, self.port, self.keepalive_s, clean_start=False,
                                      properties=props)
        except OSError as exc:
            raise HearthError(f"cannot reach the MQTT broker at {self.host}:{self.port}"
                              f" ({exc}); start it with `hearth stack up`") from exc
        self.client.loop_start()

    def send(self, topic: str, body: bytes) -> None:
        # paho calls on_publish under its own lock: never hold ours while calling into paho.
        info = self.client.publish(topic, body, qos=1)
        with self.lock:
            if info.mid in self.early:
                self.early.discard(info.mid)
                self.acked += 1
            else:
                self.unacked.add(info.mid)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class MqttPublisher:
    """Publishes the readings of many devices at QoS 1, each device through its home's hub
    identity (one connection per hub, as each home's in-home gateway would connect), or all
    through one shared identity when `identities` is None."""

    def __init__(self, host: str, port: int, username: str, password: str | None,
                 client_id: str = "hearth-sim", keepalive_s: int = 30,
                 malformed_rate: float = 0.0, seed: int = 42,
                 emission_log: EmissionLog | None = None, tls_ca_path: str | None = None,
                 identities: Mapping[str, tuple[str, str | None]] | None = None,
                 hub_of: Mapping[str, str] | None = None):
        """identities: hub -> (username, password); hub_of: device_id -> hub."""
        self.host, self.port = host, int(port)
        self.malformed_rate = float(malformed_rate)
        self.rng = np.random.default_rng([int(seed), 0x3A77])
        self.log = emission_log or EmissionLog()
        self._lock = threading.Lock()
        self.published = 0
        self._no_identity: set[str] = set()
        self._tls_ca_path = tls_ca_path
        args = (keepalive_s, tls_ca_path)
        if identities is None:
            self._shared: _Link | None = _Link(host, self.port, username, password, client_id,
                                               *args)
            self._links = {"": self._shared}
            self._hub_of: Mapping[str, str] = {}
        else:
            self._shared = None
            self._links = {hub: _Link(host, self.port, user, pw, f"{client_id}-{hub}", *args)
                           for hub, (user, pw) in identities.items()}
            self._hub_of = dict(hub_of or {})

    @classmethod
    def from_settings(cls, settings, emission_log: EmissionLog | None = None,
                      client_id: str | None = None,
                      device_ids: Iterable[str] | None = None) -> MqttPublisher:
        """device_ids: the devices this simulator runs (default all): only their hubs connect."""
        from hearth.broker.tls import client_ca_path

        m, s = settings.mqtt, settings.sim
        identities = hub_of = None
        if m.device_identities == "registry":
            identities, hub_of = registry_identities(settings.registry.target)
            if device_ids is not None:
                hub_of = {d: hub_of[d] for d in map(str, device_ids) if d in hub_of}
                identities = {h: identities[h] for h in set(hub_of.values())}
        return cls(m.host, m.port, m.username,
                   m.password.get_secret_value() if m.password else None,
                   client_id=client_id or s.mqtt_client_id, keepalive_s=m.keepalive_s,
                   malformed_rate=s.malformed_rate, seed=s.seed, emission_log=emission_log,
                   tls_ca_path=client_ca_path(settings), identities=identities, hub_of=hub_of)

    @property
    def acked(self) -> int:
        return sum(link.acked for link in self._links.values())

    @property
    def connections(self) -> int:
        return len(self._links)

    # -- lifecycle
    def start(self, timeout_s: float = 10.0) -> MqttPublisher:
        for link in self._links.values():
            link.connect()
        deadline = time.monotonic() + timeout_s
        for link in self._links.values():
            link.answered.wait(max(0.0, deadline - time.monotonic()))
        refused = [link for link in self._links.values() if not link.connected.is_set()]
        if refused:
            for link in self._links.values():
                link.close()
            first = refused[0]
            if first.refused is None:
                from hearth.broker.tls import connect_problem

                why = connect_problem(self.host, self.port, self._tls_ca_path)
            else:
                why = first.refused
            raise HearthError(f"MQTT broker {self.host}:{self.port} did not accept the simulator"
                              f" as {first.username!r} ({why}; {len(refused)} of"
                              f" {len(self._links)} identities); check mqtt.username and"
                              " HEARTH_MQTT_PASSWORD, or the registry's broker credentials"
                              " (`hearth registry device-credentials DEVICE`)")
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self.flush(timeout_s)
        for link in self._links.values():
            link.close()
        self.log.flush()

    def __enter__(self) -> MqttPublisher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- publishing
    def _link(self, device_id: str) -> _Link | None:
        if self._shared is not None:
            return self._shared
        link = self._links.get(self._hub_of.get(device_id, ""))
        if link is None and device_id not in self._no_identity:
            self._no_identity.add(device_id)
            log.warning("device %r has no broker identity (not an MQTT device of the registry,"
                        " or its hub's password was forgotten): its readings are not sent",
                        device_id)
        return link

    def _send(self, topic: str, body: bytes, device_id: str = "") -> None:
        link = self._link(device_id)
        if link is None:
            return
        link.send(topic, body)
        with self._lock:
            self.published += 1

    def publish(self, device_id: str, topic: str, time_ns: int, fields: Mapping[str, float]) -> None:
        """Publish one reading (and, at `malformed_rate`, malformed extras)."""
        if self._link(device_id) is None:
            return  # a device without credentials cannot reach the broker: nothing emitted
        body = encode_payload(time_ns, fields)
        self.log.record(device_id, topic, time_ns, fields)
        self._send(topic, body, device_id)
        if self.malformed_rate > 0:
            n_bad = self.rng.poisson(self.malformed_rate)
            for _ in range(n_bad):
                kind, bad = malformed_payload(self.rng, time_ns, fields)
                self.log.record(device_id, topic, time_ns, None, kind, len(bad))
                self._send(topic, bad, device_id)

    def publish_many(self, items: Iterable[tuple[str, str, int, Mapping[str, float]]]) -> int:
        n = 0
        for device_id, topic, time_ns, fields in items:
            self.publish(device_id, topic, time_ns, fields)
            n += 1
        return n

    @property
    def pending(self) -> int:
        total = 0
        for link in self._links.values():
            with link.lock:
                total += len(link.unacked)
        return total

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until the broker acknowledged every message (PUBACK). True if all were."""
        deadline = time.monotonic() + timeout_s
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        self.log.flush()
        return self.pending == 0


def registry_identities(registry_path) -> tuple[dict[str, tuple[str, str | None]],
                                                dict[str, str]]:
    """(hub -> (username, password), device_id -> hub) from the registry's broker credentials;
    hubs whose password was forgotten are left out (their devices cannot publish)."""
    from hearth.broker.credentials import hub_credentials
    from hearth.registry.store import Registry

    with Registry(registry_path) as reg:
        creds = hub_credentials(reg)
        devices = reg.devices(protocol="mqtt")
    forgotten = sorted(h for h, c in creds.items() if c.password is None)
    if forgotten:
        log.warning("%d home hubs have no stored broker password (forgotten): their devices"
                    " are not simulated over MQTT; rotate with `hearth registry"
                    " device-credentials DEVICE --rotate`", len(forgotten))
    identities = {h: (c.username, c.password) for h, c in creds.items() if c.password}
    return identities, {d.device_id: d.household_id for d in devices
                        if d.household_id in identities}
