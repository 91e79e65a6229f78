"""Benchmark: `hearth report weekly` for 10,000 homes (goal: under 60 s), HTML + PDF + CSV.

Run: PYTHONPATH=. python -m benchmarks.bench_reports [--households 10000] [--no-pdf]

Starts its own InfluxDB 1.x (Debian `influxd`) in a temporary folder, generates the registry
(`hearth registry generate`, seed 42), and writes a realistic week for every home:
- usage_30m: every half hour of the report's week and of the same week last year, per fuel;
- forecast_daily: 30 days per home and fuel;
- weather: hourly outdoor temperature per block/street, both weeks;
- meter / thermostat: a reading from every device every 6 hours (the report reads only each
  device's last reading and each prepayment meter's last balance), with 2% of devices silent;
- cases with events (Awaab's Law deadlines among them) and an SMS log.
Only `weekly_report` is timed, twice: wall time, and the CPU time of the report's process,
of Chromium and of influxd (the fair figure on a shared machine: on a dedicated one the wall
time is at most their sum). Prints the figures recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from advisor.reports.period import same_week_last_year, week_ending
from hearth.influx import USAGE_RP, InfluxClient, lines_from_arrays, usage_lines
from hearth.registry import Registry
from hearth.registry.generate import GenerateOptions, generate_portfolio, write_portfolio
from hearth.settings import Settings
from hearth.stack import InfluxServer, free_port

WEEK_END = date(2026, 1, 11)
HH_NS = 30 * 60 * 10**9
USER, PASSWORD = "bench_admin", "bench-password"


def _settings(var: Path, url: str) -> Settings:
    return Settings.model_validate({
        "paths": {"var_dir": str(var)},
        "influxdb": {"url": url, "database": "bench", "username": USER, "password": PASSWORD,
                     "raw_retention_days": 3650, "batch_size": 20000},
        "registry": {"path": str(var / "registry.sqlite3")},
        "collectors": {"dead_letter_dir": str(var / "dead_letters")},
        "notifier": {"outbox_path": str(var / "outbox.jsonl")},
        "reports": {"out_dir": str(var / "reports")},
        "schedule": {"state_path": str(var / "schedule.sqlite3")},
    })


def _fill_registry(settings: Settings, n: int, rng: np.random.Generator) -> None:
    portfolio = generate_portfolio(GenerateOptions(n, seed=42, as_of=WEEK_END + timedelta(days=1)))
    with Registry(settings.registry.path) as reg:
        write_portfolio(reg, portfolio)
        homes = reg.households_frame()
        ids = homes.index.to_numpy()
        week = week_ending(WEEK_END)
        kinds = np.array(["bill_shock", "credit_runout", "cold_home", "damp_mould",
                          "self_rationing", "device_fault"])
        n_cases = n // 5
        hh = rng.choice(ids, n_cases, replace=False)
        kind = rng.choice(kinds, n_cases)
        opened = week.start_ns + rng.integers(-21, 7, n_cases) * 86_400 * 10**9 \
            + rng.integers(0, 86_400, n_cases) * 10**9
        closed = rng.random(n_cases) < 0.4
        iso = lambda ns: datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
        with reg.transaction() as conn:
            for i in range(n_cases):
                o = int(opened[i])
                c = iso(o + 3 * 86_400 * 10**9) if closed[i] else None
                due = iso(o + 10 * 86_400 * 10**9) if kind[i] == "damp_mould" else None
                conn.execute("INSERT INTO cases (household_id, kind, severity, score, reasons,"
                             " opened_at, updated_at, closed_at, due_by, stage, status) VALUES"
                             " (?,?,?,?,?,?,?,?,?,?,?)",
                             (hh[i], kind[i], "high", 60.0, "benchmark", iso(o), iso(o), c, due,
                              "investigate" if due else None, "resolved" if c else "open"))
                cid = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                detail = f"high: damp (due by {due}, investigate)" if due else "opened"
                conn.execute("INSERT INTO case_events (case_id, at, actor, action, detail,"
                             " due_by, stage) VALUES (?,?,?,?,?,?,?)",
                             (cid, iso(o), "advisor", "opened", detail, due,
                              "investigate" if due else None))
                if c:
                    conn.execute("INSERT INTO case_events (case_id, at, actor, action, detail)"
                                 " VALUES (?,?,?,?,?)", (cid, c, "officer", "resolved", "done"))
                if i % 2 == 0:
                    conn.execute("INSERT INTO sms_log (household_id, case_id, template, sent_at,"
                                 " sender, status, created_at) VALUES (?,?,?,?,?,?,?)",
                                 (hh[i], cid, kind[i], iso(o + 3600 * 10**9), "outbox",
                                  "delivered" if i % 10 else "permanent-failure", iso(o)))


def _fill_influx(settings: Settings, rng: np.random.Generator) -> int:
    week = week_ending(WEEK_END)
    last = same_week_last_year(week)
    written = 0
    with Registry(settings.registry.path) as reg:
        homes = reg.households_frame()
        devices = reg.devices_frame()
    ids = homes.index.to_numpy()
    has_gas = homes["has_gas"].to_numpy()
    prepay = homes["payment_type"].to_numpy() == "prepayment"
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        for period in (week, last):
            steps = period.days * 48
            times = period.start_ns + np.arange(steps, dtype=np.int64) * HH_NS
            for lo in range(0, len(ids), 500):
                chunk = ids[lo:lo + 500]
                for fuel, mask in (("electricity", np.ones(len(chunk), bool)),
                                   ("gas", has_gas[lo:lo + 500])):
                    sel = chunk[mask]
                    base = 0.12 if fuel == "electricity" else 0.5
                    kwh = np.round(rng.gamma(2.0, base / 2, (sel.size, steps)), 4)
                    lines = usage_lines(np.repeat(sel, steps), fuel, kwh.ravel(),
                                        np.tile(times, sel.size))
                    written += client.write_lines(lines, USAGE_RP).written
            areas = homes["address_area"].unique()
            hours = period.start_ns + np.arange(period.days * 24, dtype=np.int64) * 2 * HH_NS
            temps = rng.normal(6.0 if period is week else 4.0, 2.0, (areas.size, hours.size))
            written += client.write_lines(lines_from_arrays(
                "weather", {"area": np.repeat(areas, hours.size)}, {"temp_c": temps.ravel()},
                np.tile(hours, areas.size)), USAGE_RP).written
        # Forecasts for the 30 days after the week.
        days = (np.datetime64(WEEK_END) + 1 + np.arange(30)).astype("datetime64[ns]").astype(np.int64)
        for fuel, mask in (("electricity", np.ones(len(ids), bool)), ("gas", has_gas)):
            sel = ids[mask]
            kwh = np.round(rng.gamma(4.0, (6.0 if fuel == "electricity" else 25.0) / 4,
                                     (sel.size, 30)), 3)
            written += client.write_lines(lines_from_arrays(
                "forecast_daily", {"household": np.repeat(sel, 30), "fuel": fuel,
                                   "model": "hearth"}, {"energy_kwh": kwh.ravel()},
                np.tile(days, sel.size)), USAGE_RP).written
        # Raw readings every 6 hours; 2% of devices silent after Wednesday.
        t6 = week.start_ns + np.arange(28, dtype=np.int64) * 6 * 3600 * 10**9
        dev_ids = devices.index.to_numpy()
        dev_home = devices["household_id"].to_numpy()
        kind = devices["kind"].to_numpy()
        silent = rng.random(dev_ids.size) < 0.02
        pos = homes.index.get_indexer(dev_home)
        for lo in range(0, dev_ids.size, 2000):
            sl = slice(lo, lo + 2000)
            for k in ("electricity_meter", "gas_meter", "thermostat"):
                m = kind[sl] == k
                if not m.any():
                    continue
                d, h, s, p = dev_ids[sl][m], dev_home[sl][m], silent[sl][m], prepay[pos[sl][m]]
                n_t = np.where(s, 10, 28)
                rep = np.repeat(np.arange(d.size), n_t)
                tt = np.concatenate([t6[:x] for x in n_t])
                if k == "thermostat":
                    lines = lines_from_arrays("thermostat", {"household": h[rep], "device": d[rep],
                                                             "room": "living_room"},
                                              {"temp_c": np.round(rng.normal(19, 1.5, rep.size), 2)},
                                              tt)
                else:
                    fuel = "electricity" if k == "electricity_meter" else "gas"
                    fields = {"energy_kwh": np.round(1000 + rng.random(rep.size) * 10, 3)}
                    lines = lines_from_arrays("meter", {"household": h[rep], "device": d[rep],
                                                        "fuel": fuel, "source": "modbus"},
                                              fields, tt)
                    pre = np.flatnonzero(p[rep])
                    if pre.size:
                        lines += lines_from_arrays(
                            "meter", {"household": h[rep][pre], "device": d[rep][pre],
                                      "fuel": fuel, "source": "modbus"},
                            {"credit_gbp": np.round(rng.uniform(-2, 40, pre.size), 2)}, tt[pre])
                written += client.write_lines(lines).written
    return written


def _server_cpu_s(server: InfluxServer) -> float:
    """CPU time influxd has used [s] (user + system, from /proc)."""
    fields = Path(f"/proc/{server.pid()}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    """CPU time of finished child processes (Chromium printing the PDF) [s]."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    from advisor.reports.weekly import weekly_report

    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--no-pdf", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        var = Path(tmp)
        server = InfluxServer(var / "influxdb", free_port(), free_port(), USER, PASSWORD)
        server.start()
        try:
            settings = _settings(var, server.url)
            t0 = time.perf_counter()
            _fill_registry(settings, args.households, rng)
            points = _fill_influx(settings, rng)
            setup_s = time.perf_counter() - t0
            print(f"setup: {args.households:,} homes, {points:,} points in {setup_s:.0f} s")
            runs, cpus = [], []
            for _ in range(2):
                c_self, c_kids, c_db = (time.process_time(), _children_cpu_s(),
                                        _server_cpu_s(server))
                t1 = time.perf_counter()
                report = weekly_report(settings, var / "out", week_end=WEEK_END,
                                       pdf=not args.no_pdf, progress=False)
                runs.append(time.perf_counter() - t1)
                cpus.append((time.process_time() - c_self, _children_cpu_s() - c_kids,
                             _server_cpu_s(server) - c_db))
            load = os.getloadavg()[0]
            print("\n| homes | InfluxDB points | run | wall [s] | CPU: report / Chromium / influxd"
                  " [s] | load average |\n|---|---|---|---|---|---|")
            for i, (wall, cpu) in enumerate(zip(runs, cpus, strict=True), start=1):
                print(f"| {args.households:,} | {points:,} | {i} | {wall:.1f} | {cpu[0]:.1f} / "
                      f"{cpu[1]:.1f} / {cpu[2]:.1f} (total {sum(cpu):.1f}) | {load:.1f} |")
            print("\nsteps of run 2 [s]: " + ", ".join(f"{k} {v:.1f}"
                                                     for k, v in report.timings_s.items()))
            print(f"HTML {report.html.stat().st_size / 1e3:.0f} kB, PDF "
                  f"{report.pdf.stat().st_size / 1e3 if report.pdf else 0:.0f} kB, "
                  f"{len(report.csv)} CSV files")
            print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs,"
                  f" Python {platform.python_version()}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
