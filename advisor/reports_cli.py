"""`hearth report weekly` and `hearth opendata export` (advisor/reports)."""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path

from hearth.errors import HearthError


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time such as "
                                         "2026-01-05T06:00:00Z") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time zone, e.g. 2026-01-05T06:00:00Z")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="the weekly report (HTML, PDF, CSV)")
    rs = p.add_subparsers(dest="report_kind", metavar="KIND", required=True)
    w = rs.add_parser("weekly", help="homes, cases, Awaab's Law, costs, credit, use, tips, data"
                      " health for the last complete week")
    w.add_argument("--out", type=Path, help="folder (default [reports] out_dir)")
    w.add_argument("--patch", help="one patch only (default: the whole portfolio, by patch)")
    w.add_argument("--week-ending", type=_day, help="last day of the week, YYYY-MM-DD (default:"
                   " the Sunday before today)")
    w.add_argument("--generated-at", type=_instant, help="time stated as the generation time"
                   " (default now; fix it to reproduce a report byte for byte)")
    w.add_argument("--each-patch", action="store_true", help="also a report per patch (from"
                   " the same data, in weekly-<date>-<patch>/)")
    w.add_argument("--no-pdf", action="store_true", help="HTML and CSV only")
    w.add_argument("--week-to-date", action="store_true", help="the week that has not ended"
                   " yet (default: this Monday-to-Sunday week), labelled 'week to date'; without"
                   " it a week that has not ended is refused")
    w.set_defaults(func=weekly)

    o = sub.add_parser("opendata", help="monthly aggregated open data (no group under 10 homes)")
    os_ = o.add_subparsers(dest="opendata_action", metavar="ACTION", required=True)
    e = os_.add_parser("export", help="consumption and cost by area, property type and fuel")
    e.add_argument("--out", type=Path, help="folder (default [reports] opendata_out_dir)")
    e.add_argument("--month", help="YYYY-MM (default: the last complete month)")
    e.set_defaults(func=opendata)


def weekly(args: argparse.Namespace, settings) -> int:
    import sys

    from advisor.reports.weekly import weekly_report

    report = weekly_report(settings, args.out, args.patch, args.week_ending, args.generated_at,
                           pdf=not args.no_pdf, progress=sys.stderr.isatty(),
                           each_patch=args.each_patch and not args.patch,
                           week_to_date=args.week_to_date)
    print(f"weekly report: {report.html}")
    if report.pdf:
        print(f"PDF: {report.pdf}")
    print(f"{len(report.csv)} CSV tables in {report.folder}")
    for name, folder in report.patches.items():
        print(f"patch {name}: {folder}")
    return 0


def opendata(args: argparse.Namespace, settings) -> int:
    from advisor.reports.opendata_export import export_month

    try:
        result = export_month(settings, args.out, args.month)
    except ValueError as exc:
        raise HearthError(str(exc)) from exc
    print(f"open data for {result.month}: {result.csv} ({result.rows} rows, "
          f"{result.suppressed} suppressed) with {result.metadata.name}")
    return 0
