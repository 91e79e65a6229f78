"""Shared fixtures of the simulator tests: small portfolios, deterministic by seed."""

from __future__ import annotations

import pytest

from meters_sim.homes import Portfolio, synthetic_households
from meters_sim.views import synthetic_devices

WINTER = "2026-01-12T00:00"
SUMMER = "2026-07-13T00:00"


@pytest.fixture(scope="session")
def rows_60():
    return synthetic_households(60, seed=7)


@pytest.fixture(scope="session")
def portfolio_60(rows_60):
    return Portfolio.from_rows(rows_60, seed=7)


@pytest.fixture(scope="session")
def devices_60(rows_60):
    return synthetic_devices(rows_60, seed=7)


@pytest.fixture
def sim_settings(tmp_path, influx_server, mqtt_server):
    """Settings on the test servers with every simulator file under tmp_path."""
    from tests.conftest import make_settings

    return make_settings(tmp_path, influx_server, mqtt_server,
                         sim={"truth_dir": str(tmp_path / "sim"),
                              "emission_log_path": str(tmp_path / "sim" / "emissions.jsonl")})
