"""`hearth modbus maps` and `hearth modbus read` against a simulated gateway."""

from __future__ import annotations

import argparse
import asyncio
import re
import threading

import pytest

from collectors import modbus_cli
from hearth.cli import build_parser
from hearth.errors import HearthError
from hearth.registermap import DEFAULT_MAPS_DIR, load_register_maps
from hearth.settings import Settings
from hearth.stack import free_port
from meters_sim.modbus_gateway import ModbusGateway

MAPS = load_register_maps(DEFAULT_MAPS_DIR)


@pytest.fixture
def gateway_port():
    """A gateway with one hearth-sim-em1 meter (unit 3), served from a thread's event loop."""
    loop = asyncio.new_event_loop()
    gateway = ModbusGateway({3: MAPS["hearth-sim-em1"]}, lambda unit: {
        "energy_kwh": 2468.13, "power_w": 517.25, "voltage_v": 240.1, "credit_gbp": 3.5,
        "supply_on": 1, "energy_wh_total": 2468130, "device_time_s": 1_767_225_600})
    loop.run_until_complete(gateway.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield gateway.port
    asyncio.run_coroutine_threadsafe(gateway.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def parse(*argv):
    return build_parser().parse_args(["modbus", *argv])


def test_read_prints_every_field(gateway_port, capsys):
    args = parse("read", f"127.0.0.1:{gateway_port}", "--unit", "3", "--map", "hearth-sim-em1")
    assert args.func(args, Settings()) == 0
    out = capsys.readouterr().out
    assert f"unit 3 on 127.0.0.1:{gateway_port}, map hearth-sim-em1:" in out
    for pattern in (r"energy_kwh\s+2468\.13\s+holding 0 uint32 \[C41D 0003\]",  # CDAB
                    r"power_w\s+517\.25\s+holding 2 float32 \[4401 5000\]",
                    r"credit_gbp\s+3\.5\s+holding 5 int32 \[0000 5E01\]",  # BADC
                    r"supply_on\s+1\s+holding 7 int16 \[0001\]",
                    r"energy_wh_total\s+2\.46813e\+06\s+holding 8 uint64",
                    r"device_time_s\s+1\.76723e\+09\s+holding 12 uint32"):
        assert re.search(pattern, out), pattern


def test_read_errors_say_what_to_check(gateway_port):
    settings = Settings.model_validate({"collectors": {"modbus": {"timeout_s": 0.3}}})
    cases = [
        (("--unit", "9", "--map", "hearth-sim-em1"), "answered Modbus exception 0x0B"),
        (("--unit", "3", "--map", "hearth-sim-gas"), r"exception 0x02 .*manuals often count from 1"),
        (("--unit", "3", "--map", "nope"), "register map 'nope' is unknown"),
    ]
    for extra, message in cases:
        args = parse("read", f"127.0.0.1:{gateway_port}", *extra)
        with pytest.raises(HearthError, match=message):
            args.func(args, settings)
    args = parse("read", f"127.0.0.1:{free_port()}", "--unit", "3", "--map", "hearth-sim-em1")
    with pytest.raises(HearthError, match="cannot connect to the gateway"):
        args.func(args, settings)
    with pytest.raises(HearthError, match="give HOST:PORT"):
        modbus_cli.read_handler(argparse.Namespace(gateway="host:x", unit=1,
                                                   map_name="hearth-sim-em1"), settings)


def test_maps_lists_the_planned_reads(capsys):
    args = parse("maps")
    assert args.func(args, Settings()) == 0
    out = capsys.readouterr().out
    assert "hearth-sim-em1: energy_kwh, power_w, voltage_v, credit_gbp, supply_on" in out
    assert "reads: holding 0..13" in out and "reads: input 0..9" in out
    assert "eastron-sdm630: voltage_v, power_w, energy_kwh, energy_export_kwh" in out
    assert "reads: input 0..1; input 52..53; input 72..75" in out
    assert "source: Eastron SDM630-Modbus V2 User Manual V1.6B" in out
    assert "formerly: sdm-gas (deprecated names)" in out
