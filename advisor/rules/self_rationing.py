"""Self-rationing: heating fuel use far below what the weather calls for while the home is cold.

"What the weather calls for" is the expected daily use of the heating fuel (from degree days or
the typical use for the month, computed at the edge) for the same days.
"""

from __future__ import annotations

import numpy as np

from advisor.rules.base import HIGH, LOW, MEDIUM, RuleResult, fmt_h

# Share of a year's gas use falling in each month (UK heating profile, sums to 1): January first.
MONTHLY_HEATING_SHARE = np.array([0.155, 0.13, 0.12, 0.085, 0.06, 0.04, 0.035, 0.035, 0.045,
                                  0.075, 0.10, 0.12])


def expected_heating_kwh(month: np.ndarray, gas_heating: np.ndarray,
                         typical_gas_kwh_per_year: float,
                         typical_electric_heating_kwh_per_year: float,
                         floor_area_m2: np.ndarray | None = None,
                         typical_floor_area_m2: float = 73.0) -> np.ndarray:
    """Typical daily use of the heating fuel for each day [kWh] (H, D).

    month: (D,) month numbers 1..12. gas_heating: (H,) bool. Scaled by floor area when known."""
    month = np.asarray(month)
    share = MONTHLY_HEATING_SHARE[month - 1]
    days_in_month = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[month - 1]
    annual = np.where(np.asarray(gas_heating, dtype=bool), typical_gas_kwh_per_year,
                      typical_electric_heating_kwh_per_year)
    per_day = annual[:, None] * (share / days_in_month)[None, :]
    if floor_area_m2 is not None:
        area = np.asarray(floor_area_m2, dtype=np.float64)
        scale = np.where(np.isfinite(area) & (area > 0), area / typical_floor_area_m2, 1.0)
        per_day = per_day * np.clip(scale, 0.5, 2.0)[:, None]
    return per_day


def self_rationing(heating_kwh: np.ndarray, expected_kwh: np.ndarray, cold_h: np.ndarray,
                   ratio: float = 0.5, cold_hours: float = 12.0) -> RuleResult:
    """Flag households using far less heating fuel than expected while their home is cold.

    heating_kwh: daily use of the heating fuel (H, D) [kWh]. expected_kwh: what the weather
    calls for on those days (H, D) [kWh]. cold_h: hours below 18 C in the recent window (H,) [h].
    """
    used = np.nansum(np.asarray(heating_kwh, dtype=np.float64), axis=1)
    have = np.isfinite(np.asarray(heating_kwh, dtype=np.float64)).any(axis=1)
    expected = np.nansum(np.asarray(expected_kwh, dtype=np.float64), axis=1)
    share = np.where(expected > 0, used / np.where(expected > 0, expected, 1), np.nan)
    cold_h = np.asarray(cold_h, dtype=np.float64)
    flagged = have & (expected > 0) & (share < ratio) & (cold_h >= cold_hours)
    severity = np.full(len(used), LOW, dtype=np.int8)
    severity[share < ratio * 0.6] = MEDIUM
    severity[(share < ratio * 0.3) & (cold_h >= 2 * cold_hours)] = HIGH
    score = 100 * np.clip(1 - np.nan_to_num(share, nan=1) / ratio, 0, 1) * 0.7 \
        + 30 * np.clip(cold_h / 72.0, 0, 1)
    days = np.full(len(used), heating_kwh.shape[1])
    numbers = {"used_kwh": used, "expected_kwh": expected, "share": share, "cold_h": cold_h,
               "days": days}

    def reason(n: dict) -> str:
        return (f"Used {n['used_kwh']:.0f} kWh for heating over {n['days']} days, about"
                f" {100 * n['share']:.0f}% of the {n['expected_kwh']:.0f} kWh the season calls for,"
                f" while the home was below 18 C for {fmt_h(n['cold_h'])} hours")

    return RuleResult("self_rationing", flagged, severity, score, numbers, reason)
