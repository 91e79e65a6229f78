"""Hearth for tenants: `hearth tenant serve` (or `streamlit run tenants/app.py`). A tenant signs
in with a code texted to their mobile and sees only their own home; someone holding a share link
sees the read-only view the tenant chose for them."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts tenants/ on sys.path; the project root is needed for `tenants.*`.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from tenants import session, ui  # noqa: E402
from tenants.app_pages import shared_view, signin_page  # noqa: E402

st.set_page_config(page_title="Your home energy", page_icon=":material/home:",
                   layout="centered", initial_sidebar_state="collapsed")
ui.style()

if st.query_params.get("share"):
    st.navigation([st.Page(shared_view.render, title="Shared with you", url_path="shared")],
                  position="hidden").run()
    st.stop()

who = session.current()
if who is None:
    st.navigation([st.Page(signin_page.render, title="Sign in", url_path="signin")],
                  position="hidden").run()
    st.stop()

if session.refuse_foreign_ids(who):
    st.error("You can only see your own home. This address asked for someone else's, so "
             "nothing is shown. The attempt has been recorded.")
    if st.button("Go to my home"):
        st.query_params.clear()
        st.rerun()
    st.stop()

nav = st.navigation([
    st.Page("app_pages/home.py", title="Your energy", icon=":material/bolt:", default=True),
    st.Page("app_pages/cases.py", title="Problems and texts", icon=":material/home_repair_service:"),
    st.Page("app_pages/report.py", title="Report a problem", icon=":material/report:"),
    st.Page("app_pages/details.py", title="Your details", icon=":material/badge:"),
    st.Page("app_pages/sharing.py", title="Sharing", icon=":material/share:"),
    st.Page("app_pages/download.py", title="Download your data", icon=":material/download:"),
], position="top")
with st.sidebar:
    if st.button("Sign out", key="sign_out"):
        session.sign_out()
        st.rerun()
nav.run()
