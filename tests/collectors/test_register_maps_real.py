"""The shipped maps of real meters against Modbus TCP servers laid out from the makers' own
register tables (not the simulator's gateway, not Hearth's codec).

Each server is a stock pymodbus server whose input registers hold, at the addresses the maker's
table gives, values encoded here with `struct` in the word/byte order the maker documents.
Neighbouring registers hold other quantities of the same table (currents, frequency, the
"total kWh" that is import plus export), so a map off by one register or reading the wrong
counter shows as a wrong value, not as a lucky zero.

Sources of the tables (cited in the map files too):
- Eastron SDM120-Modbus Smart Meter Modbus Protocol Implementation, input registers: float32,
  two registers, high word and high byte first (ABCD), function 04; 0x0000 voltage, 0x0006
  current, 0x000C active power, 0x0046 frequency, 0x0048 import kWh, 0x004A export kWh,
  0x0156 total kWh (= import + export).
- Eastron SDM630-Modbus V2 User Manual V1.6B (2021), 1.2.1 input registers: the same format;
  0x0000/0x0002/0x0004 phase 1/2/3 voltage, 0x000C.. phase powers, 0x0034 total system power,
  0x0048 total import kWh, 0x004A total export kWh, 0x0156 total kWh (import + export).
- Carlo Gavazzi EM100 Series and ET100 Series Communication Protocol, EM111 table: INT32,
  least significant word first; 0000h V x10, 0002h A x1000, 0004h W x10, 000Fh Hz x10 (INT16),
  0010h kWh(+) TOT x10, 0020h kWh(-) TOT x10.
"""

from __future__ import annotations

import asyncio
import logging
import struct

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from collectors.modbus import ModbusCollector, ModbusCollectorConfig
from collectors.modbus_devices import ModbusDevice, devices_from_config
from hearth.registermap import DEFAULT_MAPS_DIR, load_register_maps, resolve_register_map
from hearth.settings.rooms import ModbusCollectorSettings, ModbusDeviceSettings
from hearth.stack import free_port

MAPS = load_register_maps(DEFAULT_MAPS_DIR)
N_REGISTERS = 0x0160  # covers every address used below


