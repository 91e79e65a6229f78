"""The stack's broker and InfluxDB with least privilege, on the real servers: `hearth stack up`
(free ports, its own var/) makes a local CA, per-home hub identities and an ACL from the
registry, and InfluxDB writer and reader users.

Mosquitto's ACL semantics (Mosquitto 2.0 mosquitto.conf(5), `acl_file`): once an ACL file is
given, a user may only read or write the topics its lines grant; a denied subscription is
accepted but nothing is delivered; a denied publish gets a PUBACK with reason code 135 (Not
authorized, MQTT 5) and is dropped.
"""

from __future__ import annotations

import os
import shutil
import ssl
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import requests
from paho.mqtt.enums import CallbackAPIVersion

from hearth.broker.credentials import hub_credentials
from hearth.broker.tls import ensure_local_ca
from hearth.cli import main
from hearth.influx import InfluxClient
from hearth.registry.store import Registry
from hearth.settings import load_settings
from hearth.stack import free_port
from meters_sim.mqtt_publisher import MqttPublisher
from tests.conftest import broker_dir

WAIT_S = 1.5  # how long a message the broker would deliver takes, with a wide margin


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = broker_dir("hearth-secure-")
    config = home / "hearth.toml"
    config.write_text(f"""
[paths]
var_dir = "{home / 'var'}"
[influxdb]
url = "http://127.0.0.1:{free_port()}"
rpc_port = {free_port()}
database = "secure_test"
[mqtt]
port = {free_port()}
[registry]
path = "{home / 'var' / 'registry.sqlite3'}"
[collectors]
spool_dir = "{home / 'var' / 'spool'}"
dead_letter_dir = "{home / 'var' / 'dead_letters'}"
metrics_port = {free_port()}
[collectors.mqtt]
client_id = "secure-test-collector"
""")
    env = {"HEARTH_HOME": str(home), "HEARTH_INFLUX_PASSWORD": "secure-admin-pw",
           "HEARTH_MQTT_PASSWORD": "secure-collector-pw"}
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    args = ["--config", str(config)]
    assert main([*args, "registry", "generate", "--households", "3", "--seed", "1"]) == 0
    assert main([*args, "stack", "up"]) == 0
    yield args, load_settings(config)
    main([*args, "stack", "down"])
    mp.undo()
    if not os.environ.get("HEARTH_TEST_KEEP"):
        shutil.rmtree(home, ignore_errors=True)


class Client:
    """A paho client over TLS that records what it receives."""

    def __init__(self, settings, username, password, ca=None, client_id=None):
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or username + "-t",
                             protocol=mqtt.MQTTv5)
        self.c.username_pw_set(username, password)
        self.c.tls_set(ca_certs=str(ca or settings.paths.var_dir / "tls" / "ca.crt"))
        self.got: list[tuple[str, bytes]] = []
        self.acks: dict[int, object] = {}
        self.connected = threading.Event()
        self.c.on_connect = lambda c, u, f, rc, p: rc.is_failure or self.connected.set()
        self.c.on_message = lambda c, u, m: self.got.append((m.topic, m.payload))
        self.c.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc)
        self.c.connect("127.0.0.1", settings.mqtt.port)
        self.c.loop_start()
        assert self.connected.wait(5), f"{username} could not connect"

    def publish(self, topic, body=b'{"x": 1}'):
        info = self.c.publish(topic, body, qos=1)
        info.wait_for_publish(5)
        return self.acks.get(info.mid)

    def subscribe(self, topic):
        self.c.subscribe(topic, qos=1)
        time.sleep(0.3)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def _hubs(settings):
    with Registry(settings.registry.target) as reg:
        return hub_credentials(reg), reg.devices(protocol="mqtt")


def _collector(settings, name="collector"):
    m = settings.mqtt
    return Client(settings, m.username, m.password.get_secret_value(), client_id=name)


