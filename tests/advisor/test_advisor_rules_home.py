"""Cold home and damp and mould rules on crafted series, at and around their thresholds."""

import numpy as np
import pytest

from advisor.rules import cold_home, damp_mould
from advisor.rules.base import EMERGENCY, HIGH, LOW, MEDIUM, longest_run, trailing_run
from advisor.rules.damp_mould import dew_point_c

STEP_H = 0.5
S = 144  # 72 hours of half-hour buckets


def series(*rows):
    return np.array(rows, dtype=float)


def cold_for(hours, temp=17.0, warm=20.0, n=S):
    row = np.full(n, warm)
    k = round(hours / STEP_H)
    row[:k] = temp
    return row


def test_cold_home_hours_bar_general_and_vulnerable():
    temp = series(cold_for(23.5), cold_for(24), cold_for(12), cold_for(11.5))
    vulnerable = np.array([False, False, True, True])
    r = cold_home(temp, np.ones(S, bool), vulnerable, STEP_H)
    assert r.flagged.tolist() == [False, True, True, False]
    assert r.severity[1] == LOW and r.severity[2] == LOW
    assert r.numbers["cold_h"][1] == pytest.approx(24.0)
    text = r.reason_of(1)
    assert "below 18 C for 24 of the last 72 hours" in text
    assert "lowest 17.0 C" in text and "heating season" in text
    assert "vulnerable" in r.reason_of(2)


def test_cold_home_threshold_is_strictly_below_18():
    temp = series(cold_for(72, temp=18.0), cold_for(72, temp=17.99))
    r = cold_home(temp, np.ones(S, bool), np.zeros(2, bool), STEP_H)
    assert r.flagged.tolist() == [False, True]


def test_cold_home_only_counts_heating_season():
    temp = series(cold_for(72))
    season = np.zeros(S, bool)
    assert not cold_home(temp, season, np.zeros(1, bool), STEP_H).flagged[0]
    season[:50] = True  # 25 h in season
    assert cold_home(temp, season, np.zeros(1, bool), STEP_H).flagged[0]


def test_cold_home_severity_levels():
    severe = cold_for(30, temp=15.5)
    danger = cold_for(30, temp=11.0)
    temp = series(severe, danger, danger, cold_for(60))
    r = cold_home(temp, np.ones(S, bool), np.array([False, False, True, False]), STEP_H)
    assert r.severity.tolist() == [HIGH, HIGH, EMERGENCY, MEDIUM]
    assert r.score[2] > r.score[0] > 0


