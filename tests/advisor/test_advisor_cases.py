"""Case lifecycle over the real registry: open, worsen, improve, auto-close, officer actions."""

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from advisor.cases import CaseError, CaseStore
from advisor.rules.base import HIGH, LOW, MEDIUM, RuleResult
from hearth.settings.rooms import AdvisorSettings

from .conftest import add_household

T0 = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)  # a Monday
HOUSEHOLDS = np.array(["H000001", "H000002", "H000003"])


def result(kind, flagged, severity, score=None):
    n = len(flagged)
    return RuleResult(kind, np.array(flagged, bool), np.array(severity), np.full(n, 50.0)
                      if score is None else np.array(score, float),
                      {"value": np.arange(n, dtype=float)}, lambda d: f"value {d['value']:.0f}")


@pytest.fixture
def store(conn):
    for h in HOUSEHOLDS:
        add_household(conn, h, patch="North" if h != "H000003" else "South")
    return CaseStore(conn, AdvisorSettings(auto_close_h=48))


def test_open_once_then_update_in_place(store):
    s1 = store.sync({"cold_home": result("cold_home", [1, 0, 1], [LOW, 0, MEDIUM])},
                    HOUSEHOLDS, T0)
    assert s1.opened["cold_home"] == 2
    s2 = store.sync({"cold_home": result("cold_home", [1, 0, 1], [LOW, 0, MEDIUM], [60, 0, 70])},
                    HOUSEHOLDS, T0 + timedelta(hours=1))
    assert s2.opened["cold_home"] == 0 and s2.unchanged["cold_home"] == 2
    cases = store.open_cases()
    assert len(cases) == 2
    assert [c["severity"] for c in cases] == ["medium", "low"]  # most urgent first
    assert cases[0]["score"] == 70 and cases[0]["reasons"] == "value 2"
    assert json.loads(cases[0]["evidence_json"]) == {"value": 2.0}
    assert [e["action"] for e in store.history(cases[0]["case_id"])] == ["opened"]


def test_worsened_and_improved_write_history(store):
    store.sync({"cold_home": result("cold_home", [1, 0, 0], [LOW, 0, 0])}, HOUSEHOLDS, T0)
    store.sync({"cold_home": result("cold_home", [1, 0, 0], [HIGH, 0, 0])}, HOUSEHOLDS,
               T0 + timedelta(hours=1))
    summary = store.sync({"cold_home": result("cold_home", [1, 0, 0], [MEDIUM, 0, 0])},
                         HOUSEHOLDS, T0 + timedelta(hours=2))
    assert summary.improved["cold_home"] == 1
    (case,) = store.open_cases()
    assert case["severity"] == "medium"
    actions = [(e["action"], e["detail"].split(":")[0]) for e in store.history(case["case_id"])]
    assert actions == [("opened", "low"), ("worsened", "low -> high"),
                       ("improved", "high -> medium")]


def test_auto_close_after_clear_for_configured_time(store):
    flagged = {"self_rationing": result("self_rationing", [1, 0, 0], [LOW, 0, 0])}
    clear = {"self_rationing": result("self_rationing", [0, 0, 0], [0, 0, 0])}
    store.sync(flagged, HOUSEHOLDS, T0)
    store.sync(clear, HOUSEHOLDS, T0 + timedelta(hours=1))
    (case,) = store.open_cases()
    assert case["clear_since"] == "2026-12-14T10:00:00Z"
    # Flagged again: the clear clock restarts.
    store.sync(flagged, HOUSEHOLDS, T0 + timedelta(hours=2))
    assert store.open_cases()[0]["clear_since"] is None
    store.sync(clear, HOUSEHOLDS, T0 + timedelta(hours=3))
    s = store.sync(clear, HOUSEHOLDS, T0 + timedelta(hours=3 + 47))
    assert s.closed["self_rationing"] == 0 and len(store.open_cases()) == 1
    s = store.sync(clear, HOUSEHOLDS, T0 + timedelta(hours=3 + 48))
    assert s.closed["self_rationing"] == 1 and store.open_cases() == []
    closed = store.case(case["case_id"])
    assert closed["status"] == "resolved" and "clear for 48 hours" in closed["close_reason"]
    assert store.history(case["case_id"])[-1]["action"] == "auto_closed"
    # The next flag opens a new case.
    assert store.sync(flagged, HOUSEHOLDS, T0 + timedelta(days=5)).opened["self_rationing"] == 1


def test_households_not_assessed_are_left_alone(store):
    store.sync({"self_rationing": result("self_rationing", [1, 1, 0], [LOW, LOW, 0])}, HOUSEHOLDS, T0)
    store.sync({"self_rationing": result("self_rationing", [0], [0])}, HOUSEHOLDS[:1],
               T0 + timedelta(days=3))
    store.sync({"self_rationing": result("self_rationing", [0], [0])}, HOUSEHOLDS[:1],
               T0 + timedelta(days=6))
    assert [c["household_id"] for c in store.open_cases()] == ["H000002"]


