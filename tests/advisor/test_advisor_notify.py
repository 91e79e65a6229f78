"""SMS tips: consent, opt-out, quiet hours, rate limit, one tip per case, the outbox, and the
GOV.UK Notify sender against a local server that checks the documented request and JWT."""

import json
import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from advisor.cases import CaseStore
from advisor.notify import TipDispatcher, opt_out, poll_statuses, process_replies
from advisor.notify.base import SendError, Tip
from advisor.notify.govuk import NotifySender
from advisor.notify.outbox import OutboxSender
from advisor.notify.policy import is_stop, normalise_uk_mobile, quiet_until
from advisor.notify.tips import DEFAULT_TEMPLATES, TemplateError, render
from advisor.rules import credit_runout
from advisor.rules.base import HIGH, RuleResult
from hearth.errors import HearthError
from hearth.settings.rooms import AdvisorSettings, NotifierSettings

from .conftest import add_household, add_tenant
from .fake_notify import API_KEY, SERVICE_ID, FakeNotify

NOON = datetime(2026, 12, 14, 12, 0, tzinfo=UTC)      # Monday, 12:00 GMT
EVENING = datetime(2026, 12, 14, 21, 0, tzinfo=UTC)   # in quiet hours (20:00-09:00)
H = np.array(["H000001", "H000002", "H000003", "H000004"])
MOBILE = "+447700900123"


def credit_results(n=4):
    # Credit £5 at £2.50 a day: 2 days left (high) for every household.
    return {"credit_runout": credit_runout(
        {"electricity": np.full((n, 3), 5.0)}, {"electricity": np.full((n, 30), 8.0)},
        {"electricity": np.full((n, 30), 0.25)}, {"electricity": np.full((n, 30), 0.5)},
        np.ones(n, bool))}


def cold_results(n=4, severity=HIGH):
    return {"cold_home": RuleResult(
        "cold_home", np.ones(n, bool), np.full(n, severity), np.full(n, 60.0),
        {"cold_h": np.full(n, 41.0), "window_h": np.full(n, 72.0), "bar_c": np.full(n, 18.0)},
        lambda d: "cold")}


@pytest.fixture
def home(conn, tmp_path):
    for h in H:
        add_household(conn, h)
    add_tenant(conn, "T1", "H000001", MOBILE)
    add_tenant(conn, "T2", "H000002", None, consent=False)
    add_tenant(conn, "T3", "H000003", "+447700900333", opted_out_at="2026-01-01T00:00:00Z")
    add_tenant(conn, "T4", "H000004", "+447700900444", consent=False)
    store = CaseStore(conn, AdvisorSettings())
    return store, OutboxSender(tmp_path / "outbox.jsonl")


def settings(**kw):
    return NotifierSettings(**kw)


def test_real_texts_need_a_real_help_line():
    with pytest.raises(ValueError, match="help_phone is still the example"):
        settings(sender="notify")
    assert settings(sender="outbox").help_phone == "0800 000 0000"  # the demo's outbox
    assert settings(sender="notify", help_phone="0161 496 0000").sender == "notify"


def rows(conn):
    return [dict(r) for r in conn.execute("SELECT * FROM sms_log ORDER BY message_id")]


