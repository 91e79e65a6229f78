"""The HHSRS excess cold band of a home (issue 13): the coldest band (below 19, 16, 10 C;
HHSRS Operating Guidance 2006, hazard 2) its living room was in for at least a fifth of the
hours people were in and awake (`cold_hhsrs_spell_share`), the same definition as the
simulator's ground truth (meters_sim/truth.py). Severity is separate: it adds the household."""

from __future__ import annotations

import numpy as np

from advisor.rules import cold_home
from advisor.rules.base import EMERGENCY

STEP_H = 0.5
S = 200          # 100 hours of half-hour buckets


def _home(below: dict[float, int], base: float = 20.0) -> np.ndarray:
    """A row at `base` C with, for each temperature, that many buckets at it."""
    row = np.full(S, base)
    i = 0
    for temp, n in below.items():
        row[i:i + n] = temp
        i += n
    return row


def test_band_is_the_coldest_band_held_for_a_fifth_of_the_hours():
    temp = np.stack([
        _home({15.0: 40}),            # 20 % below 16 C: serious
        _home({15.0: 39}),            # 19.5 % below 16 (and 19) C: no band
        _home({9.0: 45}),             # 22.5 % below 10 C: great
        _home({18.5: 200}),           # always 18.5 C: risk rises, never below 16 C
        _home({}),                    # 20 C: none
    ])
    r = cold_home(temp, np.ones(S, bool), np.zeros(5, bool), STEP_H)
    assert r.numbers["hhsrs_band"].tolist() == [2, 0, 3, 1, 0]


def test_a_serious_band_home_below_the_cold_share_is_not_flagged_but_banded():
    # 25 % of the hours below 16 C, the rest warm: cold for a quarter (< the 50 % share bar).
    temp = _home({15.0: 50})[None, :]
    r = cold_home(temp, np.ones(S, bool), np.array([False]), STEP_H, share=0.5)
    assert r.flagged.tolist() == [False] and r.numbers["hhsrs_band"][0] == 2
    assert "HHSRS excess cold: serious risk" in r.reason_of(0)


def test_a_short_dip_is_named_by_its_hours_not_by_a_band():
    # A vulnerable household below 16 C for 7 hours of 100: an emergency (imminent harm), but
    # not the HHSRS serious band: the reason gives the hours and no band name.
    temp = _home({15.0: 14, 17.0: 106})[None, :]
    r = cold_home(temp, np.ones(S, bool), np.array([True]), STEP_H)
    assert r.severity[0] == EMERGENCY and r.numbers["hhsrs_band"][0] == 1
    assert "below 16 C for 7 h" in r.reason_of(0) and "serious risk" not in r.reason_of(0)


def test_too_few_counted_hours_give_no_band():
    temp = np.full((1, S), np.nan)
    temp[0, :40] = 9.0                                   # 20 hours seen, all below 10 C
    r = cold_home(temp, np.ones(S, bool), np.array([False]), STEP_H, min_coverage=0.0)
    assert r.numbers["hhsrs_band"][0] == 0
