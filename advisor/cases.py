"""Cases in the registry: one open case per household and kind, kept up to date by the advisor
and worked by officers. Every change writes `case_events`; officers' actions also `audit_log`.

Other rooms use `CaseStore(registry)`: open_cases, case, history, acknowledge, assign, add_note,
resolve, dismiss, record_stage, open_or_join (a problem a tenant reports). The advisor calls
`sync(results, households, now)`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from advisor import awaab, reopen
from advisor.db import connection, iso, parse_iso, transaction, utc_now
from advisor.rules.base import SEVERITIES, RuleResult
from hearth.errors import HearthError
from hearth.settings.rooms import AdvisorSettings

OPEN_STATUSES = ("open", "acknowledged")
SEVERITY_RANK = {name: i for i, name in enumerate(SEVERITIES)}
ADVISOR = "advisor"


class CaseError(HearthError):
    """An officer's action that cannot be applied (unknown case, already closed, no reason)."""


@dataclass
class SyncSummary:
    """What one advisor run did to the cases, by kind."""

    opened: Counter = field(default_factory=Counter)
    worsened: Counter = field(default_factory=Counter)
    improved: Counter = field(default_factory=Counter)
    closed: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    # Flagged again but kept closed: an officer resolved or dismissed the case and the situation
    # is no worse (advisor/reopen.py).
    kept_closed: Counter = field(default_factory=Counter)
    reopened: Counter = field(default_factory=Counter)
    changed_case_ids: list[int] = field(default_factory=list)


