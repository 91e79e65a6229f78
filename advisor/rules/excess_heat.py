"""Excess heat (HHSRS hazard 3; Awaab's Law phase 2): rooms too hot for too long, from room
temperatures, with criteria adapted from CIBSE TM59 (2017, *Design methodology for the
assessment of overheating risk in homes*, criterion b and its fixed-threshold form):

- living room above `living_c` (28 C) for more than `share` (1 %) of the hours people are in;
- bedroom above `bedroom_c` (26 C) for more than `share` of the night hours (22:00-07:00).

TM59 judges a whole summer (1 % of May-September is about 32 hours); the advisor sees a
72-hour window, where 1 % is under an hour, so a spell must also last `min_hours` (3 h).
Vulnerable occupants (older people, young children, the ill) are judged on bars
`vulnerable_offset_c` (1 C) lower: CIBSE TM52 / TM59 Category I, for occupants more sensitive
to heat, sits 1 K below Category II. Severity: medium (a potential hazard to investigate);
high when the living room is above `high_c` (30 C) for `min_hours`; emergency for a
vulnerable household above `high_c` that long (an imminent risk of serious harm).
"""

from __future__ import annotations

import numpy as np

from advisor.rules.base import (
    EMERGENCY,
    HIGH,
    MEDIUM,
    RuleResult,
    as_float,
    fmt_h,
    nanmax_safe,
)


def excess_heat(living_c: np.ndarray, bedroom_c: np.ndarray | None, occupied: np.ndarray,
                night: np.ndarray, vulnerable: np.ndarray, step_h: float,
                living_bar_c: float = 28.0, bedroom_bar_c: float = 26.0, share: float = 0.01,
                min_hours: float = 3.0, vulnerable_offset_c: float = 1.0,
                high_c: float = 30.0) -> RuleResult:
    """Flag homes whose living room or bedroom is too hot for too long.

    living_c: the living room's temperature (H, S) [C]. bedroom_c: the warmest bedroom's
    (H, S) [C], or None (no bedroom thermostat: that criterion is not judged). occupied:
    (H, S) or (S,) bool, people in and awake. night: (S,) bool, 22:00-07:00 local time.
    vulnerable: (H,) bool. step_h: bucket length [h].
    """
    living = as_float(living_c)
    h = living.shape[0]
    vulnerable = np.asarray(vulnerable, dtype=bool)
    offset = np.where(vulnerable, vulnerable_offset_c, 0.0)
    occ = np.broadcast_to(np.asarray(occupied, dtype=bool), living.shape) & np.isfinite(living)
    living_bar = living_bar_c - offset
    hot_living = occ & (living > living_bar[:, None])
    living_h = hot_living.sum(axis=1) * step_h
    occupied_h = occ.sum(axis=1) * step_h
    eps = 1e-9
    living_hit = (living_h > share * occupied_h + eps) & (living_h >= min_hours - eps)
    bedroom_h = np.zeros(h)
    night_h = np.zeros(h)
    bedroom_hit = np.zeros(h, dtype=bool)
    bedroom_max = np.full(h, np.nan)
    bedroom_bar = bedroom_bar_c - offset
    if bedroom_c is not None:
        bed = as_float(bedroom_c)
        at_night = np.broadcast_to(np.asarray(night, dtype=bool), bed.shape) & np.isfinite(bed)
        bedroom_h = (at_night & (bed > bedroom_bar[:, None])).sum(axis=1) * step_h
        night_h = at_night.sum(axis=1) * step_h
        bedroom_hit = (bedroom_h > share * night_h + eps) & (bedroom_h >= min_hours - eps)
        bedroom_max = nanmax_safe(np.where(at_night, bed, np.nan))
    very_hot_h = (occ & (living > high_c)).sum(axis=1) * step_h
    flagged = living_hit | bedroom_hit
    severity = np.full(h, MEDIUM, dtype=np.int8)
    severity[very_hot_h >= min_hours - eps] = HIGH
    severity[(very_hot_h >= min_hours - eps) & vulnerable] = EMERGENCY
    living_max = nanmax_safe(np.where(occ, living, np.nan))
    score = 50 + 5 * np.clip(np.nan_to_num(living_max - living_bar), 0, 6) \
        + 2 * np.clip(np.maximum(living_h, bedroom_h), 0, 10) + 10 * vulnerable
    numbers = {"living_over_h": living_h, "occupied_h": occupied_h, "living_bar_c": living_bar,
               "living_max_c": living_max, "bedroom_over_h": bedroom_h, "night_h": night_h,
               "bedroom_bar_c": bedroom_bar, "bedroom_max_c": bedroom_max,
               "living_hit": living_hit, "bedroom_hit": bedroom_hit, "vulnerable": vulnerable,
               "share_pct": np.full(h, 100 * share), "offset_c": offset}

    def reason(n: dict) -> str:
        parts = []
        if n["living_hit"]:
            parts.append(f"Living room above {n['living_bar_c']:g} C for"
                         f" {fmt_h(n['living_over_h'])} of the {fmt_h(n['occupied_h'])} hours"
                         f" people were in (highest {n['living_max_c']:.1f} C)")
        if n["bedroom_hit"]:
            parts.append(f"bedroom above {n['bedroom_bar_c']:g} C for"
                         f" {fmt_h(n['bedroom_over_h'])} of the {fmt_h(n['night_h'])} night"
                         f" hours (highest {n['bedroom_max_c']:.1f} C)")
        text = "; ".join(parts)
        text = text[0].upper() + text[1:]
        text += f" (CIBSE TM59, adapted: more than {n['share_pct']:g} % of those hours)"
        if n["vulnerable"]:
            text += f"; household flagged as vulnerable (bars {n['offset_c']:g} C lower)"
        return text

    return RuleResult("excess_heat", flagged, severity, score, numbers, reason)
