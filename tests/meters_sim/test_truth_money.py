"""Ground truth for bill shock and credit running out (meters_sim/truth_money.py): the cost
arithmetic on crafted days, the same bars as the advisor's rule, and the days until credit
actually ran out in a real simulation."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hearth.profiles import DAYS_IN_MONTH, ELECTRICITY_MONTHLY_SHARE, HEATING_MONTHLY_SHARE
from meters_sim import truth
from meters_sim.model import Simulation
from meters_sim.truth import TruthAccumulator
from meters_sim.truth_money import bill_shock, credit_days_left, credit_runout
from tests.meters_sim.conftest import WINTER

DAY0 = int(np.datetime64("2026-11-01", "D").astype(np.int64))  # 60 days to 31 December


class Pf:
    """The few Portfolio fields truth_money reads; three gas-heated credit homes."""

    n = 3
    has_gas = np.array([True, True, True])
    electric_heating = np.array([False, False, False])
    prepayment = np.array([False, False, True])

    def rates(self, fuel):
        return ((np.full(3, 0.25), np.full(3, 0.5)) if fuel == "electricity"
                else (np.full(3, 0.07), np.full(3, 0.3)))


def fake_acc(gas_past, gas_future, credit=None):
    days = 60
    gas = np.zeros((days, 3))
    gas[:30] = gas_past
    gas[30:] = gas_future
    d = {"day": DAY0 + np.arange(days), "electricity_kwh": np.full((days, 3), 8.0),
         "gas_kwh": gas, "steps": np.full(days, 1440),
         "credit_end_gbp": np.full((days, 3), np.nan) if credit is None else credit,
         "gas_credit_end_gbp": np.full((days, 3), np.nan),
         "supply_off_h": np.zeros((days, 3))}
    return SimpleNamespace(pf=Pf(), extra={"advice_at_ns": (DAY0 + 30) * 86_400 * 10**9},
                           end_ns=(DAY0 + 60) * 86_400 * 10**9, daily=lambda: d)


def test_bill_shock_truth_uses_the_advisors_bars_on_the_true_cost():
    # Day cost: 8 kWh x £0.25 + £0.50 + gas x £0.07 + £0.30. History 30 days (Nov), future
    # 30 days from 1 December.
    acc = fake_acc(gas_past=np.array([40.0, 40.0, 40.0]),
                   gas_future=np.array([40.0, 95.0, 46.0]))
    label = bill_shock(acc)
    costs = acc.extra["_money_costs"]
    # The usual cost is November's daily energy adjusted to December by the typical monthly
    # profile (hearth/profiles.py): gas on the heating profile, this gas-heated home's
    # electricity on the flatter one.
    f_gas = (HEATING_MONTHLY_SHARE[11] / 31) / (HEATING_MONTHLY_SHARE[10] / 30)
    f_elec = (ELECTRICITY_MONTHLY_SHARE[11] / 31) / (ELECTRICITY_MONTHLY_SHARE[10] / 30)
    usual = 30 * (8 * f_elec * 0.25 + 0.5 + 40 * f_gas * 0.07 + 0.3)
    assert costs["usual"][0] == pytest.approx(usual)
    assert costs["next"][1] == pytest.approx(30 * (8 * 0.25 + 0.5 + 95 * 0.07 + 0.3))
    # Typical use in December at the homes' rates, Ofgem's values in force (from 1 July 2026).
    share_g = HEATING_MONTHLY_SHARE[11] / DAYS_IN_MONTH[11]
    typical_gas = 30 * (9500 * share_g * 0.07 + 0.3)
    assert costs["typical"][0] > typical_gas  # plus the electricity
    # Home 0: less than usual for December -> no; home 1: over 1.5 times (+£15) -> yes.
    assert costs["next"][1] / costs["usual"][1] > 1.5
    assert label.tolist()[:2] == [False, True]
    # Home 2 uses in December what its November says for the season (46 kWh of gas a day
    # against 40 in November): the usual winter rise, not a shock.
    assert 40 * f_gas == pytest.approx(46.0, abs=0.5)
    assert not label[2]


def test_credit_days_left_counts_from_the_advice_time():
    credit = np.full((60, 3), np.nan)
    credit[:, 2] = np.r_[np.full(33, 5.0), np.full(27, -1.0)]  # runs out on day 34 = 4th day
    acc = fake_acc(np.full(3, 40.0), np.full(3, 40.0), credit)
    left = credit_days_left(acc)
    assert np.isnan(left[:2]).all() and left[2] == 4
    assert credit_runout(acc).tolist() == [False, False, True]


def test_money_labels_are_registered_and_reach_every_home(portfolio_60):
    assert {"bill_shock", "credit_runout"} <= set(truth.load_label_modules())
    sim = Simulation(portfolio_60, np.datetime64(WINTER), seed=7, spinup_days=0.5)
    acc = TruthAccumulator(portfolio_60, step_s=sim.step_s)
    acc.extra["advice_at_ns"] = int(np.datetime64(WINTER, "ns").astype(np.int64))
    for tr in sim.run(2 * 1440):
        acc.update(tr)
    homes = acc.labels()["households"]
    assert all({"bill_shock", "credit_runout", "credit_days_left"} <= set(h) for h in homes)
    # Two days are not 30: no bill-shock verdict is claimed.
    assert not any(h["bill_shock"] for h in homes)
    # Credit that ran out in the simulation is found, and only on prepayment meters.
    d = acc.daily()
    ran_out = (np.nan_to_num(np.fmin(d["credit_end_gbp"], d["gas_credit_end_gbp"]),
                             nan=np.inf) <= 0).any(axis=0) | (d["supply_off_h"] > 0).any(axis=0)
    known = np.array([h["credit_days_left"] is not None for h in homes])  # null: never ran out
    assert (known == (ran_out & portfolio_60.prepayment)).all()
