"""Household: latest readings, consumption with forecast and its band, indoor temperature and
humidity against the thresholds, prepayment credit and days left, the 30-day bill forecast,
every case and message, and (for those allowed) the tenant's contact and consent."""

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.auth import audit
from dashboard.fmt import (
    SMS_STATUS_LABEL,
    STATUS_LABEL,
    TRUST_WORDS,
    gbp,
    kind_label,
    md_text,
    number,
    severity_label,
    skip_reason_label,
    uk_time,
)
from dashboard.ui import guarded, require_user

user = require_user()
scope = user.scope()
st.title("Household")

# The home to show: from the risk queue, a link (?household=H000123), or typed in.
chosen = st.query_params.get("household") or st.session_state.get("household_id") or ""
typed = st.text_input("Home id", value=chosen, placeholder="e.g. H000123",
                      help="The pseudonymous id shown in the risk queue").strip().upper()
if not typed:
    st.info("Type a home id, or open a home from the Risk queue.")
    st.stop()
try:
    home = data.household(typed, scope)
except data.OutOfScopeError:
    st.error(f"No home {typed} on your patches. Check the id; homes on other patches are not "
             "shown to you.")
    st.stop()
st.session_state["household_id"] = typed
st.query_params["household"] = typed
hid = typed

st.subheader(f"Home {hid} · {home['estate']}, {home['patch']} patch")
st.markdown(
    f"{home['property_type'].capitalize()}, {home['bedrooms']} bedroom(s), "
    f"{home['floor_area_m2']:.0f} m² · EPC band **{home['epc_band']}** · "
    f"{'prepayment' if home['payment_type'] == 'prepayment' else 'credit'} meter · "
    f"heating: {home['heating']} · {home['occupants']} occupant(s)"
    + (" · ⚠ **vulnerable household**" if home["vulnerable"] else ""))

latest = guarded("The latest readings", data.latest, hid, scope)
now = pd.Timestamp.now(tz="UTC")
if latest is not None:
    if latest.empty:
        st.error("No readings from this home in the last 30 days: the meters may be offline or "
                 "not yet installed. Check Data health, or arrange a visit.")
    else:
        newest = latest["time"].max()
        if now - newest > pd.Timedelta(hours=2):
            st.error(f"No readings from this home since {uk_time(newest)}: the meter may be "
                     "offline. Check Data health; if it stays silent, arrange a visit.")
        cols = st.columns(max(len(latest), 1))
        for col, row in zip(cols, latest.to_dict("records"), strict=False):
            src = str(row["source"]).replace("_", " ").capitalize()
            if row["measurement"] == "meter":
                label = f"{src} meter"
                power = row.get("power_w", float("nan"))
                if pd.notna(power):
                    value = number(power, "W", 0) + " now"
                    extra = [f"register {number(row.get('energy_kwh'), 'kWh', 1)}"]
                else:  # gas meters report a register and a flow, not a power
                    value = number(row.get("energy_kwh"), "kWh", 0)
                    extra = ["meter register"]
                if pd.notna(row.get("credit_gbp", float("nan"))):
                    extra.append(f"credit {gbp(row['credit_gbp'])}")
            else:
                label = f"{src}"
                value = number(row.get("temp_c"), "°C", 1)
                extra = [f"humidity {number(row.get('humidity_pct'), '%', 0)}"]
            col.metric(label, value, help=f"Read {uk_time(row['time'])}")
            col.caption(" · ".join(extra) + f"  \nread {uk_time(row['time'])}")

bills = guarded("The bill forecast", data.bill_forecast, hid, scope)
if bills is not None and not bills.empty:
    st.markdown("#### Forecast bill, next 30 days")
    cols = st.columns(len(bills) + 1)
    for col, b in zip(cols, bills.to_dict("records"), strict=False):
        col.metric(f"{b['fuel'].capitalize()}", gbp(b["cost_gbp"]),
                   help=f"Most likely figure. {gbp(b['cost_gbp_p10'])} if every day is as low as "
                        f"the forecast allows, {gbp(b['cost_gbp_p90'])} if every day is high; "
                        f"{b['energy_kwh']:.0f} kWh at {b['unit_rate_gbp_per_kwh'] * 100:.2f} p/kWh "
                        f"plus {b['standing_charge_gbp_per_day'] * 100:.2f} p/day standing charge")
        col.caption(f"{gbp(b['cost_gbp_p10'], 0)} if every day is low, "
                    f"{gbp(b['cost_gbp_p90'], 0)} if every day is high · "
                    f"{b['energy_kwh']:.0f} kWh over {b['days']} days")
    cols[-1].metric("All fuels", gbp(bills["cost_gbp"].sum()))
    fc_trust = data.forecasts(hid, scope)
    for fuel, trust in fc_trust.groupby("fuel")["trust"].first().items():
        if trust in TRUST_WORDS:
            st.caption(f"{fuel.capitalize()} forecast: {TRUST_WORDS[trust]}.")

st.markdown("#### Energy used and forecast")
view = st.radio("Show", ["Days: 8 weeks back, 30 days ahead",
                         "Half hours: 7 days back, 7 days ahead"], horizontal=True,
                key="usage_view", label_visibility="collapsed")
