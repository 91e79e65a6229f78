"""Tenants' data rights: consent changes, the subject access export, and erasure at the end of a
tenancy. The logic for `hearth tenant ...` (tenants/cli.py); it reads the advisor's tables
(cases, case_events, sms_log, from migration 0002) by SQL when they exist, and never imports the
rooms.

Personal data: tenants' names and mobiles, households' vulnerability notes, SMS bodies (which
may greet a tenant by name) and the outbox lines (which hold the number texted). Readings in
InfluxDB carry only the pseudonymous household and device ids and are kept after a tenancy ends.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import sqlite3
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hearth.errors import HearthError
from hearth.registry import Registry
from hearth.registry.models import CONSENT_SOURCES
from hearth.registry.store import utc_now_iso

log = logging.getLogger("hearth.tenant")
REMOVED = "[removed]"
REMOVED_NAME = "[removed at end of tenancy]"


class TenantRightsError(HearthError):
    """A data-rights request that cannot be carried out as asked."""


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


def _rows(conn: sqlite3.Connection, sql: str, args: Iterable[Any] = ()) -> list[dict[str, Any]]:
    cur = conn.cursor()
    cur.row_factory = None
    cur.execute(sql, tuple(args))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _tenants(reg: Registry, household_id: str, tenant_id: str | None) -> list[dict[str, Any]]:
    reg.household(household_id)                       # NotFoundError names the household
    people = _rows(reg.conn, "SELECT * FROM tenants WHERE household_id = ? ORDER BY tenant_id",
                   (household_id,))
    if tenant_id is not None:
        people = [p for p in people if p["tenant_id"] == tenant_id]
        if not people:
            raise TenantRightsError(f"tenant {tenant_id!r} does not live in household "
                                    f"{household_id!r}; see `hearth registry show`")
    if not people:
        raise TenantRightsError(f"household {household_id!r} has no tenants in the registry")
    return people


# ---- consent ---------------------------------------------------------------------------------

@dataclass
class ConsentChange:
    household_id: str
    changed: list[str] = field(default_factory=list)     # "T1: sms granted", ...
    unchanged: list[str] = field(default_factory=list)


def set_consent(reg: Registry, household_id: str, *, sms: bool | None = None,
                share_with_supplier: bool | None = None, source: str | None = None,
                actor: str = "cli", tenant_id: str | None = None,
                at: str | None = None, smart_meter_import: bool | None = None) -> ConsentChange:
    """Record consent changes for the tenants of a household (or one of them), each with its
    time and source: SMS in consent_log and on the tenant (the notifier checks it at every
    send), sharing with the supplier in sharing_consent_log and on the tenant, fetching the
    smart meter's half-hourly data from a provider in smart_meter_consent_log."""
    if sms is None and share_with_supplier is None and smart_meter_import is None:
        raise TenantRightsError("nothing to change: give --sms on|off, --share-with-supplier"
                                " on|off and/or --smart-meter-import on|off")
    granting = bool(sms) or bool(share_with_supplier) or bool(smart_meter_import)
    if granting and source not in CONSENT_SOURCES:
        raise TenantRightsError(f"consent is recorded with how the tenant gave it: --source "
                                f"{'|'.join(CONSENT_SOURCES)}")
    at = at or utc_now_iso()
    src = source or "tenant_request"
    result = ConsentChange(household_id)
    with reg.transaction() as conn:
        people = _tenants(reg, household_id, tenant_id)
        for p in people:
            tid = p["tenant_id"]
            if sms is not None:
                if sms and not p["mobile"]:
                    if tenant_id is not None or len(people) == 1:
                        raise TenantRightsError(f"tenant {tid} has no mobile number: add it to "
                                                "the registry before recording SMS consent")
                    result.unchanged.append(f"{tid}: no mobile, SMS consent not recorded")
                elif bool(p["sms_consent"]) and not p["opted_out_at"] and sms:
                    result.unchanged.append(f"{tid}: SMS already on")
                elif not sms and not p["sms_consent"]:
                    result.unchanged.append(f"{tid}: SMS already off")
                elif sms:
                    conn.execute("UPDATE tenants SET sms_consent = 1, sms_consent_at = ?,"
                                 " sms_consent_source = ?, opted_out_at = NULL WHERE tenant_id = ?",
                                 (at, source, tid))
                    conn.execute("INSERT INTO consent_log (tenant_id, at, channel, event, source,"
                                 " actor) VALUES (?, ?, 'sms', 'granted', ?, ?)",
                                 (tid, at, source, actor))
                    result.changed.append(f"{tid}: SMS on")
                else:
                    conn.execute("UPDATE tenants SET sms_consent = 0 WHERE tenant_id = ?", (tid,))
                    conn.execute("INSERT INTO consent_log (tenant_id, at, channel, event, source,"
                                 " actor) VALUES (?, ?, 'sms', 'withdrawn', ?, ?)",
                                 (tid, at, src, actor))
                    result.changed.append(f"{tid}: SMS off")
            if share_with_supplier is not None:
                if bool(p["share_with_supplier"]) == share_with_supplier:
                    result.unchanged.append(f"{tid}: sharing with supplier already "
                                            f"{'on' if share_with_supplier else 'off'}")
                    continue
                conn.execute("UPDATE tenants SET share_with_supplier = ? WHERE tenant_id = ?",
                             (int(share_with_supplier), tid))
                conn.execute("INSERT INTO sharing_consent_log (tenant_id, household_id, at, event,"
                             " source, actor) VALUES (?, ?, ?, ?, ?, ?)",
                             (tid, household_id, at,
                              "granted" if share_with_supplier else "withdrawn", src, actor))
                result.changed.append(f"{tid}: sharing with supplier "
                                      f"{'on' if share_with_supplier else 'off'}")
            if smart_meter_import is not None:
                _set_smart_meter_import(conn, p, household_id, smart_meter_import, at, src,
                                        actor, result)
        reg.audit(actor, "tenant.consent", household_id,
                  {"changes": result.changed, "source": src, "at": at})
    return result


