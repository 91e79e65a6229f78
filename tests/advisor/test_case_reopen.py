"""Resolved cases stay closed (issue 15) over the real registry (a SQLite file with every
migration): an officer's resolve or dismiss holds on the next runs unless the situation got
worse than when it was closed, or the quiet period passed; a case that comes back links the
earlier one, says why, and starts its own Awaab's Law clock. And the message log: a refused
tip is logged once with its reason, not once per hourly run."""

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from advisor import reopen
from advisor.cases import CaseStore
from advisor.notify import TipDispatcher
from advisor.notify.outbox import OutboxSender
from advisor.rules.base import HIGH, LOW, MEDIUM, RuleResult
from hearth.settings.rooms import AdvisorSettings, NotifierSettings

from .conftest import add_household, add_tenant

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # Thursday 3 Dec 2026
H = np.array(["H000001", "H000002"])


def cold(lowest_c, severity=MEDIUM):
    """A cold_home result for H000001 only, with the numbers the rule compares (its bars:
    18 °C UKHSA, 16 °C severe, 10 °C HHSRS great risk; advisor/rules/cold_home.py)."""
    return {"cold_home": RuleResult(
        "cold_home", np.array([True, False]), np.array([severity, 0]), np.array([60.0, 0]),
        {"lowest_c": np.array([lowest_c, 19.0]), "bar_c": np.full(2, 18.0),
         "severe_c": np.full(2, 16.0), "great_c": np.full(2, 10.0), "cold_h": np.full(2, 30.0)},
        lambda d: f"lowest {d['lowest_c']:.1f} °C")}


def rationing(flagged=True):
    """A self_rationing result (not an Awaab's Law hazard: it closes by itself when clear)."""
    return {"self_rationing": RuleResult(
        "self_rationing", np.array([flagged, False]), np.array([MEDIUM if flagged else 0, 0]),
        np.array([50.0 if flagged else 0, 0]),
        {"share": np.array([0.3, 1.0]), "cold_h": np.array([20.0, 0]), "days": np.full(2, 7)},
        lambda d: f"heating fuel {100 * d['share']:.0f} % of what the weather calls for")}


def damp(max_rh_pct, severity=MEDIUM, condensation_h=0.0):
    return {"damp_mould": RuleResult(
        "damp_mould", np.array([True, False]), np.array([severity, 0]), np.array([55.0, 0]),
        {"max_rh_pct": np.array([max_rh_pct, 50.0]),
         "condensation_h": np.array([condensation_h, 0.0])},
        lambda d: f"humidity up to {d['max_rh_pct']:.0f} %")}


@pytest.fixture
def store(conn):
    for h in H:
        add_household(conn, h)
    return CaseStore(conn, AdvisorSettings(reopen_quiet_days=14,
                                           reopen_quiet_days_by_kind={"damp_mould": 3}))


def only_case(store, kind):
    rows = [dict(r) for r in store.conn.execute(
        "SELECT * FROM cases WHERE kind = ? ORDER BY case_id", (kind,))]
    return rows


def test_resolved_case_stays_closed_while_no_worse(store):
    store.sync(cold(16.8), H, T0)
    (case,) = store.open_cases()
    store.resolve(case["case_id"], "officer1", "heating repaired", at=T0 + timedelta(hours=1))
    # Twelve minutes later, an hour later, a week later: the same situation.
    for later in (timedelta(hours=1, minutes=12), timedelta(hours=2), timedelta(days=7)):
        s = store.sync(cold(16.5), H, T0 + later)
        assert s.opened["cold_home"] == 0 and s.kept_closed["cold_home"] == 1
    assert store.open_cases() == []
    assert len(only_case(store, "cold_home")) == 1


def test_colder_band_reopens_with_reason_and_link(store):
    store.sync(cold(16.8), H, T0)
    (case,) = store.open_cases()
    store.resolve(case["case_id"], "officer1", "heating repaired", at=T0 + timedelta(hours=1))
    s = store.sync(cold(14.2), H, T0 + timedelta(days=2))
    assert s.opened["cold_home"] == 1 and s.reopened["cold_home"] == 1
    (new,) = store.open_cases()
    assert new["reopened_from"] == case["case_id"]
    assert new["reopen_reason"] == "colder than when resolved on 3 Dec: 14.2 °C against 16.8 °C"
    (opened,) = store.history(new["case_id"])
    assert opened["detail"].startswith(f"reopened after case {case['case_id']}: colder than")