def test_cold_home_needs_enough_data():
    row = cold_for(72)
    row[: S // 2 + 1] = np.nan  # less than half the window
    r = cold_home(series(row), np.ones(S, bool), np.zeros(1, bool), STEP_H)
    assert not r.flagged[0]


def test_runs():
    m = np.array([[1, 1, 0, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 1, 1, 1, 1]], bool)
    assert longest_run(m).tolist() == [3, 0, 4]
    assert trailing_run(m).tolist() == [0, 0, 4]


def test_dew_point_matches_reference_values():
    # Reference: 20 C at 50% RH -> 9.3 C; 25 C at 80% -> 21.3 C (Magnus, Alduchov-Eskridge).
    assert dew_point_c(20.0, 50.0) == pytest.approx(9.26, abs=0.05)
    assert dew_point_c(25.0, 80.0) == pytest.approx(21.31, abs=0.05)
    assert dew_point_c(10.0, 100.0) == pytest.approx(10.0, abs=1e-6)


def humid_for(hours, rh, base=55.0, start=100, n=S):
    row = np.full(n, base)
    k = round(hours / STEP_H)
    row[start:start + k] = rh
    return row


def test_damp_more_than_two_hours_above_70_in_12():
    rh = series(humid_for(2.0, 71), humid_for(2.5, 71), humid_for(6, 70.0))
    temp = np.full(rh.shape, 20.0)
    r = damp_mould(rh, temp, temp - 0.0, np.zeros(3, bool), STEP_H)
    assert r.flagged.tolist() == [False, True, False]
    assert r.numbers["worst_window_h"][1] == pytest.approx(2.5)
    assert "Humidity above 70% for 2.5 hours of the worst 12 hours" in r.reason_of(1)


def test_damp_split_spells_count_within_12_hours_only():
    row = np.full(S, 55.0)
    row[10:13] = 75  # 1.5 h
    row[30:32] = 75  # 1 h, 10 h later: 2.5 h within 12 h
    far = np.full(S, 55.0)
    far[10:13] = 75
    far[60:62] = 75  # 25 h apart: never more than 1.5 h in a 12 h window
    temp = np.full((2, S), 20.0)
    r = damp_mould(series(row, far), temp, temp, np.zeros(2, bool), STEP_H)
    assert r.flagged.tolist() == [True, False]


def test_damp_more_than_one_hour_above_90():
    rh = series(humid_for(1.0, 91, base=60), humid_for(1.5, 91, base=60))
    temp = np.full(rh.shape, 20.0)
    # base 60% so only the very-high bar can flag; 1 h at 91 is also 1 h above 70 (not > 2 h).
    r = damp_mould(rh, temp, temp, np.zeros(2, bool), STEP_H)
    assert r.flagged.tolist() == [False, True]
    assert r.severity[1] == HIGH


def test_damp_condensation_raises_severity_and_is_reported():
    rh = series(humid_for(4, 80, base=60), humid_for(4, 80, base=60))
    temp = np.full(rh.shape, 20.0)
    coldest = np.full(rh.shape, 20.0)
    coldest[0] = 18.0  # dew point at 20 C / 80% is 16.4 C: within 2 C of 18 C
    r = damp_mould(rh, temp, coldest, np.zeros(2, bool), STEP_H)
    assert r.flagged.all()
    assert r.severity.tolist() == [MEDIUM, LOW]
    assert "condensation is likely" in r.reason_of(0)
    assert "condensation" not in r.reason_of(1)


def test_damp_humidity_alone_is_never_an_emergency():
    # Awaab's Law: a sensor reading alone is a potential hazard to investigate; "emergency"
    # is an imminent risk of serious harm, which humidity readings cannot show.
    rh = series(humid_for(30, 95, start=0), humid_for(30, 95, start=0))
    temp = np.full(rh.shape, 18.0)
    r = damp_mould(rh, temp, temp - 1.0, np.array([True, False]), STEP_H)
    assert r.severity.tolist() == [HIGH, HIGH]


def test_cold_home_counts_waking_hours_and_their_share():
    hour = np.arange(S) * STEP_H % 24
    waking = (hour >= 7) & (hour < 23)  # 48 of the 72 hours
    night_cold = np.where(waking, 20.0, 16.0)  # cold only at night: not a cold home
    day_cold = np.where(waking & (hour < 19), 16.0, 20.0)  # 36 of 48 waking hours = 0.75
    some = np.where(waking & (hour < 17), 16.0, 20.0)  # 30 of 48 = 0.625
    temp = series(night_cold, day_cold, some, some)
    r = cold_home(temp, np.ones(S, bool), np.array([False, False, False, True]), STEP_H,
                  waking=waking, share=0.7, vulnerable_share=0.5)
    assert r.flagged.tolist() == [False, True, False, True]
    assert r.numbers["cold_h"][1] == 36 and r.numbers["counted_h"][1] == 48
    assert "for 36 of the 48 hours people were at home and awake in the last 72" in r.reason_of(1)


def test_damp_must_persist_over_half_days():
    # 144 half-hour steps from midnight: six complete 12-hour blocks.
    times = np.datetime64("2026-01-10T00:00") + np.arange(S) * np.timedelta64(30, "m")
    once = np.full(S, 55.0)
    once[30:36] = 80  # 3 h in one block only: 1 of 6 half-days < 20%
    twice = once.copy()
    twice[60:66] = 80  # and again in another block: 2 of 6
    temp = np.full((2, S), 20.0)
    r = damp_mould(series(once, twice), temp, temp, np.zeros(2, bool), STEP_H,
                   step_times=times, block_share=0.2)
    assert r.flagged.tolist() == [False, True]
    assert r.numbers["damp_blocks"].tolist() == [1, 2] and r.numbers["n_blocks"][1] == 6
    assert "on 2 of the last 6 half-days" in r.reason_of(1)


def test_cold_home_judged_in_the_living_room_where_there_is_one():
    from datetime import UTC, datetime

    from advisor.engine import assess
    from advisor.frame import AdviceInputs
    from hearth.settings.rooms import AdvisorSettings

    # Three homes whose living room holds 18.3 C all day. Home 0 has a bedroom thermostat a
    # degree cooler (bedrooms run cooler by design): the rooms' mean, 17.8 C, is below 18 C
    # but people are up in the living room. Home 1 has only the living room. Home 2 has no
    # living-room thermostat: its bedroom's 17.3 C is all there is to go by.
    times = np.datetime64("2026-01-12T00:00") + np.arange(S) * np.timedelta64(30, "m")
    mean = series(np.full(S, 17.8), np.full(S, 18.3), np.full(S, 17.3))
    living = series(np.full(S, 18.3), np.full(S, 18.3), np.full(S, np.nan))
    inp = AdviceInputs(households=np.array(["H0", "H1", "H2"]), now=datetime(2026, 1, 15, tzinfo=UTC),
                       step_h=STEP_H, step_times=times.astype("datetime64[ns]"), temp_c=mean,
                       living_temp_c=living, vulnerable=np.zeros(3, bool))
    assert inp.waking_temp_c()[:, 0].tolist() == [18.3, 18.3, 17.3]
    r = assess(inp, AdvisorSettings())["cold_home"]
    assert r.flagged.tolist() == [False, False, True]
    inp.living_temp_c = None   # no room information: the mean over the rooms
    assert assess(inp, AdvisorSettings())["cold_home"].flagged.tolist() == [True, False, True]


def test_occupancy_without_a_supply_follows_the_household_routine():
    from datetime import UTC, datetime

    from advisor.engine import occupied_hours
    from advisor.frame import AdviceInputs
    from hearth.settings.rooms import AdvisorSettings

    # Three January days of half hours (UK time = UTC). Both homes run a fridge (0.04 kWh a
    # half hour); home 0 is in and active 07-23 every day, home 1 only 07-09 and 18-23 (out at
    # work). On day 3 both supplies are off (the meters' switches say so): no use at all.
    times = np.datetime64("2026-01-12T00:00") + np.arange(S) * np.timedelta64(30, "m")
    hour = np.arange(S) * STEP_H % 24
    day3 = np.arange(S) >= 96
    in_all_day = (hour >= 7) & (hour < 23)
    in_evening = ((hour >= 7) & (hour < 9)) | ((hour >= 18) & (hour < 23))
    use = series(np.where(in_all_day, 0.3, 0.04), np.where(in_evening, 0.3, 0.04))
    use[:, day3] = 0.0
    switch = np.where(day3, 0.0, 1.0)[None, :].repeat(2, axis=0)
    inp = AdviceInputs(households=np.array(["H0", "H1"]), now=datetime(2026, 1, 15, tzinfo=UTC),
                       step_h=STEP_H, step_times=times.astype("datetime64[ns]"),
                       usage_kwh={"electricity": use}, supply_on={"electricity": switch})
    occ = occupied_hours(inp, AdvisorSettings())
    assert (occ[0, day3] == in_all_day[day3]).all()
    assert (occ[1, day3] == in_evening[day3]).all()
    # With a supply, use above the base load decides (days 1 and 2).
    assert (occ[1, ~day3] == in_evening[~day3]).all()
