"""Dated reference figures: Ofgem's typical domestic consumption values (TDCV) and the energy
price cap, as rows with the day they come into force (`effective_from`), never constants.

The rows ship in config/reference/*.csv and are seeded into the registry by the migration
`reference_figures_and_hazards`; a council adds new rows with `hearth reference import
FILE.csv` (the same columns). Each day of a bill takes the row in force that day: the latest
`effective_from` on or before it.
"""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from hearth.errors import HearthError
from hearth.registry.db import upsert_sql

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "config" / "reference"
TDCV_PROFILES = ("electricity", "economy7", "gas")
CAP_FUELS = ("electricity", "gas")
PAYMENT_METHODS = ("direct_debit", "prepayment", "standard_credit")
TDCV_COLUMNS = ("effective_from", "profile", "kwh_per_year", "source")
CAP_COLUMNS = ("effective_from", "fuel", "payment_method", "unit_rate_p_per_kwh",
               "standing_charge_p_per_day", "source")
KINDS = {"tdcv": TDCV_COLUMNS, "price_cap": CAP_COLUMNS}
TABLES = {"tdcv": "reference_tdcv", "price_cap": "reference_price_cap"}


class ReferenceError(HearthError):
    """A reference figures file or row that cannot be used (the message names the line)."""


@dataclass(frozen=True)
class TdcvRow:
    effective_from: date
    profile: str          # electricity (medium, single rate) | economy7 | gas
    kwh_per_year: float
    source: str


@dataclass(frozen=True)
class CapRow:
    effective_from: date
    fuel: str
    payment_method: str
    unit_rate_p_per_kwh: float
    standing_charge_p_per_day: float
    source: str


def _date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReferenceError(f"{where}: effective_from {text!r} is not a date (YYYY-MM-DD)") \
            from None


