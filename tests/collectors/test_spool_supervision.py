"""Threads that crash are restarted and counted; alerts say when InfluxDB stopped answering.
Real InfluxDB and Mosquitto (the session fixtures), the real spool and writer."""

from __future__ import annotations

import re
import time

import pytest

from collectors.base import Reading
from collectors.deadletter import DeadLetters
from collectors.health import metrics_registry, summary_line
from collectors.spool import Spool
from collectors.supervise import restarts
from collectors.writer import SpoolWriter
from hearth.influx import InfluxClient
from hearth.stack import InfluxServer, free_port
from tests.collectors.mqtt_e2e_support import (
    Publisher,
    ServiceThread,
    count_meter,
    good_messages,
    wait_until,
)
from tests.conftest import INFLUX_PASSWORD, INFLUX_USER, make_settings


def reading(i: int) -> Reading:
    t0 = (time.time_ns() // 3_600_000_000_000 - 24) * 3_600_000_000_000
    return Reading("meter", {"household": "H000001", "device": "E1", "fuel": "electricity",
                             "source": "mqtt"}, {"energy_kwh": 100.0 + i}, t0 + i * 10**9)


def crash_once(fn):
    calls = []

    def wrapper(*a, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("injected crash")
        return fn(*a, **kw)

    return wrapper


def test_a_crashed_writer_thread_is_restarted_counted_and_loses_nothing(tmp_path, settings,
                                                                         caplog):
    spool = Spool(tmp_path / "spool", DeadLetters(tmp_path / "dead"))
    client = InfluxClient.from_settings(settings)
    writer = SpoolWriter(spool, client, retry_first_s=0.1, prepare=client.ensure_database)
    spool.read_batch = crash_once(spool.read_batch)  # a bug deep in the loop
    before = restarts().get("spool-writer", 0)
    spool.put([reading(i) for i in range(100)], "test")
    writer.start()
    try:
        wait_until(lambda: writer.stats.written == 100, 30, "the restarted writer's writes")
        assert restarts()["spool-writer"] == before + 1
        assert "thread spool-writer crashed" in caplog.text
        assert writer._thread.is_alive()
        assert count_meter(client) == 100
    finally:
        writer.stop()
        spool.close()
        client.close()


@pytest.fixture
def own_influx(tmp_path_factory):
    server = InfluxServer(tmp_path_factory.mktemp("influx_alert"), free_port(), free_port(),
                          INFLUX_USER, INFLUX_PASSWORD)
    server.start()
    yield server
    server.stop()


def test_influxdb_unreachable_since_is_reported_and_clears(tmp_path, own_influx, mqtt_server):
    from prometheus_client import generate_latest

    settings = make_settings(tmp_path, own_influx, mqtt_server,
                             influxdb={"max_retry_s": 1.0, "timeout_s": 1.0},
                             collectors={"spool": {"retry_max_s": 0.5}})
    with ServiceThread(settings) as svc:
        writer = svc.service.writer
        wait_until(lambda: writer.stats.last_success is not None, 30, "database created")
        own_influx.stop()
        stopped_at = time.time()
        svc.service.spool.put([reading(i) for i in range(10)], "test")
        wait_until(lambda: writer.stats.failing_since is not None, 30, "a failed write")
        snap = svc.service.snapshot()
        assert stopped_at <= snap.influx_unreachable_since <= time.time()
        assert "InfluxDB unreachable since" in summary_line(snap, None, 0)
        metrics = generate_latest(metrics_registry(svc.service.snapshot)).decode()
        since = float(next(line.split()[-1] for line in metrics.splitlines()
                           if line.startswith("hearth_influx_unreachable_since_seconds ")))
        assert since == pytest.approx(snap.influx_unreachable_since)
        assert "hearth_spool_disk_free_bytes" in metrics
        own_influx.start()
        wait_until(lambda: writer.stats.failing_since is None, 60, "writes accepted again")
        assert "unreachable" not in summary_line(svc.service.snapshot(), None, 0)
        wait_until(lambda: svc.service.spool.backlog_readings() == 0, 30, "spool drained")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_crashed_mqtt_threads_are_restarted_and_every_message_arrives(tmp_path, influx_server,
                                                                      mqtt_server, caplog):
    settings = make_settings(tmp_path, influx_server, mqtt_server,
                             collectors={"mqtt": {"client_id": "test-thread-crash",
                                                  "reconnect_min_s": 0.5,
                                                  "reconnect_max_s": 1.0}})
    msgs = good_messages(300, households=10)
    before = restarts()
    with ServiceThread(settings) as svc, InfluxClient.from_settings(settings) as db:
        mqtt = next(c for c in svc.service.collectors if c.type == "mqtt")
        # The committer's loop and paho's network thread each meet one exception.
        mqtt._take_batch = crash_once(mqtt._take_batch)
        mqtt.client.on_message = crash_once(mqtt.client.on_message)
        pub = Publisher(mqtt_server.port, "pub-thread-crash")
        pub.publish(msgs)
        pub.close()
        wait_until(lambda: count_meter(db) == len(msgs), 60, "every reading in InfluxDB")
        after = restarts()
        assert after.get("mqtt-network", 0) == before.get("mqtt-network", 0) + 1
        assert after.get("mqtt-commit", 0) == before.get("mqtt-commit", 0) + 1
        assert "the MQTT network thread died" in caplog.text
        assert "thread restarts" in summary_line(svc.service.snapshot(), None, 0)


def test_collect_status_shows_the_running_collectors_alerts(tmp_path, settings, capsys):
    """`hearth collect status` reads the alerts from a live metrics endpoint over HTTP."""
    from prometheus_client import start_http_server

    from collectors.cli import status_handler
    from collectors.health import Snapshot

    status_handler(None, settings)
    assert "collector: not running" in capsys.readouterr().out
    failing_since = time.time() - 312
    snap = Snapshot(readings_in=0, written=0, dead_lettered=0, influx_dead_lettered=0,
                    backlog_readings=7, backlog_bytes=900, spool_max_bytes=10**9,
                    devices_silent=0, per_collector={}, write_failures=3,
                    influx_unreachable_since=failing_since, spool_disk_free_bytes=12345,
                    spool_disk_full_since=failing_since + 12,
                    thread_restarts={"spool-writer": 2})
    server, _ = start_http_server(settings.collectors.metrics_port, addr="127.0.0.1",
                                  registry=metrics_registry(lambda: snap))
    try:
        status_handler(None, settings)
    finally:
        server.shutdown()
    out = capsys.readouterr().out
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(failing_since))
    assert re.search(rf"InfluxDB unreachable since {stamp} \(31[23] s\)", out), out
    assert "spool disk full since" in out and "spool disk free 12345 bytes" in out
    assert "thread spool-writer restarted 2 times" in out
    assert "disk free" in out.splitlines()[0]


def test_a_collector_task_that_crashes_takes_the_process_down_loudly(settings, caplog):
    import asyncio

    from collectors.base import Collector
    from collectors.service import CollectService

    class Crashing(Collector):
        type = "crash-test"

        async def run(self, stop):
            await asyncio.sleep(0.2)
            raise RuntimeError("injected collector crash")

    service = CollectService(settings, collectors=[], serve_metrics=False)
    service.collectors = [Crashing("crashy", None, service.spool)]

    async def main():
        stop = asyncio.Event()
        await asyncio.wait_for(service.run(stop), 60)  # ends by itself, no signal sent

    asyncio.run(main())
    assert service.crashed and "injected collector crash" in service.crashed
    assert "collector-crashy ended unexpectedly" in caplog.text
    assert any(r.levelname == "CRITICAL" for r in caplog.records)
