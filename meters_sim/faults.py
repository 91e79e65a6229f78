"""Device faults on demand, reproducible by seed: episodes in time per device, and their effect
on what the device reports (never on the true state of the home).

Kinds (`FAULT_KINDS`):
- ``silent``: the device sends nothing (MQTT) / its unit id does not answer (Modbus) for a spell;
- ``reset``: the cumulative register restarts from 0 at one instant (meters only);
- ``stuck``: every field repeats the last value before the episode for a spell;
- ``spike``: one reading far outside the home's range (power x20-100, a glitched register,
  a thermostat at 85 C or -40 C);
- ``exception``: a Modbus unit answers every request with an exception code for a spell;
- ``slow``: a Modbus unit answers only after `slow_delay_s` for a spell.
Malformed MQTT payloads are per message, not episodes: see `FaultConfig.malformed_rate`.

Episodes of UTC day d for device i come from a generator keyed by (seed, device id, d): the
faults of a date do not depend on where the run started or how it was chunked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

NS_PER_HOUR = 3_600_000_000_000
NS_PER_DAY = 24 * NS_PER_HOUR
FAULT_KINDS = ("silent", "reset", "stuck", "spike", "exception", "slow")
MODBUS_ONLY = ("exception", "slow")
METER_ONLY = ("reset",)


@dataclass(frozen=True)
class FaultConfig:
    """`rate_per_device_day`: expected fault episodes per device per day (all kinds together;
    0 disables). `weights`: relative share of each kind. Durations are means of exponential
    spells [h]."""

    rate_per_device_day: float = 0.0
    weights: dict[str, float] = field(default_factory=lambda: {
        "silent": 3.0, "reset": 1.0, "stuck": 2.0, "spike": 2.0, "exception": 1.0, "slow": 1.0})
    silent_mean_h: float = 3.0
    stuck_mean_h: float = 6.0
    exception_mean_h: float = 1.0
    slow_mean_h: float = 1.0
    slow_delay_s: float = 3.0
    malformed_rate: float = 0.0     # share of MQTT messages replaced by a malformed payload

    def __post_init__(self):
        if self.rate_per_device_day < 0 or not 0 <= self.malformed_rate <= 1:
            raise ValueError("fault rate must be >= 0 and malformed_rate within [0, 1]")
        unknown = set(self.weights) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")


@dataclass(frozen=True)
class UnitFault:
    """What a Modbus gateway should do for one unit id now."""

    kind: str = "none"         # none | silent | exception | slow
    delay_s: float = 0.0


NO_FAULT = UnitFault()


def _device_key(device_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(device_id.encode(), digest_size=8).digest(), "little")


class FaultSchedule:
    """Fault episodes of a set of devices, generated a UTC day at a time."""

    def __init__(self, device_ids, is_modbus, is_meter, config: FaultConfig, seed: int):
        self.device_ids = list(device_ids)
        self.is_modbus = np.asarray(is_modbus, bool)
        self.is_meter = np.asarray(is_meter, bool)
        self.config = config
        self.seed = int(seed)
        self._keys = [_device_key(d) for d in self.device_ids]
        self._days: dict[int, np.ndarray] = {}
        # Episodes as columns: device index, kind index, start ns, end ns, magnitude.
        self.dtype = np.dtype([("device", "i8"), ("kind", "i8"), ("start_ns", "i8"),
                               ("end_ns", "i8"), ("magnitude", "f8")])

    def _kind_probs(self, i: int) -> np.ndarray:
        w = np.array([self.config.weights.get(k, 0.0) for k in FAULT_KINDS], float)
        if not self.is_modbus[i]:
            w[[FAULT_KINDS.index(k) for k in MODBUS_ONLY]] = 0
        if not self.is_meter[i]:
            w[[FAULT_KINDS.index(k) for k in METER_ONLY]] = 0
        return w / w.sum() if w.sum() > 0 else w

    def day(self, day: int) -> np.ndarray:
        if day in self._days:
            return self._days[day]
        cfg = self.config
        rows = []
        if cfg.rate_per_device_day > 0:
            means = {"silent": cfg.silent_mean_h, "stuck": cfg.stuck_mean_h,
                     "exception": cfg.exception_mean_h, "slow": cfg.slow_mean_h}
            for i, key in enumerate(self._keys):
                rng = np.random.default_rng([self.seed & 0xFFFFFFFF, key, day & 0xFFFFFFFF])
                n = rng.poisson(cfg.rate_per_device_day)
                probs = self._kind_probs(i)
                if n == 0 or probs.sum() == 0:
                    continue
                for _ in range(n):
                    kind = int(rng.choice(len(FAULT_KINDS), p=probs))
                    start = day * NS_PER_DAY + int(rng.random() * NS_PER_DAY)
                    name = FAULT_KINDS[kind]
                    dur_h = rng.exponential(means[name]) if name in means else 0.0
                    magnitude = cfg.slow_delay_s if name == "slow" else float(rng.uniform(20, 100))
                    rows.append((i, kind, start, start + int(dur_h * NS_PER_HOUR), magnitude))
        arr = np.array(rows, dtype=self.dtype)
        self._days[day] = arr
        if len(self._days) > 64:   # live runs: forget old days
            del self._days[min(self._days)]
        return arr

    def episodes(self, start_ns: int, end_ns: int) -> np.ndarray:
        """Episodes overlapping [start_ns, end_ns] (episodes last at most ~2 days)."""
        first, last = int(start_ns // NS_PER_DAY) - 2, int(end_ns // NS_PER_DAY)
        eps = np.concatenate([self.day(d) for d in range(first, last + 1)])
        keep = (eps["end_ns"] >= start_ns) & (eps["start_ns"] <= end_ns)
        keep &= eps["end_ns"] - eps["start_ns"] < 2 * NS_PER_DAY
        return eps[keep]

    def active(self, time_ns: int, kinds=FAULT_KINDS) -> dict[int, tuple[str, float]]:
        """Device index -> (kind, magnitude) of spells in force at `time_ns` (last one wins)."""
        out = {}
        for e in self.episodes(time_ns, time_ns):
            name = FAULT_KINDS[e["kind"]]
            if name in kinds and e["start_ns"] <= time_ns < e["end_ns"]:
                out[int(e["device"])] = (name, float(e["magnitude"]))
        return out


class FaultInjector:
    """Applies the schedule to sampled device values, in time order, carrying register offsets
    (resets) and frozen values (stuck) from one call to the next."""

    def __init__(self, schedule: FaultSchedule):
        self.schedule = schedule
        self.offsets: dict[tuple[int, str], float] = {}
        self.applied_resets: set[tuple[int, int]] = set()
        self.last: dict[str, np.ndarray] = {}   # field -> last value sent, by device index
        # Episodes (device index, start ns) that changed what a device sent: a reading dropped
        # or altered. A spell that alters nothing (a meter stuck while nothing is used, a silence
        # between two sample times) leaves no trace in any data and is not labelled a fault.
        self.changed: set[tuple[int, int]] = set()

    def apply(self, time_ns: np.ndarray, values: dict[str, np.ndarray], device_index: np.ndarray,
              counters: tuple[str, ...] = ("energy_kwh", "volume_m3", "energy_wh_total"),
              spike_fields: dict[str, tuple[str, float]] | None = None) -> np.ndarray:
        """Modify `values` {field: (samples, devices)} in place for the devices whose schedule
        indices are `device_index` (devices,); return the (samples, devices) mask of readings
        the devices actually send (False while silent)."""
        T = len(time_ns)
        D = len(device_index)
        present = np.ones((T, D), bool)
        if self.schedule.config.rate_per_device_day <= 0 or T == 0:
            return present
        col_of = {int(d): c for c, d in enumerate(device_index)}
        eps = self.schedule.episodes(int(time_ns[0]), int(time_ns[-1]))
        eps = eps[np.isin(eps["device"], device_index)]
        # Registers restarted from 0 earlier keep their offsets.
        for (dev, name), off in self.offsets.items():
            if dev in col_of and name in values:
                values[name][:, col_of[dev]] -= off
        for e in np.sort(eps, order="start_ns"):
            c = col_of[int(e["device"])]
            kind = FAULT_KINDS[e["kind"]]
            inside = (time_ns >= e["start_ns"]) & (time_ns < max(e["end_ns"], e["start_ns"] + 1))
            key = (int(e["device"]), int(e["start_ns"]))
            if kind in ("silent", "exception"):   # no reading reaches a collector
                present[inside, c] = False
                if inside.any():
                    self.changed.add(key)
            elif kind == "reset":
                key = (int(e["device"]), int(e["start_ns"]))
                k = int(np.searchsorted(time_ns, e["start_ns"]))
                if key in self.applied_resets or k >= T:
                    continue
                self.applied_resets.add(key)
                for name in counters:
                    if name in values:
                        v0 = float(values[name][k, c])
                        values[name][k:, c] -= v0
                        if v0 != 0:
                            self.changed.add(key)
                        okey = (int(e["device"]), name)
                        self.offsets[okey] = self.offsets.get(okey, 0.0) + v0
            elif kind == "stuck":
                idx = np.flatnonzero(inside)
                if not len(idx):
                    continue
                for name, arr in values.items():
                    if idx[0] > 0:
                        frozen = arr[idx[0] - 1, c]
                    else:
                        last = self.last.get(name)
                        frozen = arr[0, c] if last is None or np.isnan(last[e["device"]]) \
                            else last[e["device"]]
                    if not np.array_equal(arr[idx, c], np.full(len(idx), frozen),
                                          equal_nan=True):
                        self.changed.add(key)
                    arr[idx, c] = frozen
            elif kind == "spike":
                k = int(np.searchsorted(time_ns, e["start_ns"]))
                if k >= T or time_ns[k] - e["start_ns"] > NS_PER_HOUR:
                    continue
                for name, (mode, amount) in (spike_fields or {}).items():
                    if name in values:
                        arr = values[name]
                        before = arr[k, c]
                        arr[k, c] = arr[k, c] * e["magnitude"] if mode == "mul" else amount
                        if arr[k, c] != before and not np.isnan(before):
                            self.changed.add(key)
        n = len(self.schedule.device_ids)
        for name, arr in values.items():
            self.last.setdefault(name, np.full(n, np.nan))[device_index] = arr[-1]
        return present
