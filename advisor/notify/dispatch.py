"""Decide and send the tips for open cases, honouring consent, opt-out, quiet hours, the rate
limit and the rule of one tip per case; log every decision in sms_log (never the number).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from advisor.db import iso, parse_iso, transaction, utc_now
from advisor.notify.base import SendError, Tip
from advisor.notify.policy import is_stop, normalise_uk_mobile, quiet_until
from advisor.notify.tips import (
    PRIORITY,
    TIP_KINDS,
    personalisation,
    render,
    template_text,
    tip_case_kinds,
    tip_for_case,
)
from advisor.rules.base import SEVERITIES
from hearth.errors import HearthError

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(minutes=15)
# Handed to a sender: one tip per case counts these. "outbox" is written to the local file only.
SENT_STATUSES = ("sending", "delivered", "sent", "outbox", "permanent-failure",
                 "temporary-failure", "technical-failure")
# Reasons that end consent to texts: a queued tip is cancelled, never sent later.
CONSENT_GONE = ("opted_out", "no_consent", "no_tenant", "no_mobile", "number_failing")


@dataclass
class TipSummary:
    sent: Counter = field(default_factory=Counter)       # by kind
    deferred: Counter = field(default_factory=Counter)   # by reason
    skipped: Counter = field(default_factory=Counter)    # by reason
    failed: Counter = field(default_factory=Counter)     # by status

    def total_sent(self) -> int:
        return sum(self.sent.values())


class TipDispatcher:
    """One pass over the open cases: which tips go now, which wait, which never go."""

    def __init__(self, conn, notifier_settings, sender, now: datetime | None = None,
                 households: set[str] | None = None) -> None:
        self.conn = conn
        self.households = households  # only these (a shard's); None: every household
        self.s = notifier_settings
        self.sender = sender
        self.now = now or utc_now()

    # ------------------------------------------------------------ candidates
    def _candidates(self) -> dict[str, list[dict]]:
        """Open cases that may need a tip, grouped by household, most urgent first."""
        min_rank = SEVERITIES.index(self.s.tip_min_severity)
        kinds = tip_case_kinds(self.s.tip_kinds)
        rows = self.conn.execute(
            f"SELECT c.* FROM cases c WHERE c.status IN ('open', 'acknowledged')"
            f" AND c.kind IN ({','.join('?' * len(kinds))})"
            f" AND NOT EXISTS (SELECT 1 FROM sms_log m WHERE m.case_id = c.case_id"
            f" AND m.status IN ({','.join('?' * len(SENT_STATUSES))}))",
            [*kinds, *SENT_STATUSES]).fetchall()
        out: dict[str, list[dict]] = {}
        for r in rows:
            if self.households is not None and r["household_id"] not in self.households:
                continue
            if SEVERITIES.index(r["severity"]) >= min_rank:
                out.setdefault(r["household_id"], []).append(dict(r))
        for cases in out.values():
            cases.sort(key=lambda c: (PRIORITY.index(c["kind"]), -SEVERITIES.index(c["severity"])))
        return out

    def _recipient(self, household_id: str) -> tuple[str | None, str | None]:
        """(mobile, None) for the first tenant who consented, has not opted out and whose
        number has not failed permanently, else (None, reason)."""
        rows = self.conn.execute("SELECT tenant_id, mobile, sms_consent, opted_out_at FROM"
                                 " tenants WHERE household_id = ? ORDER BY tenant_id",
                                 (household_id,)).fetchall()
        if not rows:
            return None, "no_tenant"
        failing = False
        for r in rows:
            if r["sms_consent"] and not r["opted_out_at"] and r["mobile"]:
                if number_failing(self.conn, r["tenant_id"], r["mobile"]):
                    failing = True
                    continue
                return r["mobile"], None
        if failing:
            return None, "number_failing"
        if any(r["opted_out_at"] for r in rows):
            return None, "opted_out"
        if not any(r["sms_consent"] for r in rows):
            return None, "no_consent"
        return None, "no_mobile"

    def _last_sent(self, household_id: str) -> datetime | None:
        row = self.conn.execute("SELECT MAX(sent_at) AS at FROM sms_log WHERE household_id = ?"
                                " AND sent_at IS NOT NULL", (household_id,)).fetchone()
        return parse_iso(row["at"]) if row and row["at"] else None

    def _pending(self, case_id: int) -> dict | None:
        row = self.conn.execute("SELECT * FROM sms_log WHERE case_id = ? AND status = 'queued'"
                                " ORDER BY message_id DESC LIMIT 1", (case_id,)).fetchone()
        return dict(row) if row else None

    def _last_refusal(self, case: dict) -> str | None:
        """The reason of the last message-log row of this tip, if that row is a refusal: the
        tip is the household's for this kind of case (a case reopened later is the same tip).
        docs/notify.md "One row per message considered"."""
        row = self.conn.execute(
            "SELECT m.status, m.skip_reason FROM sms_log m JOIN cases c ON c.case_id = m.case_id"
            " WHERE m.household_id = ? AND c.kind = ? ORDER BY m.message_id DESC LIMIT 1",
            (case["household_id"], case["kind"])).fetchone()
        return row["skip_reason"] if row and row["status"] in ("skipped", "cancelled") else None

    # ---------------------------------------------------------- public calls
    def why_not_contactable(self, household_id: str) -> str | None:
        """None if a tenant of the household may be texted, else the reason (no_tenant,
        opted_out, no_consent, no_mobile)."""
        return self._recipient(household_id)[1]

    def send_case(self, case_id: int, dry_run: bool = False) -> TipSummary:
        """The tip of one open case now (an officer's request), under the same rules as a
        run: consent, opt-out, rate limit, quiet hours, and never twice for the same case."""
        summary = TipSummary()
        row = self.conn.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        if row is None or row["status"] not in ("open", "acknowledged"):
            summary.skipped["case_not_open"] += 1
            return summary
        case = dict(row)
        if case["kind"] not in TIP_KINDS:
            summary.skipped["no_tip_for_kind"] += 1
            return summary
        if self.tip_sent_at(case_id) is not None:
            summary.skipped["already_sent"] += 1
            return summary
        self._consider(case["household_id"], [case], summary, dry_run)
        return summary

    def tip_sent_at(self, case_id: int) -> str | None:
        """When this case's tip went to the provider (ISO time), or None: one tip per case."""
        row = self.conn.execute(
            f"SELECT COALESCE(sent_at, created_at) FROM sms_log WHERE case_id = ? AND status IN"
            f" ({','.join('?' * len(SENT_STATUSES))}) ORDER BY 1 LIMIT 1",
            (case_id, *SENT_STATUSES)).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------- run
    def run(self, dry_run: bool = False) -> TipSummary:
        summary = TipSummary()
        for household_id, cases in sorted(self._candidates().items()):
            self._consider(household_id, cases, summary, dry_run)
        return summary

    def _consider(self, household_id: str, cases: list[dict], summary: TipSummary,
                  dry_run: bool) -> None:
        mobile, why_not = self._recipient(household_id)
        if why_not is None:
            last = self._last_sent(household_id)
            if last is not None and self.now - last < timedelta(hours=self.s.min_interval_h):
                why_not = "rate_limited"
        if why_not:
            for case in cases:
                self._skip(case, why_not, summary, dry_run)
            return
        case, rest = cases[0], cases[1:]
        for other in rest:  # one tip at a time: the others wait for the next period
            self._skip(other, "another_tip_first", summary, dry_run)
        pending = self._pending(case["case_id"])
        send_after = parse_iso(pending["send_after"]) if pending else None
        if send_after and send_after > self.now:
            summary.deferred["waiting"] += 1
            return
        quiet_end = quiet_until(self.now, self.s.timezone, self.s.quiet_start, self.s.quiet_end)
        tip = self._tip(case, mobile)
        if quiet_end is not None:
            summary.deferred["quiet_hours"] += 1
            if not dry_run:
                self._queue(case, tip, quiet_end, "quiet_hours", pending)
            return
        if dry_run:
            summary.sent[tip.kind] += 1
            return
        self._send(case, tip, pending, summary)

    def _tip(self, case: dict, mobile: str) -> Tip:
        # A money case texts its most urgent risk's tip (advisor/grouping.py).
        kind, evidence = tip_for_case(case["kind"], json.loads(case["evidence_json"] or "{}"),
                                      self.s.tip_kinds)
        values = personalisation(kind, evidence, self.s)
        body = render(template_text(kind, self.s), values)
        return Tip(case["household_id"], case["case_id"], kind,
                   self.s.template_ids.get(kind), values, body,
                   f"hearth-case-{case['case_id']}", mobile)

    def _queue(self, case: dict, tip: Tip, send_after: datetime, reason: str,
               pending: dict | None) -> None:
        with transaction(self.conn):
            if pending:
                self.conn.execute("UPDATE sms_log SET send_after = ?, skip_reason = ?,"
                                  " updated_at = ? WHERE message_id = ?",
                                  (iso(send_after), reason, iso(self.now), pending["message_id"]))
            else:
                self.conn.execute(
                    "INSERT INTO sms_log (household_id, case_id, template, status, skip_reason,"
                    " body, send_after, created_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                    (tip.household_id, tip.case_id, tip.kind, reason, tip.body, iso(send_after),
                     iso(self.now)))

    def _send(self, case: dict, tip: Tip, pending: dict | None, summary: TipSummary) -> None:
        try:
            result = self.sender.send(tip)
        except SendError as exc:
            if exc.retry:
                summary.deferred["provider_busy"] += 1
                self._queue(case, tip, self.now + RETRY_AFTER, f"retry: {exc}", pending)
                return
            summary.failed[exc.status] += 1
            self._write(tip, pending, status=exc.status, sent_at=None, provider_id=None,
                        skip_reason=str(exc))
            if exc.fatal:
                raise HearthError(str(exc)) from None
            return
        summary.sent[tip.kind] += 1
        self._write(tip, pending, status=result.status, sent_at=iso(self.now),
                    provider_id=result.provider_id, skip_reason=None)
        with transaction(self.conn):
            self.conn.execute("INSERT INTO case_events (case_id, at, actor, action, detail)"
                              " VALUES (?, ?, 'advisor', 'tip_sent', ?)",
                              (case["case_id"], iso(self.now),
                               f"{case['kind']} tip by {self.sender.name}"))
        log.info("tip %s sent to household %s by %s", case["kind"], tip.household_id,
                 self.sender.name)

    def _write(self, tip: Tip, pending: dict | None, **values) -> None:
        values |= {"sender": self.sender.name, "body": tip.body, "updated_at": iso(self.now)}
        with transaction(self.conn):
            if pending:
                cols = ", ".join(f"{k} = ?" for k in values)
                self.conn.execute(f"UPDATE sms_log SET {cols}, send_after = NULL"
                                  " WHERE message_id = ?",
                                  [*values.values(), pending["message_id"]])
            else:
                values |= {"household_id": tip.household_id, "case_id": tip.case_id,
                           "template": tip.kind, "created_at": iso(self.now)}
                cols = ", ".join(values)
                self.conn.execute(f"INSERT INTO sms_log ({cols}) VALUES"
                                  f" ({', '.join('?' * len(values))})", list(values.values()))

    def _skip(self, case: dict, reason: str, summary: TipSummary, dry_run: bool) -> None:
        summary.skipped[reason] += 1
        if dry_run or self._last_refusal(case) == reason:
            return  # a refused tip is logged once with its reason, not on every run
        with transaction(self.conn):
            if reason in CONSENT_GONE:
                # A queued tip must not go out after consent is gone.
                self.conn.execute("UPDATE sms_log SET status = 'cancelled', skip_reason = ?,"
                                  " updated_at = ? WHERE case_id = ? AND status = 'queued'",
                                  (reason, iso(self.now), case["case_id"]))
            self.conn.execute(
                "INSERT INTO sms_log (household_id, case_id, template, status, skip_reason,"
                " created_at) VALUES (?, ?, ?, 'skipped', ?, ?)",
                (case["household_id"], case["case_id"], case["kind"], reason, iso(self.now)))


