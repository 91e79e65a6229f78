"""Modbus register maps declared as data, and the codec both the simulator and the collector use.

A map lists, per field, the register type, the protocol address (0-based), the data type,
the word and byte order and a linear scaling ``value = raw * scale + offset``. Orders are
named by where the most significant part sits: ``word_order = "big"`` puts the high word
first (ABCD / BADC); ``byte_order = "little"`` swaps the two bytes inside each word
(BADC / DCBA), which pymodbus cannot do itself.
"""

from __future__ import annotations

import logging
import struct
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hearth.errors import ConfigError

log = logging.getLogger(__name__)
DataType = Literal["uint16", "int16", "uint32", "int32", "float32", "uint64", "int64", "float64"]
# struct format and number of 16-bit registers per data type.
DATA_TYPES: dict[str, tuple[str, int]] = {
    "uint16": ("H", 1), "int16": ("h", 1), "uint32": ("I", 2), "int32": ("i", 2),
    "float32": ("f", 2), "uint64": ("Q", 4), "int64": ("q", 4), "float64": ("d", 4),
}
MAX_REGISTERS_PER_READ = 125  # Modbus protocol limit for function codes 3 and 4


class RegisterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(min_length=1, description="Reading field name, with its unit (energy_kwh)")
    type: Literal["holding", "input"] = "holding"
    address: int = Field(ge=0, le=65535, description="Protocol address, 0-based")
    data_type: DataType
    word_order: Literal["big", "little"] = "big"
    byte_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    offset: float = 0.0

    @property
    def count(self) -> int:
        return DATA_TYPES[self.data_type][1]

    @model_validator(mode="after")
    def _fits(self) -> RegisterSpec:
        if self.address + self.count > 65536:
            raise ValueError(f"{self.field}: address {self.address} + {self.count} registers > 65536")
        if self.scale == 0:
            raise ValueError(f"{self.field}: scale must not be 0")
        return self


class RegisterMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    source: str = Field("", description="The maker's document the map is written from")
    replaces: tuple[str, ...] = Field(
        (), description="Former names that still resolve to this map, with a warning")
    registers: tuple[RegisterSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> RegisterMap:
        seen: dict[tuple[str, int], str] = {}
        for spec in self.registers:
            for addr in range(spec.address, spec.address + spec.count):
                key = (spec.type, addr)
                if key in seen:
                    raise ValueError(f"{spec.field} overlaps {seen[key]} at {spec.type} address {addr}")
                seen[key] = spec.field
        return self

    def field(self, name: str) -> RegisterSpec:
        for spec in self.registers:
            if spec.field == name:
                return spec
        raise KeyError(name)


def _to_words(raw_bytes: bytes, spec: RegisterSpec) -> list[int]:
    words = [int.from_bytes(raw_bytes[i:i + 2], "big") for i in range(0, len(raw_bytes), 2)]
    if spec.word_order == "little":
        words.reverse()
    if spec.byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    return words


def decode(registers: list[int], spec: RegisterSpec) -> float:
    """Engineering value of the registers (as read, in protocol order) of one field."""
    fmt, count = DATA_TYPES[spec.data_type]
    if len(registers) != count:
        raise ValueError(f"{spec.field}: {spec.data_type} needs {count} registers, got {len(registers)}")
    words = list(registers)
    if spec.byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    if spec.word_order == "little":
        words.reverse()
    raw = struct.unpack(">" + fmt, b"".join(w.to_bytes(2, "big") for w in words))[0]
    return raw * spec.scale + spec.offset


def encode(value: float, spec: RegisterSpec) -> list[int]:
    """Registers (in protocol order) that hold `value` for this field. Integers round and clamp
    to the data type's range, as a meter's register would saturate."""
    fmt, _ = DATA_TYPES[spec.data_type]
    raw = (value - spec.offset) / spec.scale
    if fmt not in "fd":
        bits = struct.calcsize(fmt) * 8
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if fmt.islower() else (0, (1 << bits) - 1)
        raw = min(max(round(raw), lo), hi)
    return _to_words(struct.pack(">" + fmt, raw), spec)


def load_register_map(path: str | Path) -> RegisterMap:
    path = Path(path)
    try:
        return RegisterMap.model_validate(tomllib.loads(path.read_text()))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigError(f"register map {path}: {exc}") from exc


def load_register_maps(directory: str | Path) -> dict[str, RegisterMap]:
    """Every `*.toml` map in a folder, by its name."""
    maps = {}
    for path in sorted(Path(directory).glob("*.toml")):
        rmap = load_register_map(path)
        if rmap.name in maps:
            raise ConfigError(f"register map name {rmap.name!r} is used twice (in {path})")
        maps[rmap.name] = rmap
    for rmap in maps.values():
        for old in rmap.replaces:
            if old in maps:
                raise ConfigError(f"register map {rmap.name!r} replaces {old!r}, which is "
                                  f"still the name of another map; rename one of them")
    return maps


_warned: set[str] = set()


def resolve_register_map(maps: Mapping[str, RegisterMap], name: str) -> RegisterMap | None:
    """The map called `name`, or the map that `replaces` that former name (logged once as
    deprecated, so a registry filled before a rename keeps polling); None when unknown."""
    if name in maps:
        return maps[name]
    for rmap in maps.values():
        if name in rmap.replaces:
            if name not in _warned:
                _warned.add(name)
                log.warning("register map %r is now called %r (same registers); the old name "
                            "still works but is deprecated: update the device rows (registry "
                            "devices.register_map) to the new name", name, rmap.name)
            return rmap
    return None


DEFAULT_MAPS_DIR = Path(__file__).resolve().parents[1] / "config" / "register_maps"
