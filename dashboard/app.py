"""Hearth dashboard for housing officers: `hearth dashboard` (or `streamlit run
dashboard/app.py`). Sign-in first; then the pages, each showing only the user's patches."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts dashboard/ on sys.path; the project root is needed for `dashboard.*`.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from dashboard import auth  # noqa: E402

st.set_page_config(page_title="Hearth", page_icon=":material/home:", layout="wide",
                   initial_sidebar_state="expanded")

user = auth.current_user()
if user is None:
    st.navigation([st.Page(auth.login_page, title="Sign in", icon=":material/login:")],
                  position="hidden").run()
    st.stop()

pages = {
    "Today": [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/home:", default=True),
        st.Page("app_pages/risk_queue.py", title="Risk queue", icon=":material/list_alt:"),
        st.Page("app_pages/damp_mould.py", title="Damp and mould", icon=":material/water_drop:"),
    ],
    "Homes": [st.Page("app_pages/household.py", title="Household", icon=":material/search:")],
    "Service": [
        st.Page("app_pages/data_health.py", title="Data health", icon=":material/sensors:"),
        st.Page("app_pages/messages.py", title="Messages", icon=":material/sms:"),
        st.Page("app_pages/tenant_requests.py", title="Tenant requests", icon=":material/inbox:"),
    ],
}
nav = st.navigation(pages)
# Less empty space above the page title.
st.markdown("<style>.block-container, [data-testid='stMainBlockContainer'] {padding-top: 2.2rem;}"
            "</style>", unsafe_allow_html=True)

with st.sidebar:
    scope_text = ("all patches" if user.sees_all_patches else ", ".join(user.patches))
    st.markdown(f"**{user.display_name}**  \n{user.role.capitalize()} · {scope_text}")
    if st.button("Sign out", key="sign_out"):
        auth.sign_out()
        st.rerun()

nav.run()
