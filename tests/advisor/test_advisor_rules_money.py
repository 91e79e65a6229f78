"""Prepayment credit, self-disconnection, self-rationing, bill shock and fuel poverty rules."""

import numpy as np
import pytest

from advisor.rules import (
    bill_shock,
    credit_runout,
    fuel_poverty,
    self_disconnection,
    self_rationing,
)
from advisor.rules.base import HIGH, LOW, MEDIUM
from advisor.rules.credit import days_until_empty
from advisor.rules.self_rationing import expected_heating_kwh

F = 30


def test_days_until_empty_interpolates_within_a_day():
    cost = np.full((4, F), 4.0)
    days = days_until_empty(np.array([10.0, 0.0, 1000.0, np.nan]), cost)
    assert days[0] == pytest.approx(2.5)
    assert days[1] == 0.0
    assert np.isinf(days[2])
    assert np.isnan(days[3])


def credit_case(credits, prepay=None, kwh=8.0, rate=0.25, standing=0.5):
    n = len(credits)
    return credit_runout({"electricity": np.array(credits, float)[:, None] * np.ones((n, 5))},
                         {"electricity": np.full((n, F), kwh)},
                         {"electricity": np.full((n, F), rate)},
                         {"electricity": np.full((n, F), standing)},
                         np.ones(n, bool) if prepay is None else np.array(prepay))


def test_credit_runout_thresholds():
    # Burn: 8 kWh x £0.25 + £0.50 standing = £2.50 a day.
    r = credit_case([17.5, 17.6, 10.0, 5.0, 1.0, 17.5], prepay=[1, 1, 1, 1, 1, 0])
    assert r.flagged.tolist() == [True, False, True, True, True, False]
    assert r.severity[:5].tolist() == [LOW, 0, MEDIUM, HIGH, HIGH]
    text = r.reason_of(2)
    assert "£10.00" in text and "4.0 days" in text and "£2.50 a day" in text


def test_credit_runout_picks_the_fuel_that_runs_out_first():
    n = 1
    r = credit_runout({"electricity": np.array([[30.0]]), "gas": np.array([[3.0]])},
                      {"electricity": np.full((n, F), 5.0), "gas": np.full((n, F), 20.0)},
                      {"electricity": np.full((n, F), 0.25), "gas": np.full((n, F), 0.06)},
                      {"electricity": np.full((n, F), 0.5), "gas": np.full((n, F), 0.3)},
                      np.ones(n, bool))
    assert r.flagged[0] and r.numbers["fuel"][0] == "gas"
    assert r.reason_of(0).startswith("Gas credit of £3.00")


def test_self_disconnection_supply_off_and_no_use_while_cold():
    S, step = 48, 0.5
    off = np.zeros((5, S), bool)
    off[0, 10:12] = True  # 1 h off
    off[1, 10:11] = True  # 0.5 h
    use = np.full((5, S), 0.1)
    use[2, 0:12] = 0.0  # 6 h no use
    use[3, 0:12] = 0.0  # 6 h no use but warm
    use[4, 0:11] = 0.0  # 5.5 h
    temp = np.full((5, S), 15.0)
    temp[3] = 20.0
    r = self_disconnection(off, use, temp, np.ones(5, bool), np.zeros(5, bool), step, off_hours=1.0)
    assert r.flagged.tolist() == [True, False, True, False, False]
    assert r.severity[0] == HIGH  # off while cold
    assert "supply off for 1 hour in the window" in r.reason_of(0)
    assert "No electricity used for 6 hours in a row" in r.reason_of(2)
    credit_customer = self_disconnection(off, use, temp, np.zeros(5, bool), np.zeros(5, bool),
                                         step)
    assert not credit_customer.flagged.any()


