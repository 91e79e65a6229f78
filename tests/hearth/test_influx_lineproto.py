"""Line protocol: escaping rules, rejections with clear errors, and exact round trips of hostile
names and values through the real InfluxDB (property-based)."""

from __future__ import annotations

import itertools
import math
import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hearth.influx import LineProtocolError, Point, lines_from_arrays, quote_ident
from hearth.influx.lineproto import _shortest_float_text

NOW_NS = (time.time_ns() // 10**9 - 3600) * 10**9
HOSTILE = " ,=\"'\\\t{}#é€😀ß\u00a0\x00"
_counter = itertools.count()


def hostile_text(min_size=0, max_size=12):
    return st.text(alphabet=st.sampled_from(list(HOSTILE) + list("abcXYZ019_-.")),
                   min_size=min_size, max_size=max_size)


def representable(kind: str):
    """What InfluxDB can store exactly as a name or tag value (see lineproto's docstring)."""
    make = {"measurement": lambda v: Point(v, {}, {"f": 1.0}),
            "tag key": lambda v: Point("m", {v: "x"}, {"f": 1.0}),
            "tag value": lambda v: Point("m", {"k": v}, {"f": 1.0}),
            "field key": lambda v: Point("m", {}, {v: 1.0})}[kind]

    def check(value: str) -> bool:
        try:
            make(value).to_line()
        except LineProtocolError:
            return False
        return True
    return check


field_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    hostile_text(0, 20).filter(lambda v: "\x00" not in v),  # NUL is refused (tested below)
)


def raw_query(client, q):
    """The server's own JSON (no numpy conversion) to compare values exactly."""
    resp = client.session.post(f"{client.url}/query", params={"db": client.database,
                                                              "epoch": "ns"}, data={"q": q})
    resp.raise_for_status()
    return resp.json()["results"][0].get("series", [])