def number_failing(conn, tenant_id: str, mobile: str) -> bool:
    """True while this tenant's current number has an open permanent-failure task."""
    row = conn.execute("SELECT 1 FROM sms_number_tasks WHERE tenant_id = ? AND closed_at IS NULL"
                       " AND number_sha256 = ?", (tenant_id, number_digest(mobile))).fetchone()
    return row is not None


def number_digest(mobile: str) -> str:
    """SHA-256 of the number in national form: notices a changed number without storing it."""
    return hashlib.sha256(normalise_uk_mobile(mobile).encode()).hexdigest()


def cancel_queued(conn, household_id: str, reason: str, at_s: str,
                  outbox=None) -> int:
    """Cancel what is waiting for this household: tips queued (not yet handed to a sender) and
    lines in the local outbox (written, never sent). Logged as cancelled with the reason.
    Returns how many were cancelled."""
    rows = conn.execute("SELECT message_id, provider_id, status FROM sms_log WHERE"
                        " household_id = ? AND status IN ('queued', 'outbox')",
                        (household_id,)).fetchall()
    if not rows:
        return 0
    with transaction(conn):
        conn.executemany("UPDATE sms_log SET status = 'cancelled', skip_reason = ?,"
                         " updated_at = ? WHERE message_id = ?",
                         [(reason, at_s, r["message_id"]) for r in rows])
    if outbox is not None:
        for r in rows:
            if r["status"] == "outbox" and r["provider_id"]:
                outbox.cancel(r["provider_id"], reason)
    log.info("household %s: %d queued or outbox message(s) cancelled (%s)", household_id,
             len(rows), reason)
    return len(rows)


