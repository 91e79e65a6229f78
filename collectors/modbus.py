"""Modbus TCP collector: polls meters behind gateways and hands `meter` readings to the sink.

One pymodbus async client (one TCP connection) per gateway. All gateways are polled at once;
the units behind one gateway are polled in turn, since a gateway forwards one request at a
time down its serial line anyway. Each gateway has its own tick every `poll_interval_s`,
staggered over the interval so 200 gateways do not all fire at the same instant.

So that one dead or slow meter never delays the rest:
- every request is bounded by `timeout_s`;
- a meter failing `failures_before_backoff` polls in a row is skipped for `backoff_initial_s`,
  doubling up to `backoff_max_s`, and probed again after that (one probe costs one timeout);
- a gateway that refuses connections is retried on its next tick, then with the same backoff;
  its meters are counted silent but not blamed;
- a tick that is missed because a cycle overran is skipped (counted), never bunched up.

Readings: measurement `meter`, tags household/device/fuel/source=modbus, float fields
energy_kwh, power_w, voltage_v, credit_gbp (prepayment), volume_m3 (gas), and `supply_on` as a
bool. `time_ns` is the time the meter answered, or the meter's own clock when its map has a
`device_time_s` register holding a value > 0 (`use_device_clock`). Registers that do not
decode to a valid reading go to the dead letters with the reason and the raw registers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from collectors.base import Collector, Reading, Sink, register_collector
from collectors.modbus_devices import (
    ModbusDevice,
    devices_from_config,
    devices_from_registry,
    load_maps,
)
from collectors.modbus_plan import (
    DEVICE_CLOCK_FIELD,
    DecodeError,
    ReadRequest,
    decode_fields,
    plan_reads,
    registers_by_request,
    wanted_specs,
)
from hearth.registry.db import registry_exists
from hearth.settings.rooms import ModbusCollectorSettings

log = logging.getLogger(__name__)
SOURCE = "modbus"
_EXCEPTION_NAMES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                    4: "device failure", 5: "acknowledge", 6: "device busy",
                    10: "gateway path unavailable", 11: "gateway target failed to respond"}
_WINDOW = 2000  # recent cycle times kept for the percentiles


@dataclass
class ModbusCollectorConfig:
    """What the collector needs: its settings and the resolved devices."""

    settings: ModbusCollectorSettings
    devices: list[ModbusDevice]

    @classmethod
    def from_settings(cls, settings: Any) -> ModbusCollectorConfig:
        """From the whole `Settings`: devices listed under [collectors.modbus] if any, else the
        registry's devices with protocol modbus."""
        section: ModbusCollectorSettings = settings.collectors.modbus
        maps = load_maps(section.maps_dir)
        if section.devices:
            return cls(section, devices_from_config(section.devices, maps))
        if not registry_exists(settings.registry.target):
            # Not an error for `hearth collect`: MQTT may run alone; say why nothing is polled.
            log.warning("modbus: registry %s does not exist, so there are no Modbus meters to "
                        "poll; fill it (hearth registry import/generate) or list meters under "
                        "[[collectors.modbus.devices]]", settings.registry.target)
            return cls(section, [])
        return cls(section, devices_from_registry(settings.registry.target, maps))


class _RateLimitedLog:
    """At most one line per key per `interval_s`; says how many were held back."""

    def __init__(self, interval_s: float):
        self.interval_s = interval_s
        self._last: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = defaultdict(int)

    def __call__(self, level: int, key: tuple[str, str], msg: str, *args: object,
                 exc_info: bool = False) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._held[key] += 1
            return
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            msg += f" ({held} more like this in the last {self.interval_s:.0f} s)"
        log.log(level, msg, *args, exc_info=exc_info)


@dataclass(eq=False)
class _Device:
    device: ModbusDevice
    requests: list[ReadRequest]
    tags: dict[str, str]
    failures: int = 0
    backoff_s: float = 0.0
    worst_case_s: float = 0.0  # all requests timing out, with retries [s]
    skip_until: float = 0.0  # loop time
    last_try: float = 0.0  # loop time
    latency_s: float = 0.0  # duration of the last poll [s]
    suspect: bool = False
    last_ok_ns: int = 0


