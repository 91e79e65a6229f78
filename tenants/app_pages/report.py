"""Report a problem: it goes on your housing officer's list (a case), and damp or mould starts
the deadlines of Awaab's Law."""

from __future__ import annotations

import streamlit as st

from tenants import problems, session
from tenants.ui import KIND, STAGE, when

who = session.current()
session.page_view(who, "report")
st.title("Report a problem")
settings = session.settings()
done = st.session_state.pop("tenant_reported", None)
if done is not None:
    if done.case_id is None:
        st.success("Thank you. Your report is on your housing officer's list of tenant "
                   "requests.")
    else:
        st.success(("Thank you. We added your report to the problem already open about your "
                    "home." if done.joined else "Thank you. Your report is on your housing "
                    "officer's list.") + " You can follow it under Problems and texts.")
        if done.due_by:
            with session.registry() as reg:
                stage = reg.query("SELECT stage FROM cases WHERE case_id = ?",
                                  (done.case_id,)).fetchone()[0]
            st.markdown(f"**By law your landlord must {STAGE.get(stage, 'act')} by "
                        f"{when(done.due_by)}.**")
with st.form("report", clear_on_submit=True):
    kind = st.radio("What is the problem?", list(problems.KINDS),
                    format_func=lambda k: problems.KINDS[k][0], key="report_kind")
    text = st.text_area("Tell us about it: where, since when, and anything you have tried",
                        key="report_text", max_chars=2000)
    photo = st.file_uploader("A photo, if you want to add one (JPEG or PNG, up to "
                             f"{settings.tenants.photo_max_bytes // 1_000_000} MB)",
                             type=["jpg", "jpeg", "png"], key="report_photo")
    sent = st.form_submit_button("Send the report", type="primary")
if sent:
    try:
        result = problems.report(settings, who.household_id, who.tenant_id, kind, text,
                                 photo.getvalue() if photo is not None else None)
    except problems.ReportError as exc:
        st.error(str(exc))
    else:
        st.session_state["tenant_reported"] = result
        st.rerun()
st.caption(f"If anyone is in danger now, call 999. {KIND['damp_mould']} that is spreading fast "
           "or a gas smell: call your landlord's emergency line.")
