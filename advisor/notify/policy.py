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


# Replies that withdraw consent. Unambiguous words count as the first word of a longer reply
# ("Stop sending me these"); words with other everyday meanings count only on their own, give
# or take polite words ("Cancel", "quit please"), so "Cancel my repair visit" reaches an officer
# instead of ending the texts. docs/notify.md lists them.
STOP_FIRST_WORDS = frozenset({"stop", "stopall", "unsubscribe", "optout"})
STOP_ALONE_WORDS = frozenset({"end", "cancel", "quit", "remove"})
HELP_WORDS = frozenset({"help", "info"})
POLITE_WORDS = frozenset({"please", "pls", "plz", "thanks", "thank", "you", "thankyou", "ta",
                          "now", "all", "me", "texts", "text", "texting", "messages", "ok", "okay"})
REPLY_KINDS = ("stop", "help", "other")


def _words(text: str) -> list[str]:
    words = re.sub(r"[^a-z]", " ", (text or "").lower()).split()
    # "opt out", "opt-out" and "stop all" are one word to the rules below.
    joined: list[str] = []
    for w in words:
        if joined and (joined[-1], w) in (("opt", "out"), ("stop", "all")):
            joined[-1] += w
        else:
            joined.append(w)
    return joined


def classify_reply(text: str) -> str:
    """What a tenant's text asks: 'stop' (withdraw consent), 'help' (send the help contact) or
    'other' (an officer reads it). STOP wins over HELP ("stop help")."""
    words = _words(text)
    if not words:
        return "other"
    keywords = [w for w in words if w not in POLITE_WORDS]
    if words[0] in STOP_FIRST_WORDS:
        return "stop"
    if keywords and all(w in STOP_FIRST_WORDS | STOP_ALONE_WORDS | HELP_WORDS
                                  for w in keywords) and set(keywords) - HELP_WORDS:
        return "stop"
    if words[0] in HELP_WORDS or (len(keywords) == 1 and keywords[0] in HELP_WORDS):
        return "help"
    return "other"


def is_stop(text: str) -> bool:
    """A reply that asks to stop (see classify_reply)."""
    return classify_reply(text) == "stop"
