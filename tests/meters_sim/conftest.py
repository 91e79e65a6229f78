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
