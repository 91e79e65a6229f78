"""Benchmark: `hearth registry generate` for 100,000 homes, and vectorised reads of the result.

Run: PYTHONPATH=. python -m benchmarks.registry_generate [--households N]
Prints the figures recorded in docs/benchmarks.md ("Registry (issue 2)").
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from hearth.registry import Registry
from hearth.registry.generate import GenerateOptions, generate_portfolio, write_portfolio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.sqlite3"
        c0, t0 = time.process_time(), time.perf_counter()
        portfolio = generate_portfolio(GenerateOptions(args.households, seed=42,
                                                       as_of=date(2026, 11, 25)))
        t_draw = time.perf_counter() - t0
        with Registry(path) as reg:
            t1 = time.perf_counter()
            written = write_portfolio(reg, portfolio)
            t_write = time.perf_counter() - t1
        cpu = time.process_time() - c0
        with Registry(path) as reg:
            t2 = time.perf_counter()
            frame = reg.households_frame()
            t_frame = time.perf_counter() - t2
            t3 = time.perf_counter()
            homes = reg.households()
            t_objects = time.perf_counter() - t3
            table = reg.tariff_table()
            days = np.arange(np.datetime64("2025-12-01"), np.datetime64("2026-11-25"))
            t4 = time.perf_counter()
            unit, _standing = table.matrix("electricity", frame["payment_type"].to_numpy(), days)
            t_tariff = time.perf_counter() - t4
        size_mb = path.stat().st_size / 1e6 if path.exists() else float("nan")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"generate {args.households:,} homes: draw {t_draw:.2f} s, write {t_write:.2f} s, "
          f"total {t_draw + t_write:.2f} s wall, {cpu:.2f} s CPU ({written['tenants']:,} tenants, "
          f"{written['devices']:,} devices, {portfolio.gateways:,} gateways, "
          f"file {size_mb:.0f} MB)")
    print(f"households_frame(): {t_frame:.2f} s; households() as dataclasses: {t_objects:.2f} s "
          f"({len(homes):,})")
    print(f"tariff matrix {unit.shape[0]:,} homes x {unit.shape[1]} days: {t_tariff:.3f} s "
          f"(NaN days: {int(np.isnan(unit).sum())})")


if __name__ == "__main__":
    main()
