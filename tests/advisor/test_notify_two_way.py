"""Two-way SMS against GOV.UK Notify's documented API (a pytest-httpserver stub, see
notify_stub.py) with notifications-python-client's base_url pointed at it, on the real SQLite
registry: STOP withdraws consent at once, cancels what is queued and is confirmed once; HELP is
answered; other replies reach the officers; replies are processed once; delivery receipts update
statuses and a permanently failing number stops sends and opens a data-quality task."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from advisor.cases import CaseStore
from advisor.db import iso
from advisor.notify import TipDispatcher
from advisor.notify.govuk import NotifySender
from advisor.notify.outbox import OutboxSender
from advisor.notify.policy import classify_reply
from advisor.notify.sync import sync
from advisor.rules import credit_runout
from hearth.settings.rooms import AdvisorSettings, NotifierSettings

from .conftest import add_household, add_tenant
from .notify_stub import API_KEY, NotifyStub

NOON = datetime(2026, 12, 14, 12, 0, tzinfo=UTC)      # Monday 12:00 GMT
EVENING = datetime(2026, 12, 14, 21, 0, tzinfo=UTC)   # quiet hours: tips wait
TEMPLATES = {"credit_runout": "11111111-1111-1111-1111-111111111111",
             "stop_confirmation": "22222222-2222-2222-2222-222222222222",
             "help_reply": "33333333-3333-3333-3333-333333333333"}
M1, M2 = "+447700900123", "+447700900456"


def notifier(**kw) -> NotifierSettings:
    return NotifierSettings(sender="notify", help_phone="0161 496 0000", template_ids=TEMPLATES,
                            **kw)


def credit_results(n: int):
    return {"credit_runout": credit_runout(
        {"electricity": np.full((n, 3), 5.0)}, {"electricity": np.full((n, 30), 8.0)},
        {"electricity": np.full((n, 30), 0.25)}, {"electricity": np.full((n, 30), 0.5)},
        np.ones(n, bool))}


@pytest.fixture
def stub(httpserver):
    return NotifyStub(httpserver)


@pytest.fixture
def sender(stub):
    return NotifySender(API_KEY, stub.url, TEMPLATES)


@pytest.fixture
def homes(conn):
    add_household(conn, "H000001", patch="North")
    add_household(conn, "H000002", patch="South")
    add_tenant(conn, "T1", "H000001", M1)
    add_tenant(conn, "T2", "H000002", M2)
    conn.execute("INSERT INTO users (username, display_name, role, created_at) VALUES"
                 " ('asmith', 'Alex Smith', 'officer', '2026-01-01T00:00:00Z')")
    conn.execute("INSERT INTO user_patches (username, patch) VALUES ('asmith', 'North')")
    conn.commit()
    return CaseStore(conn, AdvisorSettings())


def log_rows(conn, household_id):
    return [dict(r) for r in conn.execute("SELECT * FROM sms_log WHERE household_id = ? ORDER"
                                          " BY message_id", (household_id,))]


@pytest.mark.parametrize("text,kind", [
    ("STOP", "stop"), ("Stop.", "stop"), ("stop please", "stop"), ("Please STOP", "stop"),
    ("STOP ALL", "stop"), ("stopall", "stop"), ("UNSUBSCRIBE", "stop"), ("END", "stop"),
    ("Cancel", "stop"), ("quit!", "stop"), ("opt out", "stop"), ("Opt-out please", "stop"),
    ("Stop sending me these", "stop"), ("stop help", "stop"),
    ("HELP", "help"), ("help please", "help"), ("Info", "help"),
    ("Cancel my repair visit on Friday", "other"), ("end of my tenancy is in May", "other"),
    ("don't stop, these help", "other"), ("I need help with my meter", "other"),
    ("thanks", "other"), ("", "other"), ("START", "other"),
])
def test_reply_words(text, kind):
    assert classify_reply(text) == kind


def test_stop_withdraws_consent_cancels_queued_and_is_confirmed_once(homes, conn, stub, sender,
                                                                      caplog):
    caplog.set_level(logging.DEBUG)
    homes.sync(credit_results(2), np.array(["H000001", "H000002"]), EVENING)
    TipDispatcher(conn, notifier(), sender, EVENING).run()       # quiet hours: both queued
    assert [r["status"] for r in log_rows(conn, "H000001")] == ["queued"]
    stub.reply("447700900123", "Stop please", "2026-12-14T21:30:00.000000Z")

    result = sync(conn, notifier(), sender, EVENING + timedelta(minutes=35))

    assert result.replies == {"opted_out_confirmed": 1}
    tenant = conn.execute("SELECT opted_out_at FROM tenants WHERE tenant_id = 'T1'").fetchone()
    assert tenant["opted_out_at"] == "2026-12-14T21:35:00Z"
    rows = log_rows(conn, "H000001")
    assert [(r["template"], r["status"], r["skip_reason"]) for r in rows] == [
        ("credit_runout", "cancelled", "opted_out"), ("stop_confirmation", "sending", None)]
    assert [(s["phone_number"], s["template_id"]) for s in stub.sent] == [
        (M1, TEMPLATES["stop_confirmation"])]
    assert "0161 496 0000" in rows[1]["body"]
    # The other household's queued tip still goes at 09:00.
    later = TipDispatcher(conn, notifier(), sender, datetime(2026, 12, 15, 9, tzinfo=UTC)).run()
    assert later.sent == {"credit_runout": 1}
    assert [s["phone_number"] for s in stub.sent] == [M1, M2]

    # Read again: nothing is processed twice; a second STOP is not confirmed again.
    assert sync(conn, notifier(), sender, EVENING + timedelta(minutes=40)).replies == {}
    stub.reply("447700900123", "STOP", "2026-12-14T21:45:00.000000Z")
    again = sync(conn, notifier(), sender, EVENING + timedelta(minutes=50))
    assert again.replies == {"already_opted_out": 1}
    assert len(stub.sent) == 2
    replies = conn.execute("SELECT household_id, tenant_id, kind, action FROM sms_replies"
                           " ORDER BY received_at").fetchall()
    assert [tuple(r) for r in replies] == [("H000001", "T1", "stop", "opted_out_confirmed"),
                                           ("H000001", "T1", "stop", "already_opted_out")]
    consent = conn.execute("SELECT tenant_id, event, source FROM consent_log").fetchall()
    assert [tuple(c) for c in consent] == [("T1", "opted_out", "sms_stop_reply")]
    assert "7700900123" not in caplog.text and "7700900456" not in caplog.text


def test_help_is_answered_and_other_replies_reach_the_officers(homes, conn, stub, sender):
    stub.reply("447700900123", "Help", "2026-12-14T11:00:00.000000Z")
    stub.reply("447700900123", "HELP!!", "2026-12-14T11:10:00.000000Z")   # within the hour
    stub.reply("447700900456", "My meter says no credit but I topped up",
               "2026-12-14T11:20:00.000000Z")
    stub.reply("447700900999", "Who is this?", "2026-12-14T11:30:00.000000Z")
    stub.reply("447700900456", "help", "2026-12-14T11:40:00.000000Z")

    result = sync(conn, notifier(), sender, NOON)

    assert result.replies == {"help_sent": 2, "help_already_sent": 1, "for_officer": 1,
                              "unknown_number": 1}
    bodies = {r["household_id"]: r["body"] for r in conn.execute(
        "SELECT household_id, body FROM sms_log WHERE template = 'help_reply'")}
    # North has one officer: named; South has none: the help line only.
    assert bodies["H000001"] == ("Hearth energy service: for help call 0161 496 0000, or ask"
                                 " for Alex Smith, your housing officer. To stop our texts"
                                 " reply STOP.")
    assert bodies["H000002"] == ("Hearth energy service: for help call 0161 496 0000. To stop"
                                 " our texts reply STOP.")
    assert [(s["phone_number"], s["template_id"]) for s in stub.sent] == [
        (M1, TEMPLATES["help_reply"]), (M2, TEMPLATES["help_reply"])]
    assert stub.sent[0]["personalisation"]["officer"] == ", or ask for Alex Smith, your housing" \
        " officer"
    other = conn.execute("SELECT household_id, tenant_id, content FROM sms_replies WHERE kind ="
                         " 'other' ORDER BY received_at").fetchall()
    assert [tuple(r) for r in other] == [
        ("H000002", "T2", "My meter says no credit but I topped up"),
        (None, None, "Who is this?")]
    # No number is stored with a reply.
    dump = json.dumps([dict(r) for r in conn.execute("SELECT * FROM sms_replies")])
    assert "7700900" not in dump
    # Consent is untouched by HELP and other replies.
    assert conn.execute("SELECT count(*) FROM tenants WHERE opted_out_at IS NOT NULL"
                        ).fetchone()[0] == 0


def test_replies_are_paged_with_older_than_and_read_once(homes, conn, stub, sender):
    ids = [stub.reply("447700900456", f"note {i}", f"2026-12-14T10:0{i}:00.000000Z")
           for i in range(5)]   # 5 replies, 2 a page: 3 pages
    first = sync(conn, notifier(), sender, NOON)
    assert first.replies == {"for_officer": 5}
    assert stub.received_calls == [None, ids[3], ids[1]]   # newest first, older_than = last id
    stub.received_calls.clear()
    newer = stub.reply("447700900456", "note 5", "2026-12-14T10:09:00.000000Z")
    second = sync(conn, notifier(), sender, NOON + timedelta(minutes=5))
    assert second.replies == {"for_officer": 1}
    assert stub.received_calls == [None]                  # stopped at the last one it had
    cur = conn.execute("SELECT last_id FROM notify_cursor").fetchone()
    assert cur["last_id"] == newer
    assert conn.execute("SELECT count(*) FROM sms_replies").fetchone()[0] == 6


def test_receipts_update_statuses_and_a_failing_number_stops_sends(homes, conn, stub, sender):
    homes.sync(credit_results(2), np.array(["H000001", "H000002"]), NOON)
    assert TipDispatcher(conn, notifier(), sender, NOON).run().sent == {"credit_runout": 2}
    ids = {s["phone_number"]: nid for nid, s in zip(stub.statuses, stub.sent, strict=True)}
    stub.statuses[ids[M1]] = "permanent-failure"
    stub.statuses[ids[M2]] = "sending"
    assert sync(conn, notifier(), sender, NOON + timedelta(minutes=5)).receipts == {
        "permanent-failure": 1, "sending": 1}
    stub.statuses[ids[M2]] = "delivered"
    assert sync(conn, notifier(), sender, NOON + timedelta(minutes=10)).receipts == {
        "delivered": 1}
    assert [r["status"] for r in log_rows(conn, "H000001")] == ["permanent-failure"]
    assert [r["status"] for r in log_rows(conn, "H000002")] == ["delivered"]
    task = conn.execute("SELECT household_id, tenant_id, closed_at FROM sms_number_tasks"
                        ).fetchall()
    assert [tuple(t) for t in task] == [("H000001", "T1", None)]
    audit = conn.execute("SELECT action, target FROM audit_log WHERE action ="
                         " 'sms.number_failing'").fetchall()
    assert [tuple(a) for a in audit] == [("sms.number_failing", "household:H000001")]

    # A new case for H000001 gets no text while the number fails. (A resolved case comes back
    # once the quiet period of 14 days has passed: advisor/reopen.py.)
    conn.execute("UPDATE cases SET status = 'resolved', closed_at = ?", (iso(NOON),))
    conn.commit()
    later = NOON + timedelta(days=15)
    homes.sync(credit_results(2), np.array(["H000001", "H000002"]), later)
    summary = TipDispatcher(conn, notifier(), sender, later).run()
    assert summary.skipped["number_failing"] == 1 and len(stub.sent) == 3
    assert stub.sent[-1]["phone_number"] == M2

    # The officer corrects the number: the task closes and texts go to the new one.
    conn.execute("UPDATE tenants SET mobile = '+447700900789' WHERE tenant_id = 'T1'")
    conn.commit()
    assert sync(conn, notifier(), sender, later + timedelta(minutes=5)).tasks_closed == 1
    summary = TipDispatcher(conn, notifier(), sender, later + timedelta(minutes=6)).run()
    assert summary.sent == {"credit_runout": 1}
    assert stub.sent[-1]["phone_number"] == "+447700900789"


def test_outbox_is_never_delivered_and_consent_withdrawn_cancels_its_lines(homes, conn,
                                                                             tmp_path):
    outbox = OutboxSender(tmp_path / "outbox.jsonl")
    s = NotifierSettings()
    homes.sync(credit_results(2), np.array(["H000001", "H000002"]), NOON)
    TipDispatcher(conn, s, outbox, NOON).run()
    assert {r["status"] for r in conn.execute("SELECT status FROM sms_log")} == {"outbox"}
    # Consent withdrawn outside the notifier (e.g. an officer's registry edit): the next
    # scheduled sync cancels what is waiting for that home, with the reason.
    conn.execute("UPDATE tenants SET sms_consent = 0, sms_consent_at = NULL,"
                 " sms_consent_source = NULL WHERE tenant_id = 'T2'")
    conn.commit()
    result = sync(conn, s, outbox, NOON + timedelta(minutes=5))
    assert result.cancelled == 1 and result.receipts == {}
    rows = log_rows(conn, "H000002")
    assert [(r["status"], r["skip_reason"]) for r in rows] == [("cancelled", "no_consent")]
    lines = [json.loads(x) for x in outbox.path.read_text().splitlines()]
    assert lines[-1] == {"id": rows[0]["provider_id"], "at": lines[-1]["at"], "cancelled": True,
                         "reason": "no_consent"}
    assert [r["status"] for r in log_rows(conn, "H000001")] == ["outbox"]


def test_a_tenants_replies_are_in_their_subject_access_records(homes, conn, registry, stub,
                                                                sender):
    from tenants.rights import registry_records

    stub.reply("447700900456", "The radiator in the bedroom is cold",
               "2026-12-14T11:20:00.000000Z")
    sync(conn, notifier(), sender, NOON)
    records = registry_records(registry, "H000002")
    assert [r["content"] for r in records["sms_replies"]] == [
        "The radiator in the bedroom is cold"]
    assert registry_records(registry, "H000001")["sms_replies"] == []
