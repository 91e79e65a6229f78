"""usage_30m numeric core on crafted register series: resets, gaps, spikes, several series."""

from __future__ import annotations

import numpy as np
import pytest

from collectors.usage import half_hour_usage, sum_by_group

H = 3600.0


def minute_series(hours: float, kw: float = 1.0, start_kwh: float = 1000.0):
    t = np.arange(0, hours * H + 1, 60.0)
    return t, start_kwh + kw * t / H


def bounds(hours: float):
    return np.arange(0, hours * H + 1, 1800.0)


def test_steady_load_gives_half_of_the_power_per_half_hour():
    t, e = minute_series(3, kw=1.2)
    r = half_hour_usage(t, e, bounds(3))
    np.testing.assert_allclose(r.energy_kwh, 0.6, rtol=1e-9)
    assert r.resets[0] == 0 and r.spikes[0] == 0


def test_irregular_samples_are_interpolated_at_boundaries():
    t = np.array([0, 900, 2000, 3500, 3700])  # boundaries 1800 and 3600 fall between samples
    e = 10 + 2.0 * t / H  # 2 kW
    r = half_hour_usage(t, e, [0, 1800, 3600])
    np.testing.assert_allclose(r.energy_kwh, [[1.0, 1.0]])


def test_counter_reset_restarts_from_zero():
    t, e = minute_series(2, kw=1.0, start_kwh=500.0)
    e[61:] = e[61:] - e[61] + 1 / 60  # meter replaced at minute 60: counts again from 0
    r = half_hour_usage(t, e, bounds(2))
    np.testing.assert_allclose(r.energy_kwh, 0.5, rtol=1e-9)
    assert r.resets[0] == 1 and r.spikes[0] == 0


def test_small_steps_down_are_jitter_not_resets():
    t, e = minute_series(1, kw=0.0, start_kwh=42.0)
    e[10] -= 0.004
    r = half_hour_usage(t, e, bounds(1))
    assert r.resets[0] == 0
    assert np.all(np.abs(r.energy_kwh) < 0.005)


@pytest.mark.parametrize("value", [99_999.0, 0.0, 1_500.0])
def test_isolated_spike_is_removed(value):
    t, e = minute_series(2, kw=1.0)
    e[45] = value  # one wild sample, up or down, then back on track
    r = half_hour_usage(t, e, bounds(2))
    np.testing.assert_allclose(r.energy_kwh, 0.5, rtol=1e-9)
    assert r.spikes[0] == 1 and r.resets[0] == 0


def test_jump_that_stays_is_dropped_and_counted():
    t, e = minute_series(2, kw=1.0)
    e[70:] += 5000.0  # implausible for 25 kW in a minute, and it stays
    r = half_hour_usage(t, e, bounds(2))
    np.testing.assert_allclose(r.energy_kwh, [[0.5, 0.5, 0.5 - 1 / 60, 0.5]], rtol=1e-9)
    assert r.spikes[0] == 1


def test_long_gap_is_nan_short_gap_is_spread():
    t, e = minute_series(8, kw=1.0)
    short = (t > 1.0 * H) & (t < 2.5 * H)  # 1.5 h without samples: spread linearly
    long = (t > 4.2 * H) & (t < 7.1 * H)  # 2.9 h: unknown
    keep = ~short & ~long
    r = half_hour_usage(t[keep], e[keep], bounds(8))
    u = r.energy_kwh[0]
    np.testing.assert_allclose(u[:8], 0.5, rtol=1e-9)  # 0 .. 4 h, incl. the short gap
    assert np.isnan(u[8:15]).all()  # half hours touching 4.2 .. 7.1 h
    np.testing.assert_allclose(u[15:], 0.5, rtol=1e-9)


def test_usage_across_long_gap_is_not_invented_total_is_kept_on_both_sides():
    t = np.array([0.0, 600, 1200, 1800, 30 * H, 30 * H + 1800])
    e = np.array([0.0, 0.1, 0.2, 0.3, 50.0, 50.5])
    r = half_hour_usage(t, e, np.arange(0, 30.5 * H + 1, 1800.0))
    u = r.energy_kwh[0]
    assert u[0] == pytest.approx(0.3)
    assert np.isnan(u[1:-1]).all()
    assert u[-1] == pytest.approx(0.5)


def test_edges_without_samples_are_nan_and_current_half_hour_is_not_emitted():
    t, e = minute_series(1.2, kw=1.0)  # samples from 0 to 72 min
    r = half_hour_usage(t + 600, e, bounds(2))  # samples 10 .. 82 min
    u = r.energy_kwh[0]
    assert np.isnan(u[0])  # 0-30 min: no sample at or before 0
    assert u[1] == pytest.approx(0.5)  # 30-60
    assert np.isnan(u[2]) and np.isnan(u[3])  # 60-90 unfinished, 90-120 nothing


def test_many_series_with_padding_and_unsorted_input_match_one_by_one():
    rng = np.random.default_rng(7)
    rows_t, rows_e = [], []
    for k in range(6):
        n = 50 + 20 * k
        t = np.sort(rng.uniform(0, 4 * H, n))
        e = 100 * k + np.cumsum(rng.uniform(0, 0.05, n))
        if k == 2:
            e[n // 2:] -= e[n // 2] - 0.01  # reset
        rows_t.append(t)
        rows_e.append(e)
    width = max(len(t) for t in rows_t)
    T = np.full((6, width), np.nan)
    E = np.full((6, width), np.nan)
    for k, (t, e) in enumerate(zip(rows_t, rows_e, strict=True)):
        perm = rng.permutation(len(t))
        T[k, :len(t)], E[k, :len(t)] = t[perm], e[perm]
    b = bounds(4)
    together = half_hour_usage(T, E, b)
    for k in range(6):
        alone = half_hour_usage(rows_t[k], rows_e[k], b)
        np.testing.assert_allclose(together.energy_kwh[k], alone.energy_kwh[0], equal_nan=True)
        assert together.resets[k] == alone.resets[0]
    assert together.resets[2] == 1


def test_rerun_is_identical():
    t, e = minute_series(3, kw=0.7)
    e[33] = 1e6
    a = half_hour_usage(t, e, bounds(3))
    b = half_hour_usage(t, e, bounds(3))
    np.testing.assert_array_equal(a.energy_kwh, b.energy_kwh)


def test_sum_by_group_nan_only_when_all_missing():
    v = np.array([[1.0, np.nan, np.nan], [2.0, 3.0, np.nan], [5.0, 5.0, 5.0]])
    labels, s = sum_by_group(v, np.array(["A", "A", "B"]))
    assert list(labels) == ["A", "B"]
    np.testing.assert_array_equal(s, [[3.0, 3.0, np.nan], [5.0, 5.0, 5.0]])
