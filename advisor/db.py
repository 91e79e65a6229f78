"""The advisor's handle on the registry's database (SQLite or PostgreSQL, hearth.registry.db).

The registry (`hearth.registry.Registry`) owns the connection and the numbered migrations; the
advisor's tables come from `hearth/registry/migrations/0002_cases.sql`. `connection()` accepts a
Registry, a sqlite3 connection or a path, so the advisor's parts can be tested on their own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from hearth.registry import db

MIGRATION = Path(__file__).resolve().parents[1] / "hearth" / "registry" / "migrations" \
    / "0002_cases.sql"


def connection(registry) -> sqlite3.Connection:
    """The sqlite3 connection behind `registry` (Registry, connection or path)."""
    if db.is_connection(registry):
        conn = registry
    elif isinstance(registry, str | Path):
        conn = sqlite3.connect(str(registry))
    else:
        conn = None
        for attr in ("conn", "connection", "_conn", "db"):
            value = getattr(registry, attr, None)
            if db.is_connection(value):
                conn = value
                break
            if callable(value):
                candidate = value()
                if db.is_connection(candidate):
                    conn = candidate
                    break
        if conn is None:
            raise TypeError(f"cannot find a sqlite3 connection in {type(registry).__name__}")
    conn.row_factory = sqlite3.Row
    ensure_schema(conn)
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Apply the advisor's migration if the registry has not (idempotent)."""
    if not db.has_table(conn, "sms_log"):
        conn.executescript(MIGRATION.read_text())
    if not db.has_table(conn, "audit_log"):
        raise RuntimeError("the registry has no audit_log table: run `hearth registry init`")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, seconds precision."""
    if at is None:
        return None
    if at.tzinfo is None:
        raise ValueError("timezone-aware datetimes only")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE), or join the one already open."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
