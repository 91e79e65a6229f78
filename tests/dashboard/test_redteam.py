"""Red-team findings on the dashboard, each a test that failed before its fix: a session ended
in the registry (password changed, account disabled, signed out in another tab) must end the
browser tab that is still open too; personal data typed into a resolve or dismiss note is
masked like a case note's (issue 15: "warn on and mask phone numbers, emails and names of
tenants as they are typed into a case note")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard import auth
from dashboard.sessions import SessionStore
from dashboard.users import UserStore
from hearth.registry import Registry
from tests.dashboard.conftest import page, sign_in, texts
from tests.dashboard.portfolio import PASSWORD


def _signed_in(at) -> bool:
    return "Hearth: sign in" not in texts(at) and bool(at.title) and at.title[0].value == "Overview"


@pytest.mark.parametrize("end", ["password_changed", "disabled", "signed_out_elsewhere"])
def test_an_open_tab_is_signed_out_when_its_session_ends_in_the_registry(portfolio, end):
    """An attacker holding an open tab (or a stolen cookie resumed in one) kept access after
    the officer changed password: `set_password` revokes the sessions in the registry, but the
    open tab never looked at the registry again until its own expiry."""
    settings, _ = portfolio
    with Registry(settings.registry.target) as reg:
        UserStore(reg.conn).add(f"rt.{end[:8]}", "manager", PASSWORD, [])
    name = f"rt.{end[:8]}"
    at = sign_in(name)
    assert _signed_in(at)
    with Registry(settings.registry.target) as reg:
        if end == "password_changed":
            UserStore(reg.conn).set_password(name, PASSWORD + " new")
        elif end == "disabled":
            UserStore(reg.conn).set_disabled(name, True)
        else:  # the same browser's other tab pressed "Sign out": the token is revoked
            SessionStore(reg.conn).revoke(at.session_state[auth.TOKEN_KEY])
    at.run()
    assert not at.exception
    assert "Hearth: sign in" in texts(at)


def test_an_open_tab_stays_signed_in_while_its_session_lives(portfolio):
    at = sign_in("officer1")
    for _ in range(2):
        at.run()
        assert _signed_in(at)


def test_an_open_tab_whose_session_expired_in_the_registry_is_signed_out(portfolio):
    settings, _ = portfolio
    at = sign_in("manager")
    token = at.session_state[auth.TOKEN_KEY]
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with Registry(settings.registry.target) as reg:
        reg.conn.execute("UPDATE dashboard_sessions SET expires_at = ? WHERE token_sha256 = ?",
                         (past, __import__("hashlib").sha256(token.encode()).hexdigest()))
    at.run()
    assert "Hearth: sign in" in texts(at)


def _queue_on(at, case_id: int):
    at.selectbox(key="queue_case").select(case_id).run()
    assert not at.exception, at.exception
    return at


def _close_reason_and_events(settings, cid):
    with Registry(settings.registry.target) as reg:
        reason = reg.conn.execute("SELECT close_reason FROM cases WHERE case_id = ?",
                                  (cid,)).fetchone()[0]
        events = [r[0] for r in reg.conn.execute(
            "SELECT detail FROM case_events WHERE case_id = ?", (cid,))]
        audit = [r[0] or "" for r in reg.conn.execute(
            "SELECT detail FROM audit_log WHERE target = ?", (f"case:{cid}",))]
    return reason, events, audit


def _tenant_name(settings, home):
    with Registry(settings.registry.target) as reg:
        return reg.conn.execute("SELECT full_name FROM tenants WHERE household_id = ? LIMIT 1",
                                (home,)).fetchone()[0]


def test_a_resolve_note_loses_phone_numbers_emails_and_the_tenants_names(portfolio):
    settings, demo = portfolio
    cid = demo.cases[demo.patches[0]][3]
    name = _tenant_name(settings, demo.case_homes[cid])
    at = _queue_on(page(sign_in("officer1"), "risk_queue"), cid)
    note = f"Emergency credit added; {name} will ring back on 07700 900123 or t@example.org"
    next(t for t in at.text_input if t.label.startswith("Resolve")).input(note)
    at.button(key="FormSubmitter:resolve_form-Resolve case").click().run()
    assert "Taken out of the note before it was saved" in texts(at)
    reason, events, audit = _close_reason_and_events(settings, cid)
    for stored in [reason, *events, *audit]:
        assert name not in stored and "07700" not in stored and "example.org" not in stored
    assert reason.startswith("Emergency credit added;") and "[phone number removed]" in reason


def test_a_dismiss_note_loses_phone_numbers_emails_and_the_tenants_names(portfolio):
    settings, demo = portfolio
    cid = demo.cases[demo.patches[0]][4]
    name = _tenant_name(settings, demo.case_homes[cid])
    at = _queue_on(page(sign_in("officer1"), "risk_queue"), cid)
    next(s for s in at.selectbox if s.label == "Dismiss: reason").select("Other (see note)")
    next(t for t in at.text_input if t.label.startswith("Note")).input(
        f"{name} is staying with family, mobile +44 7700 900456")
    at.button(key="FormSubmitter:dismiss_form-Dismiss case").click().run()
    assert "Taken out of the note before it was saved" in texts(at)
    reason, events, audit = _close_reason_and_events(settings, cid)
    for stored in [reason, *events, *audit]:
        assert name not in stored and "7700 900456" not in stored
    assert reason.startswith("Other (see note): ") and "staying with family" in reason


def test_a_password_typed_into_the_username_box_is_not_kept_in_the_audit_log(portfolio):
    """People type their password into the username box: a failed sign-in for a name that is
    no account must not write that text to the audit log (issue 15: "Passwords are never
    printed to a log"). Failures of a real account are still audited under its name, and the
    per-address pause still counts both."""
    settings, _ = portfolio
    typed = "Correct Horse Battery 42"
    at = sign_in(typed, "anything at all")
    assert "do not match an active account" in texts(at)
    with Registry(settings.registry.target) as reg:
        rows = reg.conn.execute("SELECT actor, target, coalesce(detail, '') FROM audit_log "
                                "WHERE action LIKE 'sign_in%'").fetchall()
    assert rows and not [r for r in rows if typed.lower() in " ".join(r).lower()]
    assert ("(unknown account)", "user:(unknown account)") in [r[:2] for r in rows]
    sign_in("officer2", "not the password at all")
    with Registry(settings.registry.target) as reg:
        assert reg.audit_entries("user:officer2", limit=1)[0]["action"] == "sign_in_failed"


def test_a_display_name_is_shown_as_text_not_markdown(portfolio):
    """Issue 15: "Markdown in notes and names is shown as text (no remote images or links)".
    The sidebar showed the account's display name as markdown: a name set to an image link
    made every page load a remote image (a tracking pixel) for whoever signed in."""
    settings, _ = portfolio
    with Registry(settings.registry.target) as reg:
        UserStore(reg.conn).add("rt.pixel", "manager", PASSWORD, [],
                                display_name="Pat ![x](http://198.51.100.9/p.png) [link](http://x)")
    at = sign_in("rt.pixel")
    shown = [m.value for m in at.sidebar.markdown if "Pat" in m.value]
    assert shown, [m.value for m in at.sidebar.markdown]
    assert all("](" not in v and "\\!\\[x\\]" in v for v in shown), shown
