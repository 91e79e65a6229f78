"""The registry's one connection layer: SQLite or PostgreSQL behind the sqlite3 interface.

Every part of Hearth that stores rows in the registry writes its SQL once, in the SQLite dialect
it always used (``?`` placeholders, ``BEGIN IMMEDIATE``, ``INSERT OR IGNORE``, ``lastrowid``,
``sqlite3.Row``, ``sqlite3.IntegrityError``). :func:`connect` opens either engine from the
registry's target: a path opens SQLite; a ``postgresql://`` URL opens PostgreSQL through
psycopg 3, wrapped in :class:`PgConnection`, which speaks the same interface:

- SQL is translated statement by statement (:func:`to_postgresql`, cached): placeholders, the
  few SQLite functions Hearth uses, ``INSERT OR IGNORE``, ``LIKE`` (case-insensitive in SQLite);
- ``BEGIN IMMEDIATE`` takes one registry-wide advisory lock, so writers queue one at a time as
  they do on SQLite and no read-modify-write races another;
- each write inside a transaction runs under a savepoint, so a failed statement is undone alone
  (SQLite's statement rollback) and the caller may go on, as it can with SQLite;
- psycopg's errors come back as sqlite3's classes (IntegrityError, OperationalError, ...), so one
  ``except`` serves both engines;
- numbers come back as int/float (never Decimal), booleans are stored 0/1 and dates as ISO text,
  exactly as the SQLite registry stores them.

``INSERT OR REPLACE`` has no translation (it deletes whichever rows collide); write
``INSERT ... ON CONFLICT (key) DO UPDATE SET ...``, which both engines run.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hearth.errors import HearthError

# Same names for both engines: psycopg's errors are raised as these.
Error = sqlite3.Error
DatabaseError = sqlite3.DatabaseError
IntegrityError = sqlite3.IntegrityError
OperationalError = sqlite3.OperationalError
Row = sqlite3.Row

PASSWORD_ENV = "HEARTH_REGISTRY_PASSWORD"
PASSWORD_SECRET = "registry_password"
# pg_advisory_xact_lock key of the registry's single writer lock ("hearth" in ASCII).
WRITE_LOCK_KEY = 0x686561727468
_URL = re.compile(r"^postgres(ql)?://", re.IGNORECASE)


class RegistryUrlError(HearthError, ValueError):
    """The registry's URL is malformed or carries a password."""


def is_postgresql(target: str | Path) -> bool:
    return isinstance(target, str) and bool(_URL.match(target))


def dialect_of(conn: Any) -> str:
    """'postgresql' or 'sqlite' for a connection from :func:`connect`."""
    return "postgresql" if isinstance(conn, PgConnection) else "sqlite"


def is_connection(value: Any) -> bool:
    return isinstance(value, sqlite3.Connection | PgConnection)


def check_url(url: str) -> str:
    """Refuse a URL that is not PostgreSQL's or that carries a password (it belongs in the
    environment or var/secrets, never in a settings file)."""
    from urllib.parse import urlsplit

    if not _URL.match(url):
        raise RegistryUrlError(f"registry url {url!r}: only postgresql://user@host:port/db is "
                               "supported (leave url empty for the SQLite file at [registry] path)")
    parts = urlsplit(url)
    if parts.password is not None or "password=" in parts.query:
        raise RegistryUrlError(f"registry url: remove the password from the url; set "
                               f"{PASSWORD_ENV} or put it in var/secrets/{PASSWORD_SECRET}")
    return url


def registry_password(var_dir: Path | None) -> str | None:
    """The PostgreSQL password: the environment first, then var/secrets/registry_password."""
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if var_dir is not None:
        from hearth.secrets import read_secret

        return read_secret(Path(var_dir), PASSWORD_SECRET)
    return None


def connect(target: str | Path, *, timeout_s: float = 30.0, read_only: bool = False,
            password: str | None = None, var_dir: Path | None = None):
    """An autocommit connection to the registry at ``target`` (a path or a postgresql:// URL).

    SQLite: ``isolation_level=None`` (transactions are explicit), usable from any thread.
    ``read_only`` opens the file read-only (SQLite) or the session read-only (PostgreSQL)."""
    if is_postgresql(target):
        secret = password if password is not None else registry_password(var_dir)
        if read_only:
            return _READERS.take(str(target), timeout_s, secret)
        return PgConnection(str(target), timeout_s=timeout_s, password=secret)
    if read_only:
        return sqlite3.connect(f"file:{Path(target)}?mode=ro", uri=True, timeout=timeout_s,
                               isolation_level=None, check_same_thread=False)
    return sqlite3.connect(Path(target), timeout=timeout_s, isolation_level=None,
                           check_same_thread=False)


