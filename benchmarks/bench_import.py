"""Smart-meter import throughput: `run_import` for many consenting households against a local
server answering in Octopus' documented paged shape (the slowest provider to page through:
`page_size` results a request), into a real InfluxDB started on free ports.

Measures the first import (`--days` of history per household) and the daily run that follows
(one new day, `lookback_days` re-fetched). Run: `python -m benchmarks.bench_import`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from benchmarks._report import machine, write_section
from hearth.registry import Registry
from hearth.settings import Settings
from hearth.stack import InfluxServer, free_port
from importers.meter_points import add_meter_point
from importers.providers import MeterPoint
from importers.smart_meter import run_import
from tenants.rights import set_consent

KEY = "sk_bench"


class OctopusLike(BaseHTTPRequestHandler):
    """Every half hour of [period_from, period_to) with a value, `page_size` per page."""

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        t0 = int(dt.datetime.fromisoformat(q["period_from"].replace("Z", "+00:00")).timestamp())
        t1 = int(dt.datetime.fromisoformat(q["period_to"].replace("Z", "+00:00")).timestamp())
        size, page = int(q["page_size"]), int(q.get("page", 1))
        first = t0 + (page - 1) * size * 1800
        last = min(t1, first + size * 1800)
        results = [{"consumption": round(0.1 + (t // 1800 % 48) / 100, 3),
                    "interval_start": dt.datetime.fromtimestamp(t, dt.UTC).isoformat(),
                    "interval_end": dt.datetime.fromtimestamp(t + 1800, dt.UTC).isoformat()}
                   for t in range(first, last, 1800)]
        nxt = None
        if last < t1:
            nxt = f"http://{self.headers['Host']}{u.path}?{urlencode({**q, 'page': page + 1})}"
        body = json.dumps({"count": (t1 - t0) // 1800, "next": nxt, "previous": None,
                           "results": results}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_import")
    parser.add_argument("--households", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-import-"))
    influx = InfluxServer(work / "influx", free_port(), free_port(), "bench", "bench-password")
    http = ThreadingHTTPServer(("127.0.0.1", free_port()), OctopusLike)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        influx.start()
        settings = Settings.model_validate({
            "paths": {"var_dir": str(work)},
            "influxdb": {"url": influx.url, "database": "bench", "username": "bench",
                         "password": "bench-password", "rpc_port": 1},
            "registry": {"path": str(work / "registry.sqlite3")},
            "collectors": {"dead_letter_dir": str(work / "dead_letters")},
            "importers": {"smart_meter": {
                "octopus_base_url": f"http://127.0.0.1:{http.server_address[1]}",
                "octopus_page_size": args.page_size, "lookback_days": 1.0}}})
        with Registry(settings.registry.path) as reg, reg.transaction() as conn:
            for i in range(args.households):
                hh = f"B{i:06d}"
                conn.execute(
                    "INSERT INTO households (household_id, patch, estate, property_type, bedrooms,"
                    " floor_area_m2, payment_type, has_gas, heating, epc_band,"
                    " means_tested_benefits, vulnerable, occupancy, occupants, tenancy_start)"
                    " VALUES (?, 'North', 'Bench', 'flat', 2, 60, 'credit', 0, 'electric', 'D',"
                    " 0, 0, 'working', 2, '2020-01-01')", (hh,))
                conn.execute("INSERT INTO tenants (tenant_id, household_id, full_name) VALUES"
                             " (?, ?, 'Bench Tenant')", (hh + "T", hh))
        with Registry(settings.registry.path) as reg:
            for i in range(args.households):
                hh = f"B{i:06d}"
                set_consent(reg, hh, smart_meter_import=True, source="tenancy_signup")
                add_meter_point(reg, MeterPoint(hh, "electricity", "octopus",
                                                f"{1200000000000 + i}", f"S{i}"))
        today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        env = {"HEARTH_OCTOPUS_API_KEY": KEY}
        t = time.perf_counter()
        [first] = run_import(settings, ["octopus"], since=today - dt.timedelta(days=args.days),
                             until=today - dt.timedelta(days=1), environ=env)
        first_s = time.perf_counter() - t
        t = time.perf_counter()
        [daily] = run_import(settings, ["octopus"], until=today, environ=env)
        daily_s = time.perf_counter() - t
    finally:
        http.shutdown()
        influx.stop()
        shutil.rmtree(work, ignore_errors=True)
    assert first.ok and daily.ok, (first.describe(), daily.describe())
    rate = first.half_hours_written / first_s
    print(f"first import: {first.half_hours_written:,} half hours for {args.households}"
          f" households in {first_s:.1f} s ({rate:,.0f} half hours/s); daily run"
          f" {daily.half_hours_written:,} half hours in {daily_s:.1f} s")
    if not args.no_docs:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        cmd = (f"python -m benchmarks.bench_import --households {args.households} --days"
               f" {args.days} --page-size {args.page_size}")
        first_row = (f"first import: {args.days - 1} days x {args.households} households,"
                     f" {args.page_size} results a page",
                     f"**{rate:,.0f} half hours/s** ({first.half_hours_written:,} half hours in"
                     f" {first_s:.1f} s, {first_s / args.households * 1000:.0f} ms a household)")
        daily_row = ("the daily run after it (1 new day + `lookback_days` = 1 re-fetched)",
                     f"{daily_s:.1f} s for {daily.half_hours_written:,} half hours"
                     f" ({daily_s / args.households * 1000:.0f} ms a household)")
        table = "\n".join(f"| {a} | {b} |" for a, b in (first_row, daily_row))
        body = f"""Machine: {machine()}; load average at the end {load}. Command: `{cmd}`.
A local HTTP server answers in Octopus' documented paged shape; the import runs one household
after another (as `hearth import smart-meter` does) into a real InfluxDB.

| what | figure |
|---|---|
{table}

A real provider answers over the internet (tens to hundreds of ms a request) and limits request
rates, so a real run is bound by the provider, not by Hearth: these figures are Hearth's own cost.
"""
        write_section("Smart-meter import (issue 12)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
