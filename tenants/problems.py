"""Problems a tenant reports (damp or mould, a cold home, too hot, a meter or thermostat
fault): kept in tenant_reports with an optional photo under var/, and opening or joining a case
on the officers' queue through advisor.cases.CaseStore, which starts the Awaab's Law clock where
the hazard has one."""

from __future__ import annotations

import os
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hearth.errors import HearthError
from hearth.registry import Registry

# What the tenant picks -> (words on the page, the case kind it opens, severity).
KINDS = {
    "damp_mould": ("Damp or mould", "damp_mould", "high"),
    "cold_home": ("My home is too cold", "cold_home", "medium"),
    "too_hot": ("My home is too hot", "excess_heat", "medium"),
    "meter_fault": ("My meter is not working", "device_fault", "low"),
    "thermostat_fault": ("My thermostat is not working", "device_fault", "low"),
}
# Photos are accepted by what the bytes are, not by the name the phone gave them.
PHOTO_TYPES = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}


class ReportError(HearthError):
    """A report that cannot be accepted as sent (what is wrong is said to the tenant)."""


@dataclass(frozen=True)
class Reported:
    report_id: int
    case_id: int | None
    joined: bool
    due_by: str | None


def photo_suffix(data: bytes) -> str | None:
    return next((sfx for magic, sfx in PHOTO_TYPES.items() if data.startswith(magic)), None)


def save_photo(photo_dir: Path, household_id: str, data: bytes, max_bytes: int) -> Path:
    if len(data) > max_bytes:
        raise ReportError(f"The photo is too large: the limit is {max_bytes // 1_000_000} MB.")
    suffix = photo_suffix(data)
    if suffix is None:
        raise ReportError("The photo must be a JPEG or PNG picture.")
    folder = Path(photo_dir) / household_id
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}{suffix}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def report(settings, household_id: str, tenant_id: str, kind: str, description: str,
           photo: bytes | None = None, now: datetime | None = None) -> Reported:
    """Record the report and open or join the case. A kind the cases table does not know yet
    (too hot, before excess heat cases exist) stays on the officers' tenant requests page."""
    from advisor.cases import CaseStore

    if kind not in KINDS:
        raise ReportError("Choose what the problem is.")
    text = " ".join(description.split())
    if not 1 <= len(text) <= 2000:
        raise ReportError("Describe the problem in up to 2,000 characters.")
    now = now or datetime.now(UTC)
    s = settings.tenants
    photo_path = (save_photo(s.photo_dir, household_id, photo, s.photo_max_bytes)
                  if photo else None)
    _, case_kind, severity = KINDS[kind]
    with Registry(settings.registry.target) as reg:
        store = CaseStore(reg, settings.advisor)
        case_id, joined = None, False
        reason = (f"Reported by the tenant: {KINDS[kind][0].lower()}. In their words: {text}"
                  + (" (photo attached)" if photo_path else ""))
        try:
            case_id, joined = store.open_or_join(
                household_id, case_kind, severity, reason, actor=f"tenant:{tenant_id}",
                evidence={"source": "tenant_report", "reported": kind}, at=now)
        except sqlite3.IntegrityError:
            case_id = None   # no such case kind in this registry yet
        with reg.transaction() as conn:
            cur = conn.execute("INSERT INTO tenant_reports (household_id, tenant_id, kind,"
                               " description, photo_path, reported_at, case_id, joined) VALUES"
                               " (?, ?, ?, ?, ?, ?, ?, ?)",
                               (household_id, tenant_id, kind, text,
                                str(photo_path) if photo_path else None,
                                now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), case_id,
                                int(joined)))
            reg.audit(tenant_id, "tenant.problem_reported", household_id,
                      {"report_id": cur.lastrowid, "kind": kind, "case_id": case_id,
                       "joined": joined, "photo": photo_path is not None})
        due = store.case(case_id)["due_by"] if case_id else None
    return Reported(int(cur.lastrowid), case_id, joined, due)


def of_household(conn: sqlite3.Connection, household_id: str) -> list[dict]:
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    return [dict(r) for r in cur.execute("SELECT * FROM tenant_reports WHERE household_id = ?"
                                         " ORDER BY report_id DESC", (household_id,))]
