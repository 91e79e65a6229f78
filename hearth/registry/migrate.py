"""Schema migrations: numbered SQL files applied in order, each in one transaction.

A migration is ``migrations/NNNN_name.sql``; dropping a file with the next number into the folder
is all it takes. The schema version is ``PRAGMA user_version`` (the highest applied number);
``schema_migrations`` keeps each file's name, checksum and when it was applied, so an edited
migration is noticed. ``BEGIN IMMEDIATE`` takes the write lock before the version is read, so
two processes starting at once (collector, advisor, dashboard) never apply a file twice.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hearth.errors import HearthError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(HearthError):
    """A migration file is malformed, missing or failed to apply."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in ``directory`` sorted by number; numbers must run 1, 2, 3, ..."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"{path}: migration files are named NNNN_name.sql "
                                 "(four digits, lower-case name)")
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"two migrations numbered {version:04d}: "
                                 f"{found[version].path.name} and {path.name}; renumber one")
        found[version] = Migration(version, m.group(2), path)
    versions = sorted(found)
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration numbers in {directory} must run 1, 2, 3, ... without "
                             f"gaps; found {[f'{v:04d}' for v in versions]}")
    return [found[v] for v in versions]


def split_statements(sql: str) -> list[str]:
    """Split a script into complete statements (triggers with BEGIN ... END stay whole)."""
    statements, current = [], ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \t\r\n;") and _has_code(current):
                statements.append(current.strip())
            current = ""
    if current.strip(" \t\r\n;") and _has_code(current):
        raise MigrationError(f"incomplete SQL statement at the end: {current.strip()[:80]!r}")
    return statements


def _has_code(statement: str) -> bool:
    lines = [ln.split("--", 1)[0].strip() for ln in statement.splitlines()]
    return any(ln and ln != ";" for ln in lines)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply every migration newer than the database's version. Returns the versions applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each migration runs in its
    own explicit transaction together with the bump of ``user_version``.
    """
    migrations = discover(directory)
    latest = migrations[-1].version if migrations else 0
    current = schema_version(conn)
    if current > latest:
        raise MigrationError(f"the registry's schema is version {current} but this Hearth knows "
                             f"migrations up to {latest}: update Hearth before opening it")
    if current == latest:
        _check_checksums(conn, migrations)
        return []
    applied: list[int] = []
    # SQLite's procedure for changing a table (rebuild it under a new name, drop the old one,
    # rename): foreign keys off while a migration runs (the pragma is a no-op inside a
    # transaction), and checked before each commit, so no migration leaves one broken.
    fk_on = bool(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for migration in migrations:
            _apply(conn, migration, applied)
    finally:
        if fk_on:
            conn.execute("PRAGMA foreign_keys = ON")
    return applied


def _apply(conn: sqlite3.Connection, migration: Migration, applied: list[int]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again under the write lock: another process may have migrated meanwhile.
        if migration.version <= schema_version(conn):
            conn.execute("COMMIT")
            return
        _ensure_history_table(conn)
        for statement in split_statements(migration.sql):
            conn.execute(statement)
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise sqlite3.IntegrityError(f"{len(broken)} rows break a foreign key, e.g."
                                         f" {tuple(broken[0])}")
        conn.execute(
            "INSERT INTO schema_migrations (version, name, sha256, applied_at) "
            "VALUES (?, ?, ?, ?)",
            (migration.version, migration.name, migration.sha256,
             datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
        conn.execute(f"PRAGMA user_version = {migration.version:d}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        raise MigrationError(f"migration {migration.path.name} failed and was rolled back: "
                             f"{exc}") from exc
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    applied.append(migration.version)
    log.info("registry: applied migration %s", migration.path.name)


def _ensure_history_table(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                 "version INTEGER PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL, "
                 "applied_at TEXT NOT NULL)")


def _check_checksums(conn: sqlite3.Connection, migrations: list[Migration]) -> None:
    try:
        rows = dict(conn.execute("SELECT version, sha256 FROM schema_migrations").fetchall())
    except sqlite3.OperationalError:
        return
    for migration in migrations:
        if rows.get(migration.version) not in (None, migration.sha256):
            log.warning("registry: migration %s changed after it was applied; the database keeps "
                        "the old schema (add a new migration instead of editing an applied one)",
                        migration.path.name)
