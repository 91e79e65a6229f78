"""`hearth reference import FILE.csv | show [--on DAY]`: the dated reference figures (Ofgem's
typical consumption values and the price cap) in the registry."""

from __future__ import annotations

import argparse
import json
from datetime import date


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reference", help="dated reference figures: Ofgem typical consumption"
                       " values and the price cap (import, show)")
    rsub = p.add_subparsers(dest="reference_command", metavar="ACTION", required=True)
    imp = rsub.add_parser("import", help="add or replace rows from a CSV (the columns of"
                          " config/reference/tdcv.csv or price_cap.csv); all or nothing")
    imp.add_argument("file", metavar="FILE.csv")
    imp.set_defaults(func=run_import)
    show = rsub.add_parser("show", help="print the rows, and the ones in force on a day")
    show.add_argument("--on", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                      help="the day whose rows in force to mark (default today)")
    show.set_defaults(func=run_show)


def run_import(args: argparse.Namespace, settings) -> int:
    from hearth.reference import import_rows, parse_csv
    from hearth.registry.store import Registry

    kind, rows = parse_csv(args.file)
    with Registry(settings.registry.target) as reg:
        n = import_rows(reg.conn, kind, rows)
        reg.conn.execute("INSERT INTO audit_log (at, actor, action, target, detail) VALUES"
                         " (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'cli', 'reference.import',"
                         " ?, ?)", (kind, json.dumps({"rows": n, "file": str(args.file)})))
    print(f"imported {n} {kind} rows from {args.file} into {settings.registry.target}")
    return 0


def run_show(args: argparse.Namespace, settings) -> int:
    import numpy as np

    from hearth.reference import ReferenceFigures
    from hearth.registry.store import Registry

    day = args.on or date.today()
    with Registry(settings.registry.target) as reg:
        ref = ReferenceFigures.from_registry(reg.conn)
    d = np.array([day], dtype="datetime64[D]")
    print(f"Typical domestic consumption values (Ofgem), in force on {day}:")
    for profile in ("electricity", "economy7", "gas"):
        print(f"  {profile:<12} {ref.tdcv_kwh_per_year(profile, d)[0]:>8,.0f} kWh a year")
    print(f"Price cap in force on {day} (unit rate, standing charge):")
    in_force = {}
    for r in sorted(ref.price_cap, key=lambda r: r.effective_from):
        if r.effective_from <= day:
            in_force[(r.fuel, r.payment_method)] = r
    for _, r in sorted(in_force.items()):
        print(f"  {r.fuel:<12} {r.payment_method:<16} {r.unit_rate_p_per_kwh:.2f} p/kWh"
              f" + {r.standing_charge_p_per_day:.2f} p/day (from {r.effective_from};"
              f" {r.source})")
    print("All rows:")
    for r in sorted(ref.tdcv, key=lambda r: (r.effective_from, r.profile)):
        print(f"  tdcv      {r.effective_from} {r.profile:<12} {r.kwh_per_year:,.0f} kWh")
    for r in sorted(ref.price_cap, key=lambda r: (r.effective_from, r.fuel)):
        print(f"  price_cap {r.effective_from} {r.fuel:<12} {r.payment_method:<16}"
              f" {r.unit_rate_p_per_kwh:.2f} p/kWh + {r.standing_charge_p_per_day:.2f} p/day")
    return 0
