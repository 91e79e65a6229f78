"""`hearth collect profiles | parse | bind | unbind | bindings`: device profiles and bindings.

`parse` is the installer's check before a device goes live: one payload, the readings it
gives as line protocol (as if the device were bound to --household), or the dead-letter
reason the collector would give it.
"""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    """Adds the subcommands to `hearth collect`'s subparsers."""
    p = sub.add_parser("profiles", help="list the MQTT device profiles",
                       description="Lists every device profile (config/profiles and"
                                   " collectors.mqtt.profile_dirs): the topics each subscribes"
                                   " to and the Hearth fields each channel gives.")
    p.add_argument("--verbose-fields", "-f", action="store_true",
                   help="show each field's JSON path and unit")
    p.set_defaults(func=profiles_handler)

    c = sub.add_parser("parse", help="show the readings one payload gives (check a device)",
                       description="Parses one payload as the collector would, as if the"
                                   " device were bound to --household, and prints the"
                                   " readings as InfluxDB line protocol, or the dead-letter"
                                   " reason. Exit status 1 when the payload would be"
                                   " dead-lettered.")
    c.add_argument("--profile", required=True, help="profile name (`hearth collect profiles`)")
    c.add_argument("--topic", required=True, help="the topic the device publishes on")
    c.add_argument("--household", help="household id to read it for (default: as registered;"
                                       " Hearth's format: the topic's household)")
    c.add_argument("--kind", choices=["electricity_meter", "gas_meter", "thermostat",
                                      "appliance"],
                   help="the kind to read it as, where a profile gives several (default: the"
                        " profile's first for the topic)")
    c.add_argument("--room", help="room of a thermostat-kind device (default living_room)")
    c.add_argument("--time-zone", help="zone of a device's local times (default: the"
                                       " profile's)")
    c.add_argument("file", nargs="?", default="-", help="payload file, or - for stdin")
    c.set_defaults(func=parse_handler)

    b = sub.add_parser("bind", help="bind a real MQTT device to a household",
                       description="Records in the registry that the device with this id (as"
                                   " it reports itself in its topics) belongs to a household,"
                                   " read with a profile as one kind of device. Restart"
                                   " `hearth collect` to take it in.")
    b.add_argument("--profile", required=True)
    b.add_argument("--device-ref", required=True,
                   help="the id in the device's topic: Zigbee friendly name, Glow CAD id,"
                        " Tasmota topic, Shelly id")
    b.add_argument("--kind", required=True,
                   choices=["electricity_meter", "gas_meter", "thermostat", "appliance"])
    b.add_argument("--household", required=True, help="household id")
    b.add_argument("--device-id", required=True, help="Hearth's id for it (the `device` tag)")
    b.add_argument("--room", help="room (required for a thermostat)")
    b.add_argument("--time-zone", help="IANA zone of the device's local times")
    b.set_defaults(func=bind_handler)

    u = sub.add_parser("unbind", help="remove a device's bindings")
    u.add_argument("--profile", required=True)
    u.add_argument("--device-ref", required=True)
    u.set_defaults(func=unbind_handler)

    s = sub.add_parser("bindings", help="list the bound devices")
    s.add_argument("--household")
    s.set_defaults(func=bindings_handler)


def _profiles(settings):
    from collectors.profiles import load_profiles

    return load_profiles(settings.collectors.mqtt.profile_dirs)


def profiles_handler(args: argparse.Namespace, settings) -> int:
    enabled = set(settings.collectors.mqtt.profiles)
    for p in _profiles(settings).values():
        on = not enabled or p.name in enabled or p.name == "hearth"
        print(f"{p.name}  [{p.format}{'' if on else ', not subscribed'}]  {p.description}")
        print(f"    source: {p.source}")
        if p.notes:
            print(f"    {p.notes}")
        for c in p.channels:
            if p.format == "hearth":
                print(f"    {c.topic}: the fields of docs/mqtt.md, per kind")
                continue
            time = ("receipt" if c.time.path is None else
                    f"{'.'.join(c.time.path)} ({c.time.format}"
                    f"{', zone ' + c.time.zone if c.time.zone else ''}"
                    f"{', else receipt' if c.time.fallback_receipt else ''})")
            print(f"    {c.topic} -> {c.kind}; time from {time}")
            for f in c.fields:
                what = "counter" if f.counter else ("on/off" if f.kind == "bool" else "value")
                if args.verbose_fields:
                    unit = f" [{f.unit}]" if f.unit else ""
                    print(f"        {f.name:<18} <- {'.'.join(f.path)}{unit} ({what})")
                else:
                    print(f"        {f.name:<18} ({what})")
    return 0


