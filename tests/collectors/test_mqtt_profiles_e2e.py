"""Real devices' payloads through real Mosquitto and InfluxDB: documented Glow and Zigbee2MQTT
messages stored for the households the registry binds them to; an unbound device, a forged
household and a stray topic dead-lettered, counted and shown by `hearth collect status`;
`hearth collect parse` and `bind` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.deadletter import count_by_reason, read_dead_letters
from hearth.influx import InfluxClient
from hearth.registry.bindings import bind
from hearth.registry.store import Registry
from tests.collectors.mqtt_e2e_support import T0_NS, Publisher, ServiceThread, iso, wait_until
from tests.conftest import make_settings

FIXTURES = Path(__file__).parent / "fixtures" / "profiles"
ROOT = Path(__file__).resolve().parents[2]
HOUSEHOLD = {"patch": "North", "estate": "Riverside", "address_area": "RS1",
             "property_type": "flat", "bedrooms": 2, "floor_area_m2": 60.0,
             "payment_type": "prepayment", "has_gas": 1, "heating": "gas", "epc_band": "D",
             "means_tested_benefits": 1, "vulnerable": 0, "vulnerability_notes": "",
             "occupancy": "home_all_day", "occupants": 2, "tenancy_start": "2020-01-01"}


def documented(name: str) -> tuple[str, dict]:
    doc = json.loads((FIXTURES / name).read_text())
    return doc["topic"], doc["payload"]


def make_registry(path: Path) -> None:
    with Registry(path) as reg, reg.transaction() as conn:
        for hid in ("H000001", "H000002"):
            row = {"household_id": hid, **HOUSEHOLD}
            conn.execute(f"INSERT INTO households ({', '.join(row)}) VALUES"
                         f" ({', '.join('?' * len(row))})", list(row.values()))
        conn.execute("INSERT INTO devices (device_id, household_id, kind, protocol, mqtt_topic,"
                     " room, interval_s) VALUES ('E2', 'H000002', 'electricity_meter', 'mqtt',"
                     " 'hearth/H000002/E2/electricity_meter', NULL, 60)")
    with Registry(path) as reg:
        bind(reg, [("glow", "A1B2C3D4E5F6", "H000001", "GLOW-E1", "electricity_meter", None, None),
                   ("glow", "A1B2C3D4E5F6", "H000001", "GLOW-G1", "gas_meter", None, None),
                   ("zigbee2mqtt", "bedroom_sensor", "H000001", "Z-T1", "thermostat", "bedroom",
                    None)])


@pytest.fixture
def profile_settings(tmp_path, influx_server, mqtt_server, request):
    settings = make_settings(tmp_path, influx_server, mqtt_server, collectors={
        "mqtt": {"client_id": f"test-{request.node.name[:40]}",
                 "extra_subscriptions": ["strays/#"]},
        "summary_interval_s": 2.0})
    make_registry(settings.registry.target)
    return settings


def test_documented_glow_and_zigbee2mqtt_payloads_stored_strangers_dead_lettered(
        profile_settings, mqtt_server, capsys):
    e_topic, elec = documented("glow_electricitymeter.json")
    g_topic, gas = documented("glow_gasmeter.json")
    z_topic, aqara = documented("z2m_wsdcgq11lm.json")
    # The documented payloads, with their sample times moved to two days ago (InfluxDB keeps
    # raw readings 90 days): Glow's UTC "Z" time and Zigbee2MQTT's local time with an offset.
    elec["electricitymeter"]["timestamp"] = iso(T0_NS)
    gas["gasmeter"]["timestamp"] = iso(T0_NS)
    aqara["last_seen"] = iso(T0_NS + 3600 * 10**9).replace("Z", "+01:00")  # = T0 in UTC
    stranger = json.dumps({"temperature": 30.0, "humidity": 10}).encode()
    unbound_cad = json.loads(json.dumps(elec))
    unbound_cad["electricitymeter"]["energy"]["import"]["mpan"] = "1234567890123"
    forged = json.dumps({"ts": iso(T0_NS), "energy_kwh": 5.0}).encode()
    messages = [(e_topic, json.dumps(elec).encode()), (g_topic, json.dumps(gas).encode()),
                (z_topic, json.dumps(aqara).encode()),
                ("zigbee2mqtt/someone_elses_sensor", stranger),
                ("glow/FFFFFFFFFFFF/SENSOR/electricitymeter", json.dumps(unbound_cad).encode()),
                ("hearth/H000001/E2/electricity_meter", forged),   # E2 is H000002's meter
                ("strays/plug7/power", b"12.5")]
    with ServiceThread(profile_settings) as svc, \
            InfluxClient.from_settings(profile_settings) as db:
        mqtt = next(c for c in svc.service.collectors if c.type == "mqtt")
        assert {"glow/+/SENSOR/electricitymeter", "zigbee2mqtt/+", "strays/#"} <= set(mqtt.topics)
        pub = Publisher(mqtt_server.port, client_id="test-profiles-pub")
        pub.publish(messages)
        pub.close()
        wait_until(lambda: mqtt.stats.extra["acked"] >= len(messages), 30, "messages acked")
        wait_until(lambda: svc.service.writer.stats.written >= 3, 30, "points written")
        meter = {s.tags["device"]: s for s in db.query(
            'SELECT * FROM "raw"."meter" GROUP BY "device"')}
        assert set(meter) == {"GLOW-E1", "GLOW-G1"}  # the forged E2 reading is not there
        e = meter["GLOW-E1"].values
        assert int(e["time"][0]) == T0_NS
        assert e["energy_kwh"][0] == 4595.563 and e["power_w"][0] == 623.0
        assert e["energy_export_kwh"][0] == 0.0
        assert e["household"][0] == "H000001" and e["fuel"][0] == "electricity"
        assert meter["GLOW-G1"].values["energy_kwh"][0] == 6728.026
        assert meter["GLOW-G1"].values["fuel"][0] == "gas"
        th = db.query('SELECT * FROM "raw"."thermostat"')[0].values
        assert th["temp_c"] == [17.42] and th["humidity_pct"] == [71.3]
        assert th["room"] == ["bedroom"] and th["household"] == ["H000001"]
        assert int(th["time"][0]) == T0_NS
        assert mqtt.router.unmatched == {"strays": 1}
        assert mqtt.router.rejected["unknown_device"] == 2
        assert mqtt.router.rejected["household_mismatch"] == 1
    counts = count_by_reason(profile_settings.collectors.dead_letter_dir)
    assert counts[("mqtt", "unknown_device")] == 2
    assert counts[("mqtt", "household_mismatch")] == 1
    assert counts[("mqtt", "unmatched_topic")] == 1
    letters = {r["topic"]: r for r in
               read_dead_letters(profile_settings.collectors.dead_letter_dir)}
    assert letters["zigbee2mqtt/someone_elses_sensor"]["raw"] == stranger.decode()  # whole
    cad = letters["glow/FFFFFFFFFFFF/SENSOR/electricitymeter"]["raw"]
    assert "1234567890123" not in cad and '"mpan":"[removed]"' in cad  # the rest kept
    assert json.loads(cad)["electricitymeter"]["energy"]["import"]["cumulative"] == 4595.563
    assert letters["strays/plug7/power"]["reason"].startswith("unmatched_topic")

    from collectors.cli import status_handler

    status_handler(None, profile_settings)
    out = capsys.readouterr().out
    assert "topics no profile matches" in out and "       1  strays" in out


def hearth_cli(settings_file: Path, *args: str, stdin: bytes | None = None):
    return subprocess.run([sys.executable, "-m", "hearth", "--config", str(settings_file),
                           *args], input=stdin, capture_output=True, cwd=ROOT, timeout=60)


@pytest.fixture
def settings_file(tmp_path):
    registry = tmp_path / "registry.sqlite3"
    make_registry(registry)
    path = tmp_path / "hearth.toml"
    path.write_text(f'[paths]\nvar_dir = "{tmp_path}"\n[registry]\npath = "{registry}"\n')
    return path


def test_cli_parse_prints_line_protocol_or_the_dead_letter_reason(settings_file):
    topic, payload = documented("tasmota_energy.json")
    body = json.dumps(payload).encode()
    done = hearth_cli(settings_file, "collect", "parse", "--profile", "tasmota", "--topic", topic,
                      "--household", "H000009", "--kind", "electricity_meter", "-", stdin=body)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip() == (
        "meter,device=kitchen_pow,fuel=electricity,household=H000009,source=mqtt"
        " energy_kwh=0.017,energy_export_kwh=0.0,power_w=0.0,voltage_v=234.31,current_a=0.039"
        " 1601034435000000000")  # 2020-09-25T12:47:15 BST
    # as registered: the Glow CAD is bound, an unbound one is not
    g_topic, glow = documented("glow_electricitymeter.json")
    done = hearth_cli(settings_file, "collect", "parse", "--profile", "glow", "--topic",
                      g_topic.replace("A1B2C3D4E5F6", "FFFFFFFFFFFF"), "-",
                      stdin=json.dumps(glow).encode())
    assert done.returncode == 1
    assert done.stdout.decode().startswith("dead letter: unknown_device: glow device"
                                           " 'FFFFFFFFFFFF' is not bound")
    done = hearth_cli(settings_file, "collect", "parse", "--profile", "glow", "--topic",
                      g_topic, "-", stdin=json.dumps(glow).encode())
    assert done.returncode == 0, done.stdout
    assert done.stdout.decode().startswith(
        "meter,device=GLOW-E1,fuel=electricity,household=H000001,source=mqtt energy_kwh=4595.563")


def test_cli_parse_hearth_format_against_the_registry(settings_file):
    body = json.dumps({"ts": "2026-01-05T07:30:00Z", "energy_kwh": 20794.903,
                       "power_w": -512.0}).encode()
    ok = hearth_cli(settings_file, "collect", "parse", "--profile", "hearth", "--topic",
                    "hearth/H000002/E2/electricity_meter", "-", stdin=body)
    assert ok.returncode == 0, ok.stdout
    assert ok.stdout.decode().strip() == (
        "meter,device=E2,fuel=electricity,household=H000002,source=mqtt"
        " energy_kwh=20794.903,power_w=-512.0 1767598200000000000")
    forged = hearth_cli(settings_file, "collect", "parse", "--profile", "hearth", "--topic",
                        "hearth/H000001/E2/electricity_meter", "-", stdin=body)
    assert forged.returncode == 1
    assert forged.stdout.startswith(b"dead letter: household_mismatch: device 'E2'")


def test_cli_bind_list_unbind(settings_file):
    done = hearth_cli(settings_file, "collect", "bind", "--profile", "shelly-gen2",
                      "--device-ref", "shellyplus1pm-441793a3c0e4", "--kind", "appliance",
                      "--household", "H000002", "--device-id", "S-1")
    assert done.returncode == 0, done.stderr
    assert b"topics shellyplus1pm-441793a3c0e4/status/switch:0" in done.stdout
    bad = hearth_cli(settings_file, "collect", "bind", "--profile", "shelly-gen2",
                     "--device-ref", "x", "--kind", "thermostat", "--household", "H000002",
                     "--device-id", "S-2")
    assert bad.returncode == 2 and b"gives appliance, not thermostat" in bad.stderr
    dup = hearth_cli(settings_file, "collect", "bind", "--profile", "zigbee2mqtt",
                     "--device-ref", "x", "--kind", "thermostat", "--household", "H000404",
                     "--device-id", "Z-9", "--room", "hall")
    assert dup.returncode == 2 and b"no household 'H000404'" in dup.stderr
    listed = hearth_cli(settings_file, "collect", "bindings")
    assert b"shellyplus1pm-441793a3c0e4" in listed.stdout and b"4 bound device(s)" in listed.stdout
    gone = hearth_cli(settings_file, "collect", "unbind", "--profile", "shelly-gen2",
                      "--device-ref", "shellyplus1pm-441793a3c0e4")
    assert gone.returncode == 0 and b"removed 1 binding(s)" in gone.stdout
