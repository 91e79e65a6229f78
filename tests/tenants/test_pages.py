"""Every portal page through Streamlit's AppTest, signed in by the code read from the outbox,
against the real registry and InfluxDB: what a tenant reads, what they can do, and what is
refused (another household's id in the address, a stopped share link) and audited."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from hearth.registry import Registry
from tests.tenants.conftest import MOBILE_A, MOBILE_B, new_app, page, sign_in, texts

PAGES = ("home", "cases", "report", "details", "sharing", "download")


def _audit(settings, action, target):
    with Registry(settings.registry.target) as reg:
        return reg.query("SELECT detail FROM audit_log WHERE action = ? AND target = ? ORDER BY"
                         " audit_id", (action, target)).fetchall()


def test_signed_out_sees_only_sign_in(portal):
    at = new_app().run()
    assert not at.exception
    assert "Sign in" in at.title[0].value
    assert "6-digit code" in texts(at)


def test_wrong_code_is_refused(portal):
    at = new_app().run()
    at.text_input(key="signin_mobile").input(MOBILE_B)
    at.button[0].click().run()
    at.text_input(key="signin_code").input("000000")
    at.button[0].click().run()
    assert "not right" in texts(at)
    assert at.title[0].value.startswith("Sign in")


def test_every_page_renders_and_is_audited(portal):
    settings, homes, _ = portal
    at = sign_in(settings, MOBILE_A)
    assert at.title[0].value == "Your energy"
    for name in PAGES:
        page(at, name)
        assert at.title, name
    views = [d for (d,) in _audit(settings, "tenant.page_view", homes.a)]
    for name in ("energy", "cases", "report", "details", "sharing", "download"):
        assert any(f'"page": "{name}"' in d for d in views), name


def test_energy_page_says_what_the_numbers_show(portal):
    settings = portal[0]
    at = sign_in(settings, MOBILE_A)
    text = texts(at)
    assert "The last 7 days" in text and "kWh" in text
    # Home a has a year-ago week of electricity (written by the fixture).
    assert "The same 7 days last year: **84.0 kWh**" in text     # 336 half hours x 0.25 kWh
    assert "Your expected bill for the next 30 days" in text
    assert "standing charge" in text
    assert "Your meter credit" in text and "days" in text      # home a is on prepayment
    assert at.get("plotly_chart")


def test_no_data_last_year_is_said_plainly(portal):
    settings = portal[0]
    text = texts(sign_in(settings, MOBILE_B))
    assert "The last 7 days: **84.0 kWh**" in text
    assert "We have no readings for the same week last year" in text
    assert "About the same as the week before." in text           # 0.25 kWh every half hour


def test_cases_page_shows_the_deadline(portal):
    settings = portal[0]
    at = page(sign_in(settings, MOBILE_A), "cases")
    text = texts(at)
    assert "Problems we are dealing with" in text and "Texts we sent you" in text


def test_report_damp_then_see_the_case(portal):
    settings = portal[0]
    at = page(sign_in(settings, MOBILE_B), "report")
    at.radio(key="report_kind").set_value("damp_mould")
    at.text_area(key="report_text").input("Mould in the bathroom ceiling, since October.")
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    text = texts(at)
    assert "Thank you" in text and "By law your landlord must" in text
    at = page(at, "cases")
    assert "Mould in the bathroom ceiling" in texts(at)
    assert "Awaab's Law" in texts(at)


def test_another_households_id_in_the_address_is_refused(portal):
    settings, homes, _ = portal
    at = sign_in(settings, MOBILE_A)
    at.query_params["household"] = homes.b
    at.run()
    assert "only see your own home" in texts(at)
    assert "Your energy" not in [t.value for t in at.title]
    refused = _audit(settings, "tenant.access_refused", homes.a)
    assert refused and homes.b in refused[-1][0]


def test_details_correction_is_proposed(portal):
    settings = portal[0]
    at = page(sign_in(settings, MOBILE_A), "details")
    at.selectbox(key="correct_field").set_value("occupants")
    at.text_input(key="correct_value").input("3")
    at.button[0].click().run()
    assert "waiting for your housing officer" in texts(at)


def test_share_link_opens_then_is_refused_after_stopping(portal):
    settings = portal[0]
    at = page(sign_in(settings, MOBILE_A), "sharing")
    at.text_input(key="share_label").input("Support worker")
    at.checkbox(key="share_scope_cases").check()
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    url = at.code[0].value
    token = parse_qs(urlparse(url).query)["share"][0]
    viewer = new_app()
    viewer.query_params["share"] = token
    viewer.run()
    assert not viewer.exception, [e.value for e in viewer.exception]
    assert viewer.title[0].value == "Shared with you"
    assert "Problems we are dealing with" in texts(viewer)
    assert "Your expected bill" not in texts(viewer)          # not in the link's scope
    stop = [b for b in at.button if b.key and b.key.startswith("revoke_")]
    stop[0].click().run()
    again = new_app()
    again.query_params["share"] = token
    again.run()
    assert again.title[0].value == "This link does not work"
    # The tenant sees both uses.
    at = page(at, "sharing")
    assert "opened" in texts(at) and "refused (revoked)" in texts(at)


def test_consent_toggle_is_effective_at_once(portal):
    settings = portal[0]
    at = page(sign_in(settings, MOBILE_A), "sharing")
    at.toggle(key="consent_research").set_value(not at.toggle(key="consent_research").value)
    at.run()
    assert "Saved" in texts(at)


def test_download_gives_the_subject_access_zip(portal):
    settings, homes, _ = portal
    at = page(sign_in(settings, MOBILE_A), "download")
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _audit(settings, "tenant.subject_access", homes.a)
