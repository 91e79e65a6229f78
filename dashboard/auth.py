"""Sign-in for the dashboard: a password form (accounts from `hearth users add`) or, where a
council configures it, single sign-on through Streamlit's OIDC login (st.login). The signed-in
user lives in the session; every sign-in, failed sign-in and sign-out goes to the audit log."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import data
from dashboard.users import User, UserStore

SESSION_KEY = "hearth_user"
SIGNED_IN_AT = "hearth_signed_in_at"
FAILURES_KEY = "hearth_failed_signins"
MAX_FAILURES = 5
LOCKOUT_S = 60
# Across sessions (a new browser tab must not reset the count): failed sign-ins per account.
ACCOUNT_MAX_FAILURES = 10
ACCOUNT_WINDOW_MIN = 15


@contextmanager
def registry():
    """A read-write Registry for one action (opened and closed per use: thread-safe)."""
    from hearth.registry import Registry

    reg = Registry(data.settings().registry.path)
    try:
        yield reg
    finally:
        reg.close()


def audit(actor: str, action: str, target: str = "", detail: dict | None = None) -> None:
    with registry() as reg:
        reg.audit(actor, action, target, detail or {})


def current_user() -> User | None:
    """The signed-in user, or None (also when the sign-in has expired or the account has been
    disabled since: both are checked again on every run)."""
    user = st.session_state.get(SESSION_KEY)
    if user is None:
        return None
    limit = timedelta(minutes=data.settings().dashboard.session_timeout_min)
    if datetime.now(UTC) - st.session_state.get(SIGNED_IN_AT, datetime.now(UTC)) > limit:
        _forget()
        st.session_state["hearth_notice"] = "Your sign-in expired: please sign in again."
        return None
    fresh = _store_get(user.username)
    if fresh is None or fresh.disabled:
        _forget()
        return None
    st.session_state[SESSION_KEY] = fresh
    return fresh


def _store_get(username: str) -> User | None:
    with registry() as reg:
        return UserStore(reg.conn).get(username)


def _forget() -> None:
    for key in (SESSION_KEY, SIGNED_IN_AT):
        st.session_state.pop(key, None)


def _sign_in(user: User, method: str) -> None:
    st.session_state[SESSION_KEY] = user
    st.session_state[SIGNED_IN_AT] = datetime.now(UTC)
    st.session_state.pop(FAILURES_KEY, None)
    audit(user.username, "signed_in", f"user:{user.username}", {"method": method})


def sign_out() -> None:
    user = st.session_state.get(SESSION_KEY)
    if user is not None:
        audit(user.username, "signed_out", f"user:{user.username}")
    _forget()
    if _sso_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()


def _sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def login_page() -> None:
    """The sign-in page (shown instead of the app until someone signs in)."""
    data.warm_up()  # portfolio figures are ready by the time the officer has signed in
    st.title("Hearth: sign in")
    st.write("For housing officers and managers. Sign in with the account your administrator "
             "gave you.")
    notice = st.session_state.pop("hearth_notice", None)
    if notice:
        st.info(notice)
    if _sso_configured():
        _sso_block()
    failures: list[float] = st.session_state.setdefault(FAILURES_KEY, [])
    recent = [t for t in failures if time.time() - t < LOCKOUT_S]
    locked = len(recent) >= MAX_FAILURES
    with st.form("sign_in"):
        username = st.text_input("Username", key="signin_username", autocomplete="username")
        password = st.text_input("Password", type="password", key="signin_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if locked:
        st.error(f"Too many failed attempts. Wait {LOCKOUT_S} seconds and try again, or ask an "
                 "administrator to reset your password (`hearth users passwd`).")
        return
    if submitted:
        name = username.strip().lower()
        with registry() as reg:
            since = (datetime.now(UTC) - timedelta(minutes=ACCOUNT_WINDOW_MIN)).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
            failed = reg.conn.execute(
                "SELECT count(*) FROM audit_log WHERE target = ? AND action = 'sign_in_failed' "
                "AND at >= ?", (f"user:{name}", since)).fetchone()[0]
            if failed >= ACCOUNT_MAX_FAILURES:
                reg.audit(name or "(blank)", "sign_in_refused_paused", f"user:{name}")
                st.error(f"This account is paused for {ACCOUNT_WINDOW_MIN} minutes after "
                         "repeated failed sign-ins. If that was not you, tell an administrator.")
                return
            user = UserStore(reg.conn).authenticate(name, password)
            if user is None:
                reg.audit(name or "(blank)", "sign_in_failed", f"user:{name}")
        if user is None:
            failures.append(time.time())
            st.error("That username and password do not match an active account. Check both "
                     "and try again; after 5 failed attempts sign-in pauses for a minute.")
            return
        _sign_in(user, "password")
        st.rerun()


def _sso_block() -> None:
    """Single sign-on through the council's identity provider (OIDC, st.login)."""
    if getattr(st.user, "is_logged_in", False):
        email = getattr(st.user, "email", None) or ""
        with registry() as reg:
            user = UserStore(reg.conn).by_email(email) if email else None
        if user is not None and not user.disabled:
            _sign_in(user, "sso")
            st.rerun()
        st.error(f"Your council account ({email or 'no email given'}) has no Hearth access yet. "
                 "Ask a Hearth administrator to run `hearth users add NAME --role officer "
                 f"--patch PATCH --email {email or 'EMAIL'} --sso-only`.")
        if st.button("Sign out of the council account"):
            st.logout()
        return
    import importlib.util

    if importlib.util.find_spec("authlib") is None:
        st.warning("Single sign-on is configured but its library is missing. IT: install it "
                   "with `pip install -e '.[sso]'` (Authlib) and restart the dashboard.")
        return
    st.button("Sign in with your council account", on_click=st.login, type="primary")
    st.caption("Or sign in with a Hearth password below.")