def _set_smart_meter_import(conn, tenant: dict, household_id: str, on: bool, at: str,
                            source: str, actor: str, result: ConsentChange) -> None:
    tid = tenant["tenant_id"]
    row = conn.execute("SELECT event FROM smart_meter_consent_log WHERE tenant_id = ?"
                       " ORDER BY at DESC, smart_consent_id DESC LIMIT 1", (tid,)).fetchone()
    if (row is not None and row[0] == "granted") == on:
        result.unchanged.append(f"{tid}: smart-meter import already {'on' if on else 'off'}")
        return
    conn.execute("INSERT INTO smart_meter_consent_log (tenant_id, household_id, at, event,"
                 " source, actor) VALUES (?, ?, ?, ?, ?, ?)",
                 (tid, household_id, at, "granted" if on else "withdrawn", source, actor))
    result.changed.append(f"{tid}: smart-meter import {'on' if on else 'off'}")


def smart_meter_import_households(reg: Registry) -> list[str]:
    """Households whose smart-meter data may be fetched from a consumer-access provider: a
    tenancy that has not ended and every tenant's latest choice 'granted'. Any withdrawal
    stops the next import run."""
    rows = reg.query(
        "SELECT h.household_id FROM households h WHERE h.tenancy_end IS NULL AND"
        " EXISTS (SELECT 1 FROM tenants t WHERE t.household_id = h.household_id) AND"
        " NOT EXISTS (SELECT 1 FROM tenants t WHERE t.household_id = h.household_id AND"
        " coalesce((SELECT l.event FROM smart_meter_consent_log l WHERE l.tenant_id ="
        " t.tenant_id ORDER BY l.at DESC, l.smart_consent_id DESC LIMIT 1), 'none')"
        " <> 'granted') ORDER BY h.household_id")
    return [r[0] for r in rows]


