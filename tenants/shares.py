"""Read-only views a tenant shares with someone they choose (a support worker, a debt adviser,
a family member): a link with an expiry and a scope, revocable at any time.

The link carries a random token (256 bits); the registry keeps only its SHA-256, so a copy of
the database does not give working links. Every use of a link, allowed or refused, is in the
audit log under the household, and the tenant sees the uses on their sharing page.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from hearth.errors import HearthError
from hearth.registry import Registry

SCOPES = {"usage": "Energy use and bills", "cases": "Problems and repairs (cases)"}


class ShareError(HearthError):
    """A share link that cannot be made as asked."""


@dataclass(frozen=True)
class Share:
    share_id: int
    household_id: str
    label: str
    scopes: tuple[str, ...]
    expires_at: str


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(reg: Registry, household_id: str, tenant_id: str, label: str, scopes: list[str],
           days: int, max_days: int, now: datetime | None = None) -> str:
    """A new link's token (shown once, never stored)."""
    now = now or datetime.now(UTC)
    label = " ".join(label.split())
    if not label or len(label) > 80:
        raise ShareError("Say who the link is for, in up to 80 characters.")
    chosen = tuple(s for s in SCOPES if s in scopes)
    if not chosen or len(chosen) != len(set(scopes)):
        raise ShareError("Choose what the link shows: energy use and bills, cases, or both.")
    if not 1 <= days <= max_days:
        raise ShareError(f"A link can last from 1 to {max_days} days.")
    token = secrets.token_urlsafe(32)
    with reg.transaction() as conn:
        cur = conn.execute("INSERT INTO tenant_shares (token_hash, household_id, tenant_id, label,"
                           " scope, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (_hash(token), household_id, tenant_id, label, ",".join(chosen),
                            _iso(now), _iso(now + timedelta(days=days))))
        reg.audit(tenant_id, "tenant.share_created", household_id,
                  {"share_id": cur.lastrowid, "scope": list(chosen), "days": days})
    return token


def link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/?{urlencode({'share': token})}"


def revoke(reg: Registry, household_id: str, tenant_id: str, share_id: int,
           now: datetime | None = None) -> None:
    """Revoke one of the household's links (another household's id is refused and audited)."""
    now = now or datetime.now(UTC)
    with reg.transaction() as conn:
        row = conn.execute("SELECT household_id, revoked_at FROM tenant_shares WHERE share_id = ?",
                           (share_id,)).fetchone()
        mine = row is not None and row[0] == household_id
        if mine:
            if row[1] is None:
                conn.execute("UPDATE tenant_shares SET revoked_at = ? WHERE share_id = ?",
                             (_iso(now), share_id))
            reg.audit(tenant_id, "tenant.share_revoked", household_id, {"share_id": share_id})
    if not mine:
        # Audited outside the transaction: the refusal must stay on record.
        reg.audit(tenant_id, "tenant.share_revoke_refused", household_id,
                  {"share_id": share_id, "reason": "not this household's link"})
        raise ShareError("That link is not one of yours.")


def open_share(reg: Registry, token: str, address: str = "",
               now: datetime | None = None) -> Share | None:
    """The share a token opens, or None (unknown, expired or revoked). Audited either way."""
    now = now or datetime.now(UTC)
    conn = reg.conn
    row = conn.execute("SELECT share_id, household_id, label, scope, expires_at, revoked_at FROM"
                       " tenant_shares WHERE token_hash = ?", (_hash(token or ""),)).fetchone()
    if row is None:
        reg.audit("share-link", "tenant.share_refused", "", {"address": address,
                                                               "reason": "unknown link"})
        return None
    share_id, household_id, label, scope, expires_at, revoked_at = row
    why = ("revoked" if revoked_at else "expired" if expires_at <= _iso(now) else None)
    # Audit rows about the household: the tenant sees every use on their sharing page.
    detail = {"share_id": share_id, "address": address}
    if why:
        reg.audit("share-link", "tenant.share_refused", household_id, {**detail, "reason": why})
        return None
    reg.audit("share-link", "tenant.share_used", household_id, detail)
    return Share(share_id, household_id, label, tuple(scope.split(",")), expires_at)


def shares_of(conn: sqlite3.Connection, household_id: str) -> list[dict]:
    """The household's links, newest first, with how many times each was used or refused."""
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    rows = cur.execute("SELECT share_id, label, scope, created_at, expires_at, revoked_at FROM"
                       " tenant_shares WHERE household_id = ? ORDER BY share_id DESC",
                       (household_id,)).fetchall()
    return [dict(r) for r in rows]


def uses_of(conn: sqlite3.Connection, household_id: str, limit: int = 50) -> list[dict]:
    """Each use of the household's links (allowed or refused), newest first."""
    import json

    rows = conn.execute("SELECT at, action, detail FROM audit_log WHERE target = ? AND action IN"
                        " ('tenant.share_used', 'tenant.share_refused') ORDER BY audit_id DESC"
                        " LIMIT ?", (household_id, limit)).fetchall()
    out = []
    for at, action, detail in rows:
        d = json.loads(detail or "{}")
        out.append({"at": at, "share_id": d.get("share_id"),
                    "outcome": "opened" if action == "tenant.share_used"
                    else f"refused ({d.get('reason', '')})"})
    return out
