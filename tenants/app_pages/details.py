"""Your details: what we hold about your home, and changes you ask for (an officer checks each
one; you see the answer here)."""

from __future__ import annotations

import streamlit as st

from tenants import corrections, session
from tenants.ui import when

who = session.current()
session.page_view(who, "details")
st.title("Your details")
with session.registry() as reg:
    home = reg.household(who.household_id)
    me = reg.tenant(who.tenant_id)
    asked = corrections.of_household(reg.conn, who.household_id)
number = me.mobile or "none"
st.markdown(f"- Mobile number: **{number[:-6] + ' ' + number[-6:] if me.mobile else 'none'}**\n"
            f"- People living in the home: **{home.occupants}**\n"
            f"- A health condition or disability noted: **{'yes' if home.vulnerable else 'no'}**")
st.header("Ask for a change", divider="gray")
with st.form("correct", clear_on_submit=True):
    field = st.selectbox("What should change?", list(corrections.FIELDS),
                         format_func=corrections.FIELDS.get, key="correct_field")
    value = st.text_input("The right value", key="correct_value",
                          help="A mobile number, a number of people, or a few words about the "
                               "condition you want us to know about")
    sent = st.form_submit_button("Send to my housing officer", type="primary")
if sent:
    try:
        with session.registry() as reg:
            corrections.propose(reg, who.household_id, who.tenant_id, field, value)
    except corrections.CorrectionError as exc:
        st.error(str(exc))
    else:
        st.success("Sent. Your housing officer will check it; the answer will show below.")
        with session.registry() as reg:
            asked = corrections.of_household(reg.conn, who.household_id)
st.header("Changes you asked for", divider="gray")
if not asked:
    st.write("You have not asked for any changes.")
WORDS = {"proposed": "waiting for your housing officer", "accepted": "accepted: your record is "
         "changed", "rejected": "not accepted", "withdrawn": "replaced by a newer request"}
for c in asked:
    line = (f"**{corrections.FIELDS[c['field']]}**, asked {when(c['proposed_at'])}: "
            f"{WORDS[c['status']]}")
    if c["status"] == "rejected" and c["decision_note"]:
        line += f". Reason: {c['decision_note']}"
    st.markdown(f"- {line}")
