"""Benchmark: the vectorised simulator, 500 homes x 8 weeks at 1-minute steps.

Run: PYTHONPATH=. python -m benchmarks.simulator [--households 500] [--weeks 8] [--step-s 60]
Prints the figures recorded in docs/benchmarks.md ("Simulator (issue 3)").
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import date

import numpy as np

from hearth.registry.generate import GenerateOptions, generate_portfolio
from meters_sim.homes import Portfolio
from meters_sim.model import Simulation
from meters_sim.truth import TruthAccumulator
from meters_sim.views import DeviceViews


def _rows(columns: dict) -> list[dict]:
    return [dict(zip(columns, v, strict=True))
            for v in zip(*(c.tolist() for c in columns.values()), strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=500)
    parser.add_argument("--weeks", type=float, default=8)
    parser.add_argument("--step-s", type=int, default=60)
    parser.add_argument("--start", default="2026-01-05T00:00")
    parser.add_argument("--backfill-households", type=int, default=200,
                        help="also time a 28-day backfill of this many homes into a temporary"
                        " InfluxDB (0: skip)")
    args = parser.parse_args()
    gen = generate_portfolio(GenerateOptions(args.households, seed=42, as_of=date(2026, 1, 1)))
    rows, devices = _rows(gen.households), _rows(gen.devices)
    pf = Portfolio.from_rows(rows, seed=42)
    steps = int(args.weeks * 7 * 86400 / args.step_s)
    c0, t0 = time.process_time(), time.perf_counter()
    sim = Simulation(pf, np.datetime64(args.start), step_s=args.step_s, seed=42, spinup_days=0)
    for _ in sim.run(steps):
        pass
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"simulate {pf.n} homes x {args.weeks:g} weeks at {args.step_s} s steps"
          f" ({steps} steps): {wall:.1f} s wall, {cpu:.1f} s CPU,"
          f" {pf.n * steps / wall / 1e6:.2f} M home-steps/s", flush=True)

    sim = Simulation(pf, np.datetime64(args.start), step_s=args.step_s, seed=42, spinup_days=0)
    acc = TruthAccumulator(pf)
    t1 = time.perf_counter()
    for tr in sim.run(steps):
        acc.update(tr)
    labels = acc.labels()
    t_truth = time.perf_counter() - t1
    shares = {k: np.mean([h[k] for h in labels["households"]]) for k in
              ("cold_home", "damp_mould", "credit_out", "self_disconnection", "self_rationing")}
    print(f"simulate + ground truth: {t_truth:.1f} s wall; label shares "
          + ", ".join(f"{k} {v:.1%}" for k, v in shares.items()), flush=True)

    views = DeviceViews(devices, pf, seed=42)
    sim = Simulation(pf, np.datetime64(args.start), step_s=args.step_s, seed=42, spinup_days=0)
    t2 = time.perf_counter()
    for _ in range(600):
        sim.advance(1)
        views.update(sim)
    t_live = (time.perf_counter() - t2) / 600
    print(f"live step (advance 1 step + sample {len(devices)} devices): {t_live * 1e3:.2f} ms")
    if args.backfill_households:
        backfill_benchmark(args.backfill_households)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python"
          f" {platform.python_version()}, numpy {np.__version__}, load average"
          f" {os.getloadavg()[0]:.1f}")


def backfill_benchmark(n: int, days: int = 28) -> None:
    """28 days of n homes at 30-minute points into a throw-away local InfluxDB."""
    import tempfile
    from pathlib import Path

    from hearth.influx import InfluxClient
    from hearth.stack import InfluxServer, free_port
    from meters_sim.backfill import backfill

    gen = generate_portfolio(GenerateOptions(n, seed=42, as_of=date.today()))
    pf = Portfolio.from_rows(_rows(gen.households), seed=42)
    views = DeviceViews(_rows(gen.devices), pf, seed=42)
    with tempfile.TemporaryDirectory() as tmp:
        server = InfluxServer(Path(tmp), free_port(), free_port(), "bench", "bench-password")
        server.start()
        try:
            client = InfluxClient(server.url, "bench", "bench", "bench-password",
                                  dead_letter_path=Path(tmp) / "dead.jsonl")
            client.ensure_database()
            now = np.datetime64("now", "s").astype("datetime64[ns]").astype("int64")
            start = now - now % (1800 * 10**9) - days * 86400 * 10**9
            sim = Simulation(pf, np.datetime64(int(start), "ns"), seed=42)
            res = backfill(client, sim, views, days, 1800, progress=False)
            total = sum(res.points.values())
            print(f"backfill {n} homes x {days} days at 30 min: {total} points"
                  f" (meter {res.points['meter']}, thermostat {res.points['thermostat']},"
                  f" weather {res.points['weather']}) in {res.seconds:.1f} s,"
                  f" {total / res.seconds:,.0f} points/s", flush=True)
            client.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
