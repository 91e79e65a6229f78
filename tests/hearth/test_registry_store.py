"""The Registry API: typed lookups, the vectorised frame, tariffs by date, audit, constraints."""

from __future__ import annotations

import logging
import sqlite3
from datetime import date, timedelta

import numpy as np
import pytest

from hearth.registry import NotFoundError, Registry
from hearth.registry.generate import GenerateOptions, generate_portfolio, write_portfolio
from hearth.registry.tariffs import local_days
from tests.conftest import new_registry_target

AS_OF = date(2026, 11, 25)


@pytest.fixture(scope="module")
def reg(tmp_path_factory, registry_engine, request):
    path = new_registry_target(registry_engine, tmp_path_factory.mktemp("registry"), request)
    with Registry(path) as r:
        write_portfolio(r, generate_portfolio(GenerateOptions(800, seed=11, as_of=AS_OF)))
        yield r


def test_households_by_patch_and_by_id(reg):
    everyone = reg.households()
    assert len(everyone) == 800
    assert [h.household_id for h in everyone] == sorted(h.household_id for h in everyone)
    patch = everyone[0].patch
    mine = reg.households(patch=patch)
    assert mine and all(h.patch == patch for h in mine)
    assert sum(len(reg.households(patch=p)) for p in reg.patches()) == 800
    h = reg.household(everyone[5].household_id)
    assert h == everyone[5]
    assert isinstance(h.tenancy_start, date) and isinstance(h.has_gas, bool)
    assert h.fuels == (("electricity", "gas") if h.has_gas else ("electricity",))
    with pytest.raises(NotFoundError, match="H999999"):
        reg.household("H999999")


def test_devices_filters(reg):
    all_devices = reg.devices()
    modbus = reg.devices(protocol="modbus")
    gas = reg.devices(kind="gas_meter")
    assert modbus and gas and len(all_devices) > len(modbus)
    assert all(d.protocol == "modbus" and d.unit_id and d.register_map for d in modbus)
    assert all(d.fuel == "gas" for d in gas)
    both = reg.devices(protocol="mqtt", kind="thermostat")
    assert both and all(d.kind == "thermostat" and d.mqtt_topic for d in both)
    home = reg.devices(household_id="H000001")
    assert {d.kind for d in home} >= {"electricity_meter", "thermostat"}


def test_devices_frame(reg):
    frame = reg.devices_frame()
    assert len(frame) == len(reg.devices()) and frame.index.is_monotonic_increasing
    modbus = reg.devices_frame(protocol="modbus")
    assert (modbus["protocol"] == "modbus").all() and modbus["unit_id"].notna().all()
    d = reg.devices(protocol="modbus")[0]
    assert modbus.loc[d.device_id, "gateway_port"] == d.gateway_port
    assert frame["unit_id"].isna().sum() == len(reg.devices(protocol="mqtt"))


def test_tenants_of_and_no_pii_in_repr(reg, caplog):
    tenants = reg.tenants_of("H000001")
    assert tenants and all(t.household_id == "H000001" for t in tenants)
    t = tenants[0]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("tenant %s", t)
    assert t.full_name not in repr(t) and t.full_name not in caplog.text
    if t.mobile:
        assert t.mobile not in repr(t)
    assert t.sms_contactable == (t.sms_consent and t.opted_out_at is None)


def test_households_frame_is_aligned_and_typed(reg):
    frame = reg.households_frame()
    assert list(frame.index) == sorted(frame.index) and len(frame) == 800
    assert frame["has_gas"].dtype == bool and frame["bedrooms"].dtype == np.int64
    assert frame["tenancy_start"].dtype.kind == "M"
    h = reg.household("H000123")
    row = frame.loc["H000123"]
    assert row["payment_type"] == h.payment_type and row["floor_area_m2"] == h.floor_area_m2
    pos = frame.index.get_indexer(["H000010", "H000002"])
    assert list(pos) == [9, 1]
    patch = frame.index[0]
    assert len(reg.households_frame(patch=reg.household(patch).patch)) < 800


def test_tariff_on_date_with_inclusive_end(reg):
    t = reg.tariff_on("electricity", "prepayment", AS_OF)
    assert t.valid_to is None and t.valid_from == date(2026, 10, 1)
    before = reg.tariff_on("electricity", "prepayment", date(2026, 9, 30))
    assert before.valid_to == date(2026, 9, 30) and before.tariff_id != t.tariff_id
    assert reg.tariff_on("electricity", "prepayment", date(2026, 10, 1)) == t
    assert len(reg.tariffs("gas", "credit")) == 5
    assert len(reg.tariffs(on_date=AS_OF)) == 4
    with pytest.raises(NotFoundError, match="no credit gas tariff applies on 2020-01-01"):
        reg.tariff_on("gas", "credit", date(2020, 1, 1))


