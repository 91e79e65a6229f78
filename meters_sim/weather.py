"""Outdoor weather of each area: UK seasonality, a diurnal cycle and weather fronts.

Temperature = seasonal mean (cosine, coldest in late January) + diurnal cycle (larger in
summer, peak mid-afternoon) + a synoptic anomaly (AR(1) on an hourly grid, decorrelating over
~2.5 days: the passage of fronts and blocking highs) + one summer heatwave a year (4-7 days
held at a daily mean of 21.5-23.5 C, dated by seed and year) + a fixed offset per area. The AR noise
for each UTC day comes from a generator keyed by (seed, area, day), so the weather of a given
date does not depend on where the simulation started or how it was chunked.
"""

from __future__ import annotations

import numpy as np

from meters_sim import params as pm

NS_PER_HOUR = 3_600_000_000_000
NS_PER_DAY = 24 * NS_PER_HOUR
LOCAL_SHARE = 0.2   # share (in sd) of the weather anomaly that is local to an area


def seasonal_mean_c(day_of_year: np.ndarray) -> np.ndarray:
    """Climatological daily mean outdoor temperature [C] for a (fractional) day of year."""
    phase = 2 * np.pi * (day_of_year - pm.OUTDOOR_COLDEST_DAY_OF_YEAR) / 365.25
    return pm.OUTDOOR_MEAN_C - pm.OUTDOOR_SEASONAL_AMPLITUDE_C * np.cos(phase)