def has_table(conn: Any, name: str) -> bool:
    """Whether the registry has table ``name`` (either engine)."""
    if isinstance(conn, PgConnection):
        sql = ("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema()"
               " AND table_name = ?")
    else:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    cur = conn.cursor()
    cur.row_factory = None
    return cur.execute(sql, (name,)).fetchone() is not None


# -- translation ----------------------------------------------------------------------------

_STRFTIME_NOW = {
    "%Y-%m-%dT%H:%M:%SZ": "YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"",
    "%Y-%m-%dT%H:%M:%fZ": "YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"",
}
_RE_STRFTIME = re.compile(r"strftime\('([^']*)',\s*'now'\)", re.IGNORECASE)
_RE_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_RE_OR_REPLACE = re.compile(r"^\s*INSERT\s+OR\s+REPLACE\b", re.IGNORECASE)
_RE_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
_RE_SQLITE_MASTER = re.compile(
    r"FROM\s+sqlite_master\s+WHERE\s+type\s*=\s*'table'\s+AND\s+name\b", re.IGNORECASE)
_RE_JSON_EXTRACT = re.compile(r"json_extract\(\s*(\w+)\s*,\s*'\$\.(\w+)'\s*\)", re.IGNORECASE)
_RE_LIKE = re.compile(r"\bLIKE(\s+(\?|'[^']*'))(?!\s+ESCAPE)", re.IGNORECASE)
_RE_INSTR = re.compile(r"\binstr\(", re.IGNORECASE)
_RE_GREATEST = re.compile(r"\b(max|min)\(([^(),]+),([^(),]+)\)", re.IGNORECASE)
_RE_BEGIN = re.compile(r"^\s*BEGIN(\s+(IMMEDIATE|DEFERRED|EXCLUSIVE))?(\s+TRANSACTION)?\s*;?\s*$",
                       re.IGNORECASE)
_RE_PRAGMA = re.compile(r"^\s*PRAGMA\b", re.IGNORECASE)


def _code_spans(sql: str) -> Iterator[tuple[bool, str]]:
    """(is_code, text) pieces: string literals and quoted names are not code."""
    i, n, start = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            if start < i:
                yield True, sql[start:i]
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            yield False, sql[i:j + 1]
            i = start = j + 1
        elif ch == "-" and sql.startswith("--", i):
            if start < i:
                yield True, sql[start:i]
            j = sql.find("\n", i)
            j = n if j < 0 else j
            i = start = j  # comments dropped
        else:
            i += 1
    if start < n:
        yield True, sql[start:]


def _map_code(sql: str, fn) -> str:
    return "".join(fn(text) if code else text for code, text in _code_spans(sql))


def to_postgresql(sql: str) -> str:
    """The PostgreSQL text of one SQLite statement as Hearth writes them (``?`` placeholders
    become ``%s``, a literal ``%`` becomes ``%%``)."""
    return _translate(sql)[0]


@functools.lru_cache(maxsize=2048)
def _translate(sql: str) -> tuple[str, tuple[int, ...] | None]:
    """(text, order): ``order`` maps each %s to an argument where the SQL numbers its
    placeholders (``?1``, used more than once); None for plain ``?``."""
    if _RE_OR_REPLACE.match(sql):
        raise sqlite3.NotSupportedError(
            "INSERT OR REPLACE has no PostgreSQL equivalent: write INSERT ... ON CONFLICT (key) "
            "DO UPDATE SET ..., which both engines run")
    out = _RE_STRFTIME.sub(lambda m: _strftime_now(m.group(1)), sql)
    out = _RE_SQLITE_MASTER.sub("FROM information_schema.tables WHERE table_schema = "
                                "current_schema() AND table_name", out)
    out = _RE_JSON_EXTRACT.sub(lambda m: f"(({m.group(1)})::json ->> '{m.group(2)}')", out)
    out = _map_code(out, _code_to_pg)
    if _RE_OR_IGNORE.match(out):
        out = _RE_OR_IGNORE.sub("INSERT INTO", out, count=1)
        m = _RE_RETURNING.search(out)
        body, tail = (out[:m.start()], " " + out[m.start():]) if m else (out, "")
        out = body.rstrip().rstrip(";") + " ON CONFLICT DO NOTHING" + tail
    # psycopg reads % as the start of a placeholder everywhere, literals included.
    parts, order, numbered = [], [], False

    def placeholder(m: re.Match[str]) -> str:
        nonlocal numbered
        if m.group(1):
            numbered = True
            order.append(int(m.group(1)) - 1)
        else:
            order.append(len(order))
        return "%s"

    for code, text in _code_spans(out):
        text = text.replace("%", "%%")
        parts.append(_PLACEHOLDER.sub(placeholder, text) if code else text)
    return "".join(parts), tuple(order) if numbered else None


