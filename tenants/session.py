"""The signed-in tenant of one browser session, and the portal's audit of what they see.

The household shown is always the session's: a household id in the page address or a form is
refused and audited. A sign-in lasts `tenants.session_timeout_min`; it ends early when the
tenancy ends or the tenant leaves the registry.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import streamlit as st

from tenants.runtime import settings_from_env
from tenants.signin import SignedIn

SESSION_KEY = "tenant_signed_in"
SIGNED_IN_AT = "tenant_signed_in_at"
ID_PARAMS = ("household", "household_id", "tenant", "tenant_id", "hh")


@st.cache_resource
def settings():
    return settings_from_env()


@st.cache_resource
def influx():
    from hearth.influx import InfluxClient

    return InfluxClient.from_settings(settings())


@contextmanager
def registry():
    """A Registry for one action (opened and closed per use: safe across Streamlit threads)."""
    from hearth.registry import Registry

    reg = Registry(settings().registry.target)
    try:
        yield reg
    finally:
        reg.close()


def address() -> str:
    """The browser's network address (for rate limits and the audit), '' when unknown."""
    try:
        ip = st.context.ip_address
    except Exception:  # no request context
        return ""
    return ip if isinstance(ip, str) else ""   # AppTest gives a stand-in object


def audit(actor: str, action: str, target: str = "", detail: dict | None = None) -> None:
    with registry() as reg:
        reg.audit(actor, action, target, {"address": address(), **(detail or {})})


def sign_in(who: SignedIn) -> None:
    st.session_state[SESSION_KEY] = who
    st.session_state[SIGNED_IN_AT] = datetime.now(UTC)


def sign_out() -> None:
    who = st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop(SIGNED_IN_AT, None)
    if who is not None:
        audit(who.tenant_id, "tenant.signed_out", who.household_id)


def current() -> SignedIn | None:
    who: SignedIn | None = st.session_state.get(SESSION_KEY)
    if who is None:
        return None
    limit = timedelta(minutes=settings().tenants.session_timeout_min)
    if datetime.now(UTC) - st.session_state.get(SIGNED_IN_AT, datetime.now(UTC)) > limit:
        sign_out()
        st.session_state["tenant_notice"] = "You were signed out after a while. Sign in again."
        return None
    with registry() as reg:
        row = reg.query("SELECT 1 FROM tenants t JOIN households h USING (household_id) WHERE"
                        " t.tenant_id = ? AND t.household_id = ? AND h.tenancy_end IS NULL",
                        (who.tenant_id, who.household_id)).fetchone()
    if row is None:
        sign_out()
        return None
    return who


def refuse_foreign_ids(who: SignedIn) -> bool:
    """True (and audited) when the address names another household or tenant: the page then
    shows nothing of anyone's."""
    asked = {k: st.query_params.get(k) for k in ID_PARAMS if st.query_params.get(k)}
    foreign = {k: v for k, v in asked.items()
               if v not in (who.household_id, who.tenant_id)}
    if not foreign:
        return False
    audit(who.tenant_id, "tenant.access_refused", who.household_id,
          {"asked": foreign, "reason": "another household's id in the address"})
    return True


def page_view(who: SignedIn, page: str) -> None:
    """Every page view of personal data is in the audit log."""
    audit(who.tenant_id, "tenant.page_view", who.household_id, {"page": page})
