"""Sign-in by one-time code against the real registry and the outbox file: single use, short
life, stored hashed, rate-limited per number and per address, the same answer for unknown
numbers, and every outcome audited without the number or the code."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from hearth.registry import Registry
from tenants import signin
from tests.tenants.conftest import MOBILE_A, MOBILE_B, UNKNOWN, last_code, outbox_codes


def _audit(settings, action: str) -> list[tuple]:
    with Registry(settings.registry.target) as reg:
        return reg.query("SELECT actor, target, detail FROM audit_log WHERE action = ? ORDER BY"
                         " audit_id", (action,)).fetchall()


def _fresh(settings):
    with Registry(settings.registry.target) as reg, reg.transaction() as conn:
        conn.execute("DELETE FROM tenant_signin_attempts")
        conn.execute("DELETE FROM tenant_signin_codes")


def test_normalise_mobile():
    assert signin.normalise_mobile("07700 900501") == MOBILE_A
    assert signin.normalise_mobile("+44 7700 900501") == MOBILE_A
    assert signin.normalise_mobile("447700900501") == MOBILE_A
    assert signin.normalise_mobile("020 7946 0000") is None    # a landline
    assert signin.normalise_mobile("hello") is None


def test_code_signs_in_once_and_is_stored_hashed(portal, caplog):
    settings, homes, _ = portal
    _fresh(settings)
    caplog.set_level(logging.DEBUG)
    answer = signin.request_code(settings, "07700 900501", "10.0.0.1")
    assert answer.message == signin.REQUEST_ANSWER and not answer.refused
    code = last_code(settings, MOBILE_A)
    assert len(code) == 6 and code.isdigit()
    with Registry(settings.registry.target) as reg:
        stored = reg.query("SELECT code_hash FROM tenant_signin_codes").fetchall()
    assert stored and all(code not in h and h.startswith("$argon2") for (h,) in stored)
    who = signin.verify_code(settings, MOBILE_A, code, "10.0.0.1")
    assert who == signin.SignedIn(homes.tenant_a, homes.a)
    # Reused: refused.
    assert signin.verify_code(settings, MOBILE_A, code, "10.0.0.1") is None
    ok = _audit(settings, "tenant.signed_in")
    assert ok[-1][:2] == (homes.tenant_a, homes.a)
    assert _audit(settings, "tenant.signin_failed")[-1][2].count("no_live_code") == 1
    # Neither the number nor the code in the audit log or the logs.
    with Registry(settings.registry.target) as reg:
        everything = " ".join(str(r) for r in reg.query("SELECT * FROM audit_log").fetchall())
    for secret in (code, MOBILE_A, "900501"):
        assert secret not in everything
        assert secret not in caplog.text


def test_code_is_sent_without_tip_consent(portal):
    settings, homes, _ = portal
    _fresh(settings)
    with Registry(settings.registry.target) as reg:
        assert not reg.tenant(homes.tenant_b).sms_consent
    signin.request_code(settings, MOBILE_B, "10.0.0.2")
    assert last_code(settings, MOBILE_B)


def test_unknown_number_gets_the_same_answer_and_no_text(portal):
    settings, _, _ = portal
    _fresh(settings)
    before = len(outbox_codes(settings))
    answer = signin.request_code(settings, UNKNOWN, "10.0.0.3")
    assert answer.message == signin.REQUEST_ANSWER and not answer.refused
    assert len(outbox_codes(settings)) == before
    assert signin.verify_code(settings, UNKNOWN, "123456", "10.0.0.3") is None


def test_guessed_codes_void_the_code(portal):
    settings, _, _ = portal
    _fresh(settings)
    signin.request_code(settings, MOBILE_A, "10.0.0.4")
    code = last_code(settings, MOBILE_A)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(settings.tenants.code_max_tries):
        assert signin.verify_code(settings, MOBILE_A, wrong, "10.0.0.4") is None
    # The right code after too many wrong ones: refused, the code is void.
    assert signin.verify_code(settings, MOBILE_A, code, "10.0.0.4") is None
    reasons = [d for _, _, d in _audit(settings, "tenant.signin_failed")[-6:]]
    assert sum("wrong_code" in d for d in reasons) == settings.tenants.code_max_tries


def test_expired_code_refused(portal):
    settings, _, _ = portal
    _fresh(settings)
    t0 = datetime.now(UTC)
    signin.request_code(settings, MOBILE_A, "10.0.0.5", now=t0)
    code = last_code(settings, MOBILE_A)
    late = t0 + timedelta(minutes=settings.tenants.code_ttl_min, seconds=1)
    assert signin.verify_code(settings, MOBILE_A, code, "10.0.0.5", now=late) is None
    assert "expired" in _audit(settings, "tenant.signin_failed")[-1][2]


def test_new_code_voids_the_old(portal):
    settings, _, _ = portal
    _fresh(settings)
    signin.request_code(settings, MOBILE_A, "10.0.0.6")
    first = last_code(settings, MOBILE_A)
    signin.request_code(settings, MOBILE_A, "10.0.0.6")
    second = last_code(settings, MOBILE_A)
    if first != second:
        assert signin.verify_code(settings, MOBILE_A, first, "10.0.0.6") is None
    assert signin.verify_code(settings, MOBILE_A, second, "10.0.0.6") is not None


def test_rate_limit_per_number(portal):
    settings, _, _ = portal
    _fresh(settings)
    n = settings.tenants.codes_per_number_per_hour
    sent_before = len(outbox_codes(settings))
    for i in range(n):
        assert not signin.request_code(settings, MOBILE_A, f"10.1.0.{i}").refused
    # From another address too: the limit is the number's.
    refused = signin.request_code(settings, MOBILE_A, "10.1.9.9")
    assert refused.refused and "Too many" in refused.message
    assert len(outbox_codes(settings)) == sent_before + n
    # Unknown numbers are limited the same way (the answer does not tell them apart).
    for _ in range(n):
        signin.request_code(settings, UNKNOWN, "10.1.8.8")
    assert signin.request_code(settings, UNKNOWN, "10.1.8.7").refused
    assert _audit(settings, "tenant.signin_rate_limited")


def test_rate_limit_per_address(portal):
    settings, _, _ = portal
    _fresh(settings)
    limit = settings.tenants.attempts_per_address_per_hour
    for i in range(limit):
        signin.verify_code(settings, f"+4477009006{i:02d}", "000000", "10.2.0.1")
    # The address is now blocked, even for a real number with its right code.
    signin.request_code(settings, MOBILE_A, "10.2.0.2")
    code = last_code(settings, MOBILE_A)
    assert signin.verify_code(settings, MOBILE_A, code, "10.2.0.1") is None
    assert signin.request_code(settings, MOBILE_B, "10.2.0.1").refused
    assert signin.verify_code(settings, MOBILE_A, code, "10.2.0.2") is not None


@pytest.mark.parametrize("typed", ["", "123", "07700 90050", "abcdef"])
def test_malformed_input_refused(portal, typed):
    settings, _, _ = portal
    assert signin.verify_code(settings, typed or "x", typed, "10.3.0.1") is None


def test_demo_names_a_tenant_who_can_sign_in(portal):
    from hearth.demo import _demo_tenant

    settings, _, _ = portal
    _fresh(settings)
    household, mobile = _demo_tenant(settings)
    signin.request_code(settings, mobile, "10.4.0.1")
    who = signin.verify_code(settings, mobile, last_code(settings, mobile), "10.4.0.1")
    assert who is not None and who.household_id == household