_PLACEHOLDER = re.compile(r"\?(\d+)?")


def _code_to_pg(text: str) -> str:
    text = _RE_LIKE.sub(r"ILIKE\1 ESCAPE ''", text)
    text = _RE_INSTR.sub("strpos(", text)
    return _RE_GREATEST.sub(lambda m: ("greatest(" if m.group(1).lower() == "max" else "least(")
                            + m.group(2) + "," + m.group(3) + ")", text)


def _strftime_now(fmt: str) -> str:
    if fmt not in _STRFTIME_NOW:
        raise sqlite3.NotSupportedError(f"strftime format {fmt!r} has no PostgreSQL translation")
    return f"to_char(now() AT TIME ZONE 'UTC', '{_STRFTIME_NOW[fmt]}')"


# -- PostgreSQL behind the sqlite3 interface ------------------------------------------------

def _row_class(names: tuple[str, ...]):
    return _ROW_CLASSES.get(names) or _ROW_CLASSES.setdefault(names, _make_row_class(names))


def _make_row_class(names: tuple[str, ...]):
    index = {n: i for i, n in enumerate(names)}
    index.update({n.lower(): i for i, n in enumerate(names)})

    class PgRow(tuple):
        """A row by position or by name, like sqlite3.Row."""
        __slots__ = ()

        def __getitem__(self, key):
            if isinstance(key, str):
                try:
                    key = index[key] if key in index else index[key.lower()]
                except KeyError:
                    raise IndexError(f"no such column: {key}") from None
            return tuple.__getitem__(self, key)

        def keys(self) -> list[str]:
            return list(names)

    return PgRow


_ROW_CLASSES: dict[tuple[str, ...], type] = {}


def _translate_error(exc: Exception) -> sqlite3.Error:
    import psycopg

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if getattr(exc, "sqlstate", None) == "25006":   # a write on a read-only connection
        err: sqlite3.Error = sqlite3.OperationalError(f"attempt to write a readonly database"
                                                      f" ({text})")
    elif isinstance(exc, psycopg.IntegrityError):
        err = sqlite3.IntegrityError(_sqlite_words(exc, text))
    elif isinstance(exc, psycopg.OperationalError):
        err = sqlite3.OperationalError(text)
    elif isinstance(exc, psycopg.ProgrammingError):
        err = sqlite3.OperationalError(text)  # sqlite3 reports bad SQL as OperationalError
    elif isinstance(exc, psycopg.DataError):
        err = sqlite3.IntegrityError(text)    # a value the schema refuses
    elif isinstance(exc, psycopg.NotSupportedError):
        err = sqlite3.NotSupportedError(text)
    else:
        err = sqlite3.DatabaseError(text)
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate:
        err.sqlstate = sqlstate  # type: ignore[attr-defined]
    return err


_SQLITE_WORDS = {"23514": "CHECK", "23505": "UNIQUE", "23503": "FOREIGN KEY",
                 "23502": "NOT NULL"}


def _sqlite_words(exc: Exception, text: str) -> str:
    """SQLite's wording first ("UNIQUE constraint failed: ..."), PostgreSQL's after it, so that
    messages (and whoever reads them) say the same on both engines."""
    kind = _SQLITE_WORDS.get(getattr(exc, "sqlstate", None) or "")
    if kind is None:
        return text
    diag = getattr(exc, "diag", None)
    where = ".".join(p for p in (getattr(diag, "table_name", None),
                                 getattr(diag, "column_name", None)) if p)
    name = getattr(diag, "constraint_name", None) or where
    detail = getattr(diag, "message_detail", None) or ""
    cols = re.match(r"Key \(([^)]*)\)=", detail)
    table = getattr(diag, "table_name", None)
    if kind == "UNIQUE" and cols and table:
        # SQLite names the columns ("users.email"); the value in the detail is left out.
        name = ", ".join(f"{table}.{c.strip()}" for c in cols.group(1).split(","))
    return f"{kind} constraint failed: {name} ({text})"


