"""The advisor's I/O edge and a whole run against the real InfluxDB (fixture) and registry:
readings, usage, forecasts and tariffs into aligned arrays; `hearth advise` end to end."""

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from advisor.cli import handle_advise, handle_opt_out
from advisor.db import connection
from advisor.inputs import InputLoader
from advisor.service import run_advice
from hearth.influx import InfluxClient, usage_lines
from hearth.registry import Registry

from .conftest import add_household, add_tenant

NS = 1_000_000_000


def _now() -> datetime:
    # A fixed minute near the wall clock (InfluxDB's raw retention refuses old points).
    return datetime.now(UTC).replace(second=0, microsecond=0)


def _ns(at: datetime) -> int:
    return int(at.timestamp()) * NS


def populate(settings, now: datetime) -> None:
    with Registry(settings.registry.target) as reg:
        conn = connection(reg)
        add_household(conn, "H000001", payment_type="prepayment", vulnerable=0)
        add_household(conn, "H000002", payment_type="credit", vulnerable=1, epc_band="C",
                      means_tested_benefits=0)
        add_household(conn, "H000003", payment_type="credit", has_gas=0, heating="electric",
                      epc_band="B", means_tested_benefits=0)
        add_tenant(conn, "T1", "H000001", "+447700900111")
        add_tenant(conn, "T2", "H000002", "+447700900222")
        add_tenant(conn, "T3", "H000003", None, consent=False)
        devices = []
        for h in ("H000001", "H000002", "H000003"):
            n = h[-1]
            devices.append((f"E{n}", h, "electricity_meter", f"hearth/{h}/E{n}/meter", None))
            devices.append((f"T{n}", h, "thermostat", f"hearth/{h}/T{n}/thermostat",
                            "living_room"))
            if h != "H000003":
                devices.append((f"G{n}", h, "gas_meter", f"hearth/{h}/G{n}/meter", None))
        conn.executemany("INSERT INTO devices (device_id, household_id, kind, protocol,"
                         " mqtt_topic, room, interval_s) VALUES (?, ?, ?, 'mqtt', ?, ?, 600)",
                         devices)
        conn.executemany(
            "INSERT INTO tariffs (tariff_id, fuel, payment_type, unit_rate_gbp_per_kwh,"
            " standing_charge_gbp_per_day, valid_from, valid_to) VALUES (?,?,?,?,?,?,NULL)",
            [("e-pp", "electricity", "prepayment", 0.25, 0.50, "2024-01-01"),
             ("e-cr", "electricity", "credit", 0.26, 0.52, "2024-01-01"),
             ("g-pp", "gas", "prepayment", 0.06, 0.30, "2024-01-01"),
             ("g-cr", "gas", "credit", 0.065, 0.31, "2024-01-01")])
    lines = []
    t_end = _ns(now)
    # Thermostats every 10 minutes for 72 hours. H1 cold (15 C), H2 warm but very humid for
    # the last 6 hours, H3's thermostat silent for the last 10 hours.
    for k in range(432):
        t = t_end - (432 - k) * 600 * NS
        humid = k % 72 < 24  # 4 humid hours in every 12: persistent damp
        wobble = 0.1 * (k % 3)  # real sensors move a little between readings
        for h, temp, rh in (("H000001", 15.0, 55.0), ("H000002", 20.5, 89.0 if humid else 60.0),
                            ("H000003", 20.0, 50.0)):
            if h == "H000003" and t >= t_end - 10 * 3600 * NS:
                continue
            if h != "H000001" or k >= 36:  # T1 stuck on one reading for its first 6 hours
                temp, rh = round(temp + wobble, 1), rh + wobble
            n = h[-1]
            # T3 does not report its call for heat: the advisor infers it from the setpoint.
            call = "" if h == "H000003" else ",heating_on=true"
            lines.append(f"thermostat,household={h},device=T{n},room=living_room temp_c={temp},"
                         f"setpoint_c=20.0,humidity_pct={rh}{call} {t}")
            if h == "H000002":  # a second thermostat, in a bedroom 1.5 C cooler
                lines.append(f"thermostat,household={h},device=T{n}b,room=bedroom"
                             f" temp_c={round(temp - 1.5, 1)},setpoint_c=20.0,"
                             f"humidity_pct={rh}{call} {t}")
        # Meters: H1's prepayment electricity credit falls from £6 to £3.
        credit = 6.0 - 3.0 * k / 431
        lines.append(f"meter,household=H000001,device=E1,fuel=electricity,source=mqtt "
                     f"energy_kwh={1000 + k * 0.05},credit_gbp={credit:.2f},voltage_v={240 + wobble},"
                     f"supply_on=true {t}")
        for h in ("H000002", "H000003"):
            if h == "H000002" and 200 <= k < 224:  # E2 silent for 4 hours mid-window
                continue
            lines.append(f"meter,household={h},device=E{h[-1]},fuel=electricity,source=mqtt "
                         f"energy_kwh={2000 + k * 0.05},voltage_v={240.0 + wobble} {t}")
        for h in ("H000001", "H000002"):
            lines.append(f"meter,household={h},device=G{h[-1]},fuel=gas,source=mqtt "
                         f"energy_kwh={5000 + k * 0.3},credit_gbp=40.0 {t}")
    usage = []
    # Half-hourly usage for 30 days: 0.3 kWh electricity and 1.5 kWh gas per half hour.
    halves = (t_end // (1800 * NS)) * 1800 * NS - (30 * 48 - np.arange(30 * 48)) * 1800 * NS
    for h in ("H000001", "H000002", "H000003"):
        usage += usage_lines(h, "electricity", np.full(halves.size, 0.3), halves)
        if h != "H000003":
            usage += usage_lines(h, "gas", np.full(halves.size, 1.5), halves)
    # Daily forecasts for the next 30 days: H1's electricity 12 kWh/day (p90 16).
    day0 = t_end // (86400 * NS) * 86400 * NS
    for d in range(30):
        t = day0 + d * 86400 * NS
        for h in ("H000001", "H000002", "H000003"):
            e = 12.0 if h == "H000001" else 14.4
            usage.append(f"forecast_daily,household={h},fuel=electricity,model=hearth "
                         f"energy_kwh={e},energy_kwh_p10={e * 0.7},energy_kwh_p90={e * 1.33} {t}")
            if h != "H000003":
                usage.append(f"forecast_daily,household={h},fuel=gas,model=hearth energy_kwh=72.0,"
                             f"energy_kwh_p10=50.0,energy_kwh_p90=95.0 {t}")
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        assert client.write_lines(lines).dead_lettered == 0
        assert client.write_lines(usage, retention_policy="usage").dead_lettered == 0


@pytest.fixture
def world(settings):
    now = _now()
    populate(settings, now)
    return settings, now


def test_inputs_are_aligned_arrays(world):
    settings, now = world
    with Registry(settings.registry.target) as reg, InfluxClient.from_settings(settings) as client:
        inp = InputLoader(settings, reg, client).load(now)
    assert inp.households.tolist() == ["H000001", "H000002", "H000003"]
    assert inp.temp_c.shape == (3, 144) and inp.step_h == 0.5
    assert np.nanmean(inp.temp_c[0]) == pytest.approx(15.1, abs=0.05)
    assert np.nanmax(inp.max_humidity_pct[1]) == pytest.approx(89.2)
    assert np.nanmax(inp.humidity_pct[1]) == pytest.approx(89.1)  # mean of the bucket
    assert np.isnan(inp.temp_c[2, -10:]).all()  # silent thermostat
    # The home's temperature is the mean over its rooms; the living room's is kept apart.
    assert np.nanmean(inp.temp_c[1]) == pytest.approx(19.85, abs=0.05)
    assert np.nanmean(inp.living_temp_c[1]) == pytest.approx(20.6, abs=0.05)
    assert np.nanmean(inp.living_temp_c[0]) == pytest.approx(15.1, abs=0.05)
    assert np.nanmin(inp.heating_on[0]) == 1.0 and np.nanmin(inp.heating_on[1]) == 1.0
    assert np.nanmax(inp.heating_on[2]) == 0.0  # inferred: 20-20.2 C at a 20 C setpoint
    credit = inp.credit_gbp["electricity"][0]
    assert credit[np.isfinite(credit)][-1] == pytest.approx(3.0, abs=0.05)
    assert np.isnan(inp.credit_gbp["electricity"][1]).all()
    assert inp.forecast_kwh_p50["electricity"][:, 0].tolist() == pytest.approx([12.0, 14.4, 14.4])
    assert inp.forecast_rate_gbp_per_kwh["electricity"][:, 0].tolist() == [0.25, 0.26, 0.26]
    assert inp.history_kwh["gas"][0, -1] == pytest.approx(72.0)
    assert np.isnan(inp.history_kwh["gas"][2]).all()
    assert inp.prepayment.tolist() == [True, False, False]
    ages = dict(zip(inp.device_ids[2], inp.device_age_s[2], strict=False))
    assert ages["T3"] >= 9.5 * 3600 and ages["E3"] < 1200  # ages from the last bucket end
    gaps = dict(zip(inp.device_ids[1], inp.device_max_gap_s[1], strict=False))
    assert gaps["E2"] == pytest.approx(4 * 3600 + 600) and gaps["T2"] == pytest.approx(600)
    stuck = {d: h for row in range(3) for d, h in zip(inp.device_ids[row],
                                                      inp.device_stuck_h[row], strict=False)}
    assert stuck["T1"] >= 3 and stuck["T2"] == 0 and stuck["E1"] == 0


def test_hearth_advise_end_to_end(world, capsys):
    settings, now = world
    report = run_advice(settings, now=now)
    with Registry(settings.registry.target) as reg:
        conn = connection(reg)
        cases = {(r["household_id"], r["kind"]): dict(r) for r in conn.execute(
            "SELECT * FROM cases WHERE status = 'open'")}
        log = [dict(r) for r in conn.execute("SELECT * FROM sms_log")]
    assert ("H000001", "cold_home") in cases
    cold = cases[("H000001", "cold_home")]["reasons"]
    assert "below 18 C for 48 of the 48 hours people were at home and awake" in cold
    # The home's money risks are one case (advisor/grouping.py), its credit reason first.
    credit = cases[("H000001", "money")]
    # £3 at 16 kWh x £0.25 + £0.50 = £4.50 a day: under a day left.
    assert credit["severity"] == "high" and "£3.0" in credit["reasons"]
    assert credit["reasons"].startswith("Credit: ")
    assert json.loads(credit["evidence_json"])["credit_runout.fired"] is True
    assert ("H000001", "credit_runout") not in cases
    damp = cases[("H000002", "damp_mould")]
    assert damp["severity"] == "medium" and "condensation is likely" in damp["reasons"]
    assert damp["stage"] == "investigate" and damp["due_by"] > damp["opened_at"]
    fault = cases[("H000003", "device_fault")]
    assert "T3" in fault["reasons"]
    assert "E2" in cases[("H000002", "device_fault")]["reasons"]  # silent 4 h, then back
    assert "repeating the same reading" in cases[("H000001", "device_fault")]["reasons"]
    assert ("H000002", "cold_home") not in cases
    assert report.cases.opened["cold_home"] == 1
    # Tips: the most urgent for H1 and H2 unless it is quiet hours; H3 never (no consent).
    sent_or_queued = {r["household_id"] for r in log if r["status"] in ("outbox", "queued")}
    assert sent_or_queued == {"H000001", "H000002"}
    assert {r["skip_reason"] for r in log if r["household_id"] == "H000003"} <= {None}
    table = report.table()
    assert "cold_home" in table and "Tips sent" in table

    class Args:
        now = None
        dry_run = True
        patch = None
        no_tips = False

    Args.now = now + timedelta(minutes=5)
    assert handle_advise(Args, settings) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "Assessed 3 households" in out


def test_opt_out_command(world, capsys):
    settings, _ = world

    class Args:
        household = "H000001"
        actor = "asmith"
        source = "officer"

    assert handle_opt_out(Args, settings) == 0
    assert "opted out (1 tenant(s))" in capsys.readouterr().out
    assert handle_opt_out(Args, settings) == 0
    assert "already opted out" in capsys.readouterr().out
    with Registry(settings.registry.target) as reg:
        rows = reg.conn.execute("SELECT detail FROM audit_log WHERE action = 'sms.opt_out'")
        assert [json.loads(r[0])["source"] for r in rows] == ["officer"]
