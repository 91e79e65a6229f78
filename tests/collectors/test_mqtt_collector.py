"""The MQTT collector against real Mosquitto and InfluxDB: stores good readings, dead-letters
bad payloads with a reason (and acknowledges them), survives a flood of malformed traffic."""

from __future__ import annotations

import json
import math
import random

import pytest

from collectors.deadletter import count_by_reason, read_dead_letters
from hearth.influx import InfluxClient
from tests.collectors.mqtt_e2e_support import (
    T0_NS,
    Publisher,
    ServiceThread,
    count_meter,
    good_messages,
    iso,
    meter_points,
    wait_until,
)
from tests.conftest import make_settings


@pytest.fixture
def collect_settings(tmp_path, influx_server, mqtt_server, request):
    return make_settings(tmp_path, influx_server, mqtt_server, collectors={
        "mqtt": {"client_id": f"test-{request.node.name[:40]}", "topic": "hearth/+/+/+"},
        "summary_interval_s": 2.0})


def test_valid_readings_stored_with_tags_and_types(collect_settings, mqtt_server):
    thermo = ("hearth/H000009/T9/thermostat",
              json.dumps({"ts": iso(T0_NS), "temp_c": 17.5, "humidity_pct": 71.0,
                          "setpoint_c": 19, "heating_on": False}).encode())
    gas = ("hearth/H000009/G9/gas_meter",
           json.dumps({"ts": iso(T0_NS), "volume_m3": 1234.5, "flow_m3_per_h": 0.4}).encode())
    msgs = good_messages(200)
    with ServiceThread(collect_settings) as svc, InfluxClient.from_settings(collect_settings) as db:
        pub = Publisher(mqtt_server.port)
        pub.publish([*msgs, thermo, gas])
        pub.close()
        wait_until(lambda: svc.service.writer.stats.written >= 202, 30, "points written")
        points = meter_points(db)
        for _, _, (dev, t, kwh) in msgs:
            assert points[(dev, t)] == pytest.approx(kwh)
        assert points[("G9", T0_NS)] == pytest.approx(1234.5 * 1.02264 * 39.5 / 3.6)
        th = db.query('SELECT * FROM "raw"."thermostat"')[0]
        assert th.values["temp_c"][0] == 17.5 and th.values["heating_on"][0] == False  # noqa: E712
        assert th.values["household"][0] == "H000009"
        src = db.query('SELECT count("energy_kwh") FROM "raw"."meter" WHERE "source" = \'mqtt\''
                       ' AND "fuel" = \'electricity\'')[0]
        assert src.values["count"][0] == 200
        assert svc.service.spool.backlog_readings() == 0


def test_invalid_payloads_dead_lettered_with_reason_and_acknowledged(collect_settings,
                                                                     mqtt_server):
    t = iso(T0_NS)
    bad = [
        ("hearth/H1/E1/electricity_meter", b"\xff\x00garbage", "invalid_json"),
        ("hearth/H1/E1/electricity_meter", b"[1, 2]", "not_an_object"),
        ("hearth/H1/E1/electricity_meter", json.dumps({"ts": t}).encode(), "missing_field"),
        ("hearth/H1/E1/electricity_meter", json.dumps({"energy_kwh": 5.0}).encode(),
         "missing_field"),
        ("hearth/H1/E1/electricity_meter", b'{"ts": "%s", "energy_kwh": NaN}' % t.encode(),
         "invalid_json"),
        ("hearth/H1/E1/electricity_meter", json.dumps({"ts": t, "energy_kwh": "12"}).encode(),
         "bad_type"),
        ("hearth/H1/E1/electricity_meter", json.dumps({"ts": t, "energy_kwh": 1.0,
                                                       "power_w": 1e12}).encode(),
         "out_of_range"),
        ("hearth/H1/T1/thermostat", json.dumps({"ts": t, "temp_c": 85.0,
                                                "humidity_pct": 50}).encode(), "out_of_range"),
        ("hearth/H1/T1/thermostat", json.dumps({"ts": t, "temp_c": 20.0, "humidity_pct": 50,
                                                "heating_on": 1}).encode(), "bad_type"),
        ("hearth/H1/E1/electricity_meter", json.dumps({"ts": "2026-01-01T00:00:00+01:00",
                                                       "energy_kwh": 1.0}).encode(), "bad_ts"),
        ("hearth/H1/E1/electricity_meter", json.dumps({"ts": "2199-01-01T00:00:00Z",
                                                       "energy_kwh": 1.0}).encode(), "bad_ts"),
        ("hearth/H1/E1/electricity_meter", json.dumps({"ts": t, "energy_kwh": 1.0,
                                                       "colour": "red"}).encode(),
         "unexpected_field"),
        ("hearth/H1/E1/fridge", json.dumps({"ts": t}).encode(), "unknown_kind"),
        ("hearth/H 1/E1/electricity_meter", json.dumps({"ts": t}).encode(), "bad_topic"),
        ("hearth/H1/E1/electricity_meter", b'{"ts": "%s", "energy_kwh": 1, "x": "%s"}'
         % (t.encode(), b"y" * 1_000_000), "too_large"),
    ]
    good = good_messages(20)
    with ServiceThread(collect_settings) as svc, InfluxClient.from_settings(collect_settings) as db:
        pub = Publisher(mqtt_server.port)
        pub.publish([*good[:10], *bad, *good[10:]])
        pub.close()
        col = svc.service.collectors[0]
        wait_until(lambda: col.stats.extra["acked"] >= len(good) + len(bad), 30, "acks")
        wait_until(lambda: count_meter(db) == 20, 30, "good readings in InfluxDB")
    letters = read_dead_letters(collect_settings.collectors.dead_letter_dir)
    assert [d["reason"].split(":")[0] for d in letters] == [code for _, _, code in bad]
    assert all(d["source"] == "mqtt" and d["topic"] for d in letters)
    assert letters[0]["raw_b64"]  # not UTF-8: kept as base64
    assert letters[-1]["size_bytes"] > 1_000_000
    # Acknowledged: a new run with the same client id gets nothing again.
    with ServiceThread(collect_settings) as svc:
        col = svc.service.collectors[0]
        import time

        time.sleep(2.0)
        assert col.stats.extra["messages"] == 0


