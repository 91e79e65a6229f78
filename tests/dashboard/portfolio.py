"""A small simulated portfolio for the dashboard tests: the registry's generator for homes,
tenants, devices and tariffs; cases, case events and texts as the advisor records them; and
readings and forecasts written to the real InfluxDB fixture (relative to now)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from dashboard.users import UserStore
from forecasting.store import MODEL, run_line
from hearth.influx import InfluxClient, lines_from_arrays, usage_lines
from hearth.registry import Registry
from hearth.registry.generate import GenerateOptions, generate_portfolio, write_portfolio

PASSWORD = "correct horse battery staple"
HALF_HOUR_S = 1800


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Demo:
    """What the tests need to know about the portfolio they run against."""

    patches: list[str]
    officers: dict[str, str]                    # username -> patch
    homes_by_patch: dict[str, list[str]]
    cases: dict[str, list[int]] = field(default_factory=dict)   # patch -> case ids
    detailed: list[str] = field(default_factory=list)           # homes with full readings
    silent_home: str = ""
    failing_number_home: str = ""
    damp_overdue_case: int = 0
    case_homes: dict[int, str] = field(default_factory=dict)     # case id -> home


def build(settings, households: int = 450, seed: int = 11, readings: bool = True) -> Demo:
    """The portfolio. ``readings`` False leaves the meter and thermostat readings and the
    half-hourly usage to the simulator (`hearth sim --backfill`, `hearth collect
    derive-usage`); forecasts, cases and accounts are written here either way."""
    now = datetime.now(UTC).replace(microsecond=0)
    with Registry(settings.registry.target) as reg:
        write_portfolio(reg, generate_portfolio(GenerateOptions(households=households,
                                                                seed=seed)))
        rows = reg.conn.execute("SELECT household_id, patch, payment_type, has_gas FROM "
                                "households ORDER BY household_id").fetchall()
        patches = sorted({r[1] for r in rows})
        assert len(patches) >= 2, "the tests need at least two patches"
        by_patch = {p: [r[0] for r in rows if r[1] == p] for p in patches}
        store = UserStore(reg.conn)
        officers = {}
        for i, p in enumerate(patches[:2]):
            name = f"officer{i + 1}"
            store.add(name, "officer", PASSWORD, [p], display_name=f"Officer {i + 1}")
            officers[name] = p
        store.add("manager", "manager", PASSWORD, [], display_name="Pat Manager")
        store.add("admin", "admin", PASSWORD, [], display_name="IT Admin")
        demo = Demo(patches, officers, by_patch)
        _cases(reg, demo, rows, now)
    _influx(settings, demo, rows, now, readings)
    return demo


def _cases(reg: Registry, demo: Demo, rows, now: datetime) -> None:
    kinds = [("credit_runout", "high", "Credit £1.20 left; at the forecast £2.40 a day it runs "
              "out in about half a day.", None, None),
             ("cold_home", "medium", "Living room below 18 °C for 41 of the last 48 hours "
              "(lowest 14.2 °C).", None, None),
             ("damp_mould", "high", "Bathroom humidity above 70 % for 9 of the last 12 hours "
              "(peak 93 %).", -timedelta(hours=30), "investigate"),
             ("damp_mould", "emergency", "Bedroom humidity above 90 % for 3 hours; dew point "
              "within 1.5 °C of the wall.", timedelta(hours=20), "investigate"),
             ("bill_shock", "medium", "Forecast £212 for the next 30 days, 2.1 times this "
              "home's usual £101.", None, None),
             ("device_fault", "low", "Gas meter counter went backwards by 3.2 kWh at 04:10.",
              None, None)]
    types = {r[0]: (r[2], r[3]) for r in rows}
    for p in demo.patches[:2]:
        homes = demo.homes_by_patch[p]
        prepay = [h for h in homes if types[h][0] == "prepayment"]
        chosen = [prepay[0], *[h for h in homes if h != prepay[0]][:len(kinds) - 1]]
        demo.detailed += chosen
        ids = []
        for (kind, sev, reasons, due, stage), h in zip(kinds, chosen, strict=True):
            opened = now - timedelta(days=len(ids) * 3 + 1)
            due_by = iso(now + due) if due is not None else None
            cur = reg.conn.execute(
                "INSERT INTO cases (household_id, kind, severity, score, reasons, evidence_json,"
                " opened_at, updated_at, due_by, stage, status, officer) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', NULL)",
                (h, kind, sev, 90.0 - 10 * len(ids), reasons, json.dumps({"test": True}),
                 iso(opened), iso(opened), due_by, stage))
            cid = int(cur.lastrowid)
            reg.conn.execute("INSERT INTO case_events (case_id, at, actor, action, detail, due_by,"
                             " stage) VALUES (?, ?, 'advisor', 'opened', ?, ?, ?)",
                             (cid, iso(opened), reasons, due_by, stage))
            if due is not None and due.total_seconds() < 0:
                demo.damp_overdue_case = demo.damp_overdue_case or cid
            ids.append(cid)
            demo.case_homes[cid] = h
        # A closed case from weeks ago, for the trend and the household history.
        reg.conn.execute(
            "INSERT INTO cases (household_id, kind, severity, score, reasons, evidence_json, "
            "opened_at, updated_at, status, officer, closed_at, close_reason) VALUES "
            "(?, 'cold_home', 'medium', 40, 'Living room below 18 °C for 30 hours.', '{}', ?, ?,"
            " 'resolved', ?, ?, 'Heating repaired')",
            (chosen[1], iso(now - timedelta(days=40)), iso(now - timedelta(days=30)),
             next(o for o, q in demo.officers.items() if q == p), iso(now - timedelta(days=30))))
        demo.cases[p] = ids
        # The first home's lead tenant agreed to texts (for the tip tests).
        reg.conn.execute("UPDATE tenants SET mobile = '+447700900123', sms_consent = 1, "
                         "sms_consent_at = ?, sms_consent_source = 'officer_visit', "
                         "opted_out_at = NULL WHERE household_id = ?", (iso(now), chosen[0]))
        reg.conn.execute(
            "INSERT INTO sms_log (household_id, case_id, template, sent_at, sender, provider_id,"
            " status, skip_reason, body) VALUES (?, ?, 'credit_runout', ?, 'notify', "
            "'740e5834-3a29-46b4-9a6f-16142fde533a', 'delivered', NULL, "
            "'Your meter credit is low. Ask us about emergency credit.')",
            (chosen[0], ids[0], iso(now - timedelta(days=4))))
        # Two-way SMS: a tenant's message for the officer, and a number that fails.
        reg.conn.execute(
            "INSERT INTO sms_replies (reply_id, received_at, processed_at, household_id, kind,"
            " action, content) VALUES (?, ?, ?, ?, 'other', 'for_officer',"
            " 'The boiler makes a banging noise at night')",
            (f"b51f638b-4295-46a0-a4bb-{abs(hash(p)) % 10**12:012d}",
             iso(now - timedelta(hours=3)), iso(now - timedelta(hours=3)), chosen[0]))
        tenant = reg.conn.execute("SELECT tenant_id FROM tenants WHERE household_id = ? ORDER"
                                  " BY tenant_id LIMIT 1", (chosen[1],)).fetchone()
        if tenant is not None:
            reg.conn.execute(
                "INSERT INTO sms_number_tasks (household_id, tenant_id, number_sha256,"
                " opened_at) VALUES (?, ?, ?, ?)",
                (chosen[1], tenant[0], "0" * 64, iso(now - timedelta(days=1))))
            demo.failing_number_home = chosen[1]
        reg.conn.execute(
            "INSERT INTO sms_log (household_id, case_id, template, created_at, status, "
            "skip_reason) VALUES (?, NULL, 'damp_mould', ?, 'skipped', 'no_consent')",
            (chosen[2], iso(now - timedelta(days=2))))


def _influx(settings, demo: Demo, rows, now: datetime, readings: bool) -> None:
    rng = np.random.default_rng(5)
    now_s = int(now.timestamp())
    info = {r[0]: r for r in rows}
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        devs = Registry(settings.registry.target)
        try:
            devices = devs.conn.execute("SELECT device_id, household_id, kind, room FROM devices"
                                        ).fetchall()
        finally:
            devs.close()
        if not readings:
            _forecasts(client, info, now, demo.detailed)
            return
        # The latest reading of every device (one home is silent since 26 hours ago).
        demo.silent_home = demo.homes_by_patch[demo.patches[0]][-1]
        lines = []
        for dev, h, kind, room in devices:
            t = now_s - (26 * 3600 if h == demo.silent_home else int(rng.integers(10, 120)))
            if kind == "thermostat":
                lines += lines_from_arrays("thermostat", {"household": h, "device": dev,
                                                          "room": room},
                                           {"temp_c": np.array([19.5]),
                                            "humidity_pct": np.array([55.0]),
                                            "setpoint_c": np.array([20.0])},
                                           np.array([t * 10**9]))
            else:
                fuel = "electricity" if kind == "electricity_meter" else "gas"
                fields = {"energy_kwh": np.array([1234.5]), "power_w": np.array([420.0])}
                if info[h][2] == "prepayment":
                    fields["credit_gbp"] = np.array([12.5])
                lines += lines_from_arrays("meter", {"household": h, "device": dev, "fuel": fuel,
                                                     "source": "modbus"}, fields,
                                           np.array([t * 10**9]))
        client.write_lines(lines)
        _detailed(client, demo, info, devices, now_s, rng)
        _forecasts(client, info, now, demo.detailed)


def _detailed(client, demo: Demo, info, devices, now_s: int, rng) -> None:
    """Three weeks of half-hourly use, a week of thermostat readings and two weeks of hourly
    credit for the homes the tests open."""
    steps = np.arange(now_s - now_s % HALF_HOUR_S - 21 * 86400, now_s - HALF_HOUR_S, HALF_HOUR_S)
    hour = (steps % 86400) / 3600
    daily_shape = 0.15 + 0.25 * np.exp(-((hour - 8) ** 2) / 4) + 0.45 * np.exp(
        -((hour - 19) ** 2) / 6)
    for h in demo.detailed:
        fuels = ["electricity", "gas"] if info[h][3] else ["electricity"]
        for fuel in fuels:
            scale = 1.0 if fuel == "electricity" else 3.0
            e = daily_shape * scale * rng.uniform(0.7, 1.3, len(steps))
            client.write_lines(usage_lines(h, fuel, e, steps * 10**9), retention_policy="usage")
        t = steps[steps > now_s - 7 * 86400]
        for dev, hh, kind, room in devices:
            if hh != h:
                continue
            if kind == "thermostat":
                th = (t % 86400) / 3600
                temp = 16.5 + 2.5 * np.sin((th - 10) / 24 * 2 * np.pi) + rng.normal(0, 0.3,
                                                                                     len(t))
                hum = 62 + 14 * np.exp(-((th - 7.5) ** 2) / 2) + rng.normal(0, 2, len(t))
                client.write_lines(lines_from_arrays(
                    "thermostat", {"household": h, "device": dev, "room": room},
                    {"temp_c": temp, "humidity_pct": np.clip(hum, 0, 100),
                     "setpoint_c": np.full(len(t), 19.0)}, t * 10**9))
            elif info[h][2] == "prepayment":
                hours = np.arange(now_s - 14 * 86400, now_s - 600, 3600)
                bal = 20 - ((hours - hours[0]) % (5 * 86400)) / 86400 * 3.6
                fuel = "electricity" if kind == "electricity_meter" else "gas"
                client.write_lines(lines_from_arrays(
                    "meter", {"household": h, "device": dev, "fuel": fuel, "source": "modbus"},
                    {"credit_gbp": bal, "energy_kwh": 1000 + np.arange(len(hours)) * 0.5,
                     "power_w": np.full(len(hours), 350.0)}, hours * 10**9))


def _forecasts(client, info, now: datetime, detailed: list[str]) -> None:
    """The latest forecast run as `hearth forecast` writes it: 30 daily totals of every home
    (forecast_daily), 7 days of half hours (forecast; here only for the homes the tests open)
    and the run marker (forecast_run)."""
    origin_s = int(now.timestamp()) // 1800 * 1800
    first_day = origin_s // 86400 * 86400  # today (UTC), as forecasting.service reads it
    days = (first_day + np.arange(30) * 86400) * 10**9
    halves = (origin_s + np.arange(336) * 1800) * 10**9
    hour = (np.arange(336) * 0.5 + (origin_s % 86400) / 3600) % 24
    shape = 0.15 + 0.25 * np.exp(-((hour - 8) ** 2) / 4) + 0.45 * np.exp(-((hour - 19) ** 2) / 6)
    counts = {"electricity": 0, "gas": 0}
    lines = []
    for h, (_, _, _, has_gas) in info.items():
        for fuel in (["electricity", "gas"] if has_gas else ["electricity"]):
            counts[fuel] += 1
            base = 8.0 if fuel == "electricity" else 30.0
            p50 = base * (1 + 0.1 * np.sin(np.arange(30) / 5))
            tags = {"household": h, "fuel": fuel, "model": MODEL}
            lines += lines_from_arrays("forecast_daily", tags,
                                       {"energy_kwh": p50, "energy_kwh_p10": p50 * 0.7,
                                        "energy_kwh_p90": p50 * 1.4,
                                        "trust": np.array(["good"] * 30, dtype=object)}, days)
            if h not in detailed:
                continue
            e = shape * base / shape.sum() * 48
            lines += lines_from_arrays("forecast", tags,
                                       {"energy_kwh": e, "energy_kwh_p10": e * 0.6,
                                        "energy_kwh_p90": e * 1.6}, halves)
    for fuel, n in counts.items():
        lines += run_line(fuel, origin_s * 10**9, n, 336, 30, {"good": n})
    client.write_lines(lines, retention_policy="usage")
