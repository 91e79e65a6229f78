"""Tenants' replies (GOV.UK Notify received texts), each processed once:

- STOP and its variants (advisor.notify.policy.classify_reply) withdraw SMS consent at once,
  cancel everything queued, and are confirmed by one text;
- HELP is answered with the help line and the patch's housing officer;
- anything else is kept for the officers' messages page, with the household.

A reply is matched to tenants by number in memory; the number is never stored or logged. A
number that is not in the registry is kept as "unknown number" (its words, no number) and gets
no answer. The reply's id is the primary key of sms_replies, written in the same transaction as
what it caused, so a reply read twice does nothing twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from advisor.db import iso, parse_iso, transaction
from advisor.notify.base import SendError, Tip
from advisor.notify.dispatch import opt_out
from advisor.notify.policy import classify_reply, normalise_uk_mobile
from advisor.notify.tips import render
from hearth.errors import ConfigError

log = logging.getLogger(__name__)


def _tenants_by_number(conn) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in conn.execute("SELECT t.tenant_id, t.household_id, t.mobile, t.opted_out_at,"
                          " h.patch FROM tenants t JOIN households h USING (household_id)"
                          " WHERE t.mobile IS NOT NULL ORDER BY t.tenant_id"):
        out.setdefault(normalise_uk_mobile(r["mobile"]), []).append(dict(r))
    return out


def officer_of(conn, patch: str) -> str | None:
    """The display name of the patch's officer, when exactly one active officer has it."""
    rows = conn.execute("SELECT u.display_name FROM users u JOIN user_patches p USING"
                        " (username) WHERE p.patch = ? AND u.role = 'officer' AND"
                        " u.disabled = 0", (patch,)).fetchall()
    return rows[0][0] if len(rows) == 1 else None


class ReplyProcessor:
    def __init__(self, conn, notifier_settings, sender, now: datetime, outbox=None) -> None:
        self.conn = conn
        self.s = notifier_settings
        self.sender = sender
        self.now = now
        self.outbox = outbox
        self.problems: list[str] = []
        self.by_number = _tenants_by_number(conn)

    def run(self, replies: list[dict]) -> Counter:
        """Process replies (any order; oldest first here). Counts by action."""
        counts: Counter = Counter()
        for reply in sorted(replies, key=lambda r: (r.get("created_at") or "", r.get("id"))):
            counts[self.process(reply)] += 1
        return counts

    def process(self, reply: dict) -> str:
        reply_id = str(reply.get("id") or "")
        if not reply_id:
            return "bad_reply"
        if self.conn.execute("SELECT 1 FROM sms_replies WHERE reply_id = ?",
                             (reply_id,)).fetchone():
            return "already_processed"
        kind = classify_reply(reply.get("content") or "")
        matches = self.by_number.get(normalise_uk_mobile(reply.get("user_number") or ""), [])
        received = parse_iso(reply.get("created_at")) or self.now
        if not matches:
            self._record(reply_id, received, None, None, kind, "unknown_number", reply)
            log.info("reply %s from a number not in the registry: kept for officers", reply_id)
            return "unknown_number"
        tenant = matches[0]
        if kind == "stop":
            action = self._stop(matches, reply)
        elif kind == "help":
            action = self._help(tenant, reply)
        else:
            action = "for_officer"
        self._record(reply_id, received, tenant["household_id"], tenant["tenant_id"], kind,
                     action, reply)
        log.info("reply %s from household %s: %s -> %s", reply_id, tenant["household_id"],
                 kind, action)
        return action

    # ------------------------------------------------------------------ actions
    def _stop(self, matches: list[dict], reply: dict) -> str:
        newly = 0
        for household_id in sorted({t["household_id"] for t in matches}):
            newly += opt_out(self.conn, household_id, "tenant", source="sms_stop_reply",
                             at=self.now, outbox=self.outbox)
        if not newly:
            return "already_opted_out"  # confirmed the first time: one confirmation only
        tenant = matches[0]
        body = render(self.s.stop_confirmation, self._values(tenant))
        sent = self._answer(tenant, "stop_confirmation", body, reply)
        return "opted_out_confirmed" if sent else "opted_out_confirmation_failed"

    def _help(self, tenant: dict, reply: dict) -> str:
        since = iso(self.now - timedelta(hours=self.s.help_reply_min_interval_h))
        recent = self.conn.execute("SELECT 1 FROM sms_log WHERE household_id = ? AND template ="
                                   " 'help_reply' AND sent_at >= ?",
                                   (tenant["household_id"], since)).fetchone()
        if recent:
            return "help_already_sent"
        body = render(self.s.help_reply, self._values(tenant))
        return "help_sent" if self._answer(tenant, "help_reply", body, reply) else "help_failed"

    def _values(self, tenant: dict) -> dict[str, str]:
        officer = officer_of(self.conn, tenant["patch"])
        return {"service": self.s.service_name, "help_phone": self.s.help_phone,
                "officer": f", or ask for {officer}, your housing officer" if officer else ""}

    def _answer(self, tenant: dict, kind: str, body: str, reply: dict) -> bool:
        """Text ``body`` to the number that wrote, logged in sms_log (without the number)."""
        values = self._values(tenant)
        tip = Tip(tenant["household_id"], None, kind, self.s.template_ids.get(kind), values,
                  body, f"hearth-reply-{reply.get('id')}", tenant["mobile"])
        at_s = iso(self.now)
        try:
            result = self.sender.send(tip)
        except ConfigError as exc:  # e.g. no Notify template id: the opt-out still stands
            self.problems.append(str(exc))
            exc = SendError(str(exc), "technical-failure")
            self._log_failure(tenant, kind, body, exc, at_s)
            return False
        except SendError as exc:
            self._log_failure(tenant, kind, body, exc, at_s)
            if exc.fatal:
                raise
            return False
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO sms_log (household_id, template, sent_at, sender, provider_id,"
                " status, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (tenant["household_id"], kind, at_s, self.sender.name, result.provider_id,
                 result.status, body, at_s, at_s))
        return True

    def _log_failure(self, tenant: dict, kind: str, body: str, exc: SendError,
                     at_s: str) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO sms_log (household_id, template, sender, status, skip_reason,"
                " body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (tenant["household_id"], kind, self.sender.name, exc.status, str(exc), body,
                 at_s, at_s))

    def _record(self, reply_id: str, received: datetime, household_id: str | None,
                tenant_id: str | None, kind: str, action: str, reply: dict) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO sms_replies (reply_id, received_at, processed_at, household_id,"
                " tenant_id, kind, action, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (reply_id, iso(received), iso(self.now), household_id, tenant_id, kind, action,
                 reply.get("content") or ""))
