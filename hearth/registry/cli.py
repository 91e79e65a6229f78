"""`hearth registry init | import | generate | show | copy-to-postgresql`: fill and inspect the
household registry."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("registry", help="the household registry: import, generate, show")
    rsub = p.add_subparsers(dest="registry_command", metavar="ACTION", required=True)

    init = rsub.add_parser("init", help="create the registry or bring its schema up to date "
                           "(every command does this too)")
    init.set_defaults(func=run_init)

    imp = rsub.add_parser("import", help="import households, tenants, devices or tariffs from "
                          "a CSV file (all or nothing; see docs/registry.md)")
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--kind", choices=["households", "tenants", "devices", "tariffs"],
                     help="what the file holds (default: recognised from its header)")
    imp.add_argument("--max-errors", type=int, default=100,
                     help="stop listing problems after this many (default 100)")
    imp.set_defaults(func=run_import)

    from hearth.registry.models import (
        DEFAULT_GATEWAY_BASE_PORT,
        DEFAULT_GATEWAY_HOST,
        DEFAULT_PATCH_SIZE,
        DEFAULT_UNITS_PER_GATEWAY,
    )

    gen = rsub.add_parser("generate", help="generate a realistic simulated portfolio")
    gen.add_argument("--households", type=int, required=True, help="number of homes")
    gen.add_argument("--seed", type=int, default=42, help="same seed, same portfolio (default 42)")
    gen.add_argument("--as-of", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                     help="date tenancies and tariffs are relative to (default today, UTC)")
    gen.add_argument("--gateway-host", default=DEFAULT_GATEWAY_HOST,
                     help=f"host of the Modbus gateways (default {DEFAULT_GATEWAY_HOST})")
    gen.add_argument("--gateway-base-port", type=int, default=DEFAULT_GATEWAY_BASE_PORT,
                     help="port of gateway 0; gateway i listens on base + i "
                          f"(default {DEFAULT_GATEWAY_BASE_PORT})")
    gen.add_argument("--units-per-gateway", type=int, default=DEFAULT_UNITS_PER_GATEWAY,
                     help=f"Modbus unit ids per gateway, 1-247 (default "
                          f"{DEFAULT_UNITS_PER_GATEWAY})")
    gen.add_argument("--patch-size", type=int, default=DEFAULT_PATCH_SIZE,
                     help=f"homes per officer's patch, about: whole estates (default {DEFAULT_PATCH_SIZE})")
    gen.add_argument("--replace", action="store_true",
                     help="empty the registry's households, tenants, devices and tariffs first"
                          " (and the previous homes' cases and texts; the audit log stays)")
    gen.set_defaults(func=run_generate)

    show = rsub.add_parser("show", help="rows per table and homes per patch")
    show.set_defaults(func=run_show)

    cp = rsub.add_parser("copy-to-postgresql", help="copy the SQLite registry ([registry] path)"
                         " into the empty PostgreSQL registry at [registry] url")
    cp.add_argument("--from", dest="source", type=Path, default=None,
                    help="SQLite file to copy (default: [registry] path)")
    cp.set_defaults(func=run_copy)

    from hearth.broker.cli import register_registry

    register_registry(rsub)


def _sync_broker(settings) -> None:
    """The devices changed: regenerate the broker's identities and ACL (docs/security.md)."""
    from hearth.stack import sync_broker

    line = sync_broker(settings)
    if line:
        print(line)


def _iso_date(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-25") from None


def run_generate(args: argparse.Namespace, settings) -> int:
    import logging
    import time

    from hearth.registry.generate import GenerateOptions, generate_portfolio, write_portfolio
    from hearth.registry.store import Registry

    log = logging.getLogger("hearth.registry")
    t0 = time.perf_counter()
    opts = GenerateOptions(households=args.households, seed=args.seed, as_of=args.as_of,
                           gateway_host=args.gateway_host,
                           gateway_base_port=args.gateway_base_port,
                           units_per_gateway=args.units_per_gateway,
                           patch_size=args.patch_size)
    log.info("registry generate: drawing %d households (seed %d)", args.households, args.seed)
    portfolio = generate_portfolio(opts)
    log.info("registry generate: drawn in %.1f s, writing", time.perf_counter() - t0)
    with Registry(settings.registry.target) as reg:
        written = write_portfolio(reg, portfolio, replace=args.replace, actor="cli")
    print(f"generated {written['households']} households, {written['tenants']} tenants, "
          f"{written['devices']} devices ({portfolio.gateways} Modbus gateways on ports "
          f"{args.gateway_base_port}-{args.gateway_base_port + max(portfolio.gateways, 1) - 1}), "
          f"{written['tariffs']} tariffs into {settings.registry.target} "
          f"in {time.perf_counter() - t0:.1f} s")
    _sync_broker(settings)
    return 0


def run_import(args: argparse.Namespace, settings) -> int:
    from pathlib import Path

    from hearth.registry.importer import import_csv
    from hearth.registry.store import Registry

    with Registry(settings.registry.target) as reg:
        result = import_csv(reg, Path(args.file), kind=args.kind, max_errors=args.max_errors,
                            actor="cli")
    print(f"imported {result.rows} {result.kind} from {args.file} into {settings.registry.target}")
    for note in result.notes:
        print(f"  {note}")
    if result.kind == "devices":
        _sync_broker(settings)
    return 0


def run_init(args: argparse.Namespace, settings) -> int:
    from hearth.registry.migrate import discover
    from hearth.registry.store import Registry

    with Registry(settings.registry.target) as reg:
        version = reg.schema_version
    names = ", ".join(m.path.name for m in discover())
    print(f"registry {settings.registry.target} ready at schema version {version} ({names})")
    return 0


def run_copy(args: argparse.Namespace, settings) -> int:
    from hearth.registry.copy import copy_sqlite_to_postgresql
    from hearth.registry.store import RegistryError

    if not settings.registry.url:
        raise RegistryError("set [registry] url (postgresql://user@host:port/db) to the"
                            " PostgreSQL registry to copy into")
    source = args.source or settings.registry.path
    result = copy_sqlite_to_postgresql(source, settings.registry.url)
    print(f"copied {result.total:,} rows from {source} into {settings.registry.url}:")
    for table, n in result.rows.items():
        print(f"  {table:<28} {n:>9,}")
    return 0


def run_show(args: argparse.Namespace, settings) -> int:
    from hearth.registry.store import Registry

    with Registry(settings.registry.target) as reg:
        counts = reg.counts()
        patches = reg.patch_summary()
        version = reg.schema_version
    print(f"registry {settings.registry.target} (schema version {version})")
    for table, count in counts.items():
        print(f"  {table:<12} {count:>9,}")
    if patches:
        print()
        print(f"  {'patch':<16} {'homes':>7} {'prepay':>7} {'vulnerable':>10} {'tenants':>8} "
              f"{'devices':>8}")
        for p in patches:
            print(f"  {p['patch']:<16} {p['households']:>7,} {p['prepayment']:>7,} "
                  f"{p['vulnerable']:>10,} {p['tenants']:>8,} {p['devices']:>8,}")
    return 0
