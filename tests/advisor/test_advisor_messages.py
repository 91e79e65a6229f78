"""Every message true: a tip or a reason claims only the bar that fired, with the numbers the
rule compared; cold-home tips offer help before anything else; savings are computed at the
household's own tariff; typical use takes the Ofgem value in force on each day."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from advisor.engine import heating_saving_gbp, typical_cost_gbp_30d
from advisor.frame import AdviceInputs
from advisor.notify.tips import DEFAULT_TEMPLATES, personalisation, render
from advisor.rules import bill_shock
from advisor.rules.base import LOW, MEDIUM, NONE
from advisor.rules.profiles import DAYS_IN_MONTH, HEATING_MONTHLY_SHARE
from hearth.settings.rooms import AdvisorSettings, NotifierSettings


def tip(kind: str, evidence: dict) -> str:
    s = NotifierSettings()
    return render(DEFAULT_TEMPLATES[kind], personalisation(kind, evidence, s))


def test_bill_shock_texts_claim_only_the_bar_that_fired():
    #                 typical only, own only, none, both, p90 over own only
    p50 = np.array([110.0, 200.0, 95.0, 320.0, 120.0])
    p90 = np.array([130.0, 240.0, 110.0, 380.0, 210.0])
    recent = np.array([100.0, 100.0, 100.0, 100.0, 100.0])
    typical = np.array([60.0, 200.0, 100.0, 150.0, 200.0])
    r = bill_shock(p50, p90, recent, typical, np.zeros(5, bool))
    assert r.severity.tolist()[:3] == [MEDIUM, MEDIUM, NONE] and r.severity[4] == LOW
    typical_only, own_only, both, p90_only = (tip("bill_shock", r.numbers_of(i))
                                              for i in (0, 1, 3, 4))
    # 1.1 times its own bill: never "more than usual"; the typical bar fired, with its £60.
    assert "usual" not in typical_only and "more than a typical home's £60" in typical_only
    assert "more than the £100 your home usually uses in 30 days" in own_only
    assert "typical" not in own_only
    assert "£100 your home usually uses" in both and "typical home's £150" in both
    assert "up to £210" in p90_only and "about £120, and could be" in p90_only
    # The officer's reasons name the same bars and numbers.
    assert "typical home would pay" in r.reason_of(0) and "own usual" not in r.reason_of(0)
    assert "1.1 times the £60" not in r.reason_of(0)  # 110/60 = 1.8
    assert "1.8 times the £60" in r.reason_of(0)
    assert "2.0 times the household's own usual £100" in r.reason_of(1)
    assert "typical" not in r.reason_of(1)


def test_more_than_usual_only_ever_when_over_the_own_bar():
    rng = np.random.default_rng(13)
    n = 4000
    recent = rng.uniform(40, 200, n)
    p50 = recent * rng.uniform(0.6, 2.5, n)
    p90 = p50 * rng.uniform(1.0, 1.6, n)
    typical = rng.uniform(40, 200, n)
    benefits = rng.random(n) < 0.4
    r = bill_shock(p50, p90, recent, typical, benefits)
    own_bar = np.where(benefits, 1.25, 1.5)
    typ_bar = np.where(benefits, 1.2, 1.5)
    for i in r.flagged_indices():
        body = tip("bill_shock", r.numbers_of(i))
        if "usually uses" in body and "could be up to" not in body:
            assert p50[i] >= own_bar[i] * recent[i] and p50[i] - recent[i] >= 15
        if "typical home" in body:
            assert p50[i] >= typ_bar[i] * typical[i]


def test_cold_home_tip_offers_help_before_any_advice_and_never_says_use_less():
    body = tip("cold_home", {"bar_c": 18.0, "cold_h": 41.0, "window_h": 72.0})
    help_at = min(body.index("Warm Home Discount"), body.index("Priority Services Register"),
                  body.index("0800 000 0000"))
    assert help_at < body.index("18 C or more")
    for blame in ("turn", "down", "less", "save"):
        assert blame not in body.lower()


def test_bill_tip_names_the_saving_in_pounds_only_when_known():
    e = {"p50_gbp": 200.0, "recent_gbp": 100.0, "own_fired": True, "heating_saving_gbp": 8.63}
    assert "would save about £9 over 30 days at your tariff" in tip("bill_shock", e)
    e["heating_saving_gbp"] = None
    assert "save" not in tip("bill_shock", e)


def _inputs(now: datetime, n_days: int = 30, gas_kwh: float = 50.0) -> AdviceInputs:
    inp = AdviceInputs(households=np.array(["H1"]), now=now, step_h=0.5,
                       step_times=np.array([np.datetime64(now.replace(tzinfo=None), "ns")]))
    inp.has_gas = np.array([True])
    inp.gas_heating = np.array([True])
    inp.forecast_kwh_p50 = {"gas": np.full((1, n_days), gas_kwh)}
    inp.forecast_rate_gbp_per_kwh = {"gas": np.full((1, n_days), 0.0733)}
    inp.forecast_standing_gbp_per_day = {"gas": np.full((1, n_days), 0.2904)}
    return inp


def test_typical_use_takes_the_value_in_force_on_each_day_across_1_july_2026():
    # 16 June - 15 July 2026: 15 days at 11,500 kWh a year, 15 at 9,500 (Ofgem from 1 July).
    inp = _inputs(datetime(2026, 6, 16, 8, tzinfo=UTC))
    june = HEATING_MONTHLY_SHARE[5] / DAYS_IN_MONTH[5]
    july = HEATING_MONTHLY_SHARE[6] / DAYS_IN_MONTH[6]
    kwh = 15 * june * 11500 + 15 * july * 9500
    expected = kwh * 0.0733 + 30 * 0.2904  # standing charges always included
    assert typical_cost_gbp_30d(inp, AdvisorSettings())[0] == pytest.approx(expected)
    # A month earlier every day is on the old value.
    inp = _inputs(datetime(2026, 5, 1, 8, tzinfo=UTC))
    may = HEATING_MONTHLY_SHARE[4] / DAYS_IN_MONTH[4]
    assert typical_cost_gbp_30d(inp, AdvisorSettings())[0] == pytest.approx(
        30 * may * 11500 * 0.0733 + 30 * 0.2904)


def test_heating_saving_is_computed_at_the_households_own_rate():
    inp = _inputs(datetime(2026, 12, 3, 8, tzinfo=UTC), gas_kwh=50.0)
    # Non-heating gas: a July day's typical use (9,500 kWh x 3.5 % / 31 days); 10 % of the
    # rest, at the household's 7.33 p/kWh, over 30 days.
    base = 9500 * HEATING_MONTHLY_SHARE[6] / DAYS_IN_MONTH[6]
    expected = 0.10 * (50.0 - base) * 0.0733 * 30
    assert heating_saving_gbp(inp, AdvisorSettings())[0] == pytest.approx(expected)


@pytest.mark.parametrize("kind", sorted(DEFAULT_TEMPLATES))
def test_every_template_offers_help_and_a_way_to_stop(kind):
    text = DEFAULT_TEMPLATES[kind]
    assert "((help_phone))" in text and text.endswith("Reply STOP to stop these texts.")
