"""What a tenant does from the portal, against the real registry: share links (expiry, scope,
revocation, another household's link), record corrections an officer decides, problems that
open or join a case with the Awaab's Law clock, and consent per purpose enforced at once."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from advisor import awaab
from advisor.notify.dispatch import TipDispatcher
from hearth.registry import Registry
from tenants import consent, corrections, problems, shares
from tenants.rights import shareable_with_supplier

# The smallest valid images: a 1x1 PNG and the JPEG start-of-image marker.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100 + b"\xff\xd9"


def _audit(reg, action):
    return reg.query("SELECT actor, target, detail FROM audit_log WHERE action = ? ORDER BY"
                     " audit_id", (action,)).fetchall()


# ---- share links --------------------------------------------------------------------------

def test_share_link_life(portal):
    settings, homes, _ = portal
    t0 = datetime.now(UTC)
    with Registry(settings.registry.target) as reg:
        token = shares.create(reg, homes.a, homes.tenant_a, "Debt adviser", ["usage"], 7, 90,
                              now=t0)
        row = reg.query("SELECT token_hash FROM tenant_shares ORDER BY share_id DESC").fetchone()
        assert token not in row[0]                     # only the hash is kept
        share = shares.open_share(reg, token, "10.9.0.1", now=t0 + timedelta(days=1))
        assert share is not None and share.household_id == homes.a
        assert share.scopes == ("usage",) and share.label == "Debt adviser"
        # Expired: refused and audited.
        assert shares.open_share(reg, token, now=t0 + timedelta(days=7, seconds=1)) is None
        assert "expired" in _audit(reg, "tenant.share_refused")[-1][2]
        # Another household cannot revoke it; the attempt is audited.
        with pytest.raises(shares.ShareError):
            shares.revoke(reg, homes.b, homes.tenant_b, share.share_id)
        assert _audit(reg, "tenant.share_revoke_refused")[-1][1] == homes.b
        assert shares.open_share(reg, token, now=t0 + timedelta(days=2)) is not None
        shares.revoke(reg, homes.a, homes.tenant_a, share.share_id)
        assert shares.open_share(reg, token, now=t0 + timedelta(days=2)) is None
        assert "revoked" in _audit(reg, "tenant.share_refused")[-1][2]
        # A guessed token.
        assert shares.open_share(reg, token[:-2] + "xx") is None
        # The tenant sees every use, opened and refused.
        uses = shares.uses_of(reg.conn, homes.a)
        mine = [u for u in uses if u["share_id"] == share.share_id]
        assert [u["outcome"] for u in mine][:3] == ["refused (revoked)", "opened",
                                                     "refused (expired)"]


@pytest.mark.parametrize("label,scopes,days", [("", ["usage"], 7), ("Mum", [], 7),
                                               ("Mum", ["everything"], 7), ("Mum", ["cases"], 0),
                                               ("Mum", ["cases"], 91), ("x" * 81, ["cases"], 7)])
def test_share_link_refused_as_asked(portal, label, scopes, days):
    settings, homes, _ = portal
    with Registry(settings.registry.target) as reg, pytest.raises(shares.ShareError):
        shares.create(reg, homes.a, homes.tenant_a, label, scopes, days, 90)


# ---- corrections --------------------------------------------------------------------------

def test_correction_accepted_and_rejected(portal):
    settings, homes, _ = portal
    with Registry(settings.registry.target) as reg:
        before = reg.household(homes.a).occupants
        cid = corrections.propose(reg, homes.a, homes.tenant_a, "occupants", str(before + 1))
        assert reg.household(homes.a).occupants == before        # nothing changes yet
        assert [c["correction_id"] for c in corrections.pending(reg.conn)] .count(cid) == 1
        with pytest.raises(corrections.CorrectionError):
            corrections.decide(reg, cid, "officer1", accept=False)   # a reason is required
        corrections.decide(reg, cid, "officer1", accept=True)
        assert reg.household(homes.a).occupants == before + 1
        with pytest.raises(corrections.CorrectionError):
            corrections.decide(reg, cid, "officer1", accept=True)    # decided once
        rid = corrections.propose(reg, homes.a, homes.tenant_a, "vulnerability",
                                  "I use a nebuliser at night")
        corrections.decide(reg, rid, "officer1", accept=False, note="Please call us first")
        mine = {c["correction_id"]: c for c in corrections.of_household(reg.conn, homes.a)}
        assert mine[rid]["status"] == "rejected"
        assert mine[rid]["decision_note"] == "Please call us first"
        # The audit says which field, never the value.
        details = " ".join(d for _, _, d in _audit(reg, "tenant.correction_proposed"))
        assert "nebuliser" not in details and "vulnerability" in details


def test_new_mobile_accepted_withdraws_sms_consent(portal):
    settings, homes, _ = portal
    with Registry(settings.registry.target) as reg:
        with reg.transaction() as conn:
            conn.execute("UPDATE tenants SET sms_consent = 1, sms_consent_at = '2026-01-01T00:00:00Z',"
                         " sms_consent_source = 'officer_visit' WHERE tenant_id = ?",
                         (homes.tenant_b,))
        cid = corrections.propose(reg, homes.b, homes.tenant_b, "mobile", "07700 900503")
        corrections.decide(reg, cid, "officer2", accept=True)
        t = reg.tenant(homes.tenant_b)
        assert t.mobile == "+447700900503" and not t.sms_consent
        log = reg.query("SELECT event, source FROM consent_log WHERE tenant_id = ? ORDER BY"
                        " consent_id DESC", (homes.tenant_b,)).fetchone()
        assert log == ("withdrawn", "number_changed")
        with reg.transaction() as conn:   # back to the fixture's number
            conn.execute("UPDATE tenants SET mobile = '+447700900502' WHERE tenant_id = ?",
                         (homes.tenant_b,))


@pytest.mark.parametrize("field,value", [("mobile", "020 7946 0000"), ("occupants", "0"),
                                         ("occupants", "many"), ("vulnerability", ""),
                                         ("full_name", "Someone")])
def test_bad_corrections_refused(portal, field, value):
    settings, homes, _ = portal
    with Registry(settings.registry.target) as reg, pytest.raises(corrections.CorrectionError):
        corrections.propose(reg, homes.a, homes.tenant_a, field, value)


# ---- problems -----------------------------------------------------------------------------

def test_damp_report_opens_a_case_with_the_awaab_clock(portal):
    settings, homes, _ = portal
    # Start from no open damp case in home b.
    with Registry(settings.registry.target) as reg, reg.transaction() as conn:
        conn.execute("UPDATE cases SET status = 'resolved' WHERE household_id = ? AND"
                     " kind = 'damp_mould'", (homes.b,))
    at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    first = problems.report(settings, homes.b, homes.tenant_b, "damp_mould",
                            "Black mould on the bedroom wall behind the wardrobe.", PNG, now=at)
    assert first.case_id is not None and not first.joined
    # 10 working days from Thursday 3 December 2026: Thursday 17 December, end of the UK day.
    assert first.due_by == "2026-12-17T23:59:59Z"
    assert awaab.working_deadline(at, 10).strftime("%Y-%m-%dT%H:%M:%SZ") == first.due_by
    second = problems.report(settings, homes.b, homes.tenant_b, "damp_mould",
                             "It is spreading to the ceiling.", now=at + timedelta(hours=2))
    assert second.case_id == first.case_id and second.joined
    with Registry(settings.registry.target) as reg:
        conn = reg.conn
        conn.row_factory = sqlite3.Row
        case = conn.execute("SELECT * FROM cases WHERE case_id = ?", (first.case_id,)).fetchone()
        assert case["kind"] == "damp_mould" and case["stage"] == "investigate"
        assert "Black mould" in case["reasons"]
        events = [e["action"] for e in conn.execute("SELECT action FROM case_events WHERE"
                                                    " case_id = ?", (first.case_id,))]
        assert events == ["opened", "note"]
        photo = conn.execute("SELECT photo_path FROM tenant_reports WHERE report_id = ?",
                             (first.report_id,)).fetchone()[0]
    assert photo.startswith(str(settings.tenants.photo_dir)) and photo.endswith(".png")


def test_too_hot_is_kept_for_the_officer_without_a_case_kind(portal):
    settings, homes, _ = portal
    with Registry(settings.registry.target) as reg:
        schema_sql = ("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname ="
                      " 'cases_kind_check'" if reg.dialect == "postgresql"
                      else "SELECT sql FROM sqlite_master WHERE name = 'cases'")
        has_heat = "excess_heat" in reg.query(schema_sql).fetchone()[0]
    r = problems.report(settings, homes.b, homes.tenant_b, "too_hot", "32 C in the bedroom.")
    assert (r.case_id is not None) == has_heat
    with Registry(settings.registry.target) as reg:
        assert reg.query("SELECT kind FROM tenant_reports WHERE report_id = ?",
                         (r.report_id,)).fetchone() == ("too_hot",)


@pytest.mark.parametrize("kind,text,photo,why", [
    ("flood", "water", None, "Choose"), ("cold_home", "", None, "Describe"),
    ("cold_home", "x" * 2001, None, "Describe"),
    ("cold_home", "cold", b"GIF89a" + b"\x00" * 50, "JPEG or PNG"),
    ("cold_home", "cold", JPEG + b"\x00" * 5_000_000, "too large")])
def test_bad_reports_refused_and_nothing_kept(portal, kind, text, photo, why):
    settings, homes, _ = portal
    with Registry(settings.registry.target) as reg:
        n = reg.query("SELECT count(*) FROM tenant_reports").fetchone()[0]
    with pytest.raises(problems.ReportError, match=why):
        problems.report(settings, homes.b, homes.tenant_b, kind, text, photo)
    with Registry(settings.registry.target) as reg:
        assert reg.query("SELECT count(*) FROM tenant_reports").fetchone()[0] == n


# ---- consent ------------------------------------------------------------------------------

def test_consent_per_purpose_effective_at_once(portal):
    settings, homes, _ = portal
    with Registry(settings.registry.target) as reg:
        tid, hid = homes.tenant_a, homes.a
        assert consent.choose(reg, hid, tid, "research", True)
        assert not consent.choose(reg, hid, tid, "research", True)      # unchanged
        assert consent.current(reg.conn, tid)["research"]
        # SMS off: the notifier finds nobody to text in that home at its next send.
        others = [t.tenant_id for t in reg.tenants_of(hid) if t.tenant_id != tid]
        with reg.transaction() as conn:
            for o in others:
                conn.execute("UPDATE tenants SET sms_consent = 0 WHERE tenant_id = ?", (o,))
        reg.conn.row_factory = sqlite3.Row
        assert consent.choose(reg, hid, tid, "sms", True)
        assert TipDispatcher(reg.conn, settings.notifier, None)._recipient(hid)[0] is not None
        assert consent.choose(reg, hid, tid, "sms", False)
        assert TipDispatcher(reg.conn, settings.notifier, None)._recipient(hid) == (
            None, "no_consent")
        consent.choose(reg, hid, tid, "supplier", False)
        assert hid not in shareable_with_supplier(reg)
        past = consent.history(reg.conn, tid)
        assert {p["source"] for p in past[:3]} == {"web_form"}
        assert [p["event"] for p in past if "research" in p["purpose"]] == ["granted"]
        changes = [json.loads(d)["changes"] for _, _, d in _audit(reg, "tenant.consent")]
        assert any(f"{tid}: SMS off" in c for c in changes)


def test_advisor_does_not_auto_close_a_tenants_report(portal):
    """The sensors going quiet closes an advisor's case after auto_close_h; a case a tenant
    reported stays open until an officer closes it."""
    import numpy as np

    from advisor.cases import CaseStore
    from advisor.rules.base import RuleResult

    settings, homes, _ = portal
    at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    with Registry(settings.registry.target) as reg, reg.transaction() as conn:
        conn.execute("UPDATE cases SET status = 'resolved' WHERE household_id = ? AND"
                     " kind = 'device_fault'", (homes.b,))
    # A fault has no Awaab's Law duty, so only the tenant's report keeps it open.
    r = problems.report(settings, homes.b, homes.tenant_b, "thermostat_fault",
                        "The thermostat screen is blank.", now=at)
    ids = np.array([homes.b])
    quiet = RuleResult("device_fault", np.zeros(1, dtype=bool), np.zeros(1, dtype=np.int8),
                       np.zeros(1))                         # the sensors show nothing wrong
    with Registry(settings.registry.target) as reg:
        store = CaseStore(reg, settings.advisor)
        for hours in (0, 24, 72):
            store.sync({"device_fault": quiet}, ids, now=at + timedelta(hours=hours))
        assert store.case(r.case_id)["status"] == "open"
