"""Fixtures for the shared package's tests: settings and a client on the session InfluxDB."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hearth.influx import InfluxClient
from hearth.stack import free_port
from tests.conftest import make_settings


@pytest.fixture
def influx_settings(tmp_path, influx_server):
    """Settings on the session InfluxDB with a fresh database; no MQTT broker needed."""
    return make_settings(tmp_path, influx_server, SimpleNamespace(port=free_port()))


@pytest.fixture
def client(influx_settings):
    with InfluxClient.from_settings(influx_settings) as c:
        c.ensure_database()
        yield c
