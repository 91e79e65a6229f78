"""The end of a tenancy (`hearth tenant end-tenancy`) also ends what the portal holds: share
links stop, live sign-in codes die, research consent is withdrawn with a record, proposed
corrections lose their value, and the tenant can no longer sign in."""

from __future__ import annotations

from hearth.registry import Registry
from tenants import consent, corrections, problems, shares, signin
from tenants.rights import end_tenancy
from tests.tenants.conftest import MOBILE_A, last_code


def test_end_of_tenancy_closes_the_portal(portal):
    settings, homes, _ = portal
    with Registry(settings.registry.target) as reg:
        name = reg.tenant(homes.tenant_a).full_name
        token = shares.create(reg, homes.a, homes.tenant_a, "Family", ["usage"], 30, 90)
        consent.choose(reg, homes.a, homes.tenant_a, "research", True)
        corrections.propose(reg, homes.a, homes.tenant_a, "vulnerability", "Alice uses oxygen")
    problems.report(settings, homes.a, homes.tenant_a, "cold_home", f"Cold since {name} moved in")
    signin.request_code(settings, MOBILE_A, "10.5.0.1")
    code = last_code(settings, MOBILE_A)
    end_tenancy(settings, homes.a, actor="test")
    with Registry(settings.registry.target) as reg:
        assert shares.open_share(reg, token) is None
        assert not consent.current(reg.conn, homes.tenant_a)["research"]
        assert reg.query("SELECT event, source FROM research_consent_log WHERE tenant_id = ?"
                         " ORDER BY research_id DESC", (homes.tenant_a,)).fetchone() == (
            "withdrawn", "end_of_tenancy")
        values = reg.query("SELECT new_value, status FROM record_corrections WHERE tenant_id = ?",
                           (homes.tenant_a,)).fetchall()
        assert values and all(v == ("", "withdrawn") for v in values)
        erased = {r[0] for r in reg.query("SELECT location FROM erasure_log WHERE"
                                          " household_id = ?", (homes.a,))}
        assert {"record_corrections", "tenant_reports"} <= erased
        texts = " ".join(r[0] for r in reg.query("SELECT description FROM tenant_reports WHERE"
                                                 " household_id = ?", (homes.a,)))
        assert "Cold since" in texts and name not in texts
    assert signin.verify_code(settings, MOBILE_A, code, "10.5.0.1") is None
    # The mobile was cleared: a new code request finds nobody, and says the same as ever.
    assert signin.request_code(settings, MOBILE_A, "10.5.0.2").message == signin.REQUEST_ANSWER
