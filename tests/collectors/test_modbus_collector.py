"""The Modbus collector against real simulated gateways over TCP on loopback: values, faulty
meters (silent, exception, slow) not delaying the others, gateway restarts, dead letters."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict

import pytest

from collectors.base import COLLECTOR_TYPES, create_collector
from collectors.modbus import ModbusCollector, ModbusCollectorConfig
from collectors.modbus_devices import ModbusDevice
from hearth.registermap import DEFAULT_MAPS_DIR, RegisterMap, RegisterSpec, load_register_maps
from hearth.settings.rooms import ModbusCollectorSettings
from hearth.stack import free_port
from meters_sim.modbus_gateway import GatewayGroup, ModbusGateway

MAPS = load_register_maps(DEFAULT_MAPS_DIR)
EM1, GAS = MAPS["hearth-sim-em1"], MAPS["hearth-sim-gas"]


class ListSink:
    """In-memory sink: what the collector handed over, in order."""

    def __init__(self):
        self.readings = []
        self.dead_letters = []

    def put(self, readings, source):
        assert source == "modbus"
        self.readings.extend(readings)

    def dead_letter(self, source, reason, raw):
        self.dead_letters.append((source, reason, raw))

    def by_device(self):
        out = defaultdict(list)
        for r in self.readings:
            out[r.tags["device"]].append(r)
        return out


class Meters:
    """Live meter values: every answer advances the meter, so readings can be matched."""

    def __init__(self):
        self.polls = defaultdict(int)

    def values(self, key):
        n = self.polls[key] = self.polls[key] + 1
        _gateway, unit = key
        if unit >= 40:  # gas meters
            return {"volume_m3": 1000.0 + unit + n / 8, "energy_kwh": 11000.0 + unit + n,
                    "flow_m3_per_h": 0.5}
        return {"energy_kwh": 100.0 * unit + n / 100, "power_w": 50.0 * unit + n,
                "voltage_v": 230.0 + unit / 10, "credit_gbp": unit - 20.0,
                "supply_on": int(unit % 7 != 0)}

    def reader(self, gateway_no):
        return lambda unit: self.values((gateway_no, unit))


def device(gateway, unit, no=0, rmap=None, **kw):
    rmap = rmap or (GAS if unit >= 40 else EM1)
    fuel = "gas" if "volume_m3" in {s.field for s in rmap.registers} else "electricity"
    return ModbusDevice(device_id=f"G{no}U{unit}", household_id=f"H{no:02d}{unit:03d}",
                        fuel=fuel, gateway_host="127.0.0.1", gateway_port=gateway.port,
                        unit_id=unit, register_map=rmap, **kw)


def collector(devices, sink=None, **settings):
    s = ModbusCollectorSettings(**{"poll_interval_s": 0.5, "timeout_s": 0.3, **settings})
    return ModbusCollector("modbus-test", ModbusCollectorConfig(s, devices), sink or ListSink())


async def run_for(coll, seconds):
    stop = asyncio.Event()
    task = asyncio.create_task(coll.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 10)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


def test_registered_by_type():
    assert COLLECTOR_TYPES["modbus"] is ModbusCollector


def test_many_units_all_polled_with_the_values_served():
    meters = Meters()

    async def main():
        gateways = [ModbusGateway({u: GAS if u >= 40 else EM1 for u in range(1, 51)},
                                  meters.reader(g), record=True) for g in range(2)]
        async with GatewayGroup(gateways):
            devices = [device(gw, u, g) for g, gw in enumerate(gateways) for u in range(1, 51)]
            sink = ListSink()
            coll = collector(devices, sink, poll_interval_s=0.4)
            await run_for(coll, 1.9)
        return gateways, sink, coll

    gateways, sink, coll = run(main())
    got = sink.by_device()
    assert len(got) == 100
    assert coll.stats.errors == 0 and coll.stats.dead_lettered == 0
    for g, gateway in enumerate(gateways):
        served = defaultdict(list)
        for record in gateway.served:
            served[record.unit_id].append(record)
        for unit in range(1, 51):
            readings = got[f"G{g}U{unit}"]
            # every answer the gateway gave became exactly one reading, in order (but for one
            # answer in flight when the collector was stopped)
            assert len(readings) >= 4
            assert len(served[unit]) - len(readings) in (0, 1)
            for reading, record in zip(readings, served[unit], strict=False):
                sent = record.values
                assert reading.measurement == "meter"
                assert reading.tags == {"household": f"H{g:02d}{unit:03d}",
                                        "device": f"G{g}U{unit}",
                                        "fuel": "gas" if unit >= 40 else "electricity",
                                        "source": "modbus"}
                f = reading.fields
                if unit >= 40:
                    assert set(f) == {"volume_m3", "energy_kwh"}
                    assert f["volume_m3"] == sent["volume_m3"]  # float64: exact
                    assert f["energy_kwh"] == pytest.approx(sent["energy_kwh"], rel=1e-7)
                else:
                    assert set(f) == {"energy_kwh", "power_w", "voltage_v", "credit_gbp",
                                      "supply_on"}
                    assert f["energy_kwh"] == pytest.approx(sent["energy_kwh"], abs=0.005)
                    assert f["power_w"] == pytest.approx(sent["power_w"], rel=1e-7)
                    assert f["voltage_v"] == pytest.approx(sent["voltage_v"], abs=0.05)
                    assert f["credit_gbp"] == pytest.approx(sent["credit_gbp"], abs=0.005)
                    assert f["supply_on"] is bool(sent["supply_on"])
                # stamped when the meter answered
                assert abs(reading.time_ns - record.time_ns) < 250_000_000
    assert coll.stats.readings_in == len(sink.readings)


def test_faulty_meters_do_not_delay_the_others():
    """A silent meter, one answering exception 0x0B, one slow within the timeout and one slower
    than the timeout, on the same gateway as healthy meters: the healthy ones keep their
    interval; the faulty ones are counted, backed off and probed again."""
    meters = Meters()
    interval = 0.5

    async def main():
        faulty = ModbusGateway({u: EM1 for u in range(1, 11)}, meters.reader(0))
        healthy = ModbusGateway({u: GAS for u in range(40, 45)}, meters.reader(1))
        async with GatewayGroup([faulty, healthy]):
            faulty.set_fault(2, "silent")
            faulty.set_fault(3, "exception", exception_code=0x0B)
            faulty.set_fault(4, "slow", delay_s=0.2)   # answers within the 0.3 s timeout
            faulty.set_fault(5, "slow", delay_s=1.0)   # answers after the timeout
            devices = ([device(faulty, u, 0) for u in range(1, 11)]
                       + [device(healthy, u, 1) for u in range(40, 45)])
            sink = ListSink()
            coll = collector(devices, sink, poll_interval_s=interval, failures_before_backoff=2,
                             backoff_initial_s=1.5)
            await run_for(coll, 4.2)
        return faulty, sink, coll

    faulty, sink, coll = run(main())
    got = sink.by_device()
    healthy_ids = [f"G0U{u}" for u in (1, *range(6, 11))] + [f"G1U{u}" for u in range(40, 45)]
    for device_id in healthy_ids:
        times_s = [r.time_ns / 1e9 for r in got[device_id]]
        # the first cycle meets the faulty meters unwarned; from the second on, the healthy ones
        # are polled first and keep to the interval
        steady = times_s[1:]
        assert len(steady) >= 6, (device_id, len(times_s))
        gaps = [b - a for a, b in itertools.pairwise(steady)]
        # Waiting behind a faulty meter would cost at least its 0.3 s timeout; scheduling jitter
        # on a loaded machine costs less, and a late poll is followed by an early one.
        assert all(g < interval + 0.25 for g in gaps), (device_id, gaps)
        assert abs((steady[-1] - steady[0]) / len(gaps) - interval) < 0.05, (device_id, gaps)
    # slow but within the timeout: still read, after the healthy ones, deferred when its
    # 0.3 s timeout would run into the next tick
    assert len(got["G0U4"]) >= 3
    assert "G0U2" not in got and "G0U3" not in got and "G0U5" not in got
    extra = coll.stats.extra
    assert extra["exception_0x0B"] >= 2 and extra["timeouts"] >= 4
    assert extra["devices_in_backoff"] >= 2
    assert coll.stats.devices_silent == 3
    # backed off after 2 failures, probed again once the 1.5 s backoff ran out: 3 tries in
    # about 4 s instead of 8
    assert 3 <= faulty.stats.dropped <= 4


def test_gateway_restart_reconnects_and_resumes():
    meters = Meters()
    port = free_port()

    async def main():
        gateway = ModbusGateway({u: EM1 for u in range(1, 6)}, meters.reader(0), port=port)
        await gateway.start()
        sink = ListSink()
        # reconnect attempts: next tick, then backing off 0.2 s doubling up to 0.4 s
        coll = collector([device(gateway, u) for u in range(1, 6)], sink, poll_interval_s=0.3,
                         backoff_initial_s=0.2, backoff_max_s=0.4)

        async def outage():
            await asyncio.sleep(1.0)
            await gateway.stop()
            stopped.append(time.time())
            await asyncio.sleep(1.0)
            await gateway.start()
            started.append(time.time())

        stopped, started = [], []
        stop = asyncio.Event()
        task = asyncio.create_task(coll.run(stop))
        await outage()
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.wait_for(task, 10)
        await gateway.stop()
        return sink, coll, stopped[0], started[0]

    sink, coll, stopped_s, started_s = run(main())
    for device_id, readings in sink.by_device().items():
        times_s = [r.time_ns / 1e9 for r in readings]
        assert any(t < stopped_s for t in times_s), device_id
        after = [t for t in times_s if t > started_s]
        assert len(after) >= 3, device_id
        assert after[0] - started_s < 1.0, device_id  # back within a couple of ticks
    assert coll.counters.reconnects >= 1
    assert coll.counters.connect_failures >= 1
    assert coll.stats.devices_silent == 0


def test_unknown_units_and_decoding_errors():
    async def main():
        def values(unit):
            if unit == 2:
                return {"energy_kwh": 1.0, "power_w": float("nan"), "voltage_v": 230.0,
                        "credit_gbp": 1.0, "supply_on": 1}
            return {"energy_kwh": 1.0, "power_w": 2.0, "voltage_v": 230.0, "credit_gbp": 1.0,
                    "supply_on": 1}

        gateway = ModbusGateway({1: EM1, 2: EM1}, values)
        async with gateway:
            devices = [device(gateway, u) for u in (1, 2, 9)]  # 9 is not behind the gateway
            sink = ListSink()
            coll = collector(devices, sink)
            await run_for(coll, 1.2)
        return sink, coll

    sink, coll = run(main())
    assert {r.tags["device"] for r in sink.readings} == {"G0U1"}
    assert coll.stats.extra["exception_0x0B"] >= 2  # unit 9: gateway target failed to respond
    assert sink.dead_letters and coll.stats.dead_lettered == len(sink.dead_letters)
    source, reason, raw = sink.dead_letters[0]
    assert source == "modbus" and reason == "device G0U2: power_w is nan (not a finite number)"
    letter = json.loads(raw)
    assert letter["device"] == "G0U2" and letter["unit_id"] == 2
    assert letter["reads"][0]["type"] == "holding" and len(letter["reads"][0]["registers"]) == 14
    assert letter["reads"][0]["registers"][2:4] == [0x7FC0, 0x0000]  # float32 NaN, ABCD


def test_device_clock_and_credit_meters():
    clocked = RegisterMap(name="clocked", registers=[
        RegisterSpec(field="energy_kwh", address=0, data_type="float32"),
        RegisterSpec(field="credit_gbp", address=2, data_type="float32"),
        RegisterSpec(field="device_time_s", address=4, data_type="uint32")])
    device_time_s = 1_700_000_000

    async def main():
        gateway = ModbusGateway({1: clocked, 2: clocked}, lambda unit: {
            "energy_kwh": 5.0, "credit_gbp": 3.0,
            "device_time_s": device_time_s if unit == 1 else 0})
        async with gateway:
            devices = [device(gateway, 1, rmap=clocked),
                       device(gateway, 2, rmap=clocked, prepayment=False)]
            sink = ListSink()
            await run_for(collector(devices, sink), 0.7)
        return sink

    got = run(main()).by_device()
    assert {r.time_ns for r in got["G0U1"]} == {device_time_s * 10**9}
    assert got["G0U1"][0].fields == {"energy_kwh": 5.0, "credit_gbp": 3.0}
    # clock not set (0): stamped on arrival; a credit meter's balance is not read
    assert abs(got["G0U2"][0].time_ns / 1e9 - time.time()) < 5
    assert got["G0U2"][0].fields == {"energy_kwh": 5.0}


def test_sink_failure_keeps_readings():
    class FlakySink(ListSink):
        fail = True

        def put(self, readings, source):
            if self.fail:
                self.fail = False
                raise OSError("spool full")
            super().put(readings, source)

    async def main():
        gateway = ModbusGateway({1: EM1}, lambda unit: {"energy_kwh": 1.0})
        async with gateway:
            sink = FlakySink()
            coll = collector([device(gateway, 1)], sink, flush_interval_s=0.2)
            await run_for(coll, 1.3)
        return sink, coll

    sink, coll = run(main())
    assert coll.counters.sink_failures == 1
    assert len(sink.readings) == coll.stats.readings_in >= 2


def test_created_from_settings_with_a_device_list():
    port = free_port()
    s = ModbusCollectorSettings(devices=[{
        "device_id": "E1", "household_id": "H000001", "fuel": "electricity",
        "gateway_host": "127.0.0.1", "gateway_port": port, "unit_id": 3,
        "register_map": "hearth-sim-em1"}])
    coll = create_collector("modbus", "m", s, ListSink())
    assert [(g.host, g.port, [d.device.unit_id for d in g.devices]) for g in coll.gateways] == [
        ("127.0.0.1", port, [3])]
    bad = s.model_copy(update={"devices": [s.devices[0].model_copy(
        update={"register_map": "nope"})]})
    with pytest.raises(Exception, match="register map 'nope' is unknown"):
        create_collector("modbus", "m", bad, ListSink())


def test_stopping_or_cancelling_hands_over_every_reading():
    class SlowSink(ListSink):
        def put(self, readings, source):
            time.sleep(0.05)  # a durable put takes a while (fsync)
            super().put(readings, source)

    async def main(cancel):
        gateway = ModbusGateway({u: EM1 for u in range(1, 31)}, lambda unit: {"energy_kwh": 1.0})
        async with gateway:
            sink = SlowSink()
            coll = collector([device(gateway, u) for u in range(1, 31)], sink,
                             poll_interval_s=0.2, flush_interval_s=0.05)
            stop = asyncio.Event()
            task = asyncio.create_task(coll.run(stop))
            await asyncio.sleep(0.7)
            # keep every worker thread busy, so the next handover waits in the executor's queue
            # when the collector is stopped: it must still happen, not be dropped with the queue
            loop = asyncio.get_running_loop()
            busy = [loop.run_in_executor(None, time.sleep, 0.2) for _ in range(24)]
            await asyncio.sleep(0.1)
            if cancel:
                task.cancel()
            else:
                stop.set()
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.gather(*busy)
        return sink, coll

    for cancel in (False, True):
        sink, coll = run(main(cancel))
        assert coll.stats.readings_in >= 90
        assert len(sink.readings) == coll.stats.readings_in, cancel


def test_an_unexpected_error_for_one_meter_does_not_stop_the_others(monkeypatch, caplog):
    import collectors.modbus as modbus_module

    real = modbus_module.decode_fields

    def broken_for_unit_2(requests, registers, **kw):
        fields = real(requests, registers, **kw)
        if fields.get("power_w") == 2.0:
            raise RuntimeError("bug")
        return fields

    monkeypatch.setattr(modbus_module, "decode_fields", broken_for_unit_2)

    async def main():
        gateway = ModbusGateway({u: EM1 for u in (1, 2, 3)},
                                lambda unit: {"energy_kwh": 1.0, "power_w": float(unit)})
        async with gateway:
            sink = ListSink()
            coll = collector([device(gateway, u) for u in (1, 2, 3)], sink)
            await run_for(coll, 1.2)
        return sink, coll

    sink, coll = run(main())
    counts = {d: len(r) for d, r in sink.by_device().items()}
    assert set(counts) == {"G0U1", "G0U3"} and min(counts.values()) >= 2
    assert coll.stats.errors >= 1
    assert "modbus device G0U2: unexpected error while polling" in caplog.text


def test_polls_pause_while_the_sink_is_full():
    import threading

    class FullSink(ListSink):
        def __init__(self):
            super().__init__()
            self.free = threading.Event()
            self.largest_batch = 0

        def put(self, readings, source):
            self.free.wait(10)  # a full spool blocks until the writer drains it
            self.largest_batch = max(self.largest_batch, len(readings))
            super().put(readings, source)

    async def main():
        gateway = ModbusGateway({u: EM1 for u in range(1, 11)}, lambda unit: {"energy_kwh": 1.0})
        async with gateway:
            sink = FullSink()
            coll = collector([device(gateway, u) for u in range(1, 11)], sink,
                             poll_interval_s=0.1, flush_interval_s=0.05,
                             max_pending_readings=25)
            stop = asyncio.Event()
            task = asyncio.create_task(coll.run(stop))
            await asyncio.sleep(1.0)
            paused = coll.counters.cycles_paused
            sink.free.set()
            await asyncio.sleep(0.6)
            stop.set()
            await task
        return sink, coll, paused

    sink, coll, paused = run(main())
    assert paused >= 3
    # the first put blocked with one cycle's readings; then at most the limit plus one cycle
    assert sink.largest_batch <= 25 + 10
    assert len(sink.readings) == coll.stats.readings_in >= 50  # nothing dropped; polls resumed


def test_simulated_clock_stamps_the_readings():
    """A simulation running faster than real time gives its gateways its clock: readings carry
    the simulated sample time (whole seconds, as the uint32 register holds), not the wall's."""
    sim_time_s = [1_767_225_600.0]  # 2026-01-01 00:00 UTC

    def clock():
        sim_time_s[0] += 60.0  # a simulated minute per answer
        return sim_time_s[0]

    async def main():
        gateway = ModbusGateway({1: EM1, 40: GAS}, Meters().reader(0), clock=clock)
        async with gateway:
            sink = ListSink()
            await run_for(collector([device(gateway, 1), device(gateway, 40)], sink), 1.2)
        return sink

    readings = run(main()).readings
    stamps = sorted(r.time_ns for r in readings)
    assert len(stamps) >= 4
    assert stamps[0] >= 1_767_225_660 * 10**9 and all(t % 10**9 == 0 for t in stamps)
    assert len(set(stamps)) == len(stamps)  # a minute apart: no two readings share a time


