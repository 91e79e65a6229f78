"""The one silent-device rule (hearth/silence.py) the dashboard and the weekly report share."""

import numpy as np

from hearth.silence import NO_READING_NS, SILENT_FLOOR_S, is_silent, silent_limit_s

MIN_NS = 60 * 10**9


def test_each_device_against_its_own_interval():
    # A meter every minute, a thermostat every 5 minutes, a gas meter every 30 minutes.
    interval_s = np.array([60, 300, 1800])
    assert silent_limit_s(interval_s, 3.0).tolist() == [SILENT_FLOOR_S, 900.0, 5400.0]
    at = 1_000_000 * MIN_NS
    last = at - np.array([20, 20, 20]) * MIN_NS            # all last heard 20 minutes ago
    assert is_silent(last, at, interval_s, 3.0).tolist() == [True, True, False]
    last = at - np.array([10, 14, 89]) * MIN_NS
    assert is_silent(last, at, interval_s, 3.0).tolist() == [False, False, False]
    assert is_silent(np.array([NO_READING_NS]), at, [1800], 3.0).tolist() == [True]
