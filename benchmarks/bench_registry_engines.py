"""The registry on SQLite and on PostgreSQL, same code: writing a portfolio, the advisor's case
sync (open, then update in place), the dashboard's reads, and the advisor, an officer and a
collector writing at once. PostgreSQL is Debian's 15, started on a free loopback port in a temp
folder with durability off (fsync=off: a test cluster; a real one costs more per commit), so
the figures compare the code paths, not disks.

Run: `python -m benchmarks.bench_registry_engines --households 2000 [--write]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from advisor.cases import CaseStore
from advisor.rules.base import LOW, MEDIUM, RuleResult
from benchmarks._report import machine, write_section
from dashboard import queries as q
from hearth.registry import Registry
from hearth.registry.bindings import bind
from hearth.registry.generate import GenerateOptions, generate_portfolio, write_portfolio
from hearth.settings.rooms import AdvisorSettings
from tests import pg_server

T0 = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
NOTE = ("Each statement on PostgreSQL is a round trip to the server (a few milliseconds on this"
        " loaded machine; SQLite is a call inside the process), and the registry's writes are"
        " many small statements per case, taken one writer at a time (the registry-wide lock"
        " that stands for SQLite's). So on one machine PostgreSQL is slower; it is there for"
        " several machines and many processes sharing one registry, not for speed.")


def _result(n: int, hour: int, flagged: np.ndarray) -> dict:
    sev = np.where((np.arange(n) + hour) % 3 == 0, MEDIUM, LOW)
    return {"cold_home": RuleResult("cold_home", flagged, sev, np.full(n, 40.0 + hour),
                                    {"temp_c": np.full(n, 14.0)},
                                    lambda d: f"living room {d['temp_c']:.1f} C")}


def run_engine(target, households: int) -> dict[str, float]:
    out: dict[str, float] = {}
    t = time.perf_counter()
    with Registry(target) as reg:
        write_portfolio(reg, generate_portfolio(GenerateOptions(households, seed=5,
                                                                as_of=date(2026, 11, 25))))
    out["write portfolio [s]"] = time.perf_counter() - t
    with Registry(target) as reg:
        hids = np.array([h.household_id for h in reg.households()])
        store = CaseStore(reg.conn, AdvisorSettings(auto_close_h=48))
        flagged = np.arange(len(hids)) % 2 == 0
        t = time.perf_counter()
        store.sync(_result(len(hids), 0, flagged), hids, T0)
        out["advisor sync, opening cases [s]"] = time.perf_counter() - t
        t = time.perf_counter()
        store.sync(_result(len(hids), 1, flagged), hids, T0 + timedelta(hours=1))
        out["advisor sync an hour later [s]"] = time.perf_counter() - t
        patches = reg.patches()
    t = time.perf_counter()
    reads = 0
    for _ in range(10):
        for patch in patches:
            conn = q.connect_read(target)
            q.open_cases(conn, (patch,))
            q.households(conn, (patch,))
            q.last_contact(conn, (patch,))
            conn.close()
            reads += 1
    out["dashboard page reads (3 queries) [ms]"] = (time.perf_counter() - t) / reads * 1000
    out["writers at once (advisor 5 h, officer 200 notes, collector 200 binds) [s]"] = \
        _concurrent(target, hids)
    return out


def _concurrent(target, hids: np.ndarray) -> float:
    errors: list[BaseException] = []

    def advisor():
        with Registry(target) as reg:
            store = CaseStore(reg.conn, AdvisorSettings(auto_close_h=48))
            for hour in range(2, 7):
                store.sync(_result(len(hids), hour, np.arange(len(hids)) % 2 == 0), hids,
                           T0 + timedelta(hours=hour))

    def officer():
        with Registry(target) as reg:
            store = CaseStore(reg.conn, AdvisorSettings(auto_close_h=48))
            cases = store.open_cases()[:200]
            for case in cases:
                store.add_note(case["case_id"], "officer.bench", "phoned the tenant")

    def collector():
        with Registry(target) as reg:
            for i in range(200):
                bind(reg, [("zigbee2mqtt", f"0x{i:04x}", str(hids[i]), f"z2m_{i:04x}",
                            "thermostat", "living_room", None)], actor="collector")

    def guard(fn):
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guard, args=(f,)) for f in (advisor, officer, collector)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=2000)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-registry-"))
    server = pg_server.PostgresServer()
    server.start()
    os.environ["HEARTH_REGISTRY_PASSWORD"] = pg_server.PG_PASSWORD
    try:
        sqlite = run_engine(work / "registry.sqlite3", args.households)
        pg = run_engine(server.fresh_schema_url(), args.households)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0]
    rows = [f"| {k} | {sqlite[k]:.2f} | {pg[k]:.2f} |" for k in sqlite]
    body = "\n".join([
        f"`python -m benchmarks.bench_registry_engines --households {args.households}`"
        " (Registry on each engine, same code; PostgreSQL 15 on loopback with fsync off).",
        "", f"Machine: {machine()}; load average {load:.1f} at the end of the run (the machine"
        " is shared: figures under load are upper bounds).", "",
        "| stage | SQLite | PostgreSQL |", "|---|---|---|", *rows, "", NOTE])
    print(body)
    if args.write:
        write_section("Registry on SQLite and PostgreSQL (issue 17)", body)


if __name__ == "__main__":
    main()
