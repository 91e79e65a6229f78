"""Delivery receipts: store each text's status, and when GOV.UK Notify says a number cannot be
reached (permanent-failure: "the phone number was wrong or the network does not support texts"),
stop texting it and give the officer a data-quality task to get a working number.

The number itself is never stored or logged: a task keeps its SHA-256 digest, which is how the
task notices that the registry's number has since changed (the task then closes by itself).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from advisor.db import iso, transaction
from advisor.notify.dispatch import number_digest
from advisor.notify.policy import normalise_uk_mobile

log = logging.getLogger(__name__)


def record_status(conn, row: dict, status: str, at: datetime,
                  phone_number: str | None = None) -> int | None:
    """Store ``status`` for sms_log row ``row`` (message_id, household_id). On a permanent
    failure open (or keep) a task on the tenant whose number failed. Returns the task id."""
    at_s = iso(at)
    with transaction(conn):
        conn.execute("UPDATE sms_log SET status = ?, updated_at = ? WHERE message_id = ?",
                     (status, at_s, row["message_id"]))
        if status != "permanent-failure":
            return None
        return _open_task(conn, row, phone_number, at_s)


def _open_task(conn, row: dict, phone_number: str | None, at_s: str) -> int | None:
    tenants = conn.execute("SELECT tenant_id, mobile FROM tenants WHERE household_id = ? AND"
                           " mobile IS NOT NULL ORDER BY tenant_id",
                           (row["household_id"],)).fetchall()
    if phone_number:
        wanted = normalise_uk_mobile(phone_number)
        tenants = [t for t in tenants if normalise_uk_mobile(t["mobile"]) == wanted]
    else:  # no number in the receipt: the tenant the dispatcher texts first
        tenants = tenants[:1]
    if not tenants:
        log.warning("household %s: a text failed permanently but no tenant has that number"
                    " now (changed since); no task opened", row["household_id"])
        return None
    tenant = tenants[0]
    existing = conn.execute("SELECT task_id FROM sms_number_tasks WHERE tenant_id = ? AND"
                            " closed_at IS NULL", (tenant["tenant_id"],)).fetchone()
    if existing:
        return int(existing[0])
    cur = conn.execute("INSERT INTO sms_number_tasks (household_id, tenant_id, number_sha256,"
                       " message_id, opened_at) VALUES (?, ?, ?, ?, ?)",
                       (row["household_id"], tenant["tenant_id"],
                        number_digest(tenant["mobile"]), row["message_id"], at_s))
    conn.execute("INSERT INTO audit_log (at, actor, action, target, detail) VALUES"
                 " (?, 'notifier', 'sms.number_failing', ?, ?)",
                 (at_s, f"household:{row['household_id']}",
                  json.dumps({"tenant": tenant["tenant_id"], "message_id": row["message_id"]})))
    log.warning("household %s: tenant %s's number failed permanently; no more texts to it"
                " until it is corrected (data-quality task %d)", row["household_id"],
                tenant["tenant_id"], cur.lastrowid)
    return int(cur.lastrowid)


def close_changed_numbers(conn, at: datetime) -> int:
    """Close the tasks whose tenant's number has changed (or gone) since it failed: the new
    number gets texts again. Returns how many closed."""
    rows = conn.execute("SELECT k.task_id, k.number_sha256, t.mobile FROM sms_number_tasks k"
                        " LEFT JOIN tenants t USING (tenant_id) WHERE k.closed_at IS NULL"
                        ).fetchall()
    changed = [(iso(at), "number changed in the registry" if r["mobile"] else "number removed",
                r["task_id"]) for r in rows
               if not r["mobile"] or number_digest(r["mobile"]) != r["number_sha256"]]
    if changed:
        with transaction(conn):
            conn.executemany("UPDATE sms_number_tasks SET closed_at = ?, close_reason = ?"
                             " WHERE task_id = ?", changed)
    return len(changed)


def close_task(conn, task_id: int, actor: str, reason: str, at: datetime) -> bool:
    """An officer closes a task (e.g. checked the number with the tenant: try it again)."""
    with transaction(conn):
        n = conn.execute("UPDATE sms_number_tasks SET closed_at = ?, close_reason = ? WHERE"
                         " task_id = ? AND closed_at IS NULL",
                         (iso(at), reason, task_id)).rowcount
        if n:
            conn.execute("INSERT INTO audit_log (at, actor, action, target, detail) VALUES"
                         " (?, ?, 'sms.number_task_closed', ?, ?)",
                         (iso(at), actor, f"sms_number_task:{task_id}",
                          json.dumps({"reason": reason})))
    return bool(n)
