"""Red team: one supply meter per household and fuel. The usage rollup sums every meter series
of a household and fuel (collectors/usage.py `sum_by_group`), so a second electricity meter on
the same home (a Glow CAD bound on top of the Modbus SDM120 that reads the same supply, or
the same CAD bound twice under two device ids) doubled its `usage_30m`, its forecast and the
bill-shock and credit advice built on them. Binding such a second meter is refused, with the
device that already meters the home named, before any reading is counted twice."""

from __future__ import annotations

import pytest

from hearth.registry.bindings import bind, bindings
from hearth.registry.store import Registry, RegistryError
from tests.collectors.test_mqtt_profiles_e2e import HOUSEHOLD


@pytest.fixture
def reg(tmp_path):
    with Registry(tmp_path / "registry.sqlite") as r:
        with r.transaction() as conn:
            for hid in ("H000001", "H000002"):
                row = {"household_id": hid, **HOUSEHOLD}
                conn.execute(f"INSERT INTO households ({', '.join(row)}) VALUES"
                             f" ({', '.join('?' * len(row))})", list(row.values()))
            conn.execute("INSERT INTO devices (device_id, household_id, kind, protocol,"
                         " gateway_host, gateway_port, unit_id, register_map, interval_s)"
                         " VALUES ('SDM-1', 'H000002', 'electricity_meter', 'modbus',"
                         " '192.0.2.10', 502, 1, 'eastron-sdm120', 60)")
        yield r


def test_a_second_electricity_meter_for_a_home_with_a_registry_meter_is_refused(reg):
    with pytest.raises(RegistryError, match=r"H000002 already has an electricity meter.*SDM-1"):
        bind(reg, [("glow", "A1B2C3D4E5F6", "H000002", "GLOW-E2", "electricity_meter", None,
                    None)])
    assert bindings(reg, household_id="H000002") == []


def test_a_second_bound_meter_of_the_same_fuel_is_refused(reg):
    bind(reg, [("glow", "A1B2C3D4E5F6", "H000001", "GLOW-E1", "electricity_meter", None, None)])
    with pytest.raises(RegistryError, match=r"H000001 already has an electricity meter.*GLOW-E1"):
        bind(reg, [("tasmota", "supply_monitor", "H000001", "TAS-1", "electricity_meter", None,
                    None)])
    with pytest.raises(RegistryError, match=r"already has an electricity meter"):
        # both in one call: all or none
        bind(reg, [("glow", "FFEEDDCCBBAA", "H000002", "GLOW-G2", "gas_meter", None, None),
                   ("glow", "FFEEDDCCBBAA", "H000002", "GLOW-E3", "electricity_meter", None,
                    None)])
    assert [b[3] for b in bindings(reg)] == ["GLOW-E1"]


def test_one_meter_per_fuel_and_any_number_of_sensors_and_plugs_are_fine(reg):
    bind(reg, [("glow", "A1B2C3D4E5F6", "H000001", "GLOW-E1", "electricity_meter", None, None),
               ("glow", "A1B2C3D4E5F6", "H000001", "GLOW-G1", "gas_meter", None, None),
               ("zigbee2mqtt", "bed", "H000001", "Z-1", "thermostat", "bedroom", None),
               ("zigbee2mqtt", "bath", "H000001", "Z-2", "thermostat", "bathroom", None),
               ("tasmota", "plug1", "H000001", "P-1", "appliance", None, None),
               ("shelly-gen2", "shellyplus1pm-1", "H000001", "P-2", "appliance", None, None),
               ("glow", "FFEEDDCCBBAA", "H000002", "GLOW-G2", "gas_meter", None, None)])
    assert len(bindings(reg)) == 7
