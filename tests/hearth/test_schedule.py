"""The scheduler with a controllable clock: UK local times across clock changes, missed runs,
no overlap, retries, and the real `hearth` subprocess runner."""

from __future__ import annotations

import fcntl
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hearth.errors import ConfigError
from hearth.schedule import Job, RunStore, Scheduler, last_due, next_run_after, run_hearth_command
from hearth.settings import load_settings

LONDON = ZoneInfo("Europe/London")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def known_store(path, *jobs: str) -> RunStore:
    """A run store whose scheduler has known the jobs since 2025, so past times count as missed."""
    store = RunStore(path)
    for job in jobs:
        store.first_seen(job, utc(2025, 1, 1))
    return store


class FakeClock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def fire_times(job: Job, start: datetime, end: datetime) -> list[datetime]:
    """Drive a scheduler minute by minute and return when the job started [UTC]."""
    started: list[datetime] = []
    clock = FakeClock(start)

    def runner(_job):
        started.append(clock())
        return True, ""

    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp())
    store = RunStore(tmp / "runs.sqlite3")
    # Seed the history so that the first tick does not count as a missed run.
    store.start(job.name, last_due(job, start, LONDON) or start, 1, start)
    scheduler = Scheduler([job], store, tmp / "locks", runner=runner, clock=clock, sleep=lambda s: None)
    while clock.now < end:
        scheduler.tick(wait=True)
        clock.now += timedelta(minutes=1)
    return started


def test_fixed_time_job_across_spring_forward():
    # 29 March 2026: 01:00 GMT becomes 02:00 BST; 01:30 does not exist that night.
    job = Job("nightly", "30 1 * * *", ("forecast",))
    got = fire_times(job, utc(2026, 3, 27, 12), utc(2026, 3, 31, 12))
    assert got == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30),
                   utc(2026, 3, 31, 0, 30)]
    assert got[1].astimezone(LONDON).strftime("%H:%M %Z") == "02:30 BST"


def test_fixed_time_job_runs_once_in_repeated_hour():
    # 25 October 2026: 02:00 BST becomes 01:00 GMT; 01:30 happens twice; the job runs once.
    job = Job("nightly", "30 1 * * *", ("forecast",))
    got = fire_times(job, utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))
    assert got == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_morning_report_keeps_local_time_in_summer_and_winter():
    job = Job("weekly-report", "0 6 * * 1", ("report", "weekly"))
    assert next_run_after(job, utc(2026, 7, 1), LONDON) == utc(2026, 7, 6, 5, 0)
    assert next_run_after(job, utc(2026, 12, 1), LONDON) == utc(2026, 12, 7, 6, 0)


def test_interval_job_keeps_rhythm_through_repeated_hour():
    job = Job("derive", "*/30 * * * *", ("collect", "derive-usage"))
    got = fire_times(job, utc(2026, 10, 24, 23, 50), utc(2026, 10, 25, 2, 50))
    assert got == [utc(2026, 10, 25, 0, 0) + timedelta(minutes=30 * i) for i in range(6)]


def test_missed_runs_run_once_when_service_returns(tmp_path):
    job = Job("advise", "15 * * * *", ("advise",))
    store = RunStore(tmp_path / "runs.sqlite3")
    store.start("advise", utc(2026, 1, 5, 9, 15), 1, utc(2026, 1, 5, 9, 15))
    runs = []
    clock = FakeClock(utc(2026, 1, 8, 14, 40))  # down for three days
    s = Scheduler([job], store, tmp_path / "locks", runner=lambda j: (runs.append(j) or (True, "")),
                  clock=clock)
    assert s.due(clock()) == [(job, utc(2026, 1, 8, 14, 15))]
    s.tick(wait=True)
    s.tick(wait=True)
    assert len(runs) == 1
    assert s.due(clock()) == []