def test_broker_runs_as_mosquitto_with_private_keys(stack):
    _, settings = stack
    pid = int((settings.paths.var_dir / "mosquitto" / "mosquitto.pid").read_text())
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    uid = int(next(line for line in status if line.startswith("Uid:")).split()[1])
    assert uid != 0
    tls = settings.paths.var_dir / "tls"
    for key in ("ca.key", "mqtt-server.key"):
        assert (tls / key).stat().st_mode & 0o777 == 0o600
    for f in ("passwd", "acl"):
        assert (settings.paths.var_dir / "mosquitto" / f).stat().st_mode & 0o777 == 0o600
    # The registry keeps the hubs' passwords (and tenants' details): owner only.
    assert settings.registry.path.stat().st_mode & 0o777 == 0o600
    conf = (settings.paths.var_dir / "mosquitto" / "mosquitto.conf").read_text()
    assert "autosave_on_changes true\nautosave_interval 1\n" in conf
    assert "max_queued_messages 1000000" in conf


def test_a_hub_reads_nothing_and_publishes_only_for_its_own_home(stack):
    _, settings = stack
    creds, devices = _hubs(settings)
    (h1, c1), (h2, c2) = list(creds.items())[:2]
    own = next(d for d in devices if d.household_id == h1)
    other = next(d for d in devices if d.household_id == h2)
    collector = _collector(settings)
    spy = Client(settings, c2.username, c2.password)
    hub = Client(settings, c1.username, c1.password)
    try:
        collector.subscribe("#")
        spy.subscribe("#")
        denied = [hub.publish(other.mqtt_topic, b'{"forged": true}'),  # another home's device
                  hub.publish(f"hearth/{h1}/not-registered/thermostat")]  # not one of its own
        assert [rc.value for rc in denied] == [135, 135]  # MQTT 5 PUBACK "Not authorized"
        assert not hub.publish(own.mqtt_topic, b'{"own": true}').is_failure
        time.sleep(WAIT_S)
        assert collector.got == [(own.mqtt_topic, b'{"own": true}')]
        assert spy.got == []  # subscribed to everything, received nothing
    finally:
        for c in (collector, spy, hub):
            c.close()


def test_the_collector_cannot_publish(stack):
    _, settings = stack
    creds, devices = _hubs(settings)
    h1, c1 = next(iter(creds.items()))
    own = next(d for d in devices if d.household_id == h1)
    collector = _collector(settings)
    hub = Client(settings, c1.username, c1.password)
    try:
        collector.subscribe("#")
        assert collector.publish(own.mqtt_topic, b'{"from": "collector"}').value == 135
        hub.publish(own.mqtt_topic, b'{"from": "hub"}')
        time.sleep(WAIT_S)
        assert collector.got == [(own.mqtt_topic, b'{"from": "hub"}')]
    finally:
        collector.close()
        hub.close()


def test_tls_is_required_and_a_wrong_ca_is_refused(stack, tmp_path):
    _, settings = stack
    m = settings.mqtt
    wrong = ensure_local_ca(tmp_path / "other-ca")
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="wrong-ca", protocol=mqtt.MQTTv5)
    c.username_pw_set(m.username, m.password.get_secret_value())
    c.tls_set(ca_certs=str(wrong.ca_cert))
    with pytest.raises(ssl.SSLCertVerificationError):
        c.connect("127.0.0.1", m.port)
    plain = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="no-tls", protocol=mqtt.MQTTv5)
    plain.username_pw_set(m.username, m.password.get_secret_value())
    answered = threading.Event()
    plain.on_connect = lambda *a: answered.set()
    plain.connect("127.0.0.1", m.port)
    plain.loop_start()
    try:
        assert not answered.wait(2)  # the TLS listener never answers a plain CONNECT
    finally:
        plain.loop_stop()


def test_simulator_publishes_as_each_home_hub_over_tls(stack):
    _, settings = stack
    creds, devices = _hubs(settings)
    collector = _collector(settings)
    try:
        collector.subscribe("hearth/#")
        with MqttPublisher.from_settings(settings) as pub:
            assert pub.connections == len(creds)
            for d in devices:
                pub.publish(d.device_id, d.mqtt_topic, 1_767_225_600_000_000_000,
                            {"temp_c": 19.0})
            assert pub.flush(5)
        time.sleep(0.5)
        assert sorted(t for t, _ in collector.got) == sorted(d.mqtt_topic for d in devices)
        one = devices[0]
        with MqttPublisher.from_settings(settings, device_ids=[one.device_id]) as pub:
            assert pub.connections == 1  # a simulator of one patch connects only its hubs
    finally:
        collector.close()


