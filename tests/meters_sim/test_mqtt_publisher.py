"""The MQTT publisher against the real Mosquitto: QoS 1, authenticated, every emitted payload
received as logged; malformed payloads are really malformed."""

from __future__ import annotations

import json
import math
import threading
import time
from types import SimpleNamespace

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hearth.errors import HearthError
from hearth.stack import free_port
from meters_sim.live import LiveRunner
from meters_sim.model import Simulation
from meters_sim.mqtt_publisher import (
    MALFORMED_KINDS,
    EmissionLog,
    MqttPublisher,
    malformed_payload,
    parse_ts,
)
from meters_sim.views import DeviceViews
from tests.conftest import MQTT_PASSWORD, MQTT_USER, make_settings
from tests.meters_sim.conftest import WINTER


class Subscriber:
    """Collects every message on hearth/# at QoS 1."""

    def __init__(self, port: int):
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{port}",
                             protocol=mqtt.MQTTv5)
        self.c.username_pw_set(MQTT_USER, MQTT_PASSWORD)
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe("hearth/#", qos=1)
        self.c.on_subscribe = lambda *a: self.ready.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.ready.wait(10)

    def _on_message(self, client, userdata, msg):
        with self._lock:
            self.messages.append((msg.topic, msg.payload))

    def wait_for(self, n: int, timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def sub(mqtt_server):
    s = Subscriber(mqtt_server.port)
    yield s
    s.close()


def _settings(tmp_path, mqtt_server, **sim):
    return make_settings(tmp_path, SimpleNamespace(url=f"http://127.0.0.1:{free_port()}"),
                         mqtt_server, sim=sim)


def _good(messages):
    out = {}
    for topic, payload in messages:
        try:
            body = json.loads(payload, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(body, dict) and "padding" not in body and isinstance(body.get("ts"), str):
            out.setdefault(topic.split("/")[2], []).append(body)
    return out


def test_live_run_publishes_every_logged_reading_once(tmp_path, mqtt_server, sub,
                                                       portfolio_60, devices_60):
    settings = _settings(tmp_path, mqtt_server)
    log = EmissionLog(tmp_path / "emissions.jsonl")
    publisher = MqttPublisher.from_settings(settings, log).start()
    sim = Simulation(portfolio_60, np.datetime64(WINTER), seed=7, spinup_days=0.2)
    views = DeviceViews(devices_60, portfolio_60, seed=7)
    runner = LiveRunner(sim, views, speed=3600.0, publisher=publisher)
    for _ in range(30):                    # 30 simulated minutes, 1-minute readings
        runner.step_once()
    publisher.stop()
    mqtt_devices = [d for d in devices_60 if d["protocol"] == "mqtt"]
    assert log.good_count == 30 * len(mqtt_devices) == runner.stats.published
    assert publisher.acked == publisher.published
    sub.wait_for(log.good_count)
    got = _good(sub.messages)
    assert sum(map(len, got.values())) == log.good_count
    for device, emitted in log.readings.items():
        received = sorted(got[device], key=lambda b: b["ts"])
        assert [parse_ts(b["ts"]) for b in received] == [t for t, _ in emitted]
        for body, (_, fields) in zip(received, emitted, strict=True):
            assert {k: v for k, v in body.items() if k != "ts"} == fields
    # Topics and payload fields as docs/mqtt.md says.
    topic, payload = sub.messages[0]
    _, hid, device, kind = topic.split("/")
    body = json.loads(payload)
    assert kind in ("thermostat", "electricity_meter", "gas_meter") and hid.startswith("H")
    assert body["ts"].endswith("Z")
    # The file log says the same as the memory log.
    log.close()
    again = EmissionLog.load(tmp_path / "emissions.jsonl")
    assert again.readings == log.readings


def test_malformed_payloads_are_extra_and_really_malformed(tmp_path, mqtt_server, sub):
    settings = _settings(tmp_path, mqtt_server, malformed_rate=0.5, seed=3)
    log = EmissionLog()
    with MqttPublisher.from_settings(settings, log) as publisher:
        for i in range(200):
            publisher.publish("H000001-TH1", "hearth/H000001/H000001-TH1/thermostat",
                              1_767_225_600_000_000_000 + i * 60 * 10**9,
                              {"temp_c": 19.5, "setpoint_c": 20.0, "humidity_pct": 55.0,
                               "heating_on": 1.0})
    assert log.good_count == 200
    assert 60 < len(log.malformed) < 140
    sub.wait_for(200 + len(log.malformed))
    assert len(sub.messages) == 200 + len(log.malformed)
    good = _good(sub.messages)
    valid = [b for b in good["H000001-TH1"] if set(b) == {"ts", "temp_c", "setpoint_c",
                                                           "humidity_pct", "heating_on"}
             and all(isinstance(b[k], float) and math.isfinite(b[k]) and abs(b[k]) < 1e6
                     for k in ("temp_c", "setpoint_c", "humidity_pct"))]
    valid = [b for b in valid if _parses(b["ts"]) and isinstance(b["heating_on"], bool)]
    assert len(valid) == 200
    assert len({b["ts"] for b in valid}) == 200


def _parses(ts: str) -> bool:
    try:
        parse_ts(ts)
    except ValueError:
        return False
    return ts.endswith("Z")


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_malformed_kind_breaks_the_payload_contract(kind):
    rng = np.random.default_rng(1)
    fields = {"energy_kwh": 1234.5, "power_w": 300.0, "supply_on": 1.0}
    got_kind, body = malformed_payload(rng, 1_767_225_600_000_000_000, fields, kind)
    assert got_kind == kind
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=lambda c: float("nan"))
    except (UnicodeDecodeError, ValueError):
        return                                   # not even JSON text
    ok = (isinstance(doc, dict) and isinstance(doc.get("ts"), str) and len(body) < 100_000
          and set(doc) == {"ts", *fields})
    if ok:
        try:
            parse_ts(doc["ts"])
        except ValueError:
            return
        values = [v for k, v in doc.items() if k != "ts"]
        ok = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                 and abs(v) < 1e12 for v in values if not isinstance(v, bool))
        ok = ok and all(isinstance(doc[k], bool) == (k == "supply_on") for k in fields)
    assert not ok, body[:200]


def test_wrong_password_is_a_clear_error(tmp_path, mqtt_server):
    settings = make_settings(tmp_path, SimpleNamespace(url="http://127.0.0.1:1"), mqtt_server,
                             mqtt={"password": "wrong"})
    with pytest.raises(HearthError, match="did not accept"):
        MqttPublisher.from_settings(settings).start(timeout_s=3)
