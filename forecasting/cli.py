"""``hearth forecast``: forecast every household (InfluxDB or CSV) and backtest the forecaster.

    hearth forecast                                  # usage_30m in InfluxDB -> forecast(_daily)
    hearth forecast --input usage.csv --output forecast.csv [--weather weather.csv]
                    [--horizon STEPS] [--daily-output daily.csv]
    hearth forecast backtest [--input usage.csv] [--weather weather.csv] [--plot out.png]
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger("hearth.forecasting")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "forecast", help="forecast every household's use (next 7 days half-hourly, 30 days daily)",
        description="Forecast every household and fuel from usage_30m in InfluxDB and write the"
        " forecast and forecast_daily measurements; or, with --input, forecast a CSV export."
        " See docs/forecasting.md.")
    _common(p)
    p.add_argument("--output", type=Path, help="CSV to write (with --input): household_id,"
                   "timestamp,energy_kwh,energy_kwh_p10,energy_kwh_p90")
    p.add_argument("--daily-output", type=Path, help="also write the daily forecasts to this"
                   " CSV: household_id,date,energy_kwh,energy_kwh_p10,energy_kwh_p90")
    p.add_argument("--horizon", type=int, metavar="STEPS", help="half-hours to forecast"
                   " (default forecasting.horizon_steps, 336 = 7 days)")
    p.add_argument("--full", action="store_true", help="ignore the history cache under var/"
                   " and read the whole history from InfluxDB")
    from hearth.shards import add_shard_argument

    add_shard_argument(p, "the households of this shard's patches (InfluxDB mode)")
    p.set_defaults(func=handle_forecast)
    sub = p.add_subparsers(dest="forecast_command", metavar="SUBCOMMAND")
    b = sub.add_parser("backtest", help="rolling-origin evaluation against the baselines",
                       description="Rolling-origin evaluation of the forecaster and the"
                       " baselines (weekly seasonal naive, mean of the last four same weekdays)"
                       " on the stored usage or a CSV; prints MASE, pinball loss, p10-p90"
                       " coverage and the 30-day total error, and saves a plot.")
    _common(b)
    b.add_argument("--origins", type=int, default=7, help="day-ahead origins (last N days;"
                   " default 7)")
    b.add_argument("--plot", type=Path, help="PNG to write (default"
                   " var/forecasting/backtest_<fuel>.png)")
    b.set_defaults(func=handle_backtest)


def _common(p) -> None:
    p.add_argument("--input", type=Path, help="usage CSV: household_id,timestamp,energy_kwh"
                   " (ISO 8601 UTC interval starts, half-hourly)")
    p.add_argument("--weather", type=Path, help="weather CSV: timestamp,temp_c")
    p.add_argument("--fuel", action="append", help="only this fuel (InfluxDB mode; repeatable)")
    p.add_argument("--now", help="forecast origin, ISO 8601 UTC (InfluxDB mode; default: the"
                   " end of the latest usage, at most now)")


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="home", unit_scale=True, leave=False,
                mininterval=0.5, disable=total < 2000)


def _estimator(settings):
    from forecasting.estimator import HearthForecaster

    f = settings.forecasting
    return HearthForecaster(halflife_days=f.halflife_days, chunk_households=f.chunk_households,
                            n_jobs=f.n_jobs)


def _trust_counts(trust) -> dict[str, int]:
    import numpy as np

    labels, counts = np.unique(trust, return_counts=True)
    return {str(k): int(v) for k, v in zip(labels, counts, strict=True)}


def handle_forecast(args, settings) -> int:
    from hearth.errors import HearthError

    horizon = args.horizon if args.horizon is not None else settings.forecasting.horizon_steps
    if horizon < 1 or horizon > 48 * 31:
        raise HearthError(f"--horizon {horizon}: give 1 to {48 * 31} half-hours")
    if args.input is not None:
        if getattr(args, "shard", None) is not None:
            raise HearthError("--shard goes with InfluxDB mode (no --input): a CSV is"
                              " forecast whole")
        if args.output is None:
            raise HearthError("--input needs --output: the CSV to write the forecasts to")
        return _forecast_csv(args, settings, horizon)
    if args.output is not None or args.daily_output is not None:
        raise HearthError("--output and --daily-output go with --input (CSV mode); without"
                          " --input forecasts are written to InfluxDB")
    return _forecast_influx(args, settings, horizon)


def _forecast_csv(args, settings, horizon: int) -> int:
    from forecasting import csvio

    t0 = time.perf_counter()
    table = csvio.read_usage(args.input, settings.forecasting.history_days)
    weather = csvio.read_weather(args.weather) if args.weather else None
    n_h = table.households.size
    with _progress(2 * n_h, "forecast") as bar:
        model = _estimator(settings).fit(table.energy_kwh, start=table.start, weather=weather,
                                         households=table.households, progress=bar.update)
        fc = model.predict(horizon, settings.forecasting.horizon_days, weather=weather,
                           progress=bar.update)
    rows = csvio.write_forecast(args.output, fc.households, fc.times, fc.energy_kwh,
                                fc.energy_kwh_p10, fc.energy_kwh_p90, fc.energy_kwh_mean)
    print(f"forecast {n_h} households x {horizon} half-hours from {csvio.iso_utc(fc.times[:1])[0]}"
          f" -> {args.output} ({rows} rows) in {time.perf_counter() - t0:.1f} s")
    if args.daily_output:
        n = csvio.write_daily(args.daily_output, fc.households, fc.days, fc.daily_kwh,
                              fc.daily_kwh_p10, fc.daily_kwh_p90)
        print(f"daily forecasts -> {args.daily_output} ({n} rows)")
    print("trust: " + ", ".join(f"{k} {v}" for k, v in _trust_counts(fc.trust).items()))
    return 0


def _origin_ns(client, fuel: str, now_arg) -> int:
    """The forecast origin: the end of the latest half hour with usage, at most now."""
    import numpy as np

    from forecasting.store import STEP_NS
    from hearth.errors import HearthError
    from hearth.influx import USAGE_RP, quote_ident, quote_string, to_ns

    now = to_ns(now_arg) if now_arg else time.time_ns()
    now -= now % STEP_NS
    q = (f'SELECT last("energy_kwh") FROM {quote_ident(client.database)}.'
         f'{quote_ident(USAGE_RP)}."usage_30m" WHERE "fuel" = {quote_string(fuel)} AND time < {now}')
    series = client.query(q)
    if not series or not len(series[0]):
        raise HearthError(f"no {fuel} usage in InfluxDB before {np.datetime64(now, 'ns')}"
                          " (measurement usage_30m): run the collectors and the usage"
                          " derivation, or `hearth sim backfill`, first")
    last = int(series[0].values["time"][0])
    return min(now, last - last % STEP_NS + STEP_NS)


def _forecast_influx(args, settings, horizon: int) -> int:
    import numpy as np

    from forecasting import store
    from hearth.errors import HearthError
    from hearth.influx import USAGE_RP, InfluxClient

    f = settings.forecasting
    shard = getattr(args, "shard", None)
    patch_of = None
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        fuels = args.fuel or store.fuels(client)
        if not fuels:
            raise HearthError("no half-hourly usage in InfluxDB (measurement usage_30m): run"
                              " the collectors and the usage derivation, or `hearth sim"
                              " backfill`, first")
        for fuel in fuels:
            t0 = time.perf_counter()
            # The origin is the portfolio's (not the shard's): N workers forecast from the
            # same half hour, as one worker would.
            origin = _origin_ns(client, fuel, args.now)
            mine = None
            if shard is not None:
                from hearth.shards import households_in, registry_patches

                patch_of = patch_of if patch_of is not None else registry_patches(
                    settings.registry.target)
                mine = households_in(shard, store.usage_households(client, fuel), patch_of)
                log.info("%s: shard %s has %d households", fuel, shard, len(mine))
            history, days_read = store.read_history(client, fuel, origin, f.history_days,
                                                    settings.paths.var_dir, f.reread_days,
                                                    use_cache=not args.full, shard=shard,
                                                    households=mine)
            if history.households.size == 0:
                log.warning("%s: no household has usage in the last %d days; nothing to"
                            " forecast", fuel, f.history_days)
                continue
            weather = store.read_weather(client, history.start_ns,
                                         origin + (f.horizon_days + 2) * store.DAY_NS)
            coverage = store.weather_coverage(weather, history.start_ns, origin, f.horizon_days)
            _log_weather(fuel, coverage)
            n_h = history.households.size
            with _progress(2 * n_h, f"forecast {fuel}") as bar:
                model = _estimator(settings).fit(
                    history.energy_kwh, start=np.datetime64(history.start_ns, "ns"),
                    weather=weather, households=history.households, progress=bar.update)
                fc = model.predict(horizon, f.horizon_days, weather=weather, progress=bar.update)
            written = 0
            step = max(1, 200_000 // (horizon + f.horizon_days))
            with _progress(n_h, f"write {fuel}") as bar:
                for lo in range(0, n_h, step):
                    part = _rows(fc, slice(lo, lo + step))
                    hh, daily = store.forecast_lines(part, fuel)
                    written += client.write_lines(hh, retention_policy=USAGE_RP).written
                    written += client.write_lines(daily, retention_policy=USAGE_RP).written
                    bar.update(part.households.size)
            counts = _trust_counts(fc.trust)
            client.write_lines(store.run_line(fuel, origin, n_h, horizon, f.horizon_days,
                                              counts, weather=coverage, shard=shard),
                               retention_policy=USAGE_RP)
            print((f"shard {shard}: " if shard is not None else "") +
                  f"{fuel}: forecast {n_h} households from {np.datetime64(origin, 'ns')} UTC"
                  f" ({horizon} half-hours, {f.horizon_days} days); read {days_read:.1f} days"
                  f" of usage; wrote {written} points in {time.perf_counter() - t0:.1f} s;"
                  " trust: " + ", ".join(f"{k} {v}" for k, v in counts.items())
                  + f"; weather: {coverage.label} ({coverage.horizon_days_with_forecast} of"
                  f" {coverage.horizon_days} days ahead forecast)")
    return 0


def _log_weather(fuel: str, cov) -> None:
    """Say when the forecast falls back on climatology (no weather, or none ahead)."""
    if cov.label == "climatology":
        log.warning("%s: no outdoor temperature in InfluxDB (measurement weather) for the "
                    "history or the horizon: the forecast uses climatology (run `hearth "
                    "import weather`; the run record says weather=climatology)", fuel)
    elif not cov.horizon_days_with_forecast:
        log.warning("%s: no weather forecast ahead of the origin: the horizon uses "
                    "climatology (weather=%s in the run record); is `hearth import weather` "
                    "failing or not scheduled?", fuel, cov.label)
    elif not cov.history_days_with_weather:
        log.warning("%s: no observed weather in the history: fitted on climatology "
                    "(weather=%s in the run record)", fuel, cov.label)
    else:
        log.info("%s: weather on %d of %d history days, forecast on %d of %d horizon days "
                 "(climatology for the rest)", fuel, cov.history_days_with_weather,
                 cov.history_days, cov.horizon_days_with_forecast, cov.horizon_days)


def _rows(fc, rows: slice):
    import dataclasses

    values = {}
    for fld in dataclasses.fields(fc):
        v = getattr(fc, fld.name)
        values[fld.name] = v if fld.name in ("times", "days") else v[rows]
    return type(fc)(**values)


def handle_backtest(args, settings) -> int:
    import numpy as np

    from forecasting import backtest, csvio, store
    from hearth.errors import HearthError

    f = settings.forecasting
    days = f.history_days + 30
    if args.input is not None:
        table = csvio.read_usage(args.input, days)
        weather = csvio.read_weather(args.weather) if args.weather else None
        runs = [("csv", table.households, table.start, table.energy_kwh, weather)]
    else:
        from hearth.influx import InfluxClient

        runs = []
        with InfluxClient.from_settings(settings) as client:
            for fuel in args.fuel or store.fuels(client):
                origin = _origin_ns(client, fuel, args.now)
                hist, _ = store.read_history(client, fuel, origin, days, settings.paths.var_dir,
                                             use_cache=False)
                weather = store.read_weather(client, hist.start_ns, origin)
                runs.append((fuel, hist.households, np.datetime64(hist.start_ns, "ns"),
                             hist.energy_kwh, weather))
        if not runs:
            raise HearthError("no half-hourly usage in InfluxDB (measurement usage_30m) to"
                              " backtest on; or give --input usage.csv")
    for name, households, start, energy, weather in runs:
        if energy.shape[1] < 15 * 48:
            raise HearthError(f"{name}: {energy.shape[1] / 48:.1f} days of usage; a backtest"
                              " needs at least 15 days (44 for the 30-day total)")
        with _progress(args.origins, f"backtest {name}") as bar:
            result = backtest.run_backtest(energy, start, households, weather,
                                           n_origins=args.origins, history_days=f.history_days,
                                           estimator=_estimator(settings), progress=bar.update)
        print(f"\n{name}: {households.size} households, day-ahead origins "
              f"{csvio.iso_utc(result.origins[:1])[0]} .. {csvio.iso_utc(result.origins[-1:])[0]}"
              " (MASE scaled by the in-sample weekly seasonal naive; pinball in kWh per half"
              " hour; 30-day total: median absolute error)")
        print(result.table())
        plot = args.plot or Path(settings.paths.var_dir) / "forecasting" / f"backtest_{name}.png"
        if args.plot and len(runs) > 1:
            plot = args.plot.with_name(f"{args.plot.stem}_{name}{args.plot.suffix}")
        plot.parent.mkdir(parents=True, exist_ok=True)
        print(f"plot: {backtest.plot_examples(result, plot)}")
    return 0
