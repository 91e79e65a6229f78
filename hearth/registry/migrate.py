"""Schema migrations: numbered SQL files applied in order, each in one transaction.

A migration is ``migrations/NNNN_name.sql``; dropping a file with the next number into the folder
is all it takes. The schema version is ``PRAGMA user_version`` (the highest applied number);
``schema_migrations`` keeps each file's name, checksum and when it was applied, so an edited
migration is noticed. ``BEGIN IMMEDIATE`` takes the write lock before the version is read, so
two processes starting at once (collector, advisor, dashboard) never apply a file twice.

PostgreSQL (a ``postgresql://`` registry url) runs the same numbered migrations, one rule:

- ``migrations/postgresql/NNNN_name.sql``, where it exists, replaces ``NNNN_name.sql`` on
  PostgreSQL; it exists only where SQLite's SQL cannot be translated (triggers, table
  rebuilds, JSON functions). A new migration in portable SQL needs no such file.
- Every other file is translated by :func:`ddl_to_postgresql` (types, ``AUTOINCREMENT``,
  ``WITHOUT ROWID``, ``GLOB``, ``x IS date(x)``, ``json_valid``) and then statement by
  statement by :func:`hearth.registry.db.to_postgresql`.
- The version is the highest row of ``schema_migrations`` (there is no ``user_version``); the
  registry-wide advisory lock that ``BEGIN IMMEDIATE`` takes stands for SQLite's write lock.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hearth.errors import HearthError
from hearth.registry.db import dialect_of, has_table

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
PG_DIR_NAME = "postgresql"
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

    def for_dialect(self, dialect: str) -> Migration:
        """This migration as ``dialect`` runs it (its PostgreSQL file where there is one)."""
        if dialect == "postgresql":
            own = self.path.parent / PG_DIR_NAME / self.path.name
            if own.exists():
                return Migration(self.version, self.name, own)
        return self

    def statements(self, dialect: str = "sqlite") -> list[str]:
        if dialect != "postgresql":
            return split_statements(self.sql)
        if self.path.parent.name == PG_DIR_NAME:
            return split_statements(self.sql, dialect="postgresql")
        return [ddl_to_postgresql(s) for s in split_statements(self.sql)]


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


def split_statements(sql: str, dialect: str = "sqlite") -> list[str]:
    """Split a script into complete statements (triggers with BEGIN ... END stay whole; on
    PostgreSQL, function bodies between $$ quotes)."""
    if dialect == "postgresql":
        return _split_pg(sql)
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


def _split_pg(sql: str) -> list[str]:
    statements, current, quoted = [], [], False
    for line in sql.splitlines():
        current.append(line)
        quoted ^= line.count("$$") % 2 == 1
        if not quoted and line.split("--", 1)[0].rstrip().endswith(";"):
            text = "\n".join(current).strip()
            if _has_code(text):
                statements.append(text)
            current = []
    if _has_code("\n".join(current)):
        raise MigrationError(f"incomplete SQL statement at the end: {current[0][:80]!r}")
    return statements


_GLOB = re.compile(r"\s+(NOT\s+)?GLOB\s+'([^']*)'", re.IGNORECASE)
_IS_DATE = re.compile(r"\b(\w+)\s+IS\s+date\(\s*\1\s*\)", re.IGNORECASE)
_DDL: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?", re.IGNORECASE),
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\)\s*WITHOUT\s+ROWID", re.IGNORECASE), ")"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bjson_valid\(", re.IGNORECASE), "hearth_json_valid("),
    (_IS_DATE, lambda m: f"hearth_is_date({m.group(1)})"),
]


def _globs_to_regex(statement: str) -> str:
    """``expr [NOT] GLOB 'pattern'`` as ``[NOT] (expr ~ 'regex')``; expr is a name or a call
    (with nested parentheses)."""
    while m := _GLOB.search(statement):
        end = m.start()
        start = end
        if statement[end - 1] == ")":
            depth, start = 0, end - 1
            while True:
                depth += {")": 1, "(": -1}.get(statement[start], 0)
                if depth == 0:
                    break
                start -= 1
        while start > 0 and (statement[start - 1].isalnum() or statement[start - 1] in "_."):
            start -= 1
        expr = statement[start:end]
        neg = "NOT " if m.group(1) else ""
        statement = (f"{statement[:start]}{neg}({expr} ~ '{glob_to_regex(m.group(2))}')"
                     f"{statement[m.end():]}")
    return statement


def glob_to_regex(pattern: str) -> str:
    """A SQLite GLOB pattern as an anchored POSIX regular expression."""
    out, i = ["^"], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            j = pattern.index("]", i + 2 if pattern[i + 1:i + 2] in ("^", "]") else i + 1)
            out.append(pattern[i:j + 1])
            i = j
        else:
            out.append(re.escape(ch) if ch in ".^$+(){}|\\" else ch)
        i += 1
    return "".join(out) + "$"


def ddl_to_postgresql(statement: str) -> str:
    """One statement of a shared migration in PostgreSQL's dialect (see the module doc)."""
    for pattern, repl in _DDL:
        statement = pattern.sub(repl, statement)
    return _globs_to_regex(statement)