def opt_out(conn, household_id: str, actor: str, source: str = "officer",
            at: datetime | None = None, outbox=None) -> int:
    """Record an opt-out for every tenant of the household, at once; cancel every queued tip
    (and every outbox line, when ``outbox`` is the local sender).

    Returns the number of tenants opted out now. Raises HearthError for an unknown household."""
    at_s = iso(at or utc_now())
    known = conn.execute("SELECT 1 FROM tenants WHERE household_id = ?", (household_id,))
    if known.fetchone() is None:
        raise HearthError(f"household {household_id} has no tenants in the registry: check the"
                          " id (for example H000123)")
    tenants = [r[0] for r in conn.execute("SELECT tenant_id FROM tenants WHERE household_id = ?"
                                          " AND opted_out_at IS NULL", (household_id,))]
    has_consent_log = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND"
                                   " name = 'consent_log'").fetchone() is not None
    with transaction(conn):
        n = conn.execute("UPDATE tenants SET opted_out_at = ? WHERE household_id = ? AND"
                         " opted_out_at IS NULL", (at_s, household_id)).rowcount
        if has_consent_log:
            conn.executemany("INSERT INTO consent_log (tenant_id, at, channel, event, source,"
                             " actor) VALUES (?, ?, 'sms', 'opted_out', ?, ?)",
                             [(t, at_s, source, actor) for t in tenants])
        if n:  # a repeated opt-out changes nothing and is not recorded again
            conn.execute("INSERT INTO audit_log (at, actor, action, target, detail) VALUES"
                         " (?, ?, 'sms.opt_out', ?, ?)",
                         (at_s, actor, f"household:{household_id}",
                          json.dumps({"source": source, "tenants": n})))
        cancel_queued(conn, household_id, "opted_out", at_s, outbox)
    return n


