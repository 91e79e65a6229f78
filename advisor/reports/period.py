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
    """Whole UK local days ``first_day`` .. ``last_day`` (inclusive) and their UTC bounds."""

    first_day: date
    last_day: date
    tz: str = UK

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def start_ns(self) -> int:
        return local_midnight_ns(self.first_day, self.tz)

    @property
    def end_ns(self) -> int:
        """Exclusive end: midnight starting the day after ``last_day``."""
        return local_midnight_ns(self.last_day + timedelta(days=1), self.tz)

    def day_array(self) -> np.ndarray:
        """The period's days as datetime64[D] (days,)."""
        return np.arange(np.datetime64(self.first_day), np.datetime64(self.last_day) + 1)

    def shifted(self, days: int) -> Period:
        return Period(self.first_day + timedelta(days=days), self.last_day + timedelta(days=days),
                      self.tz)

    def label(self) -> str:
        return f"{self.first_day:%a %d %b %Y} to {self.last_day:%a %d %b %Y}"


def week_ending(last_day: date) -> Period:
    """The seven UK days ending on ``last_day``."""
    return Period(last_day - timedelta(days=6), last_day)


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
