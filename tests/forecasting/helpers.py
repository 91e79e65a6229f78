"""Series with known answers for the forecaster's tests."""

from __future__ import annotations

import numpy as np

from forecasting import calendar as cal

START = np.datetime64("2026-09-07T00:00", "ns")   # a Monday, no bank holiday for weeks
STEP = np.timedelta64(30, "m")


def weekly_profile(n_households: int, weeks: int, seed: int = 0) -> np.ndarray:
    """Each household repeats its own random week exactly (H, weeks * 336) [kWh]."""
    rng = np.random.default_rng(seed)
    week = rng.gamma(2.0, 0.1, (n_households, 336)).astype(np.float32)
    return np.tile(week, (1, weeks))


def hdd_series(n_days: int, base_kwh: float, slope_kwh: float, seed: int = 0):
    """Daily use = base + slope * HDD, spread evenly over the day; with its weather.

    Returns (energy (1, n_days*48), weather (times, temp_c), daily temperatures)."""
    rng = np.random.default_rng(seed)
    days = START.astype("datetime64[D]") + np.arange(n_days)
    temp = 8 + 5 * np.sin(np.arange(n_days) / 3.0) + rng.normal(0, 1.5, n_days)
    hdd = cal.heating_degree_days(temp)
    daily = base_kwh + slope_kwh * hdd
    energy = np.repeat(daily / 48, 48)[None, :].astype(np.float32)
    times = days.astype("datetime64[ns]") + np.timedelta64(12, "h")
    return energy, (times, temp), temp
