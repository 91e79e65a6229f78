"""The numeric core: known answers, thin data, many households at once."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting import baselines, core, metrics, synthetic
from forecasting import calendar as cal
from forecasting.estimator import HearthForecaster
from tests.forecasting.helpers import START, STEP, hdd_series, weekly_profile


def _fit(energy, weather=None, **kw):
    return HearthForecaster(**kw).fit(energy, start=START, weather=weather)


@pytest.mark.parametrize("n_households", [1, 40])
def test_exact_weekly_profile_is_forecast_exactly(n_households):
    energy = weekly_profile(n_households, weeks=6)
    m = _fit(energy)
    fc = m.predict(336, 14)
    # The next week is the same week again.
    np.testing.assert_allclose(fc.energy_kwh_mean, energy[:, :336], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fc.energy_kwh, energy[:, :336], rtol=1e-4, atol=1e-6)
    daily = energy[:, :336].reshape(n_households, 7, 48).sum(2)
    np.testing.assert_allclose(fc.daily_kwh, np.tile(daily, (1, 2)), rtol=1e-4)
    # No error in the backtest: the band shrinks to its minimum, +-10% of the level.
    scale = fc.energy_kwh_mean + m.state_.hh_floor_kwh[:, None]
    np.testing.assert_allclose(fc.energy_kwh_p90 - fc.energy_kwh, 0.1 * scale, rtol=1e-3,
                               atol=1e-6)
    assert (fc.trust == "good").all()


def test_exact_weekly_profile_with_weather_is_still_exact():
    energy = weekly_profile(3, weeks=6)
    days = START.astype("datetime64[D]") + np.arange(42)
    rng = np.random.default_rng(1)
    weather = (days.astype("datetime64[ns]"), rng.normal(7, 4, 42))
    m = _fit(energy, weather)
    np.testing.assert_allclose(m.state_.beta[:, 0], 0, atol=1e-9)
    np.testing.assert_allclose(m.predict(336, 7).energy_kwh_mean, energy[:, :336], rtol=1e-4)


def test_pure_hdd_relationship_is_recovered():
    energy, weather, _ = hdd_series(56, base_kwh=4.0, slope_kwh=1.5)
    m = _fit(energy, weather)
    assert m.state_.beta[0, 0] == pytest.approx(1.5, rel=0.02)
    assert m.state_.level_kwh[0].mean() == pytest.approx(4.0, rel=0.05)
    # With a weather forecast the daily forecast follows it.
    days = m.origin_.astype("datetime64[D]") + np.arange(10)
    future_temp = np.linspace(12, -2, 10)
    fc = m.predict(48, 10, weather=(days.astype("datetime64[ns]") + np.timedelta64(12, "h"),
                                    future_temp))
    expected = 4.0 + 1.5 * cal.heating_degree_days(future_temp)
    np.testing.assert_allclose(fc.daily_kwh[0], expected, rtol=0.03)


def test_households_are_independent_of_their_batch():
    pf = synthetic.portfolio(30, 42, seed=5, special_share=0)
    alone = _fit(pf.energy_kwh[7:8], pf.weather).predict(336, 30)
    batch = _fit(pf.energy_kwh, pf.weather).predict(336, 30)
    np.testing.assert_allclose(batch.energy_kwh_mean[7], alone.energy_kwh_mean[0], rtol=1e-5)
    np.testing.assert_allclose(batch.energy_kwh[7], alone.energy_kwh[0], rtol=1e-5)
    np.testing.assert_allclose(batch.daily_kwh[7], alone.daily_kwh[0], rtol=1e-5)


def _finite_and_ordered(fc):
    for name in ("energy_kwh", "energy_kwh_mean", "energy_kwh_p10", "energy_kwh_p90",
                 "daily_kwh", "daily_kwh_p10", "daily_kwh_p90"):
        values = getattr(fc, name)
        assert np.isfinite(values).all(), name
        assert (values >= 0).all(), name
    assert (fc.energy_kwh_p10 <= fc.energy_kwh + 1e-6).all()
    assert (fc.energy_kwh <= fc.energy_kwh_p90 + 1e-6).all()
    assert (fc.daily_kwh_p10 <= fc.daily_kwh + 1e-6).all()
    assert (fc.daily_kwh <= fc.daily_kwh_p90 + 1e-6).all()


def test_thin_data_gets_a_forecast_and_a_flag():
    pf = synthetic.portfolio(12, 56, seed=2, special_share=0)
    e = pf.energy_kwh.copy()
    n_t = e.shape[1]
    e[0, :] = 0.0                                      # empty home: all zeros
    e[1, n_t - 3 * 48:] = 0.0                          # prepayment off supply for 3 days
    e[2, : n_t - 4 * 48] = np.nan                      # new meter: 4 days of history
    e[3, :] = np.nan                                   # no data at all
    e[4, 5 * 48: 35 * 48] = np.nan                     # a 30-day gap
    e[5, n_t - 12 * 48:] *= 2.5                        # new tenancy 12 days ago
    e[6, ::3] = np.nan                                 # a third of the half-hours lost
    e[7, -48:] = np.nan                                # yesterday missing (late data)
    m = _fit(e, pf.weather)
    fc = m.predict(336, 30)
    _finite_and_ordered(fc)
    trust = list(fc.trust)
    assert trust[0] == "all_zeros" and trust[1] == "all_zeros"
    assert trust[2] == "limited_history"
    assert trust[3] == "no_data"
    assert trust[4] == "gaps" and trust[6] == "gaps"
    assert trust[5] == "step_change"
    assert trust[8:] == ["good"] * 4
    assert (fc.energy_kwh_mean[0] == 0).all()
    # After the step, the forecast follows the new level, not the eight-week average.
    new_level = np.nanmean(e[5, -7 * 48:]) * 48
    assert fc.daily_kwh[5, :7].mean() == pytest.approx(new_level, rel=0.15)
    # No data: the portfolio's typical home, inside the band of the others.
    others = fc.daily_kwh[8:].sum(1)
    assert others.min() <= fc.daily_kwh[3].sum() <= others.max()
    assert (m.flags_[5] & core.STEP_CHANGE) and m.state_.step_day[5] > 0


def test_single_day_and_tiny_inputs_do_not_crash():
    e = np.full((2, 30), 0.2, np.float32)              # 15 hours of data
    fc = HearthForecaster().fit(e, start=START + 7 * STEP).predict(50, 3)
    _finite_and_ordered(fc)
    assert fc.times[0] == START + 37 * STEP
    assert list(fc.trust) == ["no_data", "no_data"]
    np.testing.assert_allclose(fc.energy_kwh_mean, 0.2, rtol=1e-5)   # its own mean, flat
    np.testing.assert_allclose(fc.daily_kwh, 9.6, rtol=1e-5)


def test_accuracy_and_calibration_on_a_synthetic_portfolio():
    pf = synthetic.portfolio(400, 56 + 7, seed=11, history_days=56)
    hist, future = pf.energy_kwh[:, :56 * 48], pf.energy_kwh[:, 56 * 48:]
    fc = HearthForecaster().fit(hist, start=pf.start, weather=pf.weather).predict(336, 0)
    scale = metrics.naive_scale(hist)
    ours = np.nanmean(metrics.mase(future[:, :48], fc.energy_kwh[:, :48], scale))
    naive = baselines.fill_baseline(baselines.seasonal_naive(hist, 48), hist)
    theirs = np.nanmean(metrics.mase(future[:, :48], naive, scale))
    assert ours < 0.85 * theirs
    cover = np.nanmean(metrics.coverage(future, fc.energy_kwh_p10, fc.energy_kwh_p90))
    assert 0.72 <= cover <= 0.88
    _finite_and_ordered(fc)


def test_a_persistent_departure_carries_into_the_next_days():
    # Daily level follows an AR(1) around a weekly pattern: the last day's departure should
    # carry into tomorrow's forecast and fade over the week.
    rng = np.random.default_rng(3)
    n_days = 56
    factor = np.ones(n_days)
    for d in range(1, n_days):
        factor[d] = 1 + 0.8 * (factor[d - 1] - 1) + rng.normal(0, 0.1)
    factor[-1] = 1.6                                    # yesterday far above the pattern
    week = weekly_profile(1, 1, seed=4)[0].reshape(7, 48)
    energy = (np.tile(week, (8, 1)) * factor[:, None]).reshape(1, -1).astype(np.float32)
    m = _fit(energy)
    assert 0.5 < m.state_.persistence[0] <= 0.9
    fc = m.predict(48, 7)
    pattern = week.sum(1)[(np.arange(7) + n_days) % 7] * np.mean(factor[-21:])
    ratio = fc.daily_kwh[0] / pattern
    assert ratio[0] > 1.2 and ratio[0] > ratio[3] + 0.1
