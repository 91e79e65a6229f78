"""`hearth demo`: run the whole service on simulated homes."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole service on simulated homes (until Ctrl-C)")
    p.add_argument("--households", type=int, default=200, help="simulated homes (default 200)")
    p.add_argument("--seed", type=int, default=42, help="same seed, same homes (default 42)")
    p.add_argument("--backfill-days", type=int, default=28, help="history to simulate (default 28)")
    p.add_argument("--speed", type=float, default=60.0,
                   help="simulated seconds per real second for the live homes (default 60)")
    p.add_argument("--port", type=int, default=None, help="dashboard port (default from settings)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings) -> int:
    from hearth.demo import DemoOptions, run_demo

    return run_demo(settings, DemoOptions(args.households, args.seed, args.backfill_days, args.speed,
                                          args.port or settings.dashboard.port))
