"""MQTT collector: paho-mqtt 2.x, MQTT 5, persistent session, QoS 1, ack only once stored.

Why no message is lost:
- a fixed client id, ``clean_start=False`` on every connect (paho's default wipes the session
  of a new process) and a session expiry > 0: the broker keeps the subscription and every
  unacknowledged message while the collector is down or reconnecting;
- ``manual_ack=True``: a message is acknowledged only after `sink.put` (the durable spool) or
  the dead-letter file returned, so a crash before that makes the broker deliver it again.

paho's network thread decodes and validates each message into a pending list; a committer
thread takes everything pending, stores it with one fsync (group commit), then acknowledges
those messages in the order they arrived (MQTT 5 wants PUBACKs in order). ``receive_maximum``
bounds the messages in flight, and so memory, when the spool (or its disk) is full and `put`
blocks: nothing is acknowledged meanwhile, so the broker keeps the messages.

Both threads are watched: the committer runs under `collectors.supervise` (a crash is logged,
counted and the loop restarted), and `run` checks paho's network thread every second; if it
died, the socket is closed and the thread started again, so the broker delivers the
unacknowledged messages again on the new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collectors.base import Collector, register_collector
from collectors.deadletter import DeadLetter
from collectors.mqtt_payload import PayloadError, PayloadParser
from collectors.mqtt_router import PERSONAL_KEYS, Ignored, MessageRouter, redacted_keys
from collectors.supervise import count_restart, supervised

log = logging.getLogger("hearth.collectors.mqtt")

_PUBACK = struct.Struct("!BBH")  # PUBACK: type 0x40, remaining length 2, packet id
_READ_CHUNK = 65_536
_PACKETS_PER_WAKE = 5_000


class _FastClient(paho.Client):
    """paho's Client with two changes for a subscriber taking thousands of messages a second.

    paho reads one packet per select() and each packet with three or more recv() calls, and
    sends every PUBACK as its own queued write. Profiling `hearth collect` showed those
    system calls as the largest cost, so this client reads the socket in 64 KiB chunks and
    handles every complete packet per wake-up, and `ack_many` writes a run of PUBACKs as one
    buffer (MQTT packets are simply concatenated on the wire). Both use paho 2.x internals
    (`_sock_recv`, `_packet_read`, `_packet_queue`); tests run against the pinned paho.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos < len(self._rbuf):
            chunk = self._rbuf[self._rpos:self._rpos + bufsize]
            self._rpos += len(chunk)
            return chunk
        data = super()._sock_recv(max(bufsize, _READ_CHUNK))  # BlockingIOError when empty
        if len(data) <= bufsize:
            return data
        self._rbuf, self._rpos = data, bufsize
        return data[:bufsize]

    def _sock_close(self) -> None:
        self._rbuf, self._rpos = b"", 0  # never hand bytes of an old connection to a new one
        super()._sock_close()

    def loop_read(self, max_packets: int = 1) -> paho.MQTTErrorCode:
        # Return only with the read buffer empty: paho's loop calls loop_read again only when
        # select() finds the socket readable, so bytes left here would wait for the next packet.
        handled = 0
        while True:
            if self._sock is None:
                return paho.MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            buffered = self._rpos < len(self._rbuf)
            if rc == paho.MQTTErrorCode.MQTT_ERR_AGAIN and not buffered:
                return paho.MQTTErrorCode.MQTT_ERR_SUCCESS  # socket drained
            handled += 1
            if handled >= _PACKETS_PER_WAKE and not buffered:
                return paho.MQTTErrorCode.MQTT_ERR_SUCCESS  # let the acks go out

    def _handle_on_message(self, message) -> None:
        # One subscription, one callback: skip paho's per-message topic matching and locks.
        self.on_message(self, self._userdata, message)

    def ack_many(self, mids: list[int]) -> None:
        """Acknowledge QoS 1 messages (in this order) with one queued write."""
        if mids:
            packet = b"".join([_PUBACK.pack(0x40, 2, mid) for mid in mids])
            self._packet_queue(0x40, packet, 0, 0)


@dataclass(frozen=True)
class MqttConfig:
    """Broker connection and collector options (from `settings.mqtt`, `collectors.mqtt`)."""

    host: str
    port: int
    username: str
    password: str | None
    keepalive_s: int
    options: object  # hearth.settings.rooms.MqttCollectorSettings
    # device_id -> room of the registry's MQTT devices (None: no room); empty without registry
    devices: dict[str, str | None] = field(default_factory=dict)
    profiles: dict = field(default_factory=dict)  # name -> collectors.profiles.Profile
    directory: object = None  # collectors.device_check.DeviceDirectory; None: no registry
    tls_ca_path: str | None = None  # verify the broker against this CA; None: no TLS

    @classmethod
    def from_settings(cls, settings) -> MqttConfig:
        from hearth.broker.tls import client_ca_path

        m = settings.mqtt
        password = m.password.get_secret_value() if m.password is not None else None
        directory = registry_directory(settings.registry.target)
        devices = registry_devices(directory)
        return cls(m.host, m.port, m.username, password, m.keepalive_s, settings.collectors.mqtt,
                   devices, enabled_profiles(settings.collectors.mqtt), directory,
                   client_ca_path(settings))

    def subscriptions(self) -> list[str]:
        """`topic`, each enabled profile's filters (shared like `topic` when it is a
        $share/<group>/ subscription) and `extra_subscriptions`."""
        o = self.options
        share = ""
        if o.topic.startswith("$share/"):
            share = "/".join(o.topic.split("/", 2)[:2]) + "/"
        out = [o.topic]
        for p in self.profiles.values():
            if p.format == "mapped":
                out += [share + f for f in p.subscriptions()]
        out += list(getattr(o, "extra_subscriptions", []))
        return list(dict.fromkeys(out))


