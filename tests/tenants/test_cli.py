"""`hearth tenant serve` refuses to start in ways a tenant would only find out about later."""

from __future__ import annotations

import socket

from hearth.cli import main


def test_serve_needs_a_notify_template_for_codes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    monkeypatch.setenv("HEARTH__NOTIFIER__SENDER", "notify")
    monkeypatch.setenv("HEARTH__NOTIFIER__HELP_PHONE", "0161 496 0000")
    assert main(["tenant", "serve", "--port", "1"]) == 2
    assert "tenants.code_template_id" in capsys.readouterr().err


def test_serve_refuses_a_port_in_use(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert main(["tenant", "serve", "--port", str(s.getsockname()[1])]) == 2
    assert "already in use" in capsys.readouterr().err
