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
from dataclasses import dataclass

import numpy as np

from meters_sim.model import Simulation
from meters_sim.mqtt_publisher import MqttPublisher, topic_for
from meters_sim.truth import TruthAccumulator
from meters_sim.views import DeviceViews

log = logging.getLogger(__name__)
NS = 1_000_000_000
HOUR_NS = 3600 * NS


@dataclass
class LiveStats:
    steps: int = 0
    published: int = 0
    silent_skipped: int = 0
    sim_start_ns: int = 0
    sim_end_ns: int = 0


class LiveRunner:
    """Drives a Simulation in real time for the MQTT publisher and Modbus gateways."""

    def __init__(self, sim: Simulation, views: DeviceViews, speed: float,
                 publisher: MqttPublisher | None = None, gateways=None,
                 truth: TruthAccumulator | None = None, default_interval_s: int = 60,
                 max_lag_steps: int = 10_000, checkpoint=None, checkpoint_every_s: float = 60.0,
                 max_lead_s: float = 43_200.0, weather_sink=None):
        if speed <= 0:
            raise ValueError("speed must be > 0 (simulated seconds per real second)")
        self.sim, self.views, self.speed = sim, views, float(speed)
        self.publisher, self.gateways, self.truth = publisher, gateways, truth
        self.max_lag_steps = max_lag_steps
        self.checkpoint = checkpoint          # callable saving the sim state, or None
        self.checkpoint_every_s = checkpoint_every_s
        self.max_lead_ns = int(max_lead_s * NS)
        self.weather_sink = weather_sink      # callable(lines): hourly weather and forecast
        self.stats = LiveStats()
        mqtt_idx = np.flatnonzero(views.protocol == "mqtt")
        self._mqtt = [(int(i), str(views.device_id[i]), topic_for(views.rows[i]),
                       int(views.rows[i].get("interval_s") or default_interval_s) * NS)
                      for i in mqtt_idx]
        # The gateways ask the views for values and faults at each request (fault_of); the
        # loop only yields to them between steps.
        self._has_gateways = bool(gateways)

    def step_once(self) -> None:
        """Advance one step, refresh the views (the gateways read them), publish what is due."""
        for tr in self.sim.run(1):
            if self.truth is not None:
                self.truth.update(tr)
        self.views.update(self.sim)
        t = self.sim.time_ns
        self.stats.steps += 1
        self.stats.sim_end_ns = t
        if self.weather_sink is not None and t % HOUR_NS == 0:
            from meters_sim.backfill import weather_forecast_lines, weather_lines

            areas = np.array(self.sim.pf.areas, dtype=object)
            now = weather_lines(areas, np.array([t]), self.sim.t_out_area[None, :])
            self.weather_sink(now + weather_forecast_lines(self.sim))
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

    async def run(self, stop: asyncio.Event | None = None, duration_s: float | None = None,
                  status_every_s: float = 60.0) -> LiveStats:
        """Run until `stop` is set or `duration_s` real seconds have passed.

        Sim time advances at `speed` x real time until it is `max_lead_s` ahead of the wall
        clock, then at real time, so that timestamps never run further into the future than
        collectors accept (their `max_future_s`)."""
        stop = stop or asyncio.Event()
        step_ns = self.sim.step_ns
        t0 = time.monotonic()
        self.stats.sim_start_ns = self.sim.time_ns
        self.views.update(self.sim)
        # Piecewise clock: sim time = anchor_sim + (monotonic - anchor_mono) x rate.
        anchor_sim, anchor_mono, rate = self.sim.time_ns, t0, self.speed
        if self.sim.time_ns - time.time_ns() >= self.max_lead_ns:
            rate = 1.0
            log.info("sim time is already %.1f h ahead of the clock: running at real time",
                     (self.sim.time_ns - time.time_ns()) / 3.6e12)
        next_status = t0 + status_every_s
        next_checkpoint = t0 + self.checkpoint_every_s
        next_lag_warning = t0
        while not stop.is_set():
            now = time.monotonic()
            if duration_s is not None and now - t0 >= duration_s:
                break
            target = anchor_sim + int((now - anchor_mono) * rate * NS)
            cap = time.time_ns() + self.max_lead_ns
            if rate != 1.0 and target >= cap:
                log.info("sim time reaches %.1f h ahead of the clock ([sim] max_lead_s): from"
                         " there on it runs at real time", self.max_lead_ns / 3.6e12)
                anchor_sim, anchor_mono, rate = cap, now, 1.0
                target = cap
            due = (target - self.sim.time_ns) // step_ns
            if due > self.max_lag_steps and now >= next_lag_warning:
                next_lag_warning = now + 30.0
                log.warning("simulator is %d steps behind real time x %g; lower --speed",
                            due, rate)
            for _ in range(int(min(due, self.max_lag_steps))):
                self.step_once()
                if self._has_gateways:
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
            wait = (self.sim.time_ns + step_ns - anchor_sim) / NS / rate - (
                time.monotonic() - anchor_mono)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(max(wait, 0.001), 0.5))
        if self.checkpoint is not None:
            self.checkpoint()
        return self.stats
