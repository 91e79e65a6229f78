"""`hearth dashboard` as a real server for browser tests: its environment from test settings,
started on a free port and stopped again (one place for every browser journey's module)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from hearth.stack import free_port
from tests.conftest import INFLUX_PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def dashboard_env(settings, var: Path) -> dict[str, str]:
    """The environment a `hearth` child process needs to use `settings` (from make_settings)."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "HEARTH_HOME": str(var),
            "HEARTH__PATHS__VAR_DIR": str(var),
            "HEARTH__INFLUXDB__URL": settings.influxdb.url,
            "HEARTH__INFLUXDB__DATABASE": settings.influxdb.database,
            "HEARTH__INFLUXDB__USERNAME": settings.influxdb.username,
            "HEARTH_INFLUX_PASSWORD": INFLUX_PASSWORD,
            "HEARTH_MQTT_PASSWORD": "unused-here",
            "HEARTH__REGISTRY__PATH": str(settings.registry.path),
            "HEARTH__COLLECTORS__DEAD_LETTER_DIR": str(settings.collectors.dead_letter_dir),
            "HEARTH__COLLECTORS__METRICS_PORT": str(settings.collectors.metrics_port),
            "HEARTH__NOTIFIER__OUTBOX_PATH": str(settings.notifier.outbox_path)}


@contextmanager
def serve_dashboard(var: Path, env: dict[str, str]) -> Iterator[str]:
    """`hearth dashboard` on a free port until the block ends; yields its base URL. Fails the
    test with the server's log when it does not answer its health check within 60 s."""
    port = free_port()
    log_path = var / "dashboard.log"
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, "-m", "hearth", "dashboard", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None:
                break
            time.sleep(0.3)
        else:
            proc.kill()
        if proc.poll() is not None:
            pytest.fail("hearth dashboard did not start: "
                        + log_path.read_text(errors="replace")[-2000:])
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
