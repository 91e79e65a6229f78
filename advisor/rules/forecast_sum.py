"""The upper quantile of a SUM of daily forecasts (30 days of cost, days until credit runs out).

Adding up daily p90s gives the p90 of the sum only if every day's error were the same (perfect
correlation); real daily errors persist for a few days (a cold spell, a week away) and then
fade. Here the daily errors are taken to follow an AR(1) process: the correlation of the
errors of days i and j is phi ** |i - j|, with the household's persistence phi estimated from
its own daily history. The upper spread of each day u (its p90 over its expected use, about
1.28 standard deviations of that day) comes from the same history: Z90 times the standard
deviation of the household's days around its own trend (`daily_upper_spread`; the
forecaster's daily p90 is not used: see docs/advisor.md). The sum's upper spread is then
sqrt(u' R u) with R[i, j] = phi ** |i - j| (a normal approximation to the sum: sums of many
days are closer to normal than one day is). phi = 1 gives back the sum of daily p90s; phi = 0
independent days (the square root of the sum of squares).
"""

from __future__ import annotations

import numpy as np

# Shrink the history's lag-1 autocorrelation toward 0 by this many days' worth of weight
# (few days say little), then clip: at most MAX_PHI (days are never perfectly correlated,
# and the estimate from a short history is noisy).
PRIOR_DAYS = 5.0
MIN_PHI, MAX_PHI = 0.0, 0.9


def daily_persistence(daily_kwh: np.ndarray, prior_days: float = PRIOR_DAYS) -> np.ndarray:
    """Day-to-day persistence of a household's daily use (H,) in [MIN_PHI, MAX_PHI].

    daily_kwh: (H, D) [kWh], NaN where a day is missing. The lag-1 autocorrelation of the
    days' deviations from the household's own straight-line trend over the history (the trend
    takes out the season's drift, which would otherwise read as persistence), shrunk toward 0
    by `prior_days`; 0 where fewer than 4 pairs of consecutive days are seen."""
    x = np.asarray(daily_kwh, dtype=np.float64)
    h, d = x.shape
    if d < 3:
        return np.zeros(h)
    r, n = _detrended(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        pair = np.isfinite(r[:, 1:]) & np.isfinite(r[:, :-1])
        a = np.where(pair, r[:, 1:], 0.0)
        b = np.where(pair, r[:, :-1], 0.0)
        n_pairs = pair.sum(1)
        var = np.nansum(r ** 2, axis=1) / np.maximum(n, 1)
        cov = (a * b).sum(1) / np.maximum(n_pairs, 1)
        rho = np.where(var > 0, cov / var, 0.0)
    rho = np.nan_to_num(rho) * n_pairs / (n_pairs + prior_days)
    return np.where(n_pairs >= 4, np.clip(rho, MIN_PHI, MAX_PHI), 0.0)


Z90 = 1.2816   # the standard normal's 90th percentile


def daily_upper_spread(daily_kwh: np.ndarray) -> np.ndarray:
    """A day's p90 over its expected use from the household's own history [kWh] (H,): Z90
    times the standard deviation of its days around its own straight-line trend (NaN with
    fewer than 7 days seen)."""
    x = np.asarray(daily_kwh, dtype=np.float64)
    if x.shape[1] < 3:
        return np.full(x.shape[0], np.nan)
    r, n = _detrended(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.nansum(r ** 2, axis=1) / np.maximum(n - 2, 1))
    return np.where(n >= 7, Z90 * sd, np.nan)


def _detrended(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's deviations from its own least-squares line (NaN kept) and days seen."""
    d = x.shape[1]
    t = np.arange(d, dtype=np.float64)[None, :]
    seen = np.isfinite(x)
    n = seen.sum(axis=1)
    w = seen.astype(np.float64)
    xs = np.where(seen, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tm = (w * t).sum(1) / n
        xm = xs.sum(1) / n
        stt = (w * (t - tm[:, None]) ** 2).sum(1)
        slope = np.where(stt > 0, (w * (t - tm[:, None]) * (xs - xm[:, None])).sum(1) / stt, 0)
        r = np.where(seen, x - (xm[:, None] + slope[:, None] * (t - tm[:, None])), np.nan)
    return r, n


def _weighted_gram(u: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """u_i u_j phi^|i-j| for every household (H, D, D)."""
    d = u.shape[1]
    lag = np.abs(np.arange(d)[:, None] - np.arange(d)[None, :])
    corr = np.asarray(phi, dtype=np.float64)[:, None, None] ** lag[None, :, :]
    return u[:, :, None] * u[:, None, :] * corr


def sum_upper_spread(upper: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """The upper spread (p90 over p50) of the sum of D days (H,), from each day's own upper
    spread `upper` (H, D) (same units, e.g. GBP) and the persistence phi (H,)."""
    u = np.clip(np.nan_to_num(np.asarray(upper, dtype=np.float64)), 0, None)
    return np.sqrt(_weighted_gram(u, phi).sum(axis=(1, 2)))


def cumulative_upper_spread(upper: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """The upper spread of the running sum over the first 1..D days (H, D)."""
    u = np.clip(np.nan_to_num(np.asarray(upper, dtype=np.float64)), 0, None)
    c = _weighted_gram(u, phi).cumsum(axis=1).cumsum(axis=2)
    k = np.arange(u.shape[1])
    return np.sqrt(c[:, k, k])
