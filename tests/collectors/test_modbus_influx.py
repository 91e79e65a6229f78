"""Modbus readings land in the real InfluxDB as DESIGN.md lays them out: every answer a
gateway gave is one point (tags, float fields, boolean supply_on), with the sample time."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import numpy as np

from collectors.modbus import ModbusCollector, ModbusCollectorConfig
from collectors.modbus_devices import ModbusDevice
from hearth.influx import InfluxClient, Point
from hearth.registermap import DEFAULT_MAPS_DIR, load_register_maps
from hearth.settings.rooms import ModbusCollectorSettings
from meters_sim.modbus_gateway import ModbusGateway

MAPS = load_register_maps(DEFAULT_MAPS_DIR)


class InfluxSink:
    """Writes straight to InfluxDB (the collect service puts the spool in between)."""

    def __init__(self, client):
        self.client, self.dead_letters = client, []

    def put(self, readings, source):
        result = self.client.write_points([Point(r.measurement, dict(r.tags), dict(r.fields),
                                                 r.time_ns) for r in readings])
        assert result.dead_lettered == 0

    def dead_letter(self, source, reason, raw):
        self.dead_letters.append(reason)


def test_readings_in_influxdb_match_what_the_gateway_served(settings):
    polls = defaultdict(int)

    def values(unit):
        polls[unit] += 1
        n = polls[unit]
        if unit == 3:
            return {"volume_m3": 500.0 + n / 4, "energy_kwh": 5600.0 + n}
        return {"energy_kwh": 1000.0 * unit + n / 100, "power_w": 100.0 * unit + n,
                "voltage_v": 240.0, "credit_gbp": 5.0 - n, "supply_on": int(n % 3 != 0)}

    units = {1: MAPS["hearth-sim-em1"], 2: MAPS["hearth-sim-em1"], 3: MAPS["hearth-sim-gas"]}

    async def main(client):
        gateway = ModbusGateway(units, values, record=True)
        async with gateway:
            devices = [ModbusDevice(f"D{u}", f"H00000{u}", "gas" if u == 3 else "electricity",
                                    "127.0.0.1", gateway.port, u, rmap)
                       for u, rmap in units.items()]
            coll = ModbusCollector("modbus", ModbusCollectorConfig(
                ModbusCollectorSettings(poll_interval_s=0.3, timeout_s=0.5), devices),
                InfluxSink(client))
            stop = asyncio.Event()
            task = asyncio.create_task(coll.run(stop))
            await asyncio.sleep(1.6)
            stop.set()
            await task
        return gateway, coll

    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        gateway, coll = asyncio.run(main(client))
        series = client.query("SELECT * FROM meter GROUP BY device, household, fuel, source")

    served = defaultdict(list)
    for record in gateway.served:
        served[f"D{record.unit_id}"].append(record)
    got = {s.tags["device"]: s for s in series}
    assert set(got) == {"D1", "D2", "D3"}
    assert coll.stats.readings_in == sum(len(s) for s in series)
    for device_id, s in got.items():
        sent = served[device_id]
        assert len(sent) - len(s) in (0, 1)  # one answer may have been in flight at stop
        sent = sent[:len(s)]
        assert s.tags == {"device": device_id, "household": f"H00000{device_id[1]}",
                          "fuel": "gas" if device_id == "D3" else "electricity",
                          "source": "modbus"}
        times = s.values["time"]
        assert np.all(np.diff(times) > 0)
        assert np.all(np.abs(times - np.array([r.time_ns for r in sent])) < 250_000_000)
        if device_id == "D3":
            np.testing.assert_array_equal(s.values["volume_m3"], [r.values["volume_m3"]
                                                                  for r in sent])
            assert "power_w" not in s.columns or np.all(np.isnan(s.values["power_w"]))
        else:
            np.testing.assert_allclose(s.values["energy_kwh"],
                                       [r.values["energy_kwh"] for r in sent], atol=0.005)
            np.testing.assert_allclose(s.values["credit_gbp"],
                                       [r.values["credit_gbp"] for r in sent], atol=0.005)
            assert s.values["supply_on"].dtype == bool  # a boolean field, as MQTT meters write
            assert list(s.values["supply_on"]) == [bool(r.values["supply_on"]) for r in sent]
