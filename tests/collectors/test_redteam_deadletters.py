"""Red team, dead letters through real Mosquitto: no MPAN survives in a dead letter whose
topic no profile matches or whose parse failed with an unforeseen error, and Zigbee2MQTT
group messages (state on zigbee2mqtt/<group friendly name>, like a device's) are ignored and
counted rather than dead-lettered as unknown devices.

Payloads: the Glow electricity meter message of fixtures/profiles (source cited there), with an
MPAN put in the field the CAD sends it in; Zigbee2MQTT's documented bridge/groups list
(fixtures/profiles/z2m_bridge_groups.json, source cited there)."""

from __future__ import annotations

import json

import pytest

from collectors.deadletter import count_by_reason, read_dead_letters
from tests.collectors.mqtt_e2e_support import Publisher, ServiceThread, wait_until
from tests.collectors.test_mqtt_profiles_e2e import FIXTURES, documented, make_registry
from tests.conftest import make_settings

MPAN = "1234567890123"


@pytest.fixture
def settings(tmp_path, influx_server, mqtt_server, request):
    s = make_settings(tmp_path, influx_server, mqtt_server, collectors={
        "mqtt": {"client_id": f"test-{request.node.name[:40]}",
                 "extra_subscriptions": ["strays/#"]},
        "summary_interval_s": 2.0})
    make_registry(s.registry.path)
    return s


def _glow_with_mpan() -> tuple[str, bytes]:
    topic, obj = documented("glow_electricitymeter.json")
    obj["electricitymeter"]["energy"]["import"]["mpan"] = MPAN
    return topic, json.dumps(obj).encode()


def _letters(settings) -> dict[str, dict]:
    return {r["topic"]: r for r in read_dead_letters(settings.collectors.dead_letter_dir)}


def test_an_unmatched_topic_and_a_failed_parse_keep_no_mpan(settings, mqtt_server,
                                                            monkeypatch):
    topic, payload = _glow_with_mpan()
    cut = payload[:payload.index(MPAN.encode()) + 20]           # not JSON any more

    def broken(*args, **kwargs):  # an error no check foresaw, in the payload mapping
        raise KeyError("electricitymeter")

    monkeypatch.setattr("collectors.mqtt_router.reading_from", broken)
    messages = [("strays/glow/A1B2C3D4E5F6/SENSOR/electricitymeter", payload),  # misrouted
                ("strays/cut", cut),
                (topic, payload)]                                # bound CAD, parser fails
    with ServiceThread(settings) as svc:
        mqtt = next(c for c in svc.service.collectors if c.type == "mqtt")
        pub = Publisher(mqtt_server.port, client_id="test-redteam-dl-pub")
        pub.publish(messages)
        pub.close()
        wait_until(lambda: mqtt.stats.extra["acked"] >= len(messages), 30, "messages acked")
        assert mqtt.router.rejected["parse_failed"] == 1
    counts = count_by_reason(settings.collectors.dead_letter_dir)
    assert counts[("mqtt", "unmatched_topic")] == 2
    assert counts[("mqtt", "parse_failed")] == 1
    letters = _letters(settings)
    assert len(letters) == 3
    for t, rec in letters.items():
        assert MPAN not in rec["raw"] and MPAN[:7] not in rec["raw"], t
    stray = json.loads(letters["strays/glow/A1B2C3D4E5F6/SENSOR/electricitymeter"]["raw"])
    assert stray["electricitymeter"]["energy"]["import"]["mpan"] == "[removed]"
    assert stray["electricitymeter"]["energy"]["import"]["cumulative"] == 4595.563  # kept
    failed = letters[topic]
    assert failed["reason"].startswith("parse_failed: KeyError")
    assert '"mpan":"[removed]"' in failed["raw"]


def test_zigbee2mqtt_group_state_is_ignored_and_counted_not_dead_lettered(settings,
                                                                          mqtt_server):
    doc = json.loads((FIXTURES / "z2m_bridge_groups.json").read_text())
    group = doc["payload"][0]["friendly_name"]
    state = json.dumps(doc["group_state"]).encode()
    with ServiceThread(settings) as svc:
        mqtt = next(c for c in svc.service.collectors if c.type == "mqtt")
        assert "zigbee2mqtt/bridge/groups" in mqtt.topics
        pub = Publisher(mqtt_server.port, client_id="test-redteam-groups-pub")
        # Before the bridge's list arrives a group looks like any unknown device.
        pub.publish([(f"zigbee2mqtt/{group}", state)])
        wait_until(lambda: mqtt.stats.extra["acked"] >= 1, 30, "first message acked")
        pub.publish([(doc["topic"], json.dumps(doc["payload"]).encode())])
        wait_until(lambda: mqtt.router.ignored["group_list"] == 1, 30, "group list taken")
        pub.publish([(f"zigbee2mqtt/{group}", state), (f"zigbee2mqtt/{group}", state),
                     ("zigbee2mqtt/someone_elses_sensor", state)])
        pub.close()
        wait_until(lambda: mqtt.stats.extra["acked"] >= 5, 30, "messages acked")
        assert mqtt.router.ignored == {"group_list": 1, "group": 2}
        assert mqtt.stats.extra["ignored"] == 3
        assert mqtt.stats.dead_lettered == 2
        from prometheus_client import CollectorRegistry, generate_latest

        from collectors.mqtt_metrics import MqttPathMetrics

        reg = CollectorRegistry()
        reg.register(MqttPathMetrics(mqtt.router))
        text = generate_latest(reg).decode()
        assert 'hearth_mqtt_ignored_messages_total{reason="group"} 2.0' in text
    counts = count_by_reason(settings.collectors.dead_letter_dir)
    assert counts[("mqtt", "unknown_device")] == 2  # the early group message, the stranger
    assert sum(counts.values()) == 2
