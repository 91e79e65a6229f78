"""Rolling-origin evaluation of the forecaster against the baselines, and a plot.

At each of the last ``n_origins`` midnights the models see only the history before it and
forecast the next day's 48 half-hours (day-ahead). A separate origin 30 days before the end
measures the error of the 30-day total. Each household's errors are scaled by its in-sample
weekly seasonal naive error (MASE), computed on the history before the first origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from forecasting import baselines, metrics
from forecasting.estimator import HearthForecaster
from forecasting.quantiles import row_quantiles

DAY = 48
WEEK = 336
MODELS = ("hearth", "seasonal_naive_week", "mean_last_4_weekdays")


@dataclass
class ModelScores:
    """Per-household scores of one model (arrays over households, NaN where undefined)."""

    mase: np.ndarray
    pinball_p10_kwh: np.ndarray
    pinball_p90_kwh: np.ndarray
    coverage: np.ndarray
    total_30d_error: np.ndarray

    def summary(self) -> dict[str, float]:
        def mean(a):
            return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")

        err = self.total_30d_error
        return {"mase": mean(self.mase), "pinball_p10_kwh": mean(self.pinball_p10_kwh),
                "pinball_p90_kwh": mean(self.pinball_p90_kwh), "coverage": mean(self.coverage),
                "total_30d_abs_error_median": (float(np.nanmedian(np.abs(err)))
                                               if np.isfinite(err).any() else float("nan")),
                "households": int(np.isfinite(self.mase).sum())}


@dataclass
class BacktestResult:
    households: np.ndarray
    origins: np.ndarray                      # datetime64[ns] day-ahead origins
    scores: dict[str, ModelScores]
    trust: np.ndarray
    examples: dict = field(default_factory=dict)  # for the plot

    def table(self) -> str:
        head = (f"{'model':24s} {'MASE':>7s} {'pinball p10':>12s} {'pinball p90':>12s} "
                f"{'p10-p90 cover':>14s} {'30-day total |err|':>19s} {'homes':>7s}")
        rows = [head, "-" * len(head)]
        for name, sc in self.scores.items():
            s = sc.summary()

            def f(v, fmt):
                return format(v, fmt) if np.isfinite(v) else "n/a"

            rows.append(f"{name:24s} {f(s['mase'], '7.3f'):>7s} "
                        f"{f(s['pinball_p10_kwh'], '12.4f'):>12s} "
                        f"{f(s['pinball_p90_kwh'], '12.4f'):>12s} "
                        f"{f(100 * s['coverage'], '13.1f') + '%':>14s} "
                        f"{f(100 * s['total_30d_abs_error_median'], '18.1f') + '%':>19s} "
                        f"{s['households']:7d}")
        return "\n".join(rows)


def _before(weather, origin):
    """The weather known at the origin: a backtest must not see the future's temperatures."""
    if weather is None:
        return None
    times, temp_c = weather
    keep = np.asarray(times, "datetime64[ns]") < origin
    return np.asarray(times)[keep], np.asarray(temp_c)[keep]


def _baseline_quantiles(history: np.ndarray, point: np.ndarray, kind: str) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """p10/p90 of a baseline from its own in-sample errors over the last two weeks."""
    n_t = history.shape[1]
    span = min(2 * WEEK, max(n_t - 4 * WEEK, 0)) if kind == "mean4" else min(2 * WEEK,
                                                                              n_t - WEEK)
    if span <= 0:
        return point, point
    t = np.arange(n_t - span, n_t)
    if kind == "naive":
        fitted = history[:, t - WEEK]
    else:
        lags = np.stack([history[:, t - k * WEEK] for k in range(1, 5)])
        ok = np.isfinite(lags)
        with np.errstate(invalid="ignore", divide="ignore"):
            fitted = np.where(ok, lags, 0).sum(0) / ok.sum(0)
    q = row_quantiles((history[:, t] - fitted).astype(np.float32), [0.1, 0.9])
    q = np.nan_to_num(q)
    return np.maximum(point + q[:, :1], 0), np.maximum(point + q[:, 1:], 0)


