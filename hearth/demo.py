"""`hearth demo`: the whole service on simulated homes, on one laptop.

It starts the local stack, makes a simulated portfolio (once), writes some weeks of history,
derives usage, forecasts and advises once, then runs the live simulators, the collectors, the
scheduler and the dashboard as child processes until Ctrl-C. Every step is an ordinary
`hearth` command, so what the demo does is what a council would run.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hearth.errors import HearthError
from hearth.secrets import read_or_create_secret

log = logging.getLogger("hearth.demo")


@dataclass(frozen=True)
class DemoOptions:
    households: int = 200
    seed: int = 42
    backfill_days: int = 28
    speed: float = 60.0
    dashboard_port: int = 8501


def hearth_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "hearth", *args]


def run_step(title: str, *args: str) -> None:
    log.info("demo: %s ...", title)
    t0 = time.monotonic()
    proc = subprocess.run(hearth_cmd(*args))
    if proc.returncode != 0:
        raise HearthError(f"demo step '{title}' failed (hearth {' '.join(args)} exited"
                          f" {proc.returncode}); see the messages above")
    log.info("demo: %s done in %.1f s", title, time.monotonic() - t0)


def _registry_is_empty(settings) -> bool:
    from hearth.registry import Registry

    with Registry(settings.registry.path) as reg:
        return len(reg.households()) == 0


def _ensure_demo_users(settings, patches: list[str]) -> list[tuple[str, str, str]]:
    """A manager and one officer for the first patch; passwords generated once into var/secrets."""
    var_dir = Path(settings.paths.var_dir)
    users = [("manager", "manager", []), ("officer", "officer", patches[:1])]
    out = []
    for username, role, user_patches in users:
        password = read_or_create_secret(var_dir, f"demo_{username}_password")
        args = ["users", "add", username, "--role", role, "--if-missing"]
        for p in user_patches:
            args += ["--patch", p]
        proc = subprocess.run(hearth_cmd(*args), env={**__import__("os").environ,
                                                      "HEARTH_NEW_USER_PASSWORD": password})
        if proc.returncode != 0:
            raise HearthError(f"could not create the demo user {username}")
        out.append((username, role, password))
    return out


def run_demo(settings, options: DemoOptions) -> int:
    from hearth.registry import Registry

    run_step("starting InfluxDB and Mosquitto", "stack", "up")
    marker = Path(settings.paths.var_dir) / "demo" / "backfilled"
    if _registry_is_empty(settings):
        run_step(f"generating {options.households} simulated homes", "registry", "generate",
                 "--households", str(options.households), "--seed", str(options.seed))
    if not marker.exists():
        run_step(f"writing {options.backfill_days} days of simulated history", "sim",
                 "--backfill", str(options.backfill_days), "--duration-s", "0")
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    run_step("deriving half-hourly usage", "collect", "derive-usage")
    run_step("forecasting every home", "forecast")
    run_step("assessing risks and opening cases", "advise")
    with Registry(settings.registry.path) as reg:
        patches = sorted({h.patch for h in reg.households()})
    users = _ensure_demo_users(settings, patches)

    services = {
        "simulators": hearth_cmd("sim", "--speed", str(options.speed)),
        "collectors": hearth_cmd("collect"),
        "scheduler": hearth_cmd("schedule"),
        "dashboard": hearth_cmd("dashboard", "--port", str(options.dashboard_port)),
    }
    children = {name: subprocess.Popen(cmd) for name, cmd in services.items()}
    print("\n" + "=" * 72)
    print(f"Hearth is running. Open http://127.0.0.1:{options.dashboard_port} in a browser.")
    for username, role, password in users:
        print(f"  sign in as {username!r} ({role}) with password {password}")
    print("  (passwords are kept in var/secrets/; Ctrl-C stops the demo, `make stop` the servers)")
    print("=" * 72 + "\n", flush=True)
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for name, proc in list(children.items()):
                if proc.poll() is not None:
                    log.error("demo: the %s stopped (exit %s); restarting it", name, proc.returncode)
                    time.sleep(2)
                    children[name] = subprocess.Popen(services[name])
            time.sleep(1)
    finally:
        for proc in children.values():
            proc.terminate()
        for proc in children.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0
