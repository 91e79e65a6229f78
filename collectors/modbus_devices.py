"""Which meters the Modbus collector polls: from the registry (devices with protocol modbus) or
from an explicit list in config, each with its register map resolved."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearth.errors import ConfigError
from hearth.registermap import (
    DEFAULT_MAPS_DIR,
    RegisterMap,
    load_register_maps,
    resolve_register_map,
)
from hearth.registry.db import registry_exists

FUEL_BY_KIND = {"electricity_meter": "electricity", "gas_meter": "gas"}


@dataclass(frozen=True)
class ModbusDevice:
    """One meter behind a Modbus TCP gateway."""

    device_id: str
    household_id: str
    fuel: str  # electricity | gas
    gateway_host: str
    gateway_port: int
    unit_id: int
    register_map: RegisterMap
    prepayment: bool | None = None  # False: do not read credit_gbp/supply_on

    @property
    def gateway(self) -> tuple[str, int]:
        return (self.gateway_host, self.gateway_port)


def maps_dir_of(configured: Path | None) -> Path:
    """The register map folder: the configured one (relative to $HEARTH_HOME or the project
    folder) or the shipped config/register_maps."""
    if configured is None:
        return DEFAULT_MAPS_DIR
    if configured.is_absolute():
        return configured
    base = Path(os.environ.get("HEARTH_HOME") or DEFAULT_MAPS_DIR.parents[1])
    return base / configured


def load_maps(configured: Path | None) -> dict[str, RegisterMap]:
    folder = maps_dir_of(configured)
    if not folder.is_dir():
        raise ConfigError(f"collectors.modbus.maps_dir: {folder} is not a folder of register "
                          f"map TOML files; create it or point maps_dir at one")
    return load_register_maps(folder)


def _resolve_map(device_id: str, name: str, maps: Mapping[str, RegisterMap]) -> RegisterMap:
    rmap = resolve_register_map(maps, name)
    if rmap is None:
        known = ", ".join(sorted(maps)) or "none"
        raise ConfigError(f"device {device_id}: register map {name!r} is unknown (known: "
                          f"{known}); add its TOML file to the register map folder")
    return rmap


def _check_unique(devices: list[ModbusDevice]) -> list[ModbusDevice]:
    seen: dict[tuple[str, int, int], str] = {}
    ids: set[str] = set()
    for d in devices:
        key = (d.gateway_host, d.gateway_port, d.unit_id)
        if key in seen:
            raise ConfigError(f"devices {seen[key]} and {d.device_id} both use unit id "
                              f"{d.unit_id} on gateway {d.gateway_host}:{d.gateway_port}")
        if d.device_id in ids:
            raise ConfigError(f"device id {d.device_id} is listed twice")
        seen[key] = d.device_id
        ids.add(d.device_id)
    return devices


def devices_from_config(items: Iterable[Any], maps: Mapping[str, RegisterMap]
                        ) -> list[ModbusDevice]:
    """Devices from `[[collectors.modbus.devices]]` entries (ModbusDeviceSettings)."""
    return _check_unique([
        ModbusDevice(item.device_id, item.household_id, item.fuel, item.gateway_host,
                     item.gateway_port, item.unit_id,
                     _resolve_map(item.device_id, item.register_map, maps), item.prepayment)
        for item in items])


def devices_from_registry(path: Path, maps: Mapping[str, RegisterMap]) -> list[ModbusDevice]:
    """Modbus devices of the registry (`hearth.registry`, SQLite file at `path`).

    The collector only reads it (opening brings its schema up to date, as every part does).
    A household's payment type decides whether its meters' credit balance and supply state
    are read."""
    from hearth.registry import Registry

    if not registry_exists(path):
        raise ConfigError(f"registry {path} does not exist; fill it (hearth registry import or "
                          f"generate) or list the meters under [[collectors.modbus.devices]]")
    try:
        with Registry(path) as reg:
            rows = reg.devices(protocol="modbus")
            payment = {h.household_id: h.payment_type for h in reg.households()}
    except sqlite3.Error as exc:  # a damaged or foreign file
        raise ConfigError(f"registry {path}: cannot read the Modbus devices ({exc})") from exc
    devices = []
    for row in rows:
        fuel = FUEL_BY_KIND.get(row.kind)
        if fuel is None:
            raise ConfigError(f"registry device {row.device_id}: kind {row.kind!r} is not a "
                              f"meter but its protocol is modbus; fix the device row")
        payment_type = payment.get(row.household_id)
        prepayment = None if payment_type is None else payment_type == "prepayment"
        devices.append(ModbusDevice(row.device_id, row.household_id, fuel, row.gateway_host,
                                    int(row.gateway_port), int(row.unit_id),
                                    _resolve_map(row.device_id, row.register_map, maps),
                                    prepayment))
    devices.sort(key=lambda d: (d.gateway_host, d.gateway_port, d.unit_id))
    return _check_unique(devices)