def test_reason_names_the_uk_day_it_was_resolved(store):
    """Resolved at 23:30 UTC on 1 June, which is 00:30 BST on 2 June: the officer resolved it
    on 2 June, and the reason says so (CI once ran this flow across midnight)."""
    t0 = datetime(2026, 6, 1, 22, 0, tzinfo=UTC)
    store.sync(cold(16.8), H, t0)
    (case,) = store.open_cases()
    store.resolve(case["case_id"], "officer1", "heating repaired", at=t0 + timedelta(minutes=90))
    store.sync(cold(14.2), H, t0 + timedelta(days=2))
    (new,) = store.open_cases()
    assert new["reopen_reason"] == "colder than when resolved on 2 Jun: 14.2 °C against 16.8 °C"


def test_higher_severity_reopens_a_dismissed_case(store):
    store.sync(cold(16.8, LOW), H, T0)
    (case,) = store.open_cases()
    store.dismiss(case["case_id"], "officer1", "tenant away", at=T0)
    s = store.sync(cold(16.9, HIGH), H, T0 + timedelta(hours=3))
    assert s.reopened["cold_home"] == 1
    (new,) = store.open_cases()
    assert new["reopen_reason"] == "more urgent than when dismissed on 3 Dec: high against low"


def test_quiet_period_per_kind_then_reopens(store):
    store.sync(damp(80.0), H, T0)
    (case,) = store.open_cases()
    store.resolve(case["case_id"], "officer1", "extractor fan fitted", at=T0)
    assert store.sync(damp(81.0), H, T0 + timedelta(days=2, hours=23)).kept_closed[
        "damp_mould"] == 1
    s = store.sync(damp(81.0), H, T0 + timedelta(days=3))  # damp_mould's quiet period: 3 days
    assert s.reopened["damp_mould"] == 1
    (new,) = store.open_cases()
    assert new["reopen_reason"] == (f"quiet period of 3 days ended (case {case['case_id']}"
                                    " resolved on 3 Dec)")


def test_reopened_hazard_case_starts_its_own_awaab_clock(store):
    store.sync(damp(80.0), H, T0)
    (case,) = store.open_cases()
    assert case["due_by"] == "2026-12-17T23:59:59Z"  # end of the 10th working day from Thu 3 Dec
    store.resolve(case["case_id"], "officer1", "extractor fan fitted", at=T0)
    later = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # Monday
    store.sync(damp(92.0), H, later)  # a higher humidity band: worse
    (new,) = store.open_cases()
    assert new["reopen_reason"] == "more humid than when resolved on 3 Dec: 92 % against 80 %"
    assert new["due_by"] == "2026-12-21T23:59:59Z" and new["stage"] == "investigate"
    deadlines = [e["due_by"] for e in store.history(new["case_id"])]
    assert deadlines == ["2026-12-21T23:59:59Z"]
    assert store.case(case["case_id"])["due_by"] == "2026-12-17T23:59:59Z"  # untouched


def test_auto_closed_case_comes_back_linked(conn):
    add_household(conn, "H000001")
    add_household(conn, "H000002")
    store = CaseStore(conn, AdvisorSettings(auto_close_h=2))
    store.sync(rationing(), H, T0)
    store.sync(rationing(False), H, T0 + timedelta(hours=1))
    store.sync(rationing(False), H, T0 + timedelta(hours=3))
    (first,) = only_case(store, "self_rationing")
    assert first["status"] == "resolved"
    store.sync(rationing(), H, T0 + timedelta(hours=4))
    (new,) = store.open_cases()
    assert new["reopened_from"] == first["case_id"]
    assert new["reopen_reason"] == (f"came back after it cleared (case {first['case_id']}"
                                    " closed by itself on 3 Dec)")


def test_dry_run_counts_but_writes_nothing(store):
    store.sync(cold(16.8), H, T0)
    (case,) = store.open_cases()
    store.resolve(case["case_id"], "officer1", "fixed", at=T0)
    s = store.sync(cold(12.0), H, T0 + timedelta(hours=1), dry_run=True)
    assert s.reopened["cold_home"] == 1 and store.open_cases() == []


