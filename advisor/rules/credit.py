"""Prepayment credit: days until the credit runs out at the forecast's high (p90) burn, for
households that let their credit run out.

The burn per day is the forecast energy at the unit rate that applies that day plus the daily
standing charge (a prepayment meter takes the standing charge from the credit too); the
engine gives the burn whose running sum is the p90 of the running sum of the forecast cost
(advisor/rules/forecast_sum.py), not the sum of daily p90s.

Days of credit left alone say little: a household topping up £5-£10 at a time always has a
few days left, and one that tops up as soon as its balance falls low never runs out. A flag
asks the officer to act, so it needs the household's own pattern as well: its balance at or
below zero (the credit used up, on emergency credit or off) on at least `pattern_min_days`
of the past `credit_pattern_days` days (`ran_out_days`), or already now.
"""

from __future__ import annotations

import numpy as np

from advisor.rules.base import HIGH, LOW, MEDIUM, NONE, RuleResult, last_valid

FUEL_WORDS = {"electricity": "Electricity", "gas": "Gas"}


def days_until_empty(credit_gbp: np.ndarray, daily_cost_gbp: np.ndarray) -> np.ndarray:
    """Days until `credit_gbp` (H,) [GBP] is used up by `daily_cost_gbp` (H, F) [GBP/day].

    Linear within a day; +inf when the horizon's total cost does not use it up; 0 when the
    credit is already at or below zero; NaN where the credit is unknown."""
    credit = np.asarray(credit_gbp, dtype=np.float64)
    cost = np.clip(np.nan_to_num(np.asarray(daily_cost_gbp, dtype=np.float64)), 0, None)
    cum = np.cumsum(cost, axis=1)
    before = np.concatenate([np.zeros((cost.shape[0], 1)), cum[:, :-1]], axis=1)
    runs_out = cum >= credit[:, None]
    day = np.where(runs_out.any(axis=1), runs_out.argmax(axis=1), cost.shape[1])
    rows = np.arange(cost.shape[0])
    d = np.minimum(day, cost.shape[1] - 1)
    within = (credit - before[rows, d]) / np.where(cost[rows, d] > 0, cost[rows, d], np.inf)
    days = np.where(runs_out.any(axis=1), day + np.clip(within, 0, 1), np.inf)
    days = np.where(credit <= 0, 0.0, days)
    return np.where(np.isfinite(credit), days, np.nan)


def credit_runout(credit_gbp: dict[str, np.ndarray], forecast_kwh_p90: dict[str, np.ndarray],
                  rate_gbp_per_kwh: dict[str, np.ndarray],
                  standing_gbp_per_day: dict[str, np.ndarray], prepayment: np.ndarray,
                  days_low: float = 7.0, days_medium: float = 4.0,
                  days_high: float = 2.0, burn_gbp_per_day: dict[str, np.ndarray] | None = None,
                  ran_out_days: dict[str, np.ndarray] | None = None,
                  pattern_min_days: int = 1, pattern_days: int = 28) -> RuleResult:
    """Flag prepayment households whose credit runs out within `days_low` days and who let it
    run out (their own pattern).

    credit_gbp[fuel]: balance series (H, S) [GBP] (the last reading counts) or (H,).
    forecast_kwh_p90[fuel], rate_gbp_per_kwh[fuel], standing_gbp_per_day[fuel]: (H, F) per day.
    burn_gbp_per_day[fuel]: (H, F) the daily credit use to count instead of p90 kWh x rate +
    standing (the engine's p90 of the running sum). ran_out_days[fuel]: (H,) days of the past
    `pattern_days` with the balance at or below zero; None: no pattern required (days alone).
    prepayment: (H,) bool. The fuel that runs out first is reported.
    """
    prepay = np.asarray(prepayment, dtype=bool)
    n = len(prepay)
    best_days = np.full(n, np.inf)
    best_fuel = np.full(n, "", dtype=object)
    best_credit = np.full(n, np.nan)
    best_burn = np.full(n, np.nan)
    best_ran_out = np.full(n, np.nan)
    for fuel, series in credit_gbp.items():
        if fuel not in forecast_kwh_p90:
            continue
        arr = np.asarray(series)
        credit = last_valid(arr) if arr.ndim == 2 else arr
        if burn_gbp_per_day is not None and fuel in burn_gbp_per_day:
            cost = np.asarray(burn_gbp_per_day[fuel], dtype=np.float64)
        else:
            cost = (np.nan_to_num(forecast_kwh_p90[fuel]) * rate_gbp_per_kwh[fuel]
                    + standing_gbp_per_day[fuel])
        days = days_until_empty(credit, cost)
        first_week = cost[:, : min(7, cost.shape[1])].mean(axis=1)
        ran_out = (np.zeros(n) if ran_out_days is None
                   else np.nan_to_num(np.asarray(ran_out_days.get(fuel, np.zeros(n)), float)))
        # Counts only where the household lets its credit run out (or it is out now).
        counts = (ran_out_days is None) | (ran_out >= pattern_min_days) | (credit <= 0)
        better = (np.isfinite(credit) & counts
                  & (np.nan_to_num(days, nan=np.inf) < best_days))
        best_days = np.where(better, days, best_days)
        best_fuel = np.where(better, fuel, best_fuel)
        best_credit = np.where(better, credit, best_credit)
        best_burn = np.where(better, first_week, best_burn)
        best_ran_out = np.where(better, ran_out, best_ran_out)
    flagged = prepay & (best_days <= days_low)
    severity = np.select([best_days <= days_high, best_days <= days_medium, best_days <= days_low],
                         [HIGH, MEDIUM, LOW], NONE)
    score = 100 * np.clip(1 - best_days / (2 * days_low), 0, 1)
    numbers = {"fuel": best_fuel, "credit_gbp": best_credit, "days_left": best_days,
               "burn_gbp_per_day": best_burn, "ran_out_days": best_ran_out,
               "pattern_days": np.full(n, pattern_days if ran_out_days is not None else 0)}

    def reason(n: dict) -> str:
        fuel = FUEL_WORDS.get(n["fuel"], n["fuel"])
        if n["days_left"] <= 0:
            text = (f"{fuel} credit is used up (£{n['credit_gbp']:.2f}); the supply may be off"
                    f" or running on emergency credit")
        else:
            text = (f"{fuel} credit of £{n['credit_gbp']:.2f} will run out in about"
                    f" {n['days_left']:.1f} days at the expected high use"
                    f" (£{n['burn_gbp_per_day']:.2f} a day, standing charge included)")
        if n.get("pattern_days") and n.get("ran_out_days"):
            days = int(n["ran_out_days"])
            text += (f"; it ran out (balance at or below zero) on {days}"
                     f" day{'s' if days != 1 else ''} of the last {int(n['pattern_days'])}")
        return text

    return RuleResult("credit_runout", flagged, severity, score, numbers, reason)
