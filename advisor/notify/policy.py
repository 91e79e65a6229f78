"""When a tip may go: quiet hours in UK local time, and phone number matching for STOP replies."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def _hm(text: str) -> time:
    h, m = (int(x) for x in text.split(":"))
    return time(h, m)


def quiet_until(now: datetime, timezone: str, start: str, end: str) -> datetime | None:
    """If `now` falls in the quiet hours [start, end) local time, the moment they end (in now's
    timezone); else None. Quiet hours may span midnight (20:00-09:00)."""
    tz = ZoneInfo(timezone)
    local = now.astimezone(tz)
    t0, t1 = _hm(start), _hm(end)
    if t0 == t1:
        return None
    t = local.time()
    spans_midnight = t0 > t1
    quiet = (t >= t0 or t < t1) if spans_midnight else (t0 <= t < t1)
    if not quiet:
        return None
    end_day = local.date()
    if spans_midnight and t >= t0:
        end_day += timedelta(days=1)
    # Build the wall-clock end in the zone so that a DST change overnight is respected.
    end_local = datetime.combine(end_day, t1, tzinfo=tz)
    return end_local.astimezone(now.tzinfo)


def normalise_uk_mobile(number: str) -> str:
    """Digits of a UK mobile in national form (07...), for matching replies to tenants."""
    digits = re.sub(r"\D", "", number or "")
    if digits.startswith("0044"):
        digits = "0" + digits[4:]
    elif digits.startswith("44"):
        digits = "0" + digits[2:]
    return digits


def is_stop(text: str) -> bool:
    """A reply that asks to stop: STOP, stop., 'Stop please', UNSUBSCRIBE."""
    first = re.sub(r"[^a-z]", " ", (text or "").lower()).split()
    return bool(first) and first[0] in {"stop", "unsubscribe", "stopall", "end", "quit"}
