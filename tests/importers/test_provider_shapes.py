"""Each provider's documented answer parsed to half hours (pure: no server), and the units.

Fixtures are the documented examples, cited beside each."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from importers import glowmarkt, n3rgy, octopus
from importers.http import ProviderError, retry_after_s
from importers.providers import normalise_unit, to_kwh

# Octopus "List consumption for a meter" example answer, as in the API reference
# (https://developer.octopus.energy/docs/api/#list-consumption-for-a-meter): BST offsets.
OCTOPUS_DOC = {
    "count": 48, "next": "https://api.octopus.energy/v1/electricity-meter-points/"
    "1234567890123/meters/12A3456789/consumption/?page=2", "previous": None,
    "results": [
        {"consumption": 0.063, "interval_start": "2018-05-19T00:30:00+0100",
         "interval_end": "2018-05-19T01:00:00+0100"},
        {"consumption": 0.071, "interval_start": "2018-05-19T00:00:00+0100",
         "interval_end": "2018-05-19T00:30:00+0100"},
        {"consumption": 0.073, "interval_start": "2018-05-18T23:30:00+0100",
         "interval_end": "2018-05-19T00:00:00+0100"},
    ]}


def test_octopus_documented_page_offsets_and_next():
    page, nxt = octopus.parse_consumption(OCTOPUS_DOC, "kwh")
    assert nxt.endswith("?page=2")
    starts = [dt.datetime.fromtimestamp(t / 1e9, dt.UTC) for t in page.start_ns]
    # 00:30 BST is 23:30 UTC the day before.
    assert starts[0] == dt.datetime(2018, 5, 18, 23, 30, tzinfo=dt.UTC)
    assert starts[2] == dt.datetime(2018, 5, 18, 22, 30, tzinfo=dt.UTC)
    assert page.value.tolist() == [0.063, 0.071, 0.073] and not page.bad


def test_octopus_bad_items_are_kept_not_guessed():
    obj = {"count": 3, "next": None, "results": [
        {"consumption": "lots", "interval_start": "2026-01-05T00:00:00Z",
         "interval_end": "2026-01-05T00:30:00Z"},
        {"consumption": 1.0, "interval_start": "2026-01-05T00:00:00Z",
         "interval_end": "2026-01-05T01:00:00Z"},                  # an hour, not a half hour
        {"consumption": 0.2, "interval_start": "2026-01-05 00:00"},  # no interval_end
        {"consumption": 0.3, "interval_start": "2026-01-05T01:00:00Z",
         "interval_end": "2026-01-05T01:30:00Z"}]}
    page, nxt = octopus.parse_consumption(obj, "kwh")
    assert nxt is None and page.value.tolist() == [0.3]
    assert [b.reason.split(":")[0] for b in page.bad] == ["invalid_value", "not_half_hour",
                                                          "invalid_item"]
    with pytest.raises(ProviderError) as e:
        octopus.parse_consumption({"detail": "oops"}, "kwh")
    assert e.value.code == "malformed"


# Glowmarkt readings answer as documented (https://api.glowmarkt.com/api-docs/v0-1/resourcesys/,
# "Get readings"): [[unix_s, value], ...], null where a half hour has no reading.
GLOW_DOC = {"status": "OK", "name": "electricity consumption", "resourceTypeId": "ea02304a",
            "resourceId": "f9ab8c2d-...", "query": {"from": "2026-01-05T00:00:00",
                                                     "to": "2026-01-05T01:29:59",
                                                     "period": "PT30M", "function": "sum"},
            "data": [[1767571200, 0.142], [1767573000, None], [1767574800, 0.0]],
            "units": "kWh", "classifier": "electricity.consumption"}


def test_glowmarkt_null_is_missing_and_zero_is_zero():
    page = glowmarkt.parse_readings(GLOW_DOC)
    assert page.start_ns.tolist() == [1767571200 * 10**9, 1767574800 * 10**9]
    assert page.value.tolist() == [0.142, 0.0] and page.unit == "kwh"
    page = glowmarkt.parse_readings({"data": [[1767571200, "x"], [1767571201, 1.0], "junk"],
                                     "units": "kWh"})
    assert len(page.start_ns) == 0 and len(page.bad) == 3
    with pytest.raises(ProviderError):
        glowmarkt.parse_readings({"data": [], "units": "litres"})


# n3rgy consumer API answer (https://data.n3rgy.com/consumer/api-documentation; fields as
# in n3rgy/data's examples): half hours labelled by their end, UTC.
N3RGY_DOC = {"resource": "/gas/consumption/1", "responseTimestamp": "2026-01-06T08:00:00.000Z",
             "start": "202601050030", "end": "202601050130", "granularity": "halfhour",
             "values": [{"timestamp": "2026-01-05 00:30", "value": 0.118},
                        {"timestamp": "2026-01-05 01:30", "value": 0.095}],
             "availableCacheRange": {"start": "202512010000", "end": "202601060000"},
             "unit": "m3"}


def test_n3rgy_end_labels_become_starts():
    page = n3rgy.parse_consumption(N3RGY_DOC, timestamp_is_end=True)
    t0 = int(dt.datetime(2026, 1, 5, tzinfo=dt.UTC).timestamp()) * 10**9
    assert page.start_ns.tolist() == [t0, t0 + 2 * 1800 * 10**9]   # 01:00 is a gap
    assert page.unit == "m3" and page.value.tolist() == [0.118, 0.095]
    assert n3rgy.parse_consumption(N3RGY_DOC, timestamp_is_end=False).start_ns[0] == \
        t0 + 1800 * 10**9


def test_units_and_gas_conversion():
    assert normalise_unit("kWh") == "kwh" and normalise_unit("m^3") == "m3"
    assert normalise_unit("therms") is None
    # kWh = m3 x 1.02264 x CV / 3.6 (docs/nomenclature.md): 1 m3 at 39.5 MJ/m3 = 11.2206 kWh.
    assert to_kwh(np.array([1.0]), "m3", 39.5)[0] == pytest.approx(11.2206, abs=1e-4)
    assert to_kwh(np.array([2.5]), "kwh", 39.5)[0] == 2.5


def test_retry_after_seconds_and_http_date():
    now = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
    assert retry_after_s("7") == 7.0
    assert retry_after_s("Mon, 05 Jan 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None
