"""Accuracy measures on (households, steps) arrays; NaN actuals are left out."""

from __future__ import annotations

import numpy as np

from forecasting.quantiles import pinball_loss

WEEK = 336


def naive_scale(history_kwh: np.ndarray, season: int = WEEK) -> np.ndarray:
    """In-sample mean absolute error of the weekly seasonal naive per household [kWh]
    (the MASE denominator); NaN where it cannot be computed or is 0."""
    diff = np.abs(history_kwh[:, season:] - history_kwh[:, :-season])
    ok = np.isfinite(diff)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(ok, diff, 0).sum(1) / ok.sum(1)
    return np.where(scale > 0, scale, np.nan)


def mae(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Mean absolute error per household [kWh]; NaN with no actuals."""
    err = np.abs(actual - forecast)
    ok = np.isfinite(err)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, err, 0).sum(1) / ok.sum(1)


def mase(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Mean absolute scaled error per household."""
    return mae(actual, forecast) / scale


def mean_pinball(actual: np.ndarray, quantile: np.ndarray, prob: float) -> np.ndarray:
    """Mean pinball loss per household [kWh]."""
    loss = pinball_loss(actual, quantile, prob)
    ok = np.isfinite(loss)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, loss, 0).sum(1) / ok.sum(1)


def coverage(actual: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Share of actuals inside [low, high] per household."""
    ok = np.isfinite(actual)
    inside = (actual >= low) & (actual <= high) & ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return inside.sum(1) / ok.sum(1)


def total_error(actual: np.ndarray, forecast: np.ndarray, min_share: float = 0.9) -> np.ndarray:
    """Relative error of the total over the horizon per household, (forecast - actual) /
    actual; NaN where fewer than ``min_share`` of the actuals are known or the total is 0."""
    ok = np.isfinite(actual)
    act = np.where(ok, actual, 0).sum(1)
    fc = np.where(ok, forecast, 0).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = (fc - act) / act
    return np.where((ok.mean(1) >= min_share) & (act > 0), err, np.nan)
