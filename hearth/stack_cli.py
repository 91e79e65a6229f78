"""`hearth stack up | down | status`: the local InfluxDB and Mosquitto."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stack", help="start, stop or inspect the local InfluxDB and Mosquitto",
                       description="The local InfluxDB and Mosquitto, with their data, logs and"
                       " generated passwords under var/ (ports from [influxdb] and [mqtt]).")
    p.add_argument("action", choices=["up", "down", "status"],
                   help="up: start both (if not running) and create the database; down: stop"
                   " both; status: running or not, pid, address, log file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings) -> int:
    from hearth.stack import servers_from_settings

    servers = servers_from_settings(settings)
    if args.action == "up":
        for server in servers:
            started = server.start()
            if not started and hasattr(server, "apply"):
                server.apply()  # the registry may have changed while it ran
            print(("started " if started else "already running ") + server.status())
            if not started and getattr(server, "config_stale", lambda: False)():
                print(f"  {server.name} runs with an older configuration (TLS, ACL or"
                      " persistence settings changed): `hearth stack down` then `hearth stack"
                      " up` to apply it")
            if hasattr(server, "hubs"):
                print(f"  {server.hubs} home hub identities, collector {settings.mqtt.username!r}"
                      f" subscribe-only, TLS {'on' if server.tls else 'off'}, running as"
                      f" {server.run_as!r}")
        from hearth.influx import InfluxClient
        from hearth.stack import ensure_influx_users

        with InfluxClient.from_settings(settings, role="admin") as client:
            client.ensure_database()
            if settings.influxdb.flavour == "v1":
                made = ensure_influx_users(client, _user(settings, "writer"),
                                           _user(settings, "reader"))
                for line in made:
                    print(f"  influxdb user {line}")
        print(f"database {settings.influxdb.database!r} ready")
    elif args.action == "down":
        for server in reversed(servers):
            print(f"{server.name}: {'stopped' if server.stop() else 'was not running'}")
    else:
        for server in servers:
            print(server.status())
    return 0


def _user(settings, role: str) -> tuple[str, str]:
    """The writer's or reader's name and password, made once into var/secrets/ if unset."""
    from pathlib import Path

    from hearth.secrets import read_or_create_secret

    s = settings.influxdb
    name = getattr(s, f"{role}_username")
    secret = getattr(s, f"{role}_password")
    if secret is not None:
        return name, secret.get_secret_value()
    return name, read_or_create_secret(Path(settings.paths.var_dir), f"influxdb_{role}_password")
