"""Every page with AppTest against a real registry and InfluxDB: it renders, shows the right
cases to the right person, and an officer never sees another patch."""

from __future__ import annotations

import pytest
import streamlit as st

from dashboard import data
from dashboard.users import UserStore
from hearth.registry import Registry
from tests.dashboard.conftest import new_app, page, sign_in, texts
from tests.dashboard.portfolio import PASSWORD

PAGES = ["overview", "homes", "risk_queue", "household", "damp_mould", "data_health", "messages"]


def test_every_page_needs_sign_in(portfolio):
    at = new_app().run()
    assert not at.exception
    assert "Hearth: sign in" in texts(at)
    assert not at.dataframe and not at.metric


def test_wrong_password_is_refused_and_audited(portfolio):
    settings, _ = portfolio
    at = sign_in("officer1", "not the password at all")
    assert "do not match an active account" in texts(at)
    assert "Hearth: sign in" in texts(at)
    with Registry(settings.registry.target) as reg:
        actions = [e["action"] for e in reg.audit_entries("user:officer1")]
    assert "sign_in_failed" in actions


def test_repeated_failures_pause_the_account_across_sessions(portfolio):
    settings, _ = portfolio
    with Registry(settings.registry.target) as reg:
        UserStore(reg.conn).add("paused.user", "manager", PASSWORD, [])
        for _ in range(10):
            reg.audit("someone", "sign_in_failed", "user:paused.user")
    at = sign_in("paused.user")  # the right password, in a fresh session
    assert "Sign-in is paused for 15 minutes" in texts(at)
    assert "Hearth: sign in" in texts(at)
    assert sign_in("officer1").title[0].value == "Overview"  # other accounts unaffected


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("user", ["officer1", "manager"])
def test_page_renders(portfolio, user, name):
    at = page(sign_in(user), name)
    assert not at.exception
    title = {"risk_queue": "Risk queue", "damp_mould": "Damp and mould", "homes": "Homes to act on",
             "data_health": "Data health"}.get(name, name.capitalize())
    assert at.title[0].value == title


def _queue_case_ids(at) -> set[int]:
    return set(at.dataframe[0].value["Case"].astype(int))


def test_risk_queue_shows_only_the_officers_patch(portfolio):
    _, demo = portfolio
    p1, p2 = demo.patches[:2]
    mine = _queue_case_ids(page(sign_in("officer1"), "risk_queue"))
    assert mine == set(demo.cases[p1])
    assert not mine & set(demo.cases[p2])
    theirs = _queue_case_ids(page(sign_in("officer2"), "risk_queue"))
    assert theirs == set(demo.cases[p2])
    everything = _queue_case_ids(page(sign_in("manager"), "risk_queue"))
    assert everything >= set(demo.cases[p1]) | set(demo.cases[p2])


def test_risk_queue_opens_on_what_to_do_first_with_reasons(portfolio):
    # Deadline first (the overdue damp case, then the emergency due in 20 hours), then
    # severity for the cases without a deadline.
    at = page(sign_in("officer1"), "risk_queue")
    table = at.dataframe[0].value
    assert "OVERDUE" in table["Due"].iloc[0] and table["Urgency"].iloc[0] == "▲ High"
    assert table["Urgency"].iloc[1] == "‼ Emergency"
    assert "humidity above 90 %" in table["Why"].iloc[1]
    assert table["Urgency"].iloc[2] == "▲ High" and "Credit" in table["Why"].iloc[2]


def test_risk_queue_filters(portfolio):
    at = page(sign_in("officer1"), "risk_queue")
    at.multiselect[0].select("damp_mould").run()
    kinds = set(at.dataframe[0].value["Kind"])
    assert kinds == {"Damp and mould"}
    at.text_input[0].input("counter went backwards").run()
    assert len(at.dataframe[0].value) == 0


def test_household_of_another_patch_is_refused(portfolio):
    _, demo = portfolio
    other = demo.homes_by_patch[demo.patches[1]][0]
    at = sign_in("officer1")
    at.session_state["household_id"] = other
    at = page(at, "household")
    shown = texts(at)
    assert f"No home {other} on your patches" in shown
    assert not at.get("plotly_chart")
    assert "Tenant contact" not in shown


