"""Copy a SQLite registry into an empty PostgreSQL one: the step that moves a council's
registry when it sets ``[registry] url`` (``hearth registry copy-to-postgresql``).

Both sides are brought to the same schema version first (the PostgreSQL side by its own
migrations), then every table is copied in foreign-key order in one transaction: all or
nothing. Identity counters continue after the highest copied id, so new cases, events and
texts never reuse an old id. Rows are copied as stored: no personal data is logged or printed,
only table names and counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hearth.registry import db
from hearth.registry.store import Registry, RegistryError

BATCH = 5000
_SKIP = {"schema_migrations", "sqlite_sequence"}


@dataclass
class CopyResult:
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _tables_in_fk_order(src) -> list[str]:
    names = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                       " AND name NOT LIKE 'sqlite_%' ORDER BY name")
             if r[0] not in _SKIP]
    deps = {t: {r[2] for r in src.execute(f'PRAGMA foreign_key_list("{t}")')} - {t}
            for t in names}
    order: list[str] = []
    while deps:
        ready = sorted(t for t, d in deps.items() if not (d & deps.keys()))
        if not ready:
            raise RegistryError(f"foreign keys form a cycle among {sorted(deps)}")
        order += ready
        for t in ready:
            del deps[t]
    return order


def copy_sqlite_to_postgresql(sqlite_path: str | Path, url: str) -> CopyResult:
    """Copy every row of the SQLite registry at ``sqlite_path`` into the PostgreSQL registry at
    ``url``, which must hold no rows yet. Returns rows copied per table."""
    if not db.is_postgresql(url):
        raise RegistryError(f"{url!r} is not a postgresql:// url")
    if not Path(sqlite_path).exists():
        raise RegistryError(f"no SQLite registry at {sqlite_path}")
    result = CopyResult()
    with Registry(sqlite_path) as src, Registry(url) as dst:
        if src.schema_version != dst.schema_version:
            raise RegistryError(f"schema versions differ: {sqlite_path} is at "
                                f"{src.schema_version}, {url} at {dst.schema_version}")
        tables = _tables_in_fk_order(src.conn)
        # The council's records: any of them on the PostgreSQL side and the copy is refused.
        # (Rows the migrations seed, such as reference figures, are replaced by the source's.)
        busy = [t for t in ("households", "tenants", "devices", "cases", "audit_log", "users")
                if t in tables and db.has_table(dst.conn, t)
                and dst.query(f"SELECT 1 FROM {t} LIMIT 1").fetchone() is not None]
        if busy:
            raise RegistryError(f"the PostgreSQL registry already holds rows (in {', '.join(busy)});"
                                " copy only into an empty one")
        with dst.transaction() as tx:
            for table in tables:
                if not db.has_table(dst.conn, table):
                    raise RegistryError(f"table {table} of {sqlite_path} has no PostgreSQL "
                                        "counterpart: is this registry from a newer Hearth?")
            for table in reversed(tables):
                tx.execute(f"DELETE FROM {table}")
            for table in tables:
                cols = [r[1] for r in src.query(f'PRAGMA table_info("{table}")')]
                sql = (f"INSERT INTO {table} ({', '.join(cols)}) VALUES"
                       f" ({', '.join('?' * len(cols))})")
                cur = src.query(f"SELECT {', '.join(cols)} FROM {table}")
                n = 0
                while batch := cur.fetchmany(BATCH):
                    tx.executemany(sql, batch)
                    n += len(batch)
                result.rows[table] = n
            _continue_identities(tx)
    return result


def _continue_identities(conn) -> None:
    """Each identity column's next value after the highest id copied into it."""
    rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns"
                        " WHERE table_schema = current_schema() AND is_identity = 'YES'"
                        ).fetchall()
    for table, column in rows:
        top = conn.execute(f"SELECT max({column}) FROM {table}").fetchone()[0]
        if top is not None:
            conn.execute("SELECT setval(pg_get_serial_sequence(?, ?), ?)",
                         (table, column, int(top)))
