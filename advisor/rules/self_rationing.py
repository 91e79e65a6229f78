"""Self-rationing: heating fuel use far below what the weather calls for while the home is cold.

"What the weather calls for" is the expected daily use of the heating fuel (from degree days or
the typical use for the month, computed at the edge) for the same days.
"""

from __future__ import annotations

import numpy as np

from advisor.rules.base import HIGH, LOW, MEDIUM, RuleResult, as_float, fmt_hours
from advisor.rules.profiles import typical_daily_kwh


def expected_heating_kwh(month: np.ndarray, gas_heating: np.ndarray,
                         typical_gas_kwh_per_year,
                         typical_electric_heating_kwh_per_year,
                         floor_area_m2: np.ndarray | None = None,
                         typical_floor_area_m2: float = 73.0) -> np.ndarray:
    """Typical daily use of the heating fuel for each day [kWh] (H, D).

    month: (D,) month numbers 1..12. gas_heating: (H,) bool. The typical annual values: a
    number, or (D,) the value in force each day (Ofgem's are dated rows). Scaled by floor area
    when known."""
    gas_heating = np.asarray(gas_heating, dtype=bool)[:, None]
    gas_y = np.broadcast_to(np.asarray(typical_gas_kwh_per_year, dtype=np.float64),
                            np.shape(month))[None, :]
    elec_y = np.broadcast_to(np.asarray(typical_electric_heating_kwh_per_year,
                                        dtype=np.float64), np.shape(month))[None, :]
    per_day = typical_daily_kwh(month, 1.0, True) * np.where(gas_heating, gas_y, elec_y)
    if floor_area_m2 is not None:
        area = np.asarray(floor_area_m2, dtype=np.float64)
        scale = np.where(np.isfinite(area) & (area > 0), area / typical_floor_area_m2, 1.0)
        per_day = per_day * np.clip(scale, 0.5, 2.0)[:, None]
    return per_day


def low_setpoint_share(setpoint_c: np.ndarray, heating_on: np.ndarray | None,
                       temp_c: np.ndarray, counted: np.ndarray | None = None,
                       cold_temp_c: float = 18.0, setpoint_bar_c: float = 17.0) -> np.ndarray:
    """Share of the counted hours (people at home and awake, in season) spent cold with the
    thermostat set low or the heating off (H,); NaN where no hour counts.

    setpoint_c, heating_on (0..1), temp_c: (H, S); counted: (H, S) or (S,) bool, all if None."""
    temp = as_float(temp_c)
    seen = np.isfinite(temp)
    if counted is not None:
        seen &= np.broadcast_to(np.asarray(counted, dtype=bool), temp.shape)
    cold = seen & (temp < cold_temp_c)
    setpoint = as_float(setpoint_c)
    low = np.nan_to_num(setpoint, nan=np.inf) <= setpoint_bar_c
    if heating_on is not None:
        # The heating's own state only where no setpoint is reported: with a setpoint, that is
        # the tenant's choice, while a boiler that does not fire at a high setpoint has no
        # supply or credit (self-disconnection) or a fault, not a tenant going without.
        low |= ~np.isfinite(setpoint) & (np.nan_to_num(as_float(heating_on), nan=1.0) < 0.5)
    n_seen = seen.sum(axis=1)
    return np.where(n_seen > 0, (low & cold).sum(axis=1) / np.maximum(n_seen, 1), np.nan)


def self_rationing(heating_kwh: np.ndarray, expected_kwh: np.ndarray, cold_h: np.ndarray,
                   ratio: float = 0.5, cold_hours: float = 12.0,
                   low_setpoint: np.ndarray | None = None,
                   setpoint_share: float = 0.5) -> RuleResult:
    """Flag households going without heat while their home is cold.

    heating_kwh: daily use of the heating fuel (H, D) [kWh]. expected_kwh: what the weather
    calls for on those days (H, D) [kWh]. cold_h: hours below 18 C in the recent window (H,) [h].
    low_setpoint: share of the hours people are at home and awake spent cold with the
    thermostat set low or the heating off (H,) [0..1], when thermostats report it. Flagged:
    cold for `cold_hours` and either the heating fuel use under `ratio` of the expected, or
    cold with the thermostat kept low for `setpoint_share` of the hours at home.
    """
    heat = np.asarray(heating_kwh, dtype=np.float64)
    used = np.nansum(heat, axis=1)
    have = np.isfinite(heat).any(axis=1)
    expected = np.nansum(np.asarray(expected_kwh, dtype=np.float64), axis=1)
    share = np.where(expected > 0, used / np.where(expected > 0, expected, 1), np.nan)
    cold_h = np.asarray(cold_h, dtype=np.float64)
    n = len(used)
    low_sp = np.full(n, np.nan) if low_setpoint is None else np.asarray(low_setpoint, float)
    cold = cold_h >= cold_hours
    by_use = have & (expected > 0) & (np.nan_to_num(share, nan=1.0) < ratio)
    by_setpoint = np.nan_to_num(low_sp) >= setpoint_share
    flagged = cold & (by_use | by_setpoint)
    severity = np.full(n, LOW, dtype=np.int8)
    severity[(by_use & by_setpoint) | (np.nan_to_num(share, nan=1) < ratio * 0.6)] = MEDIUM
    severity[(np.nan_to_num(share, nan=1) < ratio * 0.3) & (cold_h >= 2 * cold_hours)] = HIGH
    score = (50 * np.clip(1 - np.nan_to_num(share, nan=1) / ratio, 0, 1)
             + 20 * np.nan_to_num(low_sp) + 30 * np.clip(cold_h / 72.0, 0, 1))
    days = np.full(n, heat.shape[1])
    numbers = {"used_kwh": used, "expected_kwh": expected, "share": share, "cold_h": cold_h,
               "days": days, "low_setpoint_share": low_sp, "by_use": by_use}

    def reason(n: dict) -> str:
        parts = []
        if n["by_use"]:
            parts.append(f"Used {n['used_kwh']:.0f} kWh for heating over {n['days']} days, about"
                         f" {100 * n['share']:.0f}% of the {n['expected_kwh']:.0f} kWh the season"
                         " calls for")
        if n["low_setpoint_share"] is not None and n["low_setpoint_share"] >= setpoint_share:
            parts.append(f"cold with the thermostat set low or the heating off for"
                         f" {100 * n['low_setpoint_share']:.0f}% of the hours people were in")
        text = "; ".join(parts)
        text = text[0].upper() + text[1:]
        return text + f", while the home was below 18 C for {fmt_hours(n['cold_h'])}"

    return RuleResult("self_rationing", flagged, severity, score, numbers, reason)
