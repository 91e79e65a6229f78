"""Fixtures for the importers' tests: settings on the session's real InfluxDB with the
providers' base URLs pointed at a local stub server (pytest-httpserver), a real registry with
households, tenants, consent and meter points, and the provider stubs (tests/importers/stubs.py)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from hearth.registry import Registry
from hearth.stack import free_port
from importers.meter_points import add_meter_point
from importers.providers import MeterPoint
from tenants.rights import set_consent
from tests.advisor.conftest import add_household, add_tenant
from tests.conftest import make_settings
from tests.importers.stubs import GlowmarktStub, N3rgyStub, OctopusStub

# Midnight UTC three days ago: inside the raw retention policy, so live meter readings fit too.
DAY0 = dt.datetime.fromtimestamp((int(dt.datetime.now(dt.UTC).timestamp()) // 86400 - 3) * 86400,
                                 dt.UTC)
DAY0_S = int(DAY0.timestamp())
APP_ID = "test-application-id"
SECRETS = {"HEARTH_OCTOPUS_API_KEY": "sk_test_octopus", "HEARTH_N3RGY_API_KEY": "n3rgy-key",
           "HEARTH_GLOWMARKT_USERNAME": "officer@council.example",
           "HEARTH_GLOWMARKT_PASSWORD": "glow-pass"}


@pytest.fixture
def isettings(tmp_path, influx_server, httpserver):
    base = httpserver.url_for("").rstrip("/")
    return make_settings(
        tmp_path, influx_server, SimpleNamespace(port=free_port()),
        importers={"smart_meter": {
            "octopus_base_url": base, "glowmarkt_base_url": base, "n3rgy_base_url": base,
            "glowmarkt_application_id": APP_ID, "octopus_page_size": 5, "lookback_days": 1,
            "backoff_initial_s": 0.0, "backoff_max_s": 5.0, "max_retries": 2,
            "timeout_s": 5.0}})


@pytest.fixture
def secrets_env(monkeypatch):
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    return SECRETS


@pytest.fixture
def reg(isettings):
    r = Registry(isettings.registry.target)
    yield r
    r.close()


def add_home(reg: Registry, household: str, *points: MeterPoint, consent: bool = True,
             tenants: int = 1) -> None:
    with reg.transaction() as conn:
        add_household(conn, household)
        for i in range(tenants):
            add_tenant(conn, f"{household}-T{i}", household)
    if consent:
        set_consent(reg, household, smart_meter_import=True, source="officer_visit",
                    actor="test", at="2025-06-01T10:00:00Z")
    for p in points:
        add_meter_point(reg, p, actor="test")


@pytest.fixture
def octopus(httpserver):
    return OctopusStub(httpserver, SECRETS["HEARTH_OCTOPUS_API_KEY"])


@pytest.fixture
def glowmarkt(httpserver):
    return GlowmarktStub(httpserver, SECRETS["HEARTH_GLOWMARKT_USERNAME"],
                         SECRETS["HEARTH_GLOWMARKT_PASSWORD"], APP_ID)


@pytest.fixture
def n3rgy(httpserver):
    return N3rgyStub(httpserver, SECRETS["HEARTH_N3RGY_API_KEY"])