@pytest.mark.parametrize(("kind", "old", "new", "expected"), [
    ("self_disconnection", {"off_h": 4.0}, {"off_h": 4.5}, None),
    ("self_disconnection", {"off_h": 4.0}, {"off_h": 7.5},
     "more hours off supply than when resolved on 3 Dec: 7.5 h against 4.0 h"),
    ("money", {"credit_runout.fired": True}, {"credit_runout.fired": True}, None),
    ("money", {"credit_runout.fired": True},
     {"credit_runout.fired": True, "bill_shock.fired": True},
     "a new reason since resolved on 3 Dec: a bill shock"),
    ("damp_mould", {"max_rh_pct": 84, "condensation_h": 0}, {"max_rh_pct": 88,
                                                             "condensation_h": 2.5},
     "condensation now (2.5 h), none when resolved on 3 Dec"),
    ("device_fault", {"n_silent": 1, "n_stuck": 0}, {"n_silent": 1, "n_stuck": 2},
     "more devices at fault than when resolved on 3 Dec: 3 against 1"),
    ("excess_heat", {"living_hit": True}, {"living_hit": True, "bedroom_hit": True},
     "now too hot in the bedroom room, not so when resolved on 3 Dec"),
    ("cold_home", {"lowest_c": float("nan")}, {"lowest_c": 12.0}, None),
    ("self_rationing", {"share": 0.4}, {"share": 0.2}, None),  # severity only
])
def test_worse_per_risk(kind, old, new, expected):
    assert reopen.worse(kind, "medium", old, "medium", new, "resolved on 3 Dec") == expected


def test_quiet_period_settings_are_validated():
    with pytest.raises(ValidationError, match="unknown case kind 'damp'"):
        AdvisorSettings(reopen_quiet_days_by_kind={"damp": 3})
    with pytest.raises(ValidationError):
        AdvisorSettings(reopen_quiet_days=-1)
    assert AdvisorSettings().reopen_quiet_days == 14.0


# ------------------------------------------------------------- the message log


def test_refused_tip_is_logged_once_not_every_run(conn, tmp_path):
    for h in H:
        add_household(conn, h)
    add_tenant(conn, "T2", "H000001", None, consent=False)
    store = CaseStore(conn, AdvisorSettings(auto_close_h=1))
    outbox = OutboxSender(tmp_path / "outbox.jsonl")
    noon = datetime(2026, 12, 14, 12, 0, tzinfo=UTC)
    # Hourly runs for a day; the case even closes by itself and comes back in between.
    for hour in range(24):
        at = noon + timedelta(hours=hour)
        store.sync(rationing(hour not in (5, 6, 7)), H, at)
        TipDispatcher(conn, NotifierSettings(quiet_start="00:00", quiet_end="00:00"), outbox,
                      at).run()
    assert len(only_case(store, "self_rationing")) == 2  # auto-closed once, came back once
    log = [dict(r) for r in conn.execute("SELECT * FROM sms_log")]
    assert [(m["status"], m["skip_reason"]) for m in log] == [("skipped", "no_consent")]
    # Consent given: the tip goes; withdrawn again: one new row with the reason.
    conn.execute("UPDATE tenants SET sms_consent = 1, mobile = '+447700900123', sms_consent_at ="
                 " '2026-12-15T12:30:00Z', sms_consent_source = 'phone_call'")
    at = noon + timedelta(hours=25)
    store.sync(rationing(), H, at)
    assert TipDispatcher(conn, NotifierSettings(), outbox, at).run().total_sent() == 1
    conn.execute("UPDATE tenants SET opted_out_at = '2026-12-15T14:00:00Z'")
    for hour in range(26, 30):
        at = noon + timedelta(hours=hour)
        store.sync(rationing(), H, at)
        TipDispatcher(conn, NotifierSettings(), outbox, at).run()
    statuses = [r[0] for r in conn.execute("SELECT status FROM sms_log ORDER BY message_id")]
    assert statuses == ["skipped", "outbox"]  # the sent case is not considered again
    assert json.loads(outbox.path.read_text().splitlines()[0])["reference"].startswith(
        "hearth-case-")