def test_consent_and_opt_out_decide_who_gets_a_tip(home, conn, caplog):
    store, outbox = home
    store.sync(credit_results(), H, NOON)
    caplog.set_level(logging.DEBUG)
    s = TipDispatcher(conn, settings(), outbox, NOON).run()
    assert s.sent == {"credit_runout": 1}
    assert s.skipped == {"no_consent": 2, "opted_out": 1}
    lines = [json.loads(x) for x in outbox.path.read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["phone_number"] == MOBILE
    body = lines[0]["body"]
    assert "£5.00 credit left" in body and "enough for about 2 days." in body and "Reply STOP" in body
    assert "((" not in body
    log_rows = rows(conn)
    assert {(r["household_id"], r["status"], r["skip_reason"]) for r in log_rows} == {
        ("H000001", "outbox", None), ("H000002", "skipped", "no_consent"),
        ("H000003", "skipped", "opted_out"), ("H000004", "skipped", "no_consent")}
    # No phone number in sms_log or the logs.
    dump = json.dumps(log_rows) + caplog.text
    assert "7700900" not in dump
    case_id = log_rows[0]["case_id"]
    assert store.history(case_id)[-1]["action"] == "tip_sent"


def test_never_twice_for_the_same_case_and_rate_limit(home, conn):
    store, outbox = home
    store.sync(credit_results(), H, NOON)
    TipDispatcher(conn, settings(), outbox, NOON).run()
    again = TipDispatcher(conn, settings(), outbox, NOON + timedelta(days=10)).run()
    assert again.sent == {}  # the case already had its tip
    # A new case for the same household within the period waits: one tip per 72 h.
    store.sync(cold_results(), H, NOON + timedelta(hours=1))
    s = TipDispatcher(conn, settings(), outbox, NOON + timedelta(hours=2)).run()
    assert s.sent == {} and s.skipped["rate_limited"] == 1  # the new cold_home case
    s = TipDispatcher(conn, settings(), outbox, NOON + timedelta(hours=72)).run()
    assert s.sent == {"cold_home": 1}
    assert len(outbox.path.read_text().splitlines()) == 2
    # Skips are logged once per case and reason, not on every run.
    TipDispatcher(conn, settings(), outbox, NOON + timedelta(hours=80)).run()
    reasons = [r["skip_reason"] for r in rows(conn) if r["household_id"] == "H000002"]
    assert reasons == ["no_consent", "no_consent"]  # one per case (credit, cold)


def test_one_tip_at_a_time_most_urgent_first(home, conn):
    store, outbox = home
    store.sync({**cold_results(), **credit_results()}, H, NOON)
    s = TipDispatcher(conn, settings(), outbox, NOON).run()
    assert s.sent == {"credit_runout": 1} and s.skipped["another_tip_first"] >= 1


def test_quiet_hours_defer_not_drop(home, conn):
    store, outbox = home
    store.sync(credit_results(), H, EVENING)
    s = TipDispatcher(conn, settings(), outbox, EVENING).run()
    assert s.sent == {} and s.deferred == {"quiet_hours": 1}
    assert not outbox.path.exists()
    (queued,) = [r for r in rows(conn) if r["status"] == "queued"]
    assert queued["send_after"] == "2026-12-15T09:00:00Z"
    s = TipDispatcher(conn, settings(), outbox, datetime(2026, 12, 15, 8, 59, tzinfo=UTC)).run()
    assert s.deferred == {"waiting": 1} or s.deferred == {"quiet_hours": 1}
    s = TipDispatcher(conn, settings(), outbox, datetime(2026, 12, 15, 9, 0, tzinfo=UTC)).run()
    assert s.sent == {"credit_runout": 1}
    sent = [r for r in rows(conn) if r["household_id"] == "H000001"]
    assert len(sent) == 1 and sent[0]["status"] == "outbox" and sent[0]["send_after"] is None


def test_opt_out_is_honoured_at_once_even_for_queued_tips(home, conn):
    store, outbox = home
    store.sync(credit_results(), H, EVENING)
    TipDispatcher(conn, settings(), outbox, EVENING).run()
    assert opt_out(conn, "H000001", "asmith") == 1
    s = TipDispatcher(conn, settings(), outbox, NOON + timedelta(days=1)).run()
    assert s.sent == {} and not outbox.path.exists()
    assert [r["status"] for r in rows(conn) if r["household_id"] == "H000001"] == ["cancelled"]
    audit = conn.execute("SELECT actor, action, target FROM audit_log WHERE action ="
                         " 'sms.opt_out'").fetchall()
    assert [tuple(a) for a in audit] == [("asmith", "sms.opt_out", "household:H000001")]
    events = conn.execute("SELECT tenant_id, event FROM consent_log").fetchall()
    assert [tuple(e) for e in events] == [("T1", "opted_out")]
    with pytest.raises(HearthError, match="no tenants"):
        opt_out(conn, "H999999", "asmith")


def test_low_severity_cases_get_no_tip(home, conn):
    store, outbox = home
    store.sync(cold_results(severity=1), H, NOON)
    assert TipDispatcher(conn, settings(), outbox, NOON).run().sent == {}


def test_dry_run_sends_and_writes_nothing(home, conn):
    store, outbox = home
    store.sync(credit_results(), H, NOON)
    s = TipDispatcher(conn, settings(), outbox, NOON).run(dry_run=True)
    assert s.sent == {"credit_runout": 1} and rows(conn) == [] and not outbox.path.exists()


@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2026, 12, 14, 19, 59, tzinfo=UTC), None),
    (datetime(2026, 12, 14, 20, 0, tzinfo=UTC), datetime(2026, 12, 15, 9, 0, tzinfo=UTC)),
    (datetime(2026, 12, 15, 3, 0, tzinfo=UTC), datetime(2026, 12, 15, 9, 0, tzinfo=UTC)),
    (datetime(2026, 12, 15, 9, 0, tzinfo=UTC), None),
    # Summer (BST): 19:30 UTC is 20:30 local: quiet until 09:00 BST = 08:00 UTC.
    (datetime(2026, 7, 1, 19, 30, tzinfo=UTC), datetime(2026, 7, 2, 8, 0, tzinfo=UTC)),
    # Clocks go back overnight (25 Oct 2026): 21:00 BST -> 09:00 GMT next day.
    (datetime(2026, 10, 24, 20, 0, tzinfo=UTC), datetime(2026, 10, 25, 9, 0, tzinfo=UTC)),
])
def test_quiet_hours_in_uk_local_time(now, expected):
    assert quiet_until(now, "Europe/London", "20:00", "09:00") == expected


