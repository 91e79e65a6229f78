"""Homes to act on: one row per home with open cases (not one per case), in the order to act:
nearest deadline, then urgency, then vulnerability. Opening a home shows everything about it."""

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.fmt import due_words, kind_label, severity_label, uk_time
from dashboard.ui import open_household, require_user, scope_picker
from dashboard.worklist import homes_queue

user = require_user()
st.title("Homes to act on")
st.caption("One row per home with open cases: the passed or nearest deadline first, then the "
           "most urgent, then homes recorded as vulnerable. Open a home to see all its cases, "
           "readings and messages on one page.")
scope = scope_picker(user, "homes_patches", data.all_patches())
cases = data.open_cases(scope)
homes = homes_queue(cases, data.last_contact(scope))

f1, f2 = st.columns([1.4, 3])
owner = f1.selectbox("Owner", ["Anyone", "Mine", "Unassigned"], key="homes_owner")
search = f2.text_input("Search", placeholder="Home id or estate", key="homes_search")
view = homes
if owner == "Mine":
    view = view[view["owners"].map(lambda o: user.username in o)]
elif owner == "Unassigned":
    view = view[view["owners"].map(len) == 0]
if search.strip():
    s = search.strip().lower()
    view = view[view["household_id"].str.lower().str.contains(s, regex=False)
                | view["estate"].str.lower().str.contains(s, regex=False)]

st.write(f"**{len(view):,}** of {len(homes):,} homes with open cases "
         f"({len(cases):,} cases) shown.")
if view.empty:
    if homes.empty:
        st.success("✔ No homes to act on here.")
    else:
        st.info("No home matches these filters.")
    st.stop()

table = pd.DataFrame({
    "Home": view["household_id"],
    "Most urgent": view["severity"].map(severity_label),
    "Next deadline": [due_words(d) if pd.notna(d) else "–" for d in view["earliest_due"]],
    "Open cases": view["open_cases"].astype(int),
    "Kinds": [", ".join(kind_label(k) for k in ks) for ks in view["kinds"]],
    "Vulnerable": view["vulnerable"].map({True: "⚠ yes", False: ""}),
    "Owner": [", ".join(o) if o else "Unassigned" for o in view["owners"]],
    "Last contact": [uk_time(t) if pd.notna(t) else "none yet" for t in view["last_contact_at"]],
    "Estate": view["estate"],
    "Patch": view["patch"],
})
st.dataframe(table, hide_index=True, width="stretch", height=min(36 * (len(table) + 1) + 3, 460),
             column_config={"Kinds": st.column_config.TextColumn(width="medium"),
                            "Next deadline": st.column_config.TextColumn(width="medium")})

labels = {r.household_id: f"{r.household_id} · {r.estate} · {severity_label(r.severity)} · "
          f"{int(r.open_cases)} open case{'s' if r.open_cases != 1 else ''}"
          for r in view.itertuples()}
picked = st.selectbox("Home", list(labels), format_func=labels.get, key="homes_pick")
if st.button("Open this home", key="homes_open", type="primary"):
    open_household(picked)
