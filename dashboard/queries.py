"""Read-only queries behind the pages, returning pandas frames. No Streamlit here: the pages
reach these through dashboard/data.py, which caches them.

``scope`` is the tuple of patches the signed-in person may see, or None for every patch
(managers, admins). Every query that returns households, cases or messages filters on it in
SQL, so an officer cannot see another patch whatever the page asks for.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from hearth.registry import db

Scope = tuple[str, ...] | None
OPEN_STATUSES = ("open", "acknowledged")


def connect_read(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to the registry, a SQLite file or a PostgreSQL URL (one per
    query: cheap with SQLite, and safe across Streamlit's threads)."""
    conn = db.connect(path, timeout_s=30, read_only=True)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def _scope_sql(scope: Scope, column: str = "h.patch") -> tuple[str, list]:
    if scope is None:
        return "1 = 1", []
    if not scope:
        return "0 = 1", []
    return f"{column} IN ({', '.join('?' * len(scope))})", list(scope)


def read(conn: sqlite3.Connection, sql: str, args: list | tuple = ()) -> pd.DataFrame:
    if db.dialect_of(conn) == "sqlite":
        return pd.read_sql_query(sql, conn, params=list(args))
    cur = conn.cursor()
    cur.row_factory = None
    cur.execute(sql, list(args))
    return pd.DataFrame.from_records(cur.fetchall(), coerce_float=True,
                                     columns=[d[0] for d in cur.description or ()])


# -- households ---------------------------------------------------------------------------------

