"""The label registry of meters_sim/truth.py: other modules add labels, numbers and updaters."""

from __future__ import annotations

import numpy as np
import pytest

from meters_sim import truth
from meters_sim.model import Simulation
from meters_sim.params import KWH_PER_M3
from meters_sim.truth import TruthAccumulator
from tests.meters_sim.conftest import WINTER

BUILT_IN = {"cold_home", "damp_mould", "credit_out", "self_disconnection", "self_rationing"}


@pytest.fixture
def scratch_registry():
    """Restore the registries after a test that registers its own entries."""
    saved = dict(truth.LABELS), dict(truth.DETAILS), list(truth.UPDATERS)
    yield
    truth.LABELS.clear()
    truth.LABELS.update(saved[0])
    truth.DETAILS.clear()
    truth.DETAILS.update(saved[1])
    truth.UPDATERS[:] = saved[2]


def test_built_in_labels_are_registered():
    assert set(truth.load_label_modules()) >= BUILT_IN


def test_a_registered_label_detail_and_updater_reach_every_home(portfolio_60, scratch_registry):
    @truth.truth_updater
    def count_steps(acc, tr):
        acc.extra["steps"] = acc.extra.get("steps", 0) + tr.steps

    @truth.truth_label("uses_over_5_kwh_a_day")
    def heavy(acc):
        d = acc.daily()
        return d["electricity_kwh"].mean(axis=0) > 5.0

    @truth.truth_detail("electricity_kwh_per_day")
    def per_day(acc):
        return acc.daily()["electricity_kwh"].mean(axis=0)

    sim = Simulation(portfolio_60, np.datetime64(WINTER), seed=7, spinup_days=0.5)
    acc = TruthAccumulator(portfolio_60, step_s=sim.step_s)
    for tr in sim.run(2 * 1440):
        acc.update(tr)
    homes = acc.labels()["households"]
    assert acc.extra["steps"] == 2 * 1440
    per_home = np.array([h["electricity_kwh_per_day"] for h in homes])
    assert [h["uses_over_5_kwh_a_day"] for h in homes] == list(per_home > 5.0)
    assert 0 < np.mean(per_home > 5.0) < 1        # the label splits the homes
    assert all(set(h) >= BUILT_IN for h in homes)


def test_daily_series_add_up_to_the_true_registers(portfolio_60):
    sim = Simulation(portfolio_60, np.datetime64(WINTER), seed=7, spinup_days=0.5)
    kwh0, m30 = sim.energy_kwh.copy(), sim.volume_m3.copy()
    acc = TruthAccumulator(portfolio_60, step_s=sim.step_s)
    for tr in sim.run(3 * 1440, chunk_steps=500):     # chunks that straddle midnights
        acc.update(tr)
    d = acc.daily()
    assert list(d["steps"]) == [1440, 1440, 1440]
    assert np.diff(d["day"]).tolist() == [1, 1]
    np.testing.assert_allclose(d["electricity_kwh"].sum(0), sim.energy_kwh - kwh0, rtol=1e-4)
    np.testing.assert_allclose(d["gas_kwh"].sum(0), (sim.volume_m3 - m30) * KWH_PER_M3,
                               rtol=1e-3, atol=0.01)
    prepay = portfolio_60.prepayment
    assert np.isnan(d["credit_end_gbp"][:, ~prepay]).all()
    np.testing.assert_allclose(d["credit_end_gbp"][-1, prepay], sim.credit_gbp[prepay])