step = "daily" if view.startswith("Days") else "half-hourly"
usage = guarded("The consumption history",
                data.usage_daily if step == "daily" else data.usage_halfhourly, hid, scope)
fc = guarded("The forecast", data.forecasts, hid, scope)
if usage is not None and fc is not None:
    fuels = sorted(set(usage["fuel"]) | set(fc["fuel"]))
    if not fuels:
        st.info("No half-hourly consumption or forecast for this home yet.")
    for fuel in fuels:
        st.plotly_chart(charts.consumption(usage, fc, fuel, step), width="stretch",
                        config=charts.CHART_CONFIG, key=f"consumption_{fuel}")
    st.caption("The shaded band is the likely range: on 8 days (or half hours) in 10 use should "
               "fall inside it.")

ind = guarded("Indoor temperature and humidity", data.indoor, hid, scope)
if ind is not None:
    if (ind.groupby("room").size().max() if not ind.empty else 0) < 3:
        st.info("Too few thermostat readings from this home in the last 7 days to draw the "
                "indoor temperature and humidity.")
    else:
        st.plotly_chart(charts.indoor(ind), width="stretch", config=charts.CHART_CONFIG,
                        key="indoor")

if home["payment_type"] == "prepayment":
    cr = guarded("Prepayment credit", data.credit, hid, scope)
    if cr is not None and not cr.empty:
        st.plotly_chart(charts.credit(cr), width="stretch", config=charts.CHART_CONFIG,
                        key="credit")
        if bills is not None and not bills.empty:
            for fuel, g in cr.groupby("fuel"):
                b = bills[bills["fuel"] == fuel]
                if b.empty or g.empty:
                    continue
                per_day = float(b["cost_gbp"].iloc[0]) / max(int(b["days"].iloc[0]), 1)
                balance = float(g["credit_gbp"].iloc[-1])
                days_left = balance / per_day if per_day > 0 else float("inf")
                text = (f"{fuel.capitalize()}: {gbp(balance)} left, about "
                        f"{days_left:.1f} days at the forecast {gbp(per_day)} per day")
                (st.error if days_left < 3 else st.warning if days_left < 7 else st.info)(
                    ("⚠ " if days_left < 7 else "") + text)

st.markdown("#### Cases")
hc = data.household_cases(hid, scope)
if hc.empty:
    st.write("No cases for this home.")
else:
    st.dataframe(pd.DataFrame({
        "Case": hc["case_id"].astype(int), "Urgency": hc["severity"].map(severity_label),
        "Kind": hc["kind"].map(kind_label), "Status": hc["status"].map(STATUS_LABEL),
        "Why": hc["reasons"], "Opened": [uk_time(t) for t in hc["opened_at"]],
        "Closed": [uk_time(t) for t in hc["closed_at"]],
        "Owner": hc["officer"].fillna("Unassigned")}), hide_index=True, width="stretch")
    events = data.case_events(tuple(int(c) for c in hc["case_id"]))
    with st.expander(f"Full history of these cases ({len(events)} "
                     f"event{'s' if len(events) != 1 else ''})"):
        for e in events.itertuples():
            st.markdown(f"- {uk_time(e.at)} · case {e.case_id} · **{md_text(e.actor)}** · "
                        f"{e.action.replace('_', ' ')}" + (f": {md_text(e.detail)}" if e.detail else ""))

st.markdown("#### Messages to the tenant")
msgs = data.messages(scope, 365, hid)
if msgs.empty:
    st.write("No text messages in the last 12 months.")
else:
    st.dataframe(pd.DataFrame({
        "Sent": [uk_time(t) for t in msgs["sent_at"]], "Tip": msgs["template"].map(kind_label),
        "Status": msgs["status"].map(lambda s: SMS_STATUS_LABEL.get(s, s)),
        "Why not sent": msgs["skip_reason"].map(skip_reason_label), "Text": msgs["body"].fillna("")}),
        hide_index=True, width="stretch")

st.markdown("#### Tenant contact and consent")
may_see = user.role == "manager" or (user.role == "officer" and home["patch"] in user.patches)
if not may_see:
    st.caption("Contact details are shown only to the officers of this patch and to managers.")
elif st.toggle("Show contact details (the view is recorded)", key=f"contact_{hid}"):
    if st.session_state.get("contact_logged") != hid:
        audit(user.username, "viewed_tenant_contact", f"household:{hid}")
        st.session_state["contact_logged"] = hid
    ten = data.tenants(hid, scope)
    if ten.empty:
        st.write("No tenant recorded.")
    for t in ten.to_dict("records"):
        consent = ("✔ consents to texts" if t["sms_consent"] and not t["opted_out_at"] else
                   f"✖ opted out {uk_time(t['opted_out_at'])}" if t["opted_out_at"] else
                   "✖ no consent to texts")
        st.markdown(f"**{md_text(t['full_name'])}** · {md_text(t['mobile'] or 'no mobile')} · {consent}"
                    + (f" (given {uk_time(t['sms_consent_at'])}, "
                       f"{str(t['sms_consent_source']).replace('_', ' ')})"
                       if t["sms_consent"] else ""))
