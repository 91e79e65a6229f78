"""`hearth tenant export | consent | end-tenancy`: tenants' rights over their data."""

from __future__ import annotations

import argparse
import getpass
from datetime import date
from pathlib import Path


def _on_off(text: str) -> bool:
    value = text.strip().lower()
    if value in ("on", "yes", "1", "true"):
        return True
    if value in ("off", "no", "0", "false"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r}: use on or off")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _actor(args) -> str:
    return args.actor or f"cli:{getpass.getuser()}"


def register(sub: argparse._SubParsersAction) -> None:
    from hearth.registry.models import CONSENT_SOURCES

    p = sub.add_parser("tenant", help="tenants' own data: subject access, consent, end of tenancy")
    ts = p.add_subparsers(dest="tenant_action", metavar="ACTION", required=True)
    e = ts.add_parser("export", help="everything Hearth holds about a household (JSON and CSV)")
    e.add_argument("household")
    e.add_argument("--out", type=Path, required=True, help="a .zip file, or a folder")
    e.add_argument("--actor", help="who asks (default cli:<user>), for the audit log")
    e.set_defaults(func=export)
    c = ts.add_parser("consent", help="record a consent change with its time and source")
    c.add_argument("household")
    c.add_argument("--sms", type=_on_off, help="on|off: tips by text message")
    c.add_argument("--share-with-supplier", type=_on_off, help="on|off: sharing data with the"
                   " energy supplier")
    c.add_argument("--smart-meter-import", type=_on_off, help="on|off: fetching the smart"
                   " meter's half-hourly data from a consumer-access provider")
    c.add_argument("--source", choices=[*CONSENT_SOURCES, "tenant_request"],
                   help="how the tenant told us (required to turn consent on)")
    c.add_argument("--tenant", help="one tenant of the household (default: all of them)")
    c.add_argument("--actor", help="who records it (default cli:<user>)")
    c.set_defaults(func=consent)
    t = ts.add_parser("end-tenancy", help="end a tenancy and remove the tenants' personal data")
    t.add_argument("household")
    t.add_argument("--date", type=_day, help="last day of the tenancy (default today)")
    t.add_argument("--actor", help="who records it (default cli:<user>)")
    t.set_defaults(func=end)


def export(args: argparse.Namespace, settings) -> int:
    from hearth.tenant_rights import subject_access

    out = subject_access(settings, args.household, args.out, actor=_actor(args))
    print(f"subject access response for {args.household}: {out}")
    return 0


def consent(args: argparse.Namespace, settings) -> int:
    from hearth.registry import Registry
    from hearth.tenant_rights import set_consent

    with Registry(settings.registry.path) as reg:
        result = set_consent(reg, args.household, sms=args.sms,
                             share_with_supplier=args.share_with_supplier, source=args.source,
                             actor=_actor(args), tenant_id=args.tenant,
                             smart_meter_import=args.smart_meter_import)
    for line in result.changed:
        print(f"recorded: {line}")
    for line in result.unchanged:
        print(f"unchanged: {line}")
    return 0


def end(args: argparse.Namespace, settings) -> int:
    from hearth.tenant_rights import end_tenancy

    result = end_tenancy(settings, args.household, args.date, actor=_actor(args))
    print(f"tenancy of {args.household} ended {result.tenancy_end}; removed:")
    for what, n in result.counts().items():
        print(f"  {what}: {n}")
    print("readings stay under the pseudonymous id; the erasure log lists each removal")
    return 0
