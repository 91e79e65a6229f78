"""Problems and texts: the open cases about your home with the deadlines your landlord must
meet, and the texts Hearth sent you and why."""

from __future__ import annotations

import streamlit as st

from tenants import session, views

who = session.current()
session.page_view(who, "cases")
st.title("Problems and texts")
views.cases(who.household_id)
views.tips(who.household_id)
