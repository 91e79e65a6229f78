"""Red team: a Glow CAD's MPAN/MPRN (an address's meter point numbers: personal data) must not
reach a dead letter when the payload is not valid JSON either. A faulty CAD, a broker limiting
packet size or a half-written retained message gives a cut-off payload; the router then kept
it whole (the redaction only worked on JSON it could parse).

Payload: the Glow electricity meter message of tests/collectors/fixtures/profiles (source cited
there: the CAD owner's post on community.openenergymonitor.org), with an MPAN in the field the
CAD puts it in, cut off part way."""

from __future__ import annotations

import json

import pytest

from collectors.mqtt_payload import PayloadError
from collectors.mqtt_router import redacted
from collectors.profile_parse import Binding
from tests.collectors.test_mqtt_profiles import NOW_NS, PROFILES, fixture, router

MPAN = "1234567890123"
MPRN = "7654321098"


def _glow_with_mpan() -> tuple[str, bytes]:
    topic, payload = fixture("glow_electricitymeter.json")
    obj = json.loads(payload)
    obj["electricitymeter"]["energy"]["import"]["mpan"] = MPAN
    return topic, json.dumps(obj).encode()


@pytest.mark.parametrize("cut", [-1, -30, -60])
def test_a_cut_off_payload_loses_its_mpan_in_the_dead_letter(cut):
    topic, payload = _glow_with_mpan()
    bound = Binding("glow", "A1B2C3D4E5F6", "H000001", "GLOW-E1", "electricity_meter")
    with pytest.raises(PayloadError, match=r"^invalid_json") as err:
        router(bound).parse(topic, payload[:cut], now_ns=NOW_NS)
    assert MPAN.encode() not in err.value.raw
    assert b'"mpan":"[removed]"' in err.value.raw.replace(b" ", b"")
    assert b'"cumulative": 4595.563' in err.value.raw  # the rest is kept for the installer


def test_an_mpan_cut_off_inside_its_own_value_is_removed_too():
    _topic, payload = _glow_with_mpan()
    cut = payload[:payload.index(MPAN.encode()) + 7]  # '..."mpan": "1234567'
    paths = PROFILES["glow"].redact
    assert MPAN[:7].encode() not in redacted(cut, paths)


def test_a_gas_mprn_given_as_a_number_in_broken_json_is_removed():
    raw = (b'{"gasmeter":{"timestamp":"2022-06-24T13:02:29Z","energy":{"import":{"cumulative":'
           b'1234.5,"mprn":' + MPRN.encode() + b',"units":"kWh"')
    out = redacted(raw, PROFILES["glow"].redact)
    assert MPRN.encode() not in out and b"1234.5" in out


def test_a_too_large_payload_loses_its_mpan_in_the_dead_letter():
    topic, payload = _glow_with_mpan()
    r = router(Binding("glow", "A1B2C3D4E5F6", "H000001", "GLOW-E1", "electricity_meter"))
    r.max_payload_bytes = len(payload) - 1
    with pytest.raises(PayloadError, match=r"^too_large") as err:
        r.parse(topic, payload, now_ns=NOW_NS)
    assert MPAN.encode() not in (getattr(err.value, "raw", None) or payload)
