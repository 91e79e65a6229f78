"""Baselines on (households, steps) half-hourly arrays: what the forecaster must beat."""

from __future__ import annotations

import numpy as np

WEEK = 336


def seasonal_naive(history_kwh: np.ndarray, horizon: int, season: int = WEEK) -> np.ndarray:
    """Repeat the last ``season`` half-hours (H, horizon) [kWh]; NaN where that week was."""
    last = history_kwh[:, -season:]
    reps = -(-horizon // season)
    return np.tile(last, (1, reps))[:, :horizon]


def mean_last_weekdays(history_kwh: np.ndarray, horizon: int, weeks: int = 4,
                       season: int = WEEK) -> np.ndarray:
    """Mean of the same half hour on the last ``weeks`` same weekdays (H, horizon) [kWh],
    ignoring missing weeks."""
    n_h, n_t = history_kwh.shape
    weeks = max(1, min(weeks, n_t // season))
    block = history_kwh[:, n_t - weeks * season:].reshape(n_h, weeks, season)
    ok = np.isfinite(block)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, block, 0).sum(1) / ok.sum(1)
    reps = -(-horizon // season)
    return np.tile(mean, (1, reps))[:, :horizon]


def fill_baseline(forecast_kwh: np.ndarray, history_kwh: np.ndarray) -> np.ndarray:
    """Fill a baseline's NaN with the household's mean half hour (else 0), so it always
    gives a number, as a fair production baseline would."""
    ok = np.isfinite(history_kwh)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, history_kwh, 0).sum(1) / ok.sum(1)
    mean = np.nan_to_num(mean)
    return np.where(np.isfinite(forecast_kwh), forecast_kwh, mean[:, None])
