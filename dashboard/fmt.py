"""Plain words for officers: labels with icons (colour is never the only signal), UK local
times, money and energy with their units."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

UK = ZoneInfo("Europe/London")

# Each severity has its own word and its own icon shape, so it reads the same without colour.
SEVERITY_LABEL = {"emergency": "‼ Emergency", "high": "▲ High", "medium": "◆ Medium",
                  "low": "○ Low"}
SEVERITY_ORDER = {"emergency": 0, "high": 1, "medium": 2, "low": 3}
KIND_LABEL = {
    "bill_shock": "Bill shock",
    "credit_runout": "Credit running out",
    "self_disconnection": "Self-disconnection",
    "self_rationing": "Self-rationing",
    "cold_home": "Cold home (excess cold)",
    "damp_mould": "Damp and mould",
    "fuel_poverty": "Fuel poverty",
    "device_fault": "Device fault",
    "excess_heat": "Excess heat",
    "money": "Money (credit, bill, fuel poverty)",
}
STATUS_LABEL = {"open": "New", "acknowledged": "Acknowledged", "resolved": "Resolved",
                "dismissed": "Dismissed"}
STAGE_LABEL = {"investigate": "Investigate", "written_summary": "Written summary to tenant",
               "safety_work": "Begin safety work", "made_safe": "Make safe (emergency)"}
SMS_STATUS_LABEL = {"queued": "Queued", "sending": "Sending", "delivered": "✔ Delivered",
                    "permanent-failure": "✖ Failed (number not reachable)",
                    "temporary-failure": "⚠ Failed for now (phone off or full)",
                    "technical-failure": "⚠ Failed (provider problem)",
                    "skipped": "– Not sent", "outbox": "– Not sent: outbox (no Notify key)",
                    "sent": "Sent abroad (no delivery receipt)",
                    "cancelled": "– Cancelled before sending"}
REPLY_KIND_LABEL = {"stop": "STOP (no more texts)", "help": "HELP", "other": "Message"}
REPLY_ACTION_LABEL = {
    "opted_out_confirmed": "Opted out; confirmation sent",
    "opted_out_confirmation_failed": "Opted out; confirmation could not be sent",
    "already_opted_out": "Already opted out (no second confirmation)",
    "help_sent": "Help line sent", "help_already_sent": "Help line sent within the hour",
    "help_failed": "Help line could not be sent", "for_officer": "For an officer to answer",
    "unknown_number": "From a number not in the registry"}


SKIP_REASON_LABEL = {"no_consent": "No consent to texts", "opted_out": "Tenant opted out",
                     "no_tenant": "No tenant recorded", "no_mobile": "No mobile number",
                     "rate_limited": "A text went recently (limit)",
                     "another_tip_first": "Another tip goes first",
                     "quiet_hours": "Waiting for the end of quiet hours",
                     "number_failing": "Number cannot be reached (see Numbers that fail)"}


TRUST_WORDS = {
    "gaps": "some readings are missing, so the forecast is rougher than usual",
    "limited_history": "this home has little history yet, so the forecast is rough",
    "step_change": "use changed recently; the forecast follows the new level",
    "all_zeros": "no use recorded lately: check the meter",
    "no_data": "no readings to forecast from",
}


def skip_reason_label(reason) -> str:
    if reason is None or (isinstance(reason, float) and math.isnan(reason)) or reason == "":
        return ""
    return SKIP_REASON_LABEL.get(str(reason), str(reason).replace("_", " "))


def severity_label(severity: str | None) -> str:
    return SEVERITY_LABEL.get(severity or "", str(severity or "–"))


def kind_label(kind: str | None) -> str:
    return KIND_LABEL.get(kind or "", str(kind or "–").replace("_", " ").capitalize())


def parse_utc(value) -> datetime | None:
    """A registry time (ISO 8601 UTC text), datetime or pandas Timestamp as an aware datetime."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, str):
        if not value:
            return None
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def uk_time(value, now: datetime | None = None) -> str:
    """A time in UK local time, in words close to now: '09:40 today', '09:40 yesterday',
    'Mon 23 Nov 09:40', '23 Nov 2025 09:40'."""
    when = parse_utc(value)
    if when is None:
        return "–"
    local = when.astimezone(UK)
    today = (now or datetime.now(UTC)).astimezone(UK).date()
    days = (today - local.date()).days
    hm = local.strftime("%H:%M")
    if days == 0:
        return f"{hm} today"
    if days == 1:
        return f"{hm} yesterday"
    if days == -1:
        return f"{hm} tomorrow"
    if abs(days) < 180:
        return f"{local.strftime('%a')} {local.day} {local.strftime('%b')} {hm}"
    return f"{local.day} {local.strftime('%b %Y')} {hm}"


def uk_date(value) -> str:
    when = parse_utc(value)
    return "–" if when is None else f"{when.astimezone(UK).strftime('%a')} " \
        f"{when.astimezone(UK).day} {when.astimezone(UK).strftime('%b %Y')}"


def duration_words(delta: timedelta) -> str:
    """'3 days 4 hours', '5 hours', '25 minutes' (always positive)."""
    s = abs(delta.total_seconds())
    days, rem = divmod(int(s), 86_400)
    hours, rem = divmod(rem, 3_600)
    minutes = rem // 60
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (
            f" {hours} hour{'s' if hours != 1 else ''}" if hours and days < 3 else "")
    if hours:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{max(minutes, 1)} minute{'s' if minutes != 1 else ''}"


def due_words(due_by, now: datetime | None = None) -> str:
    """Awaab's Law clock in words: '⚠ OVERDUE by 2 days', 'Due in 5 hours (17:00 today)'."""
    due = parse_utc(due_by)
    if due is None:
        return "–"
    now = now or datetime.now(UTC)
    if due <= now:
        return f"⚠ OVERDUE by {duration_words(now - due)}"
    return f"Due in {duration_words(due - now)} ({uk_time(due, now)})"


def gbp(value: float | None, decimals: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    sign = "-" if value < 0 else ""
    return f"{sign}£{abs(value):,.{decimals}f}"


def number(value: float | None, unit: str, decimals: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{decimals}f} {unit}"


_MD_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")
# After escaping: the ':' of "://", the '.' of "www." and the '@' of an address, as escaped.
_AUTOLINK = re.compile(r"\\:(?=\\/\\/)|(?<![\w])www\\\.|\\@", re.IGNORECASE)
WORD_JOINER = "\u2060"


def md_text(value) -> str:
    """Free text (a note, a reason, a name) for st.markdown shown exactly as typed: every ASCII
    punctuation mark backslash-escaped (CommonMark allows it for all of them), so a note can
    never become a link, a remote image, a heading or emphasis. Line breaks are kept.

    Escapes do not stop bare-URL links (``http://``, ``www.``, ``name@host``: Streamlit's
    renderer links them whatever the backslashes or character references, as seen in
    Chromium), so an invisible word joiner (U+2060) goes after the ':' of '://' and before
    the '.' of 'www.' and an '@': the text reads the same and is no link."""
    text = "" if value is None else str(value)
    out = _MD_PUNCT.sub(r"\\\1", text).replace("\n", "  \n")
    return _AUTOLINK.sub(_unlink, out)


def _unlink(m: re.Match[str]) -> str:
    token = m[0]
    if token == "\\:":  # "http:" + joiner + "//"
        return token + WORD_JOINER
    return token[:-2] + WORD_JOINER + token[-2:]  # "www" + joiner + ".", joiner + "@"
