"""`usage_day`, the daily rollup of `usage_30m`: line building, field merging in the real
InfluxDB, `usage_matrix` giving the same matrix from both measurements, and the upgrade path
for databases written before the rollup existed."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from hearth.influx import (
    SLOT_FIELDS,
    USAGE_RP,
    lines_from_arrays,
    usage_day_lines,
    usage_lines,
)
from hearth.influx.usage import day_grid

STEP = np.timedelta64(30, "m")
DAY = np.timedelta64(1, "D")
HALF_HOUR_NS = 1800 * 10**9


def _day_points(client, fuel="electricity") -> dict[tuple[str, int], dict[str, float]]:
    """usage_day as {(household, day_ns): {field: value}} with absent fields left out."""
    out = {}
    for s in client.query(f'SELECT * FROM "{client.database}"."usage"."usage_day" WHERE'
                          f" \"fuel\" = '{fuel}' GROUP BY \"household\""):
        for i, t in enumerate(s.values["time"]):
            out[(s.tags["household"], int(t))] = {
                c: float(s.values[c][i]) for c in s.columns
                if c.startswith("energy_kwh_") and np.isfinite(s.values[c][i])}
    return out


def _portfolio(start, days, households, seed):
    """Half-hourly usage with the awkward parts: missing slots, a household only part of the
    period, a whole missing day, values that are exactly 0."""
    rng = np.random.default_rng(seed)
    steps = days * 48
    e = np.round(rng.gamma(2.0, 0.2, (len(households), steps)), 3)
    e[rng.random(e.shape) < 0.08] = np.nan          # scattered missing half hours
    e[rng.random(e.shape) < 0.03] = 0.0             # empty home, supply off
    e[0, : steps // 3] = np.nan                     # moved in later
    e[1, 48 * 2: 48 * 3] = np.nan                   # a whole day without data
    e[2, 17:61] = np.nan                            # a gap across midnight
    times = start + np.arange(steps) * STEP
    return e, times


def _write(client, e, times, households, fuel, writer=usage_lines):
    n_h, n_t = e.shape
    ok = np.isfinite(e).ravel()
    hh = np.repeat(np.asarray(households), n_t)[ok]
    t = np.tile(times.astype("datetime64[ns]").astype(np.int64), n_h)[ok]
    if writer is usage_lines:
        lines = usage_lines(hh, fuel, e.ravel()[ok], t)
    else:  # usage_30m only, as written before usage_day existed
        lines = lines_from_arrays("usage_30m", {"household": hh, "fuel": fuel},
                                  {"energy_kwh": e.ravel()[ok]}, t)
    assert client.write_lines(lines, retention_policy=USAGE_RP).dead_lettered == 0


def test_slot_fields_name_the_utc_start_of_each_half_hour():
    assert len(SLOT_FIELDS) == 48 and len(set(SLOT_FIELDS)) == 48
    assert SLOT_FIELDS[:3] == ("energy_kwh_0000", "energy_kwh_0030", "energy_kwh_0100")
    assert SLOT_FIELDS[-1] == "energy_kwh_2330"


def test_day_lines_hold_only_known_slots_at_midnight_utc():
    day = np.datetime64("2026-03-29T00:00", "ns")   # UK clocks go forward: still 48 UTC slots
    t = np.concatenate([day + np.arange(48) * STEP, day + DAY + np.array([0, 5]) * STEP])
    e = np.arange(50) / 8
    e[3] = np.nan
    hh = np.array(["H1"] * 48 + ["H2"] * 2)
    lines = usage_day_lines(hh, "electricity", e, t)
    assert len(lines) == 2
    h1 = next(x for x in lines if "household=H1" in x)
    assert h1.startswith("usage_day,fuel=electricity,household=H1 energy_kwh_0000=0.0,")
    assert "energy_kwh_0130" not in h1 and "nan" not in h1.lower()
    assert h1.count("=") == 2 + 47 and h1.endswith(f" {day.astype(np.int64)}")
    h2 = next(x for x in lines if "household=H2" in x)
    assert h2 == (f"usage_day,fuel=electricity,household=H2 energy_kwh_0000=6.0,"
                  f"energy_kwh_0230=6.125 {(day + DAY).astype(np.int64)}")
    # A time inside a half hour counts for that half hour; of two values the later wins.
    names, fuels, days, grid = day_grid("H3", "gas", [1.0, 2.0],
                                        [day + np.timedelta64(10, "m"), day])
    assert names.tolist() == ["H3"] and fuels.tolist() == ["gas"] and grid[0, 0] == 2.0
    assert np.isnan(grid[0, 1:]).all() and days.tolist() == [int(day.astype(np.int64))]
    assert usage_day_lines("H1", "gas", [np.nan], [day]) == []
    # usage_lines: the rollup first (a run cut off between the two leaves no usage_30m without
    # its rollup), then the usage_30m points for the same values.
    both = usage_lines(hh, "electricity", e, t)
    assert both[:2] == lines and len(both) == 2 + 49
    assert all(x.startswith("usage_30m,") for x in both[2:])


def test_partial_days_written_later_are_merged_not_replaced(client):
    """InfluxDB merges the fields of a point written twice: a day derived in two runs ends up
    whole in usage_day, and a slot written again is overwritten, as its usage_30m point is."""
    day = np.datetime64("2026-01-05T00:00", "ns")
    t = day + np.arange(48) * STEP
    first = np.arange(48) / 10
    client.write_lines(usage_lines("H1", "electricity", first[:21], t[:21]), USAGE_RP)
    second = first + 100
    client.write_lines(usage_lines("H1", "electricity", second[15:], t[15:]), USAGE_RP)
    points = _day_points(client)
    assert list(points) == [("H1", int(day.astype(np.int64)))]
    fields = points[("H1", int(day.astype(np.int64)))]
    assert len(fields) == 48
    expected = np.where(np.arange(48) < 15, first, second)
    np.testing.assert_array_equal([fields[f] for f in SLOT_FIELDS], expected)
    m = client.usage_matrix(day, day + DAY)
    np.testing.assert_array_equal(m.energy_kwh[0], expected)
    np.testing.assert_array_equal(client.usage_matrix(day, day + DAY, source="usage_30m")
                                  .energy_kwh, m.energy_kwh)
    client.accept_msgpack = False  # InfluxDB 2.x / 3.x answer JSON: the same matrix
    np.testing.assert_array_equal(client.usage_matrix(day, day + DAY).energy_kwh, m.energy_kwh)
    # H2 used energy that morning only: an afternoon's matrix does not list it.
    client.write_lines(usage_lines("H2", "electricity", first[:6], t[:6]), USAGE_RP)
    for source in ("usage_day", "usage_30m"):
        pm = client.usage_matrix(day + np.timedelta64(12, "h"), day + DAY, source=source)
        assert pm.households.tolist() == ["H1"] and pm.shape == (1, 24)
        np.testing.assert_array_equal(pm.energy_kwh[0], expected[24:])


@pytest.mark.parametrize("parallelism", [1, 2, 3])
def test_usage_matrix_same_from_usage_day_and_usage_30m(client, parallelism, caplog):
    """Windows cut mid-day, across both UK clock changes, with gaps, filters and fuels."""
    households = ["H001", "H002", "H003", "H004", "H005/b"]
    start = np.datetime64("2026-03-26T00:00", "ns")          # clocks forward 29 March
    e, times = _portfolio(start, 6, households, seed=1)
    _write(client, e, times, households, "electricity")
    autumn = np.datetime64("2026-10-23T12:00", "ns")          # clocks back 25 October
    g, gtimes = _portfolio(autumn, 4, households[:3], seed=2)
    _write(client, g, gtimes, households[:3], "gas")
    client.query_parallelism = parallelism
    windows = [
        ("electricity", start, start + 6 * DAY, None),
        ("electricity", start + np.timedelta64(13, "h"), start + 4 * DAY + np.timedelta64(7, "h"),
         None),
        ("electricity", "2026-03-28T23:10:00Z", "2026-03-29T02:01:00+00:00", ["H005/b", "H999"]),
        ("electricity", start - 2 * DAY, start + DAY, ["H003", "H001"]),
        ("electricity", start + 5 * DAY + np.timedelta64(21, "h"), start + 9 * DAY, None),
        ("gas", autumn - DAY, autumn + 5 * DAY, None),
        ("gas", "2026-10-25T00:30:00Z", "2026-10-25T03:00:00Z", ["H002"]),
    ]
    with caplog.at_level(logging.WARNING, logger="hearth.influx"):
        for fuel, lo, hi, houses in windows:
            day = client.usage_matrix(lo, hi, fuel=fuel, households=houses)
            half = client.usage_matrix(lo, hi, fuel=fuel, households=houses, source="usage_30m")
            assert day.households.tolist() == half.households.tolist(), (fuel, lo)
            np.testing.assert_array_equal(day.times, half.times)
            np.testing.assert_array_equal(day.energy_kwh, half.energy_kwh)  # NaN where NaN
            assert np.isfinite(day.energy_kwh).any() or fuel == "gas" or houses
    assert "rebuild-usage-day" not in caplog.text  # the rollup was complete: no fallback
    # And the matrix holds exactly what was written.
    m = client.usage_matrix(start, start + 6 * DAY)
    assert m.households.tolist() == households
    np.testing.assert_array_equal(m.energy_kwh, e)
    g_m = client.usage_matrix(autumn, autumn + 4 * DAY, fuel="gas")
    np.testing.assert_array_equal(g_m.energy_kwh, g)


def test_database_written_before_usage_day_falls_back_then_rebuilds(settings, caplog, capsys):
    """Old days only in usage_30m, newer ones (from the middle of a day) in both: the matrix is
    whole and right, a warning names the command, and the command makes the rollup."""
    from hearth.cli import build_parser
    from hearth.influx import InfluxClient

    households = ["H1", "H2", "H3"]
    start = np.datetime64("2026-02-01T00:00", "ns")
    e, times = _portfolio(start, 5, households, seed=3)
    upgrade = 3 * 48 + 20                     # the new version ran from 10:00 on day 3
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        _write(client, e[:, :upgrade], times[:upgrade], households, "electricity",
               writer=lines_from_arrays)
        _write(client, e[:, upgrade - 4:], times[upgrade - 4:], households, "electricity")
        with caplog.at_level(logging.WARNING, logger="hearth.influx"):
            m = client.usage_matrix(start, start + 5 * DAY)
        np.testing.assert_array_equal(m.energy_kwh, e)
        assert "hearth collect rebuild-usage-day --fuel electricity --since 2026-02-01T00:00Z"\
               " --until 2026-02-05T00:00Z" in caplog.text
        # Only usage_30m at all (nothing written since): the same matrix, from usage_30m.
        later = client.usage_matrix(start, start + 2 * DAY, households=["H2"])
        np.testing.assert_array_equal(later.energy_kwh, e[1:2, :96])

        args = build_parser().parse_args(["collect", "rebuild-usage-day", "--fuel",
                                          "electricity"])
        assert args.func(args, settings) == 0
        out = capsys.readouterr().out
        assert "usage_day electricity 2026-02-01 to 2026-02-05" in out
        assert f"from {int(np.isfinite(e).sum())} half hours" in out
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="hearth.influx"):
            m2 = client.usage_matrix(start, start + 5 * DAY)
        assert "rebuild-usage-day" not in caplog.text
        np.testing.assert_array_equal(m2.energy_kwh, e)
        days = _day_points(client)
        assert len(days) == sum(np.isfinite(e[h, d * 48:(d + 1) * 48]).any()
                                for h in range(3) for d in range(5))
        # Nothing to rebuild for a fuel without usage_30m.
        args = build_parser().parse_args(["collect", "rebuild-usage-day", "--fuel", "gas"])
        assert args.func(args, settings) == 0
        assert "no usage_30m, nothing to rebuild" in capsys.readouterr().out


def test_rollup_missing_at_the_end_is_read_from_usage_30m(client, caplog):
    """A writer that bypassed usage_lines after the rollup began: its days still count."""
    start = np.datetime64("2026-02-09T00:00", "ns")
    e, times = _portfolio(start, 4, ["H1", "H2", "H3"], seed=4)
    _write(client, e[:, :100], times[:100], ["H1", "H2", "H3"], "electricity")
    _write(client, e[:, 100:], times[100:], ["H1", "H2", "H3"], "electricity",
           writer=lines_from_arrays)
    with caplog.at_level(logging.WARNING, logger="hearth.influx"):
        m = client.usage_matrix(start, start + 4 * DAY)
    np.testing.assert_array_equal(m.energy_kwh, e)
    assert "--since 2026-02-11T00:00Z --until 2026-02-13T00:00Z" in caplog.text


def test_unknown_source_is_refused(client):
    with pytest.raises(ValueError, match="usage_week"):
        client.usage_matrix("2026-01-01", "2026-01-02", source="usage_week")
