"""Calendar and weather features on a grid of whole UTC days.

Days are ``datetime64[D]`` values; a day's half-hours are slots 0..47 from 00:00 UTC. Bank
holidays of England and Wales behave like Sundays (the usual practice in load forecasting).
"""

from __future__ import annotations

import functools

import numpy as np

SLOTS_PER_DAY = 48
STEP_NS = 30 * 60 * 10**9
DAY_NS = 86_400 * 10**9
SUNDAY = 6
# Central England daily mean temperature climatology (1991-2020, rounded): annual mean and
# half the range [C], coldest around 15 January. Used where no weather series is given.
CLIMATE_MEAN_C = 10.6
CLIMATE_AMPLITUDE_C = 6.3
CLIMATE_COLDEST_DOY = 15
# Day-to-day anomaly of the daily mean temperature: persistence [days] and spread [C].
ANOMALY_PERSISTENCE_DAYS = 5.0
ANOMALY_SD_C = 2.8


def weekday(days: np.ndarray) -> np.ndarray:
    """Monday 0 .. Sunday 6 of ``datetime64[D]`` days (1970-01-01 was a Thursday)."""
    return ((np.asarray(days, "datetime64[D]").astype(np.int64) + 3) % 7).astype(np.int8)


@functools.lru_cache(maxsize=64)
def _holidays_of_year(year: int) -> frozenset:
    import holidays

    return frozenset(np.datetime64(d, "D") for d in holidays.country_holidays(
        "GB", subdiv="ENG", years=year))


def bank_holiday(days: np.ndarray) -> np.ndarray:
    """True where a day is a bank holiday in England and Wales."""
    days = np.asarray(days, "datetime64[D]")
    if days.size == 0:
        return np.zeros(0, bool)
    years = days.astype("datetime64[Y]").astype(int) + 1970
    known = set().union(*(_holidays_of_year(int(y)) for y in np.unique(years)))
    return np.isin(days, np.array(sorted(known), "datetime64[D]"))


def day_type(days: np.ndarray) -> np.ndarray:
    """Weekday 0..6 with bank holidays counted as Sundays."""
    return np.where(bank_holiday(days), SUNDAY, weekday(days)).astype(np.int8)


def climatology_temp_c(days: np.ndarray) -> np.ndarray:
    """Typical daily mean outdoor temperature for the day of year [C] (central England)."""
    days = np.asarray(days, "datetime64[D]")
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64)
    return CLIMATE_MEAN_C - CLIMATE_AMPLITUDE_C * np.cos(
        2 * np.pi * (doy - CLIMATE_COLDEST_DOY) / 365.25)


def heating_degree_days(temp_c: np.ndarray, base_c: float = 15.5) -> np.ndarray:
    """Heating degree days of daily mean temperatures [C day]: max(base - temp, 0)."""
    return np.maximum(base_c - np.asarray(temp_c, float), 0.0)


def daily_mean_temp_c(times_ns: np.ndarray, temp_c: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Mean temperature of each day in ``days`` from an irregular series [C]; NaN for days
    without a reading. ``times_ns`` are int64 UTC nanoseconds."""
    days = np.asarray(days, "datetime64[D]")
    if days.size == 0:
        return np.zeros(0)
    t = np.asarray(times_ns, np.int64)
    v = np.asarray(temp_c, float)
    ok = np.isfinite(v)
    idx = t[ok] // DAY_NS - days[0].astype(np.int64)
    v = v[ok]
    inside = (idx >= 0) & (idx < days.size)
    sums = np.bincount(idx[inside], v[inside], minlength=days.size)
    counts = np.bincount(idx[inside], minlength=days.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def fill_temp_c(temp_c: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Daily temperatures with gaps filled by climatology plus the nearest known anomaly [C]."""
    temp_c = np.asarray(temp_c, float)
    clim = climatology_temp_c(days)
    anomaly = temp_c - clim
    ok = np.isfinite(anomaly)
    if not ok.any():
        return clim
    idx = np.arange(temp_c.size)
    filled = np.interp(idx, idx[ok], anomaly[ok])
    return clim + filled


def future_temp_c(days: np.ndarray, last_anomaly_c: float, lead_days: np.ndarray) -> np.ndarray:
    """Expected daily temperature ahead [C]: climatology plus today's anomaly decaying with
    the persistence of weather (no weather forecast needed)."""
    decay = np.exp(-np.asarray(lead_days, float) / ANOMALY_PERSISTENCE_DAYS)
    return climatology_temp_c(days) + last_anomaly_c * decay


def future_temp_sd_c(lead_days: np.ndarray) -> np.ndarray:
    """Spread of the daily temperature ahead around ``future_temp_c`` [C]."""
    decay = np.exp(-2 * np.asarray(lead_days, float) / ANOMALY_PERSISTENCE_DAYS)
    return ANOMALY_SD_C * np.sqrt(1 - decay)
