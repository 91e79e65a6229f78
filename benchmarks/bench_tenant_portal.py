"""Benchmark: the tenant portal's pages for one household with 10,000 homes in the registry.
Goal: every page under 1 s.

Builds the same portfolio as benchmarks/bench_dashboard.py (a real InfluxDB in a temporary
folder, the registry's generator for 10,000 homes, cases, six hours of every device's readings,
the 30-day forecast of every home, eight weeks of half-hourly use for a sample of homes), adds a
year-ago week and hourly prepayment credit for the timed home, signs in through the portal's
sign-in form with the code from the outbox, and times page runs with streamlit.testing.v1.AppTest
(the whole script run on the server: queries, frames, figures; not the browser's drawing).

Run: PYTHONPATH=. python -m benchmarks.bench_tenant_portal [--households 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

APP = Path(__file__).resolve().parents[1] / "tenants" / "app.py"
MOBILE = "+447700900777"    # Ofcom's drama range: no real person's
PAGES = {"home": "Your energy", "cases": "Problems and texts", "report": "Report a problem",
         "details": "Your details", "sharing": "Sharing", "download": "Download your data"}


def prepare(settings, household: str) -> None:
    """The timed home: a tenant with the benchmark's mobile, prepayment, a year-ago week of use
    and two weeks of hourly credit."""
    from hearth.influx import InfluxClient, lines_from_arrays, usage_lines
    from hearth.registry import Registry

    with Registry(settings.registry.path) as reg, reg.transaction() as conn:
        conn.execute("UPDATE tenants SET mobile = NULL, sms_consent = 0 WHERE mobile = ?",
                     (MOBILE,))
        tid = conn.execute("SELECT tenant_id FROM tenants WHERE household_id = ? ORDER BY"
                           " tenant_id LIMIT 1", (household,)).fetchone()[0]
        conn.execute("UPDATE tenants SET mobile = ? WHERE tenant_id = ?", (MOBILE, tid))
        conn.execute("UPDATE households SET payment_type = 'prepayment' WHERE household_id = ?",
                     (household,))
    now_s = int(datetime.now(UTC).timestamp())
    year = np.arange(now_s - (52 * 7 + 7) * 86400, now_s - 52 * 7 * 86400, 1800) // 1800 * 1800
    hours = np.arange(now_s - 14 * 86400, now_s - 600, 3600)
    with InfluxClient.from_settings(settings) as client:
        client.write_lines(usage_lines(household, "electricity", np.full(len(year), 0.3),
                                       year * 10**9), retention_policy="usage")
        client.write_lines(lines_from_arrays(
            "meter", {"household": household, "device": f"{household}-E", "fuel": "electricity",
                      "source": "modbus"},
            {"credit_gbp": 20 - (hours - hours[0]) / 86400 * 1.5}, hours * 10**9))


def measure(settings, runs: int) -> dict[str, tuple[float, float]]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=300).run()
    at.text_input(key="signin_mobile").input(MOBILE)
    at.button[0].click().run()
    lines = Path(settings.notifier.outbox_path).read_text().splitlines()
    code = json.loads([x for x in lines if "sign_in_code" in x][-1])["body"][:6]
    at.text_input(key="signin_code").input(code)
    t0 = time.perf_counter()
    at.button[0].click().run()
    out = {"sign-in + Your energy (cold caches)": (time.perf_counter() - t0, float("nan"))}
    assert at.title[0].value == "Your energy", [e.value for e in at.exception]
    for page, title in PAGES.items():
        at.switch_page(f"app_pages/{page}.py")
        t0 = time.perf_counter()
        at.run()
        first = time.perf_counter() - t0
        assert not at.exception and at.title[0].value == title, [e.value for e in at.exception]
        warm = []
        for _ in range(runs):
            t0 = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - t0)
        out[title] = (first, statistics.median(warm))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import streamlit as st

    from benchmarks.bench_dashboard import build
    from hearth.settings import Settings
    from hearth.stack import InfluxServer, free_port
    from tenants.runtime import settings_to_env

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server = InfluxServer(tmp / "influxdb", free_port(), free_port(), "bench", "bench-pass")
        server.start()
        try:
            settings = Settings.model_validate({
                "paths": {"var_dir": str(tmp)},
                "influxdb": {"url": server.url, "database": "bench", "username": "bench",
                             "password": "bench-pass"},
                "mqtt": {"password": "unused"},
                "registry": {"path": str(tmp / "registry.sqlite3")},
                "collectors": {"dead_letter_dir": str(tmp / "dead_letters"),
                               "metrics_port": free_port()},
                "notifier": {"outbox_path": str(tmp / "outbox.jsonl")},
                "tenants": {"photo_dir": str(tmp / "photos")}})
            info = build(settings, args.households)
            home = info["sample"][1]
            prepare(settings, home)
            print(f"built: {args.households} homes, {info['devices']} devices, "
                  f"{info['cases']} cases, {info['points']:,} points; timed home {home}",
                  flush=True)
            os.environ.update(settings_to_env(settings))
            st.cache_data.clear()
            st.cache_resource.clear()
            results = measure(settings, args.runs)
        finally:
            server.stop()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}; measured "
          f"{datetime.now(UTC) - timedelta(seconds=0):%Y-%m-%d %H:%M} UTC")
    print(f"| page | first run [s] | warm, median of {args.runs} [s] |\n|---|---|---|")
    for name, (first, warm) in results.items():
        print(f"| {name} | {first:.2f} | {warm:.2f} |")
    print(json.dumps({k: [round(a, 3), round(b, 3)] for k, (a, b) in results.items()}))


if __name__ == "__main__":
    main()