def _malformed(rng: random.Random, i: int) -> bytes:
    t = iso(T0_NS + i * 10**9)
    choice = i % 10
    if choice == 0:
        return rng.randbytes(rng.randint(1, 300))
    if choice == 1:
        return json.dumps({"ts": t, "energy_kwh": rng.choice(["a", None, [], {}, True])}).encode()
    if choice == 2:
        return json.dumps({"ts": t, "power_w": 10.0}).encode()  # energy_kwh missing
    if choice == 3:
        return b'{"ts": "%s", "energy_kwh": %s}' % (t.encode(), rng.choice(
            [b"NaN", b"Infinity", b"-Infinity", b"1e999"]))
    if choice == 4:
        return json.dumps({"ts": t, "energy_kwh": rng.choice([1e300, -5.0, 10**30])}).encode()
    if choice == 5:
        return json.dumps({"ts": rng.choice([None, 17, "now", "2026-02-30T00:00:00Z", ""]),
                           "energy_kwh": 1.0}).encode()
    if choice == 6:
        return b"[" * 100_000  # deep nesting
    if choice == 7:
        return json.dumps({"ts": t, "energy_kwh": 1.0, "voltage_v": math.pi * 1e6}).encode()
    if choice == 8:
        return b"\xef\xbb\xbf" + json.dumps({"ts": t}).encode()
    return rng.choice([b"", b"null", b"true", b"1", b'"x"', b"{"])


def test_ten_thousand_malformed_payloads_all_dead_lettered_good_traffic_stored(
        collect_settings, mqtt_server):
    rng = random.Random(3)
    good = good_messages(2000, households=40)
    bad = [("hearth/H000001/E000001/electricity_meter", _malformed(rng, i)) for i in range(9_999)]
    bad.append(("hearth/H000001/E000001/electricity_meter", b"{" + b" " * 1_048_576 + b"}"))
    mixed = []
    gi = iter(good)
    for i, b in enumerate(bad):
        mixed.append(b)
        if i % 5 == 0:
            mixed.append(next(gi, None) or b)
    mixed.extend(gi)
    mixed = [m for m in mixed if m is not None]
    with ServiceThread(collect_settings) as svc, InfluxClient.from_settings(collect_settings) as db:
        pub = Publisher(mqtt_server.port)
        pub.publish(mixed)
        pub.close()
        col = svc.service.collectors[0]
        wait_until(lambda: col.stats.extra["acked"] >= len(mixed), 90, "all messages handled")
        wait_until(lambda: count_meter(db) == len(good), 60, "good readings in InfluxDB")
        assert col.stats.dead_lettered == len(mixed) - len(good)
        points = meter_points(db)
        assert all(points[(dev, t)] == pytest.approx(kwh) for _, _, (dev, t, kwh) in good)
    counts = count_by_reason(collect_settings.collectors.dead_letter_dir)
    assert sum(counts.values()) == len(mixed) - len(good)
    assert {code for _, code in counts} >= {"invalid_json", "bad_type", "missing_field",
                                            "out_of_range", "bad_ts", "too_large",
                                            "not_an_object"}
