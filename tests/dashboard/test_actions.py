"""Officers' actions through the risk queue: each changes the case, adds to its history and
writes the audit log with who and when; nothing can be done to another patch's case."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from dashboard import actions, data
from dashboard.users import UserStore
from hearth.registry import Registry
from tests.dashboard.conftest import page, sign_in, texts


def _case(settings, case_id: int) -> dict:
    with Registry(settings.registry.target) as reg:
        reg.conn.row_factory = None
        cur = reg.conn.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,))
        cols = [d[0] for d in cur.description]
        row = cur.fetchone()
        events = reg.conn.execute("SELECT actor, action, detail FROM case_events WHERE "
                                  "case_id = ? ORDER BY event_id", (case_id,)).fetchall()
        audit = reg.conn.execute("SELECT at, actor, action FROM audit_log WHERE target = ? "
                                 "ORDER BY audit_id", (f"case:{case_id}",)).fetchall()
    return {**dict(zip(cols, row, strict=True)), "events": events, "audit": audit}


def _queue_on(at, case_id: int):
    at.selectbox(key="queue_case").select(case_id).run()
    assert not at.exception, at.exception
    return at


def _recent(at_text: str) -> bool:
    at = datetime.fromisoformat(at_text.replace("Z", "+00:00"))
    return datetime.now(UTC) - at < timedelta(minutes=5)


def test_acknowledge_note_assign_resolve(portfolio):
    settings, demo = portfolio
    cid = demo.cases[demo.patches[0]][1]
    at = _queue_on(page(sign_in("officer1"), "risk_queue"), cid)
    at.button(key="ack").click().run()
    assert f"Case {cid} acknowledged." in texts(at)
    c = _case(settings, cid)
    assert c["status"] == "acknowledged" and c["officer"] == "officer1"
    assert ("officer1", "acknowledged", "") in c["events"]
    assert c["audit"][-1][1:] == ("officer1", "case.acknowledged") and _recent(c["audit"][-1][0])

    at = _queue_on(at, cid)
    at.text_area[0].input("Phoned the tenant; heating engineer booked for Thursday.")
    at.button(key="FormSubmitter:note_form-Save note").click().run()
    c = _case(settings, cid)
    assert ("officer1", "note", "Phoned the tenant; heating engineer booked for Thursday."
            ) in c["events"]
    assert c["audit"][-1][1:] == ("officer1", "case.note")

    at = _queue_on(at, cid)
    assign = next(s for s in at.selectbox if s.label == "Assign to")
    assign.select("manager")
    at.button(key="FormSubmitter:assign_form-Assign").click().run()
    assert _case(settings, cid)["officer"] == "manager"

    at = _queue_on(at, cid)
    next(t for t in at.text_input if t.label.startswith("Resolve")).input("Heating repaired")
    at.button(key="FormSubmitter:resolve_form-Resolve case").click().run()
    c = _case(settings, cid)
    assert c["status"] == "resolved" and c["close_reason"] == "Heating repaired"
    assert c["audit"][-1][1:] == ("officer1", "case.resolved")
    assert cid not in set(page(at, "risk_queue").dataframe[0].value["Case"])


def test_dismiss_needs_a_reason_and_records_it(portfolio):
    settings, demo = portfolio
    cid = demo.cases[demo.patches[0]][4]
    at = _queue_on(page(sign_in("officer1"), "risk_queue"), cid)
    reason = next(s for s in at.selectbox if s.label == "Dismiss: reason")
    reason.select("Other (see note)")
    at.button(key="FormSubmitter:dismiss_form-Dismiss case").click().run()
    assert "Say why in the note" in texts(at)
    assert _case(settings, cid)["status"] == "open"
    reason = next(s for s in at.selectbox if s.label == "Dismiss: reason")
    reason.select("Tenant has moved out")
    at.button(key="FormSubmitter:dismiss_form-Dismiss case").click().run()
    c = _case(settings, cid)
    assert c["status"] == "dismissed" and c["close_reason"] == "Tenant has moved out"
    assert c["audit"][-1][1:] == ("officer1", "case.dismissed")


def test_send_tip_shows_the_text_first_and_records_it(portfolio):
    settings, demo = portfolio
    cid = demo.cases[demo.patches[0]][0]  # credit running out; the tenant agreed to texts
    with Registry(settings.registry.target) as reg:  # the portfolio's earlier tip for this case
        reg.conn.execute("DELETE FROM sms_log WHERE case_id = ?", (cid,))
    at = _queue_on(page(sign_in("officer1"), "risk_queue"), cid)
    shown = texts(at)
    assert "The tenant will get exactly this text:" in shown
    assert "Reply STOP" in shown
    assert "It goes now." in shown  # said before the button, from the dispatcher's rules
    at.button(key="send_tip").click().run()
    assert "Tip written to the outbox: not sent" in texts(at)
    c = _case(settings, cid)
    assert c["audit"][-1][1:] == ("officer1", "case.tip_requested")
    assert any(e[1] == "tip_sent" for e in c["events"])
    outbox = [json.loads(x) for x in settings.notifier.outbox_path.read_text().splitlines()]
    assert outbox and "Reply STOP" in json.dumps(outbox[-1])


def test_no_second_tip_for_the_same_case(portfolio):
    settings, demo = portfolio
    cid = demo.cases[demo.patches[0]][0]  # its tip went four days ago (the portfolio's sms_log)
    at = _queue_on(page(sign_in("officer1"), "risk_queue"), cid)
    assert "A tip for this case was sent on" in texts(at)
    assert not [b for b in at.button if b.key == "send_tip"]
    with Registry(settings.registry.target) as reg:
        officer1 = UserStore(reg.conn).get("officer1")
        before = reg.conn.execute("SELECT count(*) FROM sms_log").fetchone()[0]
    assert actions.send_tip(officer1, cid) == ("Not sent: this case's tip went already"
                                               " (one per case).")
    with Registry(settings.registry.target) as reg:
        assert reg.conn.execute("SELECT count(*) FROM sms_log").fetchone()[0] == before


def test_no_tip_without_consent(portfolio):
    settings, demo = portfolio
    cid = demo.cases[demo.patches[0]][2]
    with Registry(settings.registry.target) as reg:
        hid = reg.conn.execute("SELECT household_id FROM cases WHERE case_id = ?",
                               (cid,)).fetchone()[0]
        reg.conn.execute("UPDATE tenants SET sms_consent = 0, sms_consent_at = NULL, "
                         "sms_consent_source = NULL WHERE household_id = ?", (hid,))
    at = _queue_on(page(sign_in("officer1"), "risk_queue"), cid)
    assert "has not agreed to texts" in texts(at)
    assert not [b for b in at.button if b.key == "send_tip"]


def test_officer_cannot_act_on_another_patch(portfolio):
    settings, demo = portfolio
    other = demo.cases[demo.patches[1]][0]
    with Registry(settings.registry.target) as reg:
        officer1 = UserStore(reg.conn).get("officer1")
    before = _case(settings, other)
    for act, args in ((actions.acknowledge, ()), (actions.add_note, ("x",)),
                      (actions.resolve, ("done",)), (actions.send_tip, ())):
        with pytest.raises(data.OutOfScopeError):
            act(officer1, other, *args)
    after = _case(settings, other)
    assert after["status"] == before["status"] and after["events"] == before["events"]
    with pytest.raises(data.OutOfScopeError):
        data.household(demo.homes_by_patch[demo.patches[1]][0], officer1.scope())
    assert len(data.open_cases(officer1.scope())) > 0
    assert set(data.open_cases(officer1.scope())["patch"]) == {demo.patches[0]}


def test_contact_details_only_for_the_patch_and_audited(portfolio):
    settings, demo = portfolio
    home = demo.detailed[0]
    at = sign_in("admin")
    at.session_state["household_id"] = home
    at = page(at, "household")
    assert "Contact details are shown only to the officers of this patch" in texts(at)
    assert not at.toggle
    at = sign_in("officer1")
    at.session_state["household_id"] = home
    at = page(at, "household")
    assert "+447700900123" not in texts(at)
    at.toggle(key=f"contact_{home}").set_value(True).run()
    assert "+447700900123" in texts(at)
    with Registry(settings.registry.target) as reg:
        entries = reg.audit_entries(f"household:{home}")
    assert entries[0]["actor"] == "officer1" and entries[0]["action"] == "viewed_tenant_contact"


def test_sign_out_is_audited_and_ends_the_session(portfolio):
    settings, _ = portfolio
    at = sign_in("officer2")
    at.button(key="sign_out").click().run()
    assert "Hearth: sign in" in texts(at)
    with Registry(settings.registry.target) as reg:
        actions_ = [e["action"] for e in reg.audit_entries("user:officer2")]
    assert actions_[:2] == ["signed_out", "signed_in"]


def test_awaab_step_moves_the_clock(portfolio):
    settings, demo = portfolio
    cid = demo.damp_overdue_case
    before = _case(settings, cid)
    at = page(sign_in("officer1"), "damp_mould")
    next(s for s in at.selectbox if s.label == "Record a step done for case").select(cid)
    next(s for s in at.selectbox if s.label == "Step done").select("investigate")
    at.button(key="FormSubmitter:awaab_step-Record step").click().run()
    assert not at.exception
    assert "Investigation concluded recorded" in texts(at)
    after = _case(settings, cid)
    assert after["stage"] == "written_summary" and after["due_by"] != before["due_by"]
    assert after["audit"][-1][1:] == ("officer1", "case.stage")


def test_a_note_with_markdown_is_shown_as_typed(portfolio):
    """A note can carry no remote image, link or heading onto an officer's screen (issue 15)."""
    _, demo = portfolio
    cid = demo.cases[demo.patches[0]][2]
    note = "# Big ![x](http://203.0.113.9/p.png) [click](http://example.invalid) **bold**"
    at = _queue_on(page(sign_in("officer1"), "risk_queue"), cid)
    at.text_area[0].input(note)
    at.button(key="FormSubmitter:note_form-Save note").click().run()
    at = _queue_on(at, cid)
    shown = [m.value for m in at.markdown if "Big" in m.value]
    assert shown, "the note is not on the page"
    assert all("](" not in v and "\\!\\[x\\]" in v and "\\#" in v for v in shown), shown


