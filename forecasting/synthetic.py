"""SYNTHETIC half-hourly electricity use of a portfolio of homes, for tests and benchmarks.

This is not the project's simulator (``meters_sim``): it is a compact, vectorised generator
with the features a forecaster must cope with (occupancy patterns, weekday/weekend, appliance
spikes, electric heating driven by outdoor temperature, gaps, new tenancies, disconnections,
short histories), so that the forecaster can be measured on 100,000 homes in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting import calendar as cal

SLOTS = cal.SLOTS_PER_DAY


@dataclass
class Portfolio:
    """energy_kwh (H, T) float32 NaN-missing from ``start``; weather (times, temp_c)."""

    households: np.ndarray
    start: np.datetime64
    energy_kwh: np.ndarray
    weather_times: np.ndarray
    temp_c: np.ndarray
    kind: np.ndarray            # per household: normal, gaps, step, zeros, short

    @property
    def weather(self):
        return self.weather_times, self.temp_c


def _activity(hours: np.ndarray, weekend: bool, occupancy: int) -> np.ndarray:
    """Relative appliance activity by hour of day for an occupancy type."""
    def bump(centre, width):
        return np.exp(-0.5 * ((hours - centre) / width) ** 2)

    if occupancy == 0:     # out at work on weekdays
        act = 0.9 * bump(7.3, 0.8) + 1.4 * bump(19.0, 2.0) if not weekend else \
            0.8 * bump(10.0, 2.0) + 0.6 * bump(13.5, 2.0) + 1.3 * bump(19.0, 2.2)
    elif occupancy == 1:   # home all day
        act = 0.6 * bump(8.5, 1.5) + 0.6 * bump(12.5, 2.0) + 1.2 * bump(18.5, 2.2)
    else:                  # night worker
        act = 0.7 * bump(2.0, 2.0) + 0.8 * bump(15.0, 2.0) + 0.5 * bump(21.0, 1.5)
    return act + 0.05


def portfolio(n_households: int, n_days: int, start: str = "2026-10-01", seed: int = 0,
              special_share: float = 0.1, history_days: int | None = None) -> Portfolio:
    """Generate ``n_days`` of half-hourly use for ``n_households`` homes from ``start``.

    About ``special_share`` of the homes get a hard case before day ``history_days`` (the
    forecast origin of a benchmark; default the end): a gap of days, a new tenancy (step
    change), self-disconnection (zeros), or only a few days of history.
    """
    origin = (n_days if history_days is None else history_days) * SLOTS
    rng = np.random.default_rng(seed)
    day0 = np.datetime64(start, "D")
    days = day0 + np.arange(n_days)
    n_t = n_days * SLOTS
    hours = (np.arange(SLOTS) + 0.5) / 2
    # Weather: climatology + AR(1) daily anomaly + a diurnal cycle [C].
    anomaly = np.zeros(n_days)
    for d in range(1, n_days):
        anomaly[d] = 0.8 * anomaly[d - 1] + rng.normal(0, cal.ANOMALY_SD_C * 0.6)
    daily_temp = cal.climatology_temp_c(days) + anomaly
    temp_hh = (daily_temp[:, None] - 2.5 * np.cos(2 * np.pi * (hours - 3) / 24)[None, :]).ravel()
    hdd = cal.heating_degree_days(daily_temp)

    weekend = cal.weekday(days) >= 5
    occupancy = rng.choice(3, n_households, p=[0.5, 0.4, 0.1])
    profiles = np.stack([np.stack([_activity(hours, False, o), _activity(hours, True, o)])
                         for o in range(3)])                       # (3, 2, 48)
    act = profiles[occupancy][:, weekend.astype(int), :]            # (H, n_days, 48)
    act = act / profiles.mean()
    scale = rng.lognormal(np.log(0.13), 0.35, n_households)          # appliance kWh per hh
    base = rng.lognormal(np.log(0.06), 0.4, n_households)            # always-on [kWh/hh]
    day_factor = rng.lognormal(0, 0.15, (n_households, n_days))
    # Appliance use: gamma noise on the activity (spiky, right-skewed half-hours).
    energy = rng.gamma(0.6, 1 / 0.6, (n_households, n_days, SLOTS)).astype(np.float32)
    energy *= (scale[:, None, None] * day_factor[:, :, None] * act).astype(np.float32)
    energy += base[:, None, None].astype(np.float32)
    # Electric heating in a quarter of the homes: kWh per degree day, in two heating periods.
    heated = rng.random(n_households) < 0.25
    slope = np.where(heated, rng.uniform(0.6, 2.0, n_households), 0.0)
    heat_shape = ((hours >= 6) & (hours < 9)) * 1.0 + ((hours >= 16) & (hours < 22)) * 1.5
    heat_shape = heat_shape / heat_shape.sum()
    heat = slope[:, None] * hdd[None, :] * rng.lognormal(0, 0.1, (n_households, n_days))
    energy += (heat[:, :, None] * heat_shape[None, None, :]).astype(np.float32)
    energy = energy.reshape(n_households, n_t)

    kind = np.full(n_households, "normal", dtype=object)
    special = np.flatnonzero(rng.random(n_households) < special_share)
    which = rng.choice(4, special.size)
    for code, name in enumerate(("gaps", "step", "zeros", "short")):
        kind[special[which == code]] = name
    for h in np.flatnonzero(kind == "gaps"):
        a = rng.integers(0, origin - 5 * SLOTS)
        energy[h, a:a + rng.integers(1, 6) * SLOTS] = np.nan
    for h in np.flatnonzero(kind == "step"):
        a = origin - rng.integers(5, 25) * SLOTS
        energy[h, a:] *= rng.choice([0.4, 2.2])
    for h in np.flatnonzero(kind == "zeros"):
        a = origin - rng.integers(2, 10) * SLOTS
        energy[h, a:] = 0.0
    for h in np.flatnonzero(kind == "short"):
        energy[h, : origin - rng.integers(3, 12) * SLOTS] = np.nan
    # Scattered lost half-hours everywhere (radio drop-outs).
    energy[rng.random(energy.shape) < 0.005] = np.nan
    times = day0.astype("datetime64[ns]") + np.arange(n_t) * np.timedelta64(30, "m")
    ids = np.array([f"H{i + 1:06d}" for i in range(n_households)])
    return Portfolio(ids, times[0], energy, times, temp_hh, kind.astype(str))
