"""`Registry`: the one way into the registry (households, tenants, devices, tariffs).

The registry is a SQLite file or, with ``[registry] url = "postgresql://..."``, a PostgreSQL
database; both through :mod:`hearth.registry.db`, one code path. Several processes share the
SQLite file (collectors, advisor, dashboard, reports): WAL journal so that readers never block
the writer, a busy timeout so that writers queue instead of failing, and foreign keys on.
Opening migrates the schema to the newest version.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hearth.errors import HearthError
from hearth.registry import db
from hearth.registry.migrate import migrate, schema_version
from hearth.registry.models import Device, Household, Tariff, Tenant

BUSY_TIMEOUT_S = 30.0
HOUSEHOLD_COLUMNS = ("household_id", "patch", "estate", "address_area", "property_type",
                     "bedrooms", "floor_area_m2", "payment_type", "has_gas", "heating",
                     "epc_band", "means_tested_benefits", "vulnerable", "vulnerability_notes",
                     "occupancy", "occupants", "tenancy_start", "tenancy_end")
TENANT_COLUMNS = ("tenant_id", "household_id", "full_name", "mobile", "sms_consent",
                  "sms_consent_at", "sms_consent_source", "opted_out_at", "share_with_supplier")
DEVICE_COLUMNS = ("device_id", "household_id", "kind", "protocol", "gateway_host",
                  "gateway_port", "unit_id", "register_map", "mqtt_topic", "room", "interval_s")
TARIFF_COLUMNS = ("tariff_id", "fuel", "payment_type", "unit_rate_gbp_per_kwh",
                  "standing_charge_gbp_per_day", "valid_from", "valid_to")
BASE_TABLES = ("households", "tenants", "devices", "tariffs", "consent_log", "audit_log")
# A UK mobile or a long digit run in an audit detail is almost surely personal data.
_PHONE_LIKE = re.compile(r"(\+?44\s?7|\b07)\d[\d\s]{7,}\d")
PHONE_REDACTED = "[phone number removed]"
log = logging.getLogger(__name__)


class RegistryError(HearthError):
    """The registry refused an operation; the message says which record and why."""


class NotFoundError(RegistryError, LookupError):
    """No record with that id."""


def utc_now_iso() -> str:
    """Now as the registry stores times: ISO 8601 UTC with a Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