def enabled_profiles(options) -> dict:
    """The profiles of config/profiles and `profile_dirs`, validated; only those named in
    `profiles` when it is not empty (ProfileError names the file and key of a bad one)."""
    from collectors.profiles import ProfileError, load_profiles

    found = load_profiles(getattr(options, "profile_dirs", []))
    wanted = list(getattr(options, "profiles", []))
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise ProfileError(f"collectors.mqtt.profiles names {unknown[0]!r}, which is not a"
                           f" profile; found: {', '.join(sorted(found))}")
    return {n: p for n, p in found.items() if not wanted or n in wanted or n == "hearth"}


def registry_directory(path):
    from collectors.device_check import DeviceDirectory

    directory = DeviceDirectory.from_registry(path)
    if directory is None:
        log.warning("no registry at %s: Hearth-format messages are not checked against the"
                    " registry's devices, and real devices (profiles) are all unknown_device",
                    path)
    return directory


def registry_devices(directory) -> dict[str, str | None]:
    """Device ids the collector expects (registry MQTT devices and bound devices) -> room."""
    if directory is None:
        return {}
    out = {d: h.room for d, h in directory.hearth.items()}
    for found in directory.bound.values():
        out.update({b.device_id: b.room for b in found.values()})
    return out


@register_collector
class MqttCollector(Collector):
    type = "mqtt"

    def __init__(self, name: str, config: MqttConfig, sink):
        super().__init__(name, config, sink)
        o = config.options
        self.parser = PayloadParser(o.topic_pattern, o.max_payload_bytes, o.max_future_s,
                                    o.gas_calorific_value_mj_per_m3, source="mqtt",
                                    rooms={k: v for k, v in config.devices.items() if v})
        self.router = MessageRouter(config.profiles, config.directory, self.parser,
                                    getattr(o, "max_series_per_household", 64), source="mqtt")
        self.topics = config.subscriptions()
        from collectors.mqtt_metrics import MqttPathMetrics

        self.metrics = MqttPathMetrics(self.router)
        self._started = time.monotonic()
        self._pending: list[tuple[int, int, object]] = []
        self._cond = threading.Condition()
        self._accepting = True
        self._stopping = False
        self._connected = threading.Event()
        self.last_seen: dict[str, float] = {}  # device -> monotonic time of its last reading
        self.stats.extra.update(messages=0, acked=0, ignored=0, connects=0, disconnects=0)
        self.client = self._make_client()

    # ---- paho ---------------------------------------------------------------------------------

    def _make_client(self) -> paho.Client:
        c, o = self.config, self.config.options
        client = _FastClient(CallbackAPIVersion.VERSION2, client_id=o.client_id,
                             protocol=paho.MQTTv5, manual_ack=True)
        client.username_pw_set(c.username, c.password)
        from hearth.broker.tls import use_tls

        use_tls(client, c.tls_ca_path)
        client.reconnect_delay_set(max(1, round(o.reconnect_min_s)),
                                   max(1, round(o.reconnect_max_s)))
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.config.options.session_expiry_s
        props.ReceiveMaximum = self.config.options.receive_maximum
        return props

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT broker %s:%d refused the connection: %s (check mqtt.username and"
                      " HEARTH_MQTT_PASSWORD)", self.config.host, self.config.port, reason_code)
            return
        self.stats.extra["connects"] += 1
        log.info("connected to MQTT broker %s:%d as %r (session %s)", self.config.host,
                 self.config.port, self.config.options.client_id,
                 "resumed" if flags.session_present else "new")
        # Subscribing again is harmless when the session is present, and needed when it is not.
        client.subscribe([(t, 1) for t in self.topics])

    def _on_connect_fail(self, client, userdata) -> None:
        # paho retries a failed TCP/TLS connection without saying why: say it once per try.
        from hearth.broker.tls import connect_problem

        c = self.config
        log.error("cannot connect to the MQTT broker %s:%d: %s; retrying", c.host, c.port,
                  connect_problem(c.host, c.port, c.tls_ca_path))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        granted = []
        for topic, rc in zip(self.topics, reason_codes, strict=False):
            if rc.is_failure:  # e.g. an ACL that grants the collector only some topics
                log.error("MQTT broker refused the subscription to %r: %s; that profile's"
                          " devices are not read", topic, rc)
            else:
                granted.append(topic)
        if self.topics[0] not in granted:
            return
        log.info("subscribed to %s at QoS 1", ", ".join(repr(t) for t in granted))
        self._connected.set()  # connected and subscribed: messages now reach us

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if self._accepting:
            self.stats.extra["disconnects"] += 1
            log.warning("MQTT broker %s:%d went away (%s); reconnecting with backoff, the"
                        " session keeps unacknowledged messages", self.config.host,
                        self.config.port, reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        if not self._accepting:
            return  # not acknowledged: the broker delivers it again next session
        topic = msg._topic.decode("utf-8", "replace")  # the broker checks topics are UTF-8
        try:
            device, item = self.router.parse(topic, msg.payload)
            self.last_seen[device] = time.monotonic()
        except Ignored as exc:  # no reading and no fault: acknowledged, counted
            item = exc
        except PayloadError as exc:  # `raw`: the payload less a profile's personal data
            item = DeadLetter(str(exc), getattr(exc, "raw", None) or bytes(msg.payload),
                              {"topic": topic[:300]})
        except Exception as exc:  # never let one message stop the collector
            keys = getattr(self.router, "personal_keys", PERSONAL_KEYS)
            item = DeadLetter(f"parse_failed: {type(exc).__name__}: {exc}",
                              redacted_keys(bytes(msg.payload), keys), {"topic": topic[:300]})
        with self._cond:
            self._pending.append((msg.mid, msg.qos, item))
            if len(self._pending) == 1:
                self._cond.notify()

    # ---- committer ----------------------------------------------------------------------------

    def _take_batch(self) -> list | None:
        """Everything pending (waits for some); None once stopping with nothing left."""
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait(0.5)
            if not self._pending and self._stopping:
                return None
            batch, self._pending = self._pending, []
            return batch

    def _commit_loop(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            delay = 0.5
            while True:
                try:
                    self._commit(batch)
                    break
                except Exception as exc:  # keep them unacknowledged; retry
                    self.stats.errors += 1
                    log.error("could not store %d MQTT messages (%s); they stay"
                              " unacknowledged, retrying in %.0f s", len(batch), exc, delay)
                    if self._stopping:
                        return  # unacknowledged: the broker delivers them next session
                    time.sleep(delay)
                    delay = min(delay * 2, 30.0)

    def _commit(self, batch: list[tuple[int, int, object]]) -> None:
        readings, letters, ignored = [], [], 0
        for _, _, item in batch:
            if isinstance(item, Ignored):
                ignored += 1
                continue
            (letters if isinstance(item, DeadLetter) else readings).append(item)
        if letters:
            many = getattr(self.sink, "dead_letter_many", None)
            if many is not None:
                many("mqtt", letters)
            else:
                for letter in letters:
                    self.sink.dead_letter("mqtt", letter.reason, letter.raw)
        if readings:
            self.sink.put(readings, "mqtt")
        self.client.ack_many([mid for mid, qos, _ in batch if qos == 1])
        self.stats.readings_in += len(readings)
        self.stats.dead_lettered += len(letters)
        self.stats.extra["messages"] += len(batch)
        self.stats.extra["ignored"] += ignored
        self.stats.extra["acked"] += len(batch)

    # ---- lifecycle ----------------------------------------------------------------------------

    def silent_devices(self, after_s: float | None = None) -> int:
        """Devices heard and then not for `after_s`, plus registry devices never heard once
        the collector has run that long."""
        after_s = self.config.options.silent_after_s if after_s is None else after_s
        now = time.monotonic()
        seen = dict(self.last_seen)
        silent = sum(1 for t in seen.values() if now - t > after_s)
        if now - self._started > after_s:
            heard = {key.split("/")[1] for key in seen}
            silent += sum(1 for d in self.config.devices if d not in heard)
        return silent

    def watch_network_thread(self) -> bool:
        """Restart paho's network thread if an exception ended it; True if it was restarted.

        The connection is dropped first: a message whose handling crashed was never
        acknowledged, and only a new session makes the broker deliver it again."""
        if self._stopping or self.client._thread is not None:
            return False
        count_restart("mqtt-network")
        log.error("the MQTT network thread died (see the traceback above); reconnecting and"
                  " starting it again, unacknowledged messages will be delivered again")
        self._connected.clear()
        with contextlib.suppress(Exception):
            self.client._sock_close()  # paho 2.x internal, as in _FastClient
        self.client.loop_start()
        return True

    def start(self) -> None:
        self._stop_event = threading.Event()
        self._committer = supervised("mqtt-commit", self._commit_loop, self._stop_event)
        self._committer.start()
        c = self.config
        self.client.connect_async(c.host, c.port, keepalive=c.keepalive_s, clean_start=False,
                                  properties=self._connect_properties())
        self.client.loop_start()

    def shutdown(self) -> None:
        """Stop taking messages, store and acknowledge those taken, then disconnect."""
        self._accepting = False
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._stop_event.set()
        self._committer.join(timeout=60)
        self.client.disconnect()
        self.client.loop_stop()

    async def run(self, stop: asyncio.Event) -> None:
        self.start()
        try:
            while not stop.is_set():
                self.stats.devices_silent = self.silent_devices()
                self.watch_network_thread()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
        finally:
            await asyncio.to_thread(self.shutdown)
