"""Simulated Modbus TCP gateways: one per block of flats or street, many meters behind it.

A real installation puts an RS-485 line of meters behind one Modbus TCP gateway; the gateway
forwards each request to the meter whose unit id it names. Here a `ModbusGateway` is a
pymodbus 3.16 TCP server whose request handler, for every read of holding (function 3) or
input (function 4) registers, asks `read_values(unit_id)` for the meter's current values and
encodes them with the unit's register map (`hearth.registermap.encode`). Values are therefore
those of the live simulation at the moment the meter answers.

Behaviour a collector has to cope with, as real gateways show it:

- Unknown unit id: by default the gateway answers exception 0x0B "gateway target device failed
  to respond" (what Moxa/Lantronix-style gateways send after their serial timeout);
  `unknown_unit="silent"` makes it not answer at all (gateways without that feature), so the
  request times out.
- `read_values` returning None: the meter does not answer (silent), as a meter that is off.
- A read of addresses outside the span a map declares for that register type: exception 0x02
  (illegal data address). Gaps inside the span read as 0, so a collector may merge requests
  across them.
- Function codes other than 3 and 4: exception 0x01 (illegal function); the meters are read only.
- Faults per unit, set at run time (`set_fault`) or asked of a `fault_of(unit_id)` callable at
  each request (the simulation's fault schedule): ``silent`` (never answers), ``exception``
  (answers with the given exception code, 0x0B by default) and ``slow`` (answers after
  `delay_s`, sampling the values when it answers). A fault set with `set_fault` wins.
  Requests are answered independently, so a slow meter does not hold back a request to
  another unit that arrives meanwhile (a gateway that queues per serial line would; the
  collector polls the units of one gateway in turn anyway and bounds each request by its
  timeout).

Many gateways run in one event loop (`GatewayGroup`); `gateways_for_devices` builds them from
registry device rows grouped by (gateway_host, gateway_port).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersResponse,
    ReadInputRegistersResponse,
)
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice

from hearth.registermap import RegisterMap, encode, resolve_register_map

log = logging.getLogger(__name__)

ReadValues = Callable[[int], Mapping[str, float] | None]
# A fault as the simulation describes it: an object with `mode` (or `kind`): none | silent |
# exception | slow, and optionally `delay_s` [s] and `exception_code`; or None for no fault.
FaultOf = Callable[[int], Any]
FaultMode = Literal["silent", "exception", "slow"]
UnknownUnit = Literal["exception", "silent"]

DEVICE_CLOCK_FIELD = "device_time_s"  # a map's register for the meter's clock (Unix seconds)
_REGISTER_TYPE = {3: "holding", 4: "input"}
_RESPONSE = {3: ReadHoldingRegistersResponse, 4: ReadInputRegistersResponse}
# MBAP header (7) + PDU (253): a longer buffer that still holds no frame is garbage.
_MAX_FRAME_BYTES = 260


@dataclass(frozen=True)
class Fault:
    """A fault injected into one unit: how the gateway answers requests to it."""

    mode: FaultMode
    exception_code: int = ExcCodes.GATEWAY_NO_RESPONSE
    delay_s: float = 0.0


@dataclass(frozen=True)
class ServedRecord:
    """One answer the gateway gave: what a collector should have received."""

    gateway: str
    unit_id: int
    time_ns: int  # when the meter answered [ns since the Unix epoch]
    register_type: str
    values: Mapping[str, float]


@dataclass
class GatewayStats:
    requests: int = 0
    answered: int = 0
    exceptions: int = 0
    dropped: int = 0  # requests never answered (silent unit, unknown unit with "silent")


@dataclass
class _UnitImage:
    """Per unit and register type: the fields to encode and the address span a read may cover."""

    specs: list = field(default_factory=list)
    start: int = 0
    end: int = 0  # exclusive


class _GatewayHandler(ServerRequestHandler):
    """One client connection. Frames are parsed from our own buffer (pymodbus's base handler
    keeps only the last PDU, which loses pipelined requests and cannot delay one answer)."""

    def __init__(self, owner: _GatewayServer):
        super().__init__(owner, None, None, None)
        self.gateway: ModbusGateway = owner.gateway
        self._buffer = b""

    def datagram_received(self, data: bytes, addr: tuple | None) -> None:
        self._buffer += data
        while self._buffer:
            try:
                used, pdu = self.framer.handleFrame(self._buffer, 0, 0)
            except ModbusIOException as exc:  # undecodable request: answer as pymodbus does
                self._buffer = b""
                self._send(ExceptionResponse(exc.fcode or 0, ExcCodes.ILLEGAL_FUNCTION,
                                             device_id=exc.dev_id or 0,
                                             transaction=exc.transaction_id or 0))
                return
            if not used:
                protocol_id = self._buffer[2:4]
                if (len(protocol_id) == 2 and protocol_id != b"\0\0") or \
                        len(self._buffer) > _MAX_FRAME_BYTES:
                    # Not Modbus TCP (protocol id must be 0): close, as gateways do, rather
                    # than wait on bytes that can never frame.
                    self._buffer = b""
                    if self.transport is not None:
                        self.transport.close()
                return
            self._buffer = self._buffer[used:]
            if pdu is not None:
                self.gateway._handle(self, pdu)

    def _send(self, pdu: ModbusPDU) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.pdu_send(pdu)


class _GatewayServer(ModbusTcpServer):
    """pymodbus TCP listener whose connections are served by `_GatewayHandler`."""

    def __init__(self, gateway: ModbusGateway):
        self.gateway = gateway
        # The datastore is not used: every request is answered from `read_values`.
        placeholder = SimDevice(0, simdata=[SimData(0, values=0, datatype=DataType.REGISTERS)])
        super().__init__(placeholder, address=(gateway.host, gateway.port))

    def callback_new_connection(self):
        return _GatewayHandler(self)


class ModbusGateway:
    """One simulated Modbus TCP gateway with many meters (unit ids) behind it.

    Args:
        units: register map of each unit id (1..247) behind the gateway.
        read_values: current values of a unit's fields (engineering units, the map's field
            names), or None when the meter does not answer. Called when the meter answers.
        host, port: where to listen; port 0 picks a free port (see `port` after `start`).
        unknown_unit: how to treat a request to a unit id not in `units` (see module doc).
        record: keep a `ServedRecord` of every answer in `served` (end-to-end checks).
        name: label for logs and records; defaults to ``host:port``.
        fault_of: the fault of a unit now (see `FaultOf`), asked at each request.
        clock: the meters' clock [s since the Unix epoch], e.g. the simulation's time; fills
            a map's ``device_time_s`` register when `read_values` does not give it. Without a
            clock that register reads 0 (clock not set) and collectors stamp on receipt.
    """

    def __init__(self, units: Mapping[int, RegisterMap], read_values: ReadValues, *,
                 host: str = "127.0.0.1", port: int = 0, unknown_unit: UnknownUnit = "exception",
                 record: bool = False, name: str | None = None, fault_of: FaultOf | None = None,
                 clock: Callable[[], float] | None = None):
        for unit_id in units:
            if not 1 <= unit_id <= 247:
                raise ValueError(f"unit id {unit_id} is outside 1..247 (Modbus unit addresses)")
        if unknown_unit not in ("exception", "silent"):
            raise ValueError(f"unknown_unit must be 'exception' or 'silent', not {unknown_unit!r}")
        self.units = dict(units)
        self.read_values = read_values
        self.fault_of = fault_of
        self.clock = clock
        self.host = host
        self.port = port
        self.unknown_unit = unknown_unit
        self.record = record
        self.served: list[ServedRecord] = []
        self.stats = GatewayStats()
        self._name = name
        self._faults: dict[int, Fault] = {}
        self._images = {unit: self._image(rmap) for unit, rmap in self.units.items()}
        self._server: _GatewayServer | None = None
        self._pending: set[asyncio.TimerHandle] = set()

    @property
    def name(self) -> str:
        return self._name or f"{self.host}:{self.port}"

    @staticmethod
    def _image(rmap: RegisterMap) -> dict[str, _UnitImage]:
        images: dict[str, _UnitImage] = {}
        for spec in rmap.registers:
            image = images.setdefault(spec.type, _UnitImage(start=spec.address, end=spec.address))
            image.specs.append(spec)
            image.start = min(image.start, spec.address)
            image.end = max(image.end, spec.address + spec.count)
        return images

    # -- faults ------------------------------------------------------------------------------
    def set_fault(self, unit_id: int, mode: FaultMode, *, exception_code: int = 0x0B,
                  delay_s: float = 1.0) -> None:
        """Make a unit silent, answer with an exception code, or answer after `delay_s` [s]."""
        if mode not in ("silent", "exception", "slow"):
            raise ValueError(f"fault mode must be silent, exception or slow, not {mode!r}")
        if mode == "exception" and not 1 <= exception_code <= 0xFF:
            raise ValueError(f"exception code {exception_code} is outside 1..255")
        if mode == "slow" and delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, not {delay_s}")
        self._faults[unit_id] = Fault(mode, exception_code, delay_s)

    def clear_fault(self, unit_id: int) -> None:
        self._faults.pop(unit_id, None)

    def fault(self, unit_id: int) -> Fault | None:
        """The fault acting on a unit now: one set with `set_fault`, else `fault_of`'s."""
        fault = self._faults.get(unit_id)
        if fault is not None or self.fault_of is None:
            return fault
        return _as_fault(self.fault_of(unit_id))

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> ModbusGateway:
        if self._server is not None:
            raise RuntimeError(f"gateway {self.name} is already running")
        server = _GatewayServer(self)
        await server.serve_forever(background=True)
        self._server = server
        if self.port == 0:
            self.port = server.transport.sockets[0].getsockname()[1]
        log.debug("modbus gateway %s serving %d units", self.name, len(self.units))
        return self

    async def stop(self) -> None:
        """Stop listening and drop every client connection (as a gateway losing power)."""
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def __aenter__(self) -> ModbusGateway:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    # -- serving -----------------------------------------------------------------------------
    def _handle(self, conn: _GatewayHandler, pdu: ModbusPDU) -> None:
        self.stats.requests += 1
        unit = pdu.dev_id
        if unit not in self.units:
            if self.unknown_unit == "silent":
                self.stats.dropped += 1
            else:
                self._exception(conn, pdu, ExcCodes.GATEWAY_NO_RESPONSE)
            return
        try:
            fault = self.fault(unit)
        except Exception:  # the simulation's fault schedule failed: a device failure on the wire
            log.exception("gateway %s: fault_of(%d) failed", self.name, unit)
            self._exception(conn, pdu, ExcCodes.DEVICE_FAILURE)
            return
        if fault is None:
            self._answer(conn, pdu)
        elif fault.mode == "silent":
            self.stats.dropped += 1
        elif fault.mode == "exception":
            self._exception(conn, pdu, fault.exception_code)
        else:
            handle: asyncio.TimerHandle | None = None

            def later() -> None:
                self._pending.discard(handle)
                self._answer(conn, pdu)

            handle = asyncio.get_running_loop().call_later(fault.delay_s, later)
            self._pending.add(handle)

    def _exception(self, conn: _GatewayHandler, pdu: ModbusPDU, code: int) -> None:
        self.stats.exceptions += 1
        conn._send(ExceptionResponse(pdu.function_code, code, device_id=pdu.dev_id,
                                     transaction=pdu.transaction_id))

    def _answer(self, conn: _GatewayHandler, pdu: ModbusPDU) -> None:
        register_type = _REGISTER_TYPE.get(pdu.function_code)
        if register_type is None:
            self._exception(conn, pdu, ExcCodes.ILLEGAL_FUNCTION)
            return
        image = self._images[pdu.dev_id].get(register_type)
        if image is None or pdu.address < image.start or pdu.address + pdu.count > image.end:
            self._exception(conn, pdu, ExcCodes.ILLEGAL_ADDRESS)
            return
        try:
            values = self.read_values(pdu.dev_id)
        except Exception:  # the simulation failed for this meter: a device failure on the wire
            log.exception("gateway %s: read_values(%d) failed", self.name, pdu.dev_id)
            self._exception(conn, pdu, ExcCodes.DEVICE_FAILURE)
            return
        if values is None:  # the meter itself is off
            self.stats.dropped += 1
            return
        if self.clock is not None and DEVICE_CLOCK_FIELD not in values:
            values = {**values, DEVICE_CLOCK_FIELD: self.clock()}
        registers = [0] * (image.end - image.start)
        for spec in image.specs:
            value = values.get(spec.field)
            if value is not None:
                start = spec.address - image.start
                registers[start:start + spec.count] = encode(float(value), spec)
        first = pdu.address - image.start
        response = _RESPONSE[pdu.function_code](
            registers=registers[first:first + pdu.count], dev_id=pdu.dev_id,
            transaction_id=pdu.transaction_id)
        if self.record:
            self.served.append(ServedRecord(self.name, pdu.dev_id, time.time_ns(), register_type,
                                            dict(values)))
        self.stats.answered += 1
        conn._send(response)


