"""Damp and mould: sustained high humidity and condensation risk.

Relative humidity above 70% for more than 2 hours in any 12, or above 90% for more than 1 hour;
condensation when the dew point of the room air comes within about 2 C of the coldest room
temperature (a stand-in for the coldest surface). A flag opens a case on the Awaab's Law clock.

Severity tops out at high: a humidity reading alone is a potential hazard for the landlord to
investigate (within 10 working days), not an emergency; "emergency" under Awaab's Law means an
imminent risk of serious harm, which readings cannot show (an officer who finds one on a visit
records it).
"""

from __future__ import annotations

import numpy as np

from advisor.rules.base import (
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


def block_starts(step_times: np.ndarray, block_h: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Start index of each complete `block_h` block (aligned to UTC midnight) in sorted step
    times, and each block's number of steps. Partial blocks at the edges are left out."""
    t = np.asarray(step_times, dtype="datetime64[ns]").astype(np.int64)
    if len(t) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    step_ns = int(np.median(np.diff(t)))
    block = t // int(block_h * 3_600e9)
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    sizes = np.diff(np.r_[starts, len(t)])
    full = sizes >= round(block_h * 3_600e9 / step_ns)
    return starts[full], sizes[full]


def damp_mould(humidity_pct: np.ndarray, temp_c: np.ndarray, coldest_c: np.ndarray,
               vulnerable: np.ndarray, step_h: float, rh_pct: float = 70.0,
               rh_hours: float = 2.0, window_h: float = 12.0, very_high_rh_pct: float = 90.0,
               very_high_hours: float = 1.0, dew_margin_c: float = 2.0,
               condensation_hours: float = 2.0,
               min_coverage: float = 0.5, step_times: np.ndarray | None = None,
               block_share: float = 0.0) -> RuleResult:
    """Flag damp and mould risk.

    humidity_pct: the home's air (H, S) [%RH]. temp_c: its temperature (H, S) [C]; the dew point
    of that air is compared with coldest_c, the coldest room (H, S) [C], where water condenses
    first. vulnerable: (H,) bool. step_h: bucket length [h].
    "More than N hours" is strict: exactly N hours above the bar does not flag.
    With `step_times` (S,) and `block_share` > 0 the condition must hold in at least that share
    of the complete 12-hour blocks (00-12 and 12-24 UTC) of the window, i.e. be persistent;
    otherwise any `window_h` window where it holds flags.
    """
    rh = as_float(humidity_pct)
    valid = np.isfinite(rh)
    above = valid & (rh > rh_pct)
    very = valid & (rh > very_high_rh_pct)
    eps = 1e-9
    win = max(1, round(window_h / step_h))
    worst_window_h = rolling_sum(above, win).max(axis=1) * step_h
    very_h = very.sum(axis=1) * step_h
    n_blocks = np.zeros(rh.shape[0], dtype=np.int64)
    damp_blocks = np.zeros(rh.shape[0], dtype=np.int64)
    if step_times is not None and block_share > 0:
        starts, _ = block_starts(step_times, window_h)
        if len(starts):
            above_h = np.add.reduceat(above, starts, axis=1)[:, :len(starts)] * step_h
            very_bh = np.add.reduceat(very, starts, axis=1)[:, :len(starts)] * step_h
            # reduceat's last block runs to the end: trim it to a block's length.
            last = starts[-1]
            size = round(window_h / step_h)
            above_h[:, -1] = above[:, last:last + size].sum(axis=1) * step_h
            very_bh[:, -1] = very[:, last:last + size].sum(axis=1) * step_h
            hit = (above_h > rh_hours + eps) | (very_bh > very_high_hours + eps)
            damp_blocks = hit.sum(axis=1)
            n_blocks = np.full(rh.shape[0], len(starts))
    dew = dew_point_c(temp_c, rh)
    coldest = as_float(coldest_c)
    condensing = valid & np.isfinite(coldest) & (coldest - dew <= dew_margin_c)
    condensation_h = condensing.sum(axis=1) * step_h
    closest_margin = -nanmax_safe(np.where(valid, dew - coldest, np.nan))
    max_rh = nanmax_safe(rh)
    sustained = worst_window_h > rh_hours + eps
    very_high = very_h > very_high_hours + eps
    condensation = condensation_h >= condensation_hours - eps
    enough = coverage(rh) >= min_coverage
    flagged = enough & (sustained | very_high)
    if step_times is not None and block_share > 0:
        persistent = (damp_blocks >= 1) & (damp_blocks >= block_share * n_blocks - eps)
        flagged &= persistent
    vulnerable = np.asarray(vulnerable, dtype=bool)
    severity = np.full(rh.shape[0], LOW, dtype=np.int8)
    severity[sustained & condensation] = MEDIUM
    severity[very_high] = HIGH
    severity[very_high & condensation] = HIGH
    score = (35 * np.clip(worst_window_h / window_h, 0, 1) + 35 * np.clip(very_h / 12.0, 0, 1)
             + 20 * np.clip(condensation_h / 12.0, 0, 1) + 10 * vulnerable)
    numbers = {"worst_window_h": worst_window_h, "window_h": np.full(rh.shape[0], window_h),
               "damp_blocks": damp_blocks, "n_blocks": n_blocks,
               "very_high_h": very_h, "max_rh_pct": max_rh, "condensation_h": condensation_h,
               "closest_margin_c": closest_margin}

    def reason(n: dict) -> str:
        parts = []
        if n["worst_window_h"] > rh_hours:
            parts.append(f"Humidity above {rh_pct:g}% for {fmt_hours(n['worst_window_h'])}"
                         f" of the worst {fmt_hours(n['window_h'])}")
        if n["very_high_h"] > very_high_hours:
            parts.append(f"above {very_high_rh_pct:g}% for {fmt_hours(n['very_high_h'])} in all")
        text = "; ".join(parts) + f" (highest {n['max_rh_pct']:.0f}%)"
        if n["n_blocks"]:
            text += (f"; on {n['damp_blocks']} of the last {n['n_blocks']} half-days")
        if n["condensation_h"] and n["condensation_h"] >= condensation_hours:
            text += (f"; dew point within {dew_margin_c:g} C of the coldest room for"
                     f" {fmt_hours(n['condensation_h'])}, so condensation is likely")
        return text[0].upper() + text[1:]

    return RuleResult("damp_mould", flagged, severity, score, numbers, reason)
