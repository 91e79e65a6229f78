"""Fixtures: settings on the real test InfluxDB with the known portfolio of `portfolio.py`."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hearth.stack import free_port
from tests.conftest import make_settings
from tests.reports import portfolio


@pytest.fixture(scope="module")
def report_settings(tmp_path_factory, influx_server):
    var = tmp_path_factory.mktemp("reportvar")
    settings = make_settings(var, influx_server, SimpleNamespace(port=free_port()),
                             schedule={"state_path": str(var / "schedule.sqlite3")},
                             influxdb={"raw_retention_days": 3650})
    portfolio.build(settings)
    return settings