def run_backtest(energy_kwh: np.ndarray, start, households=None, weather=None,
                 n_origins: int = 7, history_days: int = 56, estimator=None,
                 progress=None) -> BacktestResult:
    """Evaluate on a (H, T) history starting at ``start`` (a UTC midnight is best)."""
    energy_kwh = np.asarray(energy_kwh, np.float32)
    n_h, n_t = energy_kwh.shape
    start = np.datetime64(start, "ns")
    households = (np.arange(n_h).astype(str) if households is None
                  else np.asarray(households).astype(str))
    est = estimator if estimator is not None else HearthForecaster()
    steps_of_day = int((start - start.astype("datetime64[D]")) // np.timedelta64(30, "m"))
    last_midnight = n_t - (steps_of_day + n_t) % DAY
    if last_midnight == n_t:
        last_midnight -= DAY
    origins = [last_midnight - k * DAY for k in range(n_origins) if last_midnight - k * DAY
               >= 2 * WEEK][::-1]
    if not origins:
        raise ValueError("a backtest needs at least 15 days of half-hourly history")
    hist_steps = history_days * DAY
    scale = metrics.naive_scale(energy_kwh[:, max(0, origins[0] - hist_steps):origins[0]])
    acc = {m: {"abs": [], "p10": [], "p90": [], "in": [], "n": []} for m in MODELS}
    trust = None
    examples = {}
    for o in origins:
        hist = energy_kwh[:, max(0, o - hist_steps):o]
        h_start = start + max(0, o - hist_steps) * np.timedelta64(30, "m")
        actual = energy_kwh[:, o:o + DAY]
        est.fit(hist, start=h_start, weather=weather, households=households)
        fc = est.predict(DAY, 0, weather=_before(weather, est.origin_))
        trust = est.trust_
        naive = baselines.fill_baseline(baselines.seasonal_naive(hist, DAY), hist)
        mean4 = baselines.fill_baseline(baselines.mean_last_weekdays(hist, DAY), hist)
        preds = {"hearth": (fc.energy_kwh, fc.energy_kwh_p10, fc.energy_kwh_p90),
                 "seasonal_naive_week": (naive, *_baseline_quantiles(hist, naive, "naive")),
                 "mean_last_4_weekdays": (mean4, *_baseline_quantiles(hist, mean4, "mean4"))}
        ok = np.isfinite(actual)
        for m, (p50, p10, p90) in preds.items():
            a = acc[m]
            a["abs"].append(np.where(ok, np.abs(actual - p50), 0).sum(1))
            a["p10"].append(np.where(ok, metrics.pinball_loss(actual, p10, 0.1), 0).sum(1))
            a["p90"].append(np.where(ok, metrics.pinball_loss(actual, p90, 0.9), 0).sum(1))
            a["in"].append(((actual >= p10) & (actual <= p90) & ok).sum(1))
            a["n"].append(ok.sum(1))
        if o == origins[-1]:
            examples = {"history": hist[:, -WEEK:], "actual": actual, "start": h_start
                        + (hist.shape[1] - WEEK) * np.timedelta64(30, "m"),
                        "preds": preds, "origin": start + o * np.timedelta64(30, "m")}
        if progress is not None:
            progress(1)
    totals = _total_30d(energy_kwh, start, households, weather, hist_steps, est)
    scores = {}
    for m in MODELS:
        a = {k: np.sum(v, axis=0) for k, v in acc[m].items()}
        with np.errstate(invalid="ignore", divide="ignore"):
            n = np.where(a["n"] > 0, a["n"], np.nan)
            scores[m] = ModelScores(mase=a["abs"] / n / scale, pinball_p10_kwh=a["p10"] / n,
                                    pinball_p90_kwh=a["p90"] / n, coverage=a["in"] / n,
                                    total_30d_error=totals.get(m, np.full(n_h, np.nan)))
    return BacktestResult(households, start + np.array(origins) * np.timedelta64(30, "m"),
                          scores, trust, examples)


def _total_30d(energy_kwh, start, households, weather, hist_steps, est) -> dict[str, np.ndarray]:
    """Relative error of each model's 30-day total from an origin 30 days before the end."""
    n_t = energy_kwh.shape[1]
    steps_of_day = int((start - start.astype("datetime64[D]")) // np.timedelta64(30, "m"))
    o = n_t - 30 * DAY
    o -= (steps_of_day + o) % DAY  # a midnight, so the 30 days are whole days
    if o < 2 * WEEK:
        return {}
    hist = energy_kwh[:, max(0, o - hist_steps):o]
    actual = energy_kwh[:, o:o + 30 * DAY]
    est.fit(hist, start=start + max(0, o - hist_steps) * np.timedelta64(30, "m"),
            weather=weather, households=households)
    fc = est.predict(DAY, 30, weather=_before(weather, est.origin_))
    daily_actual = actual.reshape(actual.shape[0], 30, DAY)
    ok_day = np.isfinite(daily_actual).all(2)
    day_sum = np.where(ok_day, daily_actual.sum(2), np.nan)
    naive = baselines.fill_baseline(baselines.seasonal_naive(hist, 30 * DAY), hist)
    mean4 = baselines.fill_baseline(baselines.mean_last_weekdays(hist, 30 * DAY), hist)
    return {"hearth": metrics.total_error(day_sum, fc.daily_kwh),
            "seasonal_naive_week": metrics.total_error(
                day_sum, naive.reshape(-1, 30, DAY).sum(2)),
            "mean_last_4_weekdays": metrics.total_error(
                day_sum, mean4.reshape(-1, 30, DAY).sum(2))}


def plot_examples(result: BacktestResult, path, n: int = 4) -> str:
    """Plot the last origin's day-ahead forecasts of a few households with their last week."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ex = result.examples
    hist, actual = ex["history"], ex["actual"]
    ok = np.isfinite(result.scores["hearth"].mase)
    # Prefer trusted homes, then show one flagged home if there is one.
    order = [i for i in np.flatnonzero(ok) if result.trust[i] == "good"][: max(n - 1, 1)]
    flagged = [i for i in np.flatnonzero(ok) if result.trust[i] != "good"]
    order += flagged[:1] if flagged else [i for i in np.flatnonzero(ok) if i not in order][:1]
    order = order[:n] or list(range(min(n, hist.shape[0])))
    t_hist = ex["start"] + np.arange(hist.shape[1]) * np.timedelta64(30, "m")
    t_fc = ex["origin"] + np.arange(actual.shape[1]) * np.timedelta64(30, "m")
    fig, axes = plt.subplots(len(order), 1, figsize=(11, 2.8 * len(order)), squeeze=False)
    p50, p10, p90 = ex["preds"]["hearth"]
    naive = ex["preds"]["seasonal_naive_week"][0]
    for ax, i in zip(axes[:, 0], order, strict=False):
        ax.plot(t_hist.astype("datetime64[m]"), hist[i], color="0.6", lw=0.8,
                label="history (last week)")
        ax.plot(t_fc.astype("datetime64[m]"), actual[i], color="black", lw=1.2, label="actual")
        ax.fill_between(t_fc.astype("datetime64[m]"), p10[i], p90[i], color="tab:blue",
                        alpha=0.25, label="Hearth p10-p90")
        ax.plot(t_fc.astype("datetime64[m]"), p50[i], color="tab:blue", lw=1.5,
                label="Hearth p50")
        ax.plot(t_fc.astype("datetime64[m]"), naive[i], color="tab:orange", lw=1, ls="--",
                label="weekly seasonal naive")
        ax.set_title(f"Household {result.households[i]} (trust: {result.trust[i]}) - "
                     "day-ahead half-hourly forecast")
        ax.set_ylabel("energy per half hour [kWh]")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time (UTC)")
    axes[0, 0].legend(loc="upper left", fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