def poll_statuses(conn, sender, now: datetime | None = None) -> Counter:
    """Read back delivery statuses of texts still 'sending' and store them; a permanent failure
    opens a data-quality task on the number (no more texts to it). Counts by status."""
    from advisor.notify.receipts import record_status

    rows = conn.execute("SELECT message_id, household_id, provider_id FROM sms_log WHERE"
                        " sender = ? AND status = 'sending' AND provider_id IS NOT NULL",
                        (sender.name,)).fetchall()
    counts: Counter = Counter()
    at = now or utc_now()
    for r in rows:
        receipt = getattr(sender, "receipt", None)
        try:
            status, number = (receipt(r["provider_id"]) if receipt
                              else (sender.status(r["provider_id"]), None))
        except SendError as exc:
            if exc.fatal:
                raise HearthError(str(exc)) from None
            counts["unavailable"] += 1
            continue
        counts[status] += 1
        if status != "sending":
            record_status(conn, dict(r), status, at, number)
    return counts


def process_replies(conn, replies: list[dict], now: datetime | None = None) -> int:
    """Opt out tenants whose reply says STOP (GOV.UK Notify received texts). Returns how many
    households were opted out. Numbers are matched in memory, never logged. (The scheduled
    `hearth notify sync` uses advisor.notify.replies, which also answers and records them.)"""
    stops = {normalise_uk_mobile(r.get("user_number", "")) for r in replies
             if is_stop(r.get("content", ""))}
    stops.discard("")
    if not stops:
        return 0
    households = set()
    for row in conn.execute("SELECT household_id, mobile FROM tenants WHERE mobile IS NOT NULL"
                            " AND opted_out_at IS NULL"):
        if normalise_uk_mobile(row["mobile"]) in stops:
            households.add(row["household_id"])
    for household_id in sorted(households):
        opt_out(conn, household_id, "tenant", source="sms_stop_reply", at=now)
    return len(households)
