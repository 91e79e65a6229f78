"""End to end: 50 simulated homes for a few simulated hours at speed, through the simulator's
MQTT publisher (with malformed traffic mixed in) and its Modbus gateways, into `hearth collect`:
every reading the simulator published is in InfluxDB exactly once, with its values; every
malformed payload is dead-lettered; every Modbus meter is polled into InfluxDB."""

from __future__ import annotations

import numpy as np
import pytest

from collectors.deadletter import read_dead_letters
from hearth.cli import build_parser
from hearth.influx import InfluxClient
from hearth.registry import Registry
from hearth.stack import free_port
from meters_sim.mqtt_publisher import EmissionLog
from tests.collectors.mqtt_e2e_support import ServiceThread, wait_until
from tests.conftest import make_settings

MEASUREMENT = {"electricity_meter": "meter", "gas_meter": "meter", "thermostat": "thermostat"}
CHECKED = {"meter": ("energy_kwh", "power_w", "volume_m3", "credit_gbp"),
           "thermostat": ("temp_c", "setpoint_c", "humidity_pct")}


def sim(settings, *argv) -> int:
    args = build_parser().parse_args(["sim", *argv])
    return args.func(args, settings)


def test_fifty_homes_every_published_reading_exactly_once(tmp_path, influx_server, mqtt_server):
    settings = make_settings(
        tmp_path, influx_server, mqtt_server,
        sim={"truth_dir": str(tmp_path / "sim"), "malformed_rate": 0.02, "seed": 5,
             "emission_log_path": str(tmp_path / "sim" / "emissions.jsonl"),
             "mqtt_client_id": "sim-e2e"},
        collectors={"mqtt": {"client_id": "collect-e2e"},
                    "modbus": {"poll_interval_s": 0.5, "timeout_s": 0.5,
                               "backoff_initial_s": 0.2, "backoff_max_s": 0.5}})
    # The homes: 50 generated into the registry, gateways moved to free ports.
    assert sim(settings, "--households", "50", "--duration-s", "0") == 0
    with Registry(settings.registry.target) as reg, reg.transaction() as conn:
        for (port,) in conn.execute("SELECT DISTINCT gateway_port FROM devices"
                                    " WHERE protocol = 'modbus'").fetchall():
            conn.execute("UPDATE devices SET gateway_port = ? WHERE gateway_port = ?",
                         (free_port(), port))
    with Registry(settings.registry.target) as reg:
        devices = {d.device_id: d for d in reg.devices()}
    mqtt_devices = {k for k, d in devices.items() if d.protocol == "mqtt"}
    modbus_devices = {k for k, d in devices.items() if d.protocol == "modbus"}
    assert len(mqtt_devices) >= 50 and modbus_devices

    with ServiceThread(settings) as svc:
        # About 4 simulated hours in a few real seconds, collectors running all along.
        assert sim(settings, "--speed", "2400", "--duration-s", "6") == 0
        log = EmissionLog.load(settings.sim.emission_log_path)
        mqtt = next(c for c in svc.service.collectors if c.type == "mqtt")
        sent = log.good_count + len(log.malformed)
        wait_until(lambda: mqtt.stats.extra["acked"] >= sent, 60, "every message acknowledged")
        wait_until(lambda: svc.service.spool.backlog_readings() == 0, 60, "spool drained")
    assert set(log.readings) <= mqtt_devices
    span_h = (max(t for r in log.readings.values() for t, _ in r)
              - min(t for r in log.readings.values() for t, _ in r)) / 3.6e12
    assert span_h >= 2.0, f"only {span_h:.1f} simulated hours"

    with InfluxClient.from_settings(settings) as db:
        stored = {}
        for measurement in ("meter", "thermostat"):
            for s in db.query(f'SELECT * FROM "raw"."{measurement}" WHERE "source" = \'mqtt\''
                              if measurement == "meter" else
                              f'SELECT * FROM "raw"."{measurement}"'):
                for i, dev in enumerate(s.values["device"]):
                    stored.setdefault(dev, {})[int(s.values["time"][i])] = {
                        c: s.values[c][i] for c in s.columns}
        modbus_counts = {s.tags["device"]: int(s.values["count"][0]) for s in db.query(
            'SELECT count("energy_kwh") FROM "raw"."meter" WHERE "source" = \'modbus\''
            ' GROUP BY "device"')}
    n_checked = 0
    for dev, readings in log.readings.items():
        got = stored.get(dev, {})
        assert len(got) == len(readings), f"{dev}: {len(readings)} published, {len(got)} stored"
        kind = devices[dev].kind
        for t, fields in readings:
            row = got[t]
            for name in CHECKED[MEASUREMENT[kind]]:
                if name in fields:
                    assert row[name] == pytest.approx(fields[name], rel=1e-12), (dev, t, name)
                    n_checked += 1
            if kind == "thermostat" and devices[dev].room:
                assert row["room"] == devices[dev].room
    assert sum(len(v) for v in stored.values()) == log.good_count  # nothing extra either
    assert n_checked > log.good_count

    letters = [d for d in read_dead_letters(settings.collectors.dead_letter_dir)
               if d["source"] == "mqtt"]
    assert len(letters) == len(log.malformed) > 0
    assert all(d["reason"] for d in letters)
    # Modbus: every meter behind the simulated gateways was read, each point once.
    assert set(modbus_counts) == modbus_devices
    assert np.all(np.array(list(modbus_counts.values())) >= 2)
