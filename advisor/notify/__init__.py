"""SMS tips for tenants: a Notifier interface with two senders (outbox, GOV.UK Notify), the tip
texts, and the dispatcher that honours consent, opt-out, quiet hours and rate limits."""

from __future__ import annotations

from datetime import datetime

from advisor.notify.base import Notifier, SendError, SendResult, Tip
from advisor.notify.dispatch import (
    TipDispatcher,
    TipSummary,
    opt_out,
    poll_statuses,
    process_replies,
)


def make_sender(settings, environ: dict[str, str] | None = None) -> Notifier:
    """The sender chosen in settings.notifier.sender."""
    if settings.notifier.sender == "notify":
        from advisor.notify.govuk import NotifySender

        return NotifySender.from_settings(settings, environ)
    from advisor.notify.outbox import OutboxSender

    return OutboxSender(settings.notifier.outbox_path)


def send_tips(registry, settings, sender: Notifier | None = None, now: datetime | None = None,
              dry_run: bool = False) -> TipSummary:
    """Send (or defer, or skip with a reason) the tips for all open cases."""
    from advisor.db import connection

    conn = connection(registry)
    return TipDispatcher(conn, settings.notifier, sender or make_sender(settings), now).run(dry_run)


# The contract's name for the call other rooms use.
send_tip = send_tips

__all__ = ["Notifier", "SendError", "SendResult", "Tip", "TipDispatcher", "TipSummary",
           "make_sender", "opt_out", "poll_statuses", "process_replies", "send_tip", "send_tips"]
