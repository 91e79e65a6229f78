"""`hearth import weather [--area NAME ...] [--since DATE]`: hourly outdoor temperature per
patch from the weather service (docs/weather.md)."""

from __future__ import annotations

import argparse
import datetime as dt


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("weather", help="outdoor temperature per patch: observed and "
                              "forecast hourly, into the weather measurement")
    p.add_argument("--area", action="append", dest="areas", metavar="NAME",
                   help="only this patch (repeatable); default every [[weather.areas]]")
    p.add_argument("--since", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                   help="fetch observed weather from this UTC day (default: from the last "
                        "observed hour stored, or weather.history_days back)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace, settings) -> int:
    from hearth.influx import InfluxClient
    from importers.weather import import_weather

    with InfluxClient.from_settings(settings) as client:
        results = import_weather(settings, client, since=args.since, areas=args.areas)
    failed = 0
    for r in results:
        print(f"{r.area}: {r.observed_points} observed and {r.forecast_points} forecast hours "
              f"written; {r.missing_hours} hours missing at the source (left missing)")
        for err in r.errors:
            print(f"{r.area}: error: {err}")
        failed += not r.ok
    if failed:
        print(f"{failed} of {len(results)} areas not fully imported; the forecaster uses "
              "climatology where it has no weather (and says so in its run record)")
        return 1
    return 0
