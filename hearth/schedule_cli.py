"""`hearth schedule`: run the batch jobs at their times; `hearth schedule status`: recent runs."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schedule", help="run forecasts, advice and reports at their set times")
    p.add_argument("action", nargs="?", choices=["run", "once", "status"], default="run",
                   help="run (default): until stopped; once: run what is due now and exit;"
                        " status: recent runs")
    p.set_defaults(func=run)


def _scheduler(settings):
    from hearth.schedule import Job, RunStore, Scheduler

    jobs = [Job(j.name, j.cron, tuple(j.command), j.retries, j.retry_delay_s, j.timeout_s)
            for j in settings.schedule.jobs]
    store = RunStore(settings.schedule.state_path)
    return Scheduler(jobs, store, lock_dir=settings.paths.var_dir / "locks",
                     tz=settings.schedule.timezone), store


def run(args: argparse.Namespace, settings) -> int:
    import signal
    import threading
    from zoneinfo import ZoneInfo

    from hearth.schedule import next_run_after

    scheduler, store = _scheduler(settings)
    if args.action == "status":
        tz = ZoneInfo(settings.schedule.timezone)
        now = scheduler.clock()
        print(f"{'job':<16} {'next run (UK time)':<22} cron")
        for job in scheduler.jobs:
            nxt = next_run_after(job, now, tz).astimezone(tz).strftime("%a %d %b %H:%M %Z")
            print(f"{job.name:<16} {nxt:<22} {job.cron}")
        print("\nrecent runs:")
        for r in store.recent(20):
            print(f"  {r['job']:<16} {r['started_at'][:19]}  attempt {r['attempt']}"
                  f"  {r['outcome']:<9} {r['duration_s'] or 0:7.1f} s  {r['error'] or ''}")
        return 0
    if args.action == "once":
        threads = scheduler.tick(wait=True)
        failed = [r for r in store.recent(len(threads) * 4) if r["outcome"] == "failed"]
        print(f"ran {len(threads)} due job(s); {len(failed)} failed")
        return 1 if failed else 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.serve(stop)
    return 0
