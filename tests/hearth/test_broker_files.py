"""The pure parts of the broker's security: topic patterns per profile, the ACL and password
file text, Mosquitto's hash format, and the rules that keep a pattern narrow.

Topic layouts as each project documents them:
- Hearth: docs/mqtt.md, `hearth/<household_id>/<device_id>/<kind>`.
- Glow CAD local MQTT: `glow/<device id>/SENSOR/electricitymeter` (Hildebrand's Glow local MQTT
  guide), as DESIGN.md lists it.
- Zigbee2MQTT: `zigbee2mqtt/<FRIENDLY_NAME>` (zigbee2mqtt.io, "MQTT topics and messages").
- Tasmota: `tele/<topic>/SENSOR` (tasmota.github.io/docs/MQTT, FullTopic `%prefix%/%topic%/`).
- Shelly Gen2+: `<shelly-id>/status/switch:0` (shelly-api-docs.shelly.cloud, gen2 MQTT).
"""

from __future__ import annotations

import base64
import subprocess
from types import SimpleNamespace

import pytest

from hearth.broker.credentials import Credential, hash_matches, mosquitto_hash
from hearth.broker.files import render
from hearth.broker.topics import (
    UnsafeTopicIdError,
    binding_patterns,
    profile_of_topic,
    publish_patterns,
)
from hearth.stack import MosquittoServer, free_port


def device(topic, household="H000001", device_id="H000001-TH1", protocol="mqtt"):
    return SimpleNamespace(device_id=device_id, household_id=household, protocol=protocol,
                           mqtt_topic=topic)


@pytest.mark.parametrize(("topic", "profile", "patterns"), [
    ("hearth/H000001/H000001-TH1/thermostat", "hearth", ["hearth/H000001/H000001-TH1/#"]),
    ("glow/A1B2C3D4E5F6/SENSOR/electricitymeter", "glow", ["glow/A1B2C3D4E5F6/#"]),
    ("zigbee2mqtt/living_room_sensor", "zigbee2mqtt",
     ["zigbee2mqtt/living_room_sensor", "zigbee2mqtt/living_room_sensor/#"]),
    ("tele/tasmota_5F1A2B/SENSOR", "tasmota", ["tele/tasmota_5F1A2B/#", "stat/tasmota_5F1A2B/#"]),
    ("shellyplus1pm-a8032ab12345/status/switch:0", "shelly", ["shellyplus1pm-a8032ab12345/#"]),
])
def test_each_profile_gets_only_its_own_device_topics(topic, profile, patterns):
    assert profile_of_topic(topic) == profile
    assert publish_patterns(device(topic)) == patterns


def test_modbus_devices_publish_nothing():
    assert publish_patterns(device(None, protocol="modbus")) == []


@pytest.mark.parametrize("bad", ["H+1", "H#", "H 1", "a/b", ""])
def test_an_id_that_would_widen_the_pattern_is_refused(bad):
    with pytest.raises(UnsafeTopicIdError):
        publish_patterns(device(f"hearth/{bad}/D1/thermostat", household=bad))


def test_acl_grants_hubs_write_only_and_the_collector_read_only():
    hubs = {"H1": Credential("hub-H1", "H1", "pw", "$7$101$a$b"),
            "H2": Credential("hub-H2", "H2", None, "$7$101$c$d")}
    devices = [device("hearth/H1/D1/thermostat", "H1", "D1"),
               device("hearth/H1/D2/electricity_meter", "H1", "D2"),
               device("hearth/H2/D3/thermostat", "H2", "D3"),
               device("hearth/H#/D4/thermostat", "H#", "D4")]
    files = render(hubs, devices, {"collector": "$7$101$e$f"}, readers=("collector",))
    assert files.password_lines == ["collector:$7$101$e$f", "hub-H1:$7$101$a$b",
                                    "hub-H2:$7$101$c$d"]
    blocks = {b.splitlines()[0]: b.splitlines()[1:] for b in files.acl.split("\n\n")[1:]}
    assert blocks == {"user collector": ["topic read #"],
                      "user hub-H1": ["topic write hearth/H1/D1/#", "topic write hearth/H1/D2/#"],
                      "user hub-H2": ["topic write hearth/H2/D3/#"]}
    assert "topic readwrite" not in files.acl and "pattern" not in files.acl
    assert len(files.skipped) == 1 and files.skipped[0].startswith("D4:")


def test_hash_is_mosquittos_own_format(tmp_path):
    """Same salt, same password: the line mosquitto_passwd itself writes (Mosquitto 2.0's
    $7$ PBKDF2-SHA512)."""
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "u", "s3cret"], check=True,
                   capture_output=True)
    line = passwd.read_text().strip()
    _, _, iterations, salt_b64, _ = line.split(":", 1)[1].split("$")
    assert f"u:{mosquitto_hash('s3cret', base64.b64decode(salt_b64), int(iterations))}" == line
    assert hash_matches("s3cret", line.split(":", 1)[1])
    assert not hash_matches("other", line.split(":", 1)[1]) and not hash_matches("s3cret", "x")


def test_a_changed_setting_marks_the_running_config_stale(tmp_path):
    server = MosquittoServer(tmp_path, free_port(), {"u": "p"}, run_as=None)
    (tmp_path / "mosquitto.conf").write_text(server.config_text())
    assert not server.config_stale()
    server.max_queued_messages = 10
    assert server.config_stale()


@pytest.mark.parametrize(("profile", "ref", "patterns"), [
    ("glow", "A1B2C3D4E5F6", ["glow/A1B2C3D4E5F6/#"]),
    ("zigbee2mqtt", "bedroom_sensor", ["zigbee2mqtt/bedroom_sensor",
                                        "zigbee2mqtt/bedroom_sensor/#"]),
    ("tasmota", "kitchen_pow", ["tele/kitchen_pow/#", "stat/kitchen_pow/#"]),
    ("shelly-gen2", "shellyplus1pm-441793a3c0e4", ["shellyplus1pm-441793a3c0e4/#"]),
])
def test_a_bound_real_device_gets_its_profiles_topics(profile, ref, patterns):
    """Bindings as docs/devices.md registers them (`hearth collect bind --profile ...
    --device-ref ...`), topics as config/profiles/*.toml read them."""
    assert binding_patterns(profile, ref) == patterns
    hubs = {"H1": Credential("hub-H1", "H1", "pw", "$7$101$a$b")}
    files = render(hubs, [], {}, readers=(), bindings=[("H1", "H1-X1", profile, ref)])
    assert [f"topic write {p}" for p in sorted(patterns)] == files.acl.split(
        "user hub-H1\n")[1].splitlines()


def test_a_binding_of_an_unknown_profile_or_a_wildcard_ref_is_left_out():
    files = render({"H1": Credential("hub-H1", "H1", "pw", "$7$101$a$b")}, [], {}, (),
                   bindings=[("H1", "D1", "made-up", "x"), ("H1", "D2", "glow", "#")])
    assert "topic write" not in files.acl and len(files.skipped) == 2
