"""Damp and mould: sustained high humidity and condensation risk.

Relative humidity above 70% for more than 2 hours in any 12, or above 90% for more than 1 hour;
condensation when the dew point of the room air comes within about 2 C of the coldest room
temperature (a stand-in for the coldest surface). A flag opens a case on the Awaab's Law clock.
"""

from __future__ import annotations

import numpy as np

from advisor.rules.base import (
    EMERGENCY,
    HIGH,
    LOW,
    MEDIUM,
    RuleResult,
    as_float,
    coverage,
    fmt_hours,
    nanmax_safe,
    rolling_sum,
)

# Magnus formula constants (Alduchov and Eskridge 1996), valid -40..50 C over water.
MAGNUS_B, MAGNUS_C = 17.625, 243.04


def dew_point_c(temp_c: np.ndarray, humidity_pct: np.ndarray) -> np.ndarray:
    """Dew point of air at temp_c [C] and relative humidity [%RH] (Magnus formula) [C]."""
    rh = np.clip(as_float(humidity_pct), 1e-3, 100.0)
    t = as_float(temp_c)
    gamma = np.log(rh / 100.0) + MAGNUS_B * t / (MAGNUS_C + t)
    return MAGNUS_C * gamma / (MAGNUS_B - gamma)


def damp_mould(humidity_pct: np.ndarray, temp_c: np.ndarray, coldest_c: np.ndarray,
               vulnerable: np.ndarray, step_h: float, rh_pct: float = 70.0,
               rh_hours: float = 2.0, window_h: float = 12.0, very_high_rh_pct: float = 90.0,
               very_high_hours: float = 1.0, dew_margin_c: float = 2.0,
               condensation_hours: float = 2.0, emergency_hours: float = 24.0,
               min_coverage: float = 0.5) -> RuleResult:
    """Flag damp and mould risk.

    humidity_pct: most humid room (H, S) [%RH]. temp_c: that air's temperature (H, S) [C].
    coldest_c: coldest room (H, S) [C]. vulnerable: (H,) bool. step_h: bucket length [h].
    "More than N hours" is strict: exactly N hours above the bar does not flag.
    """
    rh = as_float(humidity_pct)
    valid = np.isfinite(rh)
    above = valid & (rh > rh_pct)
    very = valid & (rh > very_high_rh_pct)
    win = max(1, round(window_h / step_h))
    worst_window_h = rolling_sum(above, win).max(axis=1) * step_h
    very_h = very.sum(axis=1) * step_h
    dew = dew_point_c(temp_c, rh)
    coldest = as_float(coldest_c)
    condensing = valid & np.isfinite(coldest) & (coldest - dew <= dew_margin_c)
    condensation_h = condensing.sum(axis=1) * step_h
    closest_margin = -nanmax_safe(np.where(valid, dew - coldest, np.nan))
    max_rh = nanmax_safe(rh)
    eps = 1e-9
    sustained = worst_window_h > rh_hours + eps
    very_high = very_h > very_high_hours + eps
    condensation = condensation_h >= condensation_hours - eps
    enough = coverage(rh) >= min_coverage
    flagged = enough & (sustained | very_high)
    vulnerable = np.asarray(vulnerable, dtype=bool)
    severity = np.full(rh.shape[0], LOW, dtype=np.int8)
    severity[sustained & condensation] = MEDIUM
    severity[very_high] = HIGH
    severity[very_high & condensation] = HIGH
    severity[(very_h >= emergency_hours) & condensation & vulnerable] = EMERGENCY
    score = (35 * np.clip(worst_window_h / window_h, 0, 1) + 35 * np.clip(very_h / 12.0, 0, 1)
             + 20 * np.clip(condensation_h / 12.0, 0, 1) + 10 * vulnerable)
    numbers = {"worst_window_h": worst_window_h, "window_h": np.full(rh.shape[0], window_h),
               "very_high_h": very_h, "max_rh_pct": max_rh, "condensation_h": condensation_h,
               "closest_margin_c": closest_margin}

    def reason(n: dict) -> str:
        parts = []
        if n["worst_window_h"] > rh_hours:
            parts.append(f"Humidity above {rh_pct:g}% for {fmt_hours(n['worst_window_h'])}"
                         f" within {fmt_hours(n['window_h'])}")
        if n["very_high_h"] > very_high_hours:
            parts.append(f"above {very_high_rh_pct:g}% for {fmt_hours(n['very_high_h'])}")
        text = "; ".join(parts) + f" (highest {n['max_rh_pct']:.0f}%)"
        if n["condensation_h"] and n["condensation_h"] >= condensation_hours:
            text += (f"; dew point within {dew_margin_c:g} C of the coldest room for"
                     f" {fmt_hours(n['condensation_h'])}, so condensation is likely")
        return text[0].upper() + text[1:]

    return RuleResult("damp_mould", flagged, severity, score, numbers, reason)