def _read_payload(name: str) -> bytes:
    from hearth.errors import HearthError

    if name == "-":
        return sys.stdin.buffer.read()
    try:
        with open(name, "rb") as f:
            return f.read()
    except OSError as exc:
        raise HearthError(f"cannot read {name}: {exc.strerror}") from None


def parse_handler(args: argparse.Namespace, settings) -> int:
    from collectors.lines import reading_to_line
    from collectors.mqtt_payload import PayloadError, PayloadParser
    from collectors.mqtt_router import MessageRouter, router_for_check
    from hearth.errors import HearthError

    profiles = _profiles(settings)
    profile = profiles.get(args.profile)
    if profile is None:
        raise HearthError(f"no profile {args.profile!r}; profiles: {', '.join(sorted(profiles))}")
    o = settings.collectors.mqtt
    hearth = PayloadParser(o.topic_pattern, o.max_payload_bytes, o.max_future_s,
                           o.gas_calorific_value_mj_per_m3)
    payload = _read_payload(args.file)
    if args.household is not None:
        router = router_for_check(profile, args.topic, args.household, hearth, args.room,
                                  args.time_zone, args.kind)
    else:  # as the registry has it
        from collectors.device_check import DeviceDirectory

        directory = DeviceDirectory.from_registry(settings.registry.target)
        router = MessageRouter({profile.name: profile}, directory, hearth,
                               o.max_series_per_household)
        if profile.format == "hearth" and directory is None:
            router.directory = None
    try:
        _key, reading = router.parse(args.topic, payload)
    except PayloadError as exc:
        print(f"dead letter: {exc}")
        return 1
    print(reading_to_line(reading))
    return 0


def bind_handler(args: argparse.Namespace, settings) -> int:
    from collectors.profiles import CHANNEL_KINDS
    from hearth.errors import HearthError
    from hearth.registry.bindings import bind
    from hearth.registry.store import Registry

    profiles = _profiles(settings)
    p = profiles.get(args.profile)
    if p is None or p.format != "mapped":
        names = ", ".join(n for n, q in sorted(profiles.items()) if q.format == "mapped")
        raise HearthError(f"no device profile {args.profile!r} to bind to; profiles: {names}"
                          " (Hearth-format devices are registry devices: `hearth registry"
                          " import`)")
    if args.kind not in p.kinds:
        raise HearthError(f"profile {p.name!r} gives {', '.join(p.kinds)}, not {args.kind}")
    assert args.kind in CHANNEL_KINDS
    if args.time_zone:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(args.time_zone)
        except Exception:
            raise HearthError(f"--time-zone {args.time_zone!r} is not an IANA zone such as"
                              " Europe/London") from None
    with Registry(settings.registry.target) as reg:
        bind(reg, [(p.name, args.device_ref, args.household, args.device_id, args.kind,
                    args.room, args.time_zone)])
    topics = ", ".join(p.device_topics(args.device_ref))
    print(f"bound {p.name} device {args.device_ref!r} as {args.kind} {args.device_id} of"
          f" household {args.household} (topics {topics}); restart `hearth collect`")
    _sync_broker(settings)
    return 0


def _sync_broker(settings) -> None:
    """The home's hub may now publish the device's topics (ACL; docs/security.md)."""
    from hearth.stack import sync_broker

    line = sync_broker(settings)
    if line:
        print(line)


def unbind_handler(args: argparse.Namespace, settings) -> int:
    from hearth.registry.bindings import unbind
    from hearth.registry.store import Registry

    with Registry(settings.registry.target) as reg:
        n = unbind(reg, args.profile, args.device_ref)
    print(f"removed {n} binding(s) of {args.profile} device {args.device_ref!r}")
    if n:
        _sync_broker(settings)
    return 0 if n else 1


def bindings_handler(args: argparse.Namespace, settings) -> int:
    from hearth.registry.bindings import bindings
    from hearth.registry.store import Registry

    with Registry(settings.registry.target) as reg:
        rows = bindings(reg, household_id=args.household)
    print(f"{'profile':<14} {'device ref':<28} {'kind':<18} {'household':<12} {'device':<16}"
          " room")
    for profile, ref, hid, did, kind, room, zone in rows:
        print(f"{profile:<14} {ref:<28} {kind:<18} {hid:<12} {did:<16} {room or ''}"
              f"{'  (' + zone + ')' if zone else ''}")
    print(f"{len(rows)} bound device(s)")
    return 0
