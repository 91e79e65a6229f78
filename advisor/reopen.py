"""Resolved cases stay closed: whether the advisor opens a case again for a home whose case of
the same kind an officer resolved or dismissed, and the reason it gives.

Pure functions over the numbers the rule compared (the earlier case's evidence at the moment it
was closed, and this run's). A case comes back only when

- the situation got worse than when it was closed (`worse`: a higher severity band, or the
  kind's own measure crossed into a worse band, see WORSE below), or
- the quiet period passed (`reopen_quiet_days`, or `reopen_quiet_days_by_kind`).

A case the advisor closed itself (clear for `auto_close_h`) has no officer's decision behind it:
when the condition returns it opens again at once, linked, saying it came back.
docs/advisor.md "Resolved cases stay closed" documents the rule.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# Same order as advisor.rules.base.SEVERITIES (not imported: settings validate against this
# module and must not pull in the rules).
SEVERITY_ORDER = ("none", "low", "medium", "high", "emergency")
KNOWN_KINDS = ("money", "credit_runout", "bill_shock", "fuel_poverty", "self_disconnection",
               "self_rationing", "cold_home", "damp_mould", "excess_heat", "device_fault")
AUTO_CLOSED_PREFIX = "auto-closed"
UK = ZoneInfo("Europe/London")
# More hours off supply counts as worse from one more whole hour: the rule's window rolls, and
# a few minutes either way is the same situation.
MORE_OFF_SUPPLY_H = 1.0
# Relative humidity bands (70 % is the damp bar, 90 % the very high bar): worse is a higher band.
RH_BANDS_PCT = (70.0, 80.0, 90.0)
MONEY_LABELS = {"credit_runout": "credit running out", "bill_shock": "a bill shock",
                "fuel_poverty": "fuel poverty"}


@dataclass(frozen=True)
class Decision:
    """Open a case (True) or keep the earlier one closed; `reason` is what the new case says."""

    reopen: bool
    reason: str | None = None


def _num(evidence: dict, key: str) -> float | None:
    value = evidence.get(key)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _day(at: datetime) -> str:
    """The day an officer would name for `at`: UK local time, not UTC (a case resolved at
    00:30 BST on 2 June was resolved on 2 June, though it was still 1 June in UTC)."""
    local = at.astimezone(UK)
    return f"{local.day} {local:%b}"


def _band(value: float, edges: tuple[float, ...]) -> int:
    return sum(value >= e for e in edges)


def _cold_band(evidence: dict) -> int | None:
    """How many of the cold bars (18, 16, 10 °C as the rule used them) the lowest temperature
    fell below."""
    lowest = _num(evidence, "lowest_c")
    if lowest is None:
        return None
    bars = [b for b in (_num(evidence, k) for k in ("bar_c", "severe_c", "great_c")) if b is not None]
    return sum(lowest < b for b in bars)


def worse(kind: str, old_severity: str, old: dict, new_severity: str, new: dict,
          closed: str) -> str | None:
    """Why the situation is worse now than when the earlier case was `closed` ("resolved on
    3 Dec"), from the numbers the rule compared; None if it is not worse."""
    rank = SEVERITY_ORDER.index
    if new_severity in SEVERITY_ORDER and old_severity in SEVERITY_ORDER \
            and rank(new_severity) > rank(old_severity):
        return f"more urgent than when {closed}: {new_severity} against {old_severity}"
    check = WORSE.get(kind)
    return check(old, new, closed) if check else None


def _cold_home(old: dict, new: dict, closed: str) -> str | None:
    was, now = _cold_band(old), _cold_band(new)
    if was is not None and now is not None and now > was:
        return (f"colder than when {closed}: {_num(new, 'lowest_c'):.1f} °C against"
                f" {_num(old, 'lowest_c'):.1f} °C")
    return None


def _self_disconnection(old: dict, new: dict, closed: str) -> str | None:
    was, now = _num(old, "off_h"), _num(new, "off_h")
    if was is not None and now is not None and now >= was + MORE_OFF_SUPPLY_H:
        return f"more hours off supply than when {closed}: {now:.1f} h against {was:.1f} h"
    return None


def _damp_mould(old: dict, new: dict, closed: str) -> str | None:
    was, now = _num(old, "max_rh_pct"), _num(new, "max_rh_pct")
    if was is not None and now is not None and _band(now, RH_BANDS_PCT) > _band(was, RH_BANDS_PCT):
        return f"more humid than when {closed}: {now:.0f} % against {was:.0f} %"
    cond_was, cond_now = _num(old, "condensation_h") or 0.0, _num(new, "condensation_h") or 0.0
    if cond_was == 0 and cond_now > 0:
        return f"condensation now ({cond_now:.1f} h), none when {closed}"
    return None


def _money(old: dict, new: dict, closed: str) -> str | None:
    added = [k for k in MONEY_LABELS if new.get(f"{k}.fired") and not old.get(f"{k}.fired")]
    if added:
        return f"a new reason since {closed}: " + ", ".join(MONEY_LABELS[k] for k in added)
    return None


def _device_fault(old: dict, new: dict, closed: str) -> str | None:
    def count(ev: dict) -> float:
        return (_num(ev, "n_silent") or 0) + (_num(ev, "n_stuck") or 0)
    if count(new) > count(old):
        return f"more devices at fault than when {closed}: {count(new):.0f} against {count(old):.0f}"
    return None


def _excess_heat(old: dict, new: dict, closed: str) -> str | None:
    rooms = [room for room in ("living", "bedroom")
             if new.get(f"{room}_hit") and not old.get(f"{room}_hit")]
    if rooms:
        return f"now too hot in the {' and '.join(r + ' room' for r in rooms)}, not so when {closed}"
    return None


WORSE = {"cold_home": _cold_home, "self_disconnection": _self_disconnection,
         "damp_mould": _damp_mould, "money": _money, "device_fault": _device_fault,
         "excess_heat": _excess_heat}


def quiet_days(kind: str, settings) -> float:
    return float(settings.reopen_quiet_days_by_kind.get(kind, settings.reopen_quiet_days))


def decide(earlier: dict | None, severity: str, numbers: dict, now: datetime,
           settings) -> Decision:
    """Whether a flagged home with the closed case `earlier` (a cases row, or None) gets a new
    case now, and what the new case says about why."""
    if earlier is None:
        return Decision(True)
    from advisor.db import parse_iso

    closed_at = parse_iso(earlier["closed_at"]) or parse_iso(earlier["updated_at"])
    verb = "resolved" if earlier["status"] == "resolved" else "dismissed"
    if (earlier.get("close_reason") or "").startswith(AUTO_CLOSED_PREFIX):
        return Decision(True, f"came back after it cleared (case {earlier['case_id']} closed"
                              f" by itself on {_day(closed_at)})")
    closed = f"{verb} on {_day(closed_at)}"
    try:
        old = json.loads(earlier.get("evidence_json") or "{}")
    except ValueError:
        old = {}
    why = worse(earlier["kind"], earlier["severity"], old, severity, numbers, closed)
    if why:
        return Decision(True, why)
    days = quiet_days(earlier["kind"], settings)
    if now - closed_at >= timedelta(days=days):
        return Decision(True, f"quiet period of {days:g} days ended (case {earlier['case_id']}"
                              f" {closed})")
    return Decision(False)
