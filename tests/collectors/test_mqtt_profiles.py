"""Device profiles against the payloads their projects document (fixtures/profiles/*.json,
each with its source), and the collector's device check (no servers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.device_check import DeviceDirectory, HearthDevice
from collectors.mqtt_payload import PayloadError, PayloadParser
from collectors.mqtt_router import MessageRouter
from collectors.profile_parse import RECEIPT_FIELD, Binding, sample_time_ns
from collectors.profiles import ProfileError, TimeSpec, load_profiles, parse_profile

FIXTURES = Path(__file__).parent / "fixtures" / "profiles"
NOW_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
PROFILES = load_profiles()


def fixture(name: str) -> tuple[str, bytes]:
    doc = json.loads((FIXTURES / name).read_text())
    assert doc["source"].startswith("https://")
    return doc["topic"], json.dumps(doc["payload"]).encode()


def router(*bindings: Binding, hearth_devices=None, max_series: int = 64) -> MessageRouter:
    directory = DeviceDirectory(dict(hearth_devices or {}))
    for b in bindings:
        directory.add(b)
    return MessageRouter(PROFILES, directory, PayloadParser(), max_series)


def code(r: MessageRouter, topic: str, payload: bytes) -> str:
    with pytest.raises(PayloadError) as err:
        r.parse(topic, payload, now_ns=NOW_NS)
    return str(err.value).split(":")[0]


def ns(iso: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(iso).timestamp()) * 10**9


# ---- each profile against its documented payloads ----------------------------------------------

def test_glow_electricity_meter():
    topic, payload = fixture("glow_electricitymeter.json")
    r = router(Binding("glow", "A1B2C3D4E5F6", "H000001", "GLOW-E1", "electricity_meter"))
    key, reading = r.parse(topic, payload, now_ns=NOW_NS)
    assert key == "H000001/GLOW-E1/electricity_meter"
    assert reading.measurement == "meter"
    assert reading.tags == {"household": "H000001", "device": "GLOW-E1", "fuel": "electricity",
                            "source": "mqtt"}
    # import cumulative [kWh], export cumulative [kWh] kept apart, power 0.623 kW -> W
    assert reading.fields == {"energy_kwh": 4595.563, "energy_export_kwh": 0.0,
                              "power_w": 623.0}
    assert reading.time_ns == ns("2022-06-24T13:02:29+00:00")


def test_glow_gas_meter_needs_its_own_binding():
    topic, payload = fixture("glow_gasmeter.json")
    only_elec = router(Binding("glow", "A1B2C3D4E5F6", "H000001", "GLOW-E1", "electricity_meter"))
    assert code(only_elec, topic, payload) == "unknown_device"
    r = router(Binding("glow", "A1B2C3D4E5F6", "H000001", "GLOW-E1", "electricity_meter"),
               Binding("glow", "A1B2C3D4E5F6", "H000001", "GLOW-G1", "gas_meter"))
    _, reading = r.parse(topic, payload, now_ns=NOW_NS)
    assert reading.tags["fuel"] == "gas" and reading.tags["device"] == "GLOW-G1"
    assert reading.fields == {"energy_kwh": 6728.026}
    assert reading.time_ns == ns("2022-06-24T13:13:30+00:00")


def test_glow_units_the_payload_states_are_checked():
    topic, payload = fixture("glow_electricitymeter.json")
    obj = json.loads(payload)
    obj["electricitymeter"]["power"]["units"] = "W"
    r = router(Binding("glow", "A1B2C3D4E5F6", "H1", "E1", "electricity_meter"))
    assert code(r, topic, json.dumps(obj).encode()) == "bad_unit"


def test_zigbee2mqtt_aqara_sensor_with_local_iso_last_seen():
    topic, payload = fixture("z2m_wsdcgq11lm.json")
    r = router(Binding("zigbee2mqtt", "bedroom_sensor", "H000002", "Z-T1", "thermostat",
                       "bedroom"))
    key, reading = r.parse(topic, payload, now_ns=NOW_NS)
    assert key == "H000002/Z-T1/thermostat"
    assert reading.measurement == "thermostat"
    assert reading.tags == {"household": "H000002", "device": "Z-T1", "room": "bedroom"}
    # voltage (battery mV), pressure and linkquality are not Hearth fields: not taken
    assert reading.fields == {"temp_c": 17.42, "humidity_pct": 71.3, "battery_pct": 91.0}
    assert reading.time_ns == ns("2019-03-01T15:32:45+00:00") + 941_000_000  # +01:00 offset


def test_zigbee2mqtt_sonoff_sensor_with_epoch_ms_last_seen():
    topic, payload = fixture("z2m_snzb02.json")
    r = router(Binding("zigbee2mqtt", "living_room_sensor", "H3", "Z-T2", "thermostat",
                       "living_room"))
    _, reading = r.parse(topic, payload, now_ns=NOW_NS)
    assert reading.fields["temp_c"] == 19.9 and reading.fields["humidity_pct"] == 58.2
    assert reading.time_ns == 1_767_225_540_000 * 10**6
    assert RECEIPT_FIELD not in reading.fields


def test_zigbee2mqtt_plug_without_time_is_stamped_on_receipt_and_marked():
    topic, payload = fixture("z2m_ts011f_plug.json")
    r = router(Binding("zigbee2mqtt", "heater_plug", "H4", "Z-P1", "appliance"))
    key, reading = r.parse(topic, payload, now_ns=NOW_NS)
    assert key == "H4/Z-P1/appliance"
    assert reading.measurement == "appliance"  # never summed with the household's meter
    assert reading.tags == {"household": "H4", "device": "Z-P1", "source": "mqtt"}
    assert reading.fields == {"energy_kwh": 312.45, "power_w": 1998.0, "voltage_v": 238.0,
                              "current_a": 8.62, "switch_on": True, RECEIPT_FIELD: True}
    assert reading.time_ns == NOW_NS


def test_tasmota_local_time_read_in_the_profiles_zone_and_export_kept():
    topic, payload = fixture("tasmota_energy.json")
    r = router(Binding("tasmota", "kitchen_pow", "H5", "T-E1", "electricity_meter"))
    _, reading = r.parse(topic, payload, now_ns=NOW_NS)
    assert reading.measurement == "meter" and reading.tags["fuel"] == "electricity"
    assert reading.fields == {"energy_kwh": 0.017, "energy_export_kwh": 0.0, "power_w": 0.0,
                              "voltage_v": 234.31, "current_a": 0.039}
    # 2020-09-25 12:47:15 in Europe/London is British Summer Time: 11:47:15 UTC
    assert reading.time_ns == ns("2020-09-25T11:47:15+00:00")


def test_tasmota_binding_time_zone_overrides_the_profile():
    topic, payload = fixture("tasmota_energy.json")
    r = router(Binding("tasmota", "kitchen_pow", "H5", "T-P1", "appliance",
                       time_zone="Europe/Berlin"))
    _, reading = r.parse(topic, payload, now_ns=NOW_NS)
    assert reading.measurement == "appliance"
    assert reading.time_ns == ns("2020-09-25T10:47:15+00:00")


def test_shelly_switch_status_wh_to_kwh_on_receipt():
    topic, payload = fixture("shelly_switch0.json")
    r = router(Binding("shelly-gen2", "shellyplus1pm-441793a3c0e4", "H6", "S-1", "appliance"))
    _, reading = r.parse(topic, payload, now_ns=NOW_NS)
    assert reading.fields == {"energy_kwh": 0.000134, "power_w": 0.0, "voltage_v": 238.215,
                              "current_a": 0.0, "switch_on": False, RECEIPT_FIELD: True}
    assert reading.time_ns == NOW_NS


def test_negative_power_is_export_and_kept_signed():
    # Synthetic: a Shelly on a solar inverter's circuit reports apower < 0 while it exports.
    r = router(Binding("shelly-gen2", "pv1", "H6", "S-2", "appliance"))
    payload = json.dumps({"apower": -88.9, "aenergy": {"total": 21.78}}).encode()
    _, reading = r.parse("pv1/status/switch:0", payload, now_ns=NOW_NS)
    assert reading.fields["power_w"] == -88.9
    # a counter may never be negative
    bad = json.dumps({"apower": 1.0, "aenergy": {"total": -5}}).encode()
    assert code(r, "pv1/status/switch:0", bad) == "out_of_range"


# ---- sample times ------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "fmt", "zone", "iso"), [
    ("2026-07-01T12:00:00+01:00", "iso8601", None, "2026-07-01T11:00:00+00:00"),
    ("2026-07-01T12:00:00Z", "auto", None, "2026-07-01T12:00:00+00:00"),
    ("2026-07-01T12:00:00", "local", "Europe/London", "2026-07-01T11:00:00+00:00"),
    ("2026-01-05T12:00:00", "local", "Europe/London", "2026-01-05T12:00:00+00:00"),
    (1782907200, "epoch_s", None, "2026-07-01T12:00:00+00:00"),
    ("1782907200", "auto", None, "2026-07-01T12:00:00+00:00"),
    (1782907200000, "epoch_ms", None, "2026-07-01T12:00:00+00:00"),
    (1782907200000, "auto", None, "2026-07-01T12:00:00+00:00"),
    # the clock goes back at 02:00 BST on 2026-10-25: 01:30 happens twice, the first is taken
    ("2026-10-25T01:30:00", "local", "Europe/London", "2026-10-25T00:30:00+00:00"),
])
def test_sample_time_formats(value, fmt, zone, iso):
    assert sample_time_ns(value, TimeSpec(("t",), fmt, zone), zone) == ns(iso)


@pytest.mark.parametrize(("value", "fmt", "zone"), [
    ("2026-07-01T12:00:00", "iso8601", None),   # no offset, no zone: never guessed
    ("yesterday", "auto", None), (True, "auto", None), ("12345", "iso8601", None),
    (1782907200, "iso8601", None), ("2026-07-01T12:00:00Z", "epoch_s", None),
])
def test_bad_sample_times(value, fmt, zone):
    with pytest.raises(PayloadError, match=r"^bad_ts"):
        sample_time_ns(value, TimeSpec(("t",), fmt, zone), zone)


def test_future_and_missing_times_are_dead_lettered():
    r = router(Binding("glow", "X", "H1", "E1", "electricity_meter"))
    topic = "glow/X/SENSOR/electricitymeter"
    future = {"electricitymeter": {"timestamp": "2026-01-03T00:00:00Z",
                                   "energy": {"import": {"cumulative": 1}}}}
    assert code(r, topic, json.dumps(future).encode()) == "bad_ts"
    missing = {"electricitymeter": {"energy": {"import": {"cumulative": 1}}}}
    assert code(r, topic, json.dumps(missing).encode()) == "missing_field"


# ---- the device check -------------------------------------------------------------------------

HEARTH_DEVICES = {"E1": HearthDevice("H1", "electricity_meter", None),
                  "T1": HearthDevice("H1", "thermostat", "bedroom")}
METER = b'{"ts": "2025-12-31T23:59:00Z", "energy_kwh": 1.5}'
THERMO = b'{"ts": "2025-12-31T23:59:00Z", "temp_c": 18.5, "humidity_pct": 60}'


def test_hearth_format_registered_device_passes_and_gets_its_room():
    r = router(hearth_devices=HEARTH_DEVICES)
    _, reading = r.parse("hearth/H1/E1/electricity_meter", METER, now_ns=NOW_NS)
    assert reading.tags["household"] == "H1" and reading.fields["energy_kwh"] == 1.5
    _, reading = r.parse("hearth/H1/T1/thermostat", THERMO, now_ns=NOW_NS)
    assert reading.tags["room"] == "bedroom"


def test_unknown_device_forged_household_kind_and_room_are_dead_lettered():
    r = router(hearth_devices=HEARTH_DEVICES)
    assert code(r, "hearth/H1/E9/electricity_meter", METER) == "unknown_device"
    assert code(r, "hearth/H2/E1/electricity_meter", METER) == "household_mismatch"
    assert code(r, "hearth/H1/E1/gas_meter", b'{"ts":"2025-12-31T23:59:00Z","volume_m3":1}'
                ) == "kind_mismatch"
    kitchen = b'{"ts":"2025-12-31T23:59:00Z","temp_c":18.5,"humidity_pct":60,"room":"kitchen"}'
    assert code(r, "hearth/H1/T1/thermostat", kitchen) == "unknown_tag"
    assert r.rejected == {"unknown_device": 1, "household_mismatch": 1, "kind_mismatch": 1,
                          "unknown_tag": 1}


def test_unbound_real_device_is_unknown_not_guessed():
    topic, payload = fixture("z2m_wsdcgq11lm.json")
    assert code(router(), topic, payload) == "unknown_device"
    no_registry = MessageRouter(PROFILES, None, PayloadParser())
    assert code(no_registry, topic, payload) == "unknown_device"


def test_unmatched_topics_counted_per_prefix():
    r = router(hearth_devices=HEARTH_DEVICES)
    for topic in ("zigbee2mqtt/bridge/state", "homeassistant/sensor/x/config",
                  "zigbee2mqtt/a/b/c", "tele/x/STATE"):
        assert code(r, topic, b"{}") == "unmatched_topic"
    assert r.unmatched == {"zigbee2mqtt": 2, "homeassistant": 1, "tele": 1}


def test_series_per_household_are_bounded():
    devices = {f"T{i}": HearthDevice("H1", "thermostat", "hall") for i in range(5)}
    r = router(hearth_devices=devices, max_series=3)
    for i in range(3):
        r.parse(f"hearth/H1/T{i}/thermostat", THERMO, now_ns=NOW_NS)
    r.parse("hearth/H1/T0/thermostat", THERMO, now_ns=NOW_NS)  # a known series: fine
    assert code(r, "hearth/H1/T3/thermostat", THERMO) == "too_many_series"


# ---- profile validation ------------------------------------------------------------------------

def _profile(**channel):
    base = {"topic": "x/{device}", "kind": "electricity_meter",
            "fields": {"energy_kwh": {"path": "e", "unit": "kWh"}}}
    base.update(channel)
    return {"name": "council-x", "description": "d", "source": "s", "channel": [base]}


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "boiler"}, r"channel\[0\]\.kind: 'boiler'"),
    ({"topic": "x/+"}, r"channel\[0\]\.topic"),
    ({"topic": "x/y"}, r"\{device\}"),
    ({"fields": {"energy_kwh": {"path": "e", "unit": "J"}}},
     r"fields\.energy_kwh: unit 'J' cannot become energy_kwh \(allowed: kWh, Wh, MWh\)"),
    ({"fields": {"temp_c": {"path": "t", "unit": "C"}}}, r"'temp_c' is not a field of a"
                                                         r" electricity_meter"),
    ({"time": {"path": "Time", "format": "local"}}, r"needs a 'zone'"),
    ({"time": {"path": "Time", "zone": "Mars/Olympus"}}, r"not an IANA time zone"),
    ({"require": ["power_w"]}, r"require"),
    ({"colour": "red"}, r"unknown key 'colour'"),
])
def test_profile_errors_name_the_profile_channel_and_key(change, message):
    with pytest.raises(ProfileError, match=message) as err:
        parse_profile(_profile(**change), Path("/etc/hearth/profiles/x.toml"))
    assert "/etc/hearth/profiles/x.toml (profile 'council-x')" in str(err.value)


def test_a_council_profile_directory_is_loaded_and_may_not_shadow_a_shipped_name(tmp_path):
    (tmp_path / "mine.toml").write_text(
        'name = "council-plug"\ndescription = "a plug"\nsource = "our tests"\n'
        '[[channel]]\ntopic = "plugs/{device}/state"\nkind = "appliance"\n'
        'fields.power_w = { path = "watts", unit = "W" }\n')
    profiles = load_profiles([tmp_path])
    assert "council-plug" in profiles and "glow" in profiles
    assert profiles["council-plug"].device_topics("p7") == ["plugs/p7/state"]
    (tmp_path / "glow2.toml").write_text((Path(profiles["glow"].path)).read_text())
    with pytest.raises(ProfileError, match="already used"):
        load_profiles([tmp_path])


def test_device_topics_for_broker_acls():
    assert PROFILES["glow"].device_topics("CAD1") == ["glow/CAD1/SENSOR/electricitymeter",
                                                      "glow/CAD1/SENSOR/gasmeter"]
    assert PROFILES["shelly-gen2"].device_topics("sh1") == ["sh1/status/switch:0"]
    assert PROFILES["hearth"].device_topics("E1", household="H1") == ["hearth/H1/E1/+"]
    assert PROFILES["tasmota"].subscriptions() == ["tele/+/SENSOR"]


def test_metrics_show_strays_per_prefix_and_rejections_per_reason():
    from prometheus_client import CollectorRegistry, generate_latest

    from collectors.mqtt_metrics import MqttPathMetrics

    r = router(hearth_devices=HEARTH_DEVICES)
    code(r, "strays/a/b", b"{}")
    code(r, "hearth/H2/E1/electricity_meter", METER)
    reg = CollectorRegistry()
    reg.register(MqttPathMetrics(r))
    text = generate_latest(reg).decode()
    assert 'hearth_mqtt_unmatched_messages_total{prefix="strays"} 1.0' in text
    assert 'hearth_mqtt_rejected_messages_total{reason="household_mismatch"} 1.0' in text
    assert 'hearth_mqtt_rejected_messages_total{reason="unmatched_topic"} 1.0' in text


def test_collector_subscribes_to_enabled_profiles_shared_like_its_topic(tmp_path):
    from collectors.mqtt import MqttConfig, enabled_profiles
    from hearth.settings.rooms import MqttCollectorSettings

    o = MqttCollectorSettings(topic="$share/hearth/hearth/+/+/+", profiles=["glow"],
                              extra_subscriptions=["strays/#"])
    profiles = enabled_profiles(o)
    assert set(profiles) == {"glow", "hearth"}
    config = MqttConfig("127.0.0.1", 1883, "u", None, 30, o, {}, profiles, None)
    assert config.subscriptions() == ["$share/hearth/hearth/+/+/+",
                                      "$share/hearth/glow/+/SENSOR/electricitymeter",
                                      "$share/hearth/glow/+/SENSOR/gasmeter", "strays/#"]
    with pytest.raises(ProfileError, match="names 'glo', which is not a profile"):
        enabled_profiles(MqttCollectorSettings(profiles=["glo"]))
    with pytest.raises(ProfileError, match="does not exist"):
        enabled_profiles(MqttCollectorSettings(profile_dirs=[tmp_path / "nowhere"]))


def test_a_meters_mpan_never_reaches_a_dead_letter():
    topic, payload = fixture("glow_electricitymeter.json")
    obj = json.loads(payload)
    obj["electricitymeter"]["energy"]["import"]["mpan"] = "1234567890123"
    with pytest.raises(PayloadError, match=r"^unknown_device") as err:
        router().parse(topic, json.dumps(obj).encode(), now_ns=NOW_NS)
    kept = json.loads(err.value.raw)
    assert kept["electricitymeter"]["energy"]["import"]["mpan"] == "[removed]"
    assert kept["electricitymeter"]["energy"]["import"]["cumulative"] == 4595.563
    assert b"1234567890123" not in err.value.raw
