"""`hearth registry generate | show` through the real command line entry point."""

from __future__ import annotations

import pytest

from hearth.cli import main
from hearth.registry import Registry


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    monkeypatch.setenv("HEARTH_INFLUX_PASSWORD", "x")
    monkeypatch.setenv("HEARTH_MQTT_PASSWORD", "x")
    monkeypatch.delenv("HEARTH_CONFIG", raising=False)
    return tmp_path


def test_init_creates_and_is_idempotent(home, capsys):
    assert main(["registry", "init"]) == 0
    assert main(["registry", "init"]) == 0
    out = capsys.readouterr().out
    assert "0001_base.sql" in out and "schema version" in out
    assert (home / "var" / "registry.sqlite3").exists()


def test_generate_then_show(home, capsys):
    assert main(["registry", "generate", "--households", "250", "--seed", "5",
                 "--as-of", "2026-11-25", "--gateway-base-port", "16000"]) == 0
    out = capsys.readouterr().out
    assert "generated 250 households" in out and "ports 16000-" in out
    with Registry(home / "var" / "registry.sqlite3") as reg:
        assert reg.counts()["households"] == 250
        assert min(d.gateway_port for d in reg.devices(protocol="modbus")) == 16000
    assert main(["registry", "show"]) == 0
    out = capsys.readouterr().out
    assert "households" in out and "250" in out and "patch" in out
    # A second generate without --replace is refused with a clear one-line error.
    assert main(["registry", "generate", "--households", "10"]) == 2
    assert "--replace" in capsys.readouterr().err
    assert main(["registry", "generate", "--households", "10", "--replace"]) == 0


def test_generate_bad_units_is_one_line_error(home, capsys):
    assert main(["registry", "generate", "--households", "10", "--units-per-gateway", "0"]) == 2
    assert "247" in capsys.readouterr().err
