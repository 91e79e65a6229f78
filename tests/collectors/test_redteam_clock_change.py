"""Red team: Tasmota's `Time` is the device's local time without a UTC offset (Tasmota's own
docs, https://tasmota.github.io/docs/JSON-Status-Responses/; fixture cited in
tests/collectors/fixtures/profiles/tasmota_energy.json). When UK clocks go back (25 October
2026, 02:00 BST -> 01:00 GMT, as GOV.UK's "When do the clocks change?" lists) the local hour
01:00-01:59 happens twice. Every reading of the second pass was stamped an hour early, on top
of the first pass's readings of the same series: those were overwritten (lost) and the
counter seemed to run backwards. The time of receipt tells the two passes apart."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from collectors.profile_parse import Binding
from tests.collectors.test_mqtt_profiles import fixture, router


def ns(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso).timestamp()) * 10**9


def tasmota(local_time: str) -> tuple[str, bytes]:
    topic, payload = fixture("tasmota_energy.json")
    obj = json.loads(payload)
    obj["Time"] = local_time
    return topic, json.dumps(obj).encode()


BOUND = Binding("tasmota", "kitchen_pow", "H5", "T-E1", "electricity_meter")


@pytest.mark.parametrize(("local", "received", "expected"), [
    # first pass of the repeated hour: still BST
    ("2026-10-25T01:30:00", "2026-10-25T00:30:04+00:00", "2026-10-25T00:30:00+00:00"),
    # second pass: GMT now; it was stamped 00:30 UTC, over the first pass's reading
    ("2026-10-25T01:30:00", "2026-10-25T01:30:04+00:00", "2026-10-25T01:30:00+00:00"),
    ("2026-10-25T01:00:00", "2026-10-25T01:00:03+00:00", "2026-10-25T01:00:00+00:00"),
    ("2026-10-25T01:59:59", "2026-10-25T01:59:59+00:00", "2026-10-25T01:59:59+00:00"),
    # around it nothing changes
    ("2026-10-25T00:59:00", "2026-10-24T23:59:05+00:00", "2026-10-24T23:59:00+00:00"),
    ("2026-10-25T02:10:00", "2026-10-25T02:10:05+00:00", "2026-10-25T02:10:00+00:00"),
])
def test_the_repeated_hour_at_the_clock_change_is_read_by_the_time_of_receipt(local, received,
                                                                              expected):
    topic, payload = tasmota(local)
    _, reading = router(BOUND).parse(topic, payload, now_ns=ns(received))
    assert reading.time_ns == ns(expected)


def test_a_night_of_readings_across_the_clock_change_keeps_every_one():
    """A reading every 5 minutes from 00:00 to 03:00 UTC: 37 distinct times, in order."""
    r = router(BOUND)
    london = dt.timezone(dt.timedelta(hours=1))
    stamps = []
    for i in range(37):
        utc = dt.datetime(2026, 10, 25, 0, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=5 * i)
        local = utc.astimezone(london if utc.hour < 1 else dt.UTC)
        topic, payload = tasmota(local.strftime("%Y-%m-%dT%H:%M:%S"))
        stamps.append(r.parse(topic, payload, now_ns=int(utc.timestamp()) * 10**9 + 10**9)[1]
                      .time_ns)
    assert stamps == sorted(set(stamps)) and len(stamps) == 37
