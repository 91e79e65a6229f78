"""Your energy: this week against last week and the same week last year, the next 30 days'
bill at your tariff, and for prepayment meters how long the credit lasts."""

from __future__ import annotations

import streamlit as st

from tenants import session, views

who = session.current()
session.page_view(who, "energy")
st.title("Your energy")
views.energy(who.household_id)
