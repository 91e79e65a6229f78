"""End to end: registry meters behind simulated gateways, `hearth collect`'s service (Modbus
collector, durable spool, writer) into the real InfluxDB. Every answer a gateway gave is in
InfluxDB exactly once with its values, across a gateway restart."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import numpy as np

from collectors.service import CollectService
from hearth.influx import InfluxClient
from hearth.registermap import DEFAULT_MAPS_DIR, load_register_maps
from hearth.registry import Registry
from hearth.registry.generate import GenerateOptions, generate_portfolio, write_portfolio
from hearth.stack import free_port
from meters_sim.modbus_gateway import gateways_for_devices
from tests.conftest import make_settings

MAPS = load_register_maps(DEFAULT_MAPS_DIR)


def test_served_readings_reach_influxdb_exactly_once(tmp_path, influx_server, mqtt_server):
    settings = make_settings(tmp_path, influx_server, mqtt_server, collectors={
        "mqtt": {"enabled": False},
        "modbus": {"poll_interval_s": 0.4, "timeout_s": 0.5, "backoff_initial_s": 0.2,
                   "backoff_max_s": 0.4}})
    with Registry(settings.registry.target) as reg:
        write_portfolio(reg, generate_portfolio(GenerateOptions(households=30, seed=11,
                                                                units_per_gateway=12)))
        with reg.transaction() as conn:
            for (port,) in conn.execute("SELECT DISTINCT gateway_port FROM devices "
                                        "WHERE protocol = 'modbus'").fetchall():
                conn.execute("UPDATE devices SET gateway_port = ? WHERE gateway_port = ?",
                             (free_port(), port))
        rows = reg.devices(protocol="modbus")
    polls = defaultdict(int)

    def values_of(device_id):  # live meters: every answer is different
        n = polls[device_id] = polls[device_id] + 1
        if device_id.endswith("GM1"):
            return {"volume_m3": 100.0 + n / 8, "energy_kwh": 1100.0 + n}
        return {"energy_kwh": 2000.0 + n / 100, "power_w": 250.0 + n, "voltage_v": 239.0,
                "credit_gbp": 20.0 - n / 10, "supply_on": 1}

    async def main():
        group = gateways_for_devices(rows, values_of, MAPS, bind_host="127.0.0.1", record=True)
        async with group:
            service = CollectService(settings, serve_metrics=False)
            stop = asyncio.Event()
            task = asyncio.create_task(service.run(stop))
            await asyncio.sleep(1.5)
            restarted = group.gateways[0]
            await restarted.stop()  # a gateway reboots mid-run
            await asyncio.sleep(0.8)
            await restarted.start()
            await asyncio.sleep(1.5)
            stop.set()
            await asyncio.wait_for(task, 30)
        return group, service

    group, service = asyncio.run(main())
    modbus = next(c for c in service.collectors if c.name == "modbus")
    assert modbus.counters.reconnects >= 1

    device_of = {(f"{r.gateway_host}:{r.gateway_port}", r.unit_id): r.device_id for r in rows}
    served = defaultdict(list)
    for gateway in group:
        for record in gateway.served:
            served[device_of[(gateway.name, record.unit_id)]].append(record)
    with InfluxClient.from_settings(settings) as client:
        series = {s.tags["device"]: s for s in client.query("SELECT * FROM meter GROUP BY device")}
    assert set(series) == {row.device_id for row in rows}
    total = 0
    for device_id, s in series.items():
        sent = served[device_id]
        total += len(s)
        assert len(sent) - len(s) in (0, 1), device_id  # but an answer in flight at stop
        assert len(set(s.values["time"].tolist())) == len(s)  # no duplicates
        np.testing.assert_allclose(s.values["energy_kwh"],
                                   [r.values["energy_kwh"] for r in sent[:len(s)]], atol=0.005)
    assert total == modbus.stats.readings_in

