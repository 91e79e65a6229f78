"""`hearth demo`: the whole service on simulated homes, on one laptop.

It starts the local stack, makes a simulated portfolio (once), writes some weeks of history,
derives usage, forecasts and advises once, then runs the live simulators, the collectors, the
scheduler and the dashboard as child processes until Ctrl-C. Every step is an ordinary
`hearth` command, so what the demo does is what a council would run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
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
    speed: float = 1.0      # real time; faster runs stamp readings in the future
    dashboard_port: int = 8501
    portal_port: int = 8502   # the tenant portal (`hearth tenant serve`)


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


def spawn(cmd: list[str], **popen_kwargs) -> subprocess.Popen:
    """A service in its own process group, so that stopping it also stops what it started
    (`hearth dashboard` runs Streamlit as a child of its own)."""
    return subprocess.Popen(cmd, start_new_session=True, **popen_kwargs)


def stop_all(children: dict[str, subprocess.Popen], timeout_s: float = 20.0) -> None:
    """SIGTERM every child's process group; SIGKILL the groups still there after timeout_s [s]
    (a group can outlive its leader: Streamlit takes a few seconds after `hearth dashboard`)."""
    for proc in children.values():
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_group_alive(p) for p in children.values()):
        for proc in children.values():
            proc.poll()     # reap leaders that have exited
        time.sleep(0.2)
    for name, proc in children.items():
        if _group_alive(proc):
            log.warning("demo: the %s did not stop within %.0f s; killing it", name, timeout_s)
            _signal_group(proc, signal.SIGKILL)
        proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _group_alive(proc: subprocess.Popen) -> bool:
    proc.poll()
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for_ports(addresses: set[tuple[str, int]], timeout_s: float,
                   until=lambda: False) -> set[tuple[str, int]]:
    """Wait until every (host, port) accepts a TCP connection, at most timeout_s [s] or until
    `until()` is true; return those that never did."""
    waiting = set(addresses)
    deadline = time.monotonic() + timeout_s
    while waiting and time.monotonic() < deadline and not until():
        for host, port in sorted(waiting):
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    waiting.discard((host, port))
            except OSError:
                pass
        if waiting:
            time.sleep(0.5)
    return waiting


def _gateways(settings) -> set[tuple[str, int]]:
    from hearth.registry import Registry

    with Registry(settings.registry.target) as reg:
        return {(d.gateway_host, int(d.gateway_port)) for d in reg.devices(protocol="modbus")
                if d.gateway_host and d.gateway_port}


def _registry_is_empty(settings) -> bool:
    from hearth.registry import Registry

    with Registry(settings.registry.target) as reg:
        return len(reg.households()) == 0


def _ensure_demo_users(settings, patches: list[str]) -> list[tuple[str, str, Path]]:
    """A manager and one officer for the first patch; passwords generated once into var/secrets
    (mode 0600 in a 0700 folder: only root reads them). Returns (user, role, password file)."""
    var_dir = Path(settings.paths.var_dir)
    users = [("manager", "manager", []), ("officer", "officer", patches[:1])]
    out = []
    for username, role, user_patches in users:
        name = f"demo_{username}_password"
        password = read_or_create_secret(var_dir, name)
        args = ["users", "add", username, "--role", role, "--if-missing"]
        for p in user_patches:
            args += ["--patch", p]
        proc = subprocess.run(hearth_cmd(*args), env={**__import__("os").environ,
                                                      "HEARTH_NEW_USER_PASSWORD": password})
        if proc.returncode != 0:
            raise HearthError(f"could not create the demo user {username}")
        out.append((username, role, var_dir / "secrets" / name))
    return out


def _demo_tenant(settings) -> tuple[str, str] | None:
    """(household, mobile) of a simulated tenant who can sign in to the portal. The generator's
    numbers are all in Ofcom's drama range (07700 900xxx): no real person's."""
    from hearth.registry import Registry

    with Registry(settings.registry.target) as reg:
        row = reg.query("SELECT t.household_id, t.mobile FROM tenants t JOIN households h USING"
                        " (household_id) WHERE t.mobile IS NOT NULL AND h.tenancy_end IS NULL"
                        " AND t.mobile NOT IN (SELECT mobile FROM tenants WHERE mobile IS NOT"
                        " NULL GROUP BY mobile HAVING count(*) > 1) ORDER BY t.tenant_id"
                        " LIMIT 1").fetchone()
    return (row[0], row[1]) if row else None


def _print_portal(settings, options: DemoOptions) -> None:
    print(f"Tenants' portal: http://127.0.0.1:{options.portal_port} (a phone-sized window works)")
    tenant = _demo_tenant(settings)
    if tenant is not None:
        print(f"  sign in as a demo tenant of {tenant[0]} with the mobile {tenant[1]};")
        if settings.notifier.sender == "notify":
            print("  the sign-in code is texted through GOV.UK Notify")
        else:
            print(f"  no GOV.UK Notify key: the code is the last \"sign_in_code\" line of"
                  f" {settings.notifier.outbox_path}")


def _print_ready(options: DemoOptions, users: list[tuple[str, str, Path]],
                 more=lambda: None) -> None:
    # Passwords never go to the terminal (it is often logged or shared): only where to read them.
    print("\n" + "=" * 72)
    print(f"Hearth is running. Open http://127.0.0.1:{options.dashboard_port} in a browser.")
    for username, role, path in users:
        print(f"  sign in as {username!r} ({role}); password: cat {path}")
    print("  (those files are readable by root only; Ctrl-C stops the demo, `make stop` the servers)")
    more()
    print("=" * 72 + "\n", flush=True)


def run_demo(settings, options: DemoOptions) -> int:
    from hearth.registry import Registry

    run_step("starting InfluxDB and Mosquitto", "stack", "up")
    marker = Path(settings.paths.var_dir) / "demo" / "backfilled"
    if _registry_is_empty(settings):
        run_step(f"generating {options.households} simulated homes", "registry", "generate",
                 "--households", str(options.households), "--seed", str(options.seed),
                 # Two patches or more, so that an officer sees fewer homes than a manager.
                 "--patch-size", str(max(10, options.households // 2)))
    if not marker.exists():
        run_step(f"writing {options.backfill_days} days of simulated history", "sim",
                 "--backfill", str(options.backfill_days), "--duration-s", "0")
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    run_step("deriving half-hourly usage", "collect", "derive-usage")
    run_step("forecasting every home", "forecast")
    run_step("assessing risks and opening cases", "advise")
    with Registry(settings.registry.target) as reg:
        patches = sorted({h.patch for h in reg.households()})
    users = _ensure_demo_users(settings, patches)

    services = {
        "simulators": hearth_cmd("sim", "--speed", str(options.speed)),
        "collectors": hearth_cmd("collect"),
        "scheduler": hearth_cmd("schedule"),
        "dashboard": hearth_cmd("dashboard", "--port", str(options.dashboard_port)),
        "tenant portal": hearth_cmd("tenant", "serve", "--port", str(options.portal_port)),
    }
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children: dict[str, subprocess.Popen] = {}
    try:
        # The simulators first: collectors polling gateways not up yet would only warn.
        children["simulators"] = spawn(services["simulators"])
        gateways = _gateways(settings)
        log.info("demo: waiting for the %d simulated Modbus gateways ...", len(gateways))
        silent = wait_for_ports(gateways, timeout_s=90, until=lambda: stopping)
        if silent and not stopping:
            log.warning("demo: %d Modbus gateway(s) not listening after 90 s (first: %s:%d);"
                        " the collectors will keep retrying them", len(silent), *min(silent))
        if not stopping:
            children.update({name: spawn(cmd) for name, cmd in services.items()
                             if name not in children})
            _print_ready(options, users, lambda: _print_portal(settings, options))
        while not stopping:
            for name, proc in list(children.items()):
                if proc.poll() is not None:
                    log.error("demo: the %s stopped (exit %s); restarting it", name,
                              proc.returncode)
                    time.sleep(2)
                    children[name] = spawn(services[name])
            time.sleep(1)
    finally:
        stop_all(children)
    return 0
