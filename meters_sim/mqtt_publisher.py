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


class MqttPublisher:
    """One MQTT connection publishing the readings of many devices at QoS 1."""

    def __init__(self, host: str, port: int, username: str, password: str | None,
                 client_id: str = "hearth-sim", keepalive_s: int = 30,
                 malformed_rate: float = 0.0, seed: int = 42,
                 emission_log: EmissionLog | None = None):
        self.host, self.port = host, int(port)
        self.malformed_rate = float(malformed_rate)
        self.rng = np.random.default_rng([int(seed), 0x3A77])
        self.log = emission_log or EmissionLog()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)        # unbounded: nothing dropped while down
        self.client.reconnect_delay_set(0.5, 10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.keepalive_s = keepalive_s
        self._connected = threading.Event()
        self._answered = threading.Event()     # the broker accepted or refused us
        self._lock = threading.Lock()
        self._unacked: set[int] = set()
        self._early: set[int] = set()
        self.published = 0
        self.acked = 0
        self._refused: str | None = None

    @classmethod
    def from_settings(cls, settings, emission_log: EmissionLog | None = None,
                      client_id: str | None = None) -> MqttPublisher:
        m, s = settings.mqtt, settings.sim
        return cls(m.host, m.port, m.username,
                   m.password.get_secret_value() if m.password else None,
                   client_id=client_id or s.mqtt_client_id, keepalive_s=m.keepalive_s,
                   malformed_rate=s.malformed_rate, seed=s.seed, emission_log=emission_log)

    # -- paho callbacks (network thread)
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self._refused = str(reason_code)
            log.error("MQTT broker %s:%d refused the simulator: %s", self.host, self.port,
                      reason_code)
            self._answered.set()
            return
        self._connected.set()
        self._answered.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self._connected.clear()
        if reason_code.is_failure:
            log.warning("simulator lost the MQTT broker (%s); reconnecting", reason_code)

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._lock:
            if mid in self._unacked:
                self._unacked.discard(mid)
                self.acked += 1
            else:   # acknowledged before `_send` registered it
                self._early.add(mid)

    # -- lifecycle
    def start(self, timeout_s: float = 10.0) -> MqttPublisher:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600   # unacked QoS 1 messages survive a reconnect
        try:
            self.client.connect(self.host, self.port, self.keepalive_s, clean_start=False,
                                properties=props)
        except OSError as exc:
            raise HearthError(f"cannot reach the MQTT broker at {self.host}:{self.port} ({exc});"
                              " start it with `hearth stack up`") from exc
        self.client.loop_start()
        self._answered.wait(timeout_s)
        if not self._connected.is_set():
            self.client.disconnect()
            self.client.loop_stop()
            why = self._refused or "no answer"
            raise HearthError(f"MQTT broker {self.host}:{self.port} did not accept the simulator"
                              f" ({why}); check mqtt.username and HEARTH_MQTT_PASSWORD")
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self.flush(timeout_s)
        self.client.disconnect()
        self.client.loop_stop()
        self.log.flush()

    def __enter__(self) -> MqttPublisher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- publishing
    def _send(self, topic: str, body: bytes) -> None:
        # paho calls on_publish under its own lock: never hold ours while calling into paho.
        info = self.client.publish(topic, body, qos=1)
        with self._lock:
            if info.mid in self._early:
                self._early.discard(info.mid)
                self.acked += 1
            else:
                self._unacked.add(info.mid)
            self.published += 1

    def publish(self, device_id: str, topic: str, time_ns: int, fields: Mapping[str, float]) -> None:
        """Publish one reading (and, at `malformed_rate`, malformed extras)."""
        body = encode_payload(time_ns, fields)
        self.log.record(device_id, topic, time_ns, fields)
        self._send(topic, body)
        if self.malformed_rate > 0:
            n_bad = self.rng.poisson(self.malformed_rate)
            for _ in range(n_bad):
                kind, bad = malformed_payload(self.rng, time_ns, fields)
                self.log.record(device_id, topic, time_ns, None, kind, len(bad))
                self._send(topic, bad)

    def publish_many(self, items: Iterable[tuple[str, str, int, Mapping[str, float]]]) -> int:
        n = 0
        for device_id, topic, time_ns, fields in items:
            self.publish(device_id, topic, time_ns, fields)
            n += 1
        return n

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._unacked)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until the broker acknowledged every message (PUBACK). True if all were."""
        deadline = time.monotonic() + timeout_s
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        self.log.flush()
        return self.pending == 0
