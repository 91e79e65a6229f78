"""Benchmark: the dashboard with 10,000 homes. Goal: overview under 2 s, household page under
1 s once caches are warm.

Starts a real InfluxDB in a temporary folder, generates a 10,000-home registry (the registry's
generator), adds cases as the advisor records them, writes six hours of meter and thermostat
readings of every device at 5-minute intervals, 30-day daily forecasts of every home and full
histories for a sample of homes, then times page runs with streamlit.testing.v1.AppTest (the
whole script run on the server: queries, frames, figures; not the browser's drawing).

Run: PYTHONPATH=. python -m benchmarks.bench_dashboard [--households 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
PASSWORD = "benchmark passphrase"
KINDS = [("credit_runout", "high"), ("cold_home", "medium"), ("damp_mould", "high"),
         ("bill_shock", "medium"), ("device_fault", "low"), ("fuel_poverty", "low"),
         ("self_rationing", "medium"), ("damp_mould", "emergency")]


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def build(settings, households: int) -> dict:
    from dashboard.users import UserStore
    from forecasting.store import MODEL, run_line
    from hearth.influx import InfluxClient, lines_from_arrays, usage_lines
    from hearth.registry import Registry
    from hearth.registry.generate import GenerateOptions, generate_portfolio, write_portfolio

    rng = np.random.default_rng(3)
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = time.perf_counter()
    with Registry(settings.registry.path) as reg:
        write_portfolio(reg, generate_portfolio(GenerateOptions(households, seed=42)))
        homes = reg.conn.execute("SELECT household_id, patch, has_gas FROM households "
                                 "ORDER BY household_id").fetchall()
        devices = reg.conn.execute("SELECT device_id, household_id, kind, room FROM devices"
                                   ).fetchall()
        patches = sorted({h[1] for h in homes})
        store = UserStore(reg.conn)
        store.add("manager", "manager", PASSWORD, [])
        store.add("officer", "officer", PASSWORD, [patches[0]])
        # About 9% of homes have an open case, and as many closed ones in the last 12 weeks.
        picked = rng.choice(len(homes), size=int(len(homes) * 0.18), replace=False)
        rows = []
        for i, idx in enumerate(picked):
            kind, sev = KINDS[i % len(KINDS)]
            opened = now - timedelta(hours=int(rng.integers(1, 24 * 80)))
            closed = i % 2 == 1
            due = _iso(opened + timedelta(days=10)) if kind == "damp_mould" else None
            rows.append((homes[idx][0], kind, sev, float(rng.uniform(20, 95)),
                         f"{kind.replace('_', ' ')}: reason with numbers 12.3", "{}",
                         _iso(opened), _iso(opened), due,
                         "investigate" if kind == "damp_mould" else None,
                         "resolved" if closed else "open",
                         _iso(opened + timedelta(days=3)) if closed else None))
        with reg.transaction() as conn:
            conn.executemany(
                "INSERT INTO cases (household_id, kind, severity, score, reasons, evidence_json,"
                " opened_at, updated_at, due_by, stage, status, closed_at) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("INSERT INTO case_events (case_id, at, actor, action, detail) "
                         "SELECT case_id, opened_at, 'advisor', 'opened', reasons FROM cases")
    t_registry = time.perf_counter() - t0

    t0 = time.perf_counter()
    now_s = int(now.timestamp())
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        steps = np.arange(now_s - 6 * 3600, now_s, 300, dtype=np.int64)
        n_points = 0
        batch: list[str] = []
        for dev, hid, kind, room in devices:
            t = steps * 10**9
            if kind == "thermostat":
                batch += lines_from_arrays(
                    "thermostat", {"household": hid, "device": dev, "room": room},
                    {"temp_c": 19 + rng.normal(0, 1, len(t)),
                     "humidity_pct": 60 + rng.normal(0, 5, len(t))}, t)
            else:
                fuel = "electricity" if kind == "electricity_meter" else "gas"
                batch += lines_from_arrays(
                    "meter", {"household": hid, "device": dev, "fuel": fuel, "source": "modbus"},
                    {"energy_kwh": 1000 + np.arange(len(t)) * 0.05,
                     "power_w": rng.uniform(100, 900, len(t))}, t)
            if len(batch) >= 100_000:
                client.write_lines(batch)
                n_points += len(batch)
                batch = []
        client.write_lines(batch)  # the rest of the readings (raw retention policy)
        n_points += len(batch)
        batch = []
        # The latest forecast run as `hearth forecast` writes it: 30 daily totals of every home
        # and 336 half hours (7 days) of every home, and the run markers.
        origin_s = now_s // 1800 * 1800
        first_day = origin_s // 86400 * 86400  # today (UTC), as forecasting.service reads it
        days = (first_day + np.arange(30) * 86400) * 10**9
        halves = (origin_s + np.arange(336) * 1800) * 10**9
        counts = {"electricity": 0, "gas": 0}
        for hid, _, has_gas in homes:
            for fuel in (("electricity", "gas") if has_gas else ("electricity",)):
                counts[fuel] += 1
                tags = {"household": hid, "fuel": fuel, "model": MODEL}
                p50 = rng.uniform(5, 40) * np.ones(30)
                batch += lines_from_arrays("forecast_daily", tags,
                                           {"energy_kwh": p50, "energy_kwh_p10": p50 * 0.7,
                                            "energy_kwh_p90": p50 * 1.4}, days)
                e = np.full(336, p50[0] / 48)
                batch += lines_from_arrays("forecast", tags,
                                           {"energy_kwh": e, "energy_kwh_p10": e * 0.6,
                                            "energy_kwh_p90": e * 1.6}, halves)
            if len(batch) >= 100_000:
                client.write_lines(batch, retention_policy="usage")
                n_points += len(batch)
                batch = []
        for fuel, n in counts.items():
            batch += run_line(fuel, origin_s * 10**9, n, 336, 30, {"good": n})
        client.write_lines(batch, retention_policy="usage")
        n_points += len(batch)
        # Full histories for the homes whose page is timed.
        sample = [h[0] for h in homes[:: max(len(homes) // 20, 1)]][:20]
        hh = np.arange(now_s - now_s % 1800 - 56 * 86400, now_s - 1800, 1800, dtype=np.int64)
        for hid in sample:
            client.write_lines(usage_lines(hid, "electricity", rng.uniform(0.05, 1.2, len(hh)),
                                           hh * 10**9), retention_policy="usage")
            n_points += len(hh)
    return {"sample": sample, "patches": patches, "points": n_points,
            "registry_s": t_registry, "influx_s": time.perf_counter() - t0,
            "cases": len(rows), "devices": len(devices)}


TITLES = {"overview": "Overview", "risk_queue": "Risk queue", "damp_mould": "Damp and mould",
          "data_health": "Data health", "household": "Household"}


def _time_runs(at, n: int, page: str) -> tuple[float, float]:
    """(first run, median of the next n runs) [s]."""
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == TITLES[page], at.title[0].value
    warm = []
    for _ in range(n):
        t0 = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t0)
    return first, statistics.median(warm)


def measure(info: dict, runs: int = 5) -> dict[str, tuple[float, float]]:
    from streamlit.testing.v1 import AppTest

    out = {}
    for user in ("manager", "officer"):
        at = AppTest.from_file(str(APP), default_timeout=300).run()
        at.text_input(key="signin_username").input(user)
        at.text_input(key="signin_password").input(PASSWORD)
        # Signing in runs the overview: with the caches cold for the manager (first user).
        t0 = time.perf_counter()
        at.button[0].click().run()
        out[f"sign-in + overview ({user})"] = (time.perf_counter() - t0, float("nan"))
        assert at.title[0].value == "Overview", at.title[0].value
        for page in ("overview", "risk_queue", "damp_mould", "data_health"):
            at.switch_page(f"app_pages/{page}.py")
            out[f"{page} ({user})"] = _time_runs(at, runs, page)
        if user == "manager":
            firsts, warms = [], []
            for hid in info["sample"][:5]:
                at.session_state["household_id"] = hid
                at.switch_page("app_pages/household.py")
                first, warm = _time_runs(at, runs, "household")
                firsts.append(first)
                warms.append(warm)
            out["household (manager, 5 homes)"] = (statistics.median(firsts),
                                                   statistics.median(warms))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import streamlit as st

    from dashboard.runtime import settings_to_env
    from hearth.settings import Settings
    from hearth.stack import InfluxServer, free_port

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server = InfluxServer(tmp / "influxdb", free_port(), free_port(), "bench", "bench-pass")
        server.start()
        try:
            settings = Settings.model_validate({
                "paths": {"var_dir": str(tmp)},
                "influxdb": {"url": server.url, "database": "bench", "username": "bench",
                             "password": "bench-pass"},
                "mqtt": {"password": "unused"},
                "registry": {"path": str(tmp / "registry.sqlite3")},
                "collectors": {"dead_letter_dir": str(tmp / "dead_letters"),
                               "metrics_port": free_port()},
                "notifier": {"outbox_path": str(tmp / "outbox.jsonl")}})
            info = build(settings, args.households)
            print(f"built: {args.households} homes, {info['devices']} devices, "
                  f"{info['cases']} cases, {info['points']:,} points; registry "
                  f"{info['registry_s']:.1f} s, InfluxDB {info['influx_s']:.1f} s", flush=True)
            os.environ.update(settings_to_env(settings))
            st.cache_data.clear()
            st.cache_resource.clear()
            results = measure(info, args.runs)
            # The background refresh of the portfolio figures (no page waits for it).
            from dashboard import data
            for name, fn in (("background: last reading of every device", data._compute_last_seen),
                             ("background: 30-day forecast cost of every home",
                              data._compute_forecast_cost)):
                t0 = time.perf_counter()
                fn(data.influx(), settings.registry.path)
                results[name] = (time.perf_counter() - t0, float("nan"))
        finally:
            server.stop()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    print("| page (user) | first run, cold caches [s] | warm, median of "
          f"{args.runs} [s] |\n|---|---|---|")
    for name, (first, warm) in results.items():
        print(f"| {name} | {first:.2f} | {warm:.2f} |")
    print(json.dumps({k: [round(a, 3), round(b, 3)] for k, (a, b) in results.items()}))


if __name__ == "__main__":
    main()