def shareable_with_supplier(reg: Registry) -> list[str]:
    """Households whose data may go to their energy supplier: a tenancy that has not ended and
    every tenant consenting. Any supplier export must take its households from here."""
    rows = reg.query("SELECT h.household_id FROM households h WHERE h.tenancy_end IS NULL AND"
                     " EXISTS (SELECT 1 FROM tenants t WHERE t.household_id = h.household_id)"
                     " AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.household_id ="
                     " h.household_id AND t.share_with_supplier = 0) ORDER BY h.household_id")
    return [r[0] for r in rows]


# ---- subject access --------------------------------------------------------------------------

READING_SOURCES = (  # (retention policy, measurement, what it is)
    ("raw", "meter", "meter readings (energy register, power, credit)"),
    ("raw", "thermostat", "thermostat readings (temperature, humidity, heating)"),
    ("usage", "usage_30m", "energy used per half hour"),
    ("usage", "import_30m", "energy used per half hour, as the smart-meter provider reported it"),
    ("usage", "forecast", "forecast energy per half hour"),
    ("usage", "forecast_daily", "forecast energy per day"),
)


def registry_records(reg: Registry, household_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every registry row about the household and its tenants, table by table."""
    conn = reg.conn
    reg.household(household_id)
    tenants = _rows(conn, "SELECT * FROM tenants WHERE household_id = ? ORDER BY tenant_id",
                    (household_id,))
    tids = [t["tenant_id"] for t in tenants]
    marks = ",".join("?" * len(tids)) or "NULL"
    out: dict[str, list[dict[str, Any]]] = {
        "household": _rows(conn, "SELECT * FROM households WHERE household_id = ?",
                           (household_id,)),
        "tenants": tenants,
        "devices": _rows(conn, "SELECT * FROM devices WHERE household_id = ? ORDER BY device_id",
                         (household_id,)),
        "consent_log": _rows(conn, f"SELECT * FROM consent_log WHERE tenant_id IN ({marks})"
                             " ORDER BY at, consent_id", tids),
    }
    case_ids: list[int] = []
    if _has_table(conn, "cases"):
        out["cases"] = _rows(conn, "SELECT * FROM cases WHERE household_id = ? ORDER BY case_id",
                             (household_id,))
        case_ids = [c["case_id"] for c in out["cases"]]
        cmarks = ",".join("?" * len(case_ids)) or "NULL"
        out["case_events"] = _rows(conn, f"SELECT * FROM case_events WHERE case_id IN ({cmarks})"
                                   " ORDER BY case_id, at, event_id", case_ids)
    if _has_table(conn, "sms_log"):
        out["sms_log"] = _rows(conn, "SELECT * FROM sms_log WHERE household_id = ?"
                               " ORDER BY message_id", (household_id,))
    if _has_table(conn, "sms_replies"):  # the texts the tenant sent back (two-way SMS)
        out["sms_replies"] = _rows(conn, "SELECT * FROM sms_replies WHERE household_id = ?"
                                   " ORDER BY received_at", (household_id,))
    for table in ("meter_points", "import_state"):
        if _has_table(conn, table):
            out[table] = _rows(conn, f"SELECT * FROM {table} WHERE household_id = ?"
                               " ORDER BY fuel, provider", (household_id,))
    for table, order in (("sharing_consent_log", "at"), ("erasure_log", "at"),
                         ("smart_meter_consent_log", "at"), ("research_consent_log", "at"),
                         ("record_corrections", "correction_id"), ("tenant_reports", "report_id"),
                         ("tenant_shares", "share_id")):
        if _has_table(conn, table):
            out[table] = _rows(conn, f"SELECT * FROM {table} WHERE household_id = ?"
                               f" ORDER BY {order}", (household_id,))
    targets = [household_id, *tids, *[str(c) for c in case_ids],
               *[f"case:{c}" for c in case_ids]]
    tmarks = ",".join("?" * len(targets))
    out["audit_log"] = _rows(conn, f"SELECT * FROM audit_log WHERE target IN ({tmarks})"
                             " OR instr(detail, ?) > 0 ORDER BY audit_id",
                             [*targets, json.dumps(household_id)])
    return out


def outbox_lines(path: Path, household_id: str) -> list[dict[str, Any]]:
    """The SMS outbox entries sent to the household (they hold the number texted)."""
    if not Path(path).exists():
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and obj.get("household_id") == household_id:
                out.append(obj)
    return out


def readings(client, household_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every point tagged with the household, per measurement: time (UTC ISO), tags, fields."""
    import numpy as np

    from hearth.influx import quote_ident, quote_string

    out: dict[str, list[dict[str, Any]]] = {}
    for rp, measurement, _ in READING_SOURCES:
        q = (f"SELECT * FROM {quote_ident(client.database)}.{quote_ident(rp)}."
             f"{quote_ident(measurement)} WHERE \"household\" = {quote_string(household_id)}")
        rows: list[dict[str, Any]] = []
        for s in client.query(q):
            times = s.values["time"].astype("datetime64[ns]")
            cols = [c for c in s.columns if c != "time"]
            for i in range(len(s)):
                row = {"time": np.datetime_as_string(times[i], unit="s") + "Z"}
                for c in cols:
                    v = s.values[c][i]
                    row[c] = v.item() if hasattr(v, "item") else v
                    if isinstance(row[c], float) and row[c] != row[c]:
                        row[c] = None
                rows.append(row)
        out[measurement] = rows
    return out


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    names: list[str] = []
    for r in rows:
        names += [k for k in r if k not in names]
    w = csv.DictWriter(buf, fieldnames=names or ["(none)"], lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()


README = """Subject access response for household {household_id}
Prepared {prepared_at} by Hearth.

This is everything Hearth holds about this home and the people living in it:
- subject_access.json: all of it in one file;
- registry_<table>.csv: the household, its tenants (names, mobile numbers, consent), its meters
  and thermostats, consent history (text messages and sharing with the energy supplier), cases
  an officer opened about the home and their history, text messages, and the audit entries that
  name the home, its tenants or its cases;
- outbox.csv: text messages as sent, with the number they went to;
- readings_<measurement>.csv: readings from the meters and thermostats, energy used per half
  hour, and forecasts. Times are UTC. Units are in the column names (kWh, W, GBP, C, %).
Hearth holds readings under the home's reference ({household_id}), never under a name.
"""


def subject_access(settings, household_id: str, out: Path, prepared_at: str | None = None,
                   actor: str = "cli") -> Path:
    """Write the subject access response to ``out``: a .zip file, or else a folder."""
    from hearth.influx import InfluxClient

    prepared_at = prepared_at or utc_now_iso()
    with Registry(settings.registry.target) as reg:
        records = registry_records(reg, household_id)
    with InfluxClient.from_settings(settings, role="reader") as client:
        data = readings(client, household_id)
    outbox = outbox_lines(settings.notifier.outbox_path, household_id)
    document = {
        "household_id": household_id, "prepared_at": prepared_at,
        "registry": records, "outbox": outbox,
        "readings": {m: {"description": d, "count": len(data[m]), "rows": data[m]}
                     for _, m, d in READING_SOURCES},
    }
    files = {"README.txt": README.format(household_id=household_id, prepared_at=prepared_at),
             "subject_access.json": json.dumps(document, indent=1, default=str,
                                               ensure_ascii=False) + "\n",
             "outbox.csv": _csv_text(outbox)}
    for table, rows in records.items():
        files[f"registry_{table}.csv"] = _csv_text(rows)
    for m, rows in data.items():
        files[f"readings_{m}.csv"] = _csv_text(rows)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".zip":
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name in sorted(files):
                z.writestr(name, files[name])
        os.chmod(out, 0o600)
    else:
        out.mkdir(parents=True, exist_ok=True)
        os.chmod(out, 0o700)
        for name in sorted(files):
            (out / name).write_text(files[name], encoding="utf-8")
    with Registry(settings.registry.target) as reg:
        reg.audit(actor, "tenant.subject_access", household_id,
                  {"files": len(files), "readings": sum(len(v) for v in data.values())})
    log.info("subject access for %s: %d files written to %s", household_id, len(files), out)
    return out


# ---- end of tenancy --------------------------------------------------------------------------

def _mobile_pattern(e164: str) -> str:
    """A regex for a UK mobile in any usual writing: +447700900123, 07700 900123, 07700-900-123."""
    national = e164[3:] if e164.startswith("+44") else e164.lstrip("0")
    digits = r"[\s-]?".join(national)
    return rf"(?:\+44\s?(?:\(0\)\s?)?|0044\s?|0){digits}"


def personal_pattern(names: Iterable[str], mobiles: Iterable[str], name_parts: bool = True
                     ) -> re.Pattern[str] | None:
    """Matches the tenants' full names, with ``name_parts`` also each part of at least 3
    letters (as a word), and their mobiles, case-insensitively."""
    alts = []
    for name in names:
        if not name or name == REMOVED_NAME:
            continue
        alts.append(re.escape(name))
        if name_parts:
            alts += [rf"\b{re.escape(part)}\b" for part in re.split(r"\s+", name)
                     if len(part) >= 3]
    alts += [_mobile_pattern(m) for m in mobiles if m]
    if not alts:
        return None
    alts.sort(key=len, reverse=True)                 # full names before their parts
    return re.compile("|".join(alts), re.IGNORECASE)


@dataclass
class Erasure:
    household_id: str
    tenancy_end: str
    removed: list[tuple[str, str, str, str]] = field(default_factory=list)  # where,key,field,how

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for where, _, fld, _ in self.removed:
            out[f"{where}.{fld}"] = out.get(f"{where}.{fld}", 0) + 1
        return dict(sorted(out.items()))


def end_tenancy(settings, household_id: str, tenancy_end: date | None = None,
                actor: str = "cli") -> Erasure:
    """End the tenancy and remove the tenants' personal data (see the module docstring).

    In the registry (one transaction, with SQLite's secure_delete so removed text does not
    linger in free pages, then a WAL checkpoint): tenancy_end set; tenants' names replaced by a
    marker, mobiles and consents cleared (a 'withdrawn' consent event recorded); vulnerability
    notes cleared; SMS bodies cleared; names and numbers redacted wherever they were written in
    case reasons, case events and audit details. Then the outbox lines of the household are
    scrubbed, and any Hearth log under var/logs. The erasure log records each removal without
    the value; an audit entry records the whole."""
    at = utc_now_iso()
    with Registry(settings.registry.target) as reg:
        home = reg.household(household_id)
        end = tenancy_end or datetime.now(UTC).date()
        if end < home.tenancy_start:
            raise TenantRightsError(f"tenancy of {household_id} started {home.tenancy_start}; "
                                    f"it cannot end on {end}")
        result = Erasure(household_id, end.isoformat())
        conn = reg.conn
        conn.execute("PRAGMA secure_delete = ON")
        people = _rows(conn, "SELECT * FROM tenants WHERE household_id = ? ORDER BY tenant_id",
                       (household_id,))
        names, mobiles = [p["full_name"] for p in people], [p["mobile"] for p in people]
        # In the household's own records a first name alone is theirs; elsewhere only the full
        # name or the number is (another tenant may share a first name).
        pattern = personal_pattern(names, mobiles)
        strict = personal_pattern(names, mobiles, name_parts=False)
        with reg.transaction():
            conn.execute("UPDATE households SET tenancy_end = ? WHERE household_id = ?",
                         (result.tenancy_end, household_id))
            if home.vulnerability_notes or home.vulnerable:
                conn.execute("UPDATE households SET vulnerability_notes = '', vulnerable = 0"
                             " WHERE household_id = ?", (household_id,))
                result.removed.append(("households", household_id, "vulnerability_notes",
                                       "cleared"))
            for p in people:
                tid = p["tenant_id"]
                if p["full_name"] != REMOVED_NAME:
                    result.removed.append(("tenants", tid, "full_name", "cleared"))
                if p["mobile"]:
                    result.removed.append(("tenants", tid, "mobile", "cleared"))
                if p["sms_consent"]:
                    conn.execute("INSERT INTO consent_log (tenant_id, at, channel, event, source,"
                                 " actor) VALUES (?, ?, 'sms', 'withdrawn', 'end_of_tenancy', ?)",
                                 (tid, at, actor))
                if p["share_with_supplier"]:
                    conn.execute("INSERT INTO sharing_consent_log (tenant_id, household_id, at,"
                                 " event, source, actor) VALUES (?, ?, ?, 'withdrawn',"
                                 " 'end_of_tenancy', ?)", (tid, household_id, at, actor))
                conn.execute("UPDATE tenants SET full_name = ?, mobile = NULL, sms_consent = 0,"
                             " share_with_supplier = 0 WHERE tenant_id = ?", (REMOVED_NAME, tid))
                _end_portal_records(conn, household_id, tid, at, actor, result)
            if _has_table(conn, "sms_log"):
                for r in _rows(conn, "SELECT message_id FROM sms_log WHERE household_id = ? AND"
                               " body IS NOT NULL AND body <> '' ORDER BY message_id",
                               (household_id,)):
                    result.removed.append(("sms_log", str(r["message_id"]), "body", "cleared"))
                conn.execute("UPDATE sms_log SET body = NULL WHERE household_id = ?",
                             (household_id,))
            if _has_table(conn, "sms_replies"):
                for r in _rows(conn, "SELECT reply_id FROM sms_replies WHERE household_id = ?"
                               " AND content IS NOT NULL AND content <> '' ORDER BY reply_id",
                               (household_id,)):
                    result.removed.append(("sms_replies", str(r["reply_id"]), "content",
                                           "cleared"))
                conn.execute("UPDATE sms_replies SET content = NULL WHERE household_id = ?",
                             (household_id,))
            if pattern is not None and strict is not None:
                _redact_tables(conn, household_id, pattern, strict, result)
            _erase_notes(conn, household_id, result)
            for where, key, fld, how in result.removed:
                conn.execute("INSERT INTO erasure_log (household_id, at, tenancy_end, actor,"
                             " location, row_key, field, action) VALUES (?,?,?,?,?,?,?,?)",
                             (household_id, at, result.tenancy_end, actor, where, key, fld, how))
        outbox_removed = scrub_outbox(settings.notifier.outbox_path, household_id, strict)
        logs_removed = scrub_logs(Path(settings.paths.var_dir) / "logs", strict)
        with reg.transaction():
            for key, fld in outbox_removed:
                result.removed.append(("outbox", key, fld, "cleared"))
            for key, fld in logs_removed:
                result.removed.append((key, "", fld, "redacted"))
            for where, key, fld, how in result.removed[len(result.removed) - len(outbox_removed)
                                                      - len(logs_removed):]:
                conn.execute("INSERT INTO erasure_log (household_id, at, tenancy_end, actor,"
                             " location, row_key, field, action) VALUES (?,?,?,?,?,?,?,?)",
                             (household_id, at, result.tenancy_end, actor, where, key, fld, how))
            reg.audit(actor, "tenant.end_tenancy", household_id,
                      {"tenancy_end": result.tenancy_end, "removed": result.counts()})
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    log.info("end of tenancy %s on %s: %d items of personal data removed", household_id,
             result.tenancy_end, len(result.removed))
    return result


NOTE_REMOVED = "[note removed at end of tenancy]"


def _erase_notes(conn: sqlite3.Connection, household_id: str, result: Erasure) -> None:
    """Officers' free-text notes on the household's cases may say anything about the people
    (health, family, arrears) beyond names and numbers: they are erased whole, in the case
    events and in the audit details of those notes; that a note was written, by whom and when,
    stays (the audit keeps the action, not the personal data). Closing notes likewise."""
    if not _has_table(conn, "cases"):
        return
    case_ids = [r["case_id"] for r in _rows(conn, "SELECT case_id FROM cases WHERE household_id = ?",
                                             (household_id,))]
    for r in _rows(conn, "SELECT e.event_id FROM case_events e JOIN cases c USING (case_id) WHERE"
                   " c.household_id = ? AND e.action IN ('note', 'resolved', 'dismissed') AND"
                   " e.detail <> '' AND e.detail <> ?", (household_id, NOTE_REMOVED)):
        conn.execute("UPDATE case_events SET detail = ? WHERE event_id = ?",
                     (NOTE_REMOVED, r["event_id"]))
        result.removed.append(("case_events", str(r["event_id"]), "detail", "cleared"))
    for r in _rows(conn, "SELECT case_id FROM cases WHERE household_id = ? AND close_reason IS NOT"
                   " NULL AND close_reason <> '' AND close_reason <> ?", (household_id, NOTE_REMOVED)):
        conn.execute("UPDATE cases SET close_reason = ? WHERE case_id = ?",
                     (NOTE_REMOVED, r["case_id"]))
        result.removed.append(("cases", str(r["case_id"]), "close_reason", "cleared"))
    targets = [f"case:{c}" for c in case_ids]
    for chunk in range(0, len(targets), 500):
        part = targets[chunk:chunk + 500]
        marks = ", ".join("?" * len(part))
        for r in _rows(conn, f"SELECT audit_id, detail FROM audit_log WHERE target IN ({marks})"
                       " AND action IN ('case.note', 'case.resolved', 'case.dismissed')", part):
            detail = json.loads(r["detail"] or "{}")
            if not detail.get("detail"):
                continue
            detail["detail"] = NOTE_REMOVED  # household and kind stay: the action happened
            conn.execute("UPDATE audit_log SET detail = ? WHERE audit_id = ?",
                         (json.dumps(detail, sort_keys=True), r["audit_id"]))
            result.removed.append(("audit_log", str(r["audit_id"]), "detail", "cleared"))


def _end_portal_records(conn: sqlite3.Connection, household_id: str, tenant_id: str, at: str,
                        actor: str, result: Erasure) -> None:
    """The portal's records at the end of a tenancy (tables from the tenant portal migration):
    research consent withdrawn, share links stopped, pending corrections and reported problem
    texts cleared (photos stay for the case until an officer closes it)."""
    if not _has_table(conn, "tenant_shares"):
        return
    row = conn.execute("SELECT research_consent FROM tenants WHERE tenant_id = ?",
                       (tenant_id,)).fetchone()
    if row and row[0]:
        conn.execute("UPDATE tenants SET research_consent = 0 WHERE tenant_id = ?", (tenant_id,))
        conn.execute("INSERT INTO research_consent_log (tenant_id, household_id, at, event,"
                     " source, actor) VALUES (?, ?, ?, 'withdrawn', 'end_of_tenancy', ?)",
                     (tenant_id, household_id, at, actor))
    conn.execute("UPDATE tenant_shares SET revoked_at = ? WHERE household_id = ? AND"
                 " revoked_at IS NULL", (at, household_id))
    conn.execute("UPDATE tenant_signin_codes SET used_at = ? WHERE tenant_id = ? AND"
                 " used_at IS NULL", (at, tenant_id))
    for (cid,) in conn.execute("SELECT correction_id FROM record_corrections WHERE tenant_id = ?"
                               " AND new_value <> ''", (tenant_id,)).fetchall():
        result.removed.append(("record_corrections", str(cid), "new_value", "cleared"))
    conn.execute("UPDATE record_corrections SET new_value = '', status = CASE status WHEN"
                 " 'proposed' THEN 'withdrawn' ELSE status END WHERE tenant_id = ?", (tenant_id,))


def _redact_tables(conn: sqlite3.Connection, household_id: str, pattern: re.Pattern[str],
                   strict: re.Pattern[str], result: Erasure) -> None:
    """Names and numbers written into free text (case reasons and events, audit details) are
    replaced by a marker; the rest of each record stays. The household's own records are
    searched with ``pattern`` (names and their parts), everything else with ``strict``."""
    targets: list[tuple[str, str, str, list[dict[str, Any]]]] = []
    if _has_table(conn, "cases"):
        cases = _rows(conn, "SELECT case_id, household_id, reasons, close_reason FROM cases")
        targets.append(("cases", "case_id", "reasons", cases))
        targets.append(("cases", "case_id", "close_reason", cases))
        events = _rows(conn, "SELECT e.event_id, c.household_id, e.detail FROM case_events e"
                       " JOIN cases c USING (case_id)")
        targets.append(("case_events", "event_id", "detail", events))
    if _has_table(conn, "tenant_reports"):
        reports = _rows(conn, "SELECT report_id, household_id, description FROM tenant_reports")
        targets.append(("tenant_reports", "report_id", "description", reports))
    audit = _rows(conn, "SELECT audit_id, target AS household_id, detail FROM audit_log")
    targets.append(("audit_log", "audit_id", "detail", audit))
    for table, key, col, rows in targets:
        for r in rows:
            text = r.get(col)
            pat = pattern if r.get("household_id") == household_id else strict
            if not isinstance(text, str) or not pat.search(text):
                continue
            new = pat.sub(REMOVED, text)
            if table == "audit_log":   # keep the detail valid JSON
                new = json.dumps(_redact_json(json.loads(text), pat))
            conn.execute(f"UPDATE {table} SET {col} = ? WHERE {key} = ?", (new, r[key]))
            result.removed.append((table, str(r[key]), col, "redacted"))


def _redact_json(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(REMOVED, value)
    if isinstance(value, list):
        return [_redact_json(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _redact_json(v, pattern) for k, v in value.items()}
    return value


def _rewrite(path: Path, transform) -> list[tuple[str, str]]:
    """Rewrite a file line by line atomically (same permissions); retry if a writer appended
    while we worked, so no new line is lost."""
    for _ in range(5):
        before = path.stat()
        text = path.read_text(encoding="utf-8", errors="replace")
        lines, removed = transform(text.splitlines(keepends=True))
        if not removed:
            return []
        tmp = path.with_name(path.name + ".scrub")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, before.st_mode & 0o777)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
            fh.flush()
            os.fsync(fh.fileno())
        if path.stat().st_size == before.st_size:
            os.replace(tmp, path)
            return removed
        tmp.unlink()
    raise TenantRightsError(f"{path} kept changing while it was being scrubbed; run "
                            "end-tenancy again when the notifier is quiet")


def scrub_outbox(path: Path, household_id: str, pattern: re.Pattern[str] | None
                 ) -> list[tuple[str, str]]:
    """Clear the number and the body of the household's outbox lines (and redact the tenants'
    names or numbers anywhere else in the file)."""
    path = Path(path)
    if not path.exists():
        return []

    def transform(lines: list[str]):
        out, removed = [], []
        for n, line in enumerate(lines, start=1):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                obj = None
            if isinstance(obj, dict) and obj.get("household_id") == household_id:
                key = str(obj.get("id") or f"line {n}")
                for fld in ("phone_number", "body"):
                    if obj.get(fld):
                        obj[fld] = None
                        removed.append((key, fld))
                obj["scrubbed"] = "end of tenancy"
                out.append(json.dumps(obj, ensure_ascii=False) + "\n")
            elif pattern is not None and pattern.search(line):
                removed.append((f"line {n}", "text"))
                out.append(pattern.sub(REMOVED, line))
            else:
                out.append(line)
        return out, removed

    return _rewrite(path, transform)


def scrub_logs(directory: Path, pattern: re.Pattern[str] | None) -> list[tuple[str, str]]:
    """Redact the tenants' names and numbers from Hearth's log files, should any have leaked."""
    if pattern is None or not Path(directory).is_dir():
        return []
    removed = []
    for path in sorted(Path(directory).glob("*.log*")):
        if not path.is_file():
            continue

        def transform(lines: list[str], name=path.name):
            hits = [n for n, line in enumerate(lines, start=1) if pattern.search(line)]
            return [pattern.sub(REMOVED, line) for line in lines], [(f"logs/{name}",
                                                                     f"line {n}") for n in hits]

        removed += _rewrite(path, transform)
    return removed