def test_household_page_shows_readings_forecast_and_cases(portfolio):
    _, demo = portfolio
    home = demo.detailed[0]
    at = sign_in("officer1")
    at.session_state["household_id"] = home
    at = page(at, "household")
    shown = texts(at)
    assert f"Home {home}" in shown
    assert "Forecast bill, next 30 days" in shown and "kWh over 30 days" in shown
    assert "Credit running out" in shown
    assert len(at.get("plotly_chart")) >= 2
    assert "days at the forecast" in shown  # prepayment: days of credit left
    at.radio(key="usage_view").set_value("Half hours: 7 days back, 7 days ahead").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) >= 2


def test_silent_home_says_what_to_do(portfolio):
    _, demo = portfolio
    at = sign_in("officer1")
    at.session_state["household_id"] = demo.silent_home
    at = page(at, "household")
    assert "No readings from this home since" in texts(at)
    assert "the meter may be offline" in texts(at)


def test_overview_counts(portfolio):
    _, demo = portfolio
    data.device_status(None)  # the portfolio figures, as the background refresh makes them
    data.forecast_cost(None)
    at = page(sign_in("officer1"), "overview")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Homes"] == f"{len(demo.homes_by_patch[demo.patches[0]]):,}"
    assert metrics["Open cases"] == str(len(demo.cases[demo.patches[0]]))
    assert metrics["Damp and mould overdue"] == "1"
    assert metrics["Forecast cost, next 30 days"].startswith("£")
    reporting, total = metrics["Devices reporting"].split(" of ")
    assert int(total.replace(",", "")) - int(reporting.replace(",", "")) >= 1  # the silent home
    assert "past the Awaab's Law deadline" in texts(at)
    assert len(at.get("plotly_chart")) == 1  # the weekly trend of open cases


def test_damp_page_overdue_first(portfolio):
    _, demo = portfolio
    at = page(sign_in("officer1"), "damp_mould")
    table = at.dataframe[0].value
    assert int(table["Case"].iloc[0]) == demo.damp_overdue_case
    assert table["Clock"].iloc[0].startswith("⚠ OVERDUE by")
    assert table["Clock"].iloc[1].startswith("Due in")


def test_data_health_lists_the_silent_home(portfolio):
    settings, demo = portfolio
    dl = settings.collectors.dead_letter_dir
    dl.mkdir(parents=True, exist_ok=True)
    (dl / "mqtt.jsonl").write_text('{"time": "2026-01-05T09:40:00Z", "reason": "payload is not '
                                   'JSON", "payload": "garbage"}\n')
    st.cache_data.clear()  # the dead letters are cached for a minute
    at = page(sign_in("officer1"), "data_health")
    shown = texts(at)
    assert demo.silent_home in shown
    assert "payload is not JSON" in shown
    assert "the collectors do not answer" in shown  # no collectors running in this test


def test_messages_page(portfolio):
    at = page(sign_in("officer1"), "messages")
    shown = texts(at)
    assert "✔ Delivered" in shown and "No consent to texts" in shown


def test_messages_page_shows_replies_and_failing_numbers(portfolio):
    """Two-way SMS on the officers' page: a tenant's message with its home, waiting for an
    officer; a number that fails (data-quality task); an outbox text is never 'Delivered'."""
    _, demo = portfolio
    at = page(sign_in("manager"), "messages")
    shown = texts(at)
    assert "The boiler makes a banging noise at night" in shown
    assert "For an officer to answer" in shown and "waiting for an officer" in shown
    assert demo.failing_number_home in shown and "cannot be reached" in shown
    import re

    def waiting(text: str) -> int:
        return int(re.search(r"([\d,]+) waiting for an officer", text).group(1))

    before = waiting(shown)
    mark = next(b for b in at.button if b.label == "Mark as dealt with")
    mark.click().run()
    shown = texts(at)
    assert "by manager" in shown                     # the reply is marked, with who
    assert waiting(shown) == before - 1


def test_portfolio_figures_never_block_the_overview():
    """Before the first background computation ends a page gets None at once (and shows
    'being calculated'); afterwards the latest figures, refreshed in the background."""
    import threading
    import time

    import pandas as pd

    gate = threading.Event()
    calls = []

    def slow() -> pd.DataFrame:
        gate.wait(10)
        calls.append(1)
        return pd.DataFrame({"n": [len(calls)]})

    s = data.PortfolioSummaries(refresh_s=0.2)
    s.register("x", slow)
    t0 = time.monotonic()
    assert s.get("x", wait=False) is None
    assert time.monotonic() - t0 < 0.5
    gate.set()
    deadline = time.monotonic() + 5
    while s.get("x", wait=False) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    first = s.get("x", wait=False)
    assert first is not None
    time.sleep(0.6)
    assert s.get("x", wait=False)["n"].iloc[0] > first["n"].iloc[0]  # refreshed


