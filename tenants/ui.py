"""Small shared pieces of the portal's pages: styling for phones, money and date words."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import streamlit as st

UK = ZoneInfo("Europe/London")
FUEL = {"electricity": "Electricity", "gas": "Gas"}
KIND = {"damp_mould": "Damp and mould", "cold_home": "Cold home", "excess_heat": "Too hot",
        "device_fault": "Meter or thermostat fault", "credit_runout": "Meter credit running out",
        "self_disconnection": "Supply off", "self_rationing": "Using very little energy",
        "bill_shock": "A high bill coming", "fuel_poverty": "Help with energy costs"}
STAGE = {"made_safe": "make the home safe", "investigate": "investigate",
         "written_summary": "send you a written summary",
         "safety_work": "start the work to fix it"}
STATUS = {"open": "reported, not yet picked up", "acknowledged": "an officer is working on it"}


def style() -> None:
    # Phones first: no wide margins, readable type, large tap targets (WCAG 2.5.8); captions in
    # GOV.UK's secondary text colour, #505a5f (7:1 on white; Streamlit's grey fails 4.5:1).
    st.markdown("<style>[data-testid='stMainBlockContainer']{padding:1.5rem 1rem 3rem;"
                "max-width:46rem} button{min-height:44px} html{font-size:17px}"
                "[data-testid='stCaptionContainer'],[data-testid='stCaptionContainer'] p"
                "{color:#505a5f !important;opacity:1 !important}</style>", unsafe_allow_html=True)


def money(gbp: float) -> str:
    return f"£{gbp:,.2f}"


def when(iso_text: str | None) -> str:
    """A UTC ISO time as UK local words: 'Tuesday 9 December 2026, 23:59'."""
    if not iso_text:
        return ""
    t = datetime.fromisoformat(str(iso_text).replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    t = t.astimezone(UK)
    return f"{t:%A} {t.day} {t:%B %Y}, {t:%H:%M}"


def day(d) -> str:
    return f"{d:%a} {d.day} {d:%b}"