def test_brief_supply_off_is_a_low_case_at_and_around_its_bar():
    """Credit ran out and the tenant topped up within the hour: a low case (no tip); from
    `off_hours` on the usual self-disconnection severities."""
    S, step = 48, 1 / 6  # 10-minute buckets
    off = np.zeros((5, S), bool)
    off[0, 10:12] = True  # 20 min: under the 30-min bar
    off[1, 10:13] = True  # 30 min: at the bar
    off[2, 10:16] = True  # 1 h
    off[3, 10:28] = True  # 3 h: the full bar
    use = np.full((5, S), 0.1)
    temp = np.full((5, S), 20.0)
    r = self_disconnection(off, use, temp, np.ones(5, bool), np.zeros(5, bool), step,
                           off_hours=3.0, brief_off_hours=0.5)
    assert r.flagged.tolist() == [False, True, True, True, False]
    assert r.severity[1] == LOW and r.severity[2] == LOW and r.severity[3] == MEDIUM
    assert "(credit ran out, then topped up)" in r.reason_of(2)
    assert "topped up" not in r.reason_of(3)
    without = self_disconnection(off, use, temp, np.ones(5, bool), np.zeros(5, bool), step,
                                 off_hours=3.0)
    assert without.flagged.tolist() == [False, False, False, True, False]


def test_self_rationing_share_and_cold_hours():
    expected = np.full((4, 7), 50.0)
    used = np.array([[19.0] * 7, [26.0] * 7, [19.0] * 7, [5.0] * 7])
    cold_h = np.array([12.0, 40.0, 11.5, 40.0])
    r = self_rationing(used, expected, cold_h)
    assert r.flagged.tolist() == [True, False, False, True]
    assert r.severity[3] == HIGH
    assert "38% of the 350 kWh" in r.reason_of(0)


def test_expected_heating_follows_the_season_and_fuel():
    winter = expected_heating_kwh(np.array([1]), np.array([True, False]), 11500, 3900)
    summer = expected_heating_kwh(np.array([7]), np.array([True]), 11500, 3900)
    assert winter[0, 0] == pytest.approx(11500 * 0.155 / 31)
    assert winter[1, 0] == pytest.approx(3900 * 0.155 / 31)
    assert summer[0, 0] < winter[0, 0] / 3


def test_bill_shock_bars_own_typical_and_benefits():
    p50 = np.array([150.0, 149.0, 130.0, 130.0, 20.0, 100.0, 400.0])
    p90 = np.array([170.0, 205.0, 140.0, 140.0, 24.0, 199.0, 450.0])
    recent = np.array([100.0, 100.0, 100.0, 100.0, 10.0, 100.0, 100.0])
    typical = np.full(7, 200.0)
    benefits = np.array([0, 0, 1, 0, 1, 0, 0], bool)
    r = bill_shock(p50, p90, recent, typical, benefits)
    # 0: p50 exactly 1.5x own -> medium. 1: p50 just under, p90 over 2.0x own -> low.
    # 2: 1.3x own with benefits (bar 1.25) -> medium; 3: same without -> none.
    # 4: doubles but only £10 more: not a shock. 5: p90 1.99x own: under the p90 bar (2.0x).
    # 6: 4x own -> high.
    assert r.severity.tolist() == [MEDIUM, LOW, MEDIUM, 0, 0, 0, HIGH]
    assert r.flagged.tolist() == [True, True, True, False, False, False, True]
    text = r.reason_of(2)
    assert "£130" in text and "1.3 times" in text and "lower bar" in text


def test_bill_shock_against_typical_use_without_history():
    r = bill_shock(np.array([310.0, 290.0]), np.array([320.0, 299.0]), np.full(2, np.nan),
                   np.full(2, 200.0), np.zeros(2, bool))
    assert r.flagged.tolist() == [True, False]
    assert "Ofgem" in r.reason_of(0) and "own recent" not in r.reason_of(0)


def test_fuel_poverty_lilee_and_burden():
    band = np.array([3, 2, 6, 3, 2, -1])  # D, C, G, D, C, unknown
    benefits = np.array([1, 1, 1, 0, 1, 1], bool)
    annual = np.array([900.0, 900.0, 1700.0, 2500.0, 1600.0, 100.0])
    r = fuel_poverty(band, benefits, annual)
    assert r.flagged.tolist() == [True, False, True, False, True, False]
    assert r.severity[2] == MEDIUM and r.severity[0] == LOW
    assert "EPC band D" in r.reason_of(0)
    assert "10% of a £16,000" in r.reason_of(4)


