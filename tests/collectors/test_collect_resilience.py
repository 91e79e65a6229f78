"""Nothing lost, nothing duplicated: InfluxDB down for 30 s, the broker restarted, and the
`hearth collect` process killed with SIGKILL mid-run and started again."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import pytest
import requests

from hearth.influx import InfluxClient
from hearth.stack import InfluxServer, MosquittoServer, free_port
from tests.collectors.mqtt_e2e_support import (
    Publisher,
    ServiceThread,
    collect_process,
    count_meter,
    good_messages,
    meter_points,
    wait_until,
    write_config,
)
from tests.conftest import (
    INFLUX_PASSWORD,
    INFLUX_USER,
    MQTT_PASSWORD,
    MQTT_USER,
    broker_dir,
    make_settings,
)


def assert_exactly(db, msgs) -> None:
    """Every message's reading is in InfluxDB with its value, and nothing else is."""
    points = meter_points(db)
    expected = {(dev, t): kwh for _, _, (dev, t, kwh) in msgs}
    missing = set(expected) - set(points)
    assert not missing, f"{len(missing)} readings lost, e.g. {sorted(missing)[:3]}"
    assert len(points) == len(expected), "points that were never emitted"
    assert all(points[k] == pytest.approx(v) for k, v in expected.items())
    assert count_meter(db) == len(expected)


@pytest.fixture
def own_influx(tmp_path_factory):
    server = InfluxServer(tmp_path_factory.mktemp("influx_own"), free_port(), free_port(),
                          INFLUX_USER, INFLUX_PASSWORD)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_broker(tmp_path_factory):
    workdir = broker_dir()  # reachable by the mosquitto user
    server = MosquittoServer(workdir / "mosquitto_own", free_port(), {MQTT_USER: MQTT_PASSWORD})
    server.start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def test_influxdb_down_for_30_s_nothing_lost_nothing_duplicated(tmp_path, own_influx,
                                                                 mqtt_server):
    settings = make_settings(tmp_path, own_influx, mqtt_server,
                             influxdb={"max_retry_s": 3.0, "timeout_s": 2.0},
                             collectors={"mqtt": {"client_id": "test-influx-down"},
                                         "spool": {"retry_max_s": 2.0}})
    msgs = good_messages(6000, households=50)
    with ServiceThread(settings) as svc, InfluxClient.from_settings(settings) as db:
        pub = Publisher(mqtt_server.port, "pub-influx-down")
        pub.publish(msgs[:1000])
        wait_until(lambda: svc.service.writer.stats.written >= 1000, 30, "first batch written")
        own_influx.stop()
        down_at = time.monotonic()
        for i in range(1000, 5000, 200):  # ~30 s of traffic while InfluxDB is down
            pub.publish(msgs[i:i + 200])
            time.sleep(1.4)
        spool = svc.service.spool
        assert spool.backlog_readings() >= 3900, "readings wait in the spool"
        assert svc.service.writer.stats.failures > 0
        assert time.monotonic() - down_at >= 28
        own_influx.start()
        pub.publish(msgs[5000:])
        pub.close()
        wait_until(lambda: spool.backlog_readings() == 0, 90, "spool drained")
        assert_exactly(db, msgs)


def test_broker_restart_and_sigkill_mid_run_lose_nothing(tmp_path, influx_server, own_broker):
    settings = make_settings(tmp_path, influx_server, own_broker,
                             collectors={"mqtt": {"client_id": "test-crash",
                                                  "reconnect_min_s": 0.5,
                                                  "reconnect_max_s": 2.0},
                                         "summary_interval_s": 1.0})
    config = write_config(settings, tmp_path / "hearth.toml")
    log_path = tmp_path / "collect.log"
    msgs = good_messages(9000, households=50)
    proc = collect_process(config, log_path)
    wait_until(lambda: "subscribed to" in log_path.read_text(), 30, "collector up")

    errors = []
    progress = []

    def publish_all():
        try:
            pub = Publisher(own_broker.port, "pub-crash")
            for i in range(0, len(msgs), 150):
                pub.publish(msgs[i:i + 150], timeout_s=120)
                progress.append(i + 150)
                time.sleep(0.05)
            pub.close()
        except Exception as exc:
            errors.append(exc)

    publisher = threading.Thread(target=publish_all, daemon=True)
    publisher.start()
    try:
        wait_until(lambda: progress and progress[-1] >= 2000, 60, "first third published")
        own_broker.stop()  # broker away for a moment
        time.sleep(2.0)
        own_broker.start()
        wait_until(lambda: progress and progress[-1] >= 5000, 90, "second third published")
        os.kill(proc.pid, signal.SIGKILL)  # mid-batch: messages in flight, spool unwritten
        proc.wait(10)
        time.sleep(1.0)
        proc = collect_process(config, log_path)
        publisher.join(180)
        assert not errors, errors
        assert not publisher.is_alive()
        with InfluxClient.from_settings(settings) as db:
            wait_until(lambda: count_meter(db) >= len(msgs), 120, "every reading in InfluxDB")
            assert_exactly(db, msgs)
        metrics = requests.get(f"http://127.0.0.1:{settings.collectors.metrics_port}/metrics",
                               timeout=5).text
        assert "hearth_spool_backlog_readings" in metrics
        assert 'hearth_collector_readings_total{collector="mqtt"}' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        except Exception:
            proc.kill()
            raise
    assert rc == 0
    text = log_path.read_text()
    assert "collect: readings in" in text and "collect: stopped" in text