class PgCursor:
    """The parts of sqlite3.Cursor that Hearth uses."""

    arraysize = 1

    def __init__(self, conn: PgConnection) -> None:
        self.connection = conn
        self._cur = conn._pg.cursor()
        self.row_factory: Any = _UNSET
        self._names: tuple[str, ...] = ()
        self._was_insert = False
        self._lastrowid: int | None = None

    # sqlite3 returns the cursor from execute so that calls chain
    def execute(self, sql: str, args: Sequence[Any] | dict | None = ()) -> PgCursor:
        self.connection._run(self, sql, args, many=False)
        return self

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        self.connection._run(self, sql, list(rows), many=True)
        return self

    def _after(self) -> None:
        desc = self._cur.description
        self._names = tuple(c.name for c in desc) if desc else ()

    @property
    def description(self):
        return tuple((n, None, None, None, None, None, None) for n in self._names) or None

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def lastrowid(self) -> int | None:
        """The id the last INSERT gave (PostgreSQL's lastval(): the table's identity column)."""
        if not self._was_insert:
            return None
        if self._lastrowid is None:
            try:
                with self.connection._pg.cursor() as c:
                    self._lastrowid = int(c.execute("SELECT lastval()").fetchone()[0])
            except Exception as exc:
                raise _translate_error(exc) from exc
        return self._lastrowid

    def _shape(self, row):
        if row is None:
            return None
        factory = self.connection.row_factory if self.row_factory is _UNSET else self.row_factory
        if factory is None:
            return row
        if factory is sqlite3.Row:
            return _row_class(self._names)(row)
        return factory(self, row)

    def fetchone(self):
        if not self._names:
            return None
        try:
            return self._shape(self._cur.fetchone())
        except Exception as exc:
            raise _translate_error(exc) from exc

    def fetchall(self) -> list:
        if not self._names:
            return []
        return [self._shape(r) for r in self._cur.fetchall()]

    def fetchmany(self, size: int | None = None) -> list:
        if not self._names:
            return []
        return [self._shape(r) for r in self._cur.fetchmany(size or self.arraysize)]

    def __iter__(self):
        while True:
            row = self.fetchone()
            if row is None:
                return
            yield row

    def close(self) -> None:
        self._cur.close()


_UNSET = object()
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_INSERT = re.compile(r"^\s*INSERT\b", re.IGNORECASE)


class PgConnection:
    """A PostgreSQL registry connection with the sqlite3.Connection interface Hearth uses,
    in autocommit mode like the SQLite registry's (``BEGIN``/``COMMIT`` are explicit)."""

    dialect = "postgresql"

    def __init__(self, url: str, *, timeout_s: float = 30.0, read_only: bool = False,
                 password: str | None = None) -> None:
        import psycopg

        check_url(url)
        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": max(1, int(timeout_s))}
        if password:
            kwargs["password"] = password
        try:
            self._pg = psycopg.connect(url, **kwargs)
        except psycopg.Error as exc:
            raise _translate_error(exc) from exc
        self.url = url
        self.row_factory: Any = None
        self._savepoint = 0
        self._pool: _ReaderPool | None = None
        _configure_adapters(self._pg)
        with self._pg.cursor() as c:
            # Hearth waits for locks as SQLite waits on a busy file, then fails plainly.
            c.execute(f"SET lock_timeout = {int(timeout_s * 1000)}")
            c.execute("SET TIME ZONE 'UTC'")
            if read_only:
                c.execute("SET default_transaction_read_only = on")

    # -- sqlite3.Connection interface -------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self._pg.info.transaction_status != TransactionStatus.IDLE

    def cursor(self) -> PgCursor:
        return PgCursor(self)

    def execute(self, sql: str, args: Sequence[Any] | dict | None = ()) -> PgCursor:
        return self.cursor().execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        return self.cursor().executemany(sql, rows)

    def executescript(self, script: str) -> PgCursor:
        from hearth.registry.migrate import split_statements

        cur = self.cursor()
        for statement in split_statements(script, dialect="postgresql"):
            cur.execute(statement)
        return cur

    def commit(self) -> None:
        if self.in_transaction:
            self.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.execute("ROLLBACK")

    def close(self) -> None:
        if self._pool is not None and not self._pg.closed:
            self._pool.give_back(self)
            return
        self._pg.close()

    def __enter__(self) -> PgConnection:
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        # sqlite3: the context manager commits or rolls back, it does not close.
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    # -- running ----------------------------------------------------------------------------
    @staticmethod
    def _send(cursor: PgCursor, text: str, args: Any, many: bool) -> None:
        if many:
            cursor._cur.executemany(text, [_args(a) for a in args])
        else:
            cursor._cur.execute(text, _args(args))

    def _run(self, cursor: PgCursor, sql: str, args: Any, *, many: bool) -> None:
        import psycopg

        cursor._was_insert, cursor._lastrowid = bool(_INSERT.match(sql)), None
        if _RE_PRAGMA.match(sql):
            cursor._names = ()      # SQLite file tuning: nothing to do on a server
            return
        begin = _RE_BEGIN.match(sql)
        if begin:
            try:
                with self._pg.pipeline():
                    self._pg.execute("BEGIN")
                    if (begin.group(2) or "").upper() in ("IMMEDIATE", "EXCLUSIVE"):
                        self._pg.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
            except psycopg.Error as exc:
                raise _translate_error(exc) from exc
            cursor._names = ()
            return
        text, order = _translate(sql)
        if order is not None:
            args = [_numbered(a, order) for a in args] if many else _numbered(args, order)
        guard = self.in_transaction and bool(_WRITE.match(sql))
        try:
            if guard:
                # SAVEPOINT, the write and RELEASE in one round trip (a pipeline).
                self._savepoint += 1
                name = f"hearth_sp{self._savepoint}"
                try:
                    with self._pg.pipeline():
                        self._pg.execute(f"SAVEPOINT {name}")
                        self._send(cursor, text, args, many)
                        self._pg.execute(f"RELEASE SAVEPOINT {name}")
                except psycopg.Error:
                    self._pg.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    self._pg.execute(f"RELEASE SAVEPOINT {name}")
                    raise
                finally:
                    self._savepoint -= 1
            else:
                self._send(cursor, text, args, many)
        except psycopg.Error as exc:
            raise _translate_error(exc) from exc
        cursor._after()


