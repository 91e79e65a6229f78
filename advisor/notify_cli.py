"""`hearth notify sync`: tenants' replies (STOP, HELP, others for officers), cancellations and
delivery receipts. The shipped schedule runs it every 5 minutes (job `notify-sync`)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("notify", help="two-way SMS: read replies and delivery receipts")
    nsub = p.add_subparsers(dest="notify_command", metavar="SUBCOMMAND", required=True)
    s = nsub.add_parser("sync", help="process STOP/HELP replies, cancel what may no longer go,"
                        " read delivery receipts (scheduled every 5 minutes)")
    s.set_defaults(func=handle_sync)


def handle_sync(args, settings) -> int:
    from advisor.db import connection
    from advisor.notify import make_sender
    from advisor.notify.sync import sync
    from hearth.registry import Registry

    sender = make_sender(settings)
    with Registry(settings.registry.target) as reg:
        result = sync(connection(reg), settings.notifier, sender)
    if sender.name == "outbox":
        print("Sender: outbox (no GOV.UK Notify key): no replies or receipts to read; outbox"
              " lines stay 'not sent: outbox'")
    for line in result.lines():
        print(line)
    # The work is done either way; a problem (e.g. a missing template id) fails the run so
    # that it shows on the data health page.
    return 1 if result.problems else 0
