"""What each device reports: the true state of its home seen through a sensor (resolution,
noise, room offsets) and through its faults.

`DeviceViews` is built from device rows shaped like the registry's `devices` table. It samples
all devices at once, vectorised: `sample(time_ns, true)` takes true per-home fields shaped
(samples, homes) and returns per-kind {field: (samples, devices)} arrays plus the mask of
readings actually sent. Live, `update(sim)` samples the current step and serves
`values_for_unit(port, unit_id)` to the Modbus gateways and `readings()` to MQTT publishers.

Fields and units per kind (`KIND_FIELDS`):
- electricity_meter: energy_kwh (cumulative import), power_w, voltage_v, credit_gbp
  (prepayment only), supply_on (1/0), energy_wh_total (the same register in Wh);
- gas_meter: volume_m3 (cumulative), energy_kwh (= m3 x 1.02264 x 39.5 / 3.6), flow_m3_per_h,
  credit_gbp (prepayment only);
- thermostat: temp_c, setpoint_c, humidity_pct, heating_on (1/0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from meters_sim import params as pm
from meters_sim.faults import NO_FAULT, FaultConfig, FaultInjector, FaultSchedule, UnitFault
from meters_sim.homes import Portfolio
from meters_sim.physics import saturation_vapour_density_g_per_m3
from meters_sim.rooms import ROOM_OFFSET_C, room_key, room_offsets_c

KINDS = ("electricity_meter", "gas_meter", "thermostat")
KIND_FIELDS = {
    "electricity_meter": ("energy_kwh", "power_w", "voltage_v", "credit_gbp", "supply_on",
                          "energy_wh_total"),
    "gas_meter": ("volume_m3", "energy_kwh", "flow_m3_per_h", "credit_gbp"),
    "thermostat": ("temp_c", "setpoint_c", "humidity_pct", "heating_on"),
}
FUEL = {"electricity_meter": "electricity", "gas_meter": "gas"}
# Room temperature offsets from the home's air node [K], by season: meters_sim/rooms.py.
SPIKES = {
    "electricity_meter": {"power_w": ("mul", 0.0), "energy_kwh": ("set", 999_999.0)},
    "gas_meter": {"flow_m3_per_h": ("mul", 0.0), "volume_m3": ("set", 99_999.0)},
    "thermostat": {"temp_c": ("set", 85.0), "humidity_pct": ("set", 0.0)},
}
COUNTERS = ("energy_kwh", "volume_m3", "energy_wh_total")


@dataclass(frozen=True)
class SimReading:
    """Shaped like collectors.base.Reading / hearth.influx.Point (the sim imports neither)."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, float | int | bool | str]
    time_ns: int