def test_new_homes_get_identities_after_generate_and_the_broker_reloads(stack, capsys):
    args, settings = stack
    before, _ = _hubs(settings)
    assert main([*args, "registry", "generate", "--households", "5", "--seed", "1",
                 "--replace"]) == 0
    assert "mosquitto reloaded" in capsys.readouterr().out
    after, devices = _hubs(settings)
    new = sorted(set(after) - set(before))
    assert new
    cred = after[new[0]]
    topic = next(d.mqtt_topic for d in devices if d.household_id == new[0])
    collector = _collector(settings, "collector-reload")
    hub = Client(settings, cred.username, cred.password)
    try:
        collector.subscribe("hearth/#")
        hub.publish(topic)
        time.sleep(WAIT_S)
        assert [t for t, _ in collector.got] == [topic]
    finally:
        hub.close()
        collector.close()


def test_device_credentials_prints_and_rotates(stack, capsys):
    args, settings = stack
    creds, devices = _hubs(settings)
    device = devices[0]
    old = creds[device.household_id]
    assert main([*args, "registry", "device-credentials", device.device_id]) == 0
    out = capsys.readouterr().out
    assert old.username in out and old.password in out and device.mqtt_topic.rsplit("/", 1)[0] in out
    assert main([*args, "registry", "device-credentials", device.device_id, "--rotate"]) == 0
    out = capsys.readouterr().out
    new = _hubs(settings)[0][device.household_id]
    # A revoked credential restarts the broker rather than SIGHUP (hearth/stack.py, apply()).
    assert new.password != old.password and new.password in out and "mosquitto restarted" in out
    with Registry(settings.registry.target) as reg:
        actions = [e["action"] for e in reg.audit_entries(target=old.username)]
        assert "broker_credential_rotated" in actions and "broker_credential_shown" in actions
        assert not any(old.password in str(e) or new.password in str(e)
                       for e in reg.audit_entries(target=old.username))
    Client(settings, new.username, new.password, client_id="rotated").close()
    refused = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="old-pw", protocol=mqtt.MQTTv5)
    refused.username_pw_set(old.username, old.password)
    refused.tls_set(ca_certs=str(settings.paths.var_dir / "tls" / "ca.crt"))
    codes = []
    refused.on_connect = lambda c, u, f, rc, p: codes.append(rc)
    refused.connect("127.0.0.1", settings.mqtt.port)
    refused.loop_start()
    time.sleep(1)
    refused.loop_stop()
    assert codes and codes[0].is_failure


def test_influx_reader_cannot_write_and_writer_cannot_manage_databases(stack):
    _, settings = stack
    s = settings.influxdb
    assert s.writer_password is not None and s.reader_password is not None  # made by stack up
    url = s.url
    line = ("meter,household=H000001,device=H000001-EM1,fuel=electricity energy_kwh=1"
            f" {time.time_ns()}")
    reader = (s.reader_username, s.reader_password.get_secret_value())
    writer = (s.writer_username, s.writer_password.get_secret_value())
    r = requests.post(f"{url}/write", params={"db": s.database}, data=line, auth=reader)
    assert r.status_code == 403
    r = requests.post(f"{url}/write", params={"db": s.database}, data=line, auth=writer)
    assert r.status_code == 204
    r = requests.get(f"{url}/query", params={"db": s.database, "q": "SELECT * FROM meter"},
                     auth=reader)
    assert r.status_code == 200 and "H000001" in r.text
    for q in ("CREATE DATABASE other", f'DROP DATABASE "{s.database}"', "CREATE USER x WITH"
              " PASSWORD 'y' WITH ALL PRIVILEGES"):
        r = requests.post(f"{url}/query", data={"q": q}, auth=writer)
        assert r.status_code == 403, (q, r.text)
    # The parts' clients are these users.
    with InfluxClient.from_settings(settings) as c:
        assert c.username == s.writer_username
    with InfluxClient.from_settings(settings, role="reader") as c:
        assert c.username == s.reader_username