def test_vectorised_tariffs_match_the_scalar_lookup(reg):
    table = reg.tariff_table()
    days = np.arange(np.datetime64("2025-09-01"), np.datetime64("2026-12-31"))
    for fuel in ("electricity", "gas"):
        for pay in ("credit", "prepayment"):
            unit, standing = table.lookup(fuel, pay, days)
            for i in range(0, days.size, 17):
                day = days[i].astype(object)
                found = reg.tariffs(fuel, pay, day)
                if found:
                    assert unit[i] == found[0].unit_rate_gbp_per_kwh
                    assert standing[i] == found[0].standing_charge_gbp_per_day
                else:
                    assert np.isnan(unit[i]) and np.isnan(standing[i])
    pays = np.array(["credit", "prepayment", "credit"], dtype=object)
    unit, standing = table.matrix("gas", pays, days)
    assert unit.shape == (3, days.size) == standing.shape
    np.testing.assert_array_equal(unit[0], table.lookup("gas", "credit", days)[0])
    np.testing.assert_array_equal(unit[1], table.lookup("gas", "prepayment", days)[0])
    with pytest.raises(ValueError, match="unknown payment types"):
        table.matrix("gas", np.array(["cash"], dtype=object), days)


def test_local_days_follow_uk_time():
    times = np.array(["2026-06-30T23:30", "2026-12-31T23:30", "2026-03-29T00:30"],
                     dtype="datetime64[ns]")
    assert local_days(times).astype(str).tolist() == ["2026-07-01", "2026-12-31", "2026-03-29"]


def test_audit_records_and_never_stores_phone_numbers(reg, caplog):
    reg.audit("officer:jb", "case.close", "H000001", {"case": 7})
    assert reg.audit_entries("H000001")[0]["detail"] == {"case": 7}
    with caplog.at_level(logging.WARNING):
        reg.audit("07700 900123", "sign_in_failed", "user:+447700900123",
                  {"text": "call 07700 900123 please", "n": 3})
    entry = reg.audit_entries()[0]
    stored = str(entry)
    assert "900123" not in stored and "900123" not in caplog.text
    assert entry["detail"] == {"text": "call [phone number removed] please", "n": 3}
    assert entry["target"] == "user:[phone number removed]"


def test_constraints_refuse_bad_rows(reg):
    conn = reg.conn
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("UPDATE households SET payment_type = 'cash' WHERE household_id = 'H000001'")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("UPDATE households SET tenancy_start = '1/2/2020' "
                     "WHERE household_id = 'H000001'")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute("INSERT INTO devices (device_id, household_id, kind, protocol, mqtt_topic, "
                     "interval_s) VALUES ('X', 'H999999', 'gas_meter', 'mqtt', 'x/y', 60)")
    d = reg.devices(protocol="modbus")[0]
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute("INSERT INTO devices (device_id, household_id, kind, protocol, gateway_host, "
                     "gateway_port, unit_id, register_map, interval_s) "
                     "VALUES ('X', ?, 'gas_meter', 'modbus', ?, ?, ?, 'hearth-sim-gas', 60)",
                     (d.household_id, d.gateway_host, d.gateway_port, d.unit_id))
    with pytest.raises(sqlite3.IntegrityError, match="overlaps"):
        conn.execute("INSERT INTO tariffs VALUES ('dup', 'gas', 'credit', 0.07, 0.3, "
                     "?, NULL)", ((AS_OF - timedelta(days=3)).isoformat(),))
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("UPDATE tenants SET mobile = '07700900123' WHERE tenant_id = 'T0000001'")


def test_write_transaction_is_all_or_nothing(reg):
    before = reg.counts()["audit_log"]
    with pytest.raises(RuntimeError), reg.transaction():
        reg.audit("t", "a")
        raise RuntimeError("boom")
    assert reg.counts()["audit_log"] == before


def test_reads_survive_another_parts_row_factory(tmp_path):
    # The advisor sets conn.row_factory = sqlite3.Row on the shared connection.
    with Registry(tmp_path / "reg.sqlite3") as r:
        write_portfolio(r, generate_portfolio(GenerateOptions(60, seed=1, as_of=AS_OF)))
        r.conn.row_factory = sqlite3.Row
        assert r.household("H000001").household_id == "H000001"
        assert len(r.households_frame()) == 60
        assert r.devices(kind="thermostat")[0].room == "living_room"
        assert r.tariff_on("gas", "credit", AS_OF).valid_to is None
        assert r.counts()["households"] == 60