def _as_fault(described: Any) -> Fault | None:
    if described is None or isinstance(described, Fault):
        return described
    mode = getattr(described, "mode", None) or getattr(described, "kind", "none")
    if mode in (None, "none"):
        return None
    if mode not in ("silent", "exception", "slow"):
        raise ValueError(f"unknown fault mode {mode!r}; expected none, silent, exception, slow")
    return Fault(mode, int(getattr(described, "exception_code", 0) or ExcCodes.GATEWAY_NO_RESPONSE),
                 float(getattr(described, "delay_s", 0.0) or 0.0))


class GatewayGroup:
    """Many gateways in one event loop, started and stopped together."""

    def __init__(self, gateways: Iterable[ModbusGateway]):
        self.gateways = list(gateways)

    async def start(self) -> GatewayGroup:
        started: list[ModbusGateway] = []
        try:
            for gateway in self.gateways:  # one by one: a port clash names its gateway
                await gateway.start()
                started.append(gateway)
        except BaseException:
            await asyncio.gather(*(g.stop() for g in started))
            raise
        return self

    async def stop(self) -> None:
        await asyncio.gather(*(g.stop() for g in self.gateways))

    async def __aenter__(self) -> GatewayGroup:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    def __iter__(self):
        return iter(self.gateways)

    def __len__(self) -> int:
        return len(self.gateways)


