"""Live running: sim time advances at `speed` x real time; after every step the device views
are refreshed, MQTT devices whose interval has come round publish, and the Modbus gateways
serve the latest values (and the fault state of each unit).

Clock: sim time starts where the Simulation stands (the end of the backfill, or now) and runs
at `speed` simulated seconds per real second. Every timestamp the simulator produces (MQTT `ts`,
the meters' `device_time_s`) is sim time; a device publishes when sim time is a multiple of its
`interval_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from meters_sim.model import Simulation
from meters_sim.mqtt_publisher import MqttPublisher, topic_for
from meters_sim.truth import TruthAccumulator
from meters_sim.views import DeviceViews

log = logging.getLogger(__name__)
NS = 1_000_000_000


@dataclass
class LiveStats:
    steps: int = 0
    published: int = 0
    silent_skipped: int = 0
    sim_start_ns: int = 0
    sim_end_ns: int = 0
    faults_set: dict[str, int] = field(default_factory=dict)


class LiveRunner:
    """Drives a Simulation in real time for the MQTT publisher and Modbus gateways."""

    def __init__(self, sim: Simulation, views: DeviceViews, speed: float,
                 publisher: MqttPublisher | None = None, gateways=None,
                 truth: TruthAccumulator | None = None, default_interval_s: int = 60,
                 max_lag_steps: int = 10_000, checkpoint=None, checkpoint_every_s: float = 60.0):
        if speed <= 0:
            raise ValueError("speed must be > 0 (simulated seconds per real second)")
        self.sim, self.views, self.speed = sim, views, float(speed)
        self.publisher, self.gateways, self.truth = publisher, gateways, truth
        self.max_lag_steps = max_lag_steps
        self.checkpoint = checkpoint          # callable saving the sim state, or None
        self.checkpoint_every_s = checkpoint_every_s
        self.stats = LiveStats()
        mqtt_idx = np.flatnonzero(views.protocol == "mqtt")
        self._mqtt = [(int(i), str(views.device_id[i]), topic_for(views.rows[i]),
                       int(views.rows[i].get("interval_s") or default_interval_s) * NS)
                      for i in mqtt_idx]
        # Modbus units the gateways serve: (gateway, unit id, device index).
        self._units = []
        for gw in gateways or ():
            for unit in gw.units:
                i = views._unit_index.get((int(gw.port), int(unit)))
                if i is not None:
                    self._units.append((gw, int(unit), i))
        self._faulted: dict[tuple[int, int], tuple[str, float]] = {}

    def step_once(self) -> None:
        """Advance one step, refresh the views, publish what is due, sync gateway faults."""
        for tr in self.sim.run(1):
            if self.truth is not None:
                self.truth.update(tr)
        self.views.update(self.sim)
        t = self.sim.time_ns
        self.stats.steps += 1
        self.stats.sim_end_ns = t
        if self.publisher is not None:
            for i, device_id, topic, interval_ns in self._mqtt:
                if t % interval_ns:
                    continue
                values = self.views.device_values(i)
                if values is None:
                    self.stats.silent_skipped += 1
                    continue
                values.pop("device_time_s", None)
                values.pop("energy_wh_total", None)
                self.publisher.publish(device_id, topic, t, values)
                self.stats.published += 1
        if self._units:
            self._sync_faults(t)

    def _sync_faults(self, t: int) -> None:
        active = self.views.schedule.active(t, ("exception", "slow"))
        for gw, unit, i in self._units:
            want = active.get(i)
            key = (id(gw), unit)
            have = self._faulted.get(key)
            if want == have:
                continue
            if want is None:
                gw.clear_fault(unit)
                self._faulted.pop(key, None)
            else:
                kind, magnitude = want
                if kind == "slow":
                    gw.set_fault(unit, "slow", delay_s=magnitude)
                else:
                    gw.set_fault(unit, "exception")
                self._faulted[key] = want
                self.stats.faults_set[kind] = self.stats.faults_set.get(kind, 0) + 1

    async def run(self, stop: asyncio.Event | None = None, duration_s: float | None = None,
                  status_every_s: float = 60.0) -> LiveStats:
        """Run until `stop` is set or `duration_s` real seconds have passed."""
        stop = stop or asyncio.Event()
        step_ns = self.sim.step_ns
        t0 = time.monotonic()
        sim0 = self.sim.time_ns
        self.stats.sim_start_ns = sim0
        self.views.update(self.sim)
        next_status = t0 + status_every_s
        next_checkpoint = t0 + self.checkpoint_every_s
        next_lag_warning = t0
        while not stop.is_set():
            now = time.monotonic()
            if duration_s is not None and now - t0 >= duration_s:
                break
            target = sim0 + int((now - t0) * self.speed * NS)
            due = (target - self.sim.time_ns) // step_ns
            if due > self.max_lag_steps and now >= next_lag_warning:
                next_lag_warning = now + 30.0
                log.warning("simulator is %d steps behind real time x %g; lower --speed",
                            due, self.speed)
            for _ in range(int(min(due, self.max_lag_steps))):
                self.step_once()
                if len(self._units):
                    await asyncio.sleep(0)      # let the gateways answer between steps
            if self.checkpoint is not None and now >= next_checkpoint:
                next_checkpoint = now + self.checkpoint_every_s
                self.checkpoint()
            if now >= next_status:
                next_status = now + status_every_s
                log.info("sim: %s UTC, %d steps, %d MQTT readings published, %d pending acks",
                         np.datetime64(self.sim.time_ns, "ns").astype("datetime64[s]"),
                         self.stats.steps, self.stats.published,
                         self.publisher.pending if self.publisher else 0)
            wait = (self.sim.time_ns + step_ns - sim0) / NS / self.speed - (time.monotonic() - t0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(max(wait, 0.001), 0.5))
        if self.checkpoint is not None:
            self.checkpoint()
        return self.stats
