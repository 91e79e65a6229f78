"""The Awaab's Law clock: deadlines in working days for hazards in social homes (damp and mould
from phase 1; excess cold and excess heat from phase 2, start dates in settings).

Hazards in Social Housing (Prescribed Requirements) (England) Regulations 2025, in force
27 October 2025: a significant hazard is investigated within 10 working days of the landlord
becoming aware, a written summary goes to the tenant within 3 working days of the investigation
concluding, and safety work begins within 5 working days of it concluding; an emergency hazard is
made safe within 24 hours.

Working days exclude Saturdays, Sundays and the bank holidays of England and Wales (including
substitute days), from the maintained `holidays` package. A deadline of N working days is the end
(23:59:59 UK local time) of the Nth working day after the day the clock starts; the starting day
itself does not count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

UK = ZoneInfo("Europe/London")


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=[year]).keys())


def is_working_day(day: date) -> bool:
    """Monday to Friday and not an England and Wales bank holiday."""
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: date, n: int) -> date:
    """The Nth working day after `start` (start itself not counted)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    day = start
    left = n
    while left:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("use timezone-aware datetimes (UTC)")
    return at


def working_deadline(start: datetime, n: int) -> datetime:
    """End of the Nth working day after `start` (UK local day), in UTC."""
    local_day = _aware(start).astimezone(UK).date()
    end_day = add_working_days(local_day, n)
    end_local = datetime.combine(end_day, time(23, 59, 59), tzinfo=UK)
    return end_local.astimezone(UTC)


def emergency_deadline(start: datetime, hours: float = 24.0) -> datetime:
    """Emergency hazards: made safe within `hours` of becoming aware (UTC)."""
    return _aware(start).astimezone(UTC) + timedelta(hours=hours)


def hazard_in_force(kind: str, at: datetime, hazards_from: dict[str, date]) -> bool:
    """Whether a hazard's Awaab's Law clock applies to a case the landlord became aware of at
    `at` (UK local day on or after the hazard's start date)."""
    start = hazards_from.get(kind)
    return start is not None and _aware(at).astimezone(UK).date() >= start


def further_work_deadline(concluded: datetime, weeks: float = 12.0) -> datetime:
    """Further work that cannot begin within the safety-work days: begun within `weeks` of
    the investigation concluding (UTC)."""
    return _aware(concluded).astimezone(UTC) + timedelta(weeks=weeks)


def clock(aware_at: datetime, emergency: bool, investigate_days: int = 10, summary_days: int = 3,
          safety_days: int = 5, emergency_hours: float = 24.0,
          investigated_at: datetime | None = None) -> dict[str, datetime]:
    """All Awaab's Law deadlines for one hazard (UTC).

    Emergency: {"made_safe": aware + 24 h} plus the significant-hazard steps that follow.
    Significant: {"investigate": ..., "written_summary": ..., "safety_work": ...}; the summary and
    safety work count from the investigation's conclusion (`investigated_at`, or else the
    investigation deadline, the latest it may conclude).
    """
    out: dict[str, datetime] = {}
    if emergency:
        out["made_safe"] = emergency_deadline(aware_at, emergency_hours)
    out["investigate"] = working_deadline(aware_at, investigate_days)
    concluded = investigated_at or out["investigate"]
    out["written_summary"] = working_deadline(concluded, summary_days)
    out["safety_work"] = working_deadline(concluded, safety_days)
    return out