def test_background_refresh_calls_no_streamlit_cache(portfolio, monkeypatch):
    """The refresh thread has no script run context: a cached function called from it makes
    Streamlit log 'missing ScriptRunContext' on every refresh. Its computations are bound to
    the client and registry path when the summaries are made, in a script run."""
    import threading

    sign_in("officer1")  # the sign-in page makes the summaries (and starts the refresh)
    summaries = data._summaries()

    def cached(*_args, **_kwargs):
        raise AssertionError("a Streamlit-cached function called from the refresh thread")

    for name in ("influx", "settings", "connect", "_schema_ready"):
        monkeypatch.setattr(data, name, cached)
    results = {}

    def refresh_all():
        for name in ("last_seen", "forecast_cost"):
            results[name] = summaries._compute[name]()

    thread = threading.Thread(target=refresh_all)
    thread.start()
    thread.join(60)
    assert set(results) == {"last_seen", "forecast_cost"}
    assert len(results["last_seen"]) and len(results["forecast_cost"])


def test_failed_sign_ins_from_one_address_pause_every_account_from_it(portfolio):
    settings, _ = portfolio
    from unittest import mock

    with Registry(settings.registry.target) as reg:
        for i in range(30):
            reg.audit("someone", "sign_in_failed", f"user:guess{i}", {"address": "198.51.100.7"})
    with mock.patch("dashboard.auth._address", return_value="198.51.100.7"):
        at = sign_in("officer1")  # the right password, from the guessing address
        assert "Sign-in is paused for 15 minutes" in texts(at)
    with Registry(settings.registry.target) as reg:
        last = reg.audit_entries("user:officer1", limit=1)[0]
    assert last["action"] == "sign_in_refused_paused" and last["detail"]["by"] == "address"
    with mock.patch("dashboard.auth._address", return_value="198.51.100.8"):
        assert sign_in("officer1").title[0].value == "Overview"  # another address is not paused


def test_a_new_browser_session_resumes_the_sign_in_until_sign_out(portfolio):
    """A reload or a bookmark opens a new Streamlit session: the cookie's token finds the
    sign-in again; after sign-out (or a password change) the same token signs nobody in."""
    settings, _ = portfolio
    from unittest import mock

    from dashboard import auth

    first = sign_in("officer1")
    token = first.session_state[auth.TOKEN_KEY]
    cookie_scripts = [h.proto.body for h in first.get("html") if "document.cookie" in h.proto.body]
    assert cookie_scripts and token in cookie_scripts[0] and "SameSite=Strict" in cookie_scripts[0]
    with mock.patch("dashboard.auth._cookie_token", return_value=token):
        again = new_app().run()
        assert again.title[0].value == "Overview", texts(again)
        again.sidebar.button(key="sign_out").click().run()
        assert "Hearth: sign in" in texts(again)
        assert "Hearth: sign in" in texts(new_app().run())
    with Registry(settings.registry.target) as reg:
        rows = reg.conn.execute("SELECT token_sha256, revoked_at FROM dashboard_sessions "
                                "WHERE username = 'officer1'").fetchall()
        methods = [e["detail"].get("method") for e in reg.audit_entries("user:officer1")
                   if e["action"] == "signed_in"]
    assert all(token not in r[0] for r in rows)  # only hashes are stored
    assert any(r[1] is not None for r in rows) and "session" in methods

    second = sign_in("officer1")
    token2 = second.session_state[auth.TOKEN_KEY]
    with Registry(settings.registry.target) as reg:
        UserStore(reg.conn).set_password("officer1", PASSWORD)
    with mock.patch("dashboard.auth._cookie_token", return_value=token2):
        assert "Hearth: sign in" in texts(new_app().run())


def test_an_expired_session_is_not_resumed(portfolio):
    settings, _ = portfolio
    from datetime import UTC, datetime, timedelta
    from unittest import mock

    from dashboard.sessions import SessionStore

    with Registry(settings.registry.target) as reg:
        old, _ = SessionStore(reg.conn).create("officer1", timedelta(minutes=5),
                                               now=datetime.now(UTC) - timedelta(hours=1))
    with mock.patch("dashboard.auth._cookie_token", return_value=old):
        assert "Hearth: sign in" in texts(new_app().run())