def test_retries_recover_a_dropped_request():
    """A meter that drops every other request: with one retry every poll still gives a reading."""
    asked = defaultdict(int)

    def drop_every_other(unit):
        asked[unit] += 1
        return "silent" if asked[unit] % 2 else None

    class Mode:
        def __init__(self, mode):
            self.mode = mode

    async def main():
        gateway = ModbusGateway({1: EM1}, lambda unit: {"energy_kwh": 1.0},
                                fault_of=lambda unit: Mode(drop_every_other(unit)))
        async with gateway:
            sink = ListSink()
            coll = collector([device(gateway, 1)], sink, timeout_s=0.15, retries=1)
            await run_for(coll, 1.3)
        return sink, coll

    sink, coll = run(main())
    assert len(sink.readings) >= 2
    assert coll.counters.timeouts == len(sink.readings)  # one dropped try before each reading
    assert coll.stats.errors == 0


def test_max_concurrent_gateways_polls_one_gateway_at_a_time():
    async def main():
        gateways = [ModbusGateway({u: EM1 for u in range(1, 11)},
                                  lambda unit: {"energy_kwh": 1.0}, record=True)
                    for _ in range(3)]
        async with GatewayGroup(gateways):
            devices = [device(gw, u, g) for g, gw in enumerate(gateways) for u in range(1, 11)]
            sink = ListSink()
            coll = collector(devices, sink, stagger=False, max_concurrent_gateways=1)
            await run_for(coll, 1.2)
        return gateways, sink

    gateways, sink = run(main())
    assert len(sink.by_device()) == 30
    # all answers of one gateway's cycle come before the next gateway's start
    answers = sorted((r.time_ns, g) for g, gw in enumerate(gateways) for r in gw.served)
    switches = sum(1 for a, b in itertools.pairwise(answers) if a[1] != b[1])
    cycles = sum(len(gw.served) for gw in gateways) // 10
    assert switches <= cycles