class Registry:
    """The household registry (a SQLite file or a PostgreSQL URL). Use as a context manager::

        with Registry(settings.registry.target) as reg:
            homes = reg.households(patch="Riverside")
    """

    def __init__(self, path: str | Path, *, migrate_schema: bool = True,
                 busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.dialect = "postgresql" if db.is_postgresql(path) else "sqlite"
        # The URL (no password in it) or the file: what messages name.
        self.path = str(path) if self.dialect == "postgresql" else Path(path)
        try:
            if self.dialect == "sqlite":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are explicit (see transaction()).
            self.conn = db.connect(path, timeout_s=busy_timeout_s)
        except (OSError, sqlite3.Error, db.RegistryUrlError) as exc:
            raise RegistryError(f"cannot open the registry {self.path}: {exc}; check "
                                f"[registry] {'url' if self.dialect == 'postgresql' else 'path'}"
                                " in the settings") from exc
        try:
            self._configure(busy_timeout_s)
            if migrate_schema:
                migrate(self.conn)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise RegistryError(f"{self.path} is not a usable registry ({exc}): check "
                                "[registry] path, or move the file away to start afresh") from exc
        except BaseException:
            self.conn.close()
            raise

    def _configure(self, busy_timeout_s: float) -> None:
        if self.dialect == "postgresql":
            return  # lock timeout and time zone are set by db.connect
        self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        self.conn.execute("PRAGMA foreign_keys = ON")
        mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RegistryError(f"registry {self.path}: WAL journal mode refused (got {mode}); "
                                "put var/ on a local disk")
        self.conn.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
        self.conn.execute("PRAGMA cache_size = -16384")   # 16 MiB: bulk writes keep indexes in memory

    # -- life cycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return schema_version(self.conn)

    def query(self, sql: str, args: Sequence[Any] = ()):
        """Run a read; rows are plain tuples whatever ``conn.row_factory`` another part set."""
        cur = self.conn.cursor()
        cur.row_factory = None
        return cur.execute(sql, args)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One write transaction (BEGIN IMMEDIATE: the write lock is taken up front, so a busy
        database waits up to the busy timeout instead of failing half-way)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- households -------------------------------------------------------------------------
    def households(self, patch: str | None = None) -> list[Household]:
        """All households (of one patch if given), ordered by household_id."""
        sql = f"SELECT {', '.join(HOUSEHOLD_COLUMNS)} FROM households"
        args: tuple[Any, ...] = ()
        if patch is not None:
            sql, args = sql + " WHERE patch = ?", (patch,)
        return [_household(r) for r in self.query(sql + " ORDER BY household_id", args)]

    def household(self, household_id: str) -> Household:
        row = self.query(f"SELECT {', '.join(HOUSEHOLD_COLUMNS)} FROM households "
                         "WHERE household_id = ?", (household_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no household {household_id!r} in the registry")
        return _household(row)

    def patches(self) -> list[str]:
        return [r[0] for r in self.query("SELECT DISTINCT patch FROM households ORDER BY patch")]

    def households_frame(self, patch: str | None = None):
        """Households as a pandas DataFrame indexed by household_id (sorted), one column per
        attribute: booleans as bool, counts as int64, floor_area_m2 [m2] as float64, dates as
        datetime64 (NaT for no tenancy end). ``frame[col].to_numpy()`` gives arrays aligned
        with ``frame.index``; ``frame.index.get_indexer(ids)`` maps other arrays onto it."""
        import numpy as np
        import pandas as pd

        sql = f"SELECT {', '.join(HOUSEHOLD_COLUMNS)} FROM households"
        args: tuple[Any, ...] = ()
        if patch is not None:
            sql, args = sql + " WHERE patch = ?", (patch,)
        rows = self.query(sql + " ORDER BY household_id", args).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=list(HOUSEHOLD_COLUMNS))
        for col in ("has_gas", "means_tested_benefits", "vulnerable"):
            frame[col] = frame[col].astype(bool)
        for col in ("bedrooms", "occupants"):
            frame[col] = frame[col].astype(np.int64)
        frame["floor_area_m2"] = frame["floor_area_m2"].astype(np.float64)
        for col in ("tenancy_start", "tenancy_end"):
            frame[col] = pd.to_datetime(frame[col], format="%Y-%m-%d")
        return frame.set_index("household_id")

    # -- tenants ----------------------------------------------------------------------------
    def tenants_of(self, household_id: str) -> list[Tenant]:
        """The tenants of one household (personal data: do not log names or mobiles)."""
        rows = self.query(f"SELECT {', '.join(TENANT_COLUMNS)} FROM tenants "
                          "WHERE household_id = ? ORDER BY tenant_id", (household_id,))
        return [_tenant(r) for r in rows]

    def tenant(self, tenant_id: str) -> Tenant:
        row = self.query(f"SELECT {', '.join(TENANT_COLUMNS)} FROM tenants "
                         "WHERE tenant_id = ?", (tenant_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no tenant {tenant_id!r} in the registry")
        return _tenant(row)

    # -- devices ----------------------------------------------------------------------------
    def devices(self, protocol: str | None = None, kind: str | None = None,
                household_id: str | None = None) -> list[Device]:
        """Devices, optionally only one protocol, kind or household; ordered by device_id."""
        where, args = [], []
        for col, value in (("protocol", protocol), ("kind", kind),
                           ("household_id", household_id)):
            if value is not None:
                where.append(f"{col} = ?")
                args.append(value)
        sql = f"SELECT {', '.join(DEVICE_COLUMNS)} FROM devices"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [Device(*r) for r in self.query(sql + " ORDER BY device_id", args)]

    def devices_frame(self, protocol: str | None = None):
        """Devices as a pandas DataFrame indexed by device_id (sorted); gateway_port and unit_id
        are nullable integers (<NA> for MQTT devices), interval_s [s] int64."""
        import numpy as np
        import pandas as pd

        sql = f"SELECT {', '.join(DEVICE_COLUMNS)} FROM devices"
        args: tuple[Any, ...] = ()
        if protocol is not None:
            sql, args = sql + " WHERE protocol = ?", (protocol,)
        rows = self.query(sql + " ORDER BY device_id", args).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=list(DEVICE_COLUMNS))
        for col in ("gateway_port", "unit_id"):
            frame[col] = frame[col].astype("Int64")
        frame["interval_s"] = frame["interval_s"].astype(np.int64)
        return frame.set_index("device_id")

    def device(self, device_id: str) -> Device:
        row = self.query(f"SELECT {', '.join(DEVICE_COLUMNS)} FROM devices "
                         "WHERE device_id = ?", (device_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no device {device_id!r} in the registry")
        return Device(*row)

    # -- tariffs ----------------------------------------------------------------------------
    def tariffs(self, fuel: str | None = None, payment_type: str | None = None,
                on_date: date | None = None) -> list[Tariff]:
        """Tariffs (of a fuel / payment type / applying on a date), ordered by valid_from."""
        where, args = [], []
        if fuel is not None:
            where.append("fuel = ?")
            args.append(fuel)
        if payment_type is not None:
            where.append("payment_type = ?")
            args.append(payment_type)
        if on_date is not None:
            where.append("valid_from <= ? AND (valid_to IS NULL OR valid_to >= ?)")
            args += [on_date.isoformat()] * 2
        sql = f"SELECT {', '.join(TARIFF_COLUMNS)} FROM tariffs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.query(sql + " ORDER BY fuel, payment_type, valid_from", args)
        return [_tariff(r) for r in rows]

    def tariff_on(self, fuel: str, payment_type: str, on_date: date) -> Tariff:
        """The one tariff for ``fuel`` and ``payment_type`` that applies on ``on_date``."""
        found = self.tariffs(fuel, payment_type, on_date)
        if not found:
            raise NotFoundError(f"no {payment_type} {fuel} tariff applies on "
                                f"{on_date.isoformat()}: add one with "
                                "`hearth registry import tariffs.csv`")
        return found[0]

    def tariff_table(self):
        """All tariffs as a :class:`hearth.registry.tariffs.TariffTable` for vectorised lookup."""
        from hearth.registry.tariffs import TariffTable

        return TariffTable.from_tariffs(self.tariffs())

    # -- writing ----------------------------------------------------------------------------
    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                    conn: Any = None) -> int:
        """executemany INSERT; run it inside :meth:`transaction` for all-or-nothing."""
        if table not in BASE_TABLES:
            raise ValueError(f"unknown table {table!r}")
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
               f"VALUES ({', '.join('?' * len(columns))})")
        cur = (conn or self.conn).executemany(sql, rows)
        return cur.rowcount

    def audit(self, actor: str, action: str, target: str = "",
              detail: dict[str, Any] | None = None) -> None:
        """Record who did what to which record. ``detail`` is stored as JSON and must not carry
        personal data: anything that looks like a phone number is replaced by a marker (and a
        warning logged) rather than refused, so that an audit never fails an officer's action."""
        text = json.dumps(detail or {}, sort_keys=True, default=str)
        fields = [actor, action, target, text]
        cleaned = [_PHONE_LIKE.sub(PHONE_REDACTED, f) for f in fields]
        if cleaned != fields:
            log.warning("audit %s on %s: removed what looked like a phone number; refer to "
                        "tenants by tenant_id", action, cleaned[2])
        self.conn.execute("INSERT INTO audit_log (at, actor, action, target, detail) "
                          "VALUES (?, ?, ?, ?, ?)", (utc_now_iso(), *cleaned))

    def audit_entries(self, target: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT at, actor, action, target, detail FROM audit_log"
        args: tuple[Any, ...] = ()
        if target is not None:
            sql, args = sql + " WHERE target = ?", (target,)
        rows = self.query(sql + " ORDER BY audit_id DESC LIMIT ?", (*args, limit))
        return [{"at": r[0], "actor": r[1], "action": r[2], "target": r[3],
                 "detail": json.loads(r[4])} for r in rows]

    # -- summaries --------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Rows per base table."""
        return {t: int(self.query(f"SELECT count(*) FROM {t}").fetchone()[0])
                for t in BASE_TABLES}

    def patch_summary(self) -> list[dict[str, Any]]:
        """Per patch: homes, prepayment homes, vulnerable homes, tenants, devices."""
        sql = """
            SELECT h.patch, count(*),
                   sum(CASE WHEN h.payment_type = 'prepayment' THEN 1 ELSE 0 END),
                   sum(h.vulnerable),
                   (SELECT count(*) FROM tenants t JOIN households x USING (household_id)
                     WHERE x.patch = h.patch),
                   (SELECT count(*) FROM devices d JOIN households x USING (household_id)
                     WHERE x.patch = h.patch)
            FROM households h GROUP BY h.patch ORDER BY h.patch"""
        keys = ("patch", "households", "prepayment", "vulnerable", "tenants", "devices")
        return [dict(zip(keys, r, strict=True)) for r in self.query(sql)]


def _household(r: Sequence[Any]) -> Household:
    return Household(r[0], r[1], r[2], r[3], r[4], int(r[5]), float(r[6]), r[7], bool(r[8]),
                     r[9], r[10], bool(r[11]), bool(r[12]), r[13], r[14], int(r[15]),
                     date.fromisoformat(r[16]), _date(r[17]))


def _tenant(r: Sequence[Any]) -> Tenant:
    return Tenant(r[0], r[1], r[2], r[3], bool(r[4]), _time(r[5]), r[6], _time(r[7]), bool(r[8]))


def _tariff(r: Sequence[Any]) -> Tariff:
    return Tariff(r[0], r[1], r[2], float(r[3]), float(r[4]), date.fromisoformat(r[5]),
                  _date(r[6]))
