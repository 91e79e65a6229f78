"""`hearth users`: accounts with argon2 hashes in the registry; sign-in checks."""

from __future__ import annotations

import pytest

from dashboard.users import UserError, UserStore
from hearth.cli import main
from hearth.registry import Registry


@pytest.fixture
def cli(tmp_path, monkeypatch):
    reg_path = tmp_path / "registry.sqlite3"
    monkeypatch.setenv("HEARTH__REGISTRY__PATH", str(reg_path))
    monkeypatch.setenv("HEARTH__PATHS__VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HEARTH_INFLUX_PASSWORD", "unused")
    monkeypatch.setenv("HEARTH_MQTT_PASSWORD", "unused")
    return reg_path


def test_users_add_and_list(cli, monkeypatch, capsys):
    monkeypatch.setenv("HEARTH_NEW_USER_PASSWORD", "a long enough passphrase")
    assert main(["users", "add", "j.smith", "--role", "officer", "--patch", "Northgate",
                 "--patch", "Riverside", "--name", "Jo Smith"]) == 0
    assert main(["users", "add", "boss", "--role", "manager"]) == 0
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "j.smith" in out and "Northgate, Riverside" in out and "(all)" in out
    with Registry(cli) as reg:
        row = reg.conn.execute("SELECT password_hash FROM users WHERE username = 'j.smith'"
                               ).fetchone()
        assert row[0].startswith("$argon2id$") and "passphrase" not in row[0]
        store = UserStore(reg.conn)
        assert store.authenticate("j.smith", "a long enough passphrase").patches == (
            "Northgate", "Riverside")
        assert store.authenticate("J.Smith ", "a long enough passphrase") is not None
        assert store.authenticate("j.smith", "a long enough passphrasE") is None
        assert store.authenticate("nobody", "a long enough passphrase") is None
        assert [e["action"] for e in reg.audit_entries("user:j.smith")] == ["user_added"]


def test_users_add_refuses_bad_input(cli, monkeypatch, capsys):
    monkeypatch.setenv("HEARTH_NEW_USER_PASSWORD", "short")
    assert main(["users", "add", "a.b", "--role", "officer", "--patch", "P"]) == 2
    assert "at least 12 characters" in capsys.readouterr().err
    monkeypatch.setenv("HEARTH_NEW_USER_PASSWORD", "a long enough passphrase")
    assert main(["users", "add", "a.b", "--role", "officer"]) == 2
    assert "needs at least one patch" in capsys.readouterr().err
    assert main(["users", "add", "Bad Name", "--role", "manager"]) == 2
    assert "lower-case" in capsys.readouterr().err
    assert main(["users", "add", "a.b", "--role", "manager"]) == 0
    assert main(["users", "add", "a.b", "--role", "manager"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["users", "add", "a.b", "--role", "manager", "--if-missing"]) == 0


def test_disabled_account_cannot_sign_in(cli, monkeypatch):
    monkeypatch.setenv("HEARTH_NEW_USER_PASSWORD", "a long enough passphrase")
    assert main(["users", "add", "x.y", "--role", "manager"]) == 0
    assert main(["users", "disable", "x.y"]) == 0
    with Registry(cli) as reg:
        assert UserStore(reg.conn).authenticate("x.y", "a long enough passphrase") is None
    assert main(["users", "enable", "x.y"]) == 0
    monkeypatch.setenv("HEARTH_NEW_USER_PASSWORD", "another long passphrase")
    assert main(["users", "passwd", "x.y"]) == 0
    with Registry(cli) as reg:
        store = UserStore(reg.conn)
        assert store.authenticate("x.y", "another long passphrase") is not None
        with pytest.raises(UserError, match="no user"):
            store.set_password("nobody", "another long passphrase")


def test_sso_only_account_needs_email_and_has_no_password(cli, monkeypatch):
    monkeypatch.delenv("HEARTH_NEW_USER_PASSWORD", raising=False)
    assert main(["users", "add", "sso.user", "--role", "officer", "--patch", "P",
                 "--email", "sso.user@council.example", "--sso-only"]) == 0
    with Registry(cli) as reg:
        store = UserStore(reg.conn)
        assert store.by_email("SSO.User@council.example").username == "sso.user"
        assert store.authenticate("sso.user", "") is None
