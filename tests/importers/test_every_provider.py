"""The same promises checked for every provider against its stub (tests/importers/stubs.py,
documented shapes): paging (Octopus pages; Glowmarkt and n3rgy windows, here one day each),
a gap that stays a gap, 429 with Retry-After and 500 retried, the gap's late arrival picked up
by the next run without --since (look-back), and a re-run that doubles nothing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from hearth.influx import InfluxClient
from importers.providers import MeterPoint
from importers.smart_meter import run_import
from tests.importers.conftest import DAY0, DAY0_S, add_home

HH = 1800
MPAN = "1200023305967"
POINTS = {
    "octopus": (MeterPoint("X1", "electricity", "octopus", MPAN, "SER1"), f"{MPAN}/SER1"),
    "glowmarkt": (MeterPoint("X1", "electricity", "glowmarkt", MPAN, resource_id="res-1"),
                  "res-1"),
    "n3rgy": (MeterPoint("X1", "electricity", "n3rgy", MPAN), "electricity"),
}


def one_day_windows(settings):
    sm = settings.importers.smart_meter.model_copy(update={"n3rgy_max_days": 1,
                                                           "glowmarkt_max_days": 1})
    return settings.model_copy(update={"importers": settings.importers.model_copy(
        update={"smart_meter": sm})})


def stored(settings) -> dict[int, float]:
    with InfluxClient.from_settings(settings) as db:
        m = db.usage_matrix(DAY0, DAY0 + dt.timedelta(days=3), households=["X1"])
        n = sum(len(s) for s in db.query('SELECT "energy_kwh" FROM "usage"."import_30m"'))
    t = m.times.astype("datetime64[s]").astype(np.int64)
    got = {int(a): float(b) for a, b in zip(t, m.energy_kwh[0], strict=True) if np.isfinite(b)}
    assert n == len(got)                                  # one import_30m point per half hour
    return got


@pytest.mark.parametrize("name", ["octopus", "glowmarkt", "n3rgy"])
def test_paging_gap_retries_late_data_rerun(name, request, isettings, reg, secrets_env):
    stub = request.getfixturevalue(name)
    settings = one_day_windows(isettings)
    point, key = POINTS[name]
    add_home(reg, "X1", point)
    rows = {DAY0_S + i * HH: round(0.05 + i / 1000, 3) for i in range(96)}   # two days
    gap = DAY0_S + 60 * HH                               # inside the 1-day look-back
    stub.data[key] = {**rows, gap: None}                  # null (Glowmarkt) or absent
    stub.fail(key, 429, {"Retry-After": "2"})
    stub.fail(key, 500)
    waits = []
    day2 = DAY0 + dt.timedelta(days=2)
    [s] = run_import(settings, [name], since=DAY0, until=day2, environ=secrets_env,
                     sleep=waits.append)
    assert s.ok, s.describe()
    assert waits == [2.0, 0.0]
    expected = {t: v for t, v in rows.items() if t != gap}
    assert stored(settings) == pytest.approx(expected)
    assert s.half_hours_written == 95 and s.gaps == 1
    data_requests = [r for r in stub.requests if r.path != "/auth"]
    assert len(data_requests) >= 2 + 2                    # 2 failures, then 2 pages/windows

    # The gap's half hour arrives late, and a third day; a run without --since gets both.
    stub.data[key] = {**rows, **{DAY0_S + i * HH: 0.07 for i in range(96, 144)}}
    [s] = run_import(settings, [name], until=DAY0 + dt.timedelta(days=3), environ=secrets_env,
                     sleep=waits.append)
    got = stored(settings)
    assert got[gap] == pytest.approx(rows[gap]) and len(got) == 144 and s.ok
    # The same again: the same points, nothing added.
    run_import(settings, [name], until=DAY0 + dt.timedelta(days=3), environ=secrets_env)
    assert len(stored(settings)) == 144
