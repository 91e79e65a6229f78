"""Dashboard sessions that outlive a page load: a random token in a browser cookie, its SHA-256
in the registry (table ``dashboard_sessions``), an absolute expiry, revoked at sign-out.

Streamlit keeps ``st.session_state`` per websocket, so a reload or a bookmarked page starts a
new, signed-out session; the cookie lets it find the sign-in again. The cookie holds no name
and no personal data, only the token; the registry holds only the token's hash."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

COOKIE = "hearth_session"
_TOKEN_BYTES = 32


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    username: str
    created_at: datetime
    expires_at: datetime


class SessionStore:
    """Sessions in the registry (an open sqlite3 connection; the caller commits)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def create(self, username: str, lifetime: timedelta, now: datetime | None = None
               ) -> tuple[str, Session]:
        """A new session for ``username``: (token for the cookie, the session)."""
        now = now or datetime.now(UTC)
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        session = Session(username, now, now + lifetime)
        self.conn.execute(
            "INSERT INTO dashboard_sessions (token_sha256, username, created_at, expires_at) "
            "VALUES (?, ?, ?, ?)", (_hash(token), username, _iso(now), _iso(session.expires_at)))
        return token, session

    def resume(self, token: str | None, now: datetime | None = None) -> Session | None:
        """The live session behind ``token``, or None (unknown, expired or revoked)."""
        if not token or len(token) > 200:
            return None
        row = self.conn.execute(
            "SELECT username, created_at, expires_at FROM dashboard_sessions "
            "WHERE token_sha256 = ? AND revoked_at IS NULL AND expires_at > ?",
            (_hash(token), _iso(now or datetime.now(UTC)))).fetchone()
        if row is None:
            return None
        parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
        return Session(row[0], parse(row[1]), parse(row[2]))

    def revoke(self, token: str | None, now: datetime | None = None) -> None:
        if token:
            self.conn.execute("UPDATE dashboard_sessions SET revoked_at = ? WHERE token_sha256 = ? "
                              "AND revoked_at IS NULL", (_iso(now or datetime.now(UTC)), _hash(token)))

    def revoke_user(self, username: str, now: datetime | None = None) -> int:
        """End every session of ``username`` (a password change, a disabled account)."""
        cur = self.conn.execute("UPDATE dashboard_sessions SET revoked_at = ? WHERE username = ? "
                                "AND revoked_at IS NULL", (_iso(now or datetime.now(UTC)), username))
        return cur.rowcount

    def purge_expired(self, now: datetime | None = None) -> int:
        cur = self.conn.execute("DELETE FROM dashboard_sessions WHERE expires_at <= ?",
                                (_iso(now or datetime.now(UTC)),))
        return cur.rowcount
