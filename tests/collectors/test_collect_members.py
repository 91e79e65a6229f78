"""Three `hearth collect --shard i/3` processes share one MQTT subscription (real Mosquitto,
real InfluxDB, real collector processes). One is killed with SIGKILL under load: its session
keeps its share of the messages until it comes back, and then every published QoS 1 reading is
in InfluxDB exactly once. A member retired with `hearth collect leave` hands over its queue.

The broker behaviour tested here is Mosquitto's (eclipse-mosquitto/mosquitto issues #1747 and
#2662: a disconnected member with a persistent session stays in the share group and its turn's
messages are queued in its session; MQTT 5.0 section 4.8.2 lets a server do so)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from hearth.influx import InfluxClient
from hearth.stack import free_port
from tests.collectors.mqtt_e2e_support import (
    ROOT,
    Publisher,
    count_meter,
    good_messages,
    meter_points,
    wait_until,
    write_config,
)
from tests.conftest import INFLUX_PASSWORD, MQTT_PASSWORD, make_settings


def member_settings(tmp_path: Path, influx_server, mqtt_server, k: int, database: str,
                    client_id: str, group: str):
    s = make_settings(tmp_path / f"member{k}", influx_server, mqtt_server,
                      collectors={"mqtt": {"client_id": client_id, "share_group": group},
                                  "metrics_port": free_port()})
    return s.model_copy(update={"influxdb": s.influxdb.model_copy(update={"database": database})})


def hearth_process(config: Path, log_path: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HEARTH_INFLUX_PASSWORD=INFLUX_PASSWORD,
               HEARTH_MQTT_PASSWORD=MQTT_PASSWORD)
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, "-m", "hearth", "--config", str(config), *args],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                            start_new_session=True)
    log.close()
    return proc


class Members:
    """N collector processes, member k with its own config (spool, metrics port)."""

    def __init__(self, tmp_path, influx_server, mqtt_server, n: int = 3):
        tag = uuid.uuid4().hex[:8]
        self.n = n
        self.database = f"t_members_{tag}"
        self.client_id = f"test-member-{tag}"
        self.group = f"g{tag}"
        self.settings, self.configs, self.logs = [], [], []
        for k in range(1, n + 1):
            s = member_settings(tmp_path, influx_server, mqtt_server, k, self.database,
                                self.client_id, self.group)
            (tmp_path / f"member{k}").mkdir(parents=True, exist_ok=True)
            self.settings.append(s)
            self.configs.append(write_config(s, tmp_path / f"member{k}.toml"))
            self.logs.append(tmp_path / f"member{k}.log")
        self.procs: dict[int, subprocess.Popen] = {}

    def log_text(self, k: int) -> str:
        return self.logs[k - 1].read_text(errors="replace") if self.logs[k - 1].exists() else ""

    def start(self, k: int) -> None:
        before = self.log_text(k).count("at QoS 1")
        self.procs[k] = hearth_process(self.configs[k - 1], self.logs[k - 1], "collect",
                                       "--shard", f"{k}/{self.n}")
        wait_until(lambda: self.log_text(k).count("at QoS 1") > before, 60,
                   f"member {k} subscribed")

    def kill(self, k: int) -> None:
        proc = self.procs.pop(k)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


def assert_all_once(db, msgs) -> None:
    points = meter_points(db)
    expected = {(dev, t): kwh for _, _, (dev, t, kwh) in msgs}
    missing = set(expected) - set(points)
    assert not missing, f"{len(missing)} readings lost, e.g. {sorted(missing)[:3]}"
    assert len(points) == len(expected), "points that were never published"
    assert all(points[k] == pytest.approx(v) for k, v in expected.items())
    assert count_meter(db) == len(expected)


def settle(db, timeout_s: float = 60.0) -> int:
    """The meter count once it has stopped growing for 3 s."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        n = count_meter(db)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > 3.0:
            return n
        time.sleep(0.3)
    return last


def test_three_members_one_killed_under_load_nothing_lost(tmp_path, influx_server, mqtt_server):
    members = Members(tmp_path, influx_server, mqtt_server)
    msgs = good_messages(9000, households=60)
    try:
        for k in (1, 2, 3):
            members.start(k)
        with InfluxClient.from_settings(members.settings[0]) as db:
            pub = Publisher(mqtt_server.port, f"pub-{members.client_id}")
            killed = threading.Event()

            def publish_under_load():
                for lo in range(0, len(msgs), 250):
                    pub.publish(msgs[lo:lo + 250])
                    if lo == 3000:
                        members.kill(2)  # mid-stream: messages in flight and unacknowledged
                        killed.set()
                    time.sleep(0.05)

            publisher = threading.Thread(target=publish_under_load)
            publisher.start()
            publisher.join(300)
            assert killed.is_set() and not publisher.is_alive()
            # Member 2 is down: its session holds its turn's messages; 1 and 3 do not get them.
            during = settle(db)
            assert 0 < during < len(msgs), "the dead member's session holds its share"
            assert len(msgs) - during > 1000, "about a third of the 6000 published after the kill"
            members.start(2)  # same client id: the session and its queue are resumed
            wait_until(lambda: count_meter(db) >= len(msgs), 120, "member 2 drained its queue")
            pub.close()
            members.stop_all()
            assert_all_once(db, msgs)
            # Each member took part: every one stored readings from the shared subscription.
            for k in (1, 2, 3):
                assert "subscribed to '$share/" in members.log_text(k)
                taken = [int(n) for n in re.findall(r"collect: stopped; readings in (\d+)",
                                                     members.log_text(k))]
                assert taken and sum(taken) > 1000, f"member {k} took {taken}"
    finally:
        members.stop_all()


def test_retired_member_hands_over_its_queue(tmp_path, influx_server, mqtt_server):
    """A member that will not come back: `hearth collect leave --shard 3/3` takes the messages
    queued in its session, stores them, unsubscribes and ends the session; after that the
    remaining members get everything."""
    members = Members(tmp_path, influx_server, mqtt_server)
    msgs = good_messages(3000, households=30)
    try:
        for k in (1, 2, 3):
            members.start(k)
        with InfluxClient.from_settings(members.settings[0]) as db:
            pub = Publisher(mqtt_server.port, f"pub-{members.client_id}")
            members.kill(3)
            pub.publish(msgs[:1500])
            during = settle(db)
            assert during < 1500, "member 3's session holds its share"
            leave = hearth_process(members.configs[2], members.logs[2], "collect", "leave",
                                   "--shard", "3/3")
            assert leave.wait(120) == 0, members.log_text(3)
            wait_until(lambda: count_meter(db) >= 1500, 60, "member 3's queue stored")
            pub.publish(msgs[1500:])  # only members 1 and 2 now
            wait_until(lambda: count_meter(db) >= len(msgs), 60, "all stored")
            assert settle(db) == len(msgs)
            pub.close()
            members.stop_all()
            assert_all_once(db, msgs)
            assert "left the share group" in members.log_text(3)
    finally:
        members.stop_all()