def _get(row: Any, key: str) -> Any:
    return row[key] if isinstance(row, Mapping) else getattr(row, key)


def gateways_for_devices(devices: Iterable[Any],
                         values_of: Callable[[str], Mapping[str, float] | None],
                         maps: Mapping[str, RegisterMap], *, bind_host: str | None = None,
                         record: bool = False, unknown_unit: UnknownUnit = "exception",
                         fault_of: Callable[[str], Any] | None = None,
                         clock: Callable[[], float] | None = None) -> GatewayGroup:
    """Gateways serving the Modbus devices of the registry, one per (gateway_host, gateway_port).

    Args:
        devices: registry device rows (mappings or objects with device_id, protocol,
            gateway_host, gateway_port, unit_id, register_map); rows whose protocol is not
            ``modbus`` are skipped.
        values_of: current field values of a device by its device_id (None: it does not answer).
        maps: register maps by name (`hearth.registermap.load_register_maps`).
        bind_host: listen here instead of each row's gateway_host (e.g. 127.0.0.1).
        fault_of: the fault of a device now, by device_id (see `FaultOf`).
        clock: the meters' clock (see `ModbusGateway`), e.g. the simulation's time [s].
    """
    by_gateway: dict[tuple[str, int], dict[int, tuple[str, RegisterMap]]] = defaultdict(dict)
    for row in devices:
        if _get(row, "protocol") != "modbus":
            continue
        device_id, map_name = _get(row, "device_id"), _get(row, "register_map")
        rmap = resolve_register_map(maps, map_name)
        if rmap is None:
            known = ", ".join(sorted(maps)) or "none"
            raise ValueError(f"device {device_id}: register map {map_name!r} is unknown "
                             f"(known: {known}); add its TOML to config/register_maps/")
        key = (_get(row, "gateway_host"), int(_get(row, "gateway_port")))
        unit = int(_get(row, "unit_id"))
        if unit in by_gateway[key]:
            raise ValueError(f"device {device_id}: unit id {unit} on gateway {key[0]}:{key[1]} "
                             f"is already used by {by_gateway[key][unit][0]}")
        by_gateway[key][unit] = (device_id, rmap)

    gateways = []
    for (host, port), units in sorted(by_gateway.items()):
        device_of = {unit: device_id for unit, (device_id, _) in units.items()}

        def read_values(unit: int, device_of: dict[int, str] = device_of):
            return values_of(device_of[unit])

        def unit_fault(unit: int, device_of: dict[int, str] = device_of):
            return fault_of(device_of[unit])

        gateways.append(ModbusGateway({u: m for u, (_, m) in units.items()}, read_values,
                                      host=bind_host or host, port=port, record=record,
                                      unknown_unit=unknown_unit, name=f"{host}:{port}",
                                      fault_of=unit_fault if fault_of else None,
                                      clock=clock))
    return GatewayGroup(gateways)
