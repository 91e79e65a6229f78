"""`hearth forecast` against a real InfluxDB: one forecast per household, incremental reads,
and the API the advisor and the dashboard use."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting import store, synthetic
from forecasting.service import latest_forecasts
from hearth.cli import build_parser
from hearth.influx import USAGE_RP, InfluxClient, usage_lines

DAYS = 24
START = np.datetime64("2026-10-05T00:00", "ns")
STEP = np.timedelta64(30, "m")


def _write_usage(client, energy, households, start, fuel):
    n_h, n_t = energy.shape
    times = (start + np.arange(n_t) * STEP).astype(np.int64)
    ok = np.isfinite(energy).ravel()
    lines = usage_lines(np.repeat(households, n_t)[ok], fuel, energy.ravel().astype(float)[ok],
                        np.tile(times, n_h)[ok])
    assert client.write_lines(lines, retention_policy=USAGE_RP).dead_lettered == 0


def _run(settings, *argv):
    args = build_parser().parse_args(["forecast", *argv])
    return args.func(args, settings)


def _count(client, measurement, fuel):
    q = (f'SELECT count("energy_kwh") FROM "{client.database}"."usage"."{measurement}" '
         f"WHERE \"fuel\" = '{fuel}' GROUP BY \"household\"")
    return {s.tags["household"]: int(s.values["count"][0]) for s in client.query(q)}


@pytest.fixture
def portfolio():
    pf = synthetic.portfolio(6, DAYS + 1, start="2026-10-05", seed=8, special_share=0)
    pf.energy_kwh[5] = 0.0                      # an empty home
    return pf


def test_forecast_writes_one_forecast_per_household(settings, portfolio, capsys):
    pf = portfolio
    n_t = DAYS * 48
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        _write_usage(client, pf.energy_kwh[:, :n_t], pf.households, START, "electricity")
        _write_usage(client, pf.energy_kwh[:3, :n_t] * 4, pf.households[:3], START, "gas")
        now = str(START + n_t * STEP)
        assert _run(settings, "--now", now) == 0
        out = capsys.readouterr().out
        assert "electricity: forecast 6 households" in out and "gas: forecast 3 households" in out
        hh = _count(client, "forecast", "electricity")
        assert hh == {h: 336 for h in pf.households}
        assert _count(client, "forecast_daily", "electricity") == {h: 30 for h in pf.households}
        assert _count(client, "forecast", "gas") == {h: 336 for h in pf.households[:3]}

        latest = latest_forecasts(client)
        el = latest["electricity"]
        assert list(el.households) == sorted(pf.households)
        assert el.daily_kwh.shape == (6, 30) and el.energy_kwh.shape == (6, 336)
        for a in (el.daily_kwh, el.daily_kwh_p10, el.daily_kwh_p90, el.energy_kwh,
                  el.energy_kwh_p10, el.energy_kwh_p90):
            assert np.isfinite(a).all()
        assert el.origin == START + n_t * STEP
        assert el.times[0] == el.origin and el.days[0] == el.origin.astype("datetime64[D]")
        assert el.trust[list(el.households).index("H000006")] == "all_zeros"
        assert (el.energy_kwh[list(el.households).index("H000006")] == 0).all()
        only = latest_forecasts(client, households=["H000002"], fuels=["gas"])
        assert list(only) == ["gas"] and only["gas"].daily_kwh.shape == (1, 30)
        # The forecast is plausible: the next day near the last week's mean day.
        last_week = np.nanmean(pf.energy_kwh[:5, n_t - 336:n_t], axis=1) * 48
        assert np.allclose(el.daily_kwh[:5, 0], last_week, rtol=0.5)

        # Next day: one more day of readings; the run reads only recent days (cache).
        assert store.cache_path(settings.paths.var_dir, "electricity").exists()
        _write_usage(client, pf.energy_kwh[:, n_t:], pf.households, START + n_t * STEP,
                     "electricity")
        assert _run(settings, "--now", str(START + (n_t + 48) * STEP), "--fuel",
                    "electricity") == 0
        out = capsys.readouterr().out
        assert "read 3.0 days of usage" in out
        latest = latest_forecasts(client, fuels=["electricity"])["electricity"]
        assert latest.origin == START + (n_t + 48) * STEP
        # The incremental history equals a full re-read.
        cached = store.load_cache(store.cache_path(settings.paths.var_dir, "electricity"))
        full, _ = store.read_history(client, "electricity", int(latest.origin.astype(np.int64)),
                                     settings.forecasting.history_days,
                                     settings.paths.var_dir, use_cache=False)
        np.testing.assert_array_equal(cached.households, full.households)
        np.testing.assert_array_equal(np.isnan(cached.energy_kwh), np.isnan(full.energy_kwh))
        np.testing.assert_allclose(cached.energy_kwh, full.energy_kwh, equal_nan=True)


def test_backtest_on_stored_usage_prints_the_table_and_a_plot(settings, portfolio, capsys,
                                                              tmp_path):
    pf = portfolio
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        _write_usage(client, pf.energy_kwh, pf.households, START, "electricity")
    plot = tmp_path / "bt.png"
    assert _run(settings, "backtest", "--origins", "3", "--plot", str(plot),
                "--now", str(START + (DAYS + 1) * 48 * STEP)) == 0
    out = capsys.readouterr().out
    for model in ("hearth", "seasonal_naive_week", "mean_last_4_weekdays"):
        assert model in out
    assert f"plot: {plot}" in out and plot.read_bytes()[:4] == b"\x89PNG"


def test_no_usage_is_a_clear_error(settings):
    from hearth.errors import HearthError

    with pytest.raises(HearthError, match="no half-hourly usage in InfluxDB"):
        _run(settings)
