"""`hearth sim summary`: the calibration check of the simulated homes (docs/simulator.md)."""

from __future__ import annotations

import argparse


def add_summary(sim_parser: argparse.ArgumentParser) -> None:
    sub = sim_parser.add_subparsers(dest="sim_command", metavar="SUBCOMMAND")
    p = sub.add_parser("summary", help="annual kWh per home by fuel and heating, and the share"
                       " of homes in each ground-truth risk, from the model alone (no server)",
                       description="Simulate N registry-generated homes (without writing a"
                       " registry) and print one JSON object: per fuel and heating group the"
                       " homes' median, p10 and p90 annual kWh (scaled to a year when"
                       " --days < 365) and winter/summer ratio, and the share of homes in"
                       " each ground-truth label (docs/simulator.md, 'Calibration').")
    p.add_argument("--households", type=int, default=1000, metavar="N",
                   help="homes to generate and simulate (default 1000)")
    p.add_argument("--seed", type=int, default=42, help="seed of the homes and the weather"
                   " (default 42)")
    p.add_argument("--days", type=float, default=365.0, metavar="D",
                   help="days to simulate (default 365); fewer are spread as 12 runs, one a"
                   " month, and scaled to a year")
    p.add_argument("--start", default="2025-07-01", metavar="DATE",
                   help="UTC date the simulated year starts (default 2025-07-01)")
    p.add_argument("--step-s", type=int, default=300, metavar="SECONDS",
                   help="model step (default 300; 60 as the live simulator, ~4x slower)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace, settings) -> int:
    import json

    import numpy as np

    from hearth.errors import HearthError
    from meters_sim.summary import SummaryOptions, summary

    try:
        np.datetime64(args.start, "D")
    except ValueError:
        raise HearthError(f"--start {args.start}: give a date, YYYY-MM-DD") from None
    try:
        opts = SummaryOptions(households=args.households, seed=args.seed, days=args.days,
                              start=args.start, step_s=args.step_s)
        opts.validate()
    except ValueError as exc:
        raise HearthError(str(exc)) from None
    print(json.dumps(summary(opts), indent=1))
    return 0
