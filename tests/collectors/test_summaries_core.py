"""The pure cores of the advisor's summaries (collectors/summaries.py): half-hour cells and
runs of repeated readings cut at half hours and joined again (advisor.inputs._join_runs) give
what the whole series gives (advisor.rules.faults.repeat_runs, the raw loader's reduction)."""

import numpy as np
import pytest

from advisor.inputs import _join_runs
from advisor.rules.faults import repeat_runs
from collectors.summaries import (
    HALF_HOUR_NS,
    METER_FIELDS,
    REPEAT_FIELDS,
    repeat_flags,
    summarise,
)

NS = 10**9


def _series(rng, n, step_s=60):
    t = np.cumsum(rng.choice([step_s, step_s, step_s, 2 * step_s, 5 * step_s], n)) * NS
    t += 1_800_000_000 * NS
    energy = np.cumsum(rng.choice([0.0, 0.0, 0.01, 0.02], n))  # many standing registers
    power = rng.choice([0.0, 50.0, 300.0], n)
    return t.astype(np.int64), energy, power


@pytest.mark.parametrize("seed", range(20))
def test_run_segments_join_to_the_whole_series_runs(seed):
    rng = np.random.default_rng(seed)
    t, energy, power = _series(rng, 400)
    sid = np.zeros(len(t), np.int64)
    values = {"energy_kwh": energy, "power_w": power, **{f: np.full(len(t), np.nan) for f in
                                                         METER_FIELDS if f not in
                                                         ("energy_kwh", "power_w")}}
    # The window starts at a half hour inside the series: its first reading repeats nothing.
    w0 = int(t[37]) // HALF_HOUR_NS * HALF_HOUR_NS + HALF_HOUR_NS

    def reps(s, tt, v):
        return repeat_flags(s, tt, [v["energy_kwh"]], rate=v["power_w"])

    _, cells_t, out = summarise(sid, t, values, "energy_kwh", METER_FIELDS, reps, w0)
    assert (np.diff(cells_t) > 0).all() and cells_t[0] >= w0
    n, span, units = _join_runs({k: np.nan_to_num(out[k]) for k in REPEAT_FIELDS})
    # The raw loader's view: only readings in the window, repeats of the one before in it.
    inside = t >= w0
    rep, gap, amount = repeat_flags(sid[inside], t[inside], [energy[inside]],
                                    rate=power[inside])
    want = repeat_runs(t[inside][rep] / NS, gap[rep], amount[rep])
    assert (n, span) == (want[0], pytest.approx(want[1]))
    assert units == pytest.approx(want[2])


def test_cells_hold_the_half_hours_statistics():
    t = (1_800_000_000 + np.array([0, 600, 1200, 1800, 2400])) * NS
    t = t - t[0] % HALF_HOUR_NS
    e = np.array([1.0, 1.5, np.nan, 2.0, 2.0])
    v = np.array([240.0, 241.0, 239.0, np.nan, 240.0])
    values = {f: np.full(5, np.nan) for f in METER_FIELDS}
    values.update(energy_kwh=e, voltage_v=v, supply_on=np.array([1.0, 1.0, 0.0, 1.0, 1.0]))
    _, cells_t, out = summarise(np.zeros(5, np.int64), t.astype(np.int64), values,
                                "energy_kwh", METER_FIELDS)
    assert len(cells_t) == 2
    assert out["energy_max_kwh"].tolist() == [1.5, 2.0]
    assert out["energy_n"].tolist() == [2, 2]
    assert out["voltage_min_v"].tolist() == [239.0, 240.0]
    assert out["supply_on"].tolist() == [0.0, 1.0]          # the last report in the half hour
    assert out["gap_max_s"].tolist() == [600.0, 600.0]      # between energy readings only
    assert out["first_ns"].tolist() == [t[0], t[3]] and out["last_ns"].tolist() == [t[1], t[4]]
    assert np.isnan(out["power_max_w"]).all()               # absent: no point field
