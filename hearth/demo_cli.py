"""`hearth demo`: run the whole service on simulated homes."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole service on simulated homes (until Ctrl-C)",
                       description="Start InfluxDB and Mosquitto, make a simulated portfolio"
                       " (once), write its history, derive usage, forecast and advise, then run"
                       " the live simulators, collectors, scheduler and dashboard until Ctrl-C."
                       " Ports come from the settings (HEARTH__DASHBOARD__PORT and so on).")
    p.add_argument("--households", type=int, default=200, help="simulated homes (default 200)")
    p.add_argument("--seed", type=int, default=42, help="same seed, same homes (default 42)")
    p.add_argument("--backfill-days", type=int, default=28, help="history to simulate (default 28)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per real second for the live homes (default 1: real"
                   " time; above 1 the homes' clock runs ahead, so the dashboard shows readings"
                   " from the future, up to [sim] max_lead_s)")
    p.add_argument("--port", type=int, default=None, help="dashboard port (default from settings)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings) -> int:
    from hearth.demo import DemoOptions, run_demo

    return run_demo(settings, DemoOptions(args.households, args.seed, args.backfill_days, args.speed,
                                          args.port or settings.dashboard.port,
                                          settings.tenants.port))