class DeviceViews:
    """All devices of the portfolio, sampled together."""

    def __init__(self, devices: Iterable[Mapping], portfolio: Portfolio, seed: int,
                 faults: FaultConfig | None = None):
        rows = [dict(d) for d in devices]
        self.pf = portfolio
        self.seed = int(seed)
        known = {h: i for i, h in enumerate(portfolio.household_id)}
        missing = sorted({r["household_id"] for r in rows} - set(known))
        if missing:
            raise ValueError(f"devices refer to households not simulated: {missing[:5]}")
        bad = sorted({r["kind"] for r in rows} - set(KINDS))
        if bad:
            raise ValueError(f"unknown device kind {bad}; expected one of {KINDS}")
        self.rows = rows
        self.device_id = np.array([r["device_id"] for r in rows], dtype=object)
        self.kind = np.array([r["kind"] for r in rows], dtype=object)
        self.home = np.array([known[r["household_id"]] for r in rows], dtype=int)
        self.protocol = np.array([r.get("protocol") or "mqtt" for r in rows], dtype=object)
        self.room = np.array([r.get("room") or "living_room" for r in rows], dtype=object)
        self.by_kind = {k: np.flatnonzero(self.kind == k) for k in KINDS}
        self._unit_index: dict[tuple[int, int], int] = {}
        for i, r in enumerate(rows):
            if r.get("protocol") == "modbus":
                key = (int(r["gateway_port"]), int(r["unit_id"]))
                if key in self._unit_index:
                    raise ValueError(f"two devices on gateway port {key[0]} unit id {key[1]}")
                self._unit_index[key] = i
        self._unit_rows = {i: key for key, i in self._unit_index.items()}
        self.faults = faults or FaultConfig()
        self.schedule = FaultSchedule(self.device_id, self.protocol == "modbus",
                                      self.kind != "thermostat", self.faults, seed)
        self.injector = FaultInjector(self.schedule)
        self._row_of = {int(i): (kind, c) for kind, idx in self.by_kind.items()
                        for c, i in enumerate(idx)}
        self._index_of = {str(d): i for i, d in enumerate(self.device_id)}
        self.latest: dict[str, dict[str, np.ndarray]] = {}
        self.latest_present: dict[str, np.ndarray] = {}
        self.latest_time_ns: int | None = None
        self._active_unit_faults: dict[int, tuple[str, float]] = {}
        self._room_offset = np.array([ROOM_OFFSET_C.get(room_key(r), 0.0) for r in self.room])

    # ---------------------------------------------------------------- sampling
    def _noise(self, time_ns: np.ndarray, n: int, stream: int) -> np.ndarray:
        """(samples, n) standard normals keyed by (seed, stream, sample time): the same reading
        gets the same noise however the run is chunked."""
        return np.stack([np.random.default_rng([self.seed, stream, int(t) & 0xFFFFFFFFFFFF]
                                               ).standard_normal(n) for t in time_ns])

    def sample(self, time_ns: np.ndarray, true: Mapping[str, np.ndarray]
               ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
        """Device values at sample times `time_ns` (samples,) from true per-home fields
        (samples, homes) (the names of `Trace`). Returns ({kind: {field: (samples, devices)}},
        {kind: present mask}); faults applied; call in time order."""
        time_ns = np.asarray(time_ns, dtype="int64")
        pf = self.pf
        values: dict[str, dict[str, np.ndarray]] = {}
        present: dict[str, np.ndarray] = {}
        noise = self._noise(time_ns, len(self.device_id), 0x5E)
        z2 = self._noise(time_ns, len(self.device_id), 0x5F)
        for kind, idx in self.by_kind.items():
            if not len(idx):
                continue
            h = self.home[idx]
            z = noise[:, idx]

            def col(name, h=h):
                return np.asarray(true[name], dtype=float)[:, h]

            if kind == "electricity_meter":
                power = col("power_w") * (1 + 0.005 * z)
                energy = col("energy_kwh")
                credit = np.where(pf.prepayment[h], col("credit_gbp"), np.nan)
                v = {"energy_kwh": np.round(energy, 3), "power_w": np.maximum(power, 0.0),
                     # Voltage: feeder level swinging over the day, sagging ~1 V per 3 kW of
                     # the home's own load.
                     "voltage_v": np.round(pm.VOLTAGE_MEAN_V + pm.VOLTAGE_SD_V * np.sin(
                         h + 2 * np.pi * time_ns[:, None] / 8.64e13) + 0.3 * z2[:, idx]
                         - power / 3000.0, 1),
                     "credit_gbp": np.round(credit, 2), "supply_on": col("supply_on"),
                     "energy_wh_total": np.floor(energy * 1000.0)}
            elif kind == "gas_meter":
                vol = col("volume_m3")
                credit = np.where(pf.prepayment[h], col("gas_credit_gbp"), np.nan)
                v = {"volume_m3": np.round(vol, 3), "energy_kwh": np.round(vol * pm.KWH_PER_M3, 3),
                     "flow_m3_per_h": np.maximum(col("gas_flow_m3_per_h") * (1 + 0.01 * z), 0.0),
                     "credit_gbp": np.round(credit, 2)}
            else:
                t_air = col("t_air_c")
                # Without the season switch (old callers): the heating-season offsets.
                off = (room_offsets_c(self.room[idx], col("season_on") > 0.5)
                       if "season_on" in true else self._room_offset[idx])
                t_room = t_air + off
                # Same water vapour, different temperature: RH follows the room's saturation.
                rh = col("rh_pct") * saturation_vapour_density_g_per_m3(t_air) \
                    / saturation_vapour_density_g_per_m3(t_room)
                v = {"temp_c": np.round(t_room + 0.15 * z, 1), "setpoint_c": col("setpoint_c"),
                     "humidity_pct": np.clip(np.round(rh + 1.5 * z2[:, idx], 1), 0, 100),
                     "heating_on": col("heating_on")}
            present[kind] = self.injector.apply(time_ns, v, idx, COUNTERS, SPIKES[kind])
            values[kind] = v
        return values, present

    def update(self, sim) -> None:
        """Sample the simulation's current step (live)."""
        t = np.array([sim.time_ns], dtype="int64")
        true = {k: v[None, :] for k, v in sim.current.items()}
        self.latest, self.latest_present = self.sample(t, true)
        self.latest_time_ns = int(sim.time_ns)
        self._active_unit_faults = self.schedule.active(self.latest_time_ns, ("exception", "slow"))

    # ---------------------------------------------------------------- persistence
    def fault_state(self) -> dict:
        """Register offsets left by counter resets (a meter keeps them across restarts)."""
        inj = self.injector
        return {"offsets": [[str(self.device_id[d]), name, value]
                            for (d, name), value in inj.offsets.items()],
                "applied_resets": [[str(self.device_id[d]), t] for d, t in inj.applied_resets],
                "changed": [[str(self.device_id[d]), t] for d, t in inj.changed]}

    def restore_fault_state(self, state: dict) -> None:
        inj = self.injector
        for device_id, name, value in state.get("offsets", []):
            if device_id in self._index_of:
                inj.offsets[(self._index_of[device_id], name)] = float(value)
        for device_id, t in state.get("applied_resets", []):
            if device_id in self._index_of:
                inj.applied_resets.add((self._index_of[device_id], int(t)))
        for device_id, t in state.get("changed", []):
            if device_id in self._index_of:
                inj.changed.add((self._index_of[device_id], int(t)))

    # ---------------------------------------------------------------- live lookups
    def device_values(self, i: int) -> dict[str, float] | None:
        """Current values of device index i, None while it is silent."""
        kind, c = self._row_of[i]
        if not self.latest_present[kind][0, c]:
            return None
        out = {}
        for name, arr in self.latest[kind].items():
            value = float(arr[0, c])
            if not np.isnan(value):
                out[name] = value
        # The meter's clock (sim time), for register maps that declare a device_time_s field.
        out["device_time_s"] = self.latest_time_ns / 1e9
        return out

    def clock_s(self) -> float:
        """The devices' clock: sim time of the latest sample [s since the Unix epoch]."""
        return (self.latest_time_ns or 0) / 1e9

    def values_for_device(self, device_id: str) -> dict[str, float] | None:
        """Current values of a device by id (the gateway's `values_of`), None while silent."""
        i = self._index_of.get(device_id)
        if i is None or self.latest_time_ns is None:
            return None
        return self.device_values(i)

    def values_for_unit(self, gateway_port: int, unit_id: int) -> dict[str, float] | None:
        """Current values of the meter behind (gateway port, unit id), by register-map field
        name; None if no such unit or it is silent."""
        i = self._unit_index.get((int(gateway_port), int(unit_id)))
        if i is None or self.latest_time_ns is None:
            return None
        return self.device_values(i)

    def unit_fault(self, gateway_port: int, unit_id: int) -> UnitFault:
        """Fault state a gateway should act on for one unit: silent / exception / slow."""
        i = self._unit_index.get((int(gateway_port), int(unit_id)))
        if i is None or self.latest_time_ns is None:
            return NO_FAULT
        active = self._active_unit_faults.get(i)
        if active:
            return UnitFault(active[0], active[1] if active[0] == "slow" else 0.0)
        kind, c = self._row_of[i]
        if not self.latest_present[kind][0, c]:
            return UnitFault("silent")
        return NO_FAULT

    def fault_for_device(self, device_id: str) -> UnitFault:
        """`unit_fault` by device id (the gateways' `fault_of`)."""
        i = self._index_of.get(device_id)
        if i is None or self.latest_time_ns is None or i not in self._unit_rows:
            return NO_FAULT
        return self.unit_fault(*self._unit_rows[i])

    def units(self) -> dict[int, list[tuple[int, str, str]]]:
        """Modbus units per gateway port: [(unit_id, device_id, register_map)]."""
        out: dict[int, list[tuple[int, str, str]]] = {}
        for (port, unit), i in sorted(self._unit_index.items()):
            out.setdefault(port, []).append((unit, self.device_id[i], self.rows[i].get(
                "register_map") or ("hearth-sim-gas" if self.kind[i] == "gas_meter" else "hearth-sim-em1")))
        return out

    def readings(self, protocol: str | None = None, source: str | None = None) -> list[SimReading]:
        """Current readings of the devices (optionally of one protocol), silent ones left out."""
        out = []
        for idx in self.by_kind.values():
            for i in idx:
                if protocol and self.protocol[i] != protocol:
                    continue
                values = self.device_values(int(i))
                if values is None:
                    continue
                out.append(self.reading(int(i), values, self.latest_time_ns,
                                        source or str(self.protocol[i])))
        return out

    def tags(self, i: int, source: str) -> dict[str, str]:
        kind = self.kind[i]
        hid = str(self.pf.household_id[self.home[i]])
        if kind == "thermostat":
            return {"household": hid, "device": str(self.device_id[i]), "room": str(self.room[i])}
        return {"household": hid, "device": str(self.device_id[i]), "fuel": FUEL[kind],
                "source": source}

    def reading(self, i: int, values: Mapping[str, float], time_ns: int, source: str) -> SimReading:
        measurement = "thermostat" if self.kind[i] == "thermostat" else "meter"
        fields = {k: v for k, v in values.items() if k not in ("energy_wh_total", "device_time_s")}
        if measurement == "thermostat":
            fields["heating_on"] = bool(fields.get("heating_on", 0))
        elif "supply_on" in fields:
            fields["supply_on"] = bool(fields["supply_on"])
        return SimReading(measurement, self.tags(i, source), fields, int(time_ns))


def synthetic_devices(households: Iterable[Mapping], base_port: int = 15020,
                      units_per_gateway: int = 50, mqtt_meter_share: float = 0.2,
                      seed: int = 42, interval_s: int = 60) -> list[dict]:
    """Device rows in the registry's schema: meters on Modbus gateways (one per block of
    `units_per_gateway` unit ids) except a share publishing over MQTT; thermostats on MQTT
    (a second, bedroom thermostat in homes of 3+ bedrooms). For tests and registry-less runs."""
    rng = np.random.default_rng([int(seed), 0xDE])
    rows: list[dict] = []
    gateway, unit = 0, 0
    for hh in households:
        hid = hh["household_id"]
        meters = [("electricity_meter", "hearth-sim-em1", "E")]
        if int(hh.get("has_gas", 0)):
            meters.append(("gas_meter", "hearth-sim-gas", "G"))
        mqtt_meters = rng.random() < mqtt_meter_share
        for kind, rmap, letter in meters:
            dev = {"device_id": f"{hid}-{letter}", "household_id": hid, "kind": kind,
                   "protocol": "mqtt" if mqtt_meters else "modbus", "gateway_host": None,
                   "gateway_port": None, "unit_id": None, "register_map": None,
                   "mqtt_topic": None, "room": None, "interval_s": interval_s}
            if mqtt_meters:
                dev["mqtt_topic"] = f"hearth/{hid}/{dev['device_id']}/{kind}"
            else:
                unit += 1
                if unit > units_per_gateway:
                    gateway, unit = gateway + 1, 1
                dev.update(gateway_host="127.0.0.1", gateway_port=base_port + gateway,
                           unit_id=unit, register_map=rmap)
            rows.append(dev)
        rooms = ["living_room"] + (["bedroom"] if int(hh.get("bedrooms", 1)) >= 3 else [])
        for n, room in enumerate(rooms, start=1):
            did = f"{hid}-T{n}"
            rows.append({"device_id": did, "household_id": hid, "kind": "thermostat",
                         "protocol": "mqtt", "gateway_host": None, "gateway_port": None,
                         "unit_id": None, "register_map": None,
                         "mqtt_topic": f"hearth/{hid}/{did}/thermostat", "room": room,
                         "interval_s": interval_s})
    return rows
