"""Corrections to the record a tenant proposes (contact number, household size, a vulnerability
they choose to declare). Nothing changes until an officer accepts; a rejection carries the
officer's reason; the tenant sees the decision on their details page."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from hearth.errors import HearthError
from hearth.registry import Registry
from tenants.signin import normalise_mobile

FIELDS = {"mobile": "Mobile number", "occupants": "People living in the home",
          "vulnerability": "A health condition or disability you want us to know about"}


class CorrectionError(HearthError):
    """A proposed correction that cannot be recorded or decided as asked."""


def _iso(t: datetime | None = None) -> str:
    return (t or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clean_value(field: str, value: str) -> str:
    """The value as it would be stored, or CorrectionError saying what is wrong."""
    value = value.strip()
    if field == "mobile":
        mobile = normalise_mobile(value)
        if mobile is None:
            raise CorrectionError("Enter a UK mobile number, like 07700 900123.")
        return mobile
    if field == "occupants":
        if not value.isdigit() or not 1 <= int(value) <= 20:
            raise CorrectionError("Enter how many people live in the home, from 1 to 20.")
        return str(int(value))
    if field == "vulnerability":
        text = " ".join(value.split())
        if not 1 <= len(text) <= 500:
            raise CorrectionError("Describe it in up to 500 characters.")
        return text
    raise CorrectionError(f"{field!r} cannot be changed here")


def propose(reg: Registry, household_id: str, tenant_id: str, field: str, value: str,
            now: datetime | None = None) -> int:
    new_value = clean_value(field, value)
    with reg.transaction() as conn:
        conn.execute("UPDATE record_corrections SET status = 'withdrawn', decided_at = ?,"
                     " decided_by = ?, decision_note = 'replaced by a newer request' WHERE"
                     " household_id = ? AND tenant_id = ? AND field = ? AND status = 'proposed'",
                     (_iso(now), tenant_id, household_id, tenant_id, field))
        cur = conn.execute("INSERT INTO record_corrections (household_id, tenant_id, field,"
                           " new_value, proposed_at) VALUES (?, ?, ?, ?, ?)",
                           (household_id, tenant_id, field, new_value, _iso(now)))
        # The value itself is personal data: the audit says which field, never what.
        reg.audit(tenant_id, "tenant.correction_proposed", household_id,
                  {"correction_id": cur.lastrowid, "field": field})
    return int(cur.lastrowid)


def of_household(conn: sqlite3.Connection, household_id: str) -> list[dict]:
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    return [dict(r) for r in cur.execute(
        "SELECT * FROM record_corrections WHERE household_id = ? ORDER BY correction_id DESC",
        (household_id,))]


def pending(conn: sqlite3.Connection, patches: list[str] | None = None) -> list[dict]:
    """Proposals waiting for an officer, oldest first; only `patches` if given."""
    sql = ("SELECT c.*, h.patch FROM record_corrections c JOIN households h USING (household_id)"
           " WHERE c.status = 'proposed'")
    args: list = []
    if patches is not None:
        sql += f" AND h.patch IN ({','.join('?' * len(patches))})"
        args += patches
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    return [dict(r) for r in cur.execute(sql + " ORDER BY c.correction_id", args)]


def decide(reg: Registry, correction_id: int, officer: str, accept: bool, note: str = "",
           now: datetime | None = None) -> None:
    """Accept (the record changes now) or reject (a reason is required) a proposal."""
    if not officer:
        raise CorrectionError("an officer's username is needed")
    if not accept and not note.strip():
        raise CorrectionError("say why the change is rejected: the tenant is shown the reason")
    conn = reg.conn
    with reg.transaction():
        cur = conn.cursor()
        cur.row_factory = sqlite3.Row
        row = cur.execute("SELECT * FROM record_corrections WHERE correction_id = ?",
                          (correction_id,)).fetchone()
        if row is None or row["status"] != "proposed":
            raise CorrectionError(f"correction {correction_id} is not waiting for a decision")
        if accept:
            _apply(conn, row)
        conn.execute("UPDATE record_corrections SET status = ?, decided_at = ?, decided_by = ?,"
                     " decision_note = ? WHERE correction_id = ?",
                     ("accepted" if accept else "rejected", _iso(now), officer, note.strip(),
                      correction_id))
        reg.audit(officer, "tenant.correction_" + ("accepted" if accept else "rejected"),
                  row["household_id"], {"correction_id": correction_id, "field": row["field"]})


def _apply(conn: sqlite3.Connection, row) -> None:
    field, value = row["field"], row["new_value"]
    if field == "mobile":
        # A new number has not agreed to texts: SMS consent is asked again (the constraint on
        # tenants also requires it).
        had = conn.execute("SELECT sms_consent FROM tenants WHERE tenant_id = ?",
                           (row["tenant_id"],)).fetchone()
        conn.execute("UPDATE tenants SET mobile = ?, sms_consent = 0 WHERE tenant_id = ?",
                     (value, row["tenant_id"]))
        if had and had[0]:
            conn.execute("INSERT INTO consent_log (tenant_id, at, channel, event, source, actor)"
                         " VALUES (?, ?, 'sms', 'withdrawn', 'number_changed', ?)",
                         (row["tenant_id"], _iso(), row["decided_by"] or "officer"))
    elif field == "occupants":
        conn.execute("UPDATE households SET occupants = ? WHERE household_id = ?",
                     (int(value), row["household_id"]))
    elif field == "vulnerability":
        conn.execute("UPDATE households SET vulnerable = 1, vulnerability_notes = CASE WHEN"
                     " vulnerability_notes = '' THEN ? ELSE vulnerability_notes || '; ' || ? END"
                     " WHERE household_id = ?", (f"declared by tenant: {value}",
                                                 f"declared by tenant: {value}",
                                                 row["household_id"]))