def test_templates_and_stop_replies():
    assert render("((a)) and ((b))", {"a": "1", "b": "2"}) == "1 and 2"
    with pytest.raises(TemplateError, match="needs b"):
        render("((a)) and ((b))", {"a": "1"})
    for text in DEFAULT_TEMPLATES.values():
        assert "STOP" in text and len(text) < 460  # at most three SMS fragments
    assert is_stop("STOP") and is_stop(" stop please") and not is_stop("don't stop")
    assert normalise_uk_mobile("+44 7700 900123") == normalise_uk_mobile("07700900123")


# ------------------------------------------------------------------ GOV.UK Notify
def tip(kind="credit_runout"):
    return Tip("H000001", 7, kind, "f33517ff-2a88-4f6e-b855-c550268ce08a",
               {"credit_gbp": "5.00"}, "body", "hearth-case-7", MOBILE)


def test_notify_request_matches_the_documented_api():
    with FakeNotify() as fake:
        sender = NotifySender(API_KEY, fake.url, {})
        result = sender.send(tip())
        (req,) = fake.requests
        assert req["method"] == "POST" and req["path"] == "/v2/notifications/sms"
        assert req["content_type"] == "application/json"
        assert req["claims"]["iss"] == SERVICE_ID and "iat" in req["claims"]
        assert req["body"] == {"phone_number": MOBILE,
                               "template_id": "f33517ff-2a88-4f6e-b855-c550268ce08a",
                               "personalisation": {"credit_gbp": "5.00"},
                               "reference": "hearth-case-7"}
        assert result.status == "sending" and result.provider_id in fake.statuses
        fake.statuses[result.provider_id] = "delivered"
        assert sender.status(result.provider_id) == "delivered"
        fake.statuses[result.provider_id] = "permanent-failure"
        assert sender.status(result.provider_id) == "permanent-failure"


@pytest.mark.parametrize(("code", "status", "retry", "fatal"), [
    (400, "permanent-failure", False, False),
    (403, "technical-failure", False, True),
    (429, "temporary-failure", True, False),
    (500, "temporary-failure", True, False),
])
def test_notify_error_responses(code, status, retry, fatal):
    with FakeNotify() as fake:
        fake.fail_next = [code]
        with pytest.raises(SendError) as err:
            NotifySender(API_KEY, fake.url, {}).send(tip())
        assert (err.value.status, err.value.retry, err.value.fatal) == (status, retry, fatal)
        assert str(code) in str(err.value)
        assert "7700900" not in str(err.value)


