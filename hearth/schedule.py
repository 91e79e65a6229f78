"""The batch scheduler: runs Hearth's jobs (usage derivation, forecasts, advice, reports) at
cron times in UK local time, each job a `hearth ...` command in its own process.

Rules, as cron users expect them (and as Vixie cron does across clock changes):
- A job at a fixed local time (hour field not `*` or a step) runs once a day at that wall-clock
  time. When the clocks go forward and the time does not exist, it runs at the same offset
  after the change (01:30 becomes 02:30 BST); when they go back, it runs once, at the first 01:30.
- A job whose hour field is `*` or `*/N` runs on elapsed time (in UTC), so an every-30-minutes
  job keeps its rhythm through the repeated hour.
- A run missed while the service was down runs once when it comes back (not once per miss).
  A job the scheduler has never seen before waits for its first time: times before the
  scheduler first knew of it are not missed runs (run it by hand if it is wanted now).
- Two runs of the same job never overlap: in one process a running job is not started again,
  and across processes a file lock per job guards it.
- Every attempt is stored with its duration and outcome; a failed run is retried, then left
  failed for the data health page.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter

log = logging.getLogger("hearth.schedule")


@dataclass(frozen=True)
class Job:
    name: str
    cron: str
    command: tuple[str, ...]
    retries: int = 2
    retry_delay_s: float = 60.0
    timeout_s: float = 3600.0

    @property
    def follows_wall_clock(self) -> bool:
        """True for fixed-time jobs; False for jobs that run every hour or every N hours."""
        hour_field = self.cron.split()[1]
        return not (hour_field == "*" or hour_field.startswith("*/"))


def _localize(naive_local: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time as a UTC instant: the first of two in the repeated hour, and the same
    offset past the change for a time skipped when the clocks go forward."""
    aware = naive_local.replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC)


def next_run_after(job: Job, after: datetime, tz: ZoneInfo) -> datetime:
    """The first scheduled instant strictly after `after` (aware) [UTC]."""
    if not job.follows_wall_clock:
        start = after.astimezone(UTC).replace(tzinfo=None)
        return croniter(job.cron, start).get_next(datetime).replace(tzinfo=UTC)
    # Walk wall-clock candidates from one day before, so a candidate whose instant moved past
    # a clock change is not missed.
    local = after.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    it = croniter(job.cron, local)
    while True:
        candidate = _localize(it.get_next(datetime), tz)
        if candidate > after:
            return candidate


def last_due(job: Job, now: datetime, tz: ZoneInfo, max_steps: int = 1000) -> datetime | None:
    """The latest scheduled instant at or before `now` [UTC], or None if there is none."""
    if not job.follows_wall_clock:
        start = now.astimezone(UTC).replace(tzinfo=None) + timedelta(seconds=1)
        return croniter(job.cron, start).get_prev(datetime).replace(tzinfo=UTC)
    # Start a little ahead in wall-clock time: a clock change moves instants by up to an hour.
    it = croniter(job.cron, now.astimezone(tz).replace(tzinfo=None) + timedelta(hours=2))
    for _ in range(max_steps):
        candidate = _localize(it.get_prev(datetime), tz)
        if candidate <= now:
            return candidate
    return None


