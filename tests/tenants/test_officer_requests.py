"""The officers' side of the portal: a correction a tenant proposed is accepted or rejected on
the dashboard's Tenant requests page (AppTest of the real dashboard), only within the officer's
patches, and the tenant's portal shows the decision."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from hearth.registry import Registry
from tenants import corrections, problems
from tests.dashboard.portfolio import PASSWORD
from tests.tenants.conftest import MOBILE_A, page, sign_in, texts

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def _officer(username: str) -> AppTest:
    at = AppTest.from_file(str(DASHBOARD), default_timeout=60).run()
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(PASSWORD)
    at.button[0].click().run()
    at.switch_page("app_pages/tenant_requests.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_officer_accepts_and_rejects_and_the_tenant_is_told(portal):
    settings, homes, demo = portal
    with Registry(settings.registry.target) as reg:
        size = reg.household(homes.a).occupants
        accept_id = corrections.propose(reg, homes.a, homes.tenant_a, "occupants", str(size + 2))
        reject_id = corrections.propose(reg, homes.a, homes.tenant_a, "vulnerability",
                                        "Asthma")
        patch = reg.household(homes.a).patch
    problems.report(settings, homes.a, homes.tenant_a, "thermostat_fault",
                    "The thermostat screen is blank.")
    mine = next(o for o, p in demo.officers.items() if p == patch)
    other = next(o for o, p in demo.officers.items() if p != patch)
    # An officer of another patch does not see the request.
    assert f"{homes.a}**" not in texts(_officer(other))
    at = _officer(mine)
    assert "The thermostat screen is blank." in at.dataframe[0].value.to_string()
    at.button(key=f"reject_{reject_id}").click().run()
    assert "say why" in texts(at)                                # a reason is required
    at.text_input(key=f"note_{reject_id}").input("Please tell us at your next visit")
    at.button(key=f"reject_{reject_id}").click().run()
    at.button(key=f"accept_{accept_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with Registry(settings.registry.target) as reg:
        assert reg.household(homes.a).occupants == size + 2
    tenant = texts(page(sign_in(settings, MOBILE_A), "details"))
    assert "accepted: your record is changed" in tenant
    assert "not accepted. Reason: Please tell us at your next visit" in tenant
