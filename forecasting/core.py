"""The forecasting core: pure numpy on arrays shaped ``(households, days, 48)``.

Model, per household (all households solved at once, no loop over them):

* daily energy ``D[d] = a[daytype(d)] + b_hdd * HDD[d] + b_recent * recent[d]``: a level per day
  type (weekday, bank holidays as Sunday), a heating slope on heating degree days (base 15.5 C)
  and a ridge-shrunk "recent week" level shift. Weighted least squares with recency weights
  (half-life ``halflife_days``), fitted by removing the day-type means (the fixed effects) and
  solving the remaining 2x2 ridge normal equations for every household in one batched
  ``np.linalg.solve``. Day-type levels are shrunk toward their weekday/weekend group mean by an
  empirical-Bayes factor that is zero when the data are exactly periodic.
* half-hourly ``y[d, s] = D[d] * shape[daytype(d), s]``: the share of the day's energy in each
  half hour, a recency-weighted ratio of sums per day type, shrunk the same way.
* quantiles from the household's own out-of-sample residuals at ``backtest_weeks`` rolling
  origins (one week ahead each), relative to the forecast level.
* a step change (new tenancy, a disconnection) is found in the daily residuals; history before
  it is dropped. Thin data gets a forecast and a trust flag, never NaN.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from forecasting import calendar as cal
from forecasting.quantiles import row_quantiles

SLOTS = cal.SLOTS_PER_DAY
PROBS = np.array([0.1, 0.5, 0.9])
WEEKEND = np.array([0, 0, 0, 0, 0, 1, 1])  # day-type group of Monday..Sunday
TINY = 1e-12

# Trust flags (bit mask) and their labels, in the order a household's one label is chosen
# (a step change explains the short history that follows it, so it comes first).
NO_DATA, ZEROS, LIMITED_HISTORY, STEP_CHANGE, GAPS = 1, 2, 4, 8, 16
TRUST_LABELS = {NO_DATA: "no_data", ZEROS: "all_zeros", STEP_CHANGE: "step_change",
                LIMITED_HISTORY: "limited_history", GAPS: "gaps"}


@dataclass(frozen=True)
class Params:
    """Tuning of the model; the defaults are what the benchmarks measured."""

    halflife_days: float = 21.0         # recency weighting of the history [days]
    hdd_base_c: float = 15.5            # base temperature of heating degree days [C]
    ridge_hdd: float = 1.0              # ridge on the heating slope [C^2 day]
    ridge_recent: float = 10.0          # ridge on the recent-week shift [days]
    min_slots_per_day: int = 40         # a day with fewer half-hours is not a daily total
    backtest_weeks: int = 2             # rolling origins for the residual quantiles
    quantile_blocks: int = 6            # blocks of the day with their own quantiles (48 / n)
    persistence: bool = True            # carry the latest day's residual forward, fading
    median_weeks: int = 6               # weeks of each day type behind the median profile
    min_band: float = 0.1               # p10 / p90 at least this far (relative) from p50
    step_t: float = 5.0                 # t statistic of a step change
    step_min_change: float = 0.35       # ... and its size relative to the mean day
    step_min_after_days: int = 3        # a step needs this many days after it
    limited_history_days: int = 14      # fewer usable days: "limited_history"
    gaps_max_missing: float = 0.2       # missing share of the window: "gaps"
    # Priors of the bands. Every household's band comes from its own errors and these fixed
    # priors only, never from the other households fitted with it, so a household gets the
    # same band in one run, in a chunk of forecasting.chunk_households or in a shard
    # (`hearth forecast --shard i/N`). Values: the portfolio-wide figures the pooled versions
    # gave on the benchmark portfolios (docs/sharding.md).
    block_prior_errors: float = 48.0    # pseudo-errors pulling a block's width to the day's
    day_sigma_prior: float = 0.16       # relative daily error of a household with few days
    day_sigma_prior_days: float = 7.0   # ... weighted as this many days of its own errors
    day_u_prior: tuple = (-1.15, -0.05, 1.35)  # standardised daily error quantiles
    hh_z_prior: tuple = (-0.6, -0.1, 1.2)      # relative half-hour quantiles, no backtest


@dataclass
class DayGrid:
    """History on whole UTC days. ``energy_kwh`` (H, N, 48) float32, NaN where missing;
    ``day0`` the first day; ``temp_c`` (N,) daily mean outdoor temperature (NaN unknown)."""

    energy_kwh: np.ndarray
    day0: np.datetime64
    temp_c: np.ndarray | None = None

    @property
    def days(self) -> np.ndarray:
        return self.day0 + np.arange(self.energy_kwh.shape[1])


@dataclass
class Fitted:
    """Learned state of every household (arrays lead with the household axis)."""

    level_kwh: np.ndarray       # (H, 7) daily energy per day type at 0 HDD [kWh/day]
    beta: np.ndarray            # (H, 2) heating slope [kWh/HDD], recent-week shift [kWh/day]
    shape: np.ndarray           # (H, 7, 48) share of a day's energy per half hour (mean)
    median_shape: np.ndarray    # (H, 7, 48) median share per half hour (median forecast)
    step_day: np.ndarray        # (H,) first grid day used (after a step change)
    flags: np.ndarray           # (H,) uint8 trust bit mask
    hh_z: np.ndarray            # (H, B, 3) half-hourly relative residual quantiles per block
    hh_floor_kwh: np.ndarray    # (H,) floor of the half-hourly scale [kWh]
    day_sigma: np.ndarray       # (H,) relative spread of daily energy
    day_floor_kwh: np.ndarray   # (H,) floor of the daily scale [kWh]
    day_u: np.ndarray           # (H, 3) standardised daily residual quantiles (the prior)
    fallback: np.ndarray        # (H,) True: no usable day, see _fallback
    mean_hh_kwh: np.ndarray     # (H,) mean of any half-hours seen (NaN: none) [kWh]
    last_resid_kwh: np.ndarray  # (H,) the latest day's residual from the fit [kWh]
    last_resid_day: np.ndarray  # (H,) datetime64[D] of that day
    persistence: np.ndarray     # (H,) day-to-day persistence of residuals
    end_day: np.datetime64      # first day not used for fitting
    last_anomaly_c: float       # recent temperature anomaly against climatology [C]
    last_temp_day: np.datetime64


# ----------------------------------------------------------------------------- daily model


def daily_totals(energy_kwh: np.ndarray, min_slots: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Daily energy [kWh] from (H, N, 48) half-hours, scaled up for a few missing half-hours;
    NaN for a day with fewer than ``min_slots``. A household with under a week of such days
    (a lossy radio link) uses days with at least half of their half-hours instead. Also
    returns the count of half-hours seen and their sum [kWh] per day."""
    seen = np.isfinite(energy_kwh)
    n = seen.sum(axis=2)
    total = np.where(seen, energy_kwh, 0).sum(axis=2, dtype=np.float64)
    lossy = (n >= min_slots).sum(axis=1) < 7
    need = np.where(lossy, SLOTS // 2, min_slots)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        daily = np.where(n >= need, total * SLOTS / np.maximum(n, 1), np.nan)
    return daily, n, total


def _onehot(day_type: np.ndarray) -> np.ndarray:
    return np.eye(7)[day_type]


def _shrink_to_groups(value: np.ndarray, weight: np.ndarray, var: np.ndarray,
                      return_factor: bool = False):
    """Empirical-Bayes shrinkage of per-day-type values toward their weekday/weekend group.

    value (H, 7, S), weight (H, 7) data weight per day type, var (H, 7) variance of a value's
    estimate. Shrinks by var / (var + spread between day types); no shrinkage when var is 0
    (exactly periodic data). Day types without data take the group's (else overall) value.
    """
    w = weight[:, :, None].astype(value.dtype)
    seen = weight > 0
    wv = w * value
    group = np.empty_like(value)
    group_seen = np.empty(weight.shape, bool)
    for cols in (slice(0, 5), slice(5, 7)):   # Monday-Friday, Saturday-Sunday
        sw = w[:, cols].sum(1)
        group[:, cols] = (wv[:, cols].sum(1) / np.maximum(sw, TINY))[:, None]
        group_seen[:, cols] = (sw[:, 0] > 0)[:, None]
    overall = wv.sum(1) / np.maximum(w.sum(1), TINY)
    group = np.where(group_seen[:, :, None], group, overall[:, None])
    # Spread of the true day-type values around the group: observed spread minus noise.
    n_seen = np.maximum(seen.sum(1), 1)
    dev2 = (((value - group) ** 2).mean(2) * seen).sum(1) / n_seen
    between = np.maximum(dev2 - (var * seen).sum(1) / n_seen, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(var > 0, var / (var + between[:, None]), 0.0)
    factor = np.where(seen, factor, 1.0).astype(value.dtype)[:, :, None]
    shrunk = value + factor * (group - value)
    return (shrunk, factor) if return_factor else shrunk


def fit_daily(daily_kwh: np.ndarray, weight: np.ndarray, day_type: np.ndarray,
              features: np.ndarray, ridge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted ridge regression of daily energy on day-type levels and features.

    daily_kwh (H, N) [kWh], weight (H, N) (0 where unusable), day_type (N,) 0..6,
    features (N, k) shared by all households, ridge (k,). Returns levels (H, 7) [kWh/day]
    and coefficients (H, k); the first feature (heating) gets a slope of at least 0.
    """
    onehot = _onehot(day_type)                               # (N, 7)
    d0 = np.where(weight > 0, daily_kwh, 0.0)
    sw = weight @ onehot                                     # (H, 7)
    safe = np.maximum(sw, TINY)
    mean_d = ((weight * d0) @ onehot) / safe
    mean_x = np.stack([((weight * features[:, k]) @ onehot) / safe
                       for k in range(features.shape[1])], axis=-1)  # (H, 7, k)
    dt = d0 - mean_d[:, day_type]
    n_k = features.shape[1]
    xt = [features[None, :, k] - mean_x[:, day_type, k] for k in range(n_k)]  # k x (H, N)
    wx = [weight * x for x in xt]
    # The (H, k, k) normal equations of every household, then one batched solve.
    lhs = np.empty((weight.shape[0], n_k, n_k))
    for a in range(n_k):
        for b in range(a, n_k):
            lhs[:, a, b] = lhs[:, b, a] = (wx[a] * xt[b]).sum(1)
    lhs += np.diag(ridge)
    rhs = np.stack([(x * dt).sum(1) for x in wx], axis=1)
    beta = np.linalg.solve(lhs, rhs[..., None])[..., 0]
    # A negative heating slope is noise: refit the other features with it held at 0.
    negative = beta[:, 0] < 0
    if negative.any():
        rest = np.linalg.solve(lhs[:, 1:, 1:], rhs[:, 1:, None])[..., 0]
        beta = np.where(negative[:, None], np.concatenate([np.zeros_like(rest[:, :1]), rest], 1),
                        beta)
    resid = dt - sum(x * beta[:, k:k + 1] for k, x in enumerate(xt))
    level = mean_d - np.einsum("hjk,hk->hj", mean_x, beta)
    # Noise of a day-type level: residual variance over its effective number of days.
    s2 = (weight * resid**2).sum(1) / np.maximum(weight.sum(1), TINY)
    eff = sw**2 / np.maximum((weight**2) @ onehot, TINY)
    var = s2[:, None] / np.maximum(eff, 1.0)
    level = _shrink_to_groups(level[:, :, None], sw, var)[:, :, 0]
    return level, beta


def predict_daily(level: np.ndarray, beta: np.ndarray, day_type: np.ndarray,
                  features: np.ndarray) -> np.ndarray:
    """Expected daily energy (H, n) [kWh] of days with ``day_type`` (n,), features (n, k)."""
    return np.maximum(level[:, day_type] + beta @ features.T, 0.0)


def detect_step(resid: np.ndarray, level_kwh: np.ndarray, p: Params) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """The most likely step change in daily residuals (H, N) (NaN unusable), all households
    at once from cumulative sums. Returns (found (H,), first day after the step (H,))."""
    ok = np.isfinite(resid)
    e = np.where(ok, resid, 0.0)
    n_before = np.cumsum(ok, axis=1)[:, :-1].astype(float)
    s_before = np.cumsum(e, axis=1)[:, :-1]
    n_all = ok.sum(1, keepdims=True).astype(float)
    s_all = e.sum(1, keepdims=True)
    ss_all = (e**2).sum(1, keepdims=True)
    n_after = n_all - n_before
    s_after = s_all - s_before
    with np.errstate(invalid="ignore", divide="ignore"):
        m_b = s_before / n_before
        m_a = s_after / n_after
        within = (ss_all - n_before * m_b**2 - n_after * m_a**2) / np.maximum(n_all - 2, 1)
        t = np.abs(m_a - m_b) / np.sqrt(np.maximum(within, TINY) * (1 / n_before + 1 / n_after))
        change = np.abs(m_a - m_b) / np.maximum(level_kwh, TINY)[:, None]
    usable = ((n_before >= 7) & (n_after >= p.step_min_after_days)
              & (change >= p.step_min_change))
    score = np.where(usable & np.isfinite(t), t, 0.0)
    if score.shape[1] == 0:
        return np.zeros(score.shape[0], bool), np.zeros(score.shape[0], np.int64)
    best = score.argmax(axis=1)
    found = score[np.arange(score.shape[0]), best] >= p.step_t
    return found, np.where(found, best + 1, 0)


# ----------------------------------------------------------------------------- half-hour shape


def prepare_shape(energy_kwh: np.ndarray, daily_kwh: np.ndarray) -> np.ndarray:
    """Per-day statistics the shape fits share, whatever the weights: (H, N, 144) float32 =
    [share of the day per half hour, its square, half hour seen]. Computed once per fit."""
    seen = np.isfinite(energy_kwh)
    d = np.where(np.isfinite(daily_kwh) & (daily_kwh > 0), daily_kwh, np.inf).astype(np.float32)
    out = np.empty((*energy_kwh.shape[:2], 3 * SLOTS), np.float32)
    share = out[..., :SLOTS]
    np.divide(energy_kwh, d[:, :, None], out=share)
    share[~seen] = 0
    np.square(share, out=out[..., SLOTS:2 * SLOTS])
    out[..., 2 * SLOTS:] = seen
    return out


def _shape_weights(daily_kwh: np.ndarray, weight: np.ndarray):
    ok = (weight > 0) & np.isfinite(daily_kwh)
    w = np.where(ok, weight, 0.0).astype(np.float32)
    d = np.where(ok, daily_kwh, 0.0).astype(np.float32)
    return w, d


def shape_sums(prepared: np.ndarray, daily_kwh: np.ndarray, weight: np.ndarray,
               day_type: np.ndarray, bounds: list[int]) -> list[np.ndarray]:
    """Weighted sums per day type of the prepared statistics over the day ranges
    [bounds[i], bounds[i+1]): a list of (H, 14, 144) arrays, one batched matmul per range.

    Rows 0-6: energy-weighted (ratio of sums); rows 7-13: day-weighted (spread of shares).
    Fits at several origins share these: recency weights of different origins differ by a
    constant factor, which the shape does not see, so sums over earlier ranges add up.
    """
    w, d = _shape_weights(daily_kwh, weight)
    onehot = _onehot(day_type).astype(np.float32).T                          # (7, N)
    out = []
    for lo, hi in itertools.pairwise(bounds):
        left = np.empty((w.shape[0], 14, hi - lo), np.float32)
        left[:, :7] = (w * d)[:, None, lo:hi] * onehot[None, :, lo:hi]
        left[:, 7:] = (w * (d > 0))[:, None, lo:hi] * onehot[None, :, lo:hi]
        out.append(np.matmul(left, prepared[:, lo:hi]))
    return out


def finish_shape(sums: np.ndarray, daily_kwh: np.ndarray, weight: np.ndarray,
                 day_type: np.ndarray) -> np.ndarray:
    """Share of the day's energy per half hour and day type (H, 7, 48), summing to 1, from
    :func:`shape_sums` over the days of ``weight``.

    A recency-weighted ratio of sums (robust to zero days and to missing half-hours), shrunk
    toward the weekday/weekend shape by an empirical-Bayes factor.
    """
    num, den = sums[:, :7, :SLOTS], sums[:, :7, 2 * SLOTS:]
    s1, s2, s0 = sums[:, 7:, :SLOTS], sums[:, 7:, SLOTS:2 * SLOTS], sums[:, 7:, 2 * SLOTS:]
    with np.errstate(invalid="ignore", divide="ignore"):
        shape = np.where(den > 0, num / den, 0.0)
    # Noise of a day type's shape: spread of single days' shares about it, over its days.
    within = np.maximum(s2 - 2 * shape * s1 + shape**2 * s0, 0.0).sum((1, 2))
    s2_day = within / np.maximum(s0.sum((1, 2)), TINY)
    w, _ = _shape_weights(daily_kwh, weight)
    onehot = _onehot(day_type).astype(np.float32)
    sw = w @ onehot
    eff = sw**2 / np.maximum((w**2) @ onehot, TINY)
    var = s2_day[:, None] / np.maximum(eff, 1.0)
    has = (den > 0).any(axis=2)
    shape, factor = _shrink_to_groups(shape, np.where(has, sw, 0.0), var, return_factor=True)
    total = shape.sum(axis=2, keepdims=True)
    shape = np.where(total > 0, shape / np.maximum(total, TINY), 1.0 / SLOTS)
    return shape.astype(np.float32), factor


def _nan_median(values: np.ndarray, axis: int = 1) -> np.ndarray:
    """Median along ``axis`` ignoring NaN (NaN where all are), by one sort along the last,
    contiguous axis (sorting short strided rows is several times slower)."""
    ordered = np.sort(np.ascontiguousarray(np.moveaxis(values, axis, -1)), axis=-1)
    n = np.isfinite(ordered).sum(axis=-1, keepdims=True)
    lo = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0), axis=-1)
    hi = np.take_along_axis(ordered, np.maximum(n // 2, 0), axis=-1)
    return np.where(n > 0, (lo + hi) / 2, np.nan)[..., 0]


def median_shares(prepared: np.ndarray, daily_kwh: np.ndarray, weight: np.ndarray,
                  day_type: np.ndarray, end: int, weeks: int, factor: np.ndarray,
                  mean_shape: np.ndarray) -> np.ndarray:
    """Median share of the day's energy per half hour and day type (H, 7, 48), over the last
    ``weeks`` days of each type before ``end``; the half-hourly median forecast is the day's
    energy times it. Use at home is a routine plus occasional events (a kettle, a shower): the
    median of a half hour over recent weeks follows the routine and ignores the events, which
    is what minimises the absolute error. Shrunk toward the weekday/weekend median by the
    mean shape's factor ``factor`` (H, 7, 1); gaps fall back to the mean shape."""
    usable = (weight[:, :end] > 0) & np.isfinite(daily_kwh[:, :end]) & (daily_kwh[:, :end] > 0)
    n_h = prepared.shape[0]

    def median_of(idx: np.ndarray) -> np.ndarray:
        if idx.size == 0:
            return np.full((n_h, SLOTS), np.nan, np.float32)
        ok = (prepared[:, idx, 2 * SLOTS:] > 0) & usable[:, idx, None]
        return _nan_median(np.where(ok, prepared[:, idx, :SLOTS], np.nan), axis=1)

    types = day_type[:end]
    own = np.stack([median_of(np.flatnonzero(types == j)[-weeks:]) for j in range(7)], 1)
    group = np.empty_like(own)
    group[:, :5] = median_of(np.flatnonzero(types < 5)[-5 * weeks:])[:, None, :]
    group[:, 5:] = median_of(np.flatnonzero(types >= 5)[-2 * weeks:])[:, None, :]
    group = np.where(np.isfinite(group), group, mean_shape)
    own = np.where(np.isfinite(own), own, group)
    return (own + factor * (group - own)).astype(np.float32)


def fit_shape(prepared: np.ndarray, daily_kwh: np.ndarray, weight: np.ndarray,
              day_type: np.ndarray) -> np.ndarray:
    """The shape (H, 7, 48) fitted on all days of ``weight`` (see :func:`finish_shape`)."""
    sums = shape_sums(prepared, daily_kwh, weight, day_type, [0, weight.shape[1]])[0]
    return finish_shape(sums, daily_kwh, weight, day_type)[0]


# ----------------------------------------------------------------------------- fit and predict


def _features(hdd: np.ndarray, n_days: int, end: int) -> np.ndarray:
    """Daily features: heating degree days and the "recent week" indicator."""
    recent = ((np.arange(n_days) >= end - 7) & (np.arange(n_days) < end)).astype(float)
    return np.stack([hdd[:n_days], recent], axis=1)


def _fit_at(daily: np.ndarray, valid: np.ndarray, dtype_: np.ndarray,
            hdd: np.ndarray, end: int, p: Params, step_day: np.ndarray | None):
    """Fit daily energy on days before ``end``; detect a step change unless ``step_day`` is
    given (then history before it gets no weight)."""
    n_days = daily.shape[1]
    age = (end - 1 - np.arange(n_days)).astype(float)
    recency = np.where(age >= 0, 0.5 ** (age / p.halflife_days), 0.0)
    weight = recency[None, :] * valid
    feats = _features(hdd, n_days, end)
    ridge = np.array([p.ridge_hdd, p.ridge_recent])
    level, beta = fit_daily(daily, weight, dtype_, feats, ridge)
    found = np.zeros(daily.shape[0], bool)
    if step_day is None:
        fitted = predict_daily(level, beta, dtype_, feats)
        resid = np.where(valid & (age >= 0)[None, :], daily - fitted, np.nan)
        mean_day = np.nansum(np.where(valid, daily, 0), 1) / np.maximum(valid.sum(1), 1)
        found, step_day = detect_step(resid, mean_day, p)
        if found.any():
            weight = weight * (np.arange(n_days)[None, :] >= step_day[:, None])
            level, beta = fit_daily(daily, weight, dtype_, feats, ridge)
    else:
        weight = weight * (np.arange(n_days)[None, :] >= step_day[:, None])
        level, beta = fit_daily(daily, weight, dtype_, feats, ridge)
    return level, beta, weight, found, step_day


def _last_residual(daily: np.ndarray, weight: np.ndarray, level: np.ndarray, beta: np.ndarray,
                   dtype_: np.ndarray, feats: np.ndarray, end: int):
    """Daily residuals of the fit (H, N) (NaN unusable) and each household's latest one with
    its age in days at ``end`` (persistence: away for a few days, a cold snap, illness)."""
    fitted = predict_daily(level, beta, dtype_, feats)
    resid = np.where((weight > 0) & np.isfinite(daily), daily - fitted, np.nan)
    ok = np.isfinite(resid[:, :end])
    if end == 0:
        return resid, np.zeros(daily.shape[0]), np.full(daily.shape[0], 10**6)
    last = np.where(ok.any(1), end - 1 - np.argmax(ok[:, ::-1], axis=1), -1)
    rows = np.arange(daily.shape[0])
    value = np.where(last >= 0, resid[rows, np.maximum(last, 0)], 0.0)
    return resid, np.nan_to_num(value), np.where(last >= 0, end - last, 10**6)


def _persistence(resid: np.ndarray, prior_days: float = 5.0) -> np.ndarray:
    """Each household's lag-one autocorrelation of daily residuals (H,), ridge-shrunk toward
    0 (no persistence) with ``prior_days`` days' worth of weight, clipped to [0, 0.9]."""
    a, b = resid[:, 1:], resid[:, :-1]
    ok = np.isfinite(a) & np.isfinite(b)
    den = np.where(ok, b * b, 0).sum(1)
    num = np.where(ok, a * b, 0).sum(1)
    n = np.maximum(ok.sum(1), 1)
    phi = num / np.maximum(den + prior_days * den / n, TINY)
    return np.clip(np.where(den > 0, phi, 0.0), 0.0, 0.9)


def _trust_flags(grid_kwh: np.ndarray, daily: np.ndarray, valid: np.ndarray,
                 weight: np.ndarray, found: np.ndarray, step_day: np.ndarray, end: int,
                 p: Params) -> np.ndarray:
    flags = np.zeros(daily.shape[0], np.uint8)
    used = (weight > 0).sum(1)
    flags[used == 0] |= NO_DATA
    # No use on the last two days with data (or on all of them): an empty home or a
    # prepayment meter off supply.
    day_idx = np.where(valid, np.arange(daily.shape[1])[None, :], -1)
    last2 = np.sort(day_idx, axis=1)[:, -2:]
    rows = np.arange(daily.shape[0])[:, None]
    last_kwh = np.where(last2 >= 0, daily[rows, np.maximum(last2, 0)], 0.0)
    flags[(last2.max(1) >= 0) & (np.abs(last_kwh).sum(1) <= 1e-9)] |= ZEROS
    flags[(used > 0) & (used < p.limited_history_days)] |= LIMITED_HISTORY
    flags[found] |= STEP_CHANGE
    # Missing half-hours since the first data (or the step), and a feed silent for 2 days.
    seen_day = np.isfinite(grid_kwh[:, :end]).sum(2)
    has = seen_day > 0
    if end == 0:
        return flags
    first = np.maximum(np.where(has.any(1), has.argmax(1), end), step_day)
    in_window = np.arange(end)[None, :] >= first[:, None]
    expected = in_window.sum(1) * SLOTS
    missing = 1 - (seen_day * in_window).sum(1) / np.maximum(expected, 1)
    stale = ~has[:, max(end - 2, 0):end].any(1)
    flags[(used > 0) & ((missing > p.gaps_max_missing) | stale)] |= GAPS
    return flags


def _block_ratio(dev_sum: np.ndarray, n_seen: np.ndarray, prior_errors: float) -> np.ndarray:
    """How much wider each block of the day's errors are than the whole day's (H, B), per
    household: its mean absolute deviation in the block over the day's, with ``prior_errors``
    pseudo-errors at the day's width (ratio 1), so a block with few errors stays near 1."""
    day = dev_sum.sum(1) / np.maximum(n_seen.sum(1), 1)                      # (H,)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (dev_sum + prior_errors * day[:, None]) \
            / ((n_seen + prior_errors) * day[:, None])
    return np.where(np.isfinite(ratio), ratio, 1.0)


def trust_labels(flags: np.ndarray) -> np.ndarray:
    """The most serious trust label of each household ("good" when none)."""
    labels = np.full(flags.shape, "good", dtype=object)
    for bit in reversed(TRUST_LABELS):
        labels[(flags & bit) > 0] = TRUST_LABELS[bit]
    return labels.astype(str)


def fit(grid: DayGrid, end: int, p: Params = Params()) -> Fitted:
    """Fit every household on the grid's days before ``end`` (an index into the grid)."""
    y = grid.energy_kwh
    n_h, n_days, _ = y.shape
    days = grid.days
    dtype_ = cal.day_type(days)
    temp = grid.temp_c if grid.temp_c is not None else np.full(n_days, np.nan)
    known = np.isfinite(temp[:end])
    temp_filled = cal.fill_temp_c(np.where(np.arange(n_days) < end, temp, np.nan), days)
    hdd = cal.heating_degree_days(temp_filled, p.hdd_base_c)
    daily, n_seen, seen_kwh = daily_totals(y, p.min_slots_per_day)
    valid = np.isfinite(daily) & (np.arange(n_days) < end)[None, :]

    prepared = prepare_shape(y, daily)
    level, beta, weight, found, step_day = _fit_at(daily, valid, dtype_, hdd, end, p, None)
    # Shape sums over ranges split at the backtest origins, shared by all fits.
    origins = [end - 7 * k for k in range(1, p.backtest_weeks + 1) if end - 7 * k >= 7]
    bounds = [0, *sorted(origins), end]
    seg = shape_sums(prepared, daily, weight, dtype_, bounds)
    shape, factor = finish_shape(sum(seg), daily[:, :end], weight[:, :end], dtype_[:end])
    med_shape = median_shares(prepared, daily, weight, dtype_, end, p.median_weeks, factor,
                              shape)
    flags = _trust_flags(y, daily, valid, weight, found, step_day, end, p)
    mean_day = (weight * np.where(valid, daily, 0)).sum(1) / np.maximum(weight.sum(1), TINY)
    hh_floor = 0.1 * mean_day / SLOTS + 1e-3
    day_floor = 0.05 * mean_day + 1e-2
    resid, last_resid, last_age = _last_residual(daily, weight, level, beta, dtype_,
                                                 _features(hdd, n_days, end), end)
    phi = _persistence(resid) if p.persistence else np.zeros(n_h)

    # Out-of-sample residuals at rolling origins, one week ahead each.
    z_hh, z_day = [], []
    for origin in origins:
        cut = slice(0, origin)
        lv, bt, w_o, _, _ = _fit_at(daily[:, cut], valid[:, cut], dtype_[cut], hdd[cut],
                                    origin, p, step_day)
        n_seg = bounds.index(origin)
        sh, f_o = finish_shape(sum(seg[:n_seg]), daily[:, cut], weight[:, cut], dtype_[cut])
        med_o = median_shares(prepared, daily, weight, dtype_, origin, p.median_weeks, f_o, sh)
        span = slice(origin, origin + 7)
        d_hat = predict_daily(lv, bt, dtype_[span], _features(hdd, n_days, origin)[span])
        _, r_o, age_o = _last_residual(daily[:, cut], w_o, lv, bt, dtype_[cut],
                                       _features(hdd, origin, origin), origin)
        fade = phi[:, None] ** np.clip(age_o[:, None] + np.arange(7), 1, 400)
        d_hat = np.maximum(d_hat + r_o[:, None] * fade, 0)
        rows = np.arange(n_h)[:, None]
        y_hat = d_hat[:, :, None] * sh[rows, dtype_[span][None, :], :]
        y_med = d_hat[:, :, None] * med_o[rows, dtype_[span][None, :], :]
        usable = (step_day <= origin - 7)[:, None]
        actual = np.where(usable[:, :, None], y[:, span, :], np.nan)
        # Errors of the median forecast, relative to the expected level of the half hour.
        z_hh.append((actual - y_med) / (y_hat + hh_floor[:, None, None]))      # (H, 7, 48)
        actual_d = np.where(usable & valid[:, span], daily[:, span], np.nan)
        z_day.append((actual_d - d_hat) / (d_hat + day_floor[:, None]))
    blocks = p.quantile_blocks
    if z_hh:
        # Relative errors differ by time of day (a quiet night, a busy evening): quantiles per
        # block of the day, from every backtest day's half-hours in that block.
        z = np.concatenate(z_hh, 1).astype(np.float32)                         # (H, D, 48)
        own = row_quantiles(z.reshape(n_h, -1), PROBS)                        # (H, 3)
        # Each household's own quantiles, widened or narrowed per block of the day by how
        # much wider that block's errors are than the day's, a ratio pooled over households
        # (a block alone has too few errors per household for stable quantiles).
        dev = np.abs(z - own[:, None, None, 1])
        dev = dev.reshape(n_h, z.shape[1], blocks, SLOTS // blocks)
        seen = np.isfinite(dev)
        dev_sum = np.where(seen, dev, 0).sum(axis=(1, 3))                      # (H, B)
        n_seen = seen.sum(axis=(1, 3))
        ratio = _block_ratio(dev_sum, n_seen, p.block_prior_errors)
        hh_z = np.repeat(own[:, None, :], blocks, axis=1)
        hh_z[..., 0::2] = own[:, None, 1:2] + (own[:, None, 0::2] - own[:, None, 1:2]) \
            * ratio[:, :, None]
        zd = np.concatenate(z_day, 1)
    else:
        hh_z = np.full((n_h, blocks, 3), np.nan)
        zd = np.full((n_h, 1), np.nan)
    # Households without a usable backtest take the prior's relative quantiles.
    hh_z = np.where(np.isfinite(hh_z), hh_z, np.asarray(p.hh_z_prior)).astype(float)
    hh_z = np.sort(hh_z, axis=2)
    # A band is never narrower than +-min_band of the expected level: a fortnight of errors
    # can be near zero (an exactly steady standby) without the next week's being so.
    hh_z[..., 0] = np.minimum(hh_z[..., 0], hh_z[..., 1] - p.min_band)
    hh_z[..., 2] = np.maximum(hh_z[..., 2], hh_z[..., 1] + p.min_band)
    n_z = np.isfinite(zd).sum(1)
    s2 = np.nansum(zd**2, 1) if zd.size else np.zeros(n_h)
    k = p.day_sigma_prior_days
    day_sigma = np.sqrt((s2 + k * p.day_sigma_prior**2) / (n_z + k))
    day_u = np.asarray(p.day_u_prior, float)

    anomaly = temp[:end] - cal.climatology_temp_c(days[:end])
    k_idx = np.flatnonzero(known)
    last_anomaly = float(np.mean(anomaly[k_idx[-3:]])) if k_idx.size else 0.0
    last_temp_day = days[k_idx[-1]] if k_idx.size else days[max(end - 1, 0)]
    return Fitted(level_kwh=level, beta=beta, shape=shape, median_shape=med_shape,
                  step_day=step_day, flags=flags,
                  hh_z=hh_z, hh_floor_kwh=hh_floor, day_sigma=day_sigma, day_floor_kwh=day_floor,
                  day_u=np.tile(day_u, (n_h, 1)), fallback=(flags & NO_DATA) > 0,
                  mean_hh_kwh=_mean_seen(seen_kwh, n_seen), last_resid_kwh=last_resid,
                  last_resid_day=days[0] + end - last_age.clip(max=10**4),
                  persistence=phi,
                  end_day=days[0] + end, last_anomaly_c=last_anomaly, last_temp_day=last_temp_day)


@dataclass
class DayForecast:
    """Forecast of whole days from ``day0``: half-hourly (H, n, 48) and daily (H, n) [kWh]."""

    day0: np.datetime64
    hh_mean_kwh: np.ndarray
    hh_kwh: np.ndarray          # (H, n, 48, 3) p10, p50, p90
    daily_mean_kwh: np.ndarray
    daily_kwh: np.ndarray       # (H, n, 3) p10, p50 (= mean), p90


def forecast_days(state: Fitted, day0: np.datetime64, n_days: int,
                  future_temp_c: np.ndarray | None = None, p: Params = Params(),
                  half_hourly: bool = True) -> DayForecast:
    """Forecast ``n_days`` whole days from ``day0`` for every household.

    future_temp_c (n_days,) daily mean temperature [C] where known (NaN elsewhere); unknown
    days use climatology plus the recent anomaly decaying, with its extra spread in the
    daily quantiles.
    """
    days = np.datetime64(day0, "D") + np.arange(n_days)
    lead = (days - state.last_temp_day).astype(np.int64).astype(float)
    expected = cal.future_temp_c(days, state.last_anomaly_c, lead)
    temp_sd = cal.future_temp_sd_c(lead)
    if future_temp_c is not None:
        given = np.isfinite(future_temp_c)
        expected = np.where(given, future_temp_c, expected)
        temp_sd = np.where(given, 0.0, temp_sd)
    hdd = cal.heating_degree_days(expected, p.hdd_base_c)
    dtype_ = cal.day_type(days)
    feats = np.stack([hdd, np.ones(n_days)], axis=1)
    d_mean = predict_daily(state.level_kwh, state.beta, dtype_, feats)      # (H, n)
    # The latest day's departure from the pattern persists for a few days, fading.
    lag = (days[None, :] - state.last_resid_day[:, None]).astype(np.int64)
    fade = state.persistence[:, None] ** np.clip(lag, 1, 400)
    d_mean = np.maximum(d_mean + state.last_resid_kwh[:, None] * fade, 0.0)
    # Heating degree days respond to colder days only: their spread is about half the
    # temperature's when the expected day is near the base.
    hdd_sd = temp_sd * np.clip((p.hdd_base_c - expected) / 2.0 + 0.5, 0.0, 1.0)
    sd = np.sqrt((state.day_sigma[:, None] * (d_mean + state.day_floor_kwh[:, None])) ** 2
                 + (state.beta[:, :1] * hdd_sd[None, :]) ** 2)
    d_q = np.maximum(d_mean[..., None] + sd[..., None] * state.day_u[:, None, :], 0.0)
    d_q[..., 1] = d_mean
    d_q = np.sort(d_q, axis=-1)
    hh_mean = hh_q = None
    if half_hourly:
        rows = np.arange(d_mean.shape[0])[:, None]
        hh_mean = (d_mean[:, :, None].astype(np.float32)
                   * state.shape[rows, dtype_[None, :], :])                 # (H, n, 48)
        hh_med = (d_mean[:, :, None].astype(np.float32)
                  * state.median_shape[rows, dtype_[None, :], :])
        scale = hh_mean + state.hh_floor_kwh[:, None, None].astype(np.float32)
        z = np.repeat(state.hh_z, SLOTS // state.hh_z.shape[1], axis=1).astype(np.float32)
        hh_q = np.stack([np.maximum(hh_med + scale * z[:, None, :, i], 0) for i in range(3)],
                        axis=-1)
    out = DayForecast(day0=days[0], hh_mean_kwh=hh_mean, hh_kwh=hh_q, daily_mean_kwh=d_mean,
                      daily_kwh=d_q)
    _fallback(out, state.fallback, state.mean_hh_kwh)
    return out


def _mean_seen(seen_kwh: np.ndarray, n_seen: np.ndarray) -> np.ndarray:
    """Mean of all half-hours seen (H,) [kWh]; NaN where none."""
    n = n_seen.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, seen_kwh.sum(1) / n, np.nan)


def _fallback(out: DayForecast, fallback: np.ndarray, mean_hh_kwh: np.ndarray) -> None:
    """Households without a usable day. With a few half-hours seen: their mean, flat, with a
    wide band (half to double). With none: the portfolio's typical home (median forecast,
    10th and 90th percentiles across households as the band); with no portfolio, zero."""
    if not fallback.any():
        return
    have = ~fallback
    own = fallback & np.isfinite(mean_hh_kwh)
    typical = fallback & ~own
    for mean, q, per in ((out.daily_mean_kwh, out.daily_kwh, SLOTS),
                         (out.hh_mean_kwh, out.hh_kwh, 1)):
        if mean is None:
            continue
        level = (mean_hh_kwh[own] * per).reshape((-1,) + (1,) * (mean.ndim - 1))
        mean[own] = level
        q[own] = np.stack([0.5 * level, level, 2 * level], axis=-1) * np.ones_like(q[own])
        if have.any():
            pct = np.percentile(mean[have], [10, 50, 90], axis=0)
            mean[typical] = pct[1]
            q[typical] = np.moveaxis(pct, 0, -1)
        else:
            mean[typical] = 0
            q[typical] = 0
