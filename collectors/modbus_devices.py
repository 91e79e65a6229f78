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
from hearth.registermap import DEFAULT_MAPS_DIR, RegisterMap, load_register_maps

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
    try:
        return maps[name]
    except KeyError:
        known = ", ".join(sorted(maps)) or "none"
        raise ConfigError(f"device {device_id}: register map {name!r} is unknown (known: "
                          f"{known}); add its TOML file to the register map folder") from None


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


_REGISTRY_QUERY = """
SELECT d.device_id, d.household_id, d.kind, d.gateway_host, d.gateway_port, d.unit_id,
       d.register_map, h.payment_type
FROM devices AS d LEFT JOIN households AS h ON h.household_id = d.household_id
WHERE d.protocol = 'modbus'
ORDER BY d.gateway_host, d.gateway_port, d.unit_id
"""


def devices_from_registry(path: Path, maps: Mapping[str, RegisterMap]) -> list[ModbusDevice]:
    """Modbus devices of the registry (SQLite file at `path`, tables of docs/architecture.md).

    Read-only: the collector never writes the registry. A household's payment type decides
    whether its electricity meter's credit balance and supply state are read."""
    if not Path(path).exists():
        raise ConfigError(f"registry {path} does not exist; create it (hearth registry init, "
                          f"or the simulator) or list devices under [collectors.modbus]")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(_REGISTRY_QUERY).fetchall()
    except sqlite3.Error as exc:
        raise ConfigError(f"registry {path}: cannot read Modbus devices ({exc})") from exc
    finally:
        conn.close()
    devices = []
    for device_id, household_id, kind, host, port, unit_id, map_name, payment_type in rows:
        fuel = FUEL_BY_KIND.get(kind)
        missing = [name for name, value in (("gateway_host", host), ("gateway_port", port),
                                            ("unit_id", unit_id), ("register_map", map_name))
                   if value in (None, "")]
        if fuel is None or missing:
            what = f"kind {kind!r} is not a meter" if fuel is None else f"no {', '.join(missing)}"
            raise ConfigError(f"registry device {device_id} (protocol modbus): {what}; "
                              f"fix the device row")
        prepayment = None if payment_type is None else payment_type == "prepayment"
        devices.append(ModbusDevice(device_id, household_id, fuel, host, int(port), int(unit_id),
                                    _resolve_map(device_id, map_name, maps), prepayment))
    return _check_unique(devices)