def test_collector_over_tls_stores_the_homes_readings_and_never_a_forged_one(stack):
    """The real collector (its subscribe-only identity, TLS, the InfluxDB writer) and the
    simulator's hubs: every genuine reading is stored; one home's hub forging another home's
    thermostat never reaches InfluxDB."""
    import asyncio

    from collectors.base import create_collector
    from collectors.mqtt import MqttConfig
    from collectors.service import CollectService
    from meters_sim.mqtt_publisher import encode_payload

    _, settings = stack
    creds, devices = _hubs(settings)
    devices = [d for d in devices if d.kind == "thermostat"]
    t_ns = (time.time_ns() // 10**9 - 3600) * 10**9
    service = CollectService(settings, collectors=[], serve_metrics=False)
    service.collectors = [create_collector("mqtt", "mqtt", MqttConfig.from_settings(settings),
                                           service.spool)]
    stop: list[asyncio.Event] = []
    loops: list[asyncio.AbstractEventLoop] = []
    loop_ready = threading.Event()

    def run():
        async def main():
            stop.append(asyncio.Event())
            loops.append(asyncio.get_running_loop())
            loop_ready.set()
            await service.run(stop[0])
        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert loop_ready.wait(10)
    assert service.collectors[0]._connected.wait(10), "collector did not subscribe over TLS"
    victim = devices[-1]
    attacker = next(c for h, c in creds.items() if h != victim.household_id)
    try:
        with MqttPublisher.from_settings(settings) as pub:
            for d in devices:
                pub.publish(d.device_id, d.mqtt_topic, t_ns, {"temp_c": 19.0,
                                                              "humidity_pct": 50.0})
            assert pub.flush(10)
        forger = Client(settings, attacker.username, attacker.password, client_id="forger")
        forger.publish(victim.mqtt_topic, encode_payload(t_ns + 60 * 10**9,
                                                         {"temp_c": 9.0, "humidity_pct": 95.0}))
        forger.close()
        deadline = time.monotonic() + 20
        rows: list = []
        with InfluxClient.from_settings(settings, role="reader") as db:
            while time.monotonic() < deadline:
                rows = [r for s in db.query("SELECT device, temp_c FROM thermostat")
                        for r in s.values.get("device", [])]
                if len(rows) >= len(devices):
                    break
                time.sleep(0.5)
            time.sleep(1.0)  # room for a forged point to land, if it could
            series = db.query("SELECT device, temp_c FROM thermostat")
        got = [(d, t) for s in series for d, t in zip(s.values["device"], s.values["temp_c"],
                                                      strict=True)]
        assert sorted(d for d, _ in got) == sorted(d.device_id for d in devices)
        assert all(t == 19.0 for _, t in got)  # the forged 9.0 C never arrived
    finally:
        loops[0].call_soon_threadsafe(stop[0].set)
        thread.join(60)


def test_a_wrong_ca_is_named_in_the_errors_of_the_simulator_and_the_collector(stack, tmp_path,
                                                                               caplog):
    import logging

    from collectors.base import create_collector
    from collectors.mqtt import MqttConfig
    from hearth.errors import HearthError

    _, settings = stack
    wrong = ensure_local_ca(tmp_path / "other-ca")
    bad = settings.model_copy(update={"mqtt": settings.mqtt.model_copy(
        update={"tls_ca_path": wrong.ca_cert})})
    with pytest.raises(HearthError, match="does not verify against"):
        MqttPublisher.from_settings(bad).start(timeout_s=3)
    collector = create_collector("mqtt", "mqtt", MqttConfig.from_settings(bad), sink=None)
    with caplog.at_level(logging.ERROR, logger="collectors.mqtt"):
        collector.start()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and "does not verify" not in caplog.text:
                time.sleep(0.1)
        finally:
            collector.shutdown()
    assert "certificate does not verify against" in caplog.text
    assert not collector._connected.is_set()


def test_the_commands_work_as_writer_and_reader_without_the_admin_password(stack, tmp_path):
    """`hearth` subprocesses given a wrong admin password: any part that used the admin user
    would fail with 401. The writer backfills and derives usage; the reader exports a home."""
    import os
    import subprocess
    import sys

    args, settings = stack
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH")}
    env.update(HEARTH_HOME=str(settings.paths.var_dir.parent),
               HEARTH_INFLUX_PASSWORD="not-the-admin-password",
               HEARTH_MQTT_PASSWORD=settings.mqtt.password.get_secret_value())
    household = next(iter(_hubs(settings)[0]))

    def hearth(*cmd):
        done = subprocess.run([sys.executable, "-m", "hearth", *args, *cmd], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "using the admin user" not in done.stderr
        return done

    hearth("sim", "--backfill", "1", "--duration-s", "0", "--no-mqtt", "--no-modbus")
    hearth("collect", "derive-usage")
    hearth("tenant", "export", household, "--out", str(tmp_path / "export"))
    exported = (tmp_path / "export" / "subject_access.json").read_text()
    assert household in exported
    with InfluxClient.from_settings(settings, role="reader") as db:
        assert db.query("SELECT count(energy_kwh) FROM usage.usage_30m")


def test_importing_devices_gives_their_home_an_identity_and_reloads(stack, tmp_path, capsys):
    """docs/examples/households.csv, then one MQTT thermostat for one of those homes."""
    from hearth.settings.loader import ROOT_DIR

    args, settings = stack
    assert main([*args, "registry", "import", str(ROOT_DIR / "docs/examples/households.csv")]) == 0
    csv = tmp_path / "devices.csv"
    csv.write_text("device_id,household_id,kind,protocol,gateway_host,gateway_port,unit_id,"
                   "register_map,mqtt_topic,room,interval_s\n"
                   "H100001-TH9,H100001,thermostat,mqtt,,,,,,living_room,300\n")
    capsys.readouterr()
    assert main([*args, "registry", "import", str(csv)]) == 0
    assert "mosquitto reloaded" in capsys.readouterr().out
    cred = _hubs(settings)[0]["H100001"]
    collector = _collector(settings, "collector-import")
    hub = Client(settings, cred.username, cred.password)
    try:
        collector.subscribe("hearth/#")
        assert not hub.publish("hearth/H100001/H100001-TH9/thermostat").is_failure
        time.sleep(WAIT_S)
        assert [t for t, _ in collector.got] == ["hearth/H100001/H100001-TH9/thermostat"]
    finally:
        hub.close()
        collector.close()


def test_a_bound_zigbee_sensor_publishes_through_its_homes_hub(stack, capsys):
    """docs/devices.md: `hearth collect bind` a Zigbee2MQTT sensor to a home; the home's hub
    may then publish zigbee2mqtt/<friendly_name>, and no other home's hub may."""
    args, settings = stack
    creds, _ = _hubs(settings)
    home, other = sorted(creds)[:2]
    assert main([*args, "collect", "bind", "--profile", "zigbee2mqtt", "--device-ref",
                 "bedroom_sensor", "--kind", "thermostat", "--household", home,
                 "--device-id", f"{home}-ZB1", "--room", "bedroom"]) == 0
    assert "mosquitto reloaded" in capsys.readouterr().out
    creds, _ = _hubs(settings)
    collector = _collector(settings, "collector-bind")
    ours = Client(settings, creds[home].username, creds[home].password, client_id="zb-ours")
    theirs = Client(settings, creds[other].username, creds[other].password, client_id="zb-x")
    try:
        collector.subscribe("zigbee2mqtt/#")
        assert theirs.publish("zigbee2mqtt/bedroom_sensor", b'{"temperature": 5}').value == 135
        assert not ours.publish("zigbee2mqtt/bedroom_sensor", b'{"temperature": 19}').is_failure
        time.sleep(WAIT_S)
        assert collector.got == [("zigbee2mqtt/bedroom_sensor", b'{"temperature": 19}')]
    finally:
        for c in (collector, ours, theirs):
            c.close()
