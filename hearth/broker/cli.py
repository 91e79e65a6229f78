"""`hearth registry device-credentials DEVICE [--rotate] [--forget]`: what a device's installer
types into the home's hub (broker address, username, password, CA); never logged."""

from __future__ import annotations

import argparse


def register_registry(rsub: argparse._SubParsersAction) -> None:
    p = rsub.add_parser("device-credentials",
                        help="print (or rotate) the MQTT credentials of a device's home hub",
                        description="The broker credentials a device's home hub connects with"
                        " (one identity per home; it may publish only to the home's devices'"
                        " topics). Printed to the terminal only, never logged.")
    p.add_argument("device", metavar="DEVICE", help="device_id of an MQTT device")
    p.add_argument("--rotate", action="store_true",
                   help="issue a new password; the old one stops working when the broker"
                        " takes the new files (restarted here when `hearth stack` manages it)")
    p.add_argument("--forget", action="store_true",
                   help="after printing, drop the stored plaintext (keep only the hash); the"
                        " simulator then cannot connect as this hub until --rotate")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings) -> int:
    from hearth.broker.credentials import device_bindings, device_credential
    from hearth.broker.topics import binding_patterns, publish_patterns
    from hearth.registry.store import Registry
    from hearth.stack import sync_broker

    with Registry(settings.registry.target) as reg:
        cred = device_credential(reg, args.device, rotate=args.rotate, forget=args.forget)
        devices = reg.devices(protocol="mqtt", household_id=cred.household_id)
        bound = [b for b in device_bindings(reg) if b[0] == cred.household_id]
    m = settings.mqtt
    print(f"broker     {m.host}:{m.port}" + (" (TLS)" if m.tls else ""))
    if m.tls:
        from hearth.broker.tls import ca_path

        print(f"ca file    {ca_path(settings)}")
    print(f"username   {cred.username}")
    print("password   " + (cred.password if cred.password is not None else
                           "(not stored: issue a new one with --rotate)"))
    print("may publish to:")
    for d in devices:
        for pattern in publish_patterns(d):
            print(f"  {pattern}   ({d.device_id}, {d.kind})")
    for _, device_id, profile, ref in bound:
        for pattern in binding_patterns(profile, ref):
            print(f"  {pattern}   ({device_id}, {profile} {ref})")
    if args.rotate:
        line = sync_broker(settings)
        if line:
            print(line)
    return 0
