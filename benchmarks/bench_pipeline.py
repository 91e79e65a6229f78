"""Benchmark: CPU per home of each stage of the daily cycle, InfluxDB's own CPU included.

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_pipeline --households 1000 [5000 ...]
        [--days 1] [--seed 42] [--no-doc]

For each N: starts its own InfluxDB (free loopback ports, temporary folder), draws a registry
(`hearth registry generate`), then times the stages a council runs every day:

- write: `--days` of history at the devices' realistic intervals (meters every minute:
  register, power, voltage, prepayment credit and supply switch; thermostats every 5 minutes:
  temperature, humidity, setpoint, call for heat), written through `InfluxClient.write_lines`
  in this process;
- rollup: `hearth collect derive-usage --since START --until END` (usage_30m and the advisor's
  summaries thermostat_30m / meter_30m);
- forecast: `hearth forecast --now END`;
- advise: `hearth advise --no-tips --now END`, an hourly run (the summaries are current, so
  it summarises only its look-back and reads the window's summaries);
- report: `hearth report weekly --week-to-date --no-pdf`.

CPU of a stage = this process's CPU (write) or the command's (its rusage) plus influxd's
(utime + stime from /proc/<pid>/stat) over the stage, per home. A command's CPU includes
starting Python and importing Hearth (about 1 s, a fixed cost, not per home). Between the
smallest and largest N, the growth exponent b of CPU = a N^b; the 100,000-home figure is the
largest N's CPU scaled by (100000 / N)^b. The last line is
`per home CPU [ms]: write W, rollup R, forecast F, advise A, report P` at the largest N.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
INFLUX_USER, INFLUX_PASSWORD = "bench_admin", "bench-influx-password"
STAGES = ("write", "rollup", "forecast", "advise", "report")
METER_STEP_S, THERMOSTAT_STEP_S = 60, 300
NS = 10**9


def influxd_cpu_s(pid: int) -> float:
    """utime + stime of a process [s] (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def self_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def hearth(env: dict, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "hearth", *args], env=env, cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"hearth {' '.join(args)} failed ({proc.returncode}):"
                         f" {proc.stderr[-2000:]}")


