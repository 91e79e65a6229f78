"""Two-way SMS and open data differencing (issue 14, issue 16 two-way SMS).

`python -m benchmarks.bench_messaging [--homes 10000] [--replies 2000]`:

1. open data: the January table of N homes (50 estates x 4 property types, electricity and
   gas), then January again after one home left, each checked against the registry's record of
   earlier publications and recorded (advisor.reports.opendata_record) - seconds per export;
2. `hearth notify sync` over R new replies (a mix of STOP, HELP and other) read from a local
   stub of GOV.UK Notify's received-text API (250 a page, as Notify pages) through
   notifications-python-client, on a real SQLite registry of R homes - replies per second.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd


def homes_frame(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"H{i:06d}" for i in range(1, n + 1)]
    area = rng.integers(0, 50, n)
    ptype = rng.choice(["flat", "maisonette", "house", "bungalow"], n, p=[.5, .1, .3, .1])
    kwh = rng.uniform(100, 500, n)
    elec = pd.DataFrame({"household_id": ids, "area": [f"Estate {a:02d}" for a in area],
                         "property_type": ptype, "fuel": "electricity", "energy_kwh": kwh,
                         "cost_gbp": kwh * 0.2611 + 31 * 0.5719})
    gas_mask = rng.random(n) < 0.7
    gkwh = rng.uniform(400, 1600, int(gas_mask.sum()))
    gas = elec[gas_mask].assign(fuel="gas", energy_kwh=gkwh, cost_gbp=gkwh * 0.0733 + 9.0)
    return pd.concat([elec, gas], ignore_index=True)


def bench_opendata(n: int) -> dict:
    from advisor.reports.opendata_record import earlier_cells, record, safe_table
    from hearth.registry import Registry

    rows = homes_frame(n)
    out = {}
    with tempfile.TemporaryDirectory() as d, Registry(Path(d) / "r.sqlite3") as reg:
        for label, data in (("first", rows), ("after one left",
                                              rows[rows["household_id"] != "H000001"])):
            t0 = time.perf_counter()
            table, members, reasons = safe_table(data, "2026-01", "estate", 10,
                                                 earlier_cells(reg.conn, "2026-01"))
            record(reg.conn, "2026-01", "estate", "x.csv", 10, table, members, reasons,
                   datetime.now(UTC))
            out[label] = (time.perf_counter() - t0, len(table),
                          int((table["marker"] == "c").sum()))
    return out


def bench_sync(n: int) -> tuple[float, dict]:
    import logging

    from pytest_httpserver import HTTPServer

    from advisor.db import connection
    from advisor.notify.govuk import NotifySender
    from advisor.notify.sync import sync
    from hearth.registry import Registry
    from hearth.settings.rooms import NotifierSettings
    from tests.advisor.conftest import add_household, add_tenant
    from tests.advisor.notify_stub import API_KEY, NotifyStub

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        stub = NotifyStub(server, page_size=250)
        words = ["STOP", "help", "My heating is off again", "Stop please", "Thanks"]
        with tempfile.TemporaryDirectory() as d, Registry(Path(d) / "r.sqlite3") as reg:
            conn = connection(reg)
            for i in range(n):
                add_household(conn, f"H{i:06d}")
                add_tenant(conn, f"T{i:06d}", f"H{i:06d}", f"+4477009{i:05d}")
            conn.commit()
            for i in range(n):
                stub.reply(f"4477009{i:05d}", words[i % len(words)],
                           f"2026-12-14T10:{i // 3600 % 60:02d}:{i % 60:02d}.{i:06d}Z")
            s = NotifierSettings(sender="notify", help_phone="0161 496 0000",
                                 template_ids={"stop_confirmation": "2" * 8 + "-2222-2222-"
                                               "2222-" + "2" * 12, "help_reply": "3" * 8 +
                                               "-3333-3333-3333-" + "3" * 12})
            sender = NotifySender(API_KEY, stub.url, s.template_ids)
            t0 = time.perf_counter()
            result = sync(conn, s, sender, datetime(2026, 12, 14, 12, tzinfo=UTC))
            return time.perf_counter() - t0, dict(result.replies)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_messaging")
    p.add_argument("--homes", type=int, default=10_000)
    p.add_argument("--replies", type=int, default=2_000)
    a = p.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()}")
    for label, (s, rows, hidden) in bench_opendata(a.homes).items():
        print(f"open data {a.homes:,} homes, {label}: {s:.2f} s ({rows} rows, {hidden} hidden)")
    s, counts = bench_sync(a.replies)
    print(f"notify sync {a.replies:,} replies: {s:.2f} s = {a.replies / s:,.0f} replies/s"
          f" ({counts})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
