"""What a new installation's history lacks for a report, and when it will have it.

A weekly report compares homes with at least 90% of their half hours in both this week and the
same week last year; open data counts a home for a month with 90% of the month's half hours.
Before the history is long enough those figures are empty; these pure functions say why and
from when they will not be, from the first half hour InfluxDB holds (``history_start_ns``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from advisor.reports.period import Period, local_midnight_ns, month_period

MIN_SHARE = 0.9          # the share of half hours the weekly comparison and open data need
NO_HISTORY = None


def _day(ns: int, tz: str) -> date:
    return datetime.fromtimestamp(ns / 1e9, ZoneInfo(tz)).date()


def first_full_day(history_start_ns: int, tz: str) -> date:
    """The first UK day wholly inside the history (the first reading's day if at midnight)."""
    day = _day(history_start_ns, tz)
    return day if local_midnight_ns(day, tz) >= history_start_ns else day + timedelta(days=1)


def _long(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def weekly_gaps(week: Period, history_start_ns: int | None) -> list[str]:
    """Notes for the weekly report of ``week``: what its history lacks and when it will not."""
    if history_start_ns is None:
        return ["No half-hourly use is stored yet: consumption is empty and no home is compared "
                "with last year until the meters' readings arrive."]
    notes = []
    if history_start_ns > week.start_ns:
        full = first_full_day(history_start_ns, week.tz)
        monday = full + timedelta(days=(7 - full.weekday()) % 7)
        notes.append(f"History starts {_long(_day(history_start_ns, week.tz))}: this week has "
                     f"use only from then, so no home has {MIN_SHARE:.0%} of the week's half "
                     f"hours; the first complete week is the one ending "
                     f"{_long(monday + timedelta(days=6))}.")
    if history_start_ns > week.shifted(-364).start_ns:
        full = first_full_day(history_start_ns, week.tz) + timedelta(days=364)
        monday = full + timedelta(days=(7 - full.weekday()) % 7)
        notes.append(f"Comparison with the same week last year needs a year of history: history "
                     f"starts {_long(_day(history_start_ns, week.tz))}, so the first week "
                     f"compared is the one ending {_long(monday + timedelta(days=6))}.")
    return notes


def opendata_gap(month: str, history_start_ns: int | None, now_ns: int) -> str | None:
    """Why open data for ``month`` ('YYYY-MM') cannot have any home yet, or None if it can."""
    period = month_period(month)
    label = f"{period.first_day:%B %Y}"
    if period.end_ns > now_ns:
        return f"open data for {label} needs the whole month: it ends {_long(period.last_day)}"
    need_ns = MIN_SHARE * (period.end_ns - period.start_ns)
    if history_start_ns is None:
        return (f"open data for {label} needs {MIN_SHARE:.0%} of the month's half hours in each "
                "home; no half-hourly use is stored yet")
    if period.end_ns - history_start_ns >= need_ns:
        return None
    nxt = month_period(f"{period.last_day + timedelta(days=1):%Y-%m}")
    start = _long(_day(history_start_ns, period.tz))
    first = nxt if nxt.end_ns - history_start_ns >= MIN_SHARE * (nxt.end_ns - nxt.start_ns) \
        else month_period(f"{nxt.last_day + timedelta(days=1):%Y-%m}")
    return (f"open data for {label} needs {MIN_SHARE:.0%} of the month's half hours in each "
            f"home; history starts {start}, so the first month with enough is "
            f"{first.first_day:%B %Y} (available from {_long(first.last_day + timedelta(days=1))})")
