"""`hearth import smart-meter` and `hearth import meter-point add | import | list`: half-hourly
smart-meter data from consumer-access providers (docs/devices.md). Heavy imports stay inside the
handlers so that `hearth --help` is quick."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass

PROVIDER_CHOICES = ("n3rgy", "glowmarkt", "octopus")


def _when(text: str) -> dt.datetime:
    """A date or ISO 8601 time; UTC when it has no offset."""
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601"
                                         " time") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def register(isub: argparse._SubParsersAction) -> None:
    p = isub.add_parser("smart-meter", help="half-hourly smart-meter consumption from a"
                        " consumer-access provider (the DCC route), for consenting households")
    p.add_argument("--provider", choices=PROVIDER_CHOICES, action="append",
                   help="provider to import from (repeatable; default: those listed in"
                        " [importers.smart_meter] providers)")
    p.add_argument("--household", help="one household (pseudonymous id)")
    p.add_argument("--since", type=_when, help="fetch from this date or time instead of the"
                   " last half hour delivered less the look-back")
    p.add_argument("--until", type=_when, help="fetch up to this time (default now)")
    p.set_defaults(func=smart_meter)

    mp = isub.add_parser("meter-point", help="a household's meter as a provider knows it")
    ms = mp.add_subparsers(dest="meter_point_action", metavar="ACTION", required=True)
    a = ms.add_parser("add", help="register (or replace) a household's meter point")
    a.add_argument("household")
    a.add_argument("--fuel", choices=("electricity", "gas"), required=True)
    a.add_argument("--provider", choices=PROVIDER_CHOICES, required=True)
    a.add_argument("--mpxn", required=True, help="MPAN (13 digits) or MPRN (6 to 10 digits)")
    a.add_argument("--serial", help="meter serial number (octopus)")
    a.add_argument("--resource-id", help="the provider's resource id (glowmarkt)")
    a.add_argument("--gas-unit", choices=("m3", "kwh"), help="what the provider reports gas"
                   " in (octopus: m3 for SMETS2 meters, kwh for SMETS1)")
    a.add_argument("--credential", help="name of this home's own secret in var/secrets/ or"
                   " $HEARTH_<NAME> (default: the provider's)")
    a.add_argument("--actor", help="who records it (default cli:<user>)")
    a.set_defaults(func=meter_point_add)
    im = ms.add_parser("import", help="meter points from a CSV file, all or nothing")
    im.add_argument("file", help="CSV with a header: household_id, fuel, provider, mpxn,"
                    " meter_serial, resource_id, credential_ref, gas_unit")
    im.add_argument("--actor", help="who records it (default cli:<user>)")
    im.set_defaults(func=meter_point_import)
    ls = ms.add_parser("list", help="meter points and how far each has been imported")
    ls.add_argument("--provider", choices=PROVIDER_CHOICES)
    ls.set_defaults(func=meter_point_list)


def smart_meter(args: argparse.Namespace, settings) -> int:
    from importers.smart_meter import run_import

    if not (args.provider or settings.importers.smart_meter.providers):
        print("smart-meter import: no provider given and none listed in [importers.smart_meter]"
              " providers; nothing to import")
        return 0
    summaries = run_import(settings, providers=args.provider, household=args.household,
                           since=args.since, until=args.until)
    for s in summaries:
        print(s.describe())
    return 0 if all(s.ok for s in summaries) else 1


def meter_point_add(args: argparse.Namespace, settings) -> int:
    from hearth.registry import Registry
    from importers.meter_points import add_meter_point
    from importers.providers import MeterPoint

    point = MeterPoint(args.household, args.fuel, args.provider, args.mpxn.replace(" ", ""),
                       args.serial, args.resource_id, args.credential, args.gas_unit)
    with Registry(settings.registry.target) as reg:
        add_meter_point(reg, point, actor=args.actor or f"cli:{getpass.getuser()}")
    print(f"meter point recorded: {args.household} {args.fuel} with {args.provider}")
    return 0


def meter_point_import(args: argparse.Namespace, settings) -> int:
    from hearth.registry import Registry
    from importers.meter_points import import_csv

    with Registry(settings.registry.target) as reg:
        n = import_csv(reg, args.file, actor=args.actor or f"cli:{getpass.getuser()}")
    print(f"{n} meter point(s) recorded from {args.file}")
    return 0


def meter_point_list(args: argparse.Namespace, settings) -> int:
    from hearth.registry import Registry
    from importers.meter_points import last_interval, meter_points

    with Registry(settings.registry.target) as reg:
        points = meter_points(reg, provider=args.provider)
        if not points:
            print("no meter points registered")
        for p in points:
            last = last_interval(reg, p)
            # The MPAN/MPRN is shown only by its last digits: enough to check, not to copy.
            print(f"{p.household_id}\t{p.fuel}\t{p.provider}\t...{p.mpxn[-4:]}\t"
                  f"last half hour: {last:%Y-%m-%d %H:%M} UTC" if last else
                  f"{p.household_id}\t{p.fuel}\t{p.provider}\t...{p.mpxn[-4:]}\tnot imported yet")
    return 0