def history_lines(devices: list[tuple], prepay: set[str], start_ns: int, days: float,
                  rng: np.random.Generator):
    """Line-protocol batches of raw readings, one device kind and a few hours at a time."""
    from hearth.influx import lines_from_arrays

    end_ns = start_ns + int(days * 86_400) * NS
    hours = 6 * 3600 * NS
    by_kind: dict[str, list[tuple]] = {}
    for d in devices:
        by_kind.setdefault(d[2], []).append(d)
    for w0 in range(start_ns, end_ns, hours):
        w1 = min(w0 + hours, end_ns)
        for kind, devs in by_kind.items():
            step = THERMOSTAT_STEP_S if kind == "thermostat" else METER_STEP_S
            t = np.arange(w0, w1, step * NS, dtype=np.int64)
            k, s = len(devs), len(t)
            dev = np.repeat(np.array([d[0] for d in devs], dtype=object), s)
            house = np.repeat(np.array([d[1] for d in devs], dtype=object), s)
            tt = np.tile(t, k)
            hour = (tt // (3600 * NS)) % 24
            if kind == "thermostat":
                room = np.repeat(np.array([d[3] or "living_room" for d in devs], dtype=object),
                                 s)
                temp = np.round(19 + 2 * np.sin(hour / 24 * 2 * np.pi)
                                + rng.normal(0, 0.3, k * s), 1)
                fields = {"temp_c": temp,
                          "humidity_pct": np.round(55 + rng.normal(0, 3, k * s), 1),
                          "setpoint_c": np.full(k * s, 20.0),
                          "heating_on": temp < 19.75}
                tags = {"household": house, "device": dev, "room": room, "source": "mqtt"}
                yield lines_from_arrays("thermostat", tags, fields, tt)
                continue
            fuel = "gas" if kind == "gas_meter" else "electricity"
            mean_kw = 0.4 if fuel == "electricity" else 1.5
            power_kw = np.clip(rng.gamma(2.0, mean_kw / 2, k * s), 0, None)
            base = np.repeat(rng.uniform(1000, 9000, k), s)
            since_start = (tt - start_ns) / 3.6e12  # [h]
            energy = np.round(base + mean_kw * since_start + 0.001 * power_kw, 3)
            fields = {"energy_kwh": energy}
            if fuel == "electricity":
                fields.update(power_w=np.round(power_kw * 1000, 1),
                              voltage_v=np.round(rng.normal(240, 2, k * s), 1),
                              supply_on=np.ones(k * s, bool))
            else:
                fields.update(volume_m3=np.round(energy / 11.2, 3),
                              flow_m3_per_h=np.round(power_kw / 11.2, 4))
            tags = {"household": house, "device": dev, "fuel": fuel, "source": "mqtt"}
            lines = lines_from_arrays("meter", tags, fields, tt)
            pp = np.isin(house, list(prepay)) & (fuel == "electricity")
            if pp.any():  # prepayment meters report their credit too
                credit = np.round(np.maximum(0.0, 30 - 0.3 * since_start[pp]), 2)
                lines += lines_from_arrays("meter", {k2: v[pp] if not isinstance(v, str)
                                                     else v for k2, v in tags.items()},
                                           {"credit_gbp": credit}, tt[pp])
            yield lines


def run_one(n: int, days: float, seed: int) -> dict:
    from hearth.influx import InfluxClient
    from hearth.settings import load_settings
    from hearth.stack import InfluxServer, free_port

    tmp = Path(tempfile.mkdtemp(prefix="hearth-pipeline-"))
    server = InfluxServer(tmp / "influxdb", free_port(), free_port(), INFLUX_USER,
                          INFLUX_PASSWORD)
    server.start()
    pid = server.pid()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HEARTH_HOME": str(tmp),
           "HEARTH_INFLUX_PASSWORD": INFLUX_PASSWORD, "HEARTH_MQTT_PASSWORD": "unused",
           "HEARTH__INFLUXDB__URL": server.url, "HEARTH__INFLUXDB__USERNAME": INFLUX_USER,
           "HEARTH__INFLUXDB__MANAGE_SERVER": "false", "HEARTH__INFLUXDB__RPC_PORT": "1",
           "HEARTH__INFLUXDB__TIMEOUT_S": "1200",
           "HEARTH__COLLECTORS__METRICS_PORT": str(free_port())}
    out = {"households": n, "cpu_s": {}, "wall_s": {}}
    try:
        hearth(env, "registry", "generate", "--households", str(n), "--seed", str(seed))
        with sqlite3.connect(tmp / "var" / "registry.sqlite3") as conn:
            devices = conn.execute("SELECT device_id, household_id, kind, room FROM devices"
                                   " WHERE kind IN ('electricity_meter', 'gas_meter',"
                                   " 'thermostat')").fetchall()
            prepay = {h for (h,) in conn.execute("SELECT household_id FROM households WHERE"
                                                 " payment_type = 'prepayment'")}
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(days=days)
        rng = np.random.default_rng(seed)

        def stage(name, work, in_process=False):
            s0, c0, i0, t0 = self_cpu_s(), children_cpu_s(), influxd_cpu_s(pid), \
                time.perf_counter()
            work()
            own = (self_cpu_s() - s0) if in_process else (children_cpu_s() - c0)
            srv = influxd_cpu_s(pid) - i0
            out["cpu_s"][name] = {"client": own, "server": srv}
            out["wall_s"][name] = time.perf_counter() - t0
            print(f"  N={n} {name}: CPU {own:.1f} s client + {srv:.1f} s influxd,"
                  f" wall {out['wall_s'][name]:.1f} s", flush=True)

        settings = load_settings(environ=env)

        def write():
            with InfluxClient.from_settings(settings) as client:
                client.ensure_database()
                for lines in history_lines(devices, prepay, int(start.timestamp()) * NS, days,
                                           rng):
                    client.write_lines(lines)

        stage("write", write, in_process=True)
        stage("rollup", lambda: hearth(env, "collect", "derive-usage", "--since",
                                       start.isoformat(), "--until", end.isoformat()))
        stage("forecast", lambda: hearth(env, "forecast", "--now", end.isoformat()))
        stage("advise", lambda: hearth(env, "advise", "--no-tips", "--now", end.isoformat()))
        stage("report", lambda: hearth(env, "report", "weekly", "--week-to-date", "--no-pdf",
                                       "--out", str(tmp / "reports")))
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def table(runs: list[dict]) -> list[str]:
    ns = [r["households"] for r in runs]
    lines = ["| stage | " + " | ".join(f"N={n:,} CPU ms/home (influxd)" for n in ns)
             + " | growth b | 100,000 homes CPU [min] |",
             "|---|" + "---|" * len(ns) + "---|---|"]
    for st in STAGES:
        cells, totals = [], []
        for r in runs:
            c = r["cpu_s"][st]
            total = c["client"] + c["server"]
            totals.append(total)
            cells.append(f"{1000 * total / r['households']:.2f} ({1000 * c['server'] / r['households']:.2f})")
        if len(runs) > 1 and totals[0] > 0 and totals[-1] > 0:
            b = math.log(totals[-1] / totals[0]) / math.log(ns[-1] / ns[0])
        else:
            b = 1.0
        at_100k = totals[-1] * (100_000 / ns[-1]) ** b / 60
        lines.append(f"| {st} | " + " | ".join(cells) + f" | {b:.2f} | {at_100k:.1f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, nargs="+", default=[1000])
    ap.add_argument("--days", type=float, default=1.0, help="days of history written")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    runs = []
    for n in sorted(args.households):
        print(f"N={n}: load average {os.getloadavg()[0]:.2f}", flush=True)
        runs.append(run_one(n, args.days, args.seed))
    print()
    print("\n".join(table(runs)))
    wall = {st: runs[-1]["wall_s"][st] for st in STAGES}
    print("wall [s] at N=" + f"{runs[-1]['households']}: "
          + ", ".join(f"{k} {v:.1f}" for k, v in wall.items()))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    last = runs[-1]
    per = {st: 1000 * (last["cpu_s"][st]["client"] + last["cpu_s"][st]["server"])
           / last["households"] for st in STAGES}
    print(f"per home CPU [ms]: write {per['write']:.2f}, rollup {per['rollup']:.2f}, forecast"
          f" {per['forecast']:.2f}, advise {per['advise']:.2f}, report {per['report']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