def patches(conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT patch FROM households ORDER BY patch")]


def households(conn, scope: Scope) -> pd.DataFrame:
    where, args = _scope_sql(scope)
    return read(conn, f"""
        SELECT h.household_id, h.patch, h.estate, h.address_area, h.property_type, h.bedrooms,
               h.floor_area_m2, h.payment_type, h.has_gas, h.heating, h.epc_band,
               h.means_tested_benefits, h.vulnerable, h.occupancy, h.occupants
        FROM households h WHERE {where} AND h.tenancy_end IS NULL ORDER BY h.household_id""",
                args)


def household(conn, household_id: str, scope: Scope) -> dict | None:
    """One home, or None when it does not exist or lies outside ``scope``."""
    where, args = _scope_sql(scope)
    df = read(conn, f"SELECT h.* FROM households h WHERE h.household_id = ? AND {where}",
              [household_id, *args])
    return None if df.empty else df.iloc[0].to_dict()


def devices(conn, scope: Scope, household_id: str | None = None) -> pd.DataFrame:
    where, args = _scope_sql(scope)
    extra = ""
    if household_id is not None:
        extra, args = " AND d.household_id = ?", [*args, household_id]
    return read(conn, f"""
        SELECT d.device_id, d.household_id, h.patch, h.estate, d.kind, d.protocol, d.room,
               d.interval_s
        FROM devices d JOIN households h USING (household_id)
        WHERE {where}{extra} ORDER BY d.device_id""", args)


def tenants(conn, household_id: str, scope: Scope) -> pd.DataFrame:
    """Tenants' contact and consent (personal data: only for those allowed to see it)."""
    where, args = _scope_sql(scope)
    return read(conn, f"""
        SELECT t.tenant_id, t.full_name, t.mobile, t.sms_consent, t.sms_consent_at,
               t.sms_consent_source, t.opted_out_at, t.share_with_supplier
        FROM tenants t JOIN households h USING (household_id)
        WHERE t.household_id = ? AND {where} ORDER BY t.tenant_id""", [household_id, *args])


def sms_allowed(conn, household_id: str) -> bool:
    """A tenant of the home has SMS consent, has not opted out and has a mobile."""
    row = conn.execute("SELECT count(*) FROM tenants WHERE household_id = ? AND sms_consent = 1 "
                       "AND opted_out_at IS NULL AND mobile IS NOT NULL",
                       (household_id,)).fetchone()
    return bool(row[0])


def tariffs(conn) -> pd.DataFrame:
    return read(conn, "SELECT * FROM tariffs ORDER BY fuel, payment_type, valid_from")


# -- cases --------------------------------------------------------------------------------------

_CASE_COLUMNS = """c.case_id, c.household_id, h.patch, h.estate, h.payment_type, h.vulnerable,
    c.kind, c.severity, c.score, c.reasons, c.opened_at, c.updated_at, c.due_by, c.stage,
    c.status, c.officer, c.closed_at, c.close_reason, c.reopened_from, c.reopen_reason"""


def open_cases(conn, scope: Scope) -> pd.DataFrame:
    """Open and acknowledged cases in the order an officer acts on them: overdue or soonest
    due first (cases without a deadline after), then by severity, then vulnerable households,
    then highest score."""
    where, args = _scope_sql(scope)
    return read(conn, f"""
        SELECT {_CASE_COLUMNS}
        FROM cases c JOIN households h USING (household_id)
        WHERE c.status IN ('open', 'acknowledged') AND {where}
        ORDER BY c.due_by IS NULL, c.due_by,
                 CASE c.severity WHEN 'emergency' THEN 0 WHEN 'high' THEN 1
                 WHEN 'medium' THEN 2 ELSE 3 END,
                 h.vulnerable DESC, c.score DESC, c.opened_at""", args)


def case(conn, case_id: int, scope: Scope) -> dict | None:
    where, args = _scope_sql(scope)
    df = read(conn, f"""SELECT {_CASE_COLUMNS}, c.evidence_json FROM cases c
                        JOIN households h USING (household_id)
                        WHERE c.case_id = ? AND {where}""", [int(case_id), *args])
    return None if df.empty else df.iloc[0].to_dict()


def household_cases(conn, household_id: str, scope: Scope) -> pd.DataFrame:
    where, args = _scope_sql(scope)
    return read(conn, f"""
        SELECT {_CASE_COLUMNS} FROM cases c JOIN households h USING (household_id)
        WHERE c.household_id = ? AND {where} ORDER BY c.opened_at DESC""",
                [household_id, *args])


def case_events(conn, case_ids: tuple[int, ...]) -> pd.DataFrame:
    if not case_ids:
        return pd.DataFrame(columns=["event_id", "case_id", "at", "actor", "action", "detail"])
    marks = ", ".join("?" * len(case_ids))
    return read(conn, f"SELECT event_id, case_id, at, actor, action, detail FROM case_events "
                      f"WHERE case_id IN ({marks}) ORDER BY at DESC, event_id DESC",
                [int(c) for c in case_ids])


def damp_cases(conn, scope: Scope) -> pd.DataFrame:
    """Open damp and mould cases, overdue first, then by the Awaab's Law due time."""
    where, args = _scope_sql(scope)
    return read(conn, f"""
        SELECT {_CASE_COLUMNS} FROM cases c JOIN households h USING (household_id)
        WHERE c.kind = 'damp_mould' AND c.status IN ('open', 'acknowledged') AND {where}
        ORDER BY c.due_by IS NULL, c.due_by,
                 CASE c.severity WHEN 'emergency' THEN 0 WHEN 'high' THEN 1
                 WHEN 'medium' THEN 2 ELSE 3 END""", args)


def case_trend(conn, scope: Scope, weeks: int = 12, now: datetime | None = None
               ) -> pd.DataFrame:
    """Cases open at the end of each of the last ``weeks`` weeks (Monday 00:00 UTC to Monday),
    by kind: columns week_start (datetime64[ns, UTC]), kind, open_cases."""
    now = now or datetime.now(UTC)
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0,
                                                             microsecond=0)
    starts = [monday - timedelta(weeks=w) for w in range(weeks - 1, -1, -1)]
    where, args = _scope_sql(scope)
    df = read(conn, f"""
        SELECT c.kind, c.opened_at, c.closed_at FROM cases c JOIN households h USING (household_id)
        WHERE {where} AND (c.closed_at IS NULL OR c.closed_at >= ?)""",
              [*args, starts[0].strftime("%Y-%m-%dT%H:%M:%SZ")])
    week_ends = np.array([(s + timedelta(weeks=1)).replace(tzinfo=None) for s in starts],
                         dtype="datetime64[us]")
    week_ends = np.minimum(week_ends, np.datetime64(now.replace(tzinfo=None), "us"))
    rows = []
    if not df.empty:
        opened = pd.to_datetime(df["opened_at"], utc=True).dt.tz_localize(None).to_numpy(
            "datetime64[us]")
        closed = pd.to_datetime(df["closed_at"], utc=True).dt.tz_localize(None).to_numpy(
            "datetime64[us]")
        closed = np.where(np.isnat(closed), np.datetime64("9999-01-01", "us"), closed)
        # (cases, weeks): was the case open at the end of that week?
        is_open = (opened[:, None] <= week_ends[None, :]) & (closed[:, None] > week_ends[None, :])
        kinds = df["kind"].to_numpy()
        for kind in sorted(set(kinds)):
            counts = is_open[kinds == kind].sum(axis=0)
            rows += [(s, kind, int(n)) for s, n in zip(starts, counts, strict=True)]
    out = pd.DataFrame(rows, columns=["week_start", "kind", "open_cases"])
    out["week_start"] = pd.to_datetime(out["week_start"], utc=True)
    return out


