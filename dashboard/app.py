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
from dashboard.fmt import md_text  # noqa: E402

st.set_page_config(page_title="Hearth", page_icon=":material/home:", layout="wide",
                   initial_sidebar_state="expanded")

PAGES = {
    "Today": [
        ("app_pages/overview.py", "Overview", ":material/home:"),
        ("app_pages/homes.py", "Homes to act on", ":material/holiday_village:"),
        ("app_pages/risk_queue.py", "Risk queue", ":material/list_alt:"),
        ("app_pages/damp_mould.py", "Damp and mould", ":material/water_drop:"),
    ],
    "Homes": [("app_pages/household.py", "Household", ":material/search:")],
    "Service": [
        ("app_pages/data_health.py", "Data health", ":material/sensors:"),
        ("app_pages/messages.py", "Messages", ":material/sms:"),
        ("app_pages/tenant_requests.py", "Tenant requests", ":material/inbox:"),
    ],
}
DEFAULT_PAGE = "app_pages/overview.py"

user = auth.current_user()
auth.write_pending_cookie()
if user is None:
    # Every page's address answers with the sign-in form (a bookmark or a link in an email
    # must not say "Page not found"); after sign-in the same address shows the page asked for.
    def _sign_in_at(path: str):
        page = lambda: auth.login_page()  # noqa: E731 - one function object per address
        page.__name__ = f"sign_in_{Path(path).stem}"
        return st.Page(page, title="Sign in", icon=":material/login:",
                       url_path=Path(path).stem, default=path == DEFAULT_PAGE)

    st.navigation([_sign_in_at(path) for group in PAGES.values() for path, _, _ in group],
                  position="hidden").run()
    st.stop()

pages = {group: [st.Page(path, title=title, icon=icon, default=path == DEFAULT_PAGE)
                 for path, title, icon in items] for group, items in PAGES.items()}
nav = st.navigation(pages)
# Less empty space above the page title.
st.markdown("<style>.block-container, [data-testid='stMainBlockContainer'] {padding-top: 2.2rem;}"
            "</style>", unsafe_allow_html=True)

with st.sidebar:
    scope_text = ("all patches" if user.sees_all_patches else ", ".join(user.patches))
    # Names and patches as typed, never as markdown (no remote image or link from a name).
    st.markdown(f"**{md_text(user.display_name)}**  \n{user.role.capitalize()} · "
                f"{md_text(scope_text)}")
    if st.button("Sign out", key="sign_out"):
        auth.sign_out()
        st.rerun()

nav.run()
