"""`hearth collect`: run the collectors; `derive-usage`; `rebuild-usage-day`; `status` (spool and
dead letters)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "collect", help="run the collectors (MQTT, Modbus) and the spool writer",
        description="Runs the MQTT and Modbus collectors and drains the spool into InfluxDB"
                    " until SIGTERM or Ctrl-C. Logs a summary line every minute and serves"
                    " Prometheus metrics on 127.0.0.1:collectors.metrics_port.")
    from hearth.shards import add_shard_argument, shard_type

    p.add_argument("--shard", type=shard_type, metavar="i/N",
                   help="member i of N collectors: MQTT shares one subscription"
                        " ($share/<collectors.mqtt.share_group>/<topic>, client id"
                        " <client_id>-<i>), Modbus gateways split by a stable hash of"
                        " host:port (docs/sharding.md)")
    p.set_defaults(func=run_handler)
    sub = p.add_subparsers(dest="collect_command", metavar="SUBCOMMAND")
    d = sub.add_parser("derive-usage", help="derive half-hourly usage_30m from the meter registers",
                       description="Derives usage_30m (kWh per half hour per household and fuel)"
                                   " from the cumulative meter registers. Without --since it"
                                   " continues from the last derived half hour (minus a margin);"
                                   " re-running overwrites the same half hours.")
    d.add_argument("--since", help="start (ISO 8601, UTC if no offset), e.g. 2026-01-05T00:00Z")
    d.add_argument("--until", help="end (ISO 8601; default now)")
    d.add_argument("--fuel", choices=["electricity", "gas"], action="append",
                   help="only this fuel (repeatable; default both)")
    add_shard_argument(d, "the households of this shard's patches")
    d.set_defaults(func=derive_usage_handler)
    r = sub.add_parser("rebuild-usage-day",
                       help="make the daily rollup usage_day from the usage_30m already stored",
                       description="Writes usage_day (one point per household, fuel and UTC day"
                                   " with a field per half hour) from usage_30m: once after"
                                   " upgrading a database written before usage_day existed,"
                                   " so that usage_matrix reads stay fast. Idempotent.")
    r.add_argument("--since", help="first day (ISO 8601, UTC if no offset; default: the first"
                                   " usage_30m)")
    r.add_argument("--until", help="last day (ISO 8601; default: the last usage_30m)")
    r.add_argument("--fuel", choices=["electricity", "gas"], action="append",
                   help="only this fuel (repeatable; default both)")
    r.set_defaults(func=rebuild_usage_day_handler)
    lv = sub.add_parser("leave", help="retire MQTT collector member i for good, losing nothing",
                        description="Resumes member i's session, stores every message queued"
                                    " in it, unsubscribes from the shared topic and ends the"
                                    " session, then writes its spool into InfluxDB. Run it"
                                    " once, instead of `hearth collect --shard i/N`, before"
                                    " removing a member (docs/sharding.md).")
    lv.add_argument("--shard", type=shard_type, metavar="i/N", required=True,
                    help="the member to retire (its client id is <client_id>-<i>)")
    lv.set_defaults(func=leave_handler)
    s = sub.add_parser("status", help="spool backlog, disk space, alerts and dead letters",
                       description="The spool's backlog and free disk space, the running"
                                   " collector's alerts (InfluxDB unreachable since, spool disk"
                                   " full, thread restarts; read from its metrics endpoint) and"
                                   " the dead letters by reason.")
    s.set_defaults(func=status_handler)
    from collectors import profiles_cli

    profiles_cli.register(sub)


def run_handler(args: argparse.Namespace, settings) -> int:
    from collectors.service import run_forever

    return run_forever(settings, shard=args.shard)


def _shard_type():
    from hearth.shards import _shard_type as parse

    return parse


def _parse_time(text: str | None, name: str):
    import datetime as dt

    from hearth.errors import HearthError

    if text is None:
        return None
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise HearthError(f"{name} {text!r} is not an ISO 8601 time; write e.g."
                          " 2026-01-05T00:00Z") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def leave_handler(args: argparse.Namespace, settings) -> int:
    from collectors.members import leave

    counts = leave(settings, args.shard)
    print(f"member {args.shard.index} left: {counts['messages']} messages taken from its"
          f" session ({counts['readings']} readings stored, {counts['dead_lettered']}"
          " dead-lettered); the other members now share the topic")
    return 0


def derive_usage_handler(args: argparse.Namespace, settings) -> int:
    from collectors.usage import derive_usage_from_settings

    results = derive_usage_from_settings(settings, since=_parse_time(args.since, "--since"),
                                         until=_parse_time(args.until, "--until"),
                                         fuels=args.fuel, shard=args.shard)
    for r in results:
        print((f"shard {args.shard}: " if args.shard else "") + r.describe())
    # The advisor's half-hourly summaries come from the same pass over new raw readings.
    from collectors.summaries import derive_summaries_from_settings

    for r in derive_summaries_from_settings(settings, since=_parse_time(args.since, "--since"),
                                            until=_parse_time(args.until, "--until"),
                                            shard=args.shard):
        print((f"shard {args.shard}: " if args.shard else "") + r.describe())
    return 0


def rebuild_usage_day_handler(args: argparse.Namespace, settings) -> int:
    from collectors.usage import rebuild_usage_day_from_settings

    results = rebuild_usage_day_from_settings(settings, since=_parse_time(args.since, "--since"),
                                              until=_parse_time(args.until, "--until"),
                                              fuels=args.fuel)
    for r in results:
        print(r.describe())
    return 0


def status_handler(args: argparse.Namespace, settings) -> int:
    from collectors.deadletter import count_by_reason
    from collectors.service import open_spool
    from collectors.status import running_collector_lines

    spool = open_spool(settings, read_only=True)  # safe while `hearth collect` runs
    try:
        print(f"spool {settings.collectors.spool_dir}: {spool.backlog_readings()} readings"
              f" ({spool.backlog_bytes()} bytes,"
              f" {100 * spool.backlog_bytes() / spool.max_bytes:.1f}%"
              f" of {spool.max_bytes}) waiting for InfluxDB; position segment"
              f" {spool.position.segment} offset {spool.position.offset}; disk free"
              f" {spool.disk_free_bytes()} bytes")
    finally:
        spool.close()
        spool.dead_letters.close()
    for line in running_collector_lines(settings.collectors.metrics_port):
        print(line)
    counts = count_by_reason(settings.collectors.dead_letter_dir)
    total = sum(counts.values())
    print(f"dead letters in {settings.collectors.dead_letter_dir}: {total}")
    for (source, code), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:>8}  {source:<8} {code}")
    from collectors.mqtt_router import unmatched_by_prefix

    unmatched = unmatched_by_prefix(settings.collectors.dead_letter_dir)
    if unmatched:
        print("MQTT messages on topics no profile matches, by topic prefix"
              " (misconfigured devices?):")
        for prefix, n in sorted(unmatched.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {n:>8}  {prefix}")
    return 0
