"""Sharing: what you agree to (per purpose, effective at once, with its history) and read-only
links you give to someone you choose, which you can stop at any time."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from tenants import consent, session, shares
from tenants.rights import TenantRightsError
from tenants.ui import when

who = session.current()
session.page_view(who, "sharing")
settings = session.settings()
st.title("Sharing")
st.header("What you agree to", divider="gray")
with session.registry() as reg:
    now = consent.current(reg.conn, who.tenant_id)
for purpose, words in consent.PURPOSES.items():
    chosen = st.toggle(words, value=now[purpose], key=f"consent_{purpose}")
    if chosen != now[purpose]:
        try:
            with session.registry() as reg:
                consent.choose(reg, who.household_id, who.tenant_id, purpose, chosen)
        except TenantRightsError as exc:
            st.error(str(exc))
        else:
            st.success(f"Saved: {words.lower()} is now {'on' if chosen else 'off'}.")
with session.registry() as reg:
    past = consent.history(reg.conn, who.tenant_id)
with st.expander("History of these choices"):
    if past:
        st.dataframe(pd.DataFrame([{"When": when(h["at"]), "What": h["purpose"],
                                    "Choice": h["event"], "How": h["source"]} for h in past]),
                     hide_index=True)
    else:
        st.write("No choices recorded yet.")

st.header("Share a read-only view", divider="gray")
st.write("Give someone you trust, such as a support worker or a debt adviser, a link to see "
         "your energy and bills or your problems and repairs. They cannot change anything.")
made = st.session_state.pop("tenant_new_link", None)
if made:
    st.success("Here is the link. Copy it now: it is shown only once.")
    st.code(made, language=None)
with st.form("share", clear_on_submit=True):
    label = st.text_input("Who is it for?", key="share_label", max_chars=80)
    st.markdown("What can they see?")
    scopes = [scope for scope, words in shares.SCOPES.items()
              if st.checkbox(words, key=f"share_scope_{scope}")]
    days = st.number_input("For how many days?", min_value=1,
                           max_value=settings.tenants.share_max_days, value=14, step=1,
                           key="share_days")
    make = st.form_submit_button("Make the link", type="primary")
if make:
    try:
        with session.registry() as reg:
            token = shares.create(reg, who.household_id, who.tenant_id, label, scopes,
                                  int(days), settings.tenants.share_max_days)
    except shares.ShareError as exc:
        st.error(str(exc))
    else:
        st.session_state["tenant_new_link"] = shares.link(settings.tenants.public_url, token)
        st.rerun()

with session.registry() as reg:
    links = shares.shares_of(reg.conn, who.household_id)
    uses = shares.uses_of(reg.conn, who.household_id)
st.subheader("Your links")
if not links:
    st.write("You have not shared a link.")
for s in links:
    state = ("stopped " + when(s["revoked_at"]) if s["revoked_at"] else
             "ends " + when(s["expires_at"]))
    seen = [u for u in uses if u["share_id"] == s["share_id"]]
    with st.container(border=True):
        st.markdown(f"**{s['label']}**: {', '.join(shares.SCOPES[x] for x in s['scope'].split(','))}"
                    f"; {state}; opened {sum(u['outcome'] == 'opened' for u in seen)} times.")
        for u in seen[:10]:
            st.caption(f"{when(u['at'])}: {u['outcome']}")
        if not s["revoked_at"] and st.button("Stop this link", key=f"revoke_{s['share_id']}"):
            with session.registry() as reg:
                shares.revoke(reg, who.household_id, who.tenant_id, s["share_id"])
            st.rerun()