def test_wrong_key_is_refused_by_the_server():
    bad = API_KEY[:-36] + "00000000-0000-0000-0000-000000000000"
    with FakeNotify() as fake, pytest.raises(SendError) as err:
        NotifySender(bad, fake.url, {}).send(tip())
    assert err.value.fatal and "HEARTH_NOTIFY_API_KEY" in str(err.value)


def test_notify_end_to_end_with_status_read_back_and_retry(home, conn):
    store, _ = home
    store.sync(credit_results(), H, NOON)
    s = settings(sender="notify", template_ids={"credit_runout": "tmpl-credit"},
                 help_phone="0161 496 0000")
    with FakeNotify() as fake:
        sender = NotifySender(API_KEY, fake.url, s.template_ids)
        fake.fail_next = [429]
        first = TipDispatcher(conn, s, sender, NOON).run()
        assert first.deferred == {"provider_busy": 1}
        (queued,) = [r for r in rows(conn) if r["household_id"] == "H000001"]
        assert queued["status"] == "queued" and queued["send_after"] == "2026-12-14T12:15:00Z"
        second = TipDispatcher(conn, s, sender, NOON + timedelta(minutes=15)).run()
        assert second.sent == {"credit_runout": 1}
        (row,) = [r for r in rows(conn) if r["household_id"] == "H000001"]
        assert row["status"] == "sending" and row["sender"] == "notify"
        posted = [r for r in fake.requests if r["method"] == "POST"][-1]["body"]
        assert posted["template_id"] == "tmpl-credit"
        assert posted["personalisation"]["credit_gbp"] == "5.00"
        fake.statuses[row["provider_id"]] = "delivered"
        assert poll_statuses(conn, sender) == {"delivered": 1}
        (row,) = [r for r in rows(conn) if r["household_id"] == "H000001"]
        assert row["status"] == "delivered"


def test_notify_auth_failure_stops_the_run(home, conn):
    store, _ = home
    store.sync(credit_results(), H, NOON)
    s = settings(sender="notify", template_ids={"credit_runout": "tmpl-credit"},
                 help_phone="0161 496 0000")
    with FakeNotify() as fake:
        fake.fail_next = [403]
        with pytest.raises(HearthError, match="API key"):
            TipDispatcher(conn, s, NotifySender(API_KEY, fake.url, {}), NOON).run()
    (row,) = [r for r in rows(conn) if r["household_id"] == "H000001"]
    assert row["status"] == "technical-failure"


def test_stop_reply_opts_the_tenant_out(home, conn):
    with FakeNotify() as fake:
        fake.received = [{"id": "b51f638b-4295-46a0-a4bb-de9da4ac7ad6", "user_number": "447700900123",
                          "notify_number": "07900000000", "content": "STOP",
                          "created_at": "2026-12-14T12:00:00.000Z", "service_id": SERVICE_ID}]
        replies = NotifySender(API_KEY, fake.url, {}).received_texts()
    assert process_replies(conn, replies, NOON) == 1
    (t,) = conn.execute("SELECT opted_out_at FROM tenants WHERE tenant_id = 'T1'").fetchall()
    assert t[0] == "2026-12-14T12:00:00Z"


def test_missing_api_key_is_a_clear_error():
    from hearth.errors import ConfigError

    with pytest.raises(ConfigError, match="HEARTH_NOTIFY_API_KEY"):
        NotifySender("", "http://127.0.0.1:1", {})


def test_send_case_for_an_officer_keeps_the_rules(home, conn):
    store, outbox = home
    store.sync(credit_results(), H, NOON)
    case_id = store.open_case_for("H000001", "money")["case_id"]
    d = TipDispatcher(conn, settings(), outbox, NOON)
    assert d.why_not_contactable("H000001") is None
    assert d.why_not_contactable("H000003") == "opted_out"
    assert d.send_case(case_id).sent == {"credit_runout": 1}
    assert d.send_case(case_id).skipped == {"already_sent": 1}
    other = store.open_case_for("H000002", "money")["case_id"]
    assert d.send_case(other).skipped == {"no_consent": 1}
