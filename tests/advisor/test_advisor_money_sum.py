"""The p90 of a 30-day sum (advisor/rules/forecast_sum.py), the credit run-out pattern and the
seasonal usual cost (advisor/engine.py), against hand-worked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.engine import usual_cost_gbp_30d
from advisor.rules import bill_shock, credit_runout
from advisor.rules.bill_shock import USUAL_LAST_YEAR, USUAL_SEASONAL
from advisor.rules.forecast_sum import (
    cumulative_upper_spread,
    daily_persistence,
    sum_upper_spread,
)
from advisor.synthetic import synthetic_inputs
from hearth.profiles import ELECTRICITY_MONTHLY_SHARE, HEATING_MONTHLY_SHARE


def test_sum_spread_between_independent_and_perfectly_correlated_days():
    u = np.full((3, 30), 2.0)       # each day's p90 is £2 over its p50
    spread = sum_upper_spread(u, np.array([0.0, 1.0, 0.5]))
    assert spread[0] == pytest.approx(2.0 * np.sqrt(30))      # independent: root sum of squares
    assert spread[1] == pytest.approx(60.0)                    # perfectly correlated: the sum
    # AR(1) with phi 0.5: sum over i, j of 0.5^|i-j| = 30 + 2 * sum_k (30 - k) 0.5^k.
    k = np.arange(1, 30)
    assert spread[2] == pytest.approx(2.0 * np.sqrt(30 + 2 * ((30 - k) * 0.5 ** k).sum()))
    assert spread[0] < spread[2] < spread[1]


def test_cumulative_spread_ends_at_the_sum_spread_and_grows():
    rng = np.random.default_rng(1)
    u = rng.uniform(0, 3, (4, 10))
    phi = np.array([0.0, 0.3, 0.7, 0.9])
    cum = cumulative_upper_spread(u, phi)
    assert cum[:, -1] == pytest.approx(sum_upper_spread(u, phi))
    assert cum[:, 0] == pytest.approx(u[:, 0])
    assert (np.diff(cum, axis=1) >= -1e-12).all()


def test_persistence_from_history():
    rng = np.random.default_rng(2)
    n, d = 400, 60
    e = rng.normal(0, 1, (n, d))
    ar = np.zeros((n, d))
    for t in range(d):   # AR(1) with phi 0.6 around a rising trend (the season)
        ar[:, t] = (0.6 * ar[:, t - 1] if t else 0) + e[:, t]
    trend = 10 + 0.2 * np.arange(d)
    phi_ar = daily_persistence(trend + ar)
    phi_white = daily_persistence(trend + e)
    assert 0.4 < np.median(phi_ar) < 0.65          # shrunk a little toward 0
    assert np.median(phi_white) < 0.1              # the trend is not taken for persistence
    gappy = trend + ar
    gappy[:, ::2] = np.nan                          # no two days in a row: no estimate
    assert (daily_persistence(gappy) == 0).all()


def _credit(credits, ran_out):
    n = len(credits)
    burn = {"electricity": np.full((n, 10), 4.0)}     # £4 a day
    return credit_runout({"electricity": np.array(credits, float)},
                         {"electricity": np.zeros((n, 10))}, {"electricity": np.zeros((n, 10))},
                         {"electricity": np.zeros((n, 10))}, np.ones(n, bool),
                         burn_gbp_per_day=burn,
                         ran_out_days={"electricity": np.array(ran_out, float)})


def test_credit_runout_needs_the_households_own_pattern():
    # £6 lasts 1.5 days for all three; only the home that let it run out (2 days of the last
    # 28) counts; one already at zero counts without a pattern.
    r = _credit([6.0, 6.0, 0.0], [0, 2, 0])
    assert r.flagged.tolist() == [False, True, True]
    text = r.reason_of(1)
    assert "£6.00 will run out in about 1.5 days" in text
    assert "ran out (balance at or below zero) on 2 days of the last 28" in text
    assert "used up" in r.reason_of(2) and "ran out (" not in r.reason_of(2)


def test_usual_cost_adjusts_recent_use_to_the_season_and_prefers_last_year():
    inp, _ = synthetic_inputs(4, seed=5)
    # A gas-heated home using 40 kWh of gas and 8 of electricity a day in the history.
    for fuel, kwh in (("gas", 40.0), ("electricity", 8.0)):
        inp.history_kwh[fuel] = np.full_like(inp.history_kwh[fuel], kwh)
    usual, basis = usual_cost_gbp_30d(inp)
    assert (basis == USUAL_SEASONAL).all()
    first = np.datetime64(inp.now.replace(tzinfo=None), "D")
    d = inp.history_kwh["gas"].shape[1]
    months_past = (first - d + np.arange(d)).astype("datetime64[M]").astype(int) % 12 + 1
    months_next = (first + np.arange(30)).astype("datetime64[M]").astype(int) % 12 + 1
    days_in = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])

    def factor(share):
        per_day = share / days_in
        return per_day[months_next - 1].mean() / per_day[months_past - 1].mean()

    rate = inp.forecast_rate_gbp_per_kwh
    stand = inp.forecast_standing_gbp_per_day
    want = ((40 * factor(HEATING_MONTHLY_SHARE) * rate["gas"][:, :30] + stand["gas"][:, :30])
            .sum(1) + (8 * factor(ELECTRICITY_MONTHLY_SHARE) * rate["electricity"][:, :30]
                       + stand["electricity"][:, :30]).sum(1))
    assert usual == pytest.approx(want)
    # With the same 30 days last year held for every fuel, those are the usual.
    inp.last_year_kwh = {"gas": np.full((4, 30), 60.0), "electricity": np.full((4, 30), 9.0)}
    inp.last_year_kwh["gas"][0, :10] = np.nan          # 20 days seen: too few, seasonal
    usual, basis = usual_cost_gbp_30d(inp)
    assert basis.tolist() == [USUAL_SEASONAL] + [USUAL_LAST_YEAR] * 3
    assert usual[1] == pytest.approx((60 * rate["gas"][1, :30] + stand["gas"][1, :30]).sum()
                                     + (9 * rate["electricity"][1, :30]
                                        + stand["electricity"][1, :30]).sum())


def test_bill_reason_names_the_basis_of_the_usual_cost():
    r = bill_shock(np.array([300.0, 300.0]), np.array([340.0, 340.0]),
                   np.array([150.0, 150.0]), np.array([400.0, 400.0]), np.zeros(2, bool),
                   usual_basis=np.array([USUAL_SEASONAL, USUAL_LAST_YEAR]))
    assert r.flagged.all()
    assert "2.0 times the household's own usual £150 for 30 days, from its recent use adjusted"\
           " for the time of year" in r.reason_of(0)
    assert "from the same 30 days last year" in r.reason_of(1)
