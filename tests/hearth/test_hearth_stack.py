"""`hearth stack`: start/stop/status are idempotent, a port in use and a missing influxd give
one-line errors a person can act on."""

from __future__ import annotations

import argparse
import shutil
import socket

import pytest

from hearth.cli import main
from hearth.errors import StackError
from hearth.settings import load_settings
from hearth.stack import InfluxServer, free_port, servers_from_settings
from hearth.stack_cli import run
from tests.conftest import broker_dir


def write_config(tmp_path, influx_port: int, rpc_port: int, mqtt_port: int):
    path = tmp_path / "hearth.toml"
    path.write_text(f"""
[paths]
var_dir = "{tmp_path / 'var'}"
[influxdb]
url = "http://127.0.0.1:{influx_port}"
rpc_port = {rpc_port}
database = "stack_test"
[mqtt]
port = {mqtt_port}
""")
    return path


@pytest.fixture
def stack_env(monkeypatch):
    home = broker_dir("hearth-stack-")  # the broker's own user must reach var/mosquitto
    monkeypatch.setenv("HEARTH_HOME", str(home))
    monkeypatch.setenv("HEARTH_INFLUX_PASSWORD", "stack-influx-pw")
    monkeypatch.setenv("HEARTH_MQTT_PASSWORD", "stack-mqtt-pw")
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_up_status_down_are_idempotent(stack_env, capsys):
    config = write_config(stack_env, free_port(), free_port(), free_port())
    try:
        assert main(["--config", str(config), "stack", "up"]) == 0
        first = capsys.readouterr().out
        assert first.count("started ") == 2 and "database 'stack_test' ready" in first
        assert main(["--config", str(config), "stack", "up"]) == 0
        again = capsys.readouterr().out
        assert again.count("already running") == 2
        assert main(["--config", str(config), "stack", "status"]) == 0
        status = capsys.readouterr().out
        assert status.count("running, pid") == 2 and "answering" in status
    finally:
        assert main(["--config", str(config), "stack", "down"]) == 0
    down = capsys.readouterr().out
    assert "influxdb: stopped" in down and "mosquitto: stopped" in down
    assert main(["--config", str(config), "stack", "down"]) == 0
    assert capsys.readouterr().out.count("was not running") == 2
    assert main(["--config", str(config), "stack", "status"]) == 0
    assert capsys.readouterr().out.count(": stopped") == 2


def test_port_in_use_names_the_port(stack_env, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = write_config(stack_env, port, free_port(), free_port())
        assert main(["--config", str(config), "stack", "up"]) == 2
        err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"port {port}" in err and "already in use" in err and "config/hearth.toml" in err


def test_rpc_port_in_use_names_the_setting(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        rpc = busy.getsockname()[1]
        server = InfluxServer(tmp_path, free_port(), rpc, "u", "p")
        with pytest.raises(StackError, match=f"RPC port {rpc}.*influxdb.rpc_port"):
            server.start()


def test_missing_influxd_gives_the_apt_get_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    server = InfluxServer(tmp_path / "influx", free_port(), free_port(), "u", "p")
    server.binary = "influxd-not-installed"  # nor in /usr/sbin or /usr/bin
    with pytest.raises(StackError) as err:
        server.start()
    msg = str(err.value)
    assert "\n" not in msg
    assert "influxd-not-installed is not installed" in msg
    assert "apt-get install influxdb" in msg


def test_missing_mosquitto_gives_the_apt_get_hint(stack_env):
    config = write_config(stack_env, free_port(), free_port(), free_port())
    [mosquitto] = [s for s in servers_from_settings(load_settings(config))
                   if s.name == "mosquitto"]
    mosquitto.binary = "mosquitto-not-installed"
    with pytest.raises(StackError, match=r"run `apt-get install mosquitto`"):
        mosquitto.start()


def test_stack_handler_signature(stack_env):
    """The command handler follows the CLI contract: handler(args, settings) -> int."""
    config = write_config(stack_env, free_port(), free_port(), free_port())
    assert run(argparse.Namespace(action="status"), load_settings(config)) == 0
