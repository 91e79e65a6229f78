"""Download your data: the same subject access export an officer makes with `hearth tenant
export` (a zip of JSON and CSV files)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from tenants import session
from tenants.rights import subject_access

who = session.current()
session.page_view(who, "download")
st.title("Download your data")
st.write("Everything we hold about your home and the people living in it: your details, your "
         "choices, the problems reported, the texts we sent and your meters' readings. It comes "
         "as a zip file of spreadsheets (CSV) and one JSON file, with a README explaining each.")
if st.button("Prepare my download", type="primary"):
    with tempfile.TemporaryDirectory() as tmp:
        out = subject_access(session.settings(), who.household_id,
                             Path(tmp) / f"my-data-{who.household_id}.zip",
                             actor=f"tenant:{who.tenant_id}")
        st.session_state["tenant_export"] = (out.name, out.read_bytes())
ready = st.session_state.get("tenant_export")
if ready:
    st.download_button("Download the zip file", data=ready[1], file_name=ready[0],
                       mime="application/zip")
