"""Failure modes: InfluxDB stopped mid-write (wait, retry, nothing lost or doubled), wrong
credentials, missing privileges, wrong port, missing database: each a one-line error."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from hearth.errors import InfluxError
from hearth.influx import BatchWriter, InfluxClient, quote_ident
from hearth.stack import InfluxServer, free_port
from tests.conftest import INFLUX_PASSWORD, INFLUX_USER

NOW_NS = (time.time_ns() // 10**9 - 3600) * 10**9


@pytest.fixture
def own_server(tmp_path):
    """A private InfluxDB (so that stopping it does not disturb the session's one)."""
    server = InfluxServer(tmp_path / "influxdb", free_port(), free_port(), "admin", "pw")
    server.start()
    yield server
    server.stop()


def _count_and_sum(client, measurement="m"):
    [s] = client.query(f'SELECT count("v"), sum("v") FROM {quote_ident(measurement)}')
    return int(s.values["count"][0]), float(s.values["sum"][0])


def test_server_stopped_mid_write_waits_and_loses_nothing(own_server, tmp_path, caplog):
    client = InfluxClient(own_server.url, "outage", "admin", "pw", max_retry_s=60,
                          batch_size=1000, dead_letter_path=tmp_path / "dl.jsonl")
    client.ensure_database()
    n_batches, per_batch = 40, 1000
    batches = [[f"m,src=a v={b * per_batch + i}i {NOW_NS + b * per_batch + i}"
                for i in range(per_batch)] for b in range(n_batches)]
    errors: list[BaseException] = []

    def produce():
        try:
            with BatchWriter(client, flush_interval_s=0.2) as writer:
                for batch in batches:
                    writer.add(batch)
                    time.sleep(0.05)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    caplog.set_level(logging.WARNING, logger="hearth.influx")
    thread = threading.Thread(target=produce)
    thread.start()
    time.sleep(0.5)
    own_server.stop()  # mid-stream: some batches written, the rest must wait
    time.sleep(3.0)
    assert thread.is_alive(), "the writer gave up instead of waiting"
    own_server.start()
    thread.join(timeout=90)
    assert not thread.is_alive() and not errors, errors
    total = n_batches * per_batch
    assert _count_and_sum(client) == (total, float(sum(range(total))))
    waits = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
    assert waits and own_server.url in waits[0] and "retrying" in waits[0]
    assert not (tmp_path / "dl.jsonl").exists()


def test_server_gone_for_longer_than_max_retry_keeps_lines(own_server, tmp_path):
    client = InfluxClient(own_server.url, "gone", "admin", "pw", max_retry_s=1.5,
                          dead_letter_path=tmp_path / "dl.jsonl")
    client.ensure_database()
    own_server.stop()
    writer = BatchWriter(client, flush_interval_s=0.1)
    lines = [f"m v={i}.0 {NOW_NS + i}" for i in range(10)]
    writer.add(lines)
    with pytest.raises(InfluxError, match=r"cannot reach InfluxDB at http://127\.0\.0\.1") as err:
        writer.flush()
    assert "\n" not in str(err.value)
    assert writer.unwritten == lines  # the caller can keep them (spool)
    writer.close()


def test_wrong_password_is_one_line_naming_user_and_setting(influx_server):
    with InfluxClient(influx_server.url, "x", INFLUX_USER, "not-the-password") as client, \
            pytest.raises(InfluxError) as err:
        client.ensure_database()
    msg = str(err.value)
    assert "\n" not in msg and "401" in msg
    assert repr(INFLUX_USER) in msg and "HEARTH_INFLUX_PASSWORD" in msg
    assert "influxdb.username" in msg
    assert "authorization failed" in msg  # the server's words, decoded (queries answer in msgpack)


def test_user_without_privileges_gets_403_error(influx_server, tmp_path):
    with InfluxClient(influx_server.url, "priv", INFLUX_USER, INFLUX_PASSWORD) as admin:
        admin.ensure_database()
        admin.execute("CREATE USER \"reader\" WITH PASSWORD 'r'")
    with InfluxClient(influx_server.url, "priv", "reader", "r",
                      dead_letter_path=tmp_path / "dl.jsonl") as client, \
            pytest.raises(InfluxError) as err:
        client.write_lines([f"m v=1.0 {NOW_NS}"])
    msg = str(err.value)
    assert "\n" not in msg and "403" in msg and "'reader'" in msg and "'priv'" in msg


def test_wrong_port_is_one_line_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}"
    client = InfluxClient(url, "x", "u", "p", max_retry_s=60)
    client.first_contact_retry_s = 1.0
    started = time.monotonic()
    with pytest.raises(InfluxError) as err:
        client.ensure_database()
    assert time.monotonic() - started < 10
    msg = str(err.value)
    assert "\n" not in msg and url in msg and "connection refused" in msg
    assert "influxdb.url" in msg


def test_missing_database_on_write_says_what_to_run(influx_server, tmp_path):
    with InfluxClient(influx_server.url, "never_created", INFLUX_USER, INFLUX_PASSWORD,
                      dead_letter_path=tmp_path / "dl.jsonl") as client, \
            pytest.raises(InfluxError, match="hearth stack up") as err:
        client.write_lines([f"m v=1.0 {NOW_NS}"])
    assert "never_created" in str(err.value) and "\n" not in str(err.value)
