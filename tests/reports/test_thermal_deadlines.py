"""Issue 13, Awaab's Law phase 2 in the weekly report: excess cold (the cold_home case) and
excess heat cases opened by the advisor's case store, with the phase 2 start date as
configuration (`awaab_hazards_from`, here brought forward to cover the report's January week),
have their deadlines counted and listed like damp and mould's.

Timescales: Hazards in Social Housing (Prescribed Requirements) (England) Regulations 2025
(advisor/awaab.py): emergency made safe within 24 hours; investigation within 10 working days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from advisor import awaab
from advisor.cases import CaseStore
from advisor.reports.weekly import weekly_report
from advisor.rules.base import EMERGENCY, HIGH, RuleResult
from hearth.registry import Registry
from hearth.settings.rooms import AdvisorSettings
from tests.reports import portfolio as pf
from tests.reports.browser import require_chromium

GENERATED = datetime(2026, 1, 12, 6, 0, tzinfo=UTC)
PHASE_2_EARLY = AdvisorSettings(awaab_hazards_from={
    "damp_mould": date(2025, 10, 27), "cold_home": date(2025, 10, 27),
    "excess_heat": date(2025, 10, 27)})


def _result(kind: str, severity: int, reason: str) -> RuleResult:
    return RuleResult(kind, np.ones(1, bool), np.full(1, severity, dtype=np.int8),
                      np.full(1, 70.0), {"value": np.zeros(1)}, lambda _: reason)


@pytest.fixture(scope="module")
def thermal(report_settings, tmp_path_factory):
    """H009: excess heat emergency on Tuesday, made safe that evening (met). H102: excess cold
    (HHSRS serious) found on Friday 19 December, investigation due in the week, not done."""
    require_chromium()
    heat_at, cold_at = pf.in_week(1, 9), datetime(2025, 12, 19, 12, tzinfo=UTC)
    with Registry(report_settings.registry.path) as reg:
        store = CaseStore(reg, PHASE_2_EARLY)
        store.sync({"excess_heat": _result("excess_heat", EMERGENCY, "Living room above 30 C"
                                           " for 6 h; household flagged as vulnerable")},
                   np.array(["H009"]), heat_at)
        store.sync({"cold_home": _result("cold_home", HIGH, "Indoor temperature below 16 C"
                                         " for 40 h (HHSRS excess cold: serious risk)")},
                   np.array(["H102"]), cold_at)
        ids = dict(reg.conn.execute("SELECT household_id, case_id FROM cases WHERE"
                                    " household_id IN ('H009', 'H102')").fetchall())
        store.record_stage(ids["H009"], "officer1", "made_safe", at=pf.in_week(1, 20))
    report = weekly_report(report_settings, tmp_path_factory.mktemp("weekly_thermal"),
                           week_end=pf.WEEK_END, generated_at=GENERATED, progress=False)
    return report, ids, heat_at, cold_at


def test_phase_2_deadlines_are_in_the_weekly_report(thermal):
    report, ids, heat_at, cold_at = thermal
    detail = pd.read_csv(report.folder / "awaab_deadline_detail.csv", keep_default_na=False,
                         na_values=[""])
    mine = detail[detail["case_id"].isin(ids.values())]
    got = sorted((r.case_id, r.kind, r.stage_due, r.outcome) for r in mine.itertuples())
    assert got == sorted([(ids["H009"], "excess_heat", "made_safe", "met"),
                          (ids["H102"], "cold_home", "investigate", "missed")])
    due = dict(zip(mine["kind"], mine["due_by"], strict=True))
    assert due["excess_heat"] == pf.iso(awaab.emergency_deadline(heat_at))
    assert due["cold_home"] == pf.iso(awaab.working_deadline(cold_at, 10))
    # The section says which hazards it covers.
    html = (report.folder / "report.html").read_text()
    assert "Awaab&#x27;s Law: hazard deadlines (damp and mould, excess cold, excess heat)" in html \
        or "Awaab's Law: hazard deadlines (damp and mould, excess cold, excess heat)" in html


def test_before_phase_2_an_excess_cold_case_has_no_clock(report_settings):
    """With the default start dates (phase 2 from 1 October 2026) the same excess cold finding
    in December 2025 opens a case without a statutory deadline."""
    with Registry(report_settings.registry.path) as reg:
        store = CaseStore(reg, AdvisorSettings())
        store.sync({"cold_home": _result("cold_home", HIGH, "Indoor temperature below 16 C"
                                         " for 40 h")}, np.array(["H103"]),
                   datetime(2025, 12, 19, 12, tzinfo=UTC))
        due, stage = reg.conn.execute("SELECT due_by, stage FROM cases WHERE household_id ="
                                      " 'H103' AND kind = 'cold_home'").fetchone()
    assert (due, stage) == (None, None)
