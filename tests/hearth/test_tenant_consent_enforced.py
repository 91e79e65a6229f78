"""Consent recorded with `hearth tenant consent` is what the advisor's notifier obeys: with SMS
off no tip goes out (and the skip is logged); with it back on, the tip goes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

from advisor.db import connection
from advisor.notify import TipDispatcher
from advisor.notify.outbox import OutboxSender
from hearth.cli import build_parser
from hearth.registry import Registry
from hearth.settings.rooms import NotifierSettings
from tests.reports import portfolio as pf

NOON = datetime(2026, 2, 2, 12, 0, tzinfo=UTC)     # a Monday, outside quiet hours


def run(settings, *argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    return args.func(args, settings)


def test_sms_off_means_no_tip(tmp_path):
    path = tmp_path / "registry.sqlite3"
    settings = SimpleNamespace(registry=SimpleNamespace(path=path, target=path))
    pf.write_registry(settings.registry.target)
    with Registry(settings.registry.target) as reg, reg.transaction() as conn:
        conn.execute("INSERT INTO cases (case_id, household_id, kind, severity, score, reasons,"
                     " evidence_json, opened_at, updated_at, status) VALUES (100, 'H001',"
                     " 'cold_home', 'high', 70, 'cold for 40 hours', '{\"cold_h\": 40}',"
                     " '2026-02-01T08:00:00Z', '2026-02-01T08:00:00Z', 'open')")
    outbox = OutboxSender(tmp_path / "outbox.jsonl")

    assert run(settings, "tenant", "consent", "H001", "--sms", "off") == 0
    with Registry(settings.registry.target) as reg:
        summary = TipDispatcher(connection(reg), NotifierSettings(), outbox, NOON).run()
        assert summary.total_sent() == 0
        skip = reg.query("SELECT status, skip_reason FROM sms_log WHERE case_id = 100").fetchall()
        assert skip == [("skipped", "no_consent")]
    assert not outbox.path.exists()

    assert run(settings, "tenant", "consent", "H001", "--sms", "on", "--source",
               "officer_visit") == 0
    with Registry(settings.registry.target) as reg:
        summary = TipDispatcher(connection(reg), NotifierSettings(), outbox, NOON).run()
        assert summary.total_sent() == 1
    sent = [json.loads(x) for x in outbox.path.read_text().splitlines()]
    assert [s["household_id"] for s in sent] == ["H001"]
    assert sent[0]["phone_number"] in (pf.MOBILES["T001a"], pf.MOBILES["T001b"])