def test_damp_case_gets_the_awaab_clock_and_never_auto_closes(store):
    store.sync({"damp_mould": result("damp_mould", [1, 1, 0], [MEDIUM, 4, 0])}, HOUSEHOLDS, T0)
    cases = {c["household_id"]: c for c in store.open_cases()}
    # Monday 14 Dec 2026 + 10 working days (25 and 28 Dec are bank holidays) -> 30 Dec.
    assert cases["H000001"]["due_by"] == "2026-12-30T23:59:59Z"
    assert cases["H000001"]["stage"] == "investigate"
    assert cases["H000002"]["due_by"] == "2026-12-15T09:00:00Z"
    assert cases["H000002"]["stage"] == "made_safe"
    clear = {"damp_mould": result("damp_mould", [0, 0, 0], [0, 0, 0])}
    store.sync(clear, HOUSEHOLDS, T0 + timedelta(days=1))
    store.sync(clear, HOUSEHOLDS, T0 + timedelta(days=10))
    assert len(store.open_cases(kind="damp_mould")) == 2


def test_escalation_to_emergency_brings_the_deadline_forward(store):
    store.sync({"damp_mould": result("damp_mould", [1, 0, 0], [MEDIUM, 0, 0])}, HOUSEHOLDS, T0)
    store.sync({"damp_mould": result("damp_mould", [1, 0, 0], [4, 0, 0])}, HOUSEHOLDS,
               T0 + timedelta(days=2))
    (case,) = store.open_cases()
    assert case["stage"] == "made_safe" and case["due_by"] == "2026-12-17T09:00:00Z"
    # Each deadline is recorded on the event that set it (reports count them from there).
    set_by = [(e["action"], e["due_by"], e["stage"]) for e in store.history(case["case_id"])]
    assert set_by == [("opened", "2026-12-30T23:59:59Z", "investigate"),
                      ("worsened", "2026-12-17T09:00:00Z", "made_safe")]
    store.record_stage(case["case_id"], "asmith", "made_safe", T0 + timedelta(days=2, hours=5))
    last = store.history(case["case_id"])[-1]
    assert (last["action"], last["due_by"], last["stage"]) == (
        "stage", "2026-12-30T23:59:59Z", "investigate")


def test_officer_actions_write_case_events_and_audit(store, conn):
    store.sync({"cold_home": result("cold_home", [1, 1, 1], [LOW, LOW, LOW])}, HOUSEHOLDS, T0)
    c1, c2, c3 = (c["case_id"] for c in sorted(store.open_cases(), key=lambda c: c["case_id"]))
    store.acknowledge(c1, "asmith")
    store.assign(c1, "asmith", "bjones")
    store.add_note(c1, "bjones", "Visited; boiler broken, repair booked")
    store.resolve(c1, "bjones", "boiler repaired")
    with pytest.raises(CaseError, match="needs a reason"):
        store.dismiss(c2, "asmith", "  ")
    store.dismiss(c2, "asmith", "tenant away for the month")
    with pytest.raises(CaseError, match="already dismissed"):
        store.acknowledge(c2, "asmith")
    assert store.case(c1)["status"] == "resolved" and store.case(c1)["officer"] == "bjones"
    assert store.case(c2)["close_reason"] == "tenant away for the month"
    actions = [e["action"] for e in store.history(c1)]
    assert actions == ["opened", "acknowledged", "assigned", "note", "resolved"]
    audit = conn.execute("SELECT actor, action, target FROM audit_log WHERE target LIKE 'case:%'"
                         " ORDER BY audit_id").fetchall()
    assert [tuple(a) for a in audit] == [
        ("asmith", "case.acknowledged", f"case:{c1}"), ("asmith", "case.assigned", f"case:{c1}"),
        ("bjones", "case.note", f"case:{c1}"), ("bjones", "case.resolved", f"case:{c1}"),
        ("asmith", "case.dismissed", f"case:{c2}")]
    # Patches filter (officers see their own patches).
    assert [c["case_id"] for c in store.open_cases(patches=["South"])] == [c3]
    assert store.open_cases(patches=["North"]) == []


def test_awaab_stages_recorded_by_officer(store):
    store.sync({"damp_mould": result("damp_mould", [1, 0, 0], [MEDIUM, 0, 0])}, HOUSEHOLDS, T0)
    (case,) = store.open_cases()
    store.record_stage(case["case_id"], "asmith", "investigate", at=T0 + timedelta(days=2))
    c = store.case(case["case_id"])
    # Investigation concluded Wed 16 Dec: summary within 3 working days -> Mon 21 Dec.
    assert c["stage"] == "written_summary" and c["due_by"] == "2026-12-21T23:59:59Z"
    store.record_stage(case["case_id"], "asmith", "written_summary", at=T0 + timedelta(days=3))
    c = store.case(case["case_id"])
    # Safety work begun within 5 working days of the investigation: Wed 23 Dec.
    assert c["stage"] == "safety_work" and c["due_by"] == "2026-12-23T23:59:59Z"
    with pytest.raises(CaseError, match="unknown stage"):
        store.record_stage(case["case_id"], "asmith", "painted")


def test_dry_run_writes_nothing(store, conn):
    s = store.sync({"cold_home": result("cold_home", [1, 1, 0], [LOW, LOW, 0])}, HOUSEHOLDS, T0,
                   dry_run=True)
    assert s.opened["cold_home"] == 2
    assert conn.execute("SELECT COUNT(*) FROM cases").fetchone()[0] == 0


def test_one_open_case_per_household_and_kind_is_enforced(store, conn):
    store.sync({"cold_home": result("cold_home", [1, 0, 0], [LOW, 0, 0])}, HOUSEHOLDS, T0)
    with pytest.raises(Exception, match="UNIQUE"):
        conn.execute("INSERT INTO cases (household_id, kind, severity, score, reasons, opened_at,"
                     " updated_at) VALUES ('H000001', 'cold_home', 'low', 1, 'x', 'a', 'a')")
