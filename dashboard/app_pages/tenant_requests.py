"""Tenant requests: corrections to the record tenants proposed in their portal (accept or reject
with a reason; the tenant sees the decision), and problems they reported."""

import pandas as pd
import streamlit as st

from dashboard import auth
from dashboard.fmt import uk_time
from dashboard.ui import require_user
from tenants import corrections, problems

user = require_user()
st.title("Tenant requests")
patches = None if user.sees_all_patches else list(user.patches)
with auth.registry() as reg:
    waiting = corrections.pending(reg.conn, patches)
    current = {}
    for c in waiting:
        home = reg.household(c["household_id"])
        tenant = reg.tenant(c["tenant_id"])
        current[c["correction_id"]] = {
            "mobile": tenant.mobile or "none", "occupants": str(home.occupants),
            "vulnerability": home.vulnerability_notes or "none noted"}[c["field"]]

st.subheader("Corrections to check")
if not waiting:
    st.write("No corrections are waiting in your patches.")
for c in waiting:
    cid = c["correction_id"]
    with st.container(border=True):
        st.markdown(f"**{c['household_id']}** ({c['patch']}), tenant {c['tenant_id']}, asked "
                    f"{uk_time(c['proposed_at'])}: **{corrections.FIELDS[c['field']]}**")
        st.markdown(f"Now: {current[cid]}  \nAsked for: {c['new_value']}")
        note = st.text_input("Reason (needed to reject; the tenant sees it)", key=f"note_{cid}")
        ok, no = st.columns(2)
        accept = ok.button("Accept", key=f"accept_{cid}", type="primary")
        reject = no.button("Reject", key=f"reject_{cid}")
        if accept or reject:
            try:
                with auth.registry() as reg:
                    corrections.decide(reg, cid, user.username, accept=accept, note=note)
            except corrections.CorrectionError as exc:
                st.error(str(exc))
            else:
                st.rerun()

st.subheader("Problems reported by tenants")
with auth.registry() as reg:
    sql = ("SELECT r.*, h.patch FROM tenant_reports r JOIN households h USING (household_id)")
    args: list = []
    if patches is not None:
        sql += f" WHERE h.patch IN ({','.join('?' * len(patches))})"
        args = patches
    reports = pd.read_sql_query(sql + " ORDER BY r.report_id DESC LIMIT 200", reg.conn,
                                params=args)
if reports.empty:
    st.write("No problems reported in your patches.")
else:
    st.caption("Reports that opened or joined a case are on the risk queue too. Reports without "
               "a case (a kind of problem with no case type yet) are only here.")
    st.dataframe(pd.DataFrame({
        "Reported": [uk_time(t) for t in reports["reported_at"]],
        "Home": reports["household_id"], "Patch": reports["patch"],
        "Problem": [problems.KINDS[k][0] for k in reports["kind"]],
        "Case": reports["case_id"].map(lambda c: "none yet" if pd.isna(c) else str(int(c))),
        "Photo": reports["photo_path"].map(lambda p: "yes" if p else ""),
        "In their words": reports["description"]}), hide_index=True, width="stretch")
