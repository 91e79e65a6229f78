"""The registry's side of smart-meter imports: meter points (migration 0006), how far each
has been imported, and which households' tenants consent to it."""

from __future__ import annotations

import datetime as dt

from hearth.errors import HearthError
from hearth.registry import Registry
from hearth.registry.store import utc_now_iso
from importers.providers import MeterPoint

COLUMNS = ("household_id", "fuel", "provider", "mpxn", "meter_serial", "resource_id",
           "credential_ref", "gas_unit")


class MeterPointError(HearthError):
    """A meter point that cannot be registered as given."""


def _upsert() -> str:
    # One point per household and fuel: a point with another provider replaces the old one
    # (the unique index meter_points_one_per_fuel), on either engine.
    from hearth.registry.db import upsert_sql

    return upsert_sql("meter_points", (*COLUMNS, "added_at"), ("household_id", "fuel"))


def add_meter_point(reg: Registry, point: MeterPoint, actor: str = "cli") -> None:
    """Register (or replace) a household's meter point with a provider."""
    import sqlite3

    reg.household(point.household_id)        # NotFoundError names the household
    values = [getattr(point, c) for c in COLUMNS]
    try:
        with reg.transaction() as conn:
            conn.execute(_upsert(), [*values, utc_now_iso()])
            # The audit log holds who and what, never the MPAN/MPRN itself.
            reg.audit(actor, "meter_point.add", point.household_id,
                      {"fuel": point.fuel, "provider": point.provider})
    except sqlite3.IntegrityError as exc:
        raise MeterPointError(
            f"meter point for {point.household_id} refused ({exc}): an MPAN has 13 digits, an"
            " MPRN 6 to 10; octopus needs --serial (and --gas-unit for gas), glowmarkt"
            " --resource-id; a credential name is letters, digits and _") from None


def import_csv(reg: Registry, path, actor: str = "cli") -> int:
    """Meter points from a CSV file with a header of COLUMNS (empty cells: NULL), all or
    nothing: every refused line is listed with its number and reason. Returns rows written."""
    import csv
    import sqlite3

    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("household_id", "fuel", "provider", "mpxn")
                   if c not in (reader.fieldnames or [])]
        unknown = [c for c in (reader.fieldnames or []) if c not in COLUMNS]
        if missing or unknown:
            raise MeterPointError(f"{path}: the header needs {', '.join(COLUMNS[:4])} (and may"
                                  f" have {', '.join(COLUMNS[4:])}); missing {missing},"
                                  f" unknown {unknown}")
        rows = list(reader)
    known = {r[0] for r in reg.query("SELECT household_id FROM households")}
    errors: list[str] = []
    now = utc_now_iso()
    try:
        with reg.transaction() as conn:
            for n, row in enumerate(rows, start=2):
                values = [(row.get(c) or "").strip() or None for c in COLUMNS]
                values[3] = values[3].replace(" ", "") if values[3] else None
                if values[0] not in known:
                    errors.append(f"line {n}: no household {values[0]!r} in the registry")
                    continue
                try:
                    conn.execute(_upsert(), [*values, now])
                except sqlite3.IntegrityError as exc:
                    errors.append(f"line {n} ({values[0]} {values[1]} {values[2]}): {exc}")
            if errors:
                raise MeterPointError("")
            reg.audit(actor, "meter_point.import", "", {"rows": len(rows)})
    except MeterPointError:
        raise MeterPointError(f"{path}: nothing imported; {len(errors)} line(s) refused (an MPAN"
                              " has 13 digits, an MPRN 6 to 10; octopus needs meter_serial and"
                              " gas_unit for gas, glowmarkt resource_id):\n  "
                              + "\n  ".join(errors)) from None
    return len(rows)


def meter_points(reg: Registry, provider: str | None = None,
                 household_id: str | None = None) -> list[MeterPoint]:
    where, args = [], []
    for col, value in (("provider", provider), ("household_id", household_id)):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    sql = (f"SELECT {', '.join(COLUMNS)} FROM meter_points"
           + (f" WHERE {' AND '.join(where)}" if where else "")
           + " ORDER BY household_id, fuel, provider")
    return [MeterPoint(*r) for r in reg.query(sql, args)]


def last_interval(reg: Registry, point: MeterPoint) -> dt.datetime | None:
    row = reg.query("SELECT last_interval_start FROM import_state WHERE household_id = ? AND"
                    " fuel = ? AND provider = ?",
                    (point.household_id, point.fuel, point.provider)).fetchone()
    return dt.datetime.fromisoformat(row[0].replace("Z", "+00:00")) if row else None


def remember_interval(reg: Registry, point: MeterPoint, start: dt.datetime) -> None:
    """Move the point's last delivered half hour forward to `start` (never back)."""
    stamp = start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with reg.transaction() as conn:
        conn.execute("INSERT INTO import_state (household_id, fuel, provider,"
                     " last_interval_start, updated_at) VALUES (?, ?, ?, ?, ?)"
                     " ON CONFLICT (household_id, fuel, provider) DO UPDATE SET"
                     " last_interval_start = max(last_interval_start, excluded.last_interval_start),"
                     " updated_at = excluded.updated_at",
                     (point.household_id, point.fuel, point.provider, stamp, utc_now_iso()))
