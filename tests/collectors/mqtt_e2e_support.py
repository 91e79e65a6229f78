"""Helpers for the collector tests: publish at QoS 1, run the service, count points."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import INFLUX_PASSWORD, MQTT_PASSWORD, MQTT_USER

ROOT = Path(__file__).resolve().parents[2]
# Two days ago on the hour: inside the raw retention policy, in the past.
T0_NS = (time.time_ns() // (3600 * 10**9) - 48) * 3600 * 10**9


def iso(time_ns: int) -> str:
    t = dt.datetime.fromtimestamp(time_ns // 10**9, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{time_ns % 10**9 // 1000:06d}Z"
                                              if time_ns % 10**9 else "Z")


def meter_payload(time_ns: int, energy_kwh: float, power_w: float = 300.0) -> bytes:
    return json.dumps({"ts": iso(time_ns), "energy_kwh": energy_kwh, "power_w": power_w,
                       "voltage_v": 239.5, "supply_on": True}).encode()


def good_messages(n: int, households: int = 10, start_ns: int = T0_NS, step_s: int = 60):
    """n meter readings over `households` devices: (topic, payload, (device, time_ns, kWh))."""
    out = []
    for i in range(n):
        h = i % households
        k = i // households
        t = start_ns + k * step_s * 10**9
        kwh = round(1000.0 + h + k * 0.0125, 4)
        topic = f"hearth/H{h:06d}/E{h:06d}/electricity_meter"
        out.append((topic, meter_payload(t, kwh), (f"E{h:06d}", t, kwh)))
    return out


class Publisher:
    """A QoS 1 publisher that waits for the broker's PUBACKs (so messages are in its care)."""

    def __init__(self, port: int, client_id: str = "test-publisher"):
        self.port, self.client_id = port, client_id
        self.client = self._connect()

    def _connect(self) -> paho.Client:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=paho.MQTTv5)
        client.username_pw_set(MQTT_USER, MQTT_PASSWORD)
        # Unlimited in flight: paho's count of in-flight messages can stay stuck after a
        # reconnect, and messages queued behind it would then never be sent.
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(1, 2)
        # PUBACKs by packet id. Not info.is_published(): it raises for a message published
        # while the broker was away (rc NO_CONN) even after paho sent it again and it was acked.
        self._acked: set[int] = set()
        self._lock = threading.Lock()

        def on_publish(client, userdata, mid, reason_code, properties):
            with self._lock:
                self._acked.add(mid)

        client.on_publish = on_publish
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 600
        deadline = time.monotonic() + 30
        while True:
            try:
                client.connect("127.0.0.1", self.port, 30, clean_start=False, properties=props)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        client.loop_start()
        return client

    def publish(self, messages, timeout_s: float = 120.0) -> None:
        """Publish and wait for every PUBACK. Messages not acknowledged within 15 s (a broker
        restart can strand them in paho) are published again on a new connection: a QoS 1
        duplicate is the same point, so InfluxDB still holds it once."""
        deadline = time.monotonic() + timeout_s
        todo = list(messages)
        while todo:
            sent = [(m, self.client.publish(m[0], m[1], qos=1).mid) for m in todo]
            retry_at = min(time.monotonic() + 15.0, deadline)
            while time.monotonic() < retry_at:
                with self._lock:
                    if all(mid in self._acked for _, mid in sent):
                        break
                time.sleep(0.005)
            with self._lock:
                todo = [m for m, mid in sent if mid not in self._acked]
                self._acked.difference_update(mid for _, mid in sent)
            if todo and time.monotonic() >= deadline:
                raise TimeoutError(f"broker did not acknowledge {len(todo)} of the test's"
                                   " publishes")
            if todo:
                self.close()
                self.client = self._connect()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class ServiceThread:
    """`CollectService` running in a thread with its own event loop (in-process tests)."""

    def __init__(self, settings):
        from collectors.service import CollectService

        self.service = CollectService(settings, serve_metrics=False)
        self._stop = None
        self._loop = None
        self.error = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def main():
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await self.service.run(self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> ServiceThread:
        self._thread.start()
        mqtt = next((c for c in self.service.collectors if c.type == "mqtt"), None)
        if mqtt is not None:
            assert mqtt._connected.wait(15), "collector did not connect to the broker"
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        assert not self._thread.is_alive()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_until(cond, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _query(client, q: str):
    """The query's series; none while the writer has not created the database yet."""
    from hearth.errors import InfluxError

    try:
        return client.query(q)
    except InfluxError as exc:
        if "not found" in str(exc):
            return []
        raise


def meter_points(client) -> dict[tuple[str, int], float]:
    """(device, time_ns) -> energy_kwh of every `meter` point in InfluxDB."""
    out = {}
    for s in _query(client, 'SELECT "energy_kwh" FROM "raw"."meter" GROUP BY "device"'):
        dev = s.tags["device"]
        for t, v in zip(s.values["time"], s.values["energy_kwh"], strict=True):
            out[(dev, int(t))] = float(v)
    return out


def count_meter(client) -> int:
    series = _query(client, 'SELECT count("energy_kwh") FROM "raw"."meter"')
    return int(series[0].values["count"][0]) if series else 0


# ---- running `hearth collect` as a subprocess -----------------------------------------------

def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def _toml(obj: dict, prefix: str = "") -> str:
    scalars, tables = [], []
    for k, v in obj.items():
        if v is None or k == "password":
            continue
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            continue  # arrays of tables (device lists): not needed by these tests
        else:
            scalars.append(f"{k} = {_toml_value(v)}")
    out = (f"[{prefix}]\n" if prefix and scalars else "") + "".join(s + "\n" for s in scalars)
    for k, v in tables:
        out += _toml(v, f"{prefix}.{k}" if prefix else k)
    return out


def write_config(settings, path: Path) -> Path:
    path.write_text(_toml(settings.model_dump(mode="json")))
    return path


def collect_process(config: Path, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HEARTH_INFLUX_PASSWORD=INFLUX_PASSWORD,
               HEARTH_MQTT_PASSWORD=MQTT_PASSWORD)
    with contextlib.suppress(FileNotFoundError):
        log_path.unlink()
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, "-m", "hearth", "--config", str(config), "collect"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                            start_new_session=True)
    log.close()
    return proc
