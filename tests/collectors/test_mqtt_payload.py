"""Payload validation and topic mapping on their own (no servers)."""

from __future__ import annotations

import json

import pytest

from collectors.mqtt_payload import PayloadError, PayloadParser, TopicMap, parse_ts

NOW_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
TS = "2025-12-31T23:59:00Z"
TS_NS = NOW_NS - 60 * 10**9


def parse(topic, obj, **kw):
    payload = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return PayloadParser(**kw).parse(topic, payload, now_ns=NOW_NS)


def code(topic, obj, **kw) -> str:
    with pytest.raises(PayloadError) as err:
        parse(topic, obj, **kw)
    return str(err.value).split(":")[0]


def test_electricity_meter_reading():
    key, r = parse("hearth/H000001/E1/electricity_meter",
                   {"ts": TS, "energy_kwh": 1234, "power_w": 512.5, "voltage_v": 241.0,
                    "credit_gbp": -2.5, "supply_on": False})
    assert key == "H000001/E1/electricity_meter"
    assert r.measurement == "meter" and r.time_ns == TS_NS
    assert r.tags == {"household": "H000001", "device": "E1", "fuel": "electricity",
                      "source": "mqtt"}
    assert r.fields == {"energy_kwh": 1234.0, "power_w": 512.5, "voltage_v": 241.0,
                        "credit_gbp": -2.5, "supply_on": False}
    assert isinstance(r.fields["energy_kwh"], float)


def test_gas_energy_from_volume_when_absent_and_kept_when_sent():
    _, r = parse("hearth/H1/G1/gas_meter", {"ts": TS, "volume_m3": 100.0})
    assert r.fields["energy_kwh"] == pytest.approx(100 * 1.02264 * 39.5 / 3.6)
    assert r.tags["fuel"] == "gas"
    _, r = parse("hearth/H1/G1/gas_meter", {"ts": TS, "volume_m3": 100.0, "energy_kwh": 1.0})
    assert r.fields["energy_kwh"] == 1.0


def test_thermostat_room_from_payload_or_registry():
    _, r = parse("hearth/H1/T1/thermostat", {"ts": TS, "temp_c": 16.0, "humidity_pct": 80})
    assert r.measurement == "thermostat" and "room" not in r.tags and "fuel" not in r.tags
    _, r = parse("hearth/H1/T1/thermostat", {"ts": TS, "temp_c": 16.0, "humidity_pct": 80},
                 rooms={"T1": "bedroom"})
    assert r.tags["room"] == "bedroom"
    _, r = parse("hearth/H1/T1/thermostat", {"ts": TS, "temp_c": 16.0, "humidity_pct": 80,
                                             "room": "kitchen"}, rooms={"T1": "bedroom"})
    assert r.tags["room"] == "kitchen"


@pytest.mark.parametrize(("ts", "ok"), [
    ("2025-12-31T23:59:00Z", True), ("2025-12-31T23:59:00+00:00", True),
    ("2025-12-31T23:59:00.123456Z", True), ("2025-12-31T23:59:00", False),
    ("2025-12-31T23:59:00+01:00", False), ("yesterday", False), ("", False), (17, False),
    (None, False), ("2026-13-01T00:00:00Z", False), ("1999-12-31T23:59:59Z", False),
    ("2026-01-03T00:00:01Z", False),  # more than a day ahead of NOW
])
def test_timestamps(ts, ok):
    obj = {"ts": ts, "energy_kwh": 1.0}
    if ok:
        assert parse("hearth/H1/E1/electricity_meter", obj)[1].time_ns > 0
    else:
        assert code("hearth/H1/E1/electricity_meter", obj) == "bad_ts"


def test_parse_ts_precision():
    assert parse_ts("2026-01-01T00:00:00.000001Z") == NOW_NS + 1000


@pytest.mark.parametrize(("payload", "expected"), [
    (b"not json", "invalid_json"), (b"\xff\xfe", "invalid_json"), (b"", "invalid_json"),
    (b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": NaN}', "invalid_json"),
    (b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": Infinity}', "invalid_json"),
    (b"[" * 50_000, "invalid_json"), (b"[]", "not_an_object"), (b"3", "not_an_object"),
    (b'{"energy_kwh": 1}', "missing_field"), (b'{"ts": "2025-12-31T23:59:00Z"}', "missing_field"),
    (b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": -1}', "out_of_range"),
    (b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": 1e300}', "out_of_range"),
    (b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": 1, "power_w": 30001}', "out_of_range"),
    (b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": "1"}', "bad_type"),
    (b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": true}', "bad_type"),
    (b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": null}', "bad_type"),
    (b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": 1, "supply_on": 1}', "bad_type"),
    (b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": 1, "temp_c": 20}', "unexpected_field"),
    (b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": 1, "x": "' + b"a" * 70_000 + b'"}',
     "too_large"),
])
def test_bad_payloads(payload, expected):
    assert code("hearth/H1/E1/electricity_meter", payload) == expected


def test_overflowing_float_is_refused():
    payload = b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": 1e999}'
    assert code("hearth/H1/E1/electricity_meter", payload) in ("not_finite", "invalid_json")


def test_huge_integer_is_out_of_range_not_a_crash():
    payload = b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": 1' + b"0" * 400 + b"}"
    assert code("hearth/H1/E1/electricity_meter", payload) in ("out_of_range", "invalid_json")


@pytest.mark.parametrize(("obj", "field"), [
    ({"temp_c": -31.0, "humidity_pct": 50}, "temp_c"), ({"temp_c": 61, "humidity_pct": 5},
                                                         "temp_c"),
    ({"temp_c": 20.0, "humidity_pct": 100.5}, "humidity_pct"),
    ({"temp_c": 20.0, "humidity_pct": -1}, "humidity_pct"),
])
def test_thermostat_ranges(obj, field):
    with pytest.raises(PayloadError, match=field):
        parse("hearth/H1/T1/thermostat", {"ts": TS, **obj})


@pytest.mark.parametrize(("topic", "expected"), [
    ("hearth/H1/E1", "bad_topic"), ("hearth/H1/E1/electricity_meter/x", "bad_topic"),
    ("other/H1/E1/electricity_meter", "bad_topic"), ("hearth/H 1/E1/electricity_meter",
                                                     "bad_topic"),
    ("hearth//E1/electricity_meter", "bad_topic"), ("hearth/H1/E1/toaster", "unknown_kind"),
])
def test_bad_topics(topic, expected):
    assert code(topic, {"ts": TS, "energy_kwh": 1.0}) == expected


def test_topic_pattern_from_config():
    tags = TopicMap("site/{household}/meters/{device}/{kind}").tags("site/H9/meters/E9/gas_meter")
    assert tags == {"household": "H9", "device": "E9", "kind": "gas_meter"}
    with pytest.raises(ValueError, match="kind"):
        TopicMap("hearth/{household}/{device}")
