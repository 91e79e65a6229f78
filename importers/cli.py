"""`hearth import ...`: bring in data from outside services. Each importer adds its action
through `register(subparsers)` in its own module."""

from __future__ import annotations

import argparse

# Importer command modules, each with register(subparsers) for one `hearth import` action.
IMPORTER_MODULES = ["importers.weather_cli", "importers.smart_meter_cli"]


def register(subparsers: argparse._SubParsersAction) -> None:
    import importlib

    parser = subparsers.add_parser("import", help="import data from outside services "
                                   "(weather, smart-meter data)")
    sub = parser.add_subparsers(dest="import_command", metavar="SOURCE", required=True)
    for name in IMPORTER_MODULES:
        importlib.import_module(name).register(sub)
