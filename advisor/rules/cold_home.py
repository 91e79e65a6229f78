"""Cold home (the HHSRS excess cold hazard): indoor temperature under 18 C (UKHSA) for long
spells in the heating season.

Vulnerable households are flagged after fewer cold hours. Severity follows the HHSRS excess
cold bands (Housing Health and Safety Rating System operating guidance, 2006, hazard 2: health
risk rises below 19 C, is serious below 16 C and great below 10 C): low when flagged; medium at
twice the hours bar; high with `severe_hours` below 16 C; emergency (an imminent risk of
serious harm, as Awaab's Law uses the word) for a vulnerable household below 16 C for
`emergency_hours`, or anyone below 10 C that long.
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
    fmt_h,
    longest_run,
    nanmin_safe,
)


def cold_home(temp_c: np.ndarray, in_season: np.ndarray, vulnerable: np.ndarray, step_h: float,
              cold_temp_c: float = 18.0, cold_hours: float = 24.0,
              vulnerable_hours: float = 12.0, severe_temp_c: float = 16.0,
              severe_hours: float = 12.0, great_temp_c: float = 10.0,
              emergency_hours: float = 6.0, min_coverage: float = 0.5,
              waking: np.ndarray | None = None, share: float = 0.0,
              vulnerable_share: float = 0.0, risk_temp_c: float = 19.0,
              band_share: float = 0.2, band_min_hours: float = 24.0) -> RuleResult:
    """Flag homes colder than `cold_temp_c` for long in the heating season.

    temp_c: indoor temperature (H, S) [C], NaN where missing. in_season: (S,) or (H, S) bool.
    vulnerable: (H,) bool. step_h: bucket length [h]. waking: (S,) or (H, S) bool, the hours
    that count (people up and about); all hours when None. Flagged when the cold counted hours
    reach `cold_hours` and are at least `share` of the counted hours with data (vulnerable
    households: `vulnerable_hours` and `vulnerable_share`).

    numbers["hhsrs_band"]: the home's HHSRS excess cold band, 0 none, 1 risk rises (below
    `risk_temp_c`), 2 serious (below `severe_temp_c`), 3 great (below `great_temp_c`): the
    coldest band the counted hours were in for at least `band_share` of them (0 with fewer
    than `band_min_hours` counted hours). The band describes the dwelling, whoever lives in
    it (HHSRS rates a hazard for its most vulnerable age group); severity adds the household.
    """
    temp = as_float(temp_c)
    season = np.broadcast_to(np.asarray(in_season, dtype=bool), temp.shape)
    if waking is not None:
        season = season & np.broadcast_to(np.asarray(waking, dtype=bool), temp.shape)
    valid = np.isfinite(temp)
    seen = valid & season
    cold = seen & (temp < cold_temp_c)
    severe = seen & (temp < severe_temp_c)
    great = seen & (temp < great_temp_c)
    cold_h = cold.sum(axis=1) * step_h
    seen_h = seen.sum(axis=1) * step_h
    cold_share = np.where(seen_h > 0, cold_h / np.maximum(seen_h, 1e-9), 0.0)
    severe_h = severe.sum(axis=1) * step_h
    great_h = great.sum(axis=1) * step_h
    spell_h = longest_run(cold) * step_h
    band = np.zeros(temp.shape[0], dtype=np.int8)
    for i, bar_c in enumerate((risk_temp_c, severe_temp_c, great_temp_c)):
        below_h = (seen & (temp < bar_c)).sum(axis=1) * step_h
        band = np.where(below_h >= band_share * np.maximum(seen_h, 1e-9) - 1e-9, i + 1, band)
    band = np.where(seen_h >= band_min_hours, band, 0).astype(np.int8)
    lowest = nanmin_safe(np.where(season, temp, np.nan))
    window_h = temp.shape[1] * step_h
    vulnerable = np.asarray(vulnerable, dtype=bool)
    bar_h = np.where(vulnerable, vulnerable_hours, cold_hours)
    bar_share = np.where(vulnerable, vulnerable_share, share)
    enough = coverage(temp) >= min_coverage
    # The band is evidence, not a flag of its own: flagging serious-band homes below the cold
    # share cost cold-home precision (tests/advisor/test_advisor_truth.py, docs/advisor.md).
    flagged = enough & (cold_h >= bar_h) & (cold_share >= bar_share - 1e-9)
    severity = np.full(temp.shape[0], LOW, dtype=np.int8)
    severity[cold_h >= 2 * bar_h] = MEDIUM
    severity[severe_h >= severe_hours] = HIGH
    severity[((severe_h >= emergency_hours) & vulnerable) | (great_h >= emergency_hours)] = \
        EMERGENCY
    # Score: share of the window spent cold, plus weight for depth below the bar.
    depth_c = np.clip(cold_temp_c - np.nan_to_num(lowest, nan=cold_temp_c), 0, 10)
    score = 60 * cold_share + 4 * depth_c + 10 * vulnerable
    numbers = {"cold_h": cold_h, "counted_h": seen_h, "window_h": np.full(temp.shape[0], window_h),
               "lowest_c": lowest, "longest_spell_h": spell_h, "below_severe_h": severe_h,
               "below_great_h": great_h, "severe_c": np.full(temp.shape[0], severe_temp_c),
               "great_c": np.full(temp.shape[0], great_temp_c),
               "bar_c": np.full(temp.shape[0], cold_temp_c), "vulnerable": vulnerable,
               "hhsrs_band": band}

    def reason(n: dict) -> str:
        of = (f"{fmt_h(n['window_h'])} hours" if waking is None else
              f"{fmt_h(n['counted_h'])} hours people were at home and awake in the last"
              f" {fmt_h(n['window_h'])} hours")
        text = (f"Indoor temperature below {n['bar_c']:g} C for {fmt_h(n['cold_h'])} of the"
                f" {'last ' if waking is None else ''}{of} (lowest {n['lowest_c']:.1f} C,"
                f" longest spell {fmt_h(n['longest_spell_h'])} h) while the heating season is on")
        # The band is named only when the home was in it for long (numbers["hhsrs_band"]).
        if n["below_great_h"]:
            text += f"; below {n['great_c']:g} C for {fmt_h(n['below_great_h'])} h"
            if n["hhsrs_band"] >= 3:
                text += " (HHSRS excess cold: great risk)"
        if n["below_severe_h"] and not (n["below_great_h"] and n["hhsrs_band"] >= 3):
            text += f"; below {n['severe_c']:g} C for {fmt_h(n['below_severe_h'])} h"
            if n["hhsrs_band"] >= 2:
                text += " (HHSRS excess cold: serious risk)"
        if n["vulnerable"]:
            text += "; household flagged as vulnerable"
        return text

    return RuleResult("cold_home", flagged, severity, score, numbers, reason)
