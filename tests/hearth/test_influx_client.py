"""The InfluxDB client against the real InfluxDB: writes, dead letters, queries, usage matrix,
retention policies."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hearth.influx import (
    BatchWriter,
    InfluxClient,
    Point,
    WriteResult,
    lines_from_arrays,
    usage_lines,
)
from hearth.influx.client import gzip_wanted

NOW_NS = (time.time_ns() // 10**9 - 3600) * 10**9  # inside the raw RP's 90 days


def test_write_points_and_query_types(client):
    points = [Point("meter", {"household": "H000001", "fuel": "electricity"},
                    {"energy_kwh": 12.5 + i, "count": i, "on": i % 2 == 0, "note": f"n{i}"},
                    NOW_NS + i * 10**9) for i in range(5)]
    assert client.write_points(points) == WriteResult(5, 0)
    [s] = client.query('SELECT * FROM "meter"')
    assert s.name == "meter" and len(s) == 5
    assert s.values["time"].dtype == np.int64
    np.testing.assert_array_equal(s.values["time"], NOW_NS + np.arange(5) * 10**9)
    assert s.values["energy_kwh"].dtype == np.float64
    np.testing.assert_array_equal(s.values["energy_kwh"], 12.5 + np.arange(5))
    np.testing.assert_array_equal(s.values["count"], np.arange(5.0))
    assert s.values["on"].tolist() == [True, False, True, False, True]
    assert s.values["note"].tolist() == [f"n{i}" for i in range(5)]
    [g] = client.query('SELECT last("energy_kwh") FROM "meter" GROUP BY "household"')
    assert g.tags == {"household": "H000001"}


def test_writing_again_overwrites_not_duplicates(client):
    lines = [f"meter,household=H1 energy_kwh={i}.5 {NOW_NS + i}" for i in range(100)]
    client.write_lines(lines)
    client.write_lines(lines)
    [s] = client.query('SELECT count("energy_kwh") FROM "meter"')
    assert s.values["count"][0] == 100


def test_conflicting_field_type_is_dead_lettered_rest_written(client):
    good = [f"meter,household=H{i} energy_kwh={i}.25 {NOW_NS + i}" for i in range(50)]
    bad = f"meter,household=H7 energy_kwh=3i {NOW_NS + 1000}"
    lines = [*good[:20], bad, *good[20:]]
    result = client.write_lines(lines)
    assert result == WriteResult(50, 1)
    [s] = client.query('SELECT "energy_kwh" FROM "meter"')
    np.testing.assert_array_equal(np.sort(s.values["energy_kwh"]), np.arange(50) + 0.25)
    [letter] = client.dead_letters.read()
    assert letter["line"] == bad
    assert "field type conflict" in letter["error"] and "energy_kwh" in letter["error"]
    assert letter["database"] == client.database and letter["time"]


def test_unparsable_line_is_dead_lettered_by_name(client):
    lines = [f"m v={i}.0 {NOW_NS + i}" for i in range(10)] + ["m v=notanumber"]
    assert client.write_lines(lines) == WriteResult(10, 1)
    [letter] = client.dead_letters.read()
    assert letter["line"] == "m v=notanumber" and "unable to parse" in letter["error"]


def test_batches_by_size(influx_settings):
    with InfluxClient.from_settings(influx_settings) as c:
        c.ensure_database()
        c.batch_size = 7
        lines = [f"m v={i}.0 {NOW_NS + i}" for i in range(100)]
        assert c.write_lines(lines) == WriteResult(100, 0)
        [s] = c.query('SELECT count("v") FROM "m"')
        assert s.values["count"][0] == 100


def test_lines_from_arrays_round_trip(client):
    n = 1000
    rng = np.random.default_rng(1)
    households = np.array([f"H{i:06d}" for i in rng.integers(0, 30, n)])
    energy = rng.random(n) * 1e3
    power = rng.integers(-5, 5000, n)
    t = NOW_NS + np.arange(n, dtype=np.int64) * 10**6
    lines = lines_from_arrays("meter", {"household": households, "fuel": "gas",
                                        "device": np.char.add("D ", households)},
                              {"energy_kwh": energy, "power_w": power}, t)
    assert len(lines) == n
    assert lines[0] == (f"meter,device=D\\ {households[0]},fuel=gas,household={households[0]}"
                        f" energy_kwh={float(energy[0])!r},power_w={power[0]}i {t[0]}")
    assert client.write_lines(lines) == WriteResult(n, 0)
    got = {}
    for s in client.query('SELECT "energy_kwh", "power_w" FROM "meter" GROUP BY "household"'):
        for tt, e, p in zip(s.values["time"], s.values["energy_kwh"], s.values["power_w"],
                            strict=True):
            got[int(tt)] = (s.tags["household"], e, p)
    assert len(got) == n
    for i in range(n):
        assert got[int(t[i])] == (households[i], energy[i], float(power[i]))


def test_batch_writer_by_size_and_time(client):
    with BatchWriter(client, batch_size=100, flush_interval_s=0.2) as w:
        w.add([f"m v={i}.0 {NOW_NS + i}" for i in range(250)])
        time.sleep(1.0)  # the 50 left over are written by time, without flush()
        [s] = client.query('SELECT count("v") FROM "m"')
        assert s.values["count"][0] == 250
        w.add(f"m v=1.5 {NOW_NS + 10**6}\nm v=2.5 {NOW_NS + 10**6 + 1}")
    assert w.result == WriteResult(252, 0)


def test_usage_matrix_shape_nan_and_time_index(client):
    start = np.datetime64("2026-01-05T00:00", "ns")
    step = np.timedelta64(30, "m")
    # H2 has every half hour of the first day except one; H1 only two; H3 is gas only.
    # usage_30m alone, as before usage_day existed: usage_matrix reads it from there.
    t2 = start + np.arange(48) * step
    keep = np.arange(48) != 10
    lines = lines_from_arrays("usage_30m", {"household": "H2", "fuel": "electricity"},
                              {"energy_kwh": np.arange(48.0)[keep]}, t2[keep])
    lines += lines_from_arrays("usage_30m", {"household": "H1", "fuel": "electricity"},
                               {"energy_kwh": np.array([0.5, 0.75])}, t2[[0, 47]])
    lines += lines_from_arrays("usage_30m", {"household": "H3", "fuel": "gas"},
                               {"energy_kwh": np.array([9.0])}, t2[[3]])
    assert client.write_lines(lines, retention_policy="usage").dead_lettered == 0
    m = client.usage_matrix(start, start + np.timedelta64(1, "D"), fuel="electricity")
    assert m.shape == (2, 48) and m.energy_kwh.dtype == np.float64
    assert m.households.tolist() == ["H1", "H2"]
    assert m.times.dtype == np.dtype("datetime64[ns]")
    np.testing.assert_array_equal(m.times, t2)
    assert np.isnan(m.energy_kwh[1, 10]) and np.isnan(m.energy_kwh[1]).sum() == 1
    np.testing.assert_array_equal(m.energy_kwh[1, keep], np.arange(48.0)[keep])
    assert m.energy_kwh[0, 0] == 0.5 and m.energy_kwh[0, 47] == 0.75
    assert np.isnan(m.energy_kwh[0]).sum() == 46
    # Household order as asked, unknown households all NaN; start/end rounded out.
    m2 = client.usage_matrix("2026-01-05T00:10:00Z", "2026-01-05T01:01:00+00:00",
                             households=["H9", "H2"])
    assert m2.households.tolist() == ["H9", "H2"] and m2.shape == (2, 3)
    assert np.isnan(m2.energy_kwh[0]).all()
    np.testing.assert_array_equal(m2.energy_kwh[1], [0.0, 1.0, 2.0])
    gas = client.usage_matrix(start, start + np.timedelta64(1, "D"), fuel="gas")
    assert gas.households.tolist() == ["H3"] and gas.energy_kwh[0, 3] == 9.0


def test_ensure_database_is_idempotent_and_alters(influx_settings):
    with InfluxClient.from_settings(influx_settings) as c:
        c.ensure_database()
        c.ensure_database()
        rps = c.retention_policies()
        assert rps["raw"]["duration"] == "2160h0m0s" and rps["raw"]["default"]
        assert rps["usage"]["duration"] == f"{3650 * 24}h0m0s" and not rps["usage"]["default"]
        c.raw_retention_days, c.usage_retention_days = 30, 400
        c.ensure_database()
        rps = c.retention_policies()
        assert rps["raw"]["duration"] == "720h0m0s" and rps["raw"]["default"]
        assert rps["usage"]["duration"] == "9600h0m0s"


def test_query_error_is_one_line(client):
    from hearth.errors import InfluxError

    with pytest.raises(InfluxError, match="SELEC"):
        client.query("SELEC nonsense")


def test_ensure_database_needs_no_admin_once_created(influx_server, influx_settings):
    from tests.conftest import INFLUX_PASSWORD, INFLUX_USER

    db = influx_settings.influxdb.database
    with InfluxClient(influx_server.url, db, INFLUX_USER, INFLUX_PASSWORD) as admin:
        admin.ensure_database()
        admin.execute("CREATE USER \"officer_app\" WITH PASSWORD 'pw'")
        admin.execute(f'GRANT ALL ON "{db}" TO "officer_app"')
    with InfluxClient(influx_server.url, db, "officer_app", "pw") as user:
        user.ensure_database()  # nothing to change: no admin statement is sent
        assert user.write_lines([f"m v=1.0 {NOW_NS}"]) == WriteResult(1, 0)


def test_chunked_answers_are_merged_into_one_series(client):
    client.write_lines([f"m,h=H{i % 3} v={i}.5 {NOW_NS + i}" for i in range(100)])
    by_tag = client.query('SELECT "v" FROM "m" GROUP BY "h"', chunk_size=7)
    assert sorted(s.tags["h"] for s in by_tag) == ["H0", "H1", "H2"]
    assert sum(len(s) for s in by_tag) == 100
    [one] = client.query('SELECT "v" FROM "m"', chunk_size=7)
    np.testing.assert_array_equal(one.values["time"], NOW_NS + np.arange(100))
    np.testing.assert_array_equal(one.values["v"], np.arange(100) + 0.5)


def test_usage_matrix_over_days_read_in_slices(client):
    start = np.datetime64("2026-02-02T00:00", "ns")
    steps = 5 * 48
    t = start + np.arange(steps) * np.timedelta64(30, "m")
    for h in ("H1", "H2", "H3"):
        lines = usage_lines(h, "electricity", np.arange(steps) + int(h[1]) / 10, t)
        client.write_lines(lines, retention_policy="usage")
    for parallel in (1, 2, 3):
        client.query_parallelism = parallel
        m = client.usage_matrix(start, t[-1] + np.timedelta64(30, "m"),
                                households=["H3", "H1"])
        assert m.shape == (2, steps) and m.households.tolist() == ["H3", "H1"]
        np.testing.assert_array_equal(m.energy_kwh[0], np.arange(steps) + 0.3)
        np.testing.assert_array_equal(m.energy_kwh[1], np.arange(steps) + 0.1)
    assert client.usage_matrix(start, t[-1], households=[]).shape == (0, steps - 1)


def test_points_outside_the_retention_policy_are_dead_lettered(client):
    old = NOW_NS - 400 * 86_400 * 10**9  # older than the raw RP's 90 days
    result = client.write_lines([f"m v=1.0 {NOW_NS}", f"m v=2.0 {old}"])
    assert result == WriteResult(1, 1)
    [letter] = client.dead_letters.read()
    assert letter["line"].endswith(str(old)) and "retention policy" in letter["error"]


def test_unknown_retention_policy_is_a_clear_error(client):
    from hearth.errors import InfluxError

    with pytest.raises(InfluxError, match="retention policy not found") as err:
        client.write_lines([f"m v=1.0 {NOW_NS}"], retention_policy="nosuch")
    assert "hearth stack up" in str(err.value) and "\n" not in str(err.value)


def test_json_answers_give_the_same_series(client):
    """Servers that do not speak MessagePack (2.x, 3.x) answer JSON, chunked line by line."""
    client.write_lines([f"m,h=H{i % 2} v={i}.5,s=\"x{i}\",b=true {NOW_NS + i}"
                        for i in range(50)])
    q = 'SELECT * FROM "m" GROUP BY "h"'
    packed = client.query(q, chunk_size=7)
    client.accept_msgpack = False
    plain = client.query(q, chunk_size=7)
    assert [s.tags for s in plain] == [s.tags for s in packed]
    for a, b in zip(plain, packed, strict=True):
        assert a.columns == b.columns
        for c in a.columns:
            np.testing.assert_array_equal(a.values[c], b.values[c])
            assert a.values[c].dtype == b.values[c].dtype
    start = np.datetime64(NOW_NS, "ns")
    client.write_lines(lines_from_arrays("usage_30m", {"household": "H1", "fuel": "electricity"},
                                         {"energy_kwh": np.array([1.5])}, [NOW_NS]), "usage")
    m = client.usage_matrix(start, start + np.timedelta64(1, "h"))
    assert m.households.tolist() == ["H1"] and np.nanmax(m.energy_kwh) == 1.5


def test_flush_waits_for_batches_taken_by_time(client):
    with BatchWriter(client, batch_size=10_000, flush_interval_s=0.01) as w:
        for k in range(10):
            w.add([f"m v={k}.5 {NOW_NS + k * 100 + i}" for i in range(100)])
            time.sleep(0.015)  # a sender may take the buffer by time just now
            w.flush()
            assert w.result.written == (k + 1) * 100
    [s] = client.query('SELECT count("v") FROM "m"')
    assert s.values["count"][0] == 1000


@pytest.mark.parametrize(("setting", "url", "expected"), [
    ("auto", "http://127.0.0.1:8086", False), ("auto", "http://localhost:8086", False),
    ("auto", "http://[::1]:8086", False), ("auto", "https://influx.council.example:8086", True),
    ("auto", "http://10.0.0.5:8086", True), (True, "http://127.0.0.1:8086", True),
    (False, "https://influx.council.example", False)])
def test_gzip_auto_compresses_only_across_a_network(setting, url, expected):
    assert gzip_wanted(setting, url) is expected


@pytest.mark.parametrize("gzip_body", [True, False])
def test_gzip_and_plain_writes_both_land(influx_server, gzip_body):
    with InfluxClient(influx_server.url, f"gz_{gzip_body}".lower(), influx_server.username,
                      influx_server.password, gzip_body=gzip_body) as client:
        assert client.gzip is gzip_body
        client.ensure_database()
        t = NOW_NS + np.arange(3000)
        lines = lines_from_arrays("meter", {"household": "H1"},
                                  {"energy_kwh": np.linspace(0, 1, 3000)}, t)
        assert client.write_lines(lines) == WriteResult(3000, 0)
        [s] = client.query('SELECT "energy_kwh" FROM "meter"')
        np.testing.assert_array_equal(s.values["energy_kwh"], np.linspace(0, 1, 3000))