# -- messages -----------------------------------------------------------------------------------

def messages(conn, scope: Scope, days: int = 30, household_id: str | None = None
             ) -> pd.DataFrame:
    where, args = _scope_sql(scope)
    since = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    args = [*args, since]
    extra = ""
    if household_id is not None:
        extra = " AND m.household_id = ?"
        args.append(household_id)
    return read(conn, f"""
        SELECT m.message_id, m.household_id, h.patch, m.case_id, m.template,
               coalesce(m.sent_at, m.created_at) AS sent_at, m.sender, m.status, m.skip_reason,
               m.body
        FROM sms_log m JOIN households h USING (household_id)
        WHERE {where} AND coalesce(m.sent_at, m.created_at) >= ?{extra}
        ORDER BY coalesce(m.sent_at, m.created_at) DESC""", args)


def opt_outs(conn, scope: Scope) -> pd.DataFrame:
    """Homes whose tenant opted out of texts or withdrew consent (no names or numbers)."""
    where, args = _scope_sql(scope)
    return read(conn, f"""
        SELECT t.household_id, h.patch, t.tenant_id, t.opted_out_at
        FROM tenants t JOIN households h USING (household_id)
        WHERE {where} AND t.opted_out_at IS NOT NULL ORDER BY t.opted_out_at DESC""", args)


def replies(conn, scope: Scope, days: int = 30) -> pd.DataFrame:
    """Tenants' texts back (STOP, HELP, others) with what Hearth did; never a number. Texts
    from numbers not in the registry have no household: shown only with every patch."""
    where, args = _scope_sql(scope)
    since = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    unknown = " OR r.household_id IS NULL" if scope is None else ""
    return read(conn, f"""
        SELECT r.reply_id, r.received_at, r.household_id, h.patch, r.tenant_id, r.kind,
               r.action, r.content, r.handled_at, r.handled_by
        FROM sms_replies r LEFT JOIN households h USING (household_id)
        WHERE r.received_at >= ? AND (({where} AND r.household_id IS NOT NULL){unknown})
        ORDER BY r.received_at DESC""", [since, *args])


def number_tasks(conn, scope: Scope) -> pd.DataFrame:
    """Open data-quality tasks: a tenant's number that GOV.UK Notify cannot deliver to."""
    where, args = _scope_sql(scope)
    return read(conn, f"""
        SELECT k.task_id, k.household_id, h.patch, k.tenant_id, k.opened_at
        FROM sms_number_tasks k JOIN households h USING (household_id)
        WHERE {where} AND k.closed_at IS NULL ORDER BY k.opened_at""", args)


def audit_for(conn, target: str, limit: int = 50) -> pd.DataFrame:
    return read(conn, "SELECT at, actor, action, target, detail FROM audit_log WHERE target = ? "
                      "ORDER BY audit_id DESC LIMIT ?", [target, limit])


def last_contact(conn, scope: Scope) -> pd.DataFrame:
    """Per household with an open case: when someone last did something for it, as UTC text:
    the latest text sent to the tenant, or officer action on one of its cases (the advisor's
    own events do not count)."""
    where, args = _scope_sql(scope)
    return read(conn, f"""
        SELECT household_id, max(at) AS last_contact_at FROM (
            SELECT m.household_id, m.sent_at AS at FROM sms_log m
            WHERE m.sent_at IS NOT NULL
            UNION ALL
            SELECT c.household_id, e.at FROM case_events e JOIN cases c USING (case_id)
            WHERE e.actor <> 'advisor'
        ) AS contact JOIN households h USING (household_id)
        WHERE {where} AND household_id IN (
            SELECT household_id FROM cases WHERE status IN ('open', 'acknowledged'))
        GROUP BY household_id""", args)
