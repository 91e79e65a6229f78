"""What a tenant chooses to share, per purpose, from the portal: tips by text message and
sharing with the energy supplier (through tenants.rights.set_consent, which the notifier and the
supplier export already enforce), and research. Each change is effective at once and kept with
its time and source ('web_form') in the purpose's consent history."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from hearth.registry import Registry
from tenants.rights import TenantRightsError, set_consent

PURPOSES = {"sms": "Energy tips and alerts by text message",
            "supplier": "Sharing my energy use with my energy supplier",
            "research": "Using my home's energy data, without my name, for research"}
SOURCE = "web_form"


def current(conn: sqlite3.Connection, tenant_id: str) -> dict[str, bool]:
    row = conn.execute("SELECT sms_consent, opted_out_at, share_with_supplier, research_consent"
                       " FROM tenants WHERE tenant_id = ?", (tenant_id,)).fetchone()
    return {"sms": bool(row[0]) and not row[1], "supplier": bool(row[2]),
            "research": bool(row[3])}


def history(conn: sqlite3.Connection, tenant_id: str) -> list[dict]:
    """Every grant and withdrawal, newest first: at, purpose, event, source."""
    rows = conn.execute(
        "SELECT at, 'sms', event, source FROM consent_log WHERE tenant_id = ?1"
        " UNION ALL SELECT at, 'supplier', event, source FROM sharing_consent_log"
        " WHERE tenant_id = ?1"
        " UNION ALL SELECT at, 'research', event, source FROM research_consent_log"
        " WHERE tenant_id = ?1 ORDER BY 1 DESC", (tenant_id,)).fetchall()
    return [{"at": r[0], "purpose": PURPOSES[r[1]], "event": r[2], "source": r[3]}
            for r in rows]


def choose(reg: Registry, household_id: str, tenant_id: str, purpose: str, on: bool,
           now: datetime | None = None) -> bool:
    """Record the tenant's choice; True when it changed something."""
    at = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    actor = f"tenant:{tenant_id}"
    if purpose in ("sms", "supplier"):
        kwargs = {"sms": on} if purpose == "sms" else {"share_with_supplier": on}
        result = set_consent(reg, household_id, source=SOURCE, actor=actor,
                             tenant_id=tenant_id, at=at, **kwargs)
        return bool(result.changed)
    if purpose != "research":
        raise TenantRightsError(f"unknown purpose {purpose!r}")
    with reg.transaction() as conn:
        was = conn.execute("SELECT research_consent FROM tenants WHERE tenant_id = ? AND"
                           " household_id = ?", (tenant_id, household_id)).fetchone()
        if was is None:
            raise TenantRightsError(f"tenant {tenant_id} does not live in {household_id}")
        if bool(was[0]) == on:
            return False
        conn.execute("UPDATE tenants SET research_consent = ? WHERE tenant_id = ?",
                     (int(on), tenant_id))
        conn.execute("INSERT INTO research_consent_log (tenant_id, household_id, at, event,"
                     " source, actor) VALUES (?, ?, ?, ?, ?, ?)",
                     (tenant_id, household_id, at, "granted" if on else "withdrawn", SOURCE,
                      actor))
        reg.audit(actor, "tenant.consent", household_id,
                  {"changes": [f"{tenant_id}: research {'on' if on else 'off'}"],
                   "source": SOURCE, "at": at})
    return True
