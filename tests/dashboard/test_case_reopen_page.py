"""The case page of a reopened case (issue 15), with AppTest against the real registry and
InfluxDB of the dashboard's portfolio: it says why the case came back and opens the earlier
case, with how it was closed and its history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import streamlit as st

from advisor.cases import CaseStore
from advisor.rules.base import MEDIUM, RuleResult
from hearth.registry import Registry
from tests.dashboard.conftest import page, sign_in, texts


def cold(household_id: str, lowest_c: float) -> tuple[dict, np.ndarray]:
    """A cold_home assessment of one home with the numbers the rule compares (bars 18, 16 and
    10 °C, advisor/rules/cold_home.py)."""
    result = RuleResult(
        "cold_home", np.array([True]), np.array([MEDIUM]), np.array([60.0]),
        {"lowest_c": np.array([lowest_c]), "bar_c": np.array([18.0]),
         "severe_c": np.array([16.0]), "great_c": np.array([10.0])},
        lambda d: f"lowest temperature {d['lowest_c']:.1f} °C")
    return {"cold_home": result}, np.array([household_id])


def reopened_case(settings, demo) -> tuple[int, int, str]:
    """Resolve a cold-home case of officer1's patch, then an advisor run finds it colder."""
    with Registry(settings.registry.path) as reg:
        store = CaseStore(reg.conn)
        open_kinds = {(r["household_id"], r["kind"]) for r in store.open_cases()}
        home = next(h for h in demo.homes_by_patch[demo.patches[0]]
                    if (h, "cold_home") not in open_kinds)
        t0 = datetime.now(UTC) - timedelta(days=2)
        store.sync(*cold(home, 16.8), now=t0)
        first = store.open_case_for(home, "cold_home")["case_id"]
        resolved_at = t0 + timedelta(hours=1)
        store.resolve(first, "officer1", "Radiator valve replaced", at=resolved_at)
        store.sync(*cold(home, 16.6), now=t0 + timedelta(hours=2))
        assert store.open_case_for(home, "cold_home") is None  # no worse: stays closed
        store.sync(*cold(home, 14.2), now=t0 + timedelta(days=1))
        second = store.open_case_for(home, "cold_home")["case_id"]
    st.cache_data.clear()
    local = resolved_at.astimezone(ZoneInfo("Europe/London"))  # the day the officer resolved it
    return first, second, f"{local.day} {local:%b}"


def test_case_page_shows_reopen_reason_and_opens_the_earlier_case(portfolio):
    settings, demo = portfolio
    first, second, day = reopened_case(settings, demo)
    at = page(sign_in("officer1"), "risk_queue")
    at.selectbox(key="queue_case").select(second).run()
    assert not at.exception, at.exception
    shown = texts(at).replace("\\", "")  # md_text escapes punctuation
    assert (f"Reopened: colder than when resolved on {day}: 14.2 °C against 16.8 °C."
            f" Earlier case: {first}.") in shown
    assert "Radiator valve replaced" not in shown  # the earlier case is not open yet
    at.toggle(key=f"earlier_{second}").set_value(True).run()
    assert not at.exception, at.exception
    shown = texts(at).replace("\\", "")
    assert f"Case {first}" in shown and "Resolved" in shown
    assert "Radiator valve replaced" in shown  # how it was closed, and its history
    assert "lowest temperature 16.8 °C" in shown  # what it said when closed


def test_advise_twice_keeps_resolved_cases_closed(portfolio):
    """`hearth advise` twice over the portfolio's readings in the real InfluxDB: what the
    officer resolved after the first run is not opened again twelve minutes later."""
    from advisor.service import run_advice

    settings, _ = portfolio
    now = datetime.now(UTC).replace(microsecond=0)
    first = run_advice(settings, now, send_tips=False)
    with Registry(settings.registry.path) as reg:
        store = CaseStore(reg.conn, settings.advisor)
        flagged_open = [c for c in store.open_cases()
                        if not c["reasons"].startswith("Tenant reported")]
        assert flagged_open, first.table()
        for c in flagged_open:
            store.resolve(c["case_id"], "officer1", "Visited, sorted", at=now)
        before = reg.conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    second = run_advice(settings, now + timedelta(minutes=12), send_tips=False)
    with Registry(settings.registry.path) as reg:
        after = reg.conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        statuses = {r[0] for r in reg.conn.execute(
            f"SELECT status FROM cases WHERE case_id IN ({','.join('?' * len(flagged_open))})",
            [c["case_id"] for c in flagged_open])}
    kept = sum(second.cases.kept_closed.values())
    with Registry(settings.registry.path) as reg:
        again = reg.conn.execute(
            "SELECT kind, reopen_reason FROM cases WHERE reopened_from IN"
            f" ({','.join('?' * len(flagged_open))})",
            [c["case_id"] for c in flagged_open]).fetchall()
    # Twelve minutes later the same readings are no worse: nothing is opened again, except a
    # device fault whose devices went on being silent, so that more of them now are (time
    # passes with no new readings in this portfolio): worse, and said so.
    assert all(k == "device_fault" and r.startswith("more devices at fault than when resolved")
               for k, r in again), second.table()
    assert after == before + len(again), second.table()
    assert kept > 0 and statuses == {"resolved"}
    assert "Resolved cases kept closed" in second.table()
