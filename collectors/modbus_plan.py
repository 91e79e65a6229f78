"""Pure parts of the Modbus collector: which register reads to make for a map, and how the
registers they return become a reading's fields. No I/O here, so both are unit tested alone."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from hearth.registermap import MAX_REGISTERS_PER_READ, RegisterMap, RegisterSpec, decode

# DESIGN.md's `meter` fields per fuel, in the order they are read from a map.
FIELDS_BY_FUEL: dict[str, tuple[str, ...]] = {
    "electricity": ("energy_kwh", "energy_export_kwh", "power_w", "voltage_v", "credit_gbp",
                    "supply_on"),
    "gas": ("volume_m3", "energy_kwh", "credit_gbp"),
}
PREPAYMENT_FIELDS = ("credit_gbp", "supply_on")
DEVICE_CLOCK_FIELD = "device_time_s"  # optional map field: the meter's own clock [s since epoch]
# Gas volume to energy (DESIGN.md): kWh = m3 x volume correction x CV [MJ/m3] / 3.6 [MJ/kWh].
GAS_VOLUME_CORRECTION = 1.02264
MJ_PER_KWH = 3.6


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One Modbus read: `count` registers of `register_type` from protocol address `address`,
    covering the fields in `specs`."""

    register_type: str  # "holding" (function 3) or "input" (function 4)
    address: int
    count: int
    specs: tuple[RegisterSpec, ...]


def plan_reads(specs: Iterable[RegisterSpec], *, max_gap: int = 8,
               max_count: int = MAX_REGISTERS_PER_READ) -> list[ReadRequest]:
    """Fewest reads that cover `specs`: fields of one register type are merged into one request
    when the gap between them is at most `max_gap` registers and the request stays within
    `max_count` registers (125 is the protocol's limit for function codes 3 and 4).

    Reading a small gap costs two bytes a register; another request costs a round trip to a
    meter behind a serial gateway (tens of ms), so merging pays for gaps of a few registers.
    """
    if not 1 <= max_count <= MAX_REGISTERS_PER_READ:
        raise ValueError(f"max_count must be within 1..{MAX_REGISTERS_PER_READ}, not {max_count}")
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, not {max_gap}")
    requests: list[ReadRequest] = []
    ordered = sorted(specs, key=lambda s: (s.type, s.address))
    start = end = 0
    group: list[RegisterSpec] = []
    for spec in ordered:
        if spec.count > max_count:
            raise ValueError(f"{spec.field}: {spec.count} registers exceed max_count {max_count}")
        spec_end = spec.address + spec.count
        if (group and spec.type == group[0].type and spec.address - end <= max_gap
                and max(end, spec_end) - start <= max_count):
            group.append(spec)
            end = max(end, spec_end)
            continue
        if group:
            requests.append(ReadRequest(group[0].type, start, end - start, tuple(group)))
        group, start, end = [spec], spec.address, spec_end
    if group:
        requests.append(ReadRequest(group[0].type, start, end - start, tuple(group)))
    return requests


def wanted_specs(rmap: RegisterMap, fuel: str, *, prepayment: bool | None = None,
                 device_clock: bool = True) -> list[RegisterSpec]:
    """The map's registers the collector reads for a meter of `fuel`: the DESIGN fields the map
    has (without credit_gbp/supply_on when the meter is known not to be prepayment), and the
    device clock when used. Other map fields (e.g. a second counter) are not read."""
    try:
        names = set(FIELDS_BY_FUEL[fuel])
    except KeyError:
        raise ValueError(f"fuel must be one of {sorted(FIELDS_BY_FUEL)}, not {fuel!r}") from None
    if prepayment is False:
        names -= set(PREPAYMENT_FIELDS)
    if device_clock:
        names.add(DEVICE_CLOCK_FIELD)
    specs = [spec for spec in rmap.registers if spec.field in names]
    if not any(spec.field in FIELDS_BY_FUEL[fuel] for spec in specs):
        raise ValueError(f"register map {rmap.name!r} has none of the {fuel} fields "
                         f"{', '.join(FIELDS_BY_FUEL[fuel])}")
    return specs


class DecodeError(ValueError):
    """Registers that do not make a valid reading; the message is the dead-letter reason."""


def decode_fields(requests: Sequence[ReadRequest], registers: Sequence[Sequence[int]], *,
                  fuel: str, calorific_value_mj_per_m3: float = 39.5,
                  ) -> dict[str, float | bool]:
    """Fields of one reading from the registers each request returned (same order).

    Values are floats in the field's unit; `supply_on` is a bool (register 0 = off,
    1 = on) and `device_time_s` is returned as read. Gas energy is derived from the volume
    when the map has no energy register. Raises `DecodeError` for a short response, a value
    that is not finite (NaN or infinity in a float register) or a supply state other than 0/1.
    """
    fields: dict[str, float | bool] = {}
    for request, regs in zip(requests, registers, strict=True):
        if len(regs) != request.count:
            raise DecodeError(f"{request.register_type} read at {request.address} returned "
                              f"{len(regs)} registers, expected {request.count}")
        for spec in request.specs:
            first = spec.address - request.address
            value = decode(list(regs[first:first + spec.count]), spec)
            if not math.isfinite(value):
                raise DecodeError(f"{spec.field} is {value} (not a finite number)")
            if spec.field == "supply_on":
                if value not in (0.0, 1.0):
                    raise DecodeError(f"supply_on is {value:g}; expected 0 (off) or 1 (on)")
                fields["supply_on"] = value == 1.0
            else:
                fields[spec.field] = value
    if fuel == "gas" and "energy_kwh" not in fields and "volume_m3" in fields:
        fields["energy_kwh"] = (float(fields["volume_m3"]) * GAS_VOLUME_CORRECTION
                                * calorific_value_mj_per_m3 / MJ_PER_KWH)
    return fields


def registers_by_request(requests: Sequence[ReadRequest],
                         registers: Sequence[Sequence[int]]) -> list[Mapping[str, object]]:
    """JSON-able description of raw registers, for a dead letter."""
    return [{"type": r.register_type, "address": r.address, "count": r.count,
             "registers": list(regs)} for r, regs in zip(requests, registers, strict=False)]
