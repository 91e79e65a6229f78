"""Sign-in for the dashboard: a password form (accounts from `hearth users add`) or, where a
council configures it, single sign-on through Streamlit's OIDC login (st.login). The signed-in
user lives in the session; every sign-in, failed sign-in and sign-out goes to the audit log."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import data
from dashboard.sessions import COOKIE, SessionStore
from dashboard.users import User, UserStore

SESSION_KEY = "hearth_user"
SIGNED_IN_AT = "hearth_signed_in_at"
TOKEN_KEY = "hearth_session_token"
EXPIRES_AT = "hearth_session_expires_at"
COOKIE_PENDING = "hearth_cookie_pending"  # a cookie to set (token) or clear ("") on the next run
FAILURES_KEY = "hearth_failed_signins"
MAX_FAILURES = 5
LOCKOUT_S = 60
# Across sessions (a new browser tab must not reset the count): failed sign-ins per account.
ACCOUNT_MAX_FAILURES = 10
ACCOUNT_WINDOW_MIN = 15
# Per address: higher, since an office's officers may share one address behind its firewall.
ADDRESS_MAX_FAILURES = 30
UNKNOWN_ACCOUNT = "(unknown account)"  # the audit's name for a sign-in to no account


@contextmanager
def registry():
    """A read-write Registry for one action (opened and closed per use: thread-safe)."""
    from hearth.registry import Registry

    reg = Registry(data.settings().registry.target)
    try:
        yield reg
    finally:
        reg.close()


def audit(actor: str, action: str, target: str = "", detail: dict | None = None) -> None:
    with registry() as reg:
        reg.audit(actor, action, target, detail or {})


def current_user() -> User | None:
    """The signed-in user, or None (also when the sign-in has expired or the account has been
    disabled since: both are checked again on every run). A new browser session (a reload, a
    bookmarked page) finds its sign-in through the session cookie."""
    user = st.session_state.get(SESSION_KEY)
    if user is None:
        user = _resume_from_cookie()
        if user is None:
            return None
    expires = st.session_state.get(EXPIRES_AT)
    if expires is None or datetime.now(UTC) >= expires:
        _end_session()
        st.session_state["hearth_notice"] = "Your sign-in expired: please sign in again."
        return None
    fresh = _live_user(user.username, st.session_state.get(TOKEN_KEY))
    if fresh is None or fresh.disabled:
        _end_session()
        return None
    st.session_state[SESSION_KEY] = fresh
    return fresh


def _resume_from_cookie() -> User | None:
    token = _cookie_token()
    if not token:
        return None
    with registry() as reg:
        session = SessionStore(reg.conn).resume(token)
        user = UserStore(reg.conn).get(session.username) if session else None
        if user is None or user.disabled:
            return None
        reg.audit(user.username, "signed_in", f"user:{user.username}",
                  {"method": "session", "address": _address()})
    st.session_state[SESSION_KEY] = user
    st.session_state[SIGNED_IN_AT] = session.created_at
    st.session_state[EXPIRES_AT] = session.expires_at
    st.session_state[TOKEN_KEY] = token
    return user


def _cookie_token() -> str | None:
    try:
        token = st.context.cookies.get(COOKIE)
    except Exception:  # no browser behind this run (a bare script run)
        return None
    return token if isinstance(token, str) else None


def _address() -> str | None:
    try:
        address = st.context.ip_address
    except Exception:
        return None
    return address if isinstance(address, str) else None


def _live_user(username: str, token: str | None) -> User | None:
    """The account, if this tab's session is still live in the registry: a password change,
    a disabled account or a sign-out in another tab revokes it there, and the tab that is
    still open must end too, not only a tab that comes back through the cookie."""
    with registry() as reg:
        session = SessionStore(reg.conn).resume(token) if token else None
        if session is None or session.username != username:
            return None
        return UserStore(reg.conn).get(username)


def _forget() -> None:
    for key in (SESSION_KEY, SIGNED_IN_AT, EXPIRES_AT, TOKEN_KEY):
        st.session_state.pop(key, None)


def _end_session() -> None:
    """Revoke this browser's session and clear its cookie on the next page run."""
    token = st.session_state.get(TOKEN_KEY) or _cookie_token()
    if token:
        with registry() as reg:
            SessionStore(reg.conn).revoke(token)
        st.session_state[COOKIE_PENDING] = ""
    _forget()


def _sign_in(user: User, method: str) -> None:
    lifetime = timedelta(minutes=data.settings().dashboard.session_timeout_min)
    with registry() as reg:
        token, session = SessionStore(reg.conn).create(user.username, lifetime)
        reg.audit(user.username, "signed_in", f"user:{user.username}",
                  {"method": method, "address": _address()})
    st.session_state[SESSION_KEY] = user
    st.session_state[SIGNED_IN_AT] = session.created_at
    st.session_state[EXPIRES_AT] = session.expires_at
    st.session_state[TOKEN_KEY] = token
    st.session_state[COOKIE_PENDING] = token
    st.session_state.pop(FAILURES_KEY, None)


def sign_out() -> None:
    user = st.session_state.get(SESSION_KEY)
    if user is not None:
        audit(user.username, "signed_out", f"user:{user.username}")
    _end_session()
    if _sso_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()


def write_pending_cookie() -> None:
    """Set (after sign-in) or clear (after sign-out or expiry) the session cookie in the browser.
    Streamlit has no call to set a cookie, so a few lines of script do it, in the page itself."""
    if COOKIE_PENDING not in st.session_state:
        return
    token = st.session_state.pop(COOKIE_PENDING)
    secure = "; Secure" if str(_url() or "").startswith("https:") else ""
    if token:
        max_age = int((st.session_state[EXPIRES_AT] - datetime.now(UTC)).total_seconds())
        value = f"{COOKIE}={token}; Path=/; Max-Age={max(max_age, 0)}; SameSite=Strict{secure}"
    else:
        value = f"{COOKIE}=; Path=/; Max-Age=0; SameSite=Strict{secure}"
    # The token is URL-safe base64, so it needs no quoting inside the script.
    st.html(f"<script>document.cookie = {value!r};</script>", unsafe_allow_javascript=True)


def _url() -> str | None:
    try:
        url = st.context.url
    except Exception:
        return None
    return url if isinstance(url, str) else None


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
            address = _address()
            from_address = reg.conn.execute(
                "SELECT count(*) FROM audit_log WHERE action = 'sign_in_failed' AND at >= ? "
                "AND json_extract(detail, '$.address') = ?", (since, address)
            ).fetchone()[0] if address else 0
            # What was typed is kept only when it names an account: people type their
            # password into the username box, and that must not reach the audit log.
            store = UserStore(reg.conn)
            label = name if name and store.get(name) is not None else UNKNOWN_ACCOUNT
            if failed >= ACCOUNT_MAX_FAILURES or from_address >= ADDRESS_MAX_FAILURES:
                reg.audit(label, "sign_in_refused_paused", f"user:{label}",
                          {"address": address,
                           "by": "account" if failed >= ACCOUNT_MAX_FAILURES else "address"})
                st.error(f"Sign-in is paused for {ACCOUNT_WINDOW_MIN} minutes after repeated "
                         "failed attempts. If that was not you, tell an administrator.")
                return
            user = store.authenticate(name, password)
            if user is None:
                reg.audit(label, "sign_in_failed", f"user:{label}", {"address": address})
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