class _ReaderPool:
    """Idle read-only connections kept for the next reader: the dashboard opens a connection per
    query (cheap on SQLite), and a PostgreSQL connection costs a password exchange each time."""

    MAX_IDLE = 8

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._idle: dict[tuple[str, str | None], list[PgConnection]] = {}

    def take(self, url: str, timeout_s: float, password: str | None) -> PgConnection:
        key = (url, password)
        with self._lock:
            idle = self._idle.get(key, [])
            conn = idle.pop() if idle else None
        if conn is None:
            conn = PgConnection(url, timeout_s=timeout_s, read_only=True, password=password)
            conn._pool = self
            conn._key = key  # type: ignore[attr-defined]
        conn.row_factory = None
        return conn

    def give_back(self, conn: PgConnection) -> None:
        try:
            conn.rollback()
        except sqlite3.Error:
            conn._pool = None
            conn.close()
            return
        with self._lock:
            idle = self._idle.setdefault(conn._key, [])  # type: ignore[attr-defined]
            if len(idle) < self.MAX_IDLE:
                idle.append(conn)
                return
        conn._pool = None
        conn.close()


_READERS = _ReaderPool()


def _numbered(args: Any, order: tuple[int, ...]) -> tuple:
    args = _args(args)
    return tuple(args[i] for i in order)


def _args(args: Any):
    if args is None:
        return ()
    if isinstance(args, dict):
        raise sqlite3.ProgrammingError("named parameters are not supported on PostgreSQL; "
                                       "use ? placeholders")
    return tuple(args)


def _configure_adapters(pg) -> None:
    """Python values in and out as the SQLite registry has them: bools as 0/1, dates and
    datetimes as ISO text (sqlite3's adapters), numeric as float, text as str."""
    from psycopg.adapt import Dumper, Loader
    from psycopg.types.string import StrDumperUnknown

    class IntBoolDumper(Dumper):
        oid = pg.adapters.types["int4"].oid

        def dump(self, obj):
            return b"1" if obj else b"0"

    class IsoDumper(StrDumperUnknown):
        def dump(self, obj):
            text = obj.isoformat(" ") if isinstance(obj, datetime) else obj.isoformat()
            return super().dump(text)

    class FloatLoader(Loader):
        def load(self, data):
            return float(bytes(data))

    pg.adapters.register_dumper(bool, IntBoolDumper)
    pg.adapters.register_dumper(date, IsoDumper)
    pg.adapters.register_dumper(datetime, IsoDumper)
    pg.adapters.register_loader("numeric", FloatLoader)


def registry_exists(target: str | Path) -> bool:
    """Whether there is a registry to read: the SQLite file exists, or a server URL is set
    (a missing server is an error when it is opened, never an empty registry)."""
    return is_postgresql(target) or Path(target).exists()


def upsert_sql(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """``INSERT ... ON CONFLICT (key) DO UPDATE SET`` every other column: the portable form of
    SQLite's ``INSERT OR REPLACE`` (both engines run it; ``key`` must be a unique index)."""
    rest = [c for c in columns if c not in key]
    action = ("DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in rest)) if rest \
        else "DO NOTHING"
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
            f" ({', '.join('?' * len(columns))}) ON CONFLICT ({', '.join(key)}) {action}")