def test_a_note_loses_phone_numbers_emails_and_the_tenants_names(portfolio):
    settings, demo = portfolio
    cid = demo.cases[demo.patches[0]][5]
    home = demo.case_homes[cid]
    with Registry(settings.registry.target) as reg:
        name = reg.conn.execute("SELECT full_name FROM tenants WHERE household_id = ? LIMIT 1",
                                (home,)).fetchone()[0]
    at = _queue_on(page(sign_in("officer1"), "risk_queue"), cid)
    at.text_area[0].input(f"Called {name} on 07700 900123, email t@example.org; visit Thursday.")
    at.button(key="FormSubmitter:note_form-Save note").click().run()
    assert "Taken out of the note before it was saved" in texts(at)
    saved = [d for _, a, d in _case(settings, cid)["events"] if a == "note"][-1]
    assert name not in saved and "07700" not in saved and "example.org" not in saved
    assert "visit Thursday" in saved and "[phone number removed]" in saved


def test_tip_preview_says_before_sending_when_the_rate_limit_holds_it(portfolio):
    settings, demo = portfolio
    from dashboard.users import UserStore

    cid = demo.cases[demo.patches[0]][0]
    home = demo.case_homes[cid]
    with Registry(settings.registry.target) as reg:
        reg.conn.execute("DELETE FROM sms_log WHERE case_id = ?", (cid,))
        # Another text to this home an hour ago: the 72-hour limit holds this one.
        hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        reg.conn.execute("INSERT INTO sms_log (household_id, template, sent_at, sender, status, body)"
                         " VALUES (?, 'cold_home', ?, 'outbox', 'sending', 'x')", (home, hour_ago))
        officer1 = UserStore(reg.conn).get("officer1")
    allowed, words = actions.tip_outlook(officer1, cid)
    assert not allowed and "less than 72 hours ago" in words
    at = _queue_on(page(sign_in("officer1"), "risk_queue"), cid)
    assert "less than 72 hours ago" in texts(at)
    assert next(b for b in at.button if b.key == "send_tip").disabled
