"""The read-only view a share link opens: only what the tenant chose, only while the link is
live; every opening is audited and shown to the tenant."""

from __future__ import annotations

import streamlit as st

from tenants import session, shares, views
from tenants.ui import when


def render() -> None:
    token = st.query_params.get("share", "")
    with session.registry() as reg:
        share = shares.open_share(reg, token, session.address())
    if share is None:
        st.title("This link does not work")
        st.error("The link has expired, been stopped by the person who shared it, or is not "
                 "right. Ask them for a new one.")
        return
    st.title("Shared with you")
    st.info(f"A read-only view shared with {share.label}, until {when(share.expires_at)}. "
            "The tenant can see each time it is opened.")
    if "usage" in share.scopes:
        views.energy(share.household_id)
    if "cases" in share.scopes:
        views.cases(share.household_id)
