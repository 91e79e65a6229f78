"""Fault checks: silent devices, counters going backwards, spikes, heating that does not heat."""

import numpy as np
import pytest

from advisor.rules import device_faults
from advisor.rules.base import HIGH, LOW, MEDIUM
from advisor.rules.faults import (
    counter_backwards,
    heating_not_heating,
    implausible_readings,
    repeat_runs,
    silent_devices,
    stuck_readings,
    usage_spikes,
)


def test_silent_device_beyond_its_interval():
    interval = np.array([[60.0, 1800.0], [60.0, np.nan], [60.0, 60.0]])
    age = np.array([[1080.0, 100.0], [1081.0, 5.0], [np.nan, 30.0]])
    silent, worst = silent_devices(age, interval, 3.0, 900.0)
    assert silent.tolist() == [[False, False], [True, False], [False, False]]
    assert worst.tolist() == [0.0, 1081.0, 0.0]


def test_counter_backwards_across_gaps_and_tolerance():
    c = np.array([[1.0, 2.0, 1.5, 3.0], [1.0, np.nan, 0.5, 0.6], [1.0, 0.995, 1.2, 1.3],
                  [np.nan, np.nan, np.nan, np.nan]])
    assert counter_backwards(c, 0.01).tolist() == pytest.approx([0.5, 0.5, 0.0, 0.0])


def test_spike_far_outside_the_household_range():
    use = np.array([[0.2, 0.3, 2.5, 0.2], [0.2, 0.3, 3.5, 0.2], [0.2, 0.3, 3.2, 0.2]])
    p95 = np.array([0.3, 0.3, 0.5])
    spikes = usage_spikes(use, p95, ratio=8.0, min_kwh=3.0)
    # Bars: max(2.4, 3) = 3, 3, max(4.0, 3) = 4.
    assert spikes.tolist() == [0.0, 3.5, 0.0]


def test_heating_on_while_room_cools():
    step = 0.5
    temp = np.array([np.linspace(20, 17.8, 12), np.linspace(20, 19.5, 12),
                     np.linspace(20, 18.0, 12)])
    on = np.ones_like(temp)
    on[2, 5] = 0  # heating off in the middle: not a fault
    fall = heating_not_heating(on, temp, step, hours=3.0, drop_c=1.0)
    assert fall[0] == pytest.approx(2.2 * 6 / 11)
    assert fall[1] == 0 and fall[2] == 0


def test_device_faults_combines_and_names_devices():
    silent = np.array([[True, False], [False, False], [False, False], [True, False]])
    r = device_faults(silent, np.array([7200.0, 0, 0, 90000.0]), np.array([0, 0.5, 0, 0.2]),
                      np.zeros(4), np.zeros(4), np.array([["T1", "M1"], ["T2", "M2"],
                                                          ["T3", "M3"], ["T4", "M4"]]))
    assert r.flagged.tolist() == [True, True, False, True]
    assert r.severity.tolist()[:2] == [LOW, MEDIUM] and r.severity[3] == HIGH
    assert "1 device(s) silent (T1), longest for 2 hours" in r.reason_of(0)
    assert "went backwards by 0.50 kWh" in r.reason_of(1)


def test_a_silence_that_has_ended_still_counts():
    age = np.array([[30.0], [30.0]])
    gap = np.array([[3 * 60 + 900 + 1.0], [3 * 60 + 900.0]])
    silent, worst = silent_devices(age, np.full((2, 1), 60.0), 3.0, 900.0, gap)
    assert silent[:, 0].tolist() == [True, False] and worst[0] == 1081.0


def test_implausible_thermostat_readings():
    lo = np.array([[18.0, 17.5], [-40.0, 18.0], [18.0, np.nan]])
    hi = np.array([[21.0, 22.0], [20.0, 21.0], [85.0, np.nan]])
    out = implausible_readings(lo, hi, -5.0, 45.0)
    assert np.isnan(out[0]) and out[1] == -40.0 and out[2] == 85.0


def test_stuck_and_implausible_in_the_reason():
    r = device_faults(np.zeros((2, 1), bool), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2),
                      np.array([["T1"], ["T2"]]), stuck=np.array([[True], [False]]),
                      implausible_c=np.array([np.nan, 85.0]))
    assert r.flagged.all()
    assert "stuck, repeating the same reading (T1)" in r.reason_of(0)
    assert "reading of 85 C" in r.reason_of(1)


def test_repeat_runs_counts_consecutive_repeats_only():
    # Repeats at 600 s steps: a run of 3 (1200..2400), then one alone after a reading that moved
    # (3600 follows 3000, not 2400), then a run of 2 across a 1200 s gap (5400, 6600).
    t = np.array([1200.0, 1800.0, 2400.0, 3600.0, 5400.0, 6600.0])
    gap = np.array([600.0, 600.0, 600.0, 600.0, 600.0, 1200.0])
    kwh = np.array([0.01, 0.01, 0.01, 0.05, 0.02, 0.02])
    n, span, most = repeat_runs(t, gap, kwh)
    assert (n, span) == (3, 1800.0) and most == pytest.approx(0.05)
    assert repeat_runs(np.array([]), np.array([])) == (0, 0.0, 0.0)
    # Order does not matter.
    assert repeat_runs(t[::-1], gap[::-1], kwh[::-1]) == (n, span, most)


@pytest.mark.parametrize(("repeats", "span_s", "still_kwh", "stuck"), [
    (3, 1200.0, 0.0, True),      # at both thresholds
    (2, 1800.0, 0.0, False),     # one repeat short
    (3, 1199.0, 0.0, False),     # fast readings: too short a spell
    (0, 0.0, 0.02, True),        # a register that should have counted 2 counts of 0.01 kWh
    (0, 0.0, 0.0199, False),
    (np.nan, np.nan, np.nan, False),
])
def test_stuck_readings_thresholds(repeats, span_s, still_kwh, stuck):
    out = stuck_readings(np.array([[repeats]]), np.array([[span_s]]), np.array([[still_kwh]]),
                         min_repeats=3, min_span_s=1200.0, still_min_kwh=0.02)
    assert out.tolist() == [[stuck]]


def test_silence_in_bulk_history_without_grace():
    # Bulk history every 600 s: three readings missing (a 2400 s gap) is silent, two is not.
    gap = np.array([[2400.0], [1800.0]])
    silent, _ = silent_devices(np.full((2, 1), np.nan), np.full((2, 1), 600.0), 3.0, 0.0, gap)
    assert silent[:, 0].tolist() == [True, False]


def test_a_lowered_setpoint_is_not_heating_that_does_not_heat():
    # Heating read as on at every half hour's end; the room falls 2 C after the setpoint drops
    # from 20 to 17 C (by 3 C: a set-back) or to 19.6 C (by 0.4 C: within 0.5 C, still a fault).
    temp = np.array([[20.0] * 6 + [18.0] * 2] * 3)
    on = np.ones_like(temp)
    sp = np.full_like(temp, 20.0)
    sp[0, 6:] = 17.0
    sp[1, 6:] = 19.6
    fall = heating_not_heating(on, temp, 0.5, hours=3.0, drop_c=1.0, setpoint_c=sp,
                               setback_c=0.5)
    assert fall.tolist() == [0.0, 2.0, 2.0]
    assert heating_not_heating(on, temp, 0.5, 3.0, 1.0).tolist() == [2.0, 2.0, 2.0]
