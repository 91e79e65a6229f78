"""`hearth registry import FILE.csv`: households, tenants, devices or tariffs, all or nothing.

Every row is checked before anything is written: each problem names the CSV line, the column and
what is wrong and allowed. Problems are collected (up to a limit) and reported together in one
error; then nothing is imported. The formats are in docs/registry.md.

Values of personal-data columns (names, mobiles) are never repeated in an error message.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hearth.registry import models as m
from hearth.registry.store import (
    DEVICE_COLUMNS,
    HOUSEHOLD_COLUMNS,
    TARIFF_COLUMNS,
    TENANT_COLUMNS,
    Registry,
    RegistryError,
)

KINDS = ("households", "tenants", "devices", "tariffs")
UK = ZoneInfo("Europe/London")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$")
_DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class CsvImportError(RegistryError):
    """The file was refused; ``problems`` lists every problem found (line, column, why)."""

    def __init__(self, message: str, problems: list[str]):
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class ImportResult:
    kind: str
    rows: int
    notes: tuple[str, ...] = ()     # changes besides the new rows (tariffs closed)


# -- value parsers: return the stored value or raise ValueError(why) -------------------------

def _text(value: str) -> str:
    return value


def _ident(value: str) -> str:
    if not _ID.match(value):
        raise ValueError("use 1-32 letters, digits or _ . : - (starting with a letter or digit)")
    return value


def _device_ident(value: str) -> str:
    if not _DEVICE_ID.match(value):
        raise ValueError("use 1-64 letters, digits or _ . : - (starting with a letter or digit)")
    return value


def _choice(allowed: tuple[str, ...], upper: bool = False) -> Callable[[str], str]:
    def parse(value: str) -> str:
        v = value.upper() if upper else value.lower()
        if v not in allowed:
            raise ValueError(f"{value!r} is not allowed; use one of: {', '.join(allowed)}")
        return v
    return parse


def _int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            v = int(value)
        except ValueError:
            try:  # spreadsheets sometimes write 2 as 2.0
                f = float(value)
            except ValueError:
                f = float("nan")
            if not f.is_integer():
                raise ValueError(f"{value!r} is not a whole number") from None
            v = int(f)
        if not lo <= v <= hi:
            raise ValueError(f"{v} is out of range; use {lo} to {hi}")
        return v
    return parse


def _float(lo: float, hi: float, unit: str, pence_hint: bool = False) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            v = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
        if v != v or not lo <= v <= hi:
            hint = f" (that looks like pence: give pounds, e.g. {v / 100:.4f})" \
                if pence_hint and v > hi else ""
            raise ValueError(f"{value} is out of range; use {lo} to {hi} {unit}{hint}")
        return v
    return parse


_TRUE, _FALSE = {"1", "true", "yes", "y"}, {"0", "false", "no", "n"}


def _bool(value: str) -> int:
    v = value.lower()
    if v in _TRUE:
        return 1
    if v in _FALSE:
        return 0
    raise ValueError(f"{value!r} is not a yes/no value; use 1 or 0 (or true/false, yes/no)")


def _date(value: str) -> str:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD (or DD/MM/YYYY)")


def _time(value: str) -> str:
    """ISO 8601 time; without an offset it is UK local time. Stored as UTC with a Z."""
    text = value.replace("Z", "+00:00").replace("z", "+00:00")
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a date and time; use ISO 8601, e.g. "
                         "2025-03-01T14:30:00Z (without an offset it is read as UK time)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UK)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _mobile(value: str) -> str:
    digits = re.sub(r"[\s()-]", "", value.replace("(0)", ""))
    if digits.startswith("+44"):
        digits = "0" + digits[3:]
    elif digits.startswith("44") and len(digits) == 12:
        digits = "0" + digits[2:]
    if not re.fullmatch(r"07\d{9}", digits):
        raise ValueError("not a UK mobile number; use 07xxx xxxxxx or +44 7xxx xxxxxx")
    return "+44" + digits[1:]


@dataclass(frozen=True)
class Col:
    name: str
    parse: Callable[[str], Any]
    required: bool = True      # the column must be there and the cell must not be empty
    default: Any = None        # value of an empty cell (or an absent column) when optional
    pii: bool = False          # never echo the value in an error


SPECS: dict[str, tuple[Col, ...]] = {
    "households": (
        Col("household_id", _ident), Col("patch", _text), Col("estate", _text),
        Col("address_area", _text, required=False, default=""),
        Col("property_type", _choice(m.PROPERTY_TYPES)), Col("bedrooms", _int(0, 10)),
        Col("floor_area_m2", _float(5.0, 999.0, "m2")),
        Col("payment_type", _choice(m.PAYMENT_TYPES)), Col("has_gas", _bool),
        Col("heating", _choice(m.HEATING)), Col("epc_band", _choice(m.EPC_BANDS, upper=True)),
        Col("means_tested_benefits", _bool), Col("vulnerable", _bool),
        Col("vulnerability_notes", _text, required=False, default="", pii=True),
        Col("occupancy", _choice(m.OCCUPANCY)), Col("occupants", _int(1, 20)),
        Col("tenancy_start", _date), Col("tenancy_end", _date, required=False),
    ),
    "tenants": (
        Col("tenant_id", _ident), Col("household_id", _ident),
        Col("full_name", _text, pii=True), Col("mobile", _mobile, required=False, pii=True),
        Col("sms_consent", _bool, required=False, default=0),
        Col("sms_consent_at", _time, required=False),
        Col("sms_consent_source", _choice(m.CONSENT_SOURCES), required=False),
        Col("opted_out_at", _time, required=False),
        Col("share_with_supplier", _bool, required=False, default=0),
    ),
    "devices": (
        Col("device_id", _device_ident), Col("household_id", _ident),
        Col("kind", _choice(m.DEVICE_KINDS)), Col("protocol", _choice(m.PROTOCOLS)),
        Col("gateway_host", _text, required=False), Col("gateway_port", _int(1, 65535), False),
        Col("unit_id", _int(1, 247), required=False), Col("register_map", _text, False),
        Col("mqtt_topic", _text, required=False), Col("room", _choice(m.ROOMS), False),
        Col("interval_s", _int(1, 86400), required=False),
    ),
    "tariffs": (
        Col("tariff_id", _device_ident), Col("fuel", _choice(m.FUELS)),
        Col("payment_type", _choice(m.PAYMENT_TYPES)),
        Col("unit_rate_gbp_per_kwh", _float(0.0, 2.0, "GBP/kWh", pence_hint=True)),
        Col("standing_charge_gbp_per_day", _float(0.0, 5.0, "GBP/day", pence_hint=True)),
        Col("valid_from", _date), Col("valid_to", _date, required=False),
    ),
}
TABLE_COLUMNS = {"households": HOUSEHOLD_COLUMNS, "tenants": TENANT_COLUMNS,
                 "devices": DEVICE_COLUMNS, "tariffs": TARIFF_COLUMNS}
ID_COLUMN = {"households": "household_id", "tenants": "tenant_id", "devices": "device_id",
             "tariffs": "tariff_id"}
DEFAULT_INTERVAL_S = {"electricity_meter": 60, "gas_meter": 60, "thermostat": 300}


def guess_kind(header: list[str]) -> str | None:
    """The kind a header describes, from its id column."""
    for kind in ("tariffs", "devices", "tenants", "households"):
        if ID_COLUMN[kind] in header:
            return kind
    return None


class _Problems:
    """Problems found so far; reported sorted by line, then column, up to ``limit``."""

    def __init__(self, path: Path, limit: int):
        self.path, self.limit = path, limit
        self.found: list[tuple[int, int, str]] = []
        self.column_order: dict[str, int] = {}

    @property
    def total(self) -> int:
        return len(self.found)

    def add(self, line: int, column: str | None, why: str) -> None:
        where = f"line {line}" + (f", column {column}" if column else "")
        order = self.column_order.get(column, -1 if column is None else len(self.column_order))
        self.found.append((line, order, f"{where}: {why}"))

    def raise_if_any(self, kind: str) -> None:
        if not self.found:
            return
        items = [text for _, _, text in sorted(self.found, key=lambda f: f[:2])][:self.limit]
        more = f"\n  ... and {self.total - len(items)} more" if self.total > len(items) else ""
        raise CsvImportError(
            f"{self.path}: {self.total} problem(s) in the {kind} file; nothing was imported. "
            "Fix them and import the whole file again:\n  " + "\n  ".join(items) + more, items)


def _read(path: Path, kind: str | None):
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise RegistryError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or not any(h.strip() for h in header):
                raise RegistryError(f"{path} is empty: the first line must name the columns "
                                    "(see docs/registry.md)")
            header = [h.strip().lower() for h in header]
            kind = kind or guess_kind(header)
            if kind is None:
                raise RegistryError(f"{path}: cannot tell what the file holds from its header; "
                                    f"give --kind ({', '.join(KINDS)})")
            rows, line = [], 1
            for record in reader:
                start, line = line + 1, reader.line_num
                if not record or all(not v.strip() for v in record):
                    continue
                rows.append((start, record))
        except UnicodeDecodeError:
            raise RegistryError(f"{path} is not UTF-8 text: save it as 'CSV UTF-8'") from None
        except csv.Error as exc:
            raise RegistryError(f"{path} line {line + 1}: not valid CSV ({exc})") from None
    return kind, header, rows


def _check_header(header: list[str], spec: tuple[Col, ...], problems: _Problems) -> None:
    names = [c.name for c in spec]
    seen: set[str] = set()
    for h in header:
        if h in seen:
            problems.add(1, h, "the column appears twice")
        seen.add(h)
        if h not in names:
            problems.add(1, h or "(blank)", f"unknown column; the columns are: {', '.join(names)}")
    for c in spec:
        if c.required and c.name not in header:
            problems.add(1, c.name, "missing required column")


def _parse_rows(rows, header, spec, problems: _Problems) -> list[tuple[int, dict[str, Any]]]:
    index = {h: i for i, h in enumerate(header)}
    out = []
    for line, record in rows:
        if len(record) != len(header):
            problems.add(line, None, f"has {len(record)} fields but the header has "
                                     f"{len(header)} (a stray comma or a missing quote?)")
            continue
        values: dict[str, Any] = {}
        bad: set[str] = set()
        for c in spec:
            raw = record[index[c.name]].strip() if c.name in index else ""
            if raw == "":
                if c.required:
                    problems.add(line, c.name, "empty; a value is required")
                    bad.add(c.name)
                values[c.name] = c.default
                continue
            try:
                values[c.name] = c.parse(raw)
            except ValueError as exc:
                why = str(exc) if not c.pii or c.name == "mobile" else "not valid"
                problems.add(line, c.name, why)
                values[c.name] = None
                bad.add(c.name)
        # Rows with bad cells stay, so that the other checks still report on their good cells.
        out.append((line, _Row(values, bad)))
    return out


class _Row(dict):
    """Parsed values of one row; ``bad`` names the cells that did not parse."""

    def __init__(self, values: dict[str, Any], bad: set[str]):
        super().__init__(values)
        self.bad = bad

    def ok(self, *columns: str) -> bool:
        return not self.bad.intersection(columns)


def _existing(reg: Registry, sql: str) -> set:
    return set(reg.query(sql).fetchall())


def _check_households(rows, reg: Registry, problems: _Problems) -> None:
    for line, v in rows:
        if v.ok("heating", "has_gas") and v["heating"] == "gas" and not v["has_gas"]:
            problems.add(line, "heating", "gas heating needs has_gas = 1")
        if not v.ok("tenancy_start", "tenancy_end"):
            continue
        if v["tenancy_end"] is not None and v["tenancy_end"] < v["tenancy_start"]:
            problems.add(line, "tenancy_end", "before tenancy_start")
        if v["tenancy_start"] > date.today().isoformat():
            problems.add(line, "tenancy_start", "in the future")


def _check_tenants(rows, reg: Registry, problems: _Problems) -> None:
    homes = {r[0] for r in _existing(reg, "SELECT household_id FROM households")}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for line, v in rows:
        if v.ok("household_id") and v["household_id"] not in homes:
            problems.add(line, "household_id", f"unknown household {v['household_id']!r}; "
                         "import the households file first")
        if v["sms_consent"]:
            for col in ("mobile", "sms_consent_at", "sms_consent_source"):
                if v[col] is None and v.ok(col):
                    problems.add(line, col, "required when sms_consent = 1 (consent is only "
                                 "recorded with a number, its time and its source)")
        if v["sms_consent_at"] and v["sms_consent_at"] > now:
            problems.add(line, "sms_consent_at", "in the future")
        if v["opted_out_at"] and v["sms_consent_at"] and v["opted_out_at"] < v["sms_consent_at"]:
            problems.add(line, "opted_out_at", "before sms_consent_at")


def _check_devices(rows, reg: Registry, problems: _Problems) -> None:
    from hearth.registermap import load_register_maps
    from hearth.settings import ROOT_DIR

    homes = {r[0] for r in _existing(reg, "SELECT household_id FROM households")}
    loaded = load_register_maps(ROOT_DIR / "config" / "register_maps")
    maps = sorted(loaded)
    renamed = {old: rmap.name for rmap in loaded.values() for old in rmap.replaces}
    units: dict[tuple, str] = {
        (h, p, u): "the registry" for h, p, u in _existing(
            reg, "SELECT gateway_host, gateway_port, unit_id FROM devices "
                 "WHERE protocol = 'modbus'")}
    topics = {t[0]: "the registry" for t in _existing(
        reg, "SELECT mqtt_topic FROM devices WHERE protocol = 'mqtt'")}
    for line, v in rows:
        if v.ok("household_id") and v["household_id"] not in homes:
            problems.add(line, "household_id", f"unknown household {v['household_id']!r}; "
                         "import the households file first")
        if not v.ok("kind", "protocol", "device_id", "household_id"):
            continue
        if v["interval_s"] is None:
            v["interval_s"] = DEFAULT_INTERVAL_S[v["kind"]]
        if v["kind"] == "thermostat" and v["room"] is None:
            problems.add(line, "room", f"a thermostat needs its room ({', '.join(m.ROOMS)})")
        if v["protocol"] == "modbus":
            for col in ("gateway_host", "gateway_port", "unit_id", "register_map"):
                if v[col] is None and v.ok(col):
                    problems.add(line, col, "required for a Modbus device")
            if v["mqtt_topic"] is not None:
                problems.add(line, "mqtt_topic", "must be empty for a Modbus device")
            if v["register_map"] in renamed:  # new rows take the new name; old rows still load
                problems.add(line, "register_map", f"register map {v['register_map']!r} is "
                             f"now called {renamed[v['register_map']]!r}; use the new name")
            elif v["register_map"] is not None and v["register_map"] not in maps:
                problems.add(line, "register_map", f"unknown register map "
                             f"{v['register_map']!r}; known: {', '.join(maps)}")
            key = (v["gateway_host"], v["gateway_port"], v["unit_id"])
            if None not in key:
                if key in units:
                    problems.add(line, "unit_id", f"unit {key[2]} on {key[0]}:{key[1]} is "
                                 f"already used by {units[key]}")
                else:
                    units[key] = f"line {line}"
        else:
            for col in ("gateway_host", "gateway_port", "unit_id"):
                if v[col] is not None:
                    problems.add(line, col, "must be empty for an MQTT device")
            expected = f"hearth/{v['household_id']}/{v['device_id']}/{v['kind']}"
            if v["mqtt_topic"] is None:
                v["mqtt_topic"] = expected
            elif v["mqtt_topic"] != expected:
                problems.add(line, "mqtt_topic", f"{v['mqtt_topic']!r}: the collectors read "
                             f"hearth/<household_id>/<device_id>/<kind>, here {expected!r} "
                             "(or leave it empty)")
            if v["mqtt_topic"] in topics:
                problems.add(line, "mqtt_topic", f"already used by {topics[v['mqtt_topic']]}")
            else:
                topics[v["mqtt_topic"]] = f"line {line}"


def _check_tariffs(rows, reg: Registry, problems: _Problems) -> list[tuple[str, str]]:
    """Overlap checks. A new period that starts after the registry's current open-ended tariff
    of the same fuel and payment type closes it the day before (a new price from a date):
    returns those closures as (tariff_id, valid_to)."""
    open_end = "9999-12-31"
    # (fuel, payment) -> [start, end, description, registry tariff_id or None]
    periods: dict[tuple[str, str], list[list]] = {}
    for tid, fuel, pay, start, end in reg.query(
            "SELECT tariff_id, fuel, payment_type, valid_from, valid_to FROM tariffs"):
        periods.setdefault((fuel, pay), []).append(
            [start, end or open_end, f"tariff {tid!r} in the registry", tid])
    closures: list[tuple[str, str]] = []
    usable = [(line, v) for line, v in rows
              if v.ok("fuel", "payment_type", "valid_from", "valid_to")]
    for line, v in sorted(usable, key=lambda r: r[1]["valid_from"]):
        end = v["valid_to"] or open_end
        if end < v["valid_from"]:
            problems.add(line, "valid_to", "before valid_from (valid_to is the last day the "
                         "tariff applies)")
            continue
        key = (v["fuel"], v["payment_type"])
        for period in periods.get(key, []):
            start, other_end, _what, tid = period
            if tid and other_end == open_end and start < v["valid_from"]:
                day_before = (date.fromisoformat(v["valid_from"]) - timedelta(days=1)).isoformat()
                period[1] = day_before
                closures.append((tid, day_before))
        for start, other_end, what, _tid in periods.get(key, []):
            if start <= end and v["valid_from"] <= other_end:
                problems.add(line, "valid_from", f"{v['valid_from']}..{v['valid_to'] or 'open'} "
                             f"overlaps {what} ({start}..{other_end.replace(open_end, 'open')})")
                break
        else:
            periods.setdefault(key, []).append([v["valid_from"], end, f"line {line}", None])
    return closures


CHECKS = {"households": _check_households, "tenants": _check_tenants,
          "devices": _check_devices, "tariffs": _check_tariffs}


def _check_ids(kind: str, rows, reg: Registry, problems: _Problems) -> None:
    col = ID_COLUMN[kind]
    existing = {r[0] for r in _existing(reg, f"SELECT {col} FROM {kind}")}
    first_line: dict[str, int] = {}
    for line, v in rows:
        ident = v[col]
        if ident is None:
            continue
        if ident in existing:
            problems.add(line, col, f"duplicate id {ident!r}: already in the registry")
        elif ident in first_line:
            problems.add(line, col, f"duplicate id {ident!r}: also on line {first_line[ident]}")
        else:
            first_line[ident] = line


def import_csv(reg: Registry, path: Path, kind: str | None = None, max_errors: int = 100,
               actor: str = "import") -> ImportResult:
    """Check every row of ``path`` and import all of them in one transaction, or none.

    Raises CsvImportError listing the problems (line, column, why) when any row is bad.
    """
    if kind is not None and kind not in KINDS:
        raise RegistryError(f"--kind {kind!r}: use one of {', '.join(KINDS)}")
    problems = _Problems(path, max(1, max_errors))
    kind, header, raw_rows = _read(path, kind)
    spec = SPECS[kind]
    problems.column_order = {c.name: i for i, c in enumerate(spec)}
    _check_header(header, spec, problems)
    problems.raise_if_any(kind)           # with a wrong header the rows cannot be read
    if not raw_rows:
        raise RegistryError(f"{path} has a header but no rows: nothing to import")
    rows = _parse_rows(raw_rows, header, spec, problems)
    _check_ids(kind, rows, reg, problems)
    closures = CHECKS[kind](rows, reg, problems) or []
    problems.raise_if_any(kind)

    columns = TABLE_COLUMNS[kind]
    sql = f"INSERT INTO {kind} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    notes = []
    with reg.transaction() as conn:
        for tariff_id, valid_to in closures:
            conn.execute("UPDATE tariffs SET valid_to = ? WHERE tariff_id = ?",
                         (valid_to, tariff_id))
            reg.audit(actor, "tariff.close", tariff_id, {"valid_to": valid_to})
            notes.append(f"tariff {tariff_id!r} now ends on {valid_to}")
        for line, v in rows:
            try:
                conn.execute(sql, [v[c] for c in columns])
                if kind == "tenants":
                    _log_consent(conn, v, actor)
            except sqlite3.Error as exc:
                # Checked above, so this is a constraint the checks do not know (a newer
                # migration): still name the line, and the transaction rolls back.
                raise CsvImportError(f"{path} line {line}: the registry refused the row "
                                     f"({exc}); nothing was imported",
                                     [f"line {line}: {exc}"]) from exc
        reg.audit(actor, "registry.import", kind, {"file": path.name, "rows": len(rows)})
    return ImportResult(kind, len(rows), tuple(notes))


def _log_consent(conn, v: dict[str, Any], actor: str) -> None:
    if v["sms_consent"]:
        conn.execute("INSERT INTO consent_log (tenant_id, at, event, source, actor) "
                     "VALUES (?, ?, 'granted', ?, ?)",
                     (v["tenant_id"], v["sms_consent_at"], v["sms_consent_source"], actor))
    if v["opted_out_at"]:
        conn.execute("INSERT INTO consent_log (tenant_id, at, event, source, actor) "
                     "VALUES (?, ?, 'opted_out', 'import', ?)",
                     (v["tenant_id"], v["opted_out_at"], actor))
