"""The shipped schedule reads STOP replies within minutes: its `notify-sync` job runs every 5
minutes and, driven through the scheduler with the real `hearth` subprocess runner against the
GOV.UK Notify stub, opts the tenant out, cancels the queued tip and confirms once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hearth.registry import Registry
from hearth.schedule import RunStore, Scheduler, last_due, next_run_after, run_hearth_command
from hearth.settings import load_settings

from .conftest import add_household, add_tenant
from .notify_stub import API_KEY, NotifyStub

ROOT = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")


def shipped_job():
    from hearth.schedule import Job

    settings = load_settings(ROOT / "config" / "hearth.toml", environ={"HEARTH_HOME": str(ROOT)})
    (j,) = [j for j in settings.schedule.jobs if j.command == ["notify", "sync"]]
    return Job(j.name, j.cron, tuple(j.command), j.retries, j.retry_delay_s, j.timeout_s)


def test_shipped_schedule_syncs_replies_every_five_minutes():
    job = shipped_job()
    start = datetime(2026, 10, 25, 0, 2, tzinfo=UTC)   # through the October clock change
    t, gaps = start, []
    while t < start + timedelta(hours=4):
        nxt = next_run_after(job, t, LONDON)
        gaps.append(nxt - t if t != start else timedelta(0))
        t = nxt
    assert max(gaps) <= timedelta(minutes=5)


def test_stop_reply_is_processed_by_the_scheduled_job(tmp_path, httpserver, monkeypatch):
    stub = NotifyStub(httpserver)
    registry = tmp_path / "registry.sqlite3"
    with Registry(registry) as reg:
        add_household(reg.conn, "H000001")
        add_tenant(reg.conn, "T1", "H000001", "+447700900123")
        reg.conn.execute("INSERT INTO sms_log (household_id, template, status, skip_reason,"
                         " body, send_after, created_at) VALUES ('H000001', 'credit_runout',"
                         " 'queued', 'quiet_hours', 'tip', '2099-01-01T09:00:00Z',"
                         " '2026-12-14T21:00:00Z')")
        reg.conn.commit()
    config = tmp_path / "hearth.toml"
    config.write_text(f"""
[paths]
var_dir = "{tmp_path}"
[registry]
path = "{registry}"
[notifier]
sender = "notify"
notify_base_url = "{stub.url}"
help_phone = "0161 496 0000"
[notifier.template_ids]
stop_confirmation = "22222222-2222-2222-2222-222222222222"
help_reply = "33333333-3333-3333-3333-333333333333"
""")
    monkeypatch.setenv("HEARTH_CONFIG", str(config))
    monkeypatch.setenv("HEARTH_NOTIFY_API_KEY", API_KEY)
    stub.reply("447700900123", "STOP", "2026-12-14T21:30:00.000000Z")

    job = shipped_job()
    now = datetime(2026, 12, 14, 21, 31, tzinfo=UTC)
    clock = [now]
    store = RunStore(tmp_path / "runs.sqlite3")
    store.start(job.name, last_due(job, now, LONDON), 1, now)   # it ran at 21:30
    scheduler = Scheduler([job], store, tmp_path / "locks", runner=run_hearth_command,
                          clock=lambda: clock[0], sleep=lambda s: None)
    assert scheduler.tick(wait=True) == []                       # 21:31: not due yet
    clock[0] = datetime(2026, 12, 14, 21, 35, tzinfo=UTC)
    assert len(scheduler.tick(wait=True)) == 1                   # 21:35: runs
    run = store.recent(1)[0]
    assert run["outcome"] == "succeeded", run["error"]

    with Registry(registry) as reg:
        assert reg.conn.execute("SELECT opted_out_at IS NOT NULL FROM tenants").fetchone()[0]
        rows = reg.conn.execute("SELECT template, status, skip_reason FROM sms_log ORDER BY"
                                " message_id").fetchall()
    assert [tuple(r) for r in rows] == [("credit_runout", "cancelled", "opted_out"),
                                        ("stop_confirmation", "sending", None)]
    assert [s["phone_number"] for s in stub.sent] == ["+447700900123"]
