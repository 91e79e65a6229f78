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
            print(("started " if started else "already running ") + server.status())
        from hearth.influx import InfluxClient

        with InfluxClient.from_settings(settings) as client:
            client.ensure_database()
        print(f"database {settings.influxdb.database!r} ready")
    elif args.action == "down":
        for server in reversed(servers):
            print(f"{server.name}: {'stopped' if server.stop() else 'was not running'}")
    else:
        for server in servers:
            print(server.status())
    return 0