def float32_abcd(value: float) -> list[int]:
    """Eastron: IEEE 754 single, high word first, high byte first."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [hi, lo]


def int32_lsw_first(raw: int) -> list[int]:
    """Carlo Gavazzi: INT32, least significant word first, each word high byte first."""
    hi, lo = struct.unpack(">HH", struct.pack(">i", raw))
    return [lo, hi]


def image(values: dict[int, list[int]]) -> list[int]:
    regs = [0] * N_REGISTERS
    for address, words in values.items():
        regs[address:address + len(words)] = words
    return regs


# unit id -> (map name, input register image from the maker's table, expected fields)
SDM120 = image({
    0x0000: float32_abcd(241.3),      # Voltage [V]
    0x0006: float32_abcd(4.75),       # Current [A]
    0x000C: float32_abcd(1093.5),     # Active power [W]
    0x0046: float32_abcd(49.98),      # Frequency [Hz]
    0x0048: float32_abcd(5123.25),    # Import active energy [kWh]
    0x004A: float32_abcd(12.5),       # Export active energy [kWh]
    0x0156: float32_abcd(5135.75),    # Total active energy = import + export [kWh]
})
SDM630 = image({
    0x0000: float32_abcd(238.9),      # Phase 1 line to neutral volts [V]
    0x0002: float32_abcd(240.1),      # Phase 2
    0x0004: float32_abcd(239.6),      # Phase 3
    0x000C: float32_abcd(-1450.0),    # Phase 1 power [W]
    0x000E: float32_abcd(-610.0),     # Phase 2 power
    0x0010: float32_abcd(-150.0),     # Phase 3 power
    0x002A: float32_abcd(239.5),      # Average line to neutral volts
    0x0034: float32_abcd(-2210.0),    # Total system power [W]: exporting (solar)
    0x0046: float32_abcd(50.01),      # Frequency [Hz]
    0x0048: float32_abcd(18754.5),    # Total import kWh
    0x004A: float32_abcd(3210.25),    # Total export kWh
    0x0156: float32_abcd(21964.75),   # Total kWh = import + export
})
EM111 = image({
    0x0000: int32_lsw_first(2312),    # V L-N, x10: 231.2 V
    0x0002: int32_lsw_first(3875),    # A, x1000: 3.875 A
    0x0004: int32_lsw_first(-8543),   # W, x10: -854.3 W (exporting)
    0x0006: int32_lsw_first(8960),    # VA, x10
    0x000F: [500],                    # Hz, x10 (INT16)
    0x0010: int32_lsw_first(456789),  # kWh (+) TOT, x10: 45678.9 kWh
    0x0020: int32_lsw_first(70123),   # kWh (-) TOT, x10: 7012.3 kWh
})
METERS = {
    1: ("eastron-sdm120", SDM120, {"voltage_v": 241.3, "power_w": 1093.5,
                                   "energy_kwh": 5123.25, "energy_export_kwh": 12.5}),
    2: ("eastron-sdm630", SDM630, {"voltage_v": 238.9, "power_w": -2210.0,
                                   "energy_kwh": 18754.5, "energy_export_kwh": 3210.25}),
    3: ("carlo-gavazzi-em111", EM111, {"voltage_v": 231.2, "power_w": -854.3,
                                       "energy_kwh": 45678.9, "energy_export_kwh": 7012.3}),
}


class ListSink:
    def __init__(self):
        self.readings, self.dead_letters = [], []

    def put(self, readings, source):
        self.readings.extend(readings)

    def dead_letter(self, source, reason, raw):
        self.dead_letters.append((source, reason, raw))


def meter_server(port: int) -> ModbusTcpServer:
    """A stock pymodbus server, one device per unit id, its input registers (function 04)
    holding the table's image; the other blocks are one placeholder each (pymodbus needs
    every block of a device with separate register types)."""
    def device(unit: int, regs: list[int]) -> SimDevice:
        bits = [SimData(0, values=False, datatype=DataType.BITS)]
        holding = [SimData(0, values=0, datatype=DataType.REGISTERS)]
        return SimDevice(unit, simdata=(bits, bits, holding, [SimData(
            0, values=regs, datatype=DataType.REGISTERS)]))

    devices = [device(unit, regs) for unit, (_, regs, _) in METERS.items()]
    return ModbusTcpServer(devices, address=("127.0.0.1", port))


async def poll_once(port: int, units: dict[int, str]) -> ListSink:
    server = meter_server(port)
    await server.serve_forever(background=True)
    try:
        sink = ListSink()
        devices = [ModbusDevice(f"D{unit}", f"H{unit}", "electricity", "127.0.0.1", port, unit,
                                MAPS[name]) for unit, name in units.items()]
        coll = ModbusCollector("real-maps", ModbusCollectorConfig(
            ModbusCollectorSettings(poll_interval_s=0.5, timeout_s=1.0), devices), sink)
        stop = asyncio.Event()
        task = asyncio.create_task(coll.run(stop))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if len({r.tags["device"] for r in sink.readings}) == len(units):
                break
        stop.set()
        await asyncio.wait_for(task, 10)
        return sink
    finally:
        await server.shutdown()


def test_real_maps_decode_the_makers_tables_through_the_collector():
    sink = asyncio.run(asyncio.wait_for(
        poll_once(free_port(), {u: name for u, (name, _, _) in METERS.items()}), 60))
    assert sink.dead_letters == []
    first = {}
    for r in sink.readings:
        first.setdefault(r.tags["device"], r)
    assert set(first) == {"D1", "D2", "D3"}
    for unit, (name, _, expected) in METERS.items():
        reading = first[f"D{unit}"]
        assert reading.measurement == "meter"
        assert reading.tags == {"household": f"H{unit}", "device": f"D{unit}",
                                "fuel": "electricity", "source": "modbus"}, name
        assert set(reading.fields) == set(expected), name
        for field, value in expected.items():
            assert reading.fields[field] == pytest.approx(value, rel=1e-6, abs=1e-3), \
                (name, field)


def test_the_simulator_gas_map_on_an_eastron_meter_reads_nonsense():
    """Why `sdm-gas` was renamed: its layout read from an SDM630's input registers takes two
    voltages as one float64 "volume" and reports about 1e16 m3, as issue 12 saw."""
    from collectors.modbus_plan import decode_fields, plan_reads, wanted_specs

    gas = MAPS["hearth-sim-gas"]
    requests = plan_reads(wanted_specs(gas, "gas", device_clock=False))
    regs = [SDM630[r.address:r.address + r.count] for r in requests]
    assert decode_fields(requests, regs, fuel="gas")["volume_m3"] > 1e15


def test_sdm_maps_follow_the_table_addresses_and_format():
    for name in ("eastron-sdm120", "eastron-sdm630"):
        rmap = MAPS[name]
        assert rmap.source.startswith("Eastron")
        for spec in rmap.registers:
            assert (spec.type, spec.data_type, spec.word_order, spec.byte_order) == (
                "input", "float32", "big", "big")
        assert rmap.field("energy_kwh").address == 0x0048      # import, never 0x0156
        assert rmap.field("energy_export_kwh").address == 0x004A
    assert MAPS["eastron-sdm630"].field("power_w").address == 0x0034
    assert MAPS["eastron-sdm120"].field("power_w").address == 0x000C
    em111 = MAPS["carlo-gavazzi-em111"]
    assert {s.word_order for s in em111.registers} == {"little"}


def test_old_simulator_map_names_still_resolve_with_a_warning(caplog, monkeypatch):
    import hearth.registermap as registermap

    monkeypatch.setattr(registermap, "_warned", set())
    caplog.set_level(logging.WARNING, logger="hearth.registermap")
    assert resolve_register_map(MAPS, "hearth-em1") is MAPS["hearth-sim-em1"]
    assert resolve_register_map(MAPS, "no-such-map") is None
    devices = devices_from_config([ModbusDeviceSettings(
        device_id="G1", household_id="H1", fuel="gas", gateway_host="10.0.0.1", unit_id=2,
        register_map="sdm-gas")], MAPS)
    assert devices[0].register_map.name == "hearth-sim-gas"
    assert "register map 'sdm-gas' is now called 'hearth-sim-gas'" in caplog.text
    assert "register map 'hearth-em1' is now called 'hearth-sim-em1'" in caplog.text


@pytest.fixture
def meters_port():
    """The makers'-table server, served from a thread's event loop (the CLI runs its own)."""
    import threading

    async def start(port: int) -> ModbusTcpServer:
        server = meter_server(port)  # pymodbus builds its transport inside a running loop
        await server.serve_forever(background=True)
        return server

    loop = asyncio.new_event_loop()
    port = free_port()
    server = loop.run_until_complete(start(port))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield port
    asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_installer_check_reads_an_sdm630_with_its_map(meters_port, capsys):
    """`hearth modbus read` (the check before a meter goes live) on the SDM630's table."""
    import re

    from hearth.cli import build_parser
    from hearth.settings import Settings

    args = build_parser().parse_args(["modbus", "read", f"127.0.0.1:{meters_port}", "--unit",
                                      "2", "--map", "eastron-sdm630"])
    assert args.func(args, Settings()) == 0
    out = capsys.readouterr().out
    for pattern in (r"energy_kwh\s+18754\.5\s+input 72 float32",
                    r"energy_export_kwh\s+3210\.25\s+input 74 float32",
                    r"power_w\s+-2210\s+input 52 float32",
                    r"voltage_v\s+238\.9\s+input 0 float32"):
        assert re.search(pattern, out), (pattern, out)