class CaseStore:
    """Cases over the registry database (see docs/architecture.md for the tables)."""

    def __init__(self, registry, settings: AdvisorSettings | None = None) -> None:
        self.conn = connection(registry)
        self.settings = settings or AdvisorSettings()

    # ----------------------------------------------------------------- reads
    def open_cases(self, patches: list[str] | None = None, kind: str | None = None) -> list[dict]:
        """Open and acknowledged cases in the order an officer works them; only `patches` if
        given. What to do first: the earliest deadline (cases without one after), then
        severity, then vulnerable households, then the score."""
        sql = ("SELECT c.*, h.patch AS patch, COALESCE(h.vulnerable, 0) AS vulnerable"
               " FROM cases c LEFT JOIN households h"
               " ON h.household_id = c.household_id WHERE c.status IN ('open', 'acknowledged')")
        params: list = []
        if patches is not None:
            sql += f" AND h.patch IN ({','.join('?' * len(patches))})"
            params += list(patches)
        if kind is not None:
            sql += " AND c.kind = ?"
            params.append(kind)
        sql += (" ORDER BY c.due_by IS NULL, c.due_by, CASE c.severity WHEN 'emergency' THEN 0"
                " WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,"
                " COALESCE(h.vulnerable, 0) DESC, c.score DESC")
        return [dict(r) for r in self.conn.execute(sql, params)]

    def case(self, case_id: int) -> dict:
        row = self.conn.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        if row is None:
            raise CaseError(f"case {case_id} does not exist; list cases with the dashboard")
        return dict(row)

    def history(self, case_id: int) -> list[dict]:
        rows = self.conn.execute("SELECT * FROM case_events WHERE case_id = ? ORDER BY event_id",
                                 (case_id,))
        return [dict(r) for r in rows]

    def open_case_for(self, household_id: str, kind: str) -> dict | None:
        row = self.conn.execute(
            "SELECT * FROM cases WHERE household_id = ? AND kind = ? AND status IN"
            " ('open', 'acknowledged')", (household_id, kind)).fetchone()
        return dict(row) if row else None

    # ------------------------------------------------------- officer actions
    def acknowledge(self, case_id: int, officer: str, at: datetime | None = None) -> None:
        case = self._open(case_id)
        self._officer_change(case, officer, "acknowledged", "", at,
                             status="acknowledged", officer=case["officer"] or officer)

    def assign(self, case_id: int, officer: str, assignee: str,
               at: datetime | None = None) -> None:
        self._open(case_id)
        if not assignee:
            raise CaseError("assign needs the username of the officer to assign the case to")
        self._officer_change(self.case(case_id), officer, "assigned", f"assigned to {assignee}",
                             at, officer=assignee)

    def add_note(self, case_id: int, officer: str, note: str, at: datetime | None = None) -> None:
        if not note.strip():
            raise CaseError("a note cannot be empty")
        self._officer_change(self.case(case_id), officer, "note", note.strip(), at)

    def resolve(self, case_id: int, officer: str, note: str = "",
                at: datetime | None = None) -> None:
        case = self._open(case_id)
        at = at or utc_now()
        self._officer_change(case, officer, "resolved", note.strip(), at, status="resolved",
                             closed_at=iso(at), close_reason=note.strip() or "resolved by officer")

    def dismiss(self, case_id: int, officer: str, reason: str,
                at: datetime | None = None) -> None:
        if not reason or not reason.strip():
            raise CaseError("dismissing a case needs a reason (for example 'tenant away')")
        case = self._open(case_id)
        at = at or utc_now()
        self._officer_change(case, officer, "dismissed", reason.strip(), at, status="dismissed",
                             closed_at=iso(at), close_reason=reason.strip())

    def record_stage(self, case_id: int, officer: str, done: str,
                     at: datetime | None = None) -> None:
        """Awaab's Law: record a step as done and start the next step's clock.

        done: "made_safe" | "investigate" (investigation concluded) | "written_summary" |
        "safety_work" (safety work begun)."""
        case = self._open(case_id)
        if case["kind"] not in self.settings.awaab_hazards_from and case["stage"] is None:
            raise CaseError(f"case {case_id} is {case['kind']}: Awaab's Law stages are for"
                            f" hazard cases ({', '.join(self.settings.awaab_hazards_from)})"
                            " and emergencies")
        at = at or utc_now()
        s = self.settings
        if done in ("made_safe", "investigate"):
            clock = awaab.clock(parse_iso(case["opened_at"]), False,
                                s.awaab_investigate_working_days, s.awaab_summary_working_days,
                                s.awaab_safety_work_working_days, s.awaab_emergency_hours,
                                investigated_at=at if done == "investigate" else None)
            stage, due = (("investigate", clock["investigate"]) if done == "made_safe"
                          else ("written_summary", clock["written_summary"]))
        elif done == "written_summary":
            concluded = self._stage_time(case_id, "investigate") or at
            stage = "safety_work"
            due = awaab.working_deadline(concluded, s.awaab_safety_work_working_days)
        elif done == "safety_work":
            stage, due = "safety_work", None
        else:
            raise CaseError(f"unknown stage {done!r}: use made_safe, investigate,"
                            " written_summary or safety_work")
        self._officer_change(case, officer, "stage", f"{done} done; next: {stage}"
                             + (f" due by {iso(due)}" if due else ""), at, stage=stage,
                             due_by=iso(due))

    def _stage_time(self, case_id: int, done: str) -> datetime | None:
        row = self.conn.execute("SELECT at FROM case_events WHERE case_id = ? AND action = 'stage'"
                                " AND detail LIKE ? ORDER BY event_id DESC LIMIT 1",
                                (case_id, f"{done} done%")).fetchone()
        return parse_iso(row["at"]) if row else None

    def _open(self, case_id: int) -> dict:
        case = self.case(case_id)
        if case["status"] not in OPEN_STATUSES:
            raise CaseError(f"case {case_id} is already {case['status']}")
        return case

    def _officer_change(self, case: dict, actor: str, action: str, detail: str,
                        at: datetime | None, **changes) -> None:
        if not actor:
            raise CaseError("an officer's username is needed for this action")
        at_s = iso(at or utc_now())
        with transaction(self.conn):
            if changes:
                cols = ", ".join(f"{k} = ?" for k in changes)
                self.conn.execute(f"UPDATE cases SET {cols}, updated_at = ? WHERE case_id = ?",
                                  [*changes.values(), at_s, case["case_id"]])
            deadline = ({"due_by": changes.get("due_by"), "stage": changes.get("stage")}
                        if action == "stage" else {})
            self._event(case["case_id"], at_s, actor, action, detail, **deadline)
            self.conn.execute("INSERT INTO audit_log (at, actor, action, target, detail)"
                              " VALUES (?, ?, ?, ?, ?)",
                              (at_s, actor, f"case.{action}", f"case:{case['case_id']}",
                               json.dumps({"household_id": case["household_id"],
                                           "kind": case["kind"], "detail": detail})))

    def _event(self, case_id: int, at_s: str, actor: str, action: str, detail: str,
               due_by: str | None = None, stage: str | None = None) -> None:
        """One line of the case's history; ``due_by``/``stage``: the Awaab's Law deadline this
        event set (reports count deadlines met and missed from these columns)."""
        self.conn.execute("INSERT INTO case_events (case_id, at, actor, action, detail, due_by,"
                          " stage) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (case_id, at_s, actor, action, detail, due_by, stage))

    # ------------------------------------------------------- reported by a person
    def open_or_join(self, household_id: str, kind: str, severity: str, reason: str,
                     actor: str, evidence: dict | None = None,
                     at: datetime | None = None) -> tuple[int, bool]:
        """A problem reported by a person (a tenant, through the portal): join the household's
        open case of that kind (a note in its history) or open one, starting the Awaab's Law
        clock where the hazard has one. Returns (case_id, joined)."""
        if severity not in SEVERITY_RANK:
            raise CaseError(f"unknown severity {severity!r}")
        if not actor or not reason.strip():
            raise CaseError("a reported problem needs who reported it and what they said")
        at = at or utc_now()
        at_s = iso(at)
        with transaction(self.conn):
            case = self.open_case_for(household_id, kind)
            if case is not None:
                case_id, joined = case["case_id"], True
                self._event(case_id, at_s, actor, "note", reason.strip())
            else:
                due, stage = self._awaab(kind, severity, at)
                cur = self.conn.execute(
                    "INSERT INTO cases (household_id, kind, severity, score, reasons,"
                    " evidence_json, opened_at, updated_at, due_by, stage, status) VALUES"
                    " (?,?,?,?,?,?,?,?,?,?, 'open')",
                    (household_id, kind, severity, 50.0, reason.strip(), _json(evidence or {}),
                     at_s, at_s, iso(due), stage))
                case_id, joined = int(cur.lastrowid), False
                self._event(case_id, at_s, actor, "opened", f"{severity}: {reason.strip()}"
                            + (f" (due by {iso(due)}, {stage})" if due else ""), iso(due), stage)
            self.conn.execute("INSERT INTO audit_log (at, actor, action, target, detail)"
                              " VALUES (?, ?, ?, ?, ?)",
                              (at_s, actor, "case.joined" if joined else "case.reported",
                               f"case:{case_id}", json.dumps({"household_id": household_id,
                                                              "kind": kind})))
        return case_id, joined

    # ------------------------------------------------------------ the advisor
    def sync(self, results: dict[str, RuleResult], households: np.ndarray,
             now: datetime | None = None, dry_run: bool = False) -> SyncSummary:
        """Bring the cases in line with one assessment of `households`.

        Flagged and no open case: open one (damp_mould with the Awaab's Law clock), unless an
        officer closed the home's last case of that kind and the situation is no worse and the
        quiet period has not passed (advisor/reopen.py); a case opened after an earlier one
        links it and says why it came back. Flagged with
        an open case: update it in place; a higher severity is 'worsened', a lower 'improved'.
        Not flagged with an open case: start (or continue) the clear clock and close the case
        once clear for `auto_close_h` (not damp_mould: the landlord's duty stays once aware).
        dry_run: count what would change, write nothing.
        """
        from advisor.grouping import group_money

        # One situation, one case: a home's money risks are one `money` case.
        results = group_money(results)
        now = now or utc_now()
        now_s = iso(now)
        summary = SyncSummary()
        ids = [str(h) for h in households]
        with transaction(self.conn):
            for kind, result in results.items():
                existing = {r["household_id"]: dict(r) for r in self.conn.execute(
                    "SELECT * FROM cases WHERE kind = ? AND status IN ('open', 'acknowledged')",
                    (kind,))}
                closed: dict[str, dict] | None = None  # read once per kind, when first needed
                for i, severity, score, reason, numbers in result.iter_flagged():
                    hid = ids[i]
                    case = existing.pop(hid, None)
                    if case is None:
                        if closed is None:
                            closed = self._last_closed(kind)
                        earlier = closed.get(hid)
                        decision = reopen.decide(earlier, severity, numbers, now, self.settings)
                        if not decision.reopen:
                            summary.kept_closed[kind] += 1
                            continue
                        summary.opened[kind] += 1
                        if earlier is not None:
                            summary.reopened[kind] += 1
                        if not dry_run:
                            summary.changed_case_ids.append(
                                self._open_case(hid, kind, severity, score, reason, numbers, now,
                                                earlier, decision.reason))
                        continue
                    self._update_case(case, severity, score, reason, numbers, now, summary,
                                      dry_run)
                assessed = set(ids)
                for hid, case in existing.items():
                    if hid not in assessed:
                        continue
                    self._clear_case(case, now, now_s, summary, dry_run)
        return summary

    def _last_closed(self, kind: str) -> dict[str, dict]:
        """Each home's most recently closed case of `kind` (resolved or dismissed)."""
        out: dict[str, dict] = {}
        for r in self.conn.execute(
                "SELECT * FROM cases WHERE kind = ? AND status IN ('resolved', 'dismissed')"
                " ORDER BY closed_at, case_id", (kind,)):
            out[r["household_id"]] = dict(r)
        return out

    def _open_case(self, hid: str, kind: str, severity: str, score: float, reason: str,
                   numbers: dict, now: datetime, earlier: dict | None = None,
                   reopen_reason: str | None = None) -> int:
        # A reopened hazard case starts its own Awaab's Law clock: the landlord is aware anew.
        due, stage = self._awaab(kind, severity, now)
        now_s = iso(now)
        earlier_id = earlier["case_id"] if earlier else None
        cur = self.conn.execute(
            "INSERT INTO cases (household_id, kind, severity, score, reasons, evidence_json,"
            " opened_at, updated_at, due_by, stage, status, reopened_from, reopen_reason)"
            " VALUES (?,?,?,?,?,?,?,?,?,?, 'open', ?, ?)",
            (hid, kind, severity, round(score, 1), reason, _json(numbers), now_s, now_s,
             iso(due), stage, earlier_id, reopen_reason))
        case_id = cur.lastrowid
        detail = f"{severity}: {reason}" + (f" (due by {iso(due)}, {stage})" if due else "")
        if earlier_id is not None:
            detail = f"reopened after case {earlier_id}: {reopen_reason}. {detail}"
        self._event(case_id, now_s, ADVISOR, "opened", detail, iso(due), stage)
        return case_id

    def _awaab(self, kind: str, severity: str, aware_at: datetime):
        """The deadline and stage a case opens with: every emergency is made safe within 24
        hours (Awaab's Law phase 1 covers all emergency hazards); a hazard whose clock is in
        force (`awaab_hazards_from`: damp and mould; excess cold, the cold_home case, and
        excess heat from phase 2) is investigated within 10 working days."""
        s = self.settings
        hazard = awaab.hazard_in_force(kind, aware_at, s.awaab_hazards_from)
        if severity == "emergency":
            return awaab.emergency_deadline(aware_at, s.awaab_emergency_hours), "made_safe"
        if not hazard:
            return None, None
        return awaab.working_deadline(aware_at, s.awaab_investigate_working_days), "investigate"

    def _keeps_duty(self, case: dict) -> bool:
        """A hazard case on the Awaab's Law clock stays open until an officer closes it: the
        landlord's duties run once it is aware, whatever the readings do next."""
        return case["kind"] in self.settings.auto_close_exclude or (
            case["kind"] in self.settings.awaab_hazards_from and case["stage"] is not None)

    def _update_case(self, case: dict, severity: str, score: float, reason: str, numbers: dict,
                     now: datetime, summary: SyncSummary, dry_run: bool) -> None:
        kind = case["kind"]
        old = SEVERITY_RANK[case["severity"]]
        new = SEVERITY_RANK[severity]
        action = "worsened" if new > old else "improved" if new < old else None
        if action is None:
            summary.unchanged[kind] += 1
        else:
            getattr(summary, action)[kind] += 1
        if dry_run:
            return
        now_s = iso(now)
        changes = {"score": round(score, 1), "reasons": reason, "evidence_json": _json(numbers),
                   "updated_at": now_s, "clear_since": None}
        if action:
            changes["severity"] = severity
        if action == "worsened" and severity == "emergency" and case["stage"] != "made_safe":
            due, stage = self._awaab(kind, severity, now)
            # An escalation to an emergency can only bring the deadline forward.
            if case["due_by"] is None or iso(due) < case["due_by"]:
                changes.update(due_by=iso(due), stage=stage)
        cols = ", ".join(f"{k} = ?" for k in changes)
        self.conn.execute(f"UPDATE cases SET {cols} WHERE case_id = ?",
                          [*changes.values(), case["case_id"]])
        if action:
            moved = "due_by" in changes
            self._event(case["case_id"], now_s, ADVISOR, action,
                        f"{case['severity']} -> {severity}: {reason}"
                        + (f" (due by {changes['due_by']}, {changes['stage']})" if moved else ""),
                        changes.get("due_by"), changes.get("stage"))
            summary.changed_case_ids.append(case["case_id"])

    def _clear_case(self, case: dict, now: datetime, now_s: str, summary: SyncSummary,
                    dry_run: bool) -> None:
        kind = case["kind"]
        if _reported_by_tenant(case):
            return   # a tenant's report is closed by an officer, never by quiet sensors
        clear_since = parse_iso(case["clear_since"]) or now
        limit = timedelta(hours=self.settings.auto_close_h)
        if not self._keeps_duty(case) and now - clear_since >= limit:
            summary.closed[kind] += 1
            if dry_run:
                return
            hours = (now - clear_since).total_seconds() / 3600
            why = f"condition clear for {hours:.0f} hours (since {iso(clear_since)})"
            self.conn.execute("UPDATE cases SET status = 'resolved', closed_at = ?,"
                              " close_reason = ?, updated_at = ?, clear_since = ?"
                              " WHERE case_id = ?",
                              (now_s, f"auto-closed: {why}", now_s, iso(clear_since),
                               case["case_id"]))
            self._event(case["case_id"], now_s, ADVISOR, "auto_closed", f"closed: {why}")
        elif case["clear_since"] is None and not dry_run:
            self.conn.execute("UPDATE cases SET clear_since = ? WHERE case_id = ?",
                              (now_s, case["case_id"]))


def _json(numbers: dict) -> str:
    return json.dumps(numbers, default=str, allow_nan=False, sort_keys=True)


def _reported_by_tenant(case: dict) -> bool:
    try:
        return json.loads(case.get("evidence_json") or "{}").get("source") == "tenant_report"
    except (ValueError, AttributeError):
        return False
