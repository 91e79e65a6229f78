"""A household's forecast, bands included, does not depend on which other households are fitted
with it: one fit of all, fits of parts (as `hearth forecast --shard i/N` makes) and a small
`chunk_households` give the same p10/p50/p90, half-hourly and daily. Before issue 17 the
bands pooled error ratios over the households fitted together and differed by a median 5.7%
between a sharded and an unsharded run (docs/sharding.md).

Data: forecasting.synthetic's portfolio (with its hard cases: gaps, step changes, zeros, short
histories), so households with and without a usable backtest are both covered."""

from __future__ import annotations

import numpy as np

from forecasting import synthetic
from forecasting.estimator import HearthForecaster

FIELDS = ("energy_kwh", "energy_kwh_p10", "energy_kwh_p90", "daily_kwh", "daily_kwh_p10",
          "daily_kwh_p90")


def _forecast(energy, pf, **kw):
    return HearthForecaster(**kw).fit(energy, start=pf.start, weather=pf.weather).predict(96, 10)


def test_bands_equal_whether_fitted_together_in_parts_or_in_small_chunks():
    pf = synthetic.portfolio(90, 35, seed=3, special_share=0.3)
    whole = _forecast(pf.energy_kwh, pf)
    part = np.arange(90) % 3
    parts = {k: _forecast(pf.energy_kwh[part == k], pf) for k in range(3)}
    chunked = _forecast(pf.energy_kwh, pf, chunk_households=7)
    for name in FIELDS:
        ref = getattr(whole, name)
        assert np.isfinite(ref).all(), name
        split = np.empty_like(ref)
        for k, fc in parts.items():
            split[part == k] = getattr(fc, name)
        np.testing.assert_allclose(split, ref, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(getattr(chunked, name), ref, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    # The bands are real bands: p10 <= p50 <= p90, and not all the same width.
    assert (whole.energy_kwh_p10 <= whole.energy_kwh + 1e-6).all()
    assert (whole.energy_kwh <= whole.energy_kwh_p90 + 1e-6).all()
    width = (whole.energy_kwh_p90 - whole.energy_kwh_p10).mean(axis=1)
    assert width.std() > 0.1 * width.mean()
