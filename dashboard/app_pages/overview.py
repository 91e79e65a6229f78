"""Overview: homes, devices reporting, open cases by kind and severity, damp and mould clocks,
the forecast cost of the next 30 days, fuel poverty, and the weekly trend."""

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.fmt import KIND_LABEL, SEVERITY_LABEL, gbp
from dashboard.ui import as_of_caption, guarded, require_user, scope_picker
from dashboard.worklist import start_here

QUEUE_PAGE = "app_pages/risk_queue.py"

user = require_user()
st.title("Overview")
as_of_caption()
scope = scope_picker(user, "overview_patches", data.all_patches())

homes = data.households(scope)
cases = data.open_cases(scope)
damp = data.damp_cases(scope)
now = pd.Timestamp.now(tz="UTC")
due = pd.to_datetime(damp["due_by"], utc=True, errors="coerce")
overdue = int((due <= now).sum())
due_24h = int(((due > now) & (due <= now + pd.Timedelta(hours=24))).sum())
# Portfolio-wide figures are computed in the background; never make the officer wait for them.
devs = guarded("Device status", data.device_status, scope, wait=False)
costs = guarded("The forecast cost", data.forecast_cost, scope, wait=False)
PREPARING = "Being calculated for the whole portfolio: refresh the page in a minute."

# Start here: what to do today, in order, each with the cases it counts.
uk_now = now.tz_convert("Europe/London")
day_end = (uk_now.normalize() + pd.Timedelta(days=1)).tz_convert("UTC")
todos = start_here(cases, now, day_end, user.username)
with st.container(border=True):
    st.subheader("Start here")
    if not any(t.count for t in todos):
        st.write("✔ Nothing is due, new or waiting for an owner on these patches.")
    for i, todo in enumerate(t for t in todos if t.count):
        line, go = st.columns([5, 1.2])
        line.markdown(f"**{i + 1}.** {todo.label}: **{todo.count:,}** "
                      f"case{'s' if todo.count != 1 else ''}")
        if go.button("Show them", key=f"start_{todo.key}"):
            st.session_state["queue_preset"] = (todo.label, todo.case_ids)
            st.switch_page(QUEUE_PAGE)

c1, c2, c3 = st.columns(3)
c4, c5, c6 = st.columns(3)
c1.metric("Homes", f"{len(homes):,}")
if devs is not None and len(devs):
    reporting = int((~devs["silent"]).sum())
    c2.metric("Devices reporting", f"{reporting:,} of {len(devs):,}",
              help="A device counts as reporting when its last reading is recent for its "
                   "interval. See Data health for the silent ones.")
else:
    c2.metric("Devices reporting", "…", help=PREPARING)
n_urgent = int(cases["severity"].isin(["emergency", "high"]).sum())
c3.metric("Open cases", f"{len(cases):,}", help=f"{n_urgent} of them emergency or high")
c4.metric("Damp and mould overdue", f"{overdue:,}",
          help=f"Awaab's Law deadlines passed; {due_24h} more fall due within 24 hours")
if costs is not None and len(costs):
    c5.metric("Forecast cost, next 30 days", gbp(costs["cost_gbp"].sum(), 0),
              help=f"All fuels, {len(costs):,} homes with a forecast; average "
                   f"{gbp(costs['cost_gbp'].mean())} per home")
elif costs is None:
    c5.metric("Forecast cost, next 30 days", "…", help=PREPARING)
else:
    c5.metric("Forecast cost, next 30 days", "–", help="No forecasts yet")
# Fuel poverty is one of the reasons of a home's money case (advisor/grouping.py).
fuel_poor = int(((cases["kind"] == "fuel_poverty")
                 | ((cases["kind"] == "money")
                    & cases["reasons"].str.contains("Fuel poverty: ", regex=False))).sum())
c6.metric("Homes flagged for fuel poverty", f"{fuel_poor:,}")

if overdue:
    st.error(f"⚠ {overdue} damp and mould case{'s are' if overdue != 1 else ' is'} past the "
             "Awaab's Law deadline. Open **Damp and mould** to act on them first.")
elif due_24h:
    st.warning(f"⚠ {due_24h} damp and mould case{'s fall' if due_24h != 1 else ' falls'} due "
               "within 24 hours.")

st.subheader("Open cases by kind and urgency")
if cases.empty:
    st.success("✔ No open cases in these patches.")
else:
    table = pd.crosstab(cases["kind"].map(lambda k: KIND_LABEL.get(k, k)),
                        cases["severity"].map(lambda s: SEVERITY_LABEL.get(s, s)))
    order = [SEVERITY_LABEL[s] for s in ("emergency", "high", "medium", "low")]
    table = table.reindex(columns=[c for c in order if c in table.columns], fill_value=0)
    table["Total"] = table.sum(axis=1)
    table.index.name = "Kind of case"
    table.columns.name = None
    st.dataframe(table.sort_values("Total", ascending=False), width="stretch")

trend = data.case_trend(scope)
if not trend.empty:
    st.plotly_chart(charts.case_trend(trend), width="stretch", config=charts.CHART_CONFIG)

if user.sees_all_patches and scope is None and not homes.empty:
    st.subheader("By patch")
    per = homes.groupby("patch").size().rename("Homes").to_frame()
    per["Open cases"] = cases.groupby("patch").size()
    per["Emergency or high"] = cases[cases["severity"].isin(["emergency", "high"])
                                     ].groupby("patch").size()
    per["Damp and mould overdue"] = damp[due <= now].groupby("patch").size()
    if devs is not None and len(devs):
        per["Silent devices"] = devs[devs["silent"]].groupby("patch").size()
    per = per.fillna(0).astype(int)
    per.index.name = "Patch"
    st.dataframe(per, width="stretch")
