"""`hearth notify sync`, run by the schedule every few minutes: tenants' replies (STOP, HELP,
anything else), cancellation of whatever is queued for a household that may no longer be
texted, and delivery receipts (with data-quality tasks for numbers that fail).

Order matters: replies first, so a STOP read now cancels what is queued in the same run.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from advisor.db import iso, transaction, utc_now
from advisor.notify.dispatch import CONSENT_GONE, TipDispatcher, cancel_queued, poll_statuses
from advisor.notify.receipts import close_changed_numbers
from advisor.notify.replies import ReplyProcessor

log = logging.getLogger(__name__)
CURSOR = "received_texts"


@dataclass
class SyncResult:
    replies: Counter = field(default_factory=Counter)    # by action
    receipts: Counter = field(default_factory=Counter)   # by status
    cancelled: int = 0
    tasks_closed: int = 0
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        def shown(c: Counter) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"

        return [f"Replies: {shown(self.replies)}", f"Delivery receipts: {shown(self.receipts)}",
                f"Cancelled (consent gone or number failing): {self.cancelled}",
                f"Number tasks closed (number changed): {self.tasks_closed}",
                *[f"Problem: {p}" for p in self.problems]]


def cursor(conn) -> str | None:
    row = conn.execute("SELECT last_id FROM notify_cursor WHERE name = ?", (CURSOR,)).fetchone()
    return row["last_id"] if row else None


def _save_cursor(conn, newest: dict, now: datetime) -> None:
    with transaction(conn):
        conn.execute("INSERT INTO notify_cursor (name, last_id, last_at, updated_at) VALUES"
                     " (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id,"
                     " last_at = excluded.last_at, updated_at = excluded.updated_at",
                     (CURSOR, newest.get("id"), newest.get("created_at"), iso(now)))


def cancel_uncontactable(conn, notifier_settings, sender, now: datetime, outbox=None) -> int:
    """Cancel queued tips and outbox lines of every household that may not be texted now
    (consent withdrawn anywhere: STOP, an officer, the tenant's rights tools; or the number
    fails). Returns how many messages were cancelled."""
    households = [r[0] for r in conn.execute("SELECT DISTINCT household_id FROM sms_log WHERE"
                                             " status IN ('queued', 'outbox')")]
    if not households:
        return 0
    check = TipDispatcher(conn, notifier_settings, sender, now)
    n = 0
    for household_id in households:
        why = check.why_not_contactable(household_id)
        if why in CONSENT_GONE:
            n += cancel_queued(conn, household_id, why, iso(now), outbox)
    return n


def sync(conn, notifier_settings, sender, now: datetime | None = None) -> SyncResult:
    """One pass; safe to run as often as wanted (each reply is processed once)."""
    now = now or utc_now()
    result = SyncResult()
    outbox = sender if sender.name == "outbox" else None
    received = getattr(sender, "received_texts", None)
    if received is not None:
        texts = received(until_id=cursor(conn))
        processor = ReplyProcessor(conn, notifier_settings, sender, now, outbox)
        result.replies = processor.run(texts)
        result.problems += processor.problems
        if texts:  # newest first: the first is where the next run stops
            _save_cursor(conn, texts[0], now)
    result.cancelled = cancel_uncontactable(conn, notifier_settings, sender, now, outbox)
    result.tasks_closed = close_changed_numbers(conn, now)
    if sender.name != "outbox":  # the outbox has no receipts: its lines stay "not sent"
        result.receipts = poll_statuses(conn, sender, now)
    return result