def summerness(day_of_year: np.ndarray) -> np.ndarray:
    """0 in late January, 1 in late July."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * (day_of_year - pm.OUTDOOR_COLDEST_DAY_OF_YEAR) / 365.25)


def day_of_year(time_ns: np.ndarray) -> np.ndarray:
    """Fractional day of year (0 = 1 Jan 00:00 UTC) of int64 ns timestamps."""
    t = np.asarray(time_ns, dtype="int64").astype("datetime64[ns]")
    year_start = t.astype("datetime64[Y]").astype("datetime64[ns]")
    return (t - year_start).astype("int64") / NS_PER_DAY


def heating_degree_days(daily_mean_c: np.ndarray, base_c: float = pm.HDD_BASE_C) -> np.ndarray:
    """Heating degree days [K day] of daily mean temperatures (UK convention, base 15.5 C)."""
    return np.maximum(base_c - np.asarray(daily_mean_c, dtype=float), 0.0)


class Weather:
    """Hourly outdoor temperature per area, interpolated to any timestamps."""

    def __init__(self, areas: list[str], seed: int):
        self.areas = list(areas)
        self.seed = int(seed)
        self._phi = np.exp(-1.0 / pm.FRONT_TIMESCALE_H)
        self._innov_sd = pm.FRONT_SD_C * np.sqrt(1 - self._phi ** 2)
        offs = np.random.default_rng([self.seed, 0x57]).normal(0, pm.AREA_OFFSET_SD_C, 64)
        self.area_offset_c = np.array([offs[i % 64] for i in range(len(self.areas))])
        self._first_hour: int | None = None   # hour number (since epoch) of _anom[:, 0]
        self._anom = np.zeros((len(self.areas), 0))

    def _innovations(self, day: int) -> np.ndarray:
        """(areas, 24) innovations of one UTC day: a regional front shared by every area (areas
        are blocks and streets of one town) plus a small local part."""
        regional = np.random.default_rng([self.seed, 0x77, day]).standard_normal(24)
        local = np.random.default_rng([self.seed, 0x79, day]).standard_normal((len(self.areas), 24))
        return np.sqrt(1 - LOCAL_SHARE ** 2) * regional[None, :] + LOCAL_SHARE * local

    def _extend_to(self, first_hour: int, last_hour: int) -> None:
        if self._first_hour is None:
            # Start from the stationary distribution on the first day asked for.
            start_day = first_hour // 24
            self._first_hour = start_day * 24
            z = np.random.default_rng([self.seed, 0x78, start_day]).standard_normal(
                len(self.areas) + 1)
            init = (np.sqrt(1 - LOCAL_SHARE ** 2) * z[0] + LOCAL_SHARE * z[1:]) * pm.FRONT_SD_C
            self._anom = init[:, None]
        have_last = self._first_hour + self._anom.shape[1] - 1
        if last_hour <= have_last:
            return
        blocks = [self._anom]
        prev = self._anom[:, -1]
        hour = have_last + 1
        while hour <= last_hour:
            day, h0 = divmod(hour, 24)
            z = self._innovations(day)[:, h0:]
            out = np.empty_like(z)
            for k in range(z.shape[1]):
                prev = self._phi * prev + self._innov_sd * z[:, k]
                out[:, k] = prev
            blocks.append(out)
            hour += z.shape[1]
        self._anom = np.concatenate(blocks, axis=1)

    def heatwave(self, year: int) -> tuple[float, float, float]:
        """(start day of year, duration [days], daily mean [C] it lifts the weather to) of
        `year`'s heatwave."""
        u = np.random.default_rng([self.seed, 0x4EA7, int(year)]).random(3)
        lo, hi = pm.HEATWAVE_START_DOY
        d_lo, d_hi = pm.HEATWAVE_DAYS
        m_lo, m_hi = pm.HEATWAVE_MEAN_C
        return lo + (hi - lo) * u[0], d_lo + (d_hi - d_lo) * u[1], m_lo + (m_hi - m_lo) * u[2]

    def heatwave_weight(self, time_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(weight 0-1, daily mean [C]) of the heatwave at `time_ns`: the weight rises and falls
        over a day each way along a sin^2 ramp (no step in the weather); at weight 1 the
        blocking high sets the daily mean, whatever the fronts were doing."""
        t = np.asarray(time_ns, dtype="int64")
        years = t.astype("datetime64[ns]").astype("datetime64[Y]").astype(int) + 1970
        doy = day_of_year(t)
        weight = np.zeros(t.shape)
        mean = np.zeros(t.shape)
        for year in np.unique(years):
            start, days, mean_c = self.heatwave(int(year))
            ramp = np.clip(np.minimum(doy - start, start + days - doy), 0.0, 1.0)
            sel = years == year
            weight[sel] = np.sin(0.5 * np.pi * ramp[sel]) ** 2
            mean[sel] = mean_c
        return weight, mean

    def state(self, time_ns: int) -> tuple[int, np.ndarray]:
        """(first hour, anomalies (areas, hours)) from the start of the UTC day of `time_ns` on:
        enough to rebuild that day and continue the same weather after `restore`."""
        hour = int(time_ns // NS_PER_DAY) * 24
        if self._first_hour is None or hour < self._first_hour:
            return -1, np.zeros((len(self.areas), 0))
        return hour, self._anom[:, hour - self._first_hour:].copy()

    def restore(self, first_hour: int, anomalies: np.ndarray) -> None:
        if first_hour >= 0 and anomalies.shape == (len(self.areas), anomalies.shape[1]) \
                and anomalies.shape[1] > 0:
            self._first_hour, self._anom = int(first_hour), anomalies.copy()

    def temperature_c(self, time_ns: np.ndarray) -> np.ndarray:
        """Outdoor temperature [C], shape (areas, len(time_ns)); times must not go back before
        the first time ever asked for."""
        time_ns = np.asarray(time_ns, dtype="int64")
        hours = time_ns / NS_PER_HOUR
        self._extend_to(int(np.floor(hours.min())), int(np.ceil(hours.max())) + 1)
        if hours.min() < self._first_hour:
            raise ValueError("weather asked for a time before its start")
        pos = hours - self._first_hour
        i0 = np.floor(pos).astype(int)
        w = pos - i0
        anom = self._anom[:, i0] * (1 - w) + self._anom[:, i0 + 1] * w
        doy = day_of_year(time_ns)
        s = summerness(doy)
        winter, summer = pm.DIURNAL_AMPLITUDE_WINTER_C, pm.DIURNAL_AMPLITUDE_SUMMER_C
        amp = winter + (summer - winter) * s
        hour_of_day = (time_ns % NS_PER_DAY) / NS_PER_HOUR
        diurnal = amp * np.cos(2 * np.pi * (hour_of_day - pm.DIURNAL_PEAK_HOUR) / 24)
        seasonal = seasonal_mean_c(doy)
        w, heat_mean = self.heatwave_weight(time_ns)
        base = seasonal + diurnal + w * np.maximum(heat_mean - seasonal, 0.0)
        return base[None, :] + anom * (1.0 - w)[None, :] + self.area_offset_c[:, None]

    def forecast_c(self, issue_ns: int, hours: int = 120) -> tuple[np.ndarray, np.ndarray]:
        """A weather forecast issued at `issue_ns` for the next `hours` hourly times:
        (times_ns (hours,), temperature [C] (areas, hours)). The truth plus an error that grows
        with lead time (sd 0.6 C + 0.35 C per day ahead, about the skill of operational
        forecasts), the same for every area's whole forecast plus a little hourly noise;
        reproducible by (seed, issue time)."""
        first = (int(issue_ns) // NS_PER_HOUR + 1) * NS_PER_HOUR
        times = first + np.arange(hours, dtype="int64") * NS_PER_HOUR
        truth = self.temperature_c(times)
        rng = np.random.default_rng([self.seed, 0xF0, int(issue_ns // NS_PER_HOUR)])
        lead_days = (times - int(issue_ns)) / NS_PER_DAY
        sd = 0.6 + 0.35 * lead_days
        err = sd[None, :] * rng.standard_normal((len(self.areas), 1)) \
            + 0.3 * rng.standard_normal((len(self.areas), hours))
        return times, truth + err

    def relative_humidity(self, time_ns: np.ndarray, temp_c: np.ndarray) -> np.ndarray:
        """Outdoor relative humidity [0-1], shape like temp_c (areas, steps): higher in winter
        and at night (cooler than the day's mean)."""
        s = summerness(day_of_year(np.asarray(time_ns, dtype="int64")))
        base = pm.OUTDOOR_RH_WINTER + (pm.OUTDOOR_RH_SUMMER - pm.OUTDOOR_RH_WINTER) * s
        mean = seasonal_mean_c(day_of_year(np.asarray(time_ns, dtype="int64")))
        return np.clip(base[None, :] - 0.025 * (temp_c - mean[None, :]), 0.4, 0.99)


def daylight(time_ns: np.ndarray, latitude_deg: float = 52.5) -> np.ndarray:
    """Solar elevation factor max(sin(elevation), 0) at UTC times (England ~ 52.5 N, 1.5 W)."""
    time_ns = np.asarray(time_ns, dtype="int64")
    doy = day_of_year(time_ns)
    decl = np.deg2rad(-23.44) * np.cos(2 * np.pi * (doy + 10) / 365.25)
    solar_hour = (time_ns % NS_PER_DAY) / NS_PER_HOUR - 0.1  # 1.5 W is 6 minutes behind UTC
    ha = np.deg2rad(15 * (solar_hour - 12))
    lat = np.deg2rad(latitude_deg)
    sin_el = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(ha)
    return np.maximum(sin_el, 0.0)
