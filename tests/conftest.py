"""Fixtures that start the real servers (InfluxDB, Mosquitto) on free loopback ports with
authentication on, in temporary folders, once per test session."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from hearth.settings import Settings
from hearth.stack import InfluxServer, MosquittoServer, free_port
from tests import pg_server

INFLUX_USER, INFLUX_PASSWORD = "test_admin", "test-influx-password"
MQTT_USER, MQTT_PASSWORD = "hearth", "test-mqtt-password"


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory):
    server = InfluxServer(tmp_path_factory.mktemp("influxdb"), free_port(), free_port(),
                          INFLUX_USER, INFLUX_PASSWORD)
    server.start()
    yield server
    server.stop()


def broker_dir(prefix: str = "hearth-mqtt-") -> Path:
    """A folder the broker's own user can enter: Mosquitto drops from root to `mosquitto`
    before opening its files, and pytest's tmp folders are private to root."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def mqtt_server():
    """A plain broker: one user, no ACL, no TLS (the collectors' and simulator's tests)."""
    workdir = broker_dir()
    server = MosquittoServer(workdir / "mosquitto", free_port(), {MQTT_USER: MQTT_PASSWORD})
    server.start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server (Debian's postgresql 15) on a free loopback port. Its password
    reaches Hearth as a deployment gives it: HEARTH_REGISTRY_PASSWORD in the environment."""
    if not pg_server.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries missing: `make setup` installs Debian's postgresql")
        pytest.skip("PostgreSQL is not installed")
    server = pg_server.PostgresServer()
    server.start()
    old = os.environ.get("HEARTH_REGISTRY_PASSWORD")
    os.environ["HEARTH_REGISTRY_PASSWORD"] = pg_server.PG_PASSWORD
    yield server
    if old is None:
        os.environ.pop("HEARTH_REGISTRY_PASSWORD", None)
    else:
        os.environ["HEARTH_REGISTRY_PASSWORD"] = old
    server.stop()


# The tests that take `registry_engine` (the registry's own, cases, audit, outbox, users and
# sessions, tenants' records, concurrency) run once per engine; the rest of the suite on SQLite.
@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def registry_engine(request) -> str:
    return request.param


def new_registry_target(engine: str, directory: Path, request) -> str | Path:
    """A fresh, empty registry of ``engine``: a file in ``directory``, or a new schema on the
    session's PostgreSQL server."""
    if engine == "sqlite":
        return Path(directory) / "registry.sqlite3"
    return request.getfixturevalue("postgres_server").fresh_schema_url()


@pytest.fixture
def registry_target(registry_engine, tmp_path, request) -> str | Path:
    return new_registry_target(registry_engine, tmp_path, request)


@pytest.fixture
def settings(tmp_path, influx_server, mqtt_server) -> Settings:
    """Settings pointing at the test servers, a fresh database and a fresh var/ per test."""
    return make_settings(tmp_path, influx_server, mqtt_server)


_WHOLE_SUITE_PG: list = []


def _registry_url() -> dict:
    """HEARTH_TEST_REGISTRY=postgresql runs every test that uses make_settings on a PostgreSQL
    registry (one server for the run, a schema per test): the whole suite on the other engine,
    for a developer who changes registry SQL. CI runs the registry_engine tests on both."""
    if os.environ.get("HEARTH_TEST_REGISTRY", "sqlite") != "postgresql":
        return {}
    if not _WHOLE_SUITE_PG:
        import atexit

        server = pg_server.PostgresServer()
        server.start()
        atexit.register(server.stop)
        os.environ["HEARTH_REGISTRY_PASSWORD"] = pg_server.PG_PASSWORD
        _WHOLE_SUITE_PG.append(server)
    return {"url": _WHOLE_SUITE_PG[0].fresh_schema_url()}


def make_settings(var_dir: Path, influx_server, mqtt_server, **sections) -> Settings:
    raw = {
        "paths": {"var_dir": str(var_dir)},
        "influxdb": {"url": influx_server.url, "database": f"t_{uuid.uuid4().hex[:12]}",
                     "username": INFLUX_USER, "password": INFLUX_PASSWORD, "rpc_port": 1,
                     "max_retry_s": 60.0},
        # The plain broker has no TLS and one shared user (see tests/hearth/test_broker_security.py
        # for the stack's broker with TLS, per-home identities and an ACL).
        "mqtt": {"port": mqtt_server.port, "username": MQTT_USER, "password": MQTT_PASSWORD,
                 "tls": False, "device_identities": "shared"},
        "registry": {"path": str(var_dir / "registry.sqlite3"), **_registry_url()},
        "collectors": {"spool_dir": str(var_dir / "spool"),
                       "dead_letter_dir": str(var_dir / "dead_letters"),
                       "metrics_port": free_port()},
        "notifier": {"outbox_path": str(var_dir / "outbox.jsonl")},
        "reports": {"out_dir": str(var_dir / "reports")},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return Settings.model_validate(raw)
