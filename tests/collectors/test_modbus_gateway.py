"""The simulator's Modbus TCP gateway, spoken to by a real pymodbus client over loopback."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from hearth.registermap import DEFAULT_MAPS_DIR, decode, load_register_maps
from meters_sim.modbus_gateway import GatewayGroup, ModbusGateway, gateways_for_devices

MAPS = load_register_maps(DEFAULT_MAPS_DIR)
EM1, GAS = MAPS["hearth-sim-em1"], MAPS["hearth-sim-gas"]
ELEC = {"energy_kwh": 4321.09, "power_w": 1250.5, "voltage_v": 238.7, "credit_gbp": 12.34,
        "supply_on": 1, "energy_wh_total": 4321090, "device_time_s": 1_767_225_600}
GAS_VALUES = {"volume_m3": 1523.125, "energy_kwh": 17104.5, "flow_m3_per_h": 0.75,
              "device_time_s": 1_767_225_660}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def client_for(gateway, timeout=0.5):
    client = AsyncModbusTcpClient("127.0.0.1", port=gateway.port, timeout=timeout, retries=0,
                                  reconnect_delay=0)
    assert await client.connect()
    return client


def values_of(unit):
    return ELEC if unit < 10 else GAS_VALUES


def test_serves_each_unit_with_its_map():
    async def main():
        gateway = ModbusGateway({1: EM1, 2: EM1, 10: GAS}, values_of, record=True)
        async with gateway:
            client = await client_for(gateway)
            rr = await client.read_holding_registers(0, count=14, device_id=2)
            assert not rr.isError()
            for spec in EM1.registers:
                got = decode(rr.registers[spec.address:spec.address + spec.count], spec)
                assert got == pytest.approx(ELEC[spec.field], rel=1e-6)
            rr = await client.read_input_registers(0, count=10, device_id=10)
            for spec in GAS.registers:
                got = decode(rr.registers[spec.address:spec.address + spec.count], spec)
                assert got == pytest.approx(GAS_VALUES[spec.field], rel=1e-6)
            # a read inside the span returns just that part
            rr = await client.read_holding_registers(4, count=1, device_id=1)
            assert rr.registers == [2387]
            client.close()
        assert [(r.unit_id, r.register_type) for r in gateway.served] == [
            (2, "holding"), (10, "input"), (1, "holding")]
        assert gateway.served[1].values == GAS_VALUES
    run(main())


def test_values_are_read_when_the_meter_answers():
    calls = []

    def live(unit):
        calls.append(unit)
        return {**ELEC, "energy_kwh": 100.0 + len(calls)}

    async def main():
        async with ModbusGateway({1: EM1}, live) as gateway:
            client = await client_for(gateway)
            spec = EM1.field("energy_kwh")
            seen = []
            for _ in range(3):
                rr = await client.read_holding_registers(0, count=2, device_id=1)
                seen.append(decode(rr.registers, spec))
            client.close()
        assert seen == [101.0, 102.0, 103.0]
    run(main())


def test_protocol_errors_answer_like_a_gateway():
    async def main():
        async with ModbusGateway({1: EM1, 10: GAS}, values_of) as gateway:
            client = await client_for(gateway)
            # unknown unit: 0x0B gateway target device failed to respond
            rr = await client.read_holding_registers(0, count=2, device_id=42)
            assert rr.isError() and rr.exception_code == 0x0B
            # outside the map's span, or the wrong register type: 0x02 illegal data address
            rr = await client.read_holding_registers(12, count=4, device_id=1)
            assert rr.isError() and rr.exception_code == 0x02
            rr = await client.read_input_registers(0, count=2, device_id=1)
            assert rr.isError() and rr.exception_code == 0x02
            # writes: 0x01 illegal function (meters are read only)
            rr = await client.write_register(0, 5, device_id=1)
            assert rr.isError() and rr.exception_code == 0x01
            # and the connection still serves
            rr = await client.read_input_registers(0, count=8, device_id=10)
            assert not rr.isError()
            client.close()
    run(main())


def test_unknown_unit_can_be_silent():
    async def main():
        async with ModbusGateway({1: EM1}, values_of, unknown_unit="silent") as gateway:
            client = await client_for(gateway, timeout=0.2)
            with pytest.raises(ModbusIOException):
                await client.read_holding_registers(0, count=2, device_id=42)
            assert not (await client.read_holding_registers(0, count=2, device_id=1)).isError()
            client.close()
            assert gateway.stats.dropped == 1
    run(main())


def test_faults_set_at_run_time():
    async def main():
        async with ModbusGateway({1: EM1, 2: EM1, 3: EM1}, values_of) as gateway:
            client = await client_for(gateway, timeout=0.3)
            gateway.set_fault(1, "silent")
            gateway.set_fault(2, "exception", exception_code=0x04)
            gateway.set_fault(3, "slow", delay_s=0.15)
            with pytest.raises(ModbusIOException):
                await client.read_holding_registers(0, count=2, device_id=1)
            rr = await client.read_holding_registers(0, count=2, device_id=2)
            assert rr.isError() and rr.exception_code == 0x04
            began = time.perf_counter()
            rr = await client.read_holding_registers(0, count=2, device_id=3)
            assert not rr.isError()
            assert 0.14 <= time.perf_counter() - began < 0.3
            gateway.clear_fault(1)
            assert not (await client.read_holding_registers(0, count=2, device_id=1)).isError()
            client.close()
        with pytest.raises(ValueError, match="fault mode"):
            gateway.set_fault(1, "broken")
    run(main())


def test_faults_from_the_simulation_schedule():
    class SimFault:  # shaped like the simulator's schedule entries
        def __init__(self, kind, delay_s=0.0):
            self.kind, self.delay_s = kind, delay_s

    schedule = {1: SimFault("silent"), 2: SimFault("exception"), 3: SimFault("slow", 0.15),
                4: SimFault("none")}

    async def main():
        gateway = ModbusGateway({u: EM1 for u in range(1, 5)}, values_of,
                                fault_of=lambda unit: schedule.get(unit))
        async with gateway:
            client = await client_for(gateway, timeout=0.3)
            with pytest.raises(ModbusIOException):
                await client.read_holding_registers(0, count=2, device_id=1)
            rr = await client.read_holding_registers(0, count=2, device_id=2)
            assert rr.isError() and rr.exception_code == 0x0B
            began = time.perf_counter()
            assert not (await client.read_holding_registers(0, count=2, device_id=3)).isError()
            assert time.perf_counter() - began >= 0.14
            assert not (await client.read_holding_registers(0, count=2, device_id=4)).isError()
            schedule[1] = SimFault("none")  # consulted at each request
            assert not (await client.read_holding_registers(0, count=2, device_id=1)).isError()
            gateway.set_fault(4, "exception", exception_code=0x06)  # an explicit fault wins
            rr = await client.read_holding_registers(0, count=2, device_id=4)
            assert rr.isError() and rr.exception_code == 0x06
            client.close()
    run(main())


def test_meter_that_is_off_does_not_answer():
    async def main():
        async with ModbusGateway({1: EM1}, lambda unit: None) as gateway:
            client = await client_for(gateway, timeout=0.2)
            with pytest.raises(ModbusIOException):
                await client.read_holding_registers(0, count=2, device_id=1)
            client.close()
    run(main())


def test_pipelined_requests_in_one_segment_are_all_answered():
    """Two requests in one TCP write (pymodbus's own handler would lose the first)."""
    async def main():
        async with ModbusGateway({1: EM1, 2: EM1}, values_of) as gateway:
            reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
            frames = b"".join(struct.pack(">HHHBBHH", tid, 0, 6, unit, 3, 4, 1)
                              for tid, unit in ((7, 1), (8, 2)))
            writer.write(frames)
            answers = [await reader.readexactly(11) for _ in range(2)]
            writer.close()
            assert [struct.unpack(">HHHBBBH", a) for a in answers] == [
                (7, 0, 5, 1, 3, 2, 2387), (8, 0, 5, 2, 3, 2, 2387)]
    run(main())


def test_garbage_closes_only_that_connection():
    async def main():
        async with ModbusGateway({1: EM1}, values_of) as gateway:
            good = await client_for(gateway)
            reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
            writer.write(b"GET / HTTP/1.1\r\n\r\n")
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the gateway
            writer.close()
            assert not (await good.read_holding_registers(0, count=2, device_id=1)).isError()
            good.close()
    run(main())


def test_stop_drops_connections_and_restart_serves_on_the_same_port():
    async def main():
        gateway = ModbusGateway({1: EM1}, values_of)
        await gateway.start()
        port = gateway.port
        client = await client_for(gateway)
        await gateway.stop()
        await asyncio.sleep(0.05)
        assert not client.connected
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
        await gateway.start()
        assert gateway.port == port
        client = await client_for(gateway)
        assert not (await client.read_holding_registers(0, count=2, device_id=1)).isError()
        client.close()
        await gateway.stop()
    run(main())


def test_many_gateways_in_one_loop():
    async def main():
        group = GatewayGroup(ModbusGateway({u: EM1 for u in range(1, 51)}, lambda u: ELEC)
                             for _ in range(20))
        async with group:
            assert len({g.port for g in group}) == 20
            clients = [await client_for(g) for g in group]
            results = await asyncio.gather(*(c.read_holding_registers(0, count=8, device_id=50)
                                             for c in clients))
            assert all(r.registers[4] == 2387 for r in results)
            for c in clients:
                c.close()
        assert not any(g.running for g in group)
    run(main())


def test_gateways_for_registry_devices():
    rows = [
        {"device_id": "E1", "protocol": "modbus", "gateway_host": "127.0.0.1",
         "gateway_port": 0, "unit_id": 1, "register_map": "hearth-sim-em1"},
        {"device_id": "G1", "protocol": "modbus", "gateway_host": "127.0.0.1",
         "gateway_port": 0, "unit_id": 2, "register_map": "hearth-sim-gas"},
        {"device_id": "T1", "protocol": "mqtt", "gateway_host": None, "gateway_port": None,
         "unit_id": None, "register_map": None},
    ]
    asked = []

    def by_device(device_id):
        asked.append(device_id)
        return ELEC if device_id == "E1" else GAS_VALUES

    async def main():
        group = gateways_for_devices(rows, by_device, MAPS)
        assert len(group) == 1 and sorted(group.gateways[0].units) == [1, 2]
        async with group:
            client = await client_for(group.gateways[0])
            await client.read_input_registers(0, count=2, device_id=2)
            await client.read_holding_registers(0, count=2, device_id=1)
            client.close()
        assert asked == ["G1", "E1"]
    run(main())

    with pytest.raises(ValueError, match="register map 'nope' is unknown"):
        gateways_for_devices([{**rows[0], "register_map": "nope"}], by_device, MAPS)
    with pytest.raises(ValueError, match=r"unit id 1 .* already used by E1"):
        gateways_for_devices([rows[0], {**rows[0], "device_id": "E2"}], by_device, MAPS)
