"""The blocks of the portal's pages, shared by the tenant's own pages and the read-only view of a
share link. Each block says only what its numbers show, and says so plainly when there are none.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from tenants import data, session
from tenants.ui import FUEL, KIND, STAGE, STATUS, day, money, when

COLOURS = {"electricity": "#0072B2", "gas": "#D55E00"}   # Okabe-Ito, as on the dashboard
WEEK_WORDS = {"this_week": "the last 7 days", "last_week": "the 7 days before",
              "last_year": "the same 7 days last year"}


def _payment_type(household_id: str) -> str:
    with session.registry() as reg:
        return reg.household(household_id).payment_type


def energy(household_id: str) -> None:
    client = session.influx()
    weeks = data.weeks(client, household_id)
    st.header("This week", divider="gray")
    if not weeks:
        st.info("We have no readings from your meters for the last few weeks, so there is "
                "nothing to compare yet.")
    for fuel in sorted({w.fuel for w in weeks}):
        by = {w.which: w for w in weeks if w.fuel == fuel}
        st.subheader(FUEL.get(fuel, fuel))
        lines = []
        for which in ("this_week", "last_week", "last_year"):
            w = by.get(which)
            if w is None:
                if which == "last_year":
                    lines.append("We have no readings for the same week last year, so we "
                                 "cannot compare with it.")
                else:
                    lines.append(f"No readings for {WEEK_WORDS[which]}.")
                continue
            gap = ("" if w.complete else
                   f" (readings for only {w.coverage:.0%} of that week, so it was more)")
            lines.append(f"{WEEK_WORDS[which].capitalize()}: **{w.energy_kwh:.1f} kWh**{gap}.")
        now, before = by.get("this_week"), by.get("last_week")
        if now and before and now.complete and before.complete and before.energy_kwh > 0:
            change = now.energy_kwh / before.energy_kwh - 1
            if abs(change) < 0.005:
                lines.append("About the same as the week before.")
            else:
                word = "more" if change > 0 else "less"
                lines.append(f"That is {abs(change):.0%} {word} than the week before.")
        st.markdown("\n".join(f"- {line}" for line in lines))
    use = data.daily_use(client, household_id)
    if not use.empty:
        fig = go.Figure()
        for i, (fuel, g) in enumerate(use.groupby("fuel")):
            fig.add_bar(x=[day(d) for d in g["day"]], y=g["energy_kwh"], name=FUEL.get(fuel, fuel),
                        marker={"color": COLOURS.get(fuel, "#009E73"),
                                "pattern": {"shape": ["", "/"][i % 2]}})
        fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                          barmode="group", yaxis_title="Energy used (kWh)",
                          title="Energy used each day, last 14 days", template="plotly_white",
                          legend={"orientation": "h", "y": -0.25}, font={"size": 14})
        st.plotly_chart(fig, config={"displayModeBar": False}, width="stretch")
    bill(household_id)


def bill(household_id: str) -> None:
    client = session.influx()
    payment = _payment_type(household_id)
    daily = data.daily_forecast(client, household_id)
    with session.registry() as reg:
        tariffs = data.tariffs_of(reg, payment, daily["fuel"].unique())
    cost = data.bill_forecast(daily, tariffs)
    st.header("The next 30 days", divider="gray")
    if cost.empty:
        st.info("We do not have a forecast for your home yet (it needs a few weeks of "
                "readings), so we cannot estimate your bill.")
    else:
        total = float(cost["cost_gbp"].sum())
        days = int(cost["days"].max())
        st.metric(f"Your expected bill for the next {days} days", money(total))
        for r in cost.itertuples():
            st.markdown(
                f"- **{FUEL.get(r.fuel, r.fuel)}**: about {r.energy_kwh:.0f} kWh at "
                f"{r.unit_rate_gbp_per_kwh * 100:.2f}p a kWh, plus a standing charge of "
                f"{r.standing_charge_gbp_per_day * 100:.2f}p a day for {r.days} days: "
                f"**{money(r.cost_gbp)}** (likely between {money(r.cost_gbp_p10)} and "
                f"{money(r.cost_gbp_p90)}).")
        st.caption("At your own tariff today. The forecast comes from your home's past use "
                   "and the weather; a cold spell can raise it.")
    if payment == "prepayment":
        st.header("Your meter credit", divider="gray")
        rows = data.credit_days(client, household_id, daily, tariffs)
        if not rows:
            st.info("We have no recent credit reading from your meter.")
        for r in rows:
            fuel = FUEL.get(r["fuel"], r["fuel"])
            text = f"**{fuel}**: {money(r['credit_gbp'])} on {when(r['at'].isoformat())}."
            if r["days"] is None:
                text += " We cannot say how long it lasts without a forecast."
            elif r["days"] == float("inf"):
                text += (f" At your expected use it lasts beyond the {r['horizon_days']} days "
                         "we forecast.")
            else:
                text += (f" At your expected use it lasts about **{r['days']:.1f} days**"
                         f" (about {r['days_high']:.1f} days if you use more than usual).")
            st.markdown(text)


def cases(household_id: str) -> None:
    with session.registry() as reg:
        rows = data.cases(reg.conn, household_id)
    st.header("Problems we are dealing with", divider="gray")
    if not rows:
        st.write("There are no open problems about your home.")
    for c in rows:
        with st.container(border=True):
            st.subheader(KIND.get(c["kind"], c["kind"]))
            st.write(c["reasons"])
            st.markdown(f"Opened {when(c['opened_at'])}. Status: {STATUS.get(c['status'], c['status'])}.")
            if c["due_by"]:
                # Case deadlines come only from the Awaab's Law clock (advisor/cases.py).
                st.markdown(f"**By law (Awaab's Law) your landlord must "
                            f"{STAGE.get(c['stage'], 'act')} by {when(c['due_by'])}.**")


def tips(household_id: str) -> None:
    with session.registry() as reg:
        rows = data.tips(reg.conn, household_id)
    st.header("Texts we sent you", divider="gray")
    if not rows:
        st.write("We have not sent you any texts.")
    for t in rows:
        with st.container(border=True):
            st.markdown(f"**{when(t['sent_at'])}**")
            if t["body"]:
                st.write(t["body"])
            if t["kind"]:
                st.caption(f"Why: {KIND.get(t['kind'], t['kind'])}. {t['reasons'] or ''}")
