"""Issue 13, Awaab's Law phase 2 on the dashboard: excess cold (the cold_home case) and excess
heat cases opened by the advisor's own case store carry their statutory deadline in the risk
queue, and an officer records the investigation there, which starts the next step's clock.

Timescales: Hazards in Social Housing (Prescribed Requirements) (England) Regulations 2025
(advisor/awaab.py); excess cold and excess heat are on the clock from `awaab_hazards_from`
(config/hearth.toml: 2026-10-01)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from advisor import awaab
from advisor.cases import CaseStore
from advisor.rules.base import HIGH, MEDIUM, RuleResult
from hearth.registry import Registry
from hearth.settings.rooms import AdvisorSettings
from tests.dashboard.conftest import page, sign_in, texts


def _result(kind: str, n: int, severity: int, reason: str) -> RuleResult:
    return RuleResult(kind, np.ones(n, bool), np.full(n, severity, dtype=np.int8),
                      np.full(n, 60.0), {"value": np.zeros(n)}, lambda _: reason)


def _open_thermal_cases(settings, homes: list[str], now: datetime) -> dict[str, int]:
    """The advisor's path: CaseStore.sync with a cold-home (HHSRS serious) and an excess-heat
    result, as `hearth advise` opens them."""
    with Registry(settings.registry.path) as reg:
        store = CaseStore(reg, AdvisorSettings())
        store.sync({"cold_home": _result("cold_home", 1, HIGH, "Indoor temperature below 16 C"
                                         " for 30 h (HHSRS excess cold: serious risk)")},
                   np.array(homes[:1]), now)
        store.sync({"excess_heat": _result("excess_heat", 1, MEDIUM, "Living room above 28 C"
                                           " for 9 h (CIBSE TM59, adapted)")},
                   np.array(homes[1:2]), now)
        rows = reg.conn.execute("SELECT kind, case_id FROM cases WHERE household_id IN (?, ?)"
                                " AND kind IN ('cold_home', 'excess_heat')"
                                " AND status = 'open'", homes[:2]).fetchall()
    return {k: int(c) for k, c in rows}


def test_excess_cold_and_heat_cases_carry_their_deadline_and_take_steps(portfolio):
    settings, demo = portfolio
    now = datetime.now(UTC).replace(microsecond=0)
    p1 = demo.patches[0]
    busy = set(demo.case_homes.values())
    homes = [h for h in demo.homes_by_patch[p1] if h not in busy][:2]
    ids = _open_thermal_cases(settings, homes, now)
    assert set(ids) == {"cold_home", "excess_heat"}
    due = awaab.working_deadline(now, AdvisorSettings().awaab_investigate_working_days)

    at = page(sign_in("officer1"), "risk_queue")
    table = at.dataframe[0].value.set_index("Case")
    for cid in ids.values():
        assert table.loc[cid, "Due"].startswith("Due in"), table.loc[cid, "Due"]
    with Registry(settings.registry.path) as reg:
        got = dict(reg.conn.execute("SELECT kind, due_by FROM cases WHERE case_id IN (?, ?)",
                                    tuple(ids.values())).fetchall())
    assert got == {k: due.strftime("%Y-%m-%dT%H:%M:%SZ") for k in ids}

    # The officer records the investigation of the excess cold case from the queue.
    at.selectbox(key="queue_case").select(ids["cold_home"]).run()
    assert "Awaab's Law clock:" in texts(at) and "Stage:" in texts(at)
    step = next(s for s in at.selectbox if s.label == "Awaab's Law: step done")
    step.select("investigate")
    at.button(key="FormSubmitter:queue_awaab_step-Record step").click().run()
    assert not at.exception, at.exception
    assert "Investigation concluded recorded" in texts(at)
    with Registry(settings.registry.path) as reg:
        stage, due_by = reg.conn.execute("SELECT stage, due_by FROM cases WHERE case_id = ?",
                                         (ids["cold_home"],)).fetchone()
        (done_at,) = reg.conn.execute("SELECT at FROM case_events WHERE case_id = ? AND"
                                      " action = 'stage'", (ids["cold_home"],)).fetchone()
    # Written summary within 3 working days of the investigation concluding.
    concluded = datetime.fromisoformat(done_at.replace("Z", "+00:00"))
    assert stage == "written_summary"
    assert due_by == awaab.working_deadline(
        concluded, AdvisorSettings().awaab_summary_working_days).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_case_without_a_clock_takes_no_awaab_step(portfolio):
    from dashboard import actions
    from dashboard.users import UserStore

    settings, demo = portfolio
    p1 = demo.patches[0]
    with Registry(settings.registry.path) as reg:
        cid, = reg.conn.execute("SELECT case_id FROM cases c JOIN households h USING"
                                " (household_id) WHERE h.patch = ? AND c.kind = 'bill_shock'",
                                (p1,)).fetchone()
        user = UserStore(reg.conn).get("officer1")
    try:
        actions.record_stage(user, int(cid), "investigate")
    except actions.ActionError as exc:
        assert "not on an Awaab's Law clock" in str(exc)
    else:
        raise AssertionError("a bill shock case has no Awaab's Law step")
