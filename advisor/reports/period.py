"""Report periods: UK calendar days and the UTC instants that bound them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

UK = "Europe/London"
DAY_NS = 86_400 * 10**9


def local_midnight_ns(day: date, tz: str = UK) -> int:
    """The instant local midnight starts ``day`` [ns since the epoch, UTC]."""
    aware = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))
    return int(aware.astimezone(UTC).timestamp()) * 10**9


@dataclass(frozen=True)
class Period:
    """Whole UK local days ``first_day`` .. ``last_day`` (inclusive) and their UTC bounds.

    ``as_of_ns`` cuts a period that has not ended at that instant (a week to date): the
    period's data, deadlines and silences are then judged at ``as_of_ns``, not at its end."""

    first_day: date
    last_day: date
    tz: str = UK
    as_of_ns: int | None = None

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def start_ns(self) -> int:
        return local_midnight_ns(self.first_day, self.tz)

    @property
    def full_end_ns(self) -> int:
        """Midnight starting the day after ``last_day`` (when the whole period has ended)."""
        return local_midnight_ns(self.last_day + timedelta(days=1), self.tz)

    @property
    def end_ns(self) -> int:
        """Exclusive end of what the period covers: its full end, or ``as_of_ns`` if earlier."""
        full = self.full_end_ns
        return full if self.as_of_ns is None else min(full, int(self.as_of_ns))

    @property
    def to_date(self) -> bool:
        """True for a period cut before its end (a week to date)."""
        return self.end_ns < self.full_end_ns

    @property
    def expected_halfhours(self) -> float:
        """Half hours the period covers (a week: 336; a week to date: those elapsed)."""
        return (self.end_ns - self.start_ns) / (1800 * 10**9)

    def day_array(self) -> np.ndarray:
        """The period's days as datetime64[D] (days,)."""
        return np.arange(np.datetime64(self.first_day), np.datetime64(self.last_day) + 1)

    def shifted(self, days: int) -> Period:
        as_of = None if self.as_of_ns is None else int(self.as_of_ns) + days * DAY_NS
        return Period(self.first_day + timedelta(days=days), self.last_day + timedelta(days=days),
                      self.tz, as_of)

    def label(self) -> str:
        text = f"{self.first_day:%a %d %b %Y} to {self.last_day:%a %d %b %Y}"
        if self.to_date:
            until = datetime.fromtimestamp(self.end_ns / 1e9, ZoneInfo(self.tz))
            text = f"week to date, {self.first_day:%a %d %b %Y} to {until:%a %d %b %Y %H:%M}"
        return text


def week_ending(last_day: date, as_of_ns: int | None = None) -> Period:
    """The seven UK days ending on ``last_day`` (cut at ``as_of_ns`` for a week to date)."""
    return Period(last_day - timedelta(days=6), last_day, as_of_ns=as_of_ns)


def current_week_ending(today: date) -> date:
    """The Sunday ending the Monday-to-Sunday week that contains ``today``."""
    return today + timedelta(days=6 - today.weekday())


def default_week_ending(today: date) -> date:
    """The last complete Monday-to-Sunday week before ``today``: the Sunday before it."""
    return today - timedelta(days=today.weekday() + 1)


def same_week_last_year(week: Period) -> Period:
    """52 weeks (364 days) earlier, so weekdays line up."""
    return week.shifted(-364)


def month_period(month: str) -> Period:
    """'YYYY-MM' -> the whole UK month."""
    try:
        first = date.fromisoformat(month + "-01")
    except ValueError:
        raise ValueError(f"month {month!r} is not YYYY-MM (for example 2026-01)") from None
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return Period(first, nxt - timedelta(days=1))


def default_month(today: date) -> str:
    """The last complete month before ``today``."""
    last = today.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}"


def iso_to_ns(values) -> np.ndarray:
    """ISO 8601 UTC text (registry times, with Z or an offset; None allowed) -> int64 ns, with
    the minimum int64 (NaT) for missing values. Vectorised through pandas."""
    import pandas as pd

    idx = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
    return idx.to_numpy(dtype="datetime64[ns]").astype(np.int64)


NAT_NS = np.iinfo(np.int64).min
