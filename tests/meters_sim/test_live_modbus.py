"""Live simulation behind real Modbus TCP gateways (pymodbus server and client over loopback):
registers decode to the device views' values; scheduled faults reach the gateway."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pymodbus.client import AsyncModbusTcpClient

from hearth.registermap import DEFAULT_MAPS_DIR, decode, load_register_maps
from hearth.stack import free_port
from meters_sim.cli import _start_gateways
from meters_sim.faults import FaultConfig
from meters_sim.homes import Portfolio, synthetic_households
from meters_sim.live import LiveRunner
from meters_sim.model import Simulation
from meters_sim.views import DeviceViews, synthetic_devices
from tests.meters_sim.conftest import WINTER


async def _read(client, unit, rmap):
    out = {}
    for spec in rmap.registers:
        read = (client.read_holding_registers if spec.type == "holding"
                else client.read_input_registers)
        resp = await read(spec.address, count=spec.count, device_id=unit)
        if resp.isError():
            return None
        out[spec.field] = decode(resp.registers, spec)
    return out


def test_gateways_serve_the_live_values():

    rows = synthetic_households(10, seed=2)
    pf = Portfolio.from_rows(rows, seed=2)
    devices = synthetic_devices(rows, base_port=free_port(), mqtt_meter_share=0.0, seed=2)
    maps = load_register_maps(DEFAULT_MAPS_DIR)

    async def main():
        sim = Simulation(pf, np.datetime64(WINTER), seed=2, spinup_days=0.2)
        views = DeviceViews(devices, pf, seed=2)
        group = await _start_gateways(devices, views, "127.0.0.1")
        try:
            runner = LiveRunner(sim, views, speed=60.0, gateways=group)
            runner.step_once()
            port = next(iter(views.units()))
            client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2)
            await client.connect()
            for unit, device_id, map_name in views.units()[port]:
                got = await _read(client, unit, maps[map_name])
                want = views.values_for_device(device_id)
                for field, value in got.items():
                    if field in want:
                        spec = maps[map_name].field(field)
                        assert value == pytest.approx(want[field], abs=spec.scale + 0.01), field
            client.close()
        finally:
            await group.stop()

    asyncio.run(main())


def test_scheduled_exceptions_reach_the_gateway():

    rows = synthetic_households(6, seed=4)
    pf = Portfolio.from_rows(rows, seed=4)
    devices = synthetic_devices(rows, base_port=free_port(), mqtt_meter_share=0.0, seed=4)
    maps = load_register_maps(DEFAULT_MAPS_DIR)
    faults = FaultConfig(rate_per_device_day=6.0, weights={"exception": 1.0}, exception_mean_h=1.0)

    async def main():
        sim = Simulation(pf, np.datetime64(WINTER), seed=4, spinup_days=0.2)
        views = DeviceViews(devices, pf, seed=4, faults=faults)
        group = await _start_gateways(devices, views, "127.0.0.1")
        try:
            runner = LiveRunner(sim, views, speed=60.0, gateways=group)
            port = next(iter(views.units()))
            client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2)
            await client.connect()
            errors = answers = 0
            for _ in range(24):
                for _ in range(30):          # half an hour of simulated time between polls
                    runner.step_once()
                for unit, _device, map_name in views.units()[port]:
                    got = await _read(client, unit, maps[map_name])
                    expect_fault = views.unit_fault(port, unit).kind == "exception"
                    assert (got is None) == expect_fault
                    errors += got is None
                    answers += got is not None
            client.close()
            assert errors > 0 and answers > 0
        finally:
            await group.stop()

    asyncio.run(main())