def _number(text: str, name: str, where: str, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ReferenceError(f"{where}: {name} {text!r} is not a number") from None
    if not (0 < value < high):
        raise ReferenceError(f"{where}: {name} {value:g} is outside 0..{high:g}")
    return value


def _choice(text: str, name: str, allowed: tuple[str, ...], where: str) -> str:
    if text not in allowed:
        raise ReferenceError(f"{where}: {name} {text!r} is not one of {', '.join(allowed)}")
    return text


def parse_csv(path: str | Path) -> tuple[str, list]:
    """Read and validate one reference file: ("tdcv", [TdcvRow]) or ("price_cap", [CapRow]).

    The kind is recognised from the header. Any bad row fails the whole file (nothing is
    imported), with the line and the reason; two rows for the same day and key are an error."""
    path = Path(path)
    if not path.is_file():
        raise ReferenceError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = tuple(reader.fieldnames or ())
        kind = next((k for k, cols in KINDS.items() if set(cols) <= set(header)), None)
        if kind is None:
            raise ReferenceError(f"{path}: header {','.join(header)!r} is neither the TDCV"
                                 f" columns ({','.join(TDCV_COLUMNS)}) nor the price cap's"
                                 f" ({','.join(CAP_COLUMNS)})")
        rows: list = []
        seen: set = set()
        for n, rec in enumerate(reader, start=2):
            where = f"{path.name} line {n}"
            day = _date(rec["effective_from"] or "", where)
            source = (rec.get("source") or "").strip()
            if not source:
                raise ReferenceError(f"{where}: every figure needs its source")
            if kind == "tdcv":
                row = TdcvRow(day, _choice(rec["profile"], "profile", TDCV_PROFILES, where),
                              _number(rec["kwh_per_year"], "kwh_per_year", where, 100_000),
                              source)
                key = (day, row.profile)
            else:
                row = CapRow(day, _choice(rec["fuel"], "fuel", CAP_FUELS, where),
                             _choice(rec["payment_method"], "payment_method", PAYMENT_METHODS,
                                     where),
                             _number(rec["unit_rate_p_per_kwh"], "unit_rate_p_per_kwh", where,
                                     500),
                             _number(rec["standing_charge_p_per_day"],
                                     "standing_charge_p_per_day", where, 1000), source)
                key = (day, row.fuel, row.payment_method)
            if key in seen:
                raise ReferenceError(f"{where}: a second row for {key}")
            seen.add(key)
            rows.append(row)
    if not rows:
        raise ReferenceError(f"{path}: no rows")
    return kind, rows


def import_rows(conn: sqlite3.Connection, kind: str, rows: list) -> int:
    """Insert or replace rows (same day and key: the new figure wins), all or nothing."""
    cols = KINDS[kind]
    key = ("effective_from", "profile") if kind == "tdcv" else \
        ("effective_from", "fuel", "payment_method")   # the tables' primary keys
    sql = upsert_sql(TABLES[kind], cols, key)
    values = [tuple(getattr(r, c).isoformat() if c == "effective_from" else getattr(r, c)
                    for c in cols) for r in rows]
    with conn:
        conn.executemany(sql, values)
    return len(values)


def _in_force(starts: np.ndarray, values: np.ndarray, days) -> np.ndarray:
    """The value of the row in force on each day (latest start on or before it); NaN before
    the first row. starts: sorted datetime64[D]."""
    days = np.asarray(days, dtype="datetime64[D]")
    out = np.full(days.shape, np.nan)
    if starts.size == 0:
        return out
    pos = np.searchsorted(starts, days, side="right") - 1
    ok = pos >= 0
    out[ok] = values[pos[ok]]
    return out


@dataclass(frozen=True)
class ReferenceFigures:
    """All reference rows, looked up per day (vectorised)."""

    tdcv: tuple[TdcvRow, ...]
    price_cap: tuple[CapRow, ...]

    @classmethod
    def shipped(cls, directory: Path = SHIPPED_DIR) -> ReferenceFigures:
        """The figures that ship with Hearth (config/reference/), for tools without a registry."""
        _, tdcv = parse_csv(directory / "tdcv.csv")
        _, cap = parse_csv(directory / "price_cap.csv")
        return cls(tuple(tdcv), tuple(cap))

    @classmethod
    def from_registry(cls, conn: sqlite3.Connection) -> ReferenceFigures:
        tdcv = [TdcvRow(date.fromisoformat(r[0]), r[1], float(r[2]), r[3]) for r in
                conn.execute("SELECT effective_from, profile, kwh_per_year, source"
                             " FROM reference_tdcv")]
        cap = [CapRow(date.fromisoformat(r[0]), r[1], r[2], float(r[3]), float(r[4]), r[5])
               for r in conn.execute("SELECT effective_from, fuel, payment_method,"
                                     " unit_rate_p_per_kwh, standing_charge_p_per_day, source"
                                     " FROM reference_price_cap")]
        if not tdcv:
            raise ReferenceError("the registry has no typical consumption values: import them"
                                 " (`hearth reference import config/reference/tdcv.csv`)")
        return cls(tuple(tdcv), tuple(cap))

    def tdcv_kwh_per_year(self, profile: str, days) -> np.ndarray:
        """Ofgem's typical annual use in force on each day [kWh/year] (D,)."""
        rows = sorted((r for r in self.tdcv if r.profile == profile),
                      key=lambda r: r.effective_from)
        if not rows:
            raise ReferenceError(f"no typical consumption value for {profile}")
        starts = np.array([r.effective_from for r in rows], dtype="datetime64[D]")
        values = np.array([r.kwh_per_year for r in rows])
        out = _in_force(starts, values, days)
        # A day before the first row takes the first row: better an old figure than none.
        return np.where(np.isnan(out), values[0], out)

    def cap_gbp(self, fuel: str, payment_method: str, days) -> tuple[np.ndarray, np.ndarray]:
        """The price cap in force on each day: (unit rate [GBP/kWh], standing charge
        [GBP/day]), each (D,); NaN on days no row of that fuel and payment method covers."""
        rows = sorted((r for r in self.price_cap
                       if r.fuel == fuel and r.payment_method == payment_method),
                      key=lambda r: r.effective_from)
        starts = np.array([r.effective_from for r in rows], dtype="datetime64[D]")
        unit = np.array([r.unit_rate_p_per_kwh for r in rows]) / 100.0
        standing = np.array([r.standing_charge_p_per_day for r in rows]) / 100.0
        return _in_force(starts, unit, days), _in_force(starts, standing, days)