@dataclass(eq=False)
class _Gateway:
    host: str
    port: int
    devices: list[_Device]
    client: AsyncModbusTcpClient | None = None
    connect_failures: int = 0
    next_connect_at: float = 0.0
    ever_connected: bool = False

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected


class _Outcome:
    OK, FAILED, LOST = "ok", "failed", "lost"


@dataclass
class _Counters:
    requests: int = 0
    timeouts: int = 0
    exception_responses: int = 0
    connect_failures: int = 0
    reconnects: int = 0
    cycles: int = 0
    cycles_overrun: int = 0
    skipped_in_backoff: int = 0
    deferred: int = 0
    cycles_paused: int = 0
    sink_failures: int = 0
    by_exception: dict[int, int] = field(default_factory=lambda: defaultdict(int))


@register_collector
class ModbusCollector(Collector):
    """Polls Modbus TCP gateways. `config` is the whole `Settings` (devices from the registry or
    [collectors.modbus].devices), a `ModbusCollectorConfig`, or a `ModbusCollectorSettings`
    with its `devices` list."""

    type = "modbus"

    def __init__(self, name: str, config: Any, sink: Sink):
        if isinstance(config, ModbusCollectorSettings):
            config = ModbusCollectorConfig(config, devices_from_config(
                config.devices, load_maps(config.maps_dir)))
        elif not isinstance(config, ModbusCollectorConfig):
            config = ModbusCollectorConfig.from_settings(config)
        super().__init__(name, config, sink)
        self.settings = s = config.settings
        self.counters = _Counters()
        self.cycle_times_s: deque[float] = deque(maxlen=_WINDOW)
        self.lags_s: deque[float] = deque(maxlen=_WINDOW)
        self._pending: list[Reading] = []
        self._rate_log = _RateLimitedLog(s.log_interval_s)
        by_gateway: dict[tuple[str, int], list[_Device]] = defaultdict(list)
        for device in config.devices:
            specs = wanted_specs(device.register_map, device.fuel, prepayment=device.prepayment,
                                 device_clock=s.use_device_clock)
            requests = plan_reads(specs, max_gap=s.max_gap_registers,
                                  max_count=s.max_registers_per_request)
            tags = {"household": device.household_id, "device": device.device_id,
                    "fuel": device.fuel, "source": SOURCE}
            worst_case_s = s.timeout_s * (s.retries + 1) * len(requests)
            by_gateway[device.gateway].append(
                _Device(device, requests, tags, worst_case_s=worst_case_s))
        self.gateways = [_Gateway(host, port, sorted(devs, key=lambda d: d.device.unit_id))
                         for (host, port), devs in sorted(by_gateway.items())]
        # pymodbus logs every timeout at ERROR with a dump of recent frames; our own log lines
        # are per device and rate-limited, so keep its output to real faults of its own.
        pymodbus_log = logging.getLogger("pymodbus")
        if pymodbus_log.level == logging.NOTSET:
            pymodbus_log.setLevel(logging.CRITICAL)

    # -- running -----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        n = len(self.gateways)
        log.info("modbus collector %s: %d devices on %d gateways, every %g s", self.name,
                 sum(len(g.devices) for g in self.gateways), n, s.poll_interval_s)
        if not n:
            log.warning("modbus collector %s: no Modbus meters to poll (none in the registry "
                        "with protocol modbus, none listed in config)", self.name)
        limit = asyncio.Semaphore(s.max_concurrent_gateways) if s.max_concurrent_gateways else None
        stop_waiter = asyncio.ensure_future(stop.wait())
        start = asyncio.get_running_loop().time()
        tasks = [asyncio.create_task(
            self._run_gateway(g, start + (s.poll_interval_s * i / n if s.stagger else 0.0),
                              stop_waiter, limit), name=f"modbus {g.name}")
            for i, g in enumerate(self.gateways)]
        flusher = asyncio.create_task(self._flush_loop(stop_waiter))
        try:
            await stop_waiter
        finally:
            stop_waiter.cancel()  # when run() itself was cancelled: ends the loops below too
            for task in tasks:  # a poll cut short loses nothing: readings are queued whole
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(flusher, return_exceptions=True)  # hands over what it holds
            for gateway in self.gateways:
                self._close(gateway)
            await self._flush()
            self._refresh_stats()

    async def _run_gateway(self, gateway: _Gateway, first_tick: float, stop_waiter: asyncio.Future,
                           limit: asyncio.Semaphore | None) -> None:
        loop = asyncio.get_running_loop()
        interval = self.settings.poll_interval_s
        tick = first_tick
        while not stop_waiter.done():
            delay = tick - loop.time()
            if delay > 0:
                await asyncio.wait([stop_waiter], timeout=delay)
                if stop_waiter.done():
                    return
            began = loop.time()
            self.lags_s.append(began - tick)
            if len(self._pending) >= self.settings.max_pending_readings:
                # The sink is not taking readings (spool full): pause rather than pile up
                # memory or drop; the meters' cumulative registers lose no energy meanwhile.
                self.counters.cycles_paused += 1
                self._rate_log(logging.WARNING, ("sink", "backpressure"),
                               "modbus: %d readings wait for the spool; polls paused until it "
                               "takes them", len(self._pending))
                tick += interval
                continue
            try:
                if limit is None:
                    await self._cycle(gateway, tick + interval)
                else:
                    async with limit:
                        await self._cycle(gateway, tick + interval)
            except Exception:  # a bug must not silence a whole gateway: log, go on next tick
                self.stats.errors += 1
                self._close(gateway)
                log.exception("modbus gateway %s: unexpected error in a poll cycle",
                              gateway.name)
            now = loop.time()
            self.cycle_times_s.append(now - began)
            self.counters.cycles += 1
            tick += interval
            if now > tick:  # overran: skip the missed ticks instead of bunching polls up
                missed = int((now - tick) // interval) + 1
                self.counters.cycles_overrun += missed
                self._rate_log(logging.WARNING, (gateway.name, "overrun"),
                               "modbus gateway %s: a poll cycle took %.2f s, longer than the "
                               "%g s interval; %d tick(s) skipped", gateway.name, now - began,
                               interval, missed)
                tick += missed * interval

    async def _cycle(self, gateway: _Gateway, deadline: float) -> None:
        """Poll every device of one gateway that is not in backoff, in turn, before `deadline`
        (the next tick, loop time).

        Healthy devices go first, in unit order, so their sample times keep to the interval
        whatever the others do; suspects (failed last time, or slow) follow, least recently
        tried first, and are deferred to the next cycle when their timeout would overrun it."""
        if not gateway.connected and not await self._connect(gateway):
            return
        loop = asyncio.get_running_loop()
        s = self.settings
        slow_s = s.timeout_s / 2
        for dev in gateway.devices:
            dev.suspect = dev.failures > 0 or dev.latency_s > slow_s
        order = sorted(gateway.devices, key=lambda d: (d.suspect, d.last_try if d.suspect
                                                       else d.device.unit_id))
        attempted = timed_out = 0
        for dev in order:
            now = loop.time()
            if dev.skip_until > now:
                self.counters.skipped_in_backoff += 1
                continue
            if dev.suspect and now + dev.worst_case_s > deadline:
                self.counters.deferred += 1
                continue
            attempted += 1
            dev.last_try = now
            try:
                outcome, was_timeout = await self._poll(gateway, dev)
            except Exception:  # a bug for one meter must not stop its neighbours' polls
                self._rate_log(logging.ERROR, (dev.device.device_id, "internal"),
                               "modbus device %s: unexpected error while polling",
                               dev.device.device_id, exc_info=True)
                self._failed(dev, "internal", "unexpected error (traceback logged)")
                outcome, was_timeout = _Outcome.FAILED, False
            dev.latency_s = loop.time() - now
            timed_out += was_timeout
            if outcome == _Outcome.LOST:
                self._gateway_lost(gateway, "connection lost")
                return
        if attempted and timed_out == attempted:
            # Nothing answered: the connection may be half open (gateway rebooted without
            # closing it). Reconnect next tick; a healthy gateway costs one TCP handshake.
            self._close(gateway)

    async def _connect(self, gateway: _Gateway) -> bool:
        if asyncio.get_running_loop().time() < gateway.next_connect_at:
            return False
        self._close(gateway)
        client = AsyncModbusTcpClient(gateway.host, port=gateway.port,
                                      timeout=self.settings.timeout_s, retries=0,
                                      reconnect_delay=0, name=gateway.name)
        # Our own policy decides when to drop the connection, not pymodbus's no-answer count
        # (a dead meter behind a live gateway must not cost its neighbours a reconnect).
        client.set_max_no_responses(1 << 30)
        try:
            ok = await client.connect()
        except (OSError, ModbusException):
            ok = False
        if not ok:
            client.close()
            self._gateway_lost(gateway, "cannot connect")
            return False
        if gateway.ever_connected:
            self.counters.reconnects += 1
            log.info("modbus gateway %s: connected again", gateway.name)
        gateway.client, gateway.ever_connected = client, True
        gateway.connect_failures = 0
        gateway.next_connect_at = 0.0
        return True

    def _gateway_lost(self, gateway: _Gateway, why: str) -> None:
        s = self.settings
        self._close(gateway)
        gateway.connect_failures += 1
        self.counters.connect_failures += 1
        self.stats.errors += 1
        n = gateway.connect_failures
        # First failure: try again on the next tick (a restart); then back off exponentially.
        wait_s = 0.0 if n == 1 else min(s.backoff_initial_s * 2 ** (n - 2), s.backoff_max_s)
        gateway.next_connect_at = asyncio.get_running_loop().time() + wait_s
        self._rate_log(logging.WARNING, (gateway.name, "connect"),
                       "modbus gateway %s: %s (%d devices unread, %d failure(s) in a row); "
                       "check the gateway is powered and reachable", gateway.name, why,
                       len(gateway.devices), n)

    @staticmethod
    def _close(gateway: _Gateway) -> None:
        if gateway.client is not None:
            gateway.client.close()
            gateway.client = None

    async def _poll(self, gateway: _Gateway, dev: _Device) -> tuple[str, bool]:
        """Read one device; returns the outcome and whether it failed by timing out."""
        client = gateway.client
        unit = dev.device.unit_id
        registers: list[Sequence[int]] = []
        for request in dev.requests:
            read = (client.read_holding_registers if request.register_type == "holding"
                    else client.read_input_registers)
            response = None
            for _attempt in range(self.settings.retries + 1):
                self.counters.requests += 1
                try:
                    response = await read(request.address, count=request.count, device_id=unit)
                    break
                except ConnectionException:
                    return _Outcome.LOST, False
                except ModbusIOException:
                    self.counters.timeouts += 1
                    if not gateway.connected:
                        return _Outcome.LOST, False
            if response is None:
                self._failed(dev, "timeout", f"no answer within {self.settings.timeout_s:g} s")
                return _Outcome.FAILED, True
            if response.isError():
                code = getattr(response, "exception_code", 0)
                self.counters.exception_responses += 1
                self.counters.by_exception[code] += 1
                name = _EXCEPTION_NAMES.get(code, "unknown")
                self._failed(dev, f"exception {code}",
                             f"Modbus exception 0x{code:02X} ({name})")
                return _Outcome.FAILED, False
            registers.append(response.registers)
        sample_ns = time.time_ns()
        try:
            fields = decode_fields(dev.requests, registers, fuel=dev.device.fuel,
                                   calorific_value_mj_per_m3=self.settings.
                                   gas_calorific_value_mj_per_m3)
        except DecodeError as exc:
            self._dead_letter(gateway, dev, str(exc), registers, sample_ns)
            self._failed(dev, "decode", str(exc), backoff=False)
            return _Outcome.FAILED, False
        device_time_s = fields.pop(DEVICE_CLOCK_FIELD, 0.0)
        if self.settings.use_device_clock and device_time_s > 0:
            sample_ns = round(float(device_time_s) * 1e9)
        self._pending.append(Reading("meter", dev.tags, fields, sample_ns))
        self.stats.readings_in += 1
        if dev.failures:
            log.info("modbus device %s answers again after %d failed poll(s)",
                     dev.device.device_id, dev.failures)
        dev.failures, dev.backoff_s, dev.skip_until = 0, 0.0, 0.0
        dev.last_ok_ns = sample_ns
        return _Outcome.OK, False

    def _failed(self, dev: _Device, kind: str, detail: str, backoff: bool = True) -> None:
        s = self.settings
        now = asyncio.get_running_loop().time()
        self.stats.errors += 1
        dev.failures += 1
        if backoff and dev.failures >= s.failures_before_backoff:
            dev.backoff_s = (s.backoff_initial_s if dev.backoff_s == 0
                             else min(dev.backoff_s * 2, s.backoff_max_s))
            dev.skip_until = now + dev.backoff_s
        d = dev.device
        then = f"skipped for {dev.backoff_s:g} s" if dev.skip_until > now else "retried next poll"
        self._rate_log(logging.WARNING, (d.device_id, kind),
                       "modbus device %s (household %s, unit %d on %s:%d): %s; %d failure(s) "
                       "in a row, %s", d.device_id, d.household_id, d.unit_id, d.gateway_host,
                       d.gateway_port, detail, dev.failures, then)

    def _dead_letter(self, gateway: _Gateway, dev: _Device, reason: str,
                     registers: list[Sequence[int]], sample_ns: int) -> None:
        raw = json.dumps({"device": dev.device.device_id, "household": dev.device.household_id,
                          "gateway": gateway.name, "unit_id": dev.device.unit_id,
                          "register_map": dev.device.register_map.name, "time_ns": sample_ns,
                          "reads": registers_by_request(dev.requests, registers)},
                         separators=(",", ":")).encode()
        self.stats.dead_lettered += 1
        try:
            self.sink.dead_letter(SOURCE, f"device {dev.device.device_id}: {reason}", raw)
        except Exception:
            log.exception("modbus: could not write a dead letter for %s", dev.device.device_id)

    # -- handing readings to the sink -----------------------------------------------------------
    async def _flush_loop(self, stop_waiter: asyncio.Future) -> None:
        while not stop_waiter.done():
            await asyncio.wait([stop_waiter], timeout=self.settings.flush_interval_s)
            await self._flush()
            self._refresh_stats()

    async def _flush(self) -> None:
        """Hand pending readings to the sink in a worker thread: a durable put (fsync) must not
        stall the polls. On failure the batch is kept and offered again."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        handover = asyncio.ensure_future(asyncio.to_thread(self.sink.put, batch, SOURCE))
        try:
            # shielded: cancelling the collector must not lose a batch half handed over
            await asyncio.shield(handover)
        except asyncio.CancelledError:
            await asyncio.wait([handover])
            if handover.exception() is not None:
                self._pending[:0] = batch
            raise
        except Exception as exc:
            self.counters.sink_failures += 1
            self.stats.errors += 1
            self._pending[:0] = batch
            self._rate_log(logging.ERROR, ("sink", "put"),
                           "modbus: the sink refused %d readings (%s); keeping them and "
                           "retrying", len(batch), exc)

    # -- stats ---------------------------------------------------------------------------------
    def _refresh_stats(self) -> None:
        now = asyncio.get_running_loop().time()
        silent = in_backoff = 0
        for gateway in self.gateways:
            down = gateway.connect_failures > 0
            for dev in gateway.devices:
                in_backoff += dev.skip_until > now
                silent += down or dev.failures > 0
        c = self.counters
        extra = self.stats.extra
        extra.update(requests=c.requests, timeouts=c.timeouts,
                     exception_responses=c.exception_responses,
                     connect_failures=c.connect_failures, reconnects=c.reconnects,
                     cycles=c.cycles, cycles_overrun=c.cycles_overrun,
                     skipped_in_backoff=c.skipped_in_backoff, deferred=c.deferred,
                     devices_in_backoff=in_backoff,
                     sink_failures=c.sink_failures, cycles_paused=c.cycles_paused,
                     pending_readings=len(self._pending))
        for code, count in c.by_exception.items():
            extra[f"exception_0x{code:02X}"] = count
        for key, values in (("cycle_time_s", self.cycle_times_s), ("lag_s", self.lags_s)):
            if values:
                ordered = sorted(values)
                extra[f"{key}_p50"] = ordered[len(ordered) // 2]
                extra[f"{key}_p95"] = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
                extra[f"{key}_max"] = ordered[-1]
        self.stats.devices_silent = silent

