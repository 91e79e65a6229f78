"""The Modbus collector driven by the registry: a generated portfolio's Modbus meters, served
by gateways built from the same device rows, all read with the right tags and fields."""

from __future__ import annotations

import asyncio

import pytest

from collectors.modbus import ModbusCollector
from collectors.modbus_devices import devices_from_registry
from hearth.errors import ConfigError, HearthError
from hearth.registermap import DEFAULT_MAPS_DIR, load_register_maps
from hearth.registry import Registry
from hearth.registry.generate import GenerateOptions, generate_portfolio, write_portfolio
from hearth.settings import Settings
from hearth.stack import free_port
from meters_sim.modbus_gateway import gateways_for_devices

MAPS = load_register_maps(DEFAULT_MAPS_DIR)


class ListSink:
    def __init__(self):
        self.readings, self.dead_letters = [], []

    def put(self, readings, source):
        self.readings.extend(readings)

    def dead_letter(self, source, reason, raw):
        self.dead_letters.append((source, reason, raw))


@pytest.fixture
def registry_path(tmp_path):
    path = tmp_path / "registry.sqlite3"
    with Registry(path) as reg:
        write_portfolio(reg, generate_portfolio(GenerateOptions(households=40, seed=7,
                                                                units_per_gateway=20)))
        # the generator numbers gateway ports from a fixed base: move them to free ports
        with reg.transaction() as conn:
            ports = [r[0] for r in conn.execute(
                "SELECT DISTINCT gateway_port FROM devices WHERE protocol = 'modbus'")]
            for port in ports:
                conn.execute("UPDATE devices SET gateway_port = ? WHERE gateway_port = ?",
                             (free_port(), port))
    return path


def values_of(device_id):
    if device_id.endswith("GM1"):
        return {"volume_m3": 812.5, "energy_kwh": 9178.0, "flow_m3_per_h": 0.2}
    return {"energy_kwh": 4567.89, "power_w": 410.0, "voltage_v": 241.0, "credit_gbp": 7.5,
            "supply_on": 1}


def test_registry_meters_are_all_read(registry_path):
    settings = Settings.model_validate({"registry": {"path": str(registry_path)},
                                        "collectors": {"modbus": {"poll_interval_s": 0.4}}})
    with Registry(registry_path) as reg:
        rows = reg.devices(protocol="modbus")
        payment = {h.household_id: h.payment_type for h in reg.households()}
    assert len(rows) >= 20
    sink = ListSink()
    coll = ModbusCollector("modbus", settings, sink)  # the whole Settings: devices from registry
    assert sum(len(g.devices) for g in coll.gateways) == len(rows)

    async def main():
        async with gateways_for_devices(rows, values_of, MAPS, bind_host="127.0.0.1"):
            stop = asyncio.Event()
            task = asyncio.create_task(coll.run(stop))
            await asyncio.sleep(1.0)
            stop.set()
            await task

    asyncio.run(asyncio.wait_for(main(), 60))
    assert not sink.dead_letters and coll.stats.errors == 0
    seen = {}
    for r in sink.readings:
        seen[r.tags["device"]] = r
    assert set(seen) == {row.device_id for row in rows}
    for row in rows:
        reading = seen[row.device_id]
        assert reading.tags == {"household": row.household_id, "device": row.device_id,
                                "fuel": row.fuel, "source": "modbus"}
        if row.fuel == "gas":
            assert reading.fields == {"volume_m3": 812.5, "energy_kwh": 9178.0}
        elif payment[row.household_id] == "prepayment":
            assert reading.fields["credit_gbp"] == pytest.approx(7.5)
            assert reading.fields["supply_on"] is True
        else:  # credit customers: no balance or supply state is read
            assert set(reading.fields) == {"energy_kwh", "power_w", "voltage_v"}


def test_missing_registry_means_nothing_to_poll(tmp_path, caplog):
    """`hearth collect` may run MQTT alone: no registry is a warning, not a crash."""
    settings = Settings.model_validate({"registry": {"path": str(tmp_path / "none.sqlite3")}})
    coll = ModbusCollector("modbus", settings, ListSink())
    assert coll.gateways == []
    assert "none.sqlite3 does not exist, so there are no Modbus meters to poll" in caplog.text
    assert not (tmp_path / "none.sqlite3").exists()  # and it was not created
    with pytest.raises(ConfigError, match=r"none.sqlite3 does not exist; fill it"):
        devices_from_registry(tmp_path / "none.sqlite3", MAPS)


def test_damaged_registry_is_a_clear_error(tmp_path):
    path = tmp_path / "registry.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    settings = Settings.model_validate({"registry": {"path": str(path)}})
    with pytest.raises(HearthError, match=r"registry\.sqlite3"):
        ModbusCollector("modbus", settings, ListSink())
