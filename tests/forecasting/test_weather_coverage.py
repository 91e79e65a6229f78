"""How much real weather a forecast run had (forecasting.store.weather_coverage), pure."""

import numpy as np

from forecasting.store import DAY_NS, weather_coverage

ORIGIN = np.datetime64("2026-12-01T00:00", "ns").astype(np.int64)
START = ORIGIN - 10 * DAY_NS


def hours(first_ns, n, temp=5.0):
    times = (first_ns + np.arange(n) * 3600 * 10**9).astype("datetime64[ns]")
    return times, np.full(n, temp)


def test_no_weather_is_climatology():
    cov = weather_coverage(None, START, ORIGIN, 30)
    assert (cov.history_days, cov.history_days_with_weather, cov.horizon_days_with_forecast) \
        == (10, 0, 0)
    assert cov.label == "climatology"


def test_counts_days_before_and_after_the_origin():
    past_t, past_v = hours(START + 2 * DAY_NS, 3 * 24)          # 3 days of the history
    next_t, next_v = hours(ORIGIN + 6 * 3600 * 10**9, 24)       # 12-01 06:00 .. 12-02 05:00
    weather = (np.concatenate([past_t, next_t]), np.concatenate([past_v, next_v]))
    cov = weather_coverage(weather, START, ORIGIN, 30)
    assert (cov.history_days_with_weather, cov.horizon_days_with_forecast) == (3, 2)
    assert cov.label == "observed+forecast"
    assert weather_coverage((past_t, past_v), START, ORIGIN, 30).label == \
        "observed+climatology"
    assert weather_coverage((next_t, next_v), START, ORIGIN, 30).label == \
        "climatology+forecast"


def test_nan_hours_and_days_beyond_the_horizon_do_not_count():
    t, v = hours(ORIGIN, 40 * 24)
    v[: 24] = np.nan                                            # 12-01 all unknown
    cov = weather_coverage((t, v), START, ORIGIN, 30)
    assert cov.horizon_days_with_forecast == 29                 # 12-02 .. 12-30
