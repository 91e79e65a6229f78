"""Registry fixtures for the advisor's tests: the real registry (hearth.registry.Registry) with
its migrations, plus helpers to add households and tenants that satisfy its constraints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from advisor.db import connection

HOUSEHOLD_DEFAULTS = {
    "patch": "North", "estate": "Riverside", "address_area": "RS1", "property_type": "flat",
    "bedrooms": 2, "floor_area_m2": 60.0, "payment_type": "prepayment", "has_gas": 1,
    "heating": "gas", "epc_band": "D", "means_tested_benefits": 1, "vulnerable": 0,
    "vulnerability_notes": "", "occupancy": "home_all_day", "occupants": 2,
    "tenancy_start": "2020-01-01", "tenancy_end": None,
}


@pytest.fixture
def registry(registry_target):
    """The registry on each engine (tests/conftest.py: registry_engine)."""
    from hearth.registry import Registry

    reg = Registry(registry_target)
    yield reg
    reg.close()


@pytest.fixture
def conn(registry):
    return connection(registry)


def add_household(conn, household_id: str, **attrs) -> None:
    row = {"household_id": household_id, **HOUSEHOLD_DEFAULTS, **attrs}
    conn.execute(f"INSERT INTO households ({', '.join(row)}) VALUES"
                 f" ({', '.join('?' * len(row))})", list(row.values()))


def add_tenant(conn, tenant_id: str, household_id: str, mobile: str | None = "+447700900123",
               consent: bool = True, opted_out_at: str | None = None) -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conn.execute("INSERT INTO tenants (tenant_id, household_id, full_name, mobile, sms_consent,"
                 " sms_consent_at, sms_consent_source, opted_out_at) VALUES (?,?,?,?,?,?,?,?)",
                 (tenant_id, household_id, f"Tenant {tenant_id}", mobile, int(consent),
                  at if consent else None, "tenancy_signup" if consent else None, opted_out_at))
