"""The `hearth` command line. Each room adds its own subcommands through `register(subparsers)`
in its `cli` module; heavy imports stay inside the handlers so that `hearth --help` is quick."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from hearth.errors import HearthError
from hearth.logs import setup_logging

# Command modules, in the order `hearth --help` lists them. Each has register(subparsers).
COMMAND_MODULES = [
    "hearth.stack_cli",
    "hearth.demo_cli",
    "hearth.registry.cli",
    "meters_sim.cli",
    "collectors.cli",
    "collectors.modbus_cli",
    "importers.cli",
    "forecasting.cli",
    "advisor.cli",
    "advisor.notify_cli",
    "dashboard.cli",
    "dashboard.users_cli",
    "advisor.reports_cli",
    "hearth.schedule_cli",
    "tenants.cli",
    "hearth.reference_cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hearth", description="Smart energy service for social"
                                     " housing: collect, forecast, advise.")
    parser.add_argument("--config", help="settings file (default config/hearth.toml or $HEARTH_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # A room that is not installed in this build: its commands are simply absent.
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(verbose=args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from hearth.settings import load_settings

        settings = load_settings(args.config)
        return int(args.func(args, settings) or 0)
    except HearthError as exc:
        print(f"hearth: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        logging.getLogger("hearth").info("interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