class RunStore:
    """Every attempt of every job, in a small SQLite file of its own (operational state)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("""CREATE TABLE IF NOT EXISTS job_runs (
                run_id INTEGER PRIMARY KEY, job TEXT NOT NULL, scheduled_for TEXT NOT NULL,
                attempt INTEGER NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
                duration_s REAL, outcome TEXT NOT NULL CHECK (outcome IN
                ('running', 'succeeded', 'failed', 'retrying')), error TEXT)""")
            db.execute("CREATE INDEX IF NOT EXISTS job_runs_job ON job_runs (job, scheduled_for)")
            db.execute("CREATE TABLE IF NOT EXISTS jobs_seen (job TEXT PRIMARY KEY,"
                       " first_seen TEXT NOT NULL)")

    def first_seen(self, job: str, now: datetime) -> datetime:
        """When the scheduler first knew of `job`; recorded as `now` the first time."""
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO jobs_seen (job, first_seen) VALUES (?, ?)",
                       (job, now.isoformat()))
            row = db.execute("SELECT first_seen FROM jobs_seen WHERE job = ?", (job,)).fetchone()
        return datetime.fromisoformat(row[0])

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                with db:
                    yield db
            finally:
                db.close()

    def last_scheduled_for(self, job: str) -> datetime | None:
        with self._connect() as db:
            row = db.execute("SELECT max(scheduled_for) FROM job_runs WHERE job = ?", (job,)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def start(self, job: str, scheduled_for: datetime, attempt: int, at: datetime) -> int:
        with self._connect() as db:
            cur = db.execute("INSERT INTO job_runs (job, scheduled_for, attempt, started_at, outcome)"
                             " VALUES (?, ?, ?, ?, 'running')",
                             (job, scheduled_for.isoformat(), attempt, at.isoformat()))
            return int(cur.lastrowid)

    def finish(self, run_id: int, outcome: str, at: datetime, duration_s: float,
               error: str | None = None) -> None:
        with self._connect() as db:
            db.execute("UPDATE job_runs SET outcome = ?, finished_at = ?, duration_s = ?, error = ?"
                       " WHERE run_id = ?", (outcome, at.isoformat(), duration_s, error, run_id))

    def recent(self, limit: int = 100) -> list[dict]:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM job_runs ORDER BY run_id DESC LIMIT ?", (limit,))
            return [dict(r) for r in rows]


Runner = Callable[[Job], tuple[bool, str]]


def run_hearth_command(job: Job) -> tuple[bool, str]:
    """Run `hearth <command>` in its own process; returns (succeeded, last lines of its output)."""
    try:
        proc = subprocess.run([sys.executable, "-m", "hearth", *job.command], capture_output=True,
                              text=True, timeout=job.timeout_s)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {job.timeout_s:.0f} s"
    tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
    return proc.returncode == 0, "\n".join(tail)


class Scheduler:
    def __init__(self, jobs: list[Job], store: RunStore, lock_dir: Path, tz: str = "Europe/London",
                 runner: Runner = run_hearth_command,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep):
        names = [j.name for j in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        self.jobs = jobs
        self.store = store
        self.lock_dir = Path(lock_dir)
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        self.tz = ZoneInfo(tz)
        self.runner = runner
        self.clock = clock
        self.sleep = sleep
        self._running: dict[str, threading.Thread] = {}

    def due(self, now: datetime) -> list[tuple[Job, datetime]]:
        """Jobs with a scheduled time at or before `now` that has not been run: each once."""
        out = []
        for job in self.jobs:
            scheduled = last_due(job, now, self.tz)
            if scheduled is None:
                continue
            done = self.store.last_scheduled_for(job.name) or self.store.first_seen(job.name, now)
            if scheduled > done:
                out.append((job, scheduled))
        return out

    def tick(self, wait: bool = False) -> list[threading.Thread]:
        """Start every due job that is not running already. Returns the threads started."""
        started = []
        for job, scheduled in self.due(self.clock()):
            running = self._running.get(job.name)
            if running is not None and running.is_alive():
                log.info("%s: due at %s but the previous run is still going; it runs after",
                         job.name, scheduled.isoformat())
                continue
            thread = threading.Thread(target=self._run, args=(job, scheduled), name=job.name,
                                      daemon=True)
            self._running[job.name] = thread
            thread.start()
            started.append(thread)
        if wait:
            for thread in started:
                thread.join()
        return started

    def _run(self, job: Job, scheduled: datetime) -> None:
        lock_path = self.lock_dir / f"{job.name}.lock"
        with open(lock_path, "w") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.warning("%s: another process runs this job; skipped this time", job.name)
                return
            for attempt in range(1, job.retries + 2):
                started_at = self.clock()
                t0 = time.monotonic()
                run_id = self.store.start(job.name, scheduled, attempt, started_at)
                try:
                    ok, detail = self.runner(job)
                except Exception as exc:  # a runner bug must not kill the scheduler
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                duration_s = time.monotonic() - t0
                last = attempt == job.retries + 1
                outcome = "succeeded" if ok else ("failed" if last else "retrying")
                self.store.finish(run_id, outcome, self.clock(), duration_s, None if ok else detail)
                log.info("%s (scheduled %s) attempt %d: %s in %.1f s%s", job.name,
                         scheduled.astimezone(self.tz).strftime("%Y-%m-%d %H:%M %Z"), attempt,
                         outcome, duration_s, "" if ok else f": {detail}")
                if ok or last:
                    return
                self.sleep(job.retry_delay_s)

    def seconds_until_next(self) -> float:
        now = self.clock()
        nxt = min(next_run_after(j, now, self.tz) for j in self.jobs)
        return max(0.0, (nxt - now).total_seconds())

    def serve(self, stop: threading.Event) -> None:
        """Run until `stop` is set."""
        log.info("scheduler started with %d jobs (%s)", len(self.jobs), self.tz.key)
        while not stop.is_set():
            self.tick()
            stop.wait(min(60.0, self.seconds_until_next() + 0.5))
        for thread in self._running.values():
            thread.join()
