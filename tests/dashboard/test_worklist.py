"""The officer's worklist: one row per home in the order to act, and "Start here" counts
(pure functions on frames; the pages are checked against the real registry below)."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.worklist import homes_queue, start_here
from tests.dashboard.conftest import page, sign_in, texts

NOW = pd.Timestamp("2026-12-03T10:00:00Z")


def _cases(rows):
    cols = ["case_id", "household_id", "patch", "estate", "vulnerable", "kind", "severity",
            "due_by", "officer", "opened_at"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


CASES = _cases([
    (1, "H1", "North", "Elm", 0, "bill_shock", "medium", None, None, "2026-12-01T09:00:00Z"),
    (2, "H1", "North", "Elm", 0, "damp_mould", "high", "2026-12-10T17:00:00Z", "ann",
     "2026-12-01T09:00:00Z"),
    (3, "H2", "North", "Oak", 1, "cold_home", "high", "2026-12-10T17:00:00Z", None,
     "2026-12-03T08:00:00Z"),
    (4, "H3", "North", "Oak", 0, "excess_cold", "emergency", "2026-12-03T09:00:00Z", None,
     "2026-12-02T09:00:00Z"),
    (5, "H4", "North", "Ash", 1, "device_fault", "low", None, "bob", "2026-11-20T09:00:00Z"),
    (6, "H2", "North", "Oak", 1, "credit_runout", "emergency", "2026-12-03T20:00:00Z", None,
     "2026-12-03T09:30:00Z"),
])


def test_one_row_per_home_in_the_order_to_act():
    homes = homes_queue(CASES, pd.DataFrame({"household_id": ["H1"],
                                             "last_contact_at": ["2026-12-02T12:00:00Z"]}))
    assert list(homes["household_id"]) == ["H3", "H2", "H1", "H4"]  # overdue, due today, ...
    h2 = homes.set_index("household_id").loc["H2"]
    assert h2["open_cases"] == 2 and h2["severity"] == "emergency" and h2["vulnerable"]
    assert h2["kinds"] == ("credit_runout", "cold_home")       # most urgent first
    assert h2["earliest_due"] == pd.Timestamp("2026-12-03T20:00:00Z") and h2["owners"] == ()
    h1 = homes.set_index("household_id").loc["H1"]
    assert h1["owners"] == ("ann",) and h1["last_contact_at"] == pd.Timestamp("2026-12-02T12:00Z")
    assert pd.isna(homes.set_index("household_id").loc["H4", "last_contact_at"])


def test_same_deadline_goes_to_the_more_urgent_then_the_vulnerable():
    c = _cases([(1, "A", "P", "E", 0, "damp_mould", "high", "2026-12-10T17:00:00Z", None, "x"),
                (2, "B", "P", "E", 1, "damp_mould", "high", "2026-12-10T17:00:00Z", None, "x"),
                (3, "C", "P", "E", 0, "damp_mould", "emergency", "2026-12-10T17:00:00Z", None, "x")])
    assert list(homes_queue(c)["household_id"]) == ["C", "B", "A"]


def test_no_cases_gives_an_empty_queue_and_zero_counts():
    empty = CASES.iloc[0:0]
    assert homes_queue(empty).empty
    assert all(t.count == 0 for t in start_here(empty, NOW, NOW + pd.Timedelta(hours=14), "ann"))


def test_start_here_counts_in_order():
    todos = start_here(CASES, NOW, pd.Timestamp("2026-12-04T00:00:00Z"), "ann")
    got = {t.key: t.case_ids for t in todos}
    assert [t.key for t in todos] == ["overdue", "due_today", "emergency_unowned", "mine", "new"]
    assert got == {"overdue": (4,), "due_today": (6,), "emergency_unowned": (4, 6), "mine": (2,),
                   "new": (3, 6)}


# -- the pages, against the real registry and InfluxDB -------------------------------------------

@pytest.mark.parametrize("user", ["officer1", "manager"])
def test_homes_page_has_one_row_per_home_with_open_cases(portfolio, user):
    _, demo = portfolio
    at = page(sign_in(user), "homes")
    table = at.dataframe[0].value
    assert table["Home"].is_unique
    mine = {demo.case_homes[c] for p, ids in demo.cases.items() for c in ids
            if user == "manager" or p == demo.officers[user]}
    open_homes = set(table["Home"])
    assert open_homes <= mine | set(demo.case_homes.values())
    if user == "officer1":
        other = set(demo.homes_by_patch[demo.patches[1]])
        assert not open_homes & other, "another patch's home is listed"
    at.button(key="homes_open").click().run()
    assert not at.exception
    assert at.title[0].value == "Household"


def test_start_here_opens_the_queue_on_those_cases_and_bulk_acknowledge(portfolio):
    settings, _ = portfolio
    at = page(sign_in("officer1"), "overview")
    assert "Start here" in texts(at)
    buttons = [b for b in at.button if b.key and b.key.startswith("start_")]
    assert buttons, texts(at)
    buttons[0].click().run()
    assert not at.exception
    assert at.title[0].value == "Risk queue" and "Showing:" in texts(at)
    at = page(at, "risk_queue")  # AppTest's next run goes back to its own page unless told
    shown = list(at.dataframe[0].value["Case"].astype(int))
    at.multiselect(key="bulk_cases").select(shown[0]).run()
    at.button(key="bulk_ack").click().run()
    assert "1 case acknowledged." in texts(at)
    from hearth.registry import Registry

    with Registry(settings.registry.target) as reg:
        status = reg.conn.execute("SELECT status, officer FROM cases WHERE case_id = ?",
                                  (shown[0],)).fetchone()
    assert tuple(status) == ("acknowledged", "officer1")
