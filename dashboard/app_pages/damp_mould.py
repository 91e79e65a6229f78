"""Damp and mould: every open case with its Awaab's Law clock, overdue first."""

import pandas as pd
import streamlit as st

from dashboard import actions, data
from dashboard.fmt import STAGE_LABEL, STATUS_LABEL, due_words, severity_label, uk_time
from dashboard.ui import as_of_caption, open_household, require_user, scope_picker

user = require_user()
st.title("Damp and mould")
as_of_caption()
st.caption("Awaab's Law (England, from 27 October 2025): emergency hazards made safe within "
           "24 hours; significant hazards investigated within 10 working days, a written "
           "summary to the tenant within 3 working days of that, and safety work begun within "
           "5 working days.")
scope = scope_picker(user, "damp_patches", data.all_patches())
cases = data.damp_cases(scope)
now = pd.Timestamp.now(tz="UTC")
due = pd.to_datetime(cases["due_by"], utc=True, errors="coerce")
overdue = due <= now

c1, c2, c3 = st.columns(3)
c1.metric("Open damp and mould cases", f"{len(cases):,}")
c2.metric("⚠ Overdue", f"{int(overdue.sum()):,}")
c3.metric("Due within 24 hours", f"{int(((due > now) & (due <= now + pd.Timedelta(hours=24))).sum()):,}")

if cases.empty:
    st.success("✔ No open damp and mould cases in these patches.")
    st.stop()

table = pd.DataFrame({
    "Case": cases["case_id"].astype(int),
    "Clock": [due_words(d) for d in cases["due_by"]],
    "Urgency": cases["severity"].map(severity_label),
    "Stage": cases["stage"].map(lambda s: STAGE_LABEL.get(s, s or "–")),
    "Home": cases["household_id"], "Patch": cases["patch"], "Estate": cases["estate"],
    "Why": cases["reasons"], "Status": cases["status"].map(STATUS_LABEL),
    "Owner": cases["officer"].fillna("Unassigned"),
    "Opened": [uk_time(t) for t in cases["opened_at"]]})
st.dataframe(table, hide_index=True, width="stretch",
             column_config={"Why": st.column_config.TextColumn(width="large"),
                            "Clock": st.column_config.TextColumn(width="medium")})

left, right = st.columns(2)
with left:
    pick = st.selectbox("Open a home", list(cases["household_id"].unique()), key="damp_home")
    if st.button("Open household", key="damp_open"):
        open_household(pick)
with right:
    done_msg = st.session_state.pop("damp_done", None)
    if done_msg:
        st.success(done_msg)
    with st.form("awaab_step"):
        labels = {int(r.case_id): f"Case {int(r.case_id)} · {r.household_id} · "
                  f"{STAGE_LABEL.get(r.stage, r.stage or '–')}" for r in cases.itertuples()}
        cid = st.selectbox("Record a step done for case", list(labels), format_func=labels.get)
        step = st.selectbox("Step done", list(actions.AWAAB_STEPS),
                            format_func=actions.AWAAB_STEPS.get)
        if st.form_submit_button("Record step"):
            try:
                actions.record_stage(user, cid, step)
            except (actions.ActionError, data.OutOfScopeError) as exc:
                st.error(str(exc) if isinstance(exc, actions.ActionError) else
                         "This case is not on your patches.")
            else:
                st.session_state["damp_done"] = (f"Case {cid}: {actions.AWAAB_STEPS[step]} "
                                                 "recorded; the next deadline is set.")
                st.rerun()
