"""`hearth advise`: assess every household, update the cases, text the tips.

    hearth advise [--dry-run] [--now 2026-01-15T08:00Z] [--patch NAME] [--no-tips]
    hearth advise opt-out HOUSEHOLD [--actor USERNAME]
    hearth advise notify-status
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from hearth.errors import HearthError


def _when(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time such as"
                                         " 2026-01-15T08:00Z") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def register(subparsers) -> None:
    p = subparsers.add_parser("advise", help="flag households at risk, update cases, send tips",
                              description="Assess every household (bills, prepayment credit,"
                              " cold home, damp and mould, fuel poverty, faults), update the"
                              " officers' cases and text tenants tips.")
    p.add_argument("--dry-run", action="store_true",
                   help="assess and report only: write no case, send no tip")
    p.add_argument("--now", type=_when, help="assess as at this UTC time (default: now)")
    p.add_argument("--patch", help="only the households of this patch")
    p.add_argument("--no-tips", action="store_true", help="update cases but send no tips")
    from hearth.shards import add_shard_argument

    add_shard_argument(p, "the households of this shard's patches (their cases and tips)")
    p.set_defaults(func=handle_advise)
    sub = p.add_subparsers(dest="advise_command", metavar="SUBCOMMAND")
    o = sub.add_parser("opt-out", help="stop SMS tips to a household at once (STOP reply or"
                       " an officer's action)")
    o.add_argument("household", help="household id, e.g. H000123")
    o.add_argument("--actor", default="officer", help="who records it (username)")
    o.add_argument("--source", default="officer", help="how the tenant asked (officer,"
                   " sms_stop_reply, phone_call, ...)")
    o.set_defaults(func=handle_opt_out)
    s = sub.add_parser("notify-status", help="read back delivery statuses and replies from"
                       " GOV.UK Notify (same as `hearth notify sync`)")
    s.set_defaults(func=handle_notify_status)


def handle_advise(args, settings) -> int:
    from advisor.service import run_advice

    report = run_advice(settings, now=args.now, dry_run=args.dry_run, patch=args.patch,
                        send_tips=not args.no_tips, shard=getattr(args, "shard", None))
    print(report.table())
    return 0


def handle_opt_out(args, settings) -> int:
    from advisor.db import connection
    from advisor.notify import opt_out
    from hearth.registry import Registry

    outbox = None
    if settings.notifier.sender == "outbox":  # its lines for this home are cancelled too
        from advisor.notify.outbox import OutboxSender

        outbox = OutboxSender(settings.notifier.outbox_path)
    with Registry(settings.registry.target) as reg:
        n = opt_out(connection(reg), args.household, args.actor, source=args.source,
                    outbox=outbox)
    if n == 0:
        print(f"{args.household}: already opted out; no tips will be sent")
    else:
        print(f"{args.household}: opted out ({n} tenant(s)); queued tips cancelled")
    return 0


def handle_notify_status(args, settings) -> int:
    from advisor.notify_cli import handle_sync

    if settings.notifier.sender != "notify":
        raise HearthError("notifier.sender is 'outbox': delivery statuses come from GOV.UK"
                          " Notify only (set notifier.sender = \"notify\" and"
                          " HEARTH_NOTIFY_API_KEY)")
    return handle_sync(args, settings)  # the same pass the schedule runs: `hearth notify sync`