def test_new_job_waits_for_its_first_time(tmp_path):
    job = Job("forecast", "30 1 * * *", ("forecast",))
    clock = FakeClock(utc(2026, 2, 2, 12))
    runs = []
    s = Scheduler([job], RunStore(tmp_path / "r.sqlite3"), tmp_path / "locks",
                  runner=lambda j: (runs.append(clock()) or (True, "")), clock=clock)
    assert s.due(clock()) == []  # 01:30 today was before the scheduler knew of the job
    clock.now = utc(2026, 2, 3, 1, 31)
    s.tick(wait=True)
    assert runs == [utc(2026, 2, 3, 1, 31)]


def test_no_overlap_in_process(tmp_path):
    job = Job("slow", "* * * * *", ("advise",))
    release = threading.Event()
    calls = []

    def runner(j):
        calls.append(j)
        release.wait(10)
        return True, ""

    clock = FakeClock(utc(2026, 1, 1, 10, 0, 30))
    s = Scheduler([job], known_store(tmp_path / "r.sqlite3", "slow"), tmp_path / "locks",
                  runner=runner, clock=clock)
    first = s.tick()
    clock.now += timedelta(minutes=1)
    assert s.tick() == []  # still running: not started twice
    release.set()
    first[0].join()
    s.tick(wait=True)  # the run that was due meanwhile runs once, after
    assert len(calls) == 2


def test_no_overlap_across_processes(tmp_path):
    job = Job("forecast", "30 1 * * *", ("forecast",))
    locks = tmp_path / "locks"
    locks.mkdir()
    store = known_store(tmp_path / "r.sqlite3", "forecast")
    calls = []
    s = Scheduler([job], store, locks, runner=lambda j: (calls.append(j) or (True, "")),
                  clock=FakeClock(utc(2026, 2, 2, 12)))
    with open(locks / "forecast.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        s.tick(wait=True)
    assert calls == []
    assert store.recent() == []


def test_failed_run_is_retried_then_recorded(tmp_path):
    job = Job("report", "0 6 * * 1", ("report", "weekly"), retries=2, retry_delay_s=0)
    results = iter([(False, "InfluxDB unreachable"), (False, "InfluxDB unreachable"), (True, "")])
    store = known_store(tmp_path / "r.sqlite3", "report")
    s = Scheduler([job], store, tmp_path / "locks", runner=lambda j: next(results),
                  clock=FakeClock(utc(2026, 2, 2, 7)))
    s.tick(wait=True)
    outcomes = [r["outcome"] for r in reversed(store.recent())]
    assert outcomes == ["retrying", "retrying", "succeeded"]

    always = Scheduler([job], known_store(tmp_path / "r2.sqlite3", "report"), tmp_path / "locks2",
                       runner=lambda j: (False, "boom"), clock=FakeClock(utc(2026, 2, 2, 7)))
    always.tick(wait=True)
    final = always.store.recent()[0]
    assert final["outcome"] == "failed" and final["error"] == "boom" and final["attempt"] == 3


def test_runner_exception_is_a_failed_run(tmp_path):
    def broken(j):
        raise RuntimeError("bug")

    s = Scheduler([Job("x", "0 6 * * *", ("advise",), retries=0)], known_store(tmp_path / "r", "x"),
                  tmp_path / "l", runner=broken, clock=FakeClock(utc(2026, 2, 2, 7)))
    s.tick(wait=True)
    assert s.store.recent()[0]["error"] == "RuntimeError: bug"


def test_real_subprocess_runner():
    ok, _ = run_hearth_command(Job("help", "0 6 * * *", ("--help",)))
    assert ok
    ok, detail = run_hearth_command(Job("bad", "0 6 * * *", ("no-such-command",)))
    assert not ok and "invalid choice" in detail


def test_invalid_job_settings_name_the_key(tmp_path):
    config = tmp_path / "hearth.toml"
    config.write_text('[[schedule.jobs]]\nname = "x"\ncron = "61 * * * *"\ncommand = ["advise"]\n')
    with pytest.raises(ConfigError, match=r"schedule\.jobs\.0\.cron"):
        load_settings(config, environ={"HEARTH_HOME": str(tmp_path)})
    config.write_text('[schedule]\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match="IANA time zone"):
        load_settings(config, environ={"HEARTH_HOME": str(tmp_path)})
