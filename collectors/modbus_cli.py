"""`hearth modbus maps` and `hearth modbus read`: check a register map against a real meter
before pointing the collector at it (see docs/register_maps.md)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("modbus", help="Modbus meters: check register maps, read one "
                                   "meter")
    sub = parser.add_subparsers(dest="modbus_command", metavar="ACTION", required=True)
    maps = sub.add_parser("maps", help="validate the register maps and show the reads planned")
    maps.set_defaults(func=maps_handler)
    read = sub.add_parser("read", help="read one meter once and print every field of its map")
    read.add_argument("gateway", help="the Modbus TCP gateway as HOST:PORT (port 502 if left out)")
    read.add_argument("--unit", type=int, required=True, help="unit id of the meter (1..247)")
    read.add_argument("--map", required=True, dest="map_name", help="register map name")
    read.set_defaults(func=read_handler)


def maps_handler(args: argparse.Namespace, settings) -> int:
    from collectors.modbus_devices import load_maps, maps_dir_of
    from collectors.modbus_plan import plan_reads

    section = settings.collectors.modbus
    maps = load_maps(section.maps_dir)  # raises a ConfigError naming the file and the field
    print(f"{len(maps)} register maps in {maps_dir_of(section.maps_dir)}")
    for name, rmap in sorted(maps.items()):
        reads = plan_reads(rmap.registers, max_gap=section.max_gap_registers,
                           max_count=section.max_registers_per_request)
        fields = ", ".join(spec.field for spec in rmap.registers)
        planned = "; ".join(f"{r.register_type} {r.address}..{r.address + r.count - 1}"
                            for r in reads)
        print(f"  {name}: {fields}\n    reads: {planned}")
        if rmap.source:
            print(f"    source: {rmap.source}")
        if rmap.replaces:
            print(f"    formerly: {', '.join(rmap.replaces)} (deprecated names)")
    return 0


def _gateway(text: str) -> tuple[str, int]:
    from hearth.errors import HearthError

    host, _, port = text.rpartition(":") if ":" in text else (text, "", "502")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise HearthError(f"gateway {text!r}: give HOST:PORT, e.g. 10.20.0.5:502")
    return host, int(port)


def read_handler(args: argparse.Namespace, settings) -> int:
    import asyncio

    from collectors.modbus_devices import load_maps
    from collectors.modbus_plan import plan_reads
    from hearth.errors import HearthError
    from hearth.registermap import decode, resolve_register_map

    section = settings.collectors.modbus
    maps = load_maps(section.maps_dir)
    rmap = resolve_register_map(maps, args.map_name)
    if rmap is None:
        raise HearthError(f"register map {args.map_name!r} is unknown (known: "
                          f"{', '.join(sorted(maps))}); see `hearth modbus maps`")
    if not 1 <= args.unit <= 247:
        raise HearthError(f"--unit {args.unit}: Modbus unit ids run 1 to 247")
    host, port = _gateway(args.gateway)
    reads = plan_reads(rmap.registers, max_gap=section.max_gap_registers,
                       max_count=section.max_registers_per_request)
    registers = asyncio.run(_read(host, port, args.unit, reads, section.timeout_s))
    print(f"unit {args.unit} on {host}:{port}, map {rmap.name}:")
    for request, regs in zip(reads, registers, strict=True):
        for spec in request.specs:
            first = spec.address - request.address
            raw = regs[first:first + spec.count]
            value = decode(raw, spec)
            words = " ".join(f"{w:04X}" for w in raw)
            print(f"  {spec.field:<20} {value:>16.6g}   {spec.type} {spec.address} "
                  f"{spec.data_type} [{words}]")
    return 0


async def _read(host: str, port: int, unit: int, reads, timeout_s: float) -> list[list[int]]:
    from pymodbus.client import AsyncModbusTcpClient
    from pymodbus.exceptions import ModbusException

    from hearth.errors import HearthError

    client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0,
                                  reconnect_delay=0)
    if not await client.connect():
        raise HearthError(f"cannot connect to the gateway {host}:{port} within {timeout_s:g} s; "
                          f"check the address and that the gateway is on")
    out = []
    try:
        for r in reads:
            read = (client.read_holding_registers if r.register_type == "holding"
                    else client.read_input_registers)
            try:
                response = await read(r.address, count=r.count, device_id=unit)
            except ModbusException:
                raise HearthError(f"unit {unit} did not answer a read of {r.register_type} "
                                  f"registers {r.address}..{r.address + r.count - 1} within "
                                  f"{timeout_s:g} s; check the unit id") from None
            if response.isError():
                code = response.exception_code
                hint = {2: "the map's addresses may be off (manuals often count from 1)",
                        1: "the meter may keep these values in the other register type",
                        11: "the gateway has no answer from that unit id"}.get(code, "")
                raise HearthError(f"unit {unit} answered Modbus exception 0x{code:02X} to a read "
                                  f"of {r.register_type} registers {r.address}.."
                                  f"{r.address + r.count - 1}" + (f"; {hint}" if hint else ""))
            out.append(list(response.registers))
    finally:
        client.close()
    return out
