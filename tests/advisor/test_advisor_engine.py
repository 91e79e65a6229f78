"""The whole assessment on a synthetic portfolio with planted conditions: every rule runs,
planted homes are found, ordinary homes mostly are not, and reasons read well."""

import numpy as np
import pytest

from advisor.engine import assess, recent_cost_gbp_30d, typical_cost_gbp_30d
from advisor.rules import KINDS
from advisor.synthetic import synthetic_inputs
from hearth.settings.rooms import AdvisorSettings


@pytest.fixture(scope="module")
def assessed():
    inp, truth = synthetic_inputs(3000, seed=7)
    return inp, truth, assess(inp, AdvisorSettings())


def recall_precision(flagged, planted):
    tp = (flagged & planted).sum()
    return tp / max(planted.sum(), 1), tp / max(flagged.sum(), 1)


def test_every_rule_runs(assessed):
    _, _, results = assessed
    assert set(results) == set(KINDS)


@pytest.mark.parametrize(("kind", "planted", "min_recall", "min_precision"), [
    ("cold_home", "cold", 0.99, 0.5),   # rationing homes are cold too
    ("damp_mould", "damp", 0.99, 0.95),
    ("credit_runout", "low_credit", 0.99, 0.95),
    ("device_fault", "fault", 0.99, 0.95),
    ("self_rationing", "rationing", 0.95, 0.9),
    ("bill_shock", "bill", 0.95, 0.5),
    ("self_disconnection", "disconnected", 0.99, 0.99),
])
def test_planted_conditions_are_found(assessed, kind, planted, min_recall, min_precision):
    _, truth, results = assessed
    recall, precision = recall_precision(results[kind].flagged, truth[planted])
    assert recall >= min_recall and precision >= min_precision, (recall, precision)


def test_reasons_carry_numbers(assessed):
    _, _, results = assessed
    for kind, r in results.items():
        _i, severity, score, reason, _numbers = next(r.iter_flagged())
        assert any(ch.isdigit() for ch in reason), (kind, reason)
        assert severity in ("low", "medium", "high", "emergency") and 0 <= score <= 100


def test_costs_are_sensible(assessed):
    inp, _, _ = assessed
    typical = typical_cost_gbp_30d(inp, AdvisorSettings())
    # January, gas-heated: Ofgem typical use costs roughly £120-£200 a month at these rates.
    assert 100 < np.median(typical) < 220
    recent = recent_cost_gbp_30d(inp)
    assert np.isfinite(recent).all() and (recent > 0).all()
