"""Benchmark: `hearth sim summary`, 1,000 registry-generated homes for a year, no server.

Run: PYTHONPATH=. python -m benchmarks.bench_sim_summary [--households 1000] [--days 365]
     [--seeds 11 23 37] [--step-s 300]
Prints, per seed, the wall and CPU time and the summary (the figures in docs/benchmarks.md,
"Simulator summary (issue 13)", and docs/simulator.md, "Calibration"). Seeds 1 and 2 were used
to tune the simulator; 11, 23, 37, 53, 71 and 97 were not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from meters_sim.summary import SummaryOptions, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 23, 37, 53, 71, 97])
    parser.add_argument("--step-s", type=int, default=300)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python"
          f" {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    for seed in args.seeds:
        t0, c0 = time.perf_counter(), time.process_time()
        out = summary(SummaryOptions(households=args.households, seed=seed, days=args.days,
                                     step_s=args.step_s))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(json.dumps({"seed": seed, "households": args.households, "days": args.days,
                          "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                          "load_average": round(os.getloadavg()[0], 1), **out}))


if __name__ == "__main__":
    main()