def _has_code(statement: str) -> bool:
    lines = [ln.split("--", 1)[0].strip() for ln in statement.splitlines()]
    return any(ln and ln != ";" for ln in lines)


def schema_version(conn) -> int:
    if dialect_of(conn) == "postgresql":
        if not has_table(conn, "schema_migrations"):
            return 0
        cur = conn.cursor()
        cur.row_factory = None
        return int(cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
                   .fetchone()[0])
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
    if dialect_of(conn) == "postgresql":
        for migration in migrations:
            _apply(conn, migration, applied)
        return applied
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


def _apply(conn, migration: Migration, applied: list[int]) -> None:
    dialect = dialect_of(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again under the write lock: another process may have migrated meanwhile.
        if migration.version <= schema_version(conn):
            conn.execute("COMMIT")
            return
        _ensure_history_table(conn)
        for statement in migration.for_dialect(dialect).statements(dialect):
            conn.execute(statement)
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise sqlite3.IntegrityError(f"{len(broken)} rows break a foreign key, e.g."
                                         f" {tuple(broken[0])}")
        conn.execute(
            "INSERT INTO schema_migrations (version, name, sha256, applied_at) "
            "VALUES (?, ?, ?, ?)",
            (migration.version, migration.name, migration.for_dialect(dialect).sha256,
             datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
        if dialect == "sqlite":
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


def _ensure_history_table(conn) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                 "version INTEGER PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL, "
                 "applied_at TEXT NOT NULL)")
    if dialect_of(conn) == "postgresql":
        for statement in _split_pg(PG_FUNCTIONS):
            conn.execute(statement)


# What the shared migrations' CHECKs call on PostgreSQL (see ddl_to_postgresql). IMMUTABLE so
# that CHECK constraints may use them.
PG_FUNCTIONS = """
CREATE OR REPLACE FUNCTION hearth_is_date(value text) RETURNS boolean LANGUAGE plpgsql
IMMUTABLE AS $$
BEGIN
    -- SQLite's `x IS date(x)`: a real calendar date written YYYY-MM-DD, nothing more.
    RETURN value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' AND to_char(value::date, 'YYYY-MM-DD') = value;
EXCEPTION WHEN others THEN
    RETURN false;
END;
$$;
CREATE OR REPLACE FUNCTION hearth_json_valid(value text) RETURNS boolean LANGUAGE plpgsql
IMMUTABLE AS $$
BEGIN
    PERFORM value::json;
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END;
$$;
"""


def _check_checksums(conn, migrations: list[Migration]) -> None:
    if not has_table(conn, "schema_migrations"):
        return
    cur = conn.cursor()
    cur.row_factory = None
    rows = dict(cur.execute("SELECT version, sha256 FROM schema_migrations").fetchall())
    dialect = dialect_of(conn)
    for migration in migrations:
        if rows.get(migration.version) not in (None, migration.for_dialect(dialect).sha256):
            log.warning("registry: migration %s changed after it was applied; the database keeps "
                        "the old schema (add a new migration instead of editing an applied one)",
                        migration.path.name)
