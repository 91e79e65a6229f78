"""A thin scikit-learn-style estimator around the numeric core.

``fit`` returns self and stores learned state in attributes ending in ``_``; ``predict`` checks
that the estimator is fitted. Households are processed in chunks to bound memory.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from forecasting import core
from forecasting.grid import SLOTS, STEP, half_hour, to_day_grid, weather_daily


@dataclass
class Forecast:
    """Forecasts of every household.

    Half-hourly, one column per target interval start ``times`` (UTC): ``energy_kwh`` is the
    median (p50, best for absolute error), ``energy_kwh_mean`` the expected value (sum it for
    totals). Daily, one column per UTC day ``days`` from today (the day of the first forecast
    half hour, whose total includes what was used so far): ``daily_kwh`` the expected energy
    of the day with ``daily_kwh_p10`` / ``daily_kwh_p90``. All [kWh], float32, never NaN.
    """

    households: np.ndarray
    times: np.ndarray
    energy_kwh: np.ndarray
    energy_kwh_mean: np.ndarray
    energy_kwh_p10: np.ndarray
    energy_kwh_p90: np.ndarray
    days: np.ndarray
    daily_kwh: np.ndarray
    daily_kwh_p10: np.ndarray
    daily_kwh_p90: np.ndarray
    trust: np.ndarray
    flags: np.ndarray


class HearthForecaster(BaseEstimator):
    """Weekly profile x heating-degree-day ridge forecaster for many households at once.

    Parameters are those of :class:`forecasting.core.Params`, plus ``chunk_households`` (how
    many households are fitted together; bounds memory) and ``n_jobs`` (threads working on
    chunks at once; numpy releases the GIL, so 2 uses both cores of a small server).
    """

    def __init__(self, halflife_days: float = 21.0, hdd_base_c: float = 15.5,
                 ridge_hdd: float = 1.0, ridge_recent: float = 10.0, backtest_weeks: int = 2,
                 chunk_households: int = 10_000, n_jobs: int = 1):
        self.halflife_days = halflife_days
        self.hdd_base_c = hdd_base_c
        self.ridge_hdd = ridge_hdd
        self.ridge_recent = ridge_recent
        self.backtest_weeks = backtest_weeks
        self.chunk_households = chunk_households
        self.n_jobs = n_jobs

    def _params(self) -> core.Params:
        return core.Params(halflife_days=float(self.halflife_days),
                           hdd_base_c=float(self.hdd_base_c), ridge_hdd=float(self.ridge_hdd),
                           ridge_recent=float(self.ridge_recent),
                           backtest_weeks=int(self.backtest_weeks))

    def fit(self, X, y=None, *, start, weather=None, households=None, progress=None):
        """Learn every household's model.

        X: (households, steps) half-hourly energy [kWh], NaN where missing, column 0 at the
        UTC interval start ``start``. weather: optional (times, temp_c) outdoor temperature
        [C]. households: ids (default 0..H-1). progress: optional callable(n_done) per chunk.
        """
        X = np.asarray(X, np.float32)
        if X.ndim != 2:
            raise ValueError(f"X must be (households, steps), got shape {X.shape}")
        if X.shape[1] < 1:
            raise ValueError("X has no half-hours of history")
        if self.chunk_households < 1:
            raise ValueError("chunk_households must be at least 1")
        n_h = X.shape[0]
        p = self._params()

        def fit_chunk(lo: int) -> core.Fitted:
            part = X[lo:lo + self.chunk_households]
            grid, end, _ = to_day_grid(part, start, weather)
            state = core.fit(grid, end, p)
            if progress is not None:
                progress(part.shape[0])
            return state

        self.state_ = _concat(_map(fit_chunk, range(0, n_h, self.chunk_households), self.n_jobs))
        self.households_ = (np.arange(n_h).astype(str) if households is None
                            else np.asarray(households).astype(str))
        if self.households_.shape != (n_h,):
            raise ValueError(f"{len(self.households_)} household ids for {n_h} rows of X")
        self.origin_ = half_hour(start) + X.shape[1] * np.timedelta64(30, "m")
        # Today's half-hours so far: today's daily forecast is what was used plus the rest.
        slot = int((self.origin_ - self.origin_.astype("datetime64[D]")) // STEP)
        today = np.full((n_h, slot), np.nan, np.float32)
        seen = min(slot, X.shape[1])
        if seen:
            today[:, slot - seen:] = X[:, X.shape[1] - seen:]
        self.today_kwh_ = today
        self.flags_ = self.state_.flags
        self.trust_ = core.trust_labels(self.flags_)
        self.n_households_ = n_h
        return self

    def predict(self, horizon_steps: int = 336, horizon_days: int = 30, *, weather=None,
                progress=None) -> Forecast:
        """Forecast the next ``horizon_steps`` half-hours from the end of the history and
        ``horizon_days`` UTC days from today (the day of the first forecast half hour; its
        total is what was already used plus the forecast of the rest). weather: optional
        (times, temp_c) covering future days (a weather forecast); without it climatology."""
        if not hasattr(self, "state_"):
            raise NotFittedError("This HearthForecaster is not fitted yet: call fit(X, start=...)"
                                 " with the usage history first.")
        if horizon_steps < 1 or horizon_days < 0:
            raise ValueError("horizon_steps must be >= 1 and horizon_days >= 0")
        p = self._params()
        origin_day = self.origin_.astype("datetime64[D]")
        slot = int((self.origin_ - origin_day.astype("datetime64[ns]")) // np.timedelta64(30, "m"))
        n_hh_days = -(-(slot + horizon_steps) // SLOTS)
        first_day = origin_day
        n_h = self.n_households_
        out = {k: np.empty((n_h, horizon_steps), np.float32)
               for k in ("energy_kwh", "energy_kwh_mean", "energy_kwh_p10", "energy_kwh_p90")}
        daily = {k: np.empty((n_h, horizon_days), np.float32)
                 for k in ("daily_kwh", "daily_kwh_p10", "daily_kwh_p90")}
        temp_hh = temp_day = None
        if weather is not None:
            temp_hh = weather_daily(weather, origin_day + np.arange(n_hh_days))
            temp_day = weather_daily(weather, first_day + np.arange(horizon_days))

        def predict_chunk(lo: int) -> None:
            rows = slice(lo, min(lo + self.chunk_households, n_h))
            state = _take(self.state_, rows)
            hh = core.forecast_days(state, origin_day, n_hh_days, temp_hh, p)
            window = slice(slot, slot + horizon_steps)
            flat = hh.hh_kwh.reshape(hh.hh_kwh.shape[0], -1, 3)[:, window]
            out["energy_kwh_p10"][rows] = flat[..., 0]
            out["energy_kwh"][rows] = flat[..., 1]
            out["energy_kwh_p90"][rows] = flat[..., 2]
            out["energy_kwh_mean"][rows] = hh.hh_mean_kwh.reshape(flat.shape[0], -1)[:, window]
            if horizon_days:
                dd = core.forecast_days(state, first_day, horizon_days, temp_day, p,
                                        half_hourly=False)
                if slot:
                    _today_so_far(dd, hh.hh_mean_kwh[:, 0], self.today_kwh_[rows],
                                  state.shape[np.arange(rows.stop - rows.start),
                                              core.cal.day_type(np.array([origin_day]))[0]])
                daily["daily_kwh"][rows] = dd.daily_mean_kwh
                daily["daily_kwh_p10"][rows] = dd.daily_kwh[..., 0]
                daily["daily_kwh_p90"][rows] = dd.daily_kwh[..., 2]
            if progress is not None:
                progress(rows.stop - rows.start)

        _map(predict_chunk, range(0, n_h, self.chunk_households), self.n_jobs)
        times = self.origin_ + np.arange(horizon_steps) * np.timedelta64(30, "m")
        return Forecast(households=self.households_, times=times, **out,
                        days=first_day + np.arange(horizon_days), **daily, trust=self.trust_,
                        flags=self.flags_)


def _today_so_far(dd: core.DayForecast, hh_mean: np.ndarray, today: np.ndarray,
                  shape: np.ndarray) -> None:
    """Today's daily forecast (day 0) = the half-hours already used (missing ones from the
    model) + the model for the rest; its band narrows to the share of the day still to come."""
    slot = today.shape[1]
    used = np.where(np.isfinite(today), today, hh_mean[:, :slot]).sum(1)
    rest = hh_mean[:, slot:].sum(1)
    share_left = shape[:, slot:].sum(1)
    mean = dd.daily_mean_kwh[:, 0]
    band = dd.daily_kwh[:, 0, :] - mean[:, None]
    total = used + rest
    dd.daily_mean_kwh[:, 0] = total
    dd.daily_kwh[:, 0, :] = np.maximum(total[:, None] + band * share_left[:, None], 0)
    dd.daily_kwh[:, 0, 1] = total


def _map(func, items, n_jobs: int) -> list:
    """``[func(i) for i in items]``, on ``n_jobs`` threads when more than one."""
    items = list(items)
    if n_jobs <= 1 or len(items) <= 1:
        return [func(i) for i in items]
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        return list(pool.map(func, items))


def _concat(chunks: list[core.Fitted]) -> core.Fitted:
    if len(chunks) == 1:
        return chunks[0]
    values = {}
    for f in dataclasses.fields(core.Fitted):
        first = getattr(chunks[0], f.name)
        if isinstance(first, np.ndarray) and first.ndim >= 1:
            values[f.name] = np.concatenate([getattr(c, f.name) for c in chunks])
        else:
            values[f.name] = first
    return core.Fitted(**values)


def _take(state: core.Fitted, rows: slice) -> core.Fitted:
    values = {}
    for f in dataclasses.fields(core.Fitted):
        v = getattr(state, f.name)
        values[f.name] = v[rows] if isinstance(v, np.ndarray) and v.ndim >= 1 else v
    return core.Fitted(**values)
