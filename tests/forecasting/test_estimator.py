"""The estimator follows scikit-learn's rules and chunking/threads change nothing."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from forecasting import synthetic
from forecasting.estimator import HearthForecaster
from tests.forecasting.helpers import START, STEP


def test_predict_before_fit_says_what_to_do():
    with pytest.raises(NotFittedError, match="call fit"):
        HearthForecaster().predict(48)


def test_fit_returns_self_and_learned_state_ends_in_underscore():
    pf = synthetic.portfolio(5, 21, seed=1)
    est = HearthForecaster(halflife_days=10)
    assert not [k for k in vars(est) if k.endswith("_")]
    assert est.fit(pf.energy_kwh, start=pf.start, households=pf.households) is est
    learned = {k for k in vars(est) if k.endswith("_")}
    assert {"state_", "households_", "origin_", "trust_", "flags_"} <= learned
    assert est.get_params()["halflife_days"] == 10
    copy = clone(est).set_params(halflife_days=30)
    assert copy.halflife_days == 30 and not hasattr(copy, "state_")
    assert list(est.households_) == list(pf.households)


def test_times_start_at_the_origin_and_days_today():
    pf = synthetic.portfolio(3, 20, seed=2, special_share=0)
    x = pf.energy_kwh[:, :-13]                     # ends at 17:30 UTC
    m = HearthForecaster().fit(x, start=pf.start)
    fc = m.predict(10, 5)
    origin = pf.start + x.shape[1] * STEP
    assert fc.times[0] == origin and fc.times[-1] == origin + 9 * STEP
    assert fc.days[0] == origin.astype("datetime64[D]")
    assert fc.energy_kwh.shape == (3, 10) and fc.daily_kwh.shape == (3, 5)
    # Today's total = the 35 half-hours used so far + the forecast of the other 13.
    used = np.nansum(pf.energy_kwh[:, -48:-13], axis=1)
    rest = m.predict(13, 1).energy_kwh_mean.sum(1)
    np.testing.assert_allclose(fc.daily_kwh[:, 0], used + rest, rtol=1e-4)
    assert (fc.daily_kwh_p90[:, 0] - fc.daily_kwh_p10[:, 0]
            < fc.daily_kwh_p90[:, 1] - fc.daily_kwh_p10[:, 1]).all()


def test_chunks_and_threads_give_the_same_point_forecasts():
    pf = synthetic.portfolio(23, 35, seed=3)
    one = HearthForecaster().fit(pf.energy_kwh, start=pf.start, weather=pf.weather).predict()
    many = HearthForecaster(chunk_households=5, n_jobs=2).fit(
        pf.energy_kwh, start=pf.start, weather=pf.weather).predict()
    np.testing.assert_allclose(many.energy_kwh_mean, one.energy_kwh_mean, rtol=1e-6)
    np.testing.assert_allclose(many.energy_kwh, one.energy_kwh, rtol=1e-5)
    np.testing.assert_allclose(many.daily_kwh, one.daily_kwh, rtol=1e-6)
    assert list(many.trust) == list(one.trust)


@pytest.mark.parametrize("kwargs, message", [
    ({"start": START + np.timedelta64(10, "m")}, "not on a half hour"),
    ({"start": START, "households": ["a"]}, "household ids"),
])
def test_bad_input_is_refused_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HearthForecaster().fit(np.ones((2, 100)), **kwargs)
    with pytest.raises(ValueError, match="households, steps"):
        HearthForecaster().fit(np.ones(100), start=START)