@settings(max_examples=int(os.environ.get("HEARTH_HYPOTHESIS_EXAMPLES", "200")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(prefix=hostile_text(0, 8).filter(representable("measurement")),
       tags=st.dictionaries(hostile_text(1, 8).filter(representable("tag key")),
                            hostile_text(1, 10).filter(representable("tag value")), max_size=3),
       fields=st.dictionaries(hostile_text(1, 8).filter(representable("field key")),
                              field_values, min_size=1, max_size=4))
@example(prefix="a b,c", tags={"t k": "v,1=2", "q": 'say "hi"', "u": "é😀", "b": "a\\b"},
         fields={"s": "trailing\\", "e": "", "q": '"', "i": 1, "f": 1.0, "n": -0.0,
                 "big": 2**63 - 1, "tiny": 5e-324, "b": False, "x=y z,w": "\\\\"})
def test_round_trip_hostile_values(client, prefix, tags, fields):
    measurement = f"{prefix}rt{next(_counter)}"
    t = NOW_NS + next(_counter)
    point = Point(measurement, tags, fields, t)
    result = client.write_points([point])
    assert (result.written, result.dead_lettered) == (1, 0), client.dead_letters.read()
    [series] = raw_query(client, f"SELECT * FROM {quote_ident(measurement)} GROUP BY *")
    assert series["name"] == measurement
    assert series.get("tags", {}) == tags
    [row] = series["values"]
    got = dict(zip(series["columns"], row, strict=True))
    assert got.pop("time") == t
    assert got.keys() == fields.keys()
    kinds = dict(raw_query(client, f"SHOW FIELD KEYS FROM {quote_ident(measurement)}")[0]
                 ["values"])
    for k, v in fields.items():
        if isinstance(v, float):  # JSON may print an integral float without a point
            assert (kinds[k], float(got[k])) == ("float", v)
        else:
            expected = {bool: "boolean", int: "integer", str: "string"}[type(v)]
            assert (kinds[k], type(got[k]), got[k]) == (expected, type(v), v)


def test_field_types_are_kept(client):
    client.write_points([Point("types", {}, {"f": 1.0, "i": 1, "b": False, "s": ""}, NOW_NS)])
    keys = raw_query(client, 'SHOW FIELD KEYS FROM "types"')[0]["values"]
    assert dict(keys) == {"f": "float", "i": "integer", "b": "boolean", "s": "string"}
    [row] = raw_query(client, 'SELECT * FROM "types"')[0]["values"]
    assert row[1:] == [False, 1.0, 1, ""]


@pytest.mark.parametrize(("make", "words"), [
    (lambda: Point("m", {"k": ""}, {"f": 1.0}), ["tag value", "empty"]),
    (lambda: Point("m", {"k": "a\nb"}, {"f": 1.0}), ["newline", "'a\\nb'"]),
    (lambda: Point("m", {"k": "end\\"}, {"f": 1.0}), ["backslash", "'end\\\\'"]),
    (lambda: Point("m", {"k": "a\\,b"}, {"f": 1.0}), ["backslash"]),
    (lambda: Point("m\\", {}, {"f": 1.0}), ["measurement", "backslash"]),
    (lambda: Point("", {}, {"f": 1.0}), ["measurement", "empty"]),
    (lambda: Point("m", {}, {"f": math.nan}), ["'f'", "NaN"]),
    (lambda: Point("m", {}, {"f": -math.inf}), ["'f'", "infinity"]),
    (lambda: Point("m", {}, {"f": 2**63}), ["64 bits"]),
    (lambda: Point("m", {}, {"s": "two\nlines"}), ["'s'", "newline"]),
    (lambda: Point("m", {}, {"s": "nul\x00"}), ["'s'", "NUL"]),
    (lambda: Point("m", {"k\x00": "v"}, {"f": 1.0}), ["tag key", "NUL"]),
    (lambda: Point("#m", {}, {"f": 1.0}), ["'#'", "comment"]),
    (lambda: Point("\tm", {}, {"f": 1.0}), ["measurement", "tab"]),
    (lambda: Point("m", {}, {"\tf": 1.0}), ["field key", "tab"]),
    (lambda: Point("m", {}, {"f": [1]}), ["type list"]),
    (lambda: Point("m", {}, {}), ["no fields"]),
    (lambda: Point("m", {}, {"time": 1.0}), ["'time'", "reserved"]),
])
def test_rejections_name_the_value(make, words):
    with pytest.raises(LineProtocolError) as err:
        make().to_line()
    for w in words:
        assert w in str(err.value)
    assert "\n" not in str(err.value)


def test_escaping_is_exact():
    p = Point("a b,c=d", {"t k": "v,1=2", "z": 'q"\\x'}, {"f k": 'x"y\\', "n": -3, "g": 1e-7,
                                                          "b": True}, 5)
    assert p.to_line() == ('a\\ b\\,c=d,t\\ k=v\\,1\\=2,z=q"\\x f\\ k="x\\"y\\\\",n=-3i,'
                           'g=1e-07,b=true 5')


def test_lines_from_arrays_matches_points():
    rng = np.random.default_rng(3)
    n = 200
    hh = np.array(["H 1", "H,2", "H=3", "é"])[rng.integers(0, 4, n)]
    fields = {"e kwh": rng.normal(size=n) * 1e6, "n": rng.integers(-10**12, 10**12, n),
              "on": rng.random(n) > 0.5, "s": np.array(['a"b', "c\\", ""], dtype=object)[
                  rng.integers(0, 3, n)]}
    t = NOW_NS + np.arange(n)
    lines = lines_from_arrays("m x", {"household": hh, "fuel": "gas"}, fields, t)
    expected = [with_array_float_text(
        Point("m x", {"household": hh[i], "fuel": "gas"},
              {k: v[i].item() if hasattr(v[i], "item") else v[i] for k, v in fields.items()},
              int(t[i])).to_line(), "e\\ kwh", fields["e kwh"][i]) for i in range(n)]
    assert lines == expected
    # datetime64 times are accepted as well
    assert lines_from_arrays("m x", {"household": hh, "fuel": "gas"}, fields,
                             t.view("datetime64[ns]")) == lines


def test_float32_columns_use_the_shortest_float32_text(client):
    volts = np.array([231.1, 0.1, 3.4e38, 1e-7], dtype=np.float32)
    lines = lines_from_arrays("f32", {}, {"voltage_v": volts}, NOW_NS + np.arange(4))
    assert [line.split()[1] for line in lines] == ["voltage_v=231.1", "voltage_v=0.1",
                                                   "voltage_v=3.4e+38", "voltage_v=1e-7"]
    client.write_lines(lines)
    [s] = client.query('SELECT "voltage_v" FROM "f32"')
    np.testing.assert_array_equal(s.values["voltage_v"].astype(np.float32), volts)


def test_prefix_cache_still_rejects_bad_values():
    good = np.array(["H1", "H2"])
    lines_from_arrays("m", {"h": good}, {"v": np.ones(2)}, np.arange(2))
    with pytest.raises(LineProtocolError, match="tag value"):
        lines_from_arrays("m", {"h": np.array(["H1", "bad\\"])}, {"v": np.ones(2)},
                          np.arange(2))


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"fields": {"v": np.array([1.0, np.nan, 2.0])}}, ["'v'", "index 1", "nan"]),
    ({"fields": {"v": np.ones(2)}}, ["'v'", "shape (2,)", "(3,)"]),
    ({"tags": {"h": np.array(["a", "", "b"])}}, ["tag value", "empty", "'h'"]),
    ({"time_ns": np.array([1.0, 2.0, 3.0])}, ["time_ns", "float64"]),
])
def test_lines_from_arrays_rejections(kwargs, words):
    args = {"measurement": "m", "tags": {"h": "x"}, "fields": {"v": np.ones(3)},
            "time_ns": np.arange(3)}
    args.update(kwargs)
    with pytest.raises(LineProtocolError) as err:
        lines_from_arrays(**args)
    for w in words:
        assert w in str(err.value)


