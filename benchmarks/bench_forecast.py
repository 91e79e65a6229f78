"""Benchmark of the forecaster (issue 4): accuracy, statsforecast side by side, and scale.

Run: PYTHONPATH=. python -m benchmarks.bench_forecast [--households 1000] [--mstl-subset 100]
     [--scale-households 100000] [--source synthetic|sim] [--json out.json]

1. Accuracy: rolling-origin backtest (7 day-ahead origins, one 30-day origin) on a portfolio of
   ``--households`` homes: Hearth against the weekly seasonal naive and the mean of the last
   four same weekdays.
2. statsforecast on the same homes and the last day-ahead origin: SeasonalNaive(336) on all,
   MSTL(season_length=[48, 336]) on ``--mstl-subset`` homes (timed; its time for all homes is
   extrapolated from the subset and said so), Hearth on the same subset and on all.
3. Scale: ``--scale-households`` homes x 8 weeks, 7-day half-hourly and 30-day daily forecasts
   with quantiles, in a child process so that its peak RSS is the forecaster's own.

The portfolio is the SYNTHETIC generator in forecasting/synthetic.py unless ``--source sim``
(the project's simulator, when it is installed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from forecasting import backtest, baselines, metrics, synthetic
from forecasting.estimator import HearthForecaster

DAY, WEEK = 48, 336
HISTORY_DAYS = 56


def _portfolio(n: int, n_days: int, seed: int, source: str, fuel: str, start: str):
    if source == "sim":
        return sim_portfolio(n, n_days, seed, fuel, start=f"{start}T00:00")
    return synthetic.portfolio(n, n_days, start=start, seed=seed, history_days=n_days - 30)


def sim_portfolio(n: int, n_days: int, seed: int, fuel: str = "electricity",
                  start: str = "2026-10-05T00:00"):
    """Half-hourly use of the project's simulated homes (meters_sim, 1-minute physics): the
    true registers differenced at each half hour; gas volume as kWh. Homes without gas are
    left out of a gas portfolio."""
    from meters_sim.homes import Portfolio as SimPortfolio
    from meters_sim.homes import synthetic_households
    from meters_sim.model import Simulation
    from meters_sim.physics import gas_kwh_from_m3

    pf = SimPortfolio.from_rows(synthetic_households(n, seed), seed=seed)
    sim = Simulation(pf, start=start, step_s=60, seed=seed)
    register, temps, times = [], [], []
    for trace in sim.run(n_days * 1440):
        at_half_hour = (trace.time_ns % (1800 * 10**9)) == 0
        reg = trace.energy_kwh if fuel == "electricity" else gas_kwh_from_m3(trace.volume_m3)
        register.append(np.asarray(reg, float)[at_half_hour])
        temps.append(trace.t_out_c.mean(axis=1))
        times.append(trace.time_ns)
    # Registers at the ends of half-hours start+30 min .. end; the first half hour has no
    # starting register, so it is missing (NaN), as after a meter is fitted.
    reg = np.concatenate(register)                                    # (n_days * 48, homes)
    diff = np.diff(reg, axis=0)
    energy = np.vstack([np.full((1, reg.shape[1]), np.nan), diff]).T.astype(np.float32)
    households = np.asarray(pf.household_id).astype(str)
    if fuel == "gas":
        keep = np.asarray(pf.has_gas, bool)
        energy, households = energy[keep], households[keep]
    t_all = np.concatenate(times)
    return synthetic.Portfolio(households, np.datetime64(start, "ns"), energy,
                               t_all.astype("datetime64[ns]"), np.concatenate(temps),
                               np.full(households.size, "sim"))


def _fill_for_statsforecast(history: np.ndarray) -> np.ndarray:
    """statsforecast needs complete series: fill gaps with the home's weekly-slot mean
    (else its mean, else 0). Hearth gets the gaps as they are."""
    n_h, n_t = history.shape
    pad = (-n_t) % WEEK
    blocks = np.concatenate([np.full((n_h, pad), np.nan, np.float32), history], 1)
    blocks = blocks.reshape(n_h, -1, WEEK)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(blocks)
        slot = np.where(ok, blocks, 0).sum(1) / ok.sum(1)
        mean = np.nanmean(np.where(np.isfinite(history), history, np.nan), 1)
    slot = np.where(np.isfinite(slot), slot, np.nan_to_num(mean)[:, None])
    filled = np.where(ok, blocks, slot[:, None, :]).reshape(n_h, -1)[:, pad:]
    return filled.astype(np.float64)


def _statsforecast(history: np.ndarray, start, models, n_jobs: int) -> tuple[dict, float]:
    import pandas as pd
    from statsforecast import StatsForecast

    n_h, n_t = history.shape
    times = pd.date_range(pd.Timestamp(start), periods=n_t, freq="30min")
    frame = pd.DataFrame({"unique_id": np.repeat(np.arange(n_h), n_t),
                          "ds": np.tile(times, n_h),
                          "y": _fill_for_statsforecast(history).ravel()})
    sf = StatsForecast(models=models, freq="30min", n_jobs=n_jobs)
    t0 = time.perf_counter()
    out = sf.forecast(df=frame, h=DAY)
    elapsed = time.perf_counter() - t0
    out = out.reset_index() if "unique_id" not in out.columns else out
    out = out.sort_values(["unique_id", "ds"])
    return {m.alias: out[m.alias].to_numpy().reshape(n_h, DAY) for m in models}, elapsed


def accuracy(args) -> dict:
    t0 = time.perf_counter()
    pf = _portfolio(args.households, HISTORY_DAYS + 30, args.seed, args.source, args.fuel,
                    args.start)
    print(f"{args.source} portfolio ({args.fuel}): {pf.energy_kwh.shape[0]} homes x"
          f" {pf.energy_kwh.shape[1] // DAY} days in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    result = backtest.run_backtest(pf.energy_kwh, pf.start, pf.households, pf.weather,
                                   n_origins=7, history_days=HISTORY_DAYS)
    elapsed = time.perf_counter() - t0
    summary = {m: s.summary() for m, s in result.scores.items()}
    plot = Path(tempfile.gettempdir()) / "hearth_bench_forecast.png"
    backtest.plot_examples(result, plot)
    print(result.table())
    print(f"backtest of {pf.energy_kwh.shape[0]} homes (8 fits) in {elapsed:.1f} s; plot {plot}")
    return {"summary": summary, "trust": {k: int(v) for k, v in zip(
        *np.unique(result.trust, return_counts=True), strict=True)}, "portfolio": pf}


def versus_statsforecast(args, pf) -> dict:
    from statsforecast.models import MSTL, SeasonalNaive

    origin = pf.energy_kwh.shape[1] - DAY               # the backtest's last day-ahead origin
    hist = pf.energy_kwh[:, origin - HISTORY_DAYS * DAY:origin]
    actual = pf.energy_kwh[:, origin:origin + DAY]
    start = pf.start + (origin - HISTORY_DAYS * DAY) * np.timedelta64(30, "m")
    scale = metrics.naive_scale(hist)

    c0, t0 = time.process_time(), time.perf_counter()
    est = HearthForecaster().fit(hist, start=start, weather=_before(pf.weather, start, hist))
    fc = est.predict(DAY, 30)
    t_ours = time.perf_counter() - t0
    cpu_ours = time.process_time() - c0

    sn, t_sn = _statsforecast(hist, start, [SeasonalNaive(season_length=WEEK)], args.n_jobs)
    sub = np.random.default_rng(args.seed).choice(hist.shape[0], args.mstl_subset, replace=False)
    sub.sort()
    ms, t_ms = _statsforecast(hist[sub], start, [MSTL(season_length=[DAY, WEEK])], args.n_jobs)
    t0 = time.perf_counter()
    HearthForecaster().fit(hist[sub], start=start, weather=_before(pf.weather, start, hist)
                           ).predict(DAY, 30)
    t_ours_sub = time.perf_counter() - t0

    def mase(pred, rows=slice(None)):
        return float(np.nanmean(metrics.mase(actual[rows], pred, scale[rows])))

    ms_all = t_ms * hist.shape[0] / len(sub)
    return {
        "households": hist.shape[0], "mstl_subset": len(sub), "n_jobs": args.n_jobs,
        "hearth_mase": mase(fc.energy_kwh), "hearth_mase_subset": mase(fc.energy_kwh[sub], sub),
        "seasonal_naive_mase": mase(sn["SeasonalNaive"]),
        "mstl_mase_subset": mase(ms["MSTL"], sub),
        "seasonal_naive_plain_mase": mase(baselines.fill_baseline(
            baselines.seasonal_naive(hist, DAY), hist)),
        "hearth_s": t_ours, "hearth_cpu_s": cpu_ours, "hearth_subset_s": t_ours_sub,
        "seasonal_naive_s": t_sn, "mstl_subset_s": t_ms, "mstl_all_s_extrapolated": ms_all,
        "speedup_vs_mstl": ms_all / t_ours, "speedup_vs_seasonal_naive": t_sn / t_ours}


def split_check(pf, parts: int = 3) -> dict:
    """Fit the history once, then in `parts` groups of households (as `hearth forecast --shard
    i/N` does): how far each household's p10/p90 moves [relative to the one-fit value]."""
    hist = pf.energy_kwh[:, :HISTORY_DAYS * DAY]
    whole = HearthForecaster().fit(hist, start=pf.start, weather=pf.weather).predict(WEEK, 30)
    group = np.arange(hist.shape[0]) % parts
    out = {}
    for name in ("energy_kwh_p10", "energy_kwh_p90"):
        ref, split = getattr(whole, name), np.empty_like(getattr(whole, name))
        for k in range(parts):
            rows = group == k
            fc = HearthForecaster().fit(hist[rows], start=pf.start,
                                        weather=pf.weather).predict(WEEK, 30)
            split[rows] = getattr(fc, name)
        big = ref > 0.01
        rel = np.abs(split - ref)[big] / ref[big]
        out[name] = {"identical_share": float(np.mean(np.abs(split - ref) < 1e-6)),
                     "rel_diff_median": float(np.median(rel)),
                     "rel_diff_p99": float(np.percentile(rel, 99)), "rel_diff_max": float(rel.max())}
    return {"parts": parts, **out}