def test_supply_state_from_switch_balance_and_demand():
    from advisor.rules.self_disconnection import supply_off_mask

    credit = {"electricity": np.array([[5.0, -2.0, -2.0, -11.0]]),
              "gas": np.array([[-1.0, -1.0, -1.0, -1.0]])}
    use = {"electricity": np.array([[0.2, 0.2, 0.0, 0.2]]),
           "gas": np.array([[0.0, 0.0, 0.0, 1.0]])}
    heat = {"gas": np.array([[False, True, False, True]])}
    off = supply_off_mask(credit, None, -10.0, usage_kwh=use, demand=heat)
    # Electricity: on emergency credit while used; off when nothing is used at -£2, or past
    # -£10. Gas at -£1: off from the first step heat is called for without gas flowing (step
    # 1) until gas flows again (step 3).
    assert off[0].tolist() == [False, True, True, True]
    switch = {"electricity": np.array([[1.0, 1.0, 0.0, np.nan]])}
    off = supply_off_mask({"electricity": np.array([[-20.0, -20.0, 5.0, -20.0]])}, None, -10.0,
                          supply_on=switch)
    assert off[0].tolist() == [False, False, True, True]  # the switch wins where reported


def test_off_from_evidence_runs_from_first_wanted_step_to_top_up():
    from advisor.rules.self_disconnection import off_from_evidence

    # Balance spent and no flow in steps 1-4 and 6-8; the fuel wanted at 3 and at 7, 8.
    spent = np.array([[0, 1, 1, 1, 1, 0, 1, 1, 1, 0]], bool)
    wanted = np.array([[1, 0, 0, 1, 0, 1, 0, 1, 1, 0]], bool)
    assert off_from_evidence(spent, wanted, 1)[0].astype(int).tolist() == \
        [0, 0, 0, 1, 1, 0, 0, 1, 1, 0]
    # Two wanted steps in a row needed: only the second run has them.
    assert off_from_evidence(spent, wanted, 2)[0].astype(int).tolist() == \
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 0]
    # Two isolated wanted steps in one run are not a streak of two.
    blips = np.array([[0, 1, 0, 1, 0, 0, 0, 0, 0, 0]], bool)
    assert not off_from_evidence(spent, blips, 2).any()
    assert off_from_evidence(spent, blips, 1)[0].astype(int).tolist() == \
        [0, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    # Rows are independent; a row never wanted is never off.
    two = off_from_evidence(np.vstack([spent, spent]), np.vstack([wanted, wanted * False]), 1)
    assert two[1].sum() == 0 and (two[0] == off_from_evidence(spent, wanted, 1)[0]).all()


def gas_home(gas_kwh, credit_gbp, elec_kwh, setpoint_c=20.0, temp_c=12.0):
    """AdviceInputs for one gas-heated prepayment home on 30-minute buckets."""
    from datetime import UTC, datetime

    from advisor.frame import AdviceInputs

    S = len(gas_kwh)
    times = np.datetime64("2026-01-12T07:00") + np.arange(S) * np.timedelta64(30, "m")
    row = lambda x: np.broadcast_to(np.asarray(x, dtype=float), (S,))[None, :].copy()  # noqa: E731
    return AdviceInputs(
        households=np.array(["H1"]), now=datetime(2026, 1, 12, 7, tzinfo=UTC) , step_h=0.5,
        step_times=times.astype("datetime64[ns]"), temp_c=row(temp_c), setpoint_c=row(setpoint_c),
        heating_on=row(0.0), usage_kwh={"electricity": row(elec_kwh), "gas": row(gas_kwh)},
        credit_gbp={"gas": row(credit_gbp)}, prepayment=np.array([True]),
        has_gas=np.array([True]), gas_heating=np.array([True]))


def test_gas_off_when_spent_and_none_used_while_people_are_in():
    from advisor.engine import _supply_off
    from hearth.settings.rooms import AdvisorSettings

    s = AdvisorSettings(cold_home_waking_from_h=0.0, cold_home_waking_to_h=24.0)
    # 16 buckets, people active (electricity above the base load) in all but the first two.
    # Gas flows in credit (0-7); from 8 the balance is spent and no gas flows.
    elec = [0.03, 0.03] + [0.3] * 14
    gas = [0.2] * 8 + [0.0] * 8
    credit = [3.0] * 8 + [-0.1] * 8
    # Thermostat turned down to frost protection: only the habit of using gas while in counts.
    off = _supply_off(gas_home(gas, credit, elec, setpoint_c=10.0, temp_c=9.0), s)[0]
    assert off.tolist() == [False] * 8 + [True] * 8
    # The same with people out once the balance is spent (electricity at its base load, as
    # it was in the first two buckets): nothing says gas was wanted.
    elec_out = [0.03, 0.03] + [0.3] * 6 + [0.03] * 8
    off = _supply_off(gas_home(gas, credit, elec_out, setpoint_c=10.0, temp_c=9.0), s)[0]
    assert not off.any()
    # A home on emergency credit whose gas flows while people are in is not off.
    gas_ec = [0.2] * 8 + [0.0, 0.2] * 4
    off = _supply_off(gas_home(gas_ec, credit, elec, setpoint_c=10.0, temp_c=9.0), s)[0]
    assert not off.any()
    # Out, but the thermostat calls for 20 C in a 12 C room: wanted, off.
    off = _supply_off(gas_home(gas, credit, elec_out, setpoint_c=20.0, temp_c=12.0), s)[0]
    assert off.tolist() == [False] * 8 + [True] * 8


def test_gas_off_needs_an_hour_of_evidence():
    from advisor.engine import _supply_off
    from hearth.settings.rooms import AdvisorSettings

    s = AdvisorSettings(cold_home_waking_from_h=0.0, cold_home_waking_to_h=24.0)
    gas = [0.2] * 8 + [0.0] * 8
    credit = [3.0] * 8 + [-0.1] * 8
    out = [0.3] * 8 + [0.03] * 8   # in while gas flows, out once the balance is spent
    # Heat called for in one spent bucket only (30 min): not enough at the 1-hour default.
    setpoint = [20.0] * 8 + [20.0] + [10.0] * 7
    home = gas_home(gas, credit, out, setpoint_c=setpoint, temp_c=12.0)
    assert not _supply_off(home, s)[0].any()
    # Two buckets (1 hour): off from the first.
    setpoint = [20.0] * 8 + [20.0, 20.0] + [10.0] * 6
    home = gas_home(gas, credit, out, setpoint_c=setpoint, temp_c=12.0)
    assert _supply_off(home, s)[0].tolist() == [False] * 8 + [True] * 8
    s30 = AdvisorSettings(cold_home_waking_from_h=0.0, cold_home_waking_to_h=24.0,
                          supply_off_evidence_h=0.5)
    setpoint = [20.0] * 8 + [20.0] + [10.0] * 7
    home = gas_home(gas, credit, out, setpoint_c=setpoint, temp_c=12.0)
    assert _supply_off(home, s30)[0].sum() == 8


def test_a_stuck_register_is_not_no_use():
    S, step = 24, 0.5
    use = np.zeros((2, S))
    power = np.array([np.full(S, 150.0), np.zeros(S)])
    temp = np.full((2, S), 15.0)
    r = self_disconnection(np.zeros((2, S), bool), use, temp, np.ones(2, bool),
                           np.zeros(2, bool), step, power_w=power)
    assert r.flagged.tolist() == [False, True]


def test_low_setpoint_share_counts_hours_people_are_in():
    from advisor.rules.self_rationing import low_setpoint_share

    temp = np.array([[16.0] * 8, [16.0] * 8, [20.0] * 8])
    setpoint = np.array([[15.0] * 8, [15.0] * 4 + [21.0] * 4, [15.0] * 8])
    counted = np.array([True] * 8)
    share = low_setpoint_share(setpoint, None, temp, counted)
    assert share.tolist() == [1.0, 0.5, 0.0]  # warm homes are not rationing
    half = np.array([True] * 4 + [False] * 4)
    assert low_setpoint_share(setpoint, None, temp, half).tolist() == [1.0, 1.0, 0.0]


def test_a_boiler_that_cannot_fire_at_a_high_setpoint_is_not_rationing():
    from advisor.rules.self_rationing import low_setpoint_share

    # Cold rooms, heating reported off throughout. Home 0 asks for 21 C (its gas is off: the
    # boiler cannot fire); home 1 has turned the thermostat down to 15 C; home 2's thermostat
    # reports no setpoint, so the heating's own state is all there is.
    temp = np.full((3, 8), 15.0)
    setpoint = np.array([[21.0] * 8, [15.0] * 8, [np.nan] * 8])
    heating_off = np.zeros((3, 8))
    assert low_setpoint_share(setpoint, heating_off, temp).tolist() == [0.0, 1.0, 1.0]
