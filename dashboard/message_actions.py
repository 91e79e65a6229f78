"""What an officer can do on the messages page: mark a tenant's reply as dealt with, and close
a failing-number task after checking the number with the tenant. Checked against the user's
patches on the server and written to the audit log with who and when."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from dashboard import data
from dashboard.auth import registry
from dashboard.users import User


class OutOfScopeError(PermissionError):
    """The reply or task belongs to a home outside the user's patches."""


def _patch_of(conn, household_id: str | None) -> str | None:
    if household_id is None:
        return None
    row = conn.execute("SELECT patch FROM households WHERE household_id = ?",
                       (household_id,)).fetchone()
    return row[0] if row else None


def _check(user: User, conn, household_id: str | None) -> None:
    scope = user.scope()
    if scope is None:
        return
    patch = _patch_of(conn, household_id)
    if patch is None or patch not in scope:
        raise OutOfScopeError("That message is not from a home on your patches.")


def mark_reply_handled(user: User, reply_id: str) -> bool:
    """Record that an officer dealt with a reply. False if it was already marked."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with registry() as reg:
        row = reg.conn.execute("SELECT household_id FROM sms_replies WHERE reply_id = ?",
                               (reply_id,)).fetchone()
        if row is None:
            raise LookupError(f"no reply {reply_id}")
        _check(user, reg.conn, row[0])
        with reg.transaction():
            n = reg.conn.execute("UPDATE sms_replies SET handled_at = ?, handled_by = ? WHERE"
                                 " reply_id = ? AND handled_at IS NULL",
                                 (now, user.username, reply_id)).rowcount
            if n:
                reg.conn.execute("INSERT INTO audit_log (at, actor, action, target, detail)"
                                 " VALUES (?, ?, 'sms.reply_handled', ?, ?)",
                                 (now, user.username, f"sms_reply:{reply_id}",
                                  json.dumps({"household_id": row[0]})))
    data.replies.clear()
    return bool(n)


def close_number_task(user: User, task_id: int) -> bool:
    """The officer checked the number with the tenant and it is right: texts may try it
    again. (A corrected number closes the task by itself at the next sync.)"""
    from advisor.notify.receipts import close_task

    with registry() as reg:
        row = reg.conn.execute("SELECT household_id FROM sms_number_tasks WHERE task_id = ?",
                               (int(task_id),)).fetchone()
        if row is None:
            raise LookupError(f"no task {task_id}")
        _check(user, reg.conn, row[0])
        done = close_task(reg.conn, int(task_id), user.username,
                          "officer checked the number with the tenant", datetime.now(UTC))
    data.number_tasks.clear()
    return done