@settings(max_examples=int(os.environ.get("HEARTH_HYPOTHESIS_EXAMPLES", "200")), deadline=None)
@given(data=st.data(), n=st.integers(1, 30))
def test_lines_from_arrays_equals_points_for_hostile_values(data, n):
    tag_value = hostile_text(1, 6).filter(representable("tag value"))
    tags = {"a b": np.array(data.draw(st.lists(tag_value, min_size=n, max_size=n))),
            "c,d": data.draw(tag_value)}
    floats = np.array(data.draw(st.lists(st.floats(allow_nan=False, allow_infinity=False),
                                         min_size=n, max_size=n)))
    ints = np.array(data.draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n,
                                       max_size=n)), dtype=np.int64)
    text = np.array(data.draw(st.lists(hostile_text(0, 6).filter(lambda v: "\x00" not in v),
                                       min_size=n, max_size=n)), dtype=object)
    t = NOW_NS + np.arange(n)
    lines = lines_from_arrays("m e", tags, {"f=1": floats, "i": ints, "s": text}, t)
    for i, line in enumerate(lines):
        expected = Point("m e", {"a b": str(tags["a b"][i]), "c,d": tags["c,d"]},
                         {"f=1": float(floats[i]), "i": int(ints[i]), "s": text[i]},
                         int(t[i])).to_line()
        assert line == with_array_float_text(expected, "f\\=1", floats[i])


def with_array_float_text(line: str, escaped_key: str, value) -> str:
    """`Point.to_line` writes floats with repr; arrays use the same shortest round-trip text,
    which may differ in form ("1e-7" for "1e-07", "5" for "5.0"). Swap that one field."""
    token = f"{escaped_key}={float(value)!r}"
    assert token in line
    return line.replace(token, f"{escaped_key}={_shortest_float_text(np.array([value]))[0]}", 1)


@settings(max_examples=int(os.environ.get("HEARTH_HYPOTHESIS_EXAMPLES", "200")), deadline=None)
@given(floats=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1,
                       max_size=50),
       singles=st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1,
                        max_size=50))
def test_array_float_text_reads_back_exactly(floats, singles):
    doubles = np.array(floats, dtype=np.float64)
    text = _shortest_float_text(doubles)
    assert [float(x) for x in text] == doubles.tolist()
    f32 = np.array(singles, dtype=np.float32)
    assert np.array([np.float32(x) for x in _shortest_float_text(f32)],
                    dtype=np.float32).tobytes() == f32.tobytes()


def test_array_floats_round_trip_through_influxdb(client):
    """Extremes of the shortest text (exponents, subnormals, -0, integral floats) are floats
    InfluxDB reads back exactly, not integers."""
    values = np.array([5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e-7, 1e16,
                       1e22, 5.0, -0.0, -123.456, 0.30000000000000004, 2.0**53 + 2])
    t = NOW_NS + np.arange(len(values))
    assert client.write_lines(lines_from_arrays("extremes", {}, {"v": values}, t)).written \
        == len(values)
    [s] = client.query('SELECT "v" FROM "extremes"')
    np.testing.assert_array_equal(s.values["v"], values)
    kinds = dict(raw_query(client, 'SHOW FIELD KEYS FROM "extremes"')[0]["values"])
    assert kinds == {"v": "float"}
