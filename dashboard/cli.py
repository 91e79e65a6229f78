"""`hearth dashboard`: serve the officers' dashboard (Streamlit) on 127.0.0.1."""

from __future__ import annotations

import argparse
from pathlib import Path

APP_PATH = Path(__file__).with_name("app.py")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("dashboard", help="serve the housing officers' dashboard",
                              description="Serve the dashboard (Streamlit) headless. Officers "
                              "sign in with accounts made by `hearth users add`.")
    p.add_argument("--port", type=int, help="port (default dashboard.port, 8501)")
    p.add_argument("--address", help="bind address (default dashboard.address, 127.0.0.1)")
    p.set_defaults(func=handle_dashboard)


def streamlit_command(settings, port: int, address: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "streamlit", "run", str(APP_PATH),
            "--server.headless", "true", "--server.port", str(port),
            "--server.address", address, "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--client.toolbarMode", "minimal", "--global.developmentMode", "false",
            "--theme.base", "light"]


def handle_dashboard(args, settings) -> int:
    import logging
    import os
    import sys

    from dashboard.runtime import settings_to_env
    from hearth.errors import HearthError
    from hearth.registry import Registry
    from hearth.stack import port_in_use

    port = args.port or settings.dashboard.port
    address = args.address or settings.dashboard.address
    if port_in_use(port, "127.0.0.1"):
        raise HearthError(f"port {port} is already in use: stop the other program or start the "
                          "dashboard with --port")
    # Open the registry once here so that its migrations (users table) are applied up front.
    with Registry(settings.registry.target) as reg:
        users = reg.conn.execute("SELECT count(*) FROM users").fetchone()[0]
    log = logging.getLogger("hearth.dashboard")
    if users == 0:
        log.warning("no dashboard accounts yet: add one with `hearth users add NAME --role "
                    "manager` before signing in")
    env = {**os.environ, **settings_to_env(settings)}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(APP_PATH.parent.parent), *filter(None, [env.get("PYTHONPATH")])])
    log.info("dashboard: open http://%s:%d in a browser and sign in", address, port)
    command = streamlit_command(settings, port, address)
    # Become Streamlit (same pid), so SIGTERM from a service manager or `hearth demo` stops it.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(command[0], command, env)
    return 0  # not reached
