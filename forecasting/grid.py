"""From a half-hourly matrix starting at any half hour to whole UTC days, and back."""

from __future__ import annotations

import numpy as np

from forecasting import calendar as cal
from forecasting.core import DayGrid

SLOTS = cal.SLOTS_PER_DAY
STEP = np.timedelta64(30, "m")


def half_hour(value) -> np.datetime64:
    """A UTC time as datetime64[ns]; it must fall on a half hour."""
    t = np.datetime64(value, "ns")
    if t.astype(np.int64) % cal.STEP_NS:
        raise ValueError(f"{t} is not on a half hour (UTC interval starts are :00 or :30)")
    return t


def to_day_grid(energy_kwh: np.ndarray, start, weather=None) -> tuple[DayGrid, int, int]:
    """Pad (H, T) half-hours starting at ``start`` to whole days.

    weather: optional (times, temp_c) series of outdoor temperature [C]; its daily means are
    attached for the grid's days. Returns the grid, the index of the day holding the first
    future half hour (the fit uses days before it) and that half hour's slot in its day.
    """
    start = half_hour(start)
    energy_kwh = np.asarray(energy_kwh, np.float32)
    n_h, n_t = energy_kwh.shape
    day0 = start.astype("datetime64[D]")
    offset = int((start - day0.astype("datetime64[ns]")) // STEP)
    origin_day, origin_slot = divmod(offset + n_t, SLOTS)
    n_days = origin_day + (1 if origin_slot else 0)
    flat = np.full((n_h, max(n_days, 1) * SLOTS), np.nan, np.float32)
    flat[:, offset:offset + n_t] = energy_kwh
    grid = DayGrid(flat.reshape(n_h, -1, SLOTS), day0)
    if weather is not None:
        grid.temp_c = weather_daily(weather, grid.days)
    return grid, origin_day, origin_slot


def weather_daily(weather, days: np.ndarray) -> np.ndarray:
    """Daily mean temperature [C] of ``days`` from a (times, temp_c) series; NaN unknown."""
    times, temp_c = weather
    times_ns = np.asarray(times, "datetime64[ns]").astype(np.int64)
    return cal.daily_mean_temp_c(times_ns, np.asarray(temp_c, float), days)