def _before(weather, start, hist):
    times, temp = weather
    end = start + hist.shape[1] * np.timedelta64(30, "m")
    keep = times < end
    return times[keep], temp[keep]


def scale_worker(path: str, n_jobs: int) -> None:
    """Child process: load the matrix, forecast, report time and peak RSS as JSON."""
    data = np.load(path)
    energy, temp = data["energy_kwh"], data["temp_c"]
    start = np.datetime64(int(data["start_ns"]), "ns")
    times = start + np.arange(energy.shape[1]) * np.timedelta64(30, "m")
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    c0, t0 = time.process_time(), time.perf_counter()
    est = HearthForecaster(n_jobs=n_jobs).fit(energy, start=start, weather=(times, temp))
    t_fit = time.perf_counter() - t0
    fc = est.predict(WEEK, 30)
    elapsed = time.perf_counter() - t0
    assert np.isfinite(fc.energy_kwh_p90).all() and np.isfinite(fc.daily_kwh_p90).all()
    print(json.dumps({"households": int(energy.shape[0]), "steps": int(energy.shape[1]),
                      "fit_s": t_fit, "total_s": elapsed, "cpu_s": time.process_time() - c0,
                      "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
                      "data_rss_gib": rss_data}))


def scale(args) -> dict:
    n = args.scale_households
    n_t = HISTORY_DAYS * DAY
    energy = np.empty((n, n_t), np.float32)
    chunk = 10_000
    for i, lo in enumerate(range(0, n, chunk)):
        part = synthetic.portfolio(min(chunk, n - lo), HISTORY_DAYS, seed=1000 + i)
        energy[lo:lo + part.energy_kwh.shape[0]] = part.energy_kwh
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.npz"
        np.savez(path, energy_kwh=energy, temp_c=part.temp_c,
                 start_ns=part.start.astype(np.int64))
        del energy
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_forecast", "--scale-worker",
                              str(path), "--n-jobs", str(args.n_jobs)], check=True,
                             capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor() or "unknown CPU")
    mem = next((int(line.split()[1]) / 1024**2 for line in
                Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")),
               float("nan"))
    load = os.getloadavg()
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()},"
            f" numpy {np.__version__}; load average at the end {load[0]:.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--mstl-subset", type=int, default=100)
    parser.add_argument("--scale-households", type=int, default=100_000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", choices=["synthetic", "sim"], default="synthetic")
    parser.add_argument("--fuel", choices=["electricity", "gas"], default="electricity",
                        help="with --source sim: which meter's use to forecast")
    parser.add_argument("--start", default="2026-09-28", help="first day of the portfolio;"
                        " the default ends on 23 December: neither the simulator nor the"
                        " synthetic homes keep bank holidays, which Hearth treats as Sundays")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--only-scale", action="store_true")
    parser.add_argument("--only-accuracy", action="store_true",
                        help="the backtest and the split check only (no statsforecast, no scale)")
    parser.add_argument("--scale-worker", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.scale_worker:
        scale_worker(args.scale_worker, args.n_jobs)
        return
    acc = vs = None
    if not args.only_scale:
        acc = accuracy(args)
        pf = acc.pop("portfolio")
        if args.only_accuracy:
            acc["split"] = split_check(pf)
            print(json.dumps(acc["split"], indent=1))
        else:
            vs = versus_statsforecast(args, pf)
            print(json.dumps(vs, indent=1))
    sc = None if args.skip_scale or args.only_accuracy else scale(args)
    if sc:
        print(json.dumps(sc, indent=1))
    figures = {"accuracy": acc, "statsforecast": vs, "scale": sc, "machine": machine(),
               "command": "PYTHONPATH=. python -m benchmarks.bench_forecast " +
               " ".join(argv if argv is not None else sys.argv[1:])}
    print(json.dumps({k: v for k, v in figures.items() if k != "accuracy"}, default=str))
    if args.json:
        args.json.write_text(json.dumps(figures, default=str, indent=1))


if __name__ == "__main__":
    main()
