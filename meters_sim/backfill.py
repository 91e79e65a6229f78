"""Backfill: days of simulated history written straight into InfluxDB, vectorised.

Points (timestamps = sim sample times, every `interval_s`, aligned to the interval):
- `meter` (tags household, device, fuel, source="backfill"): electricity meters energy_kwh
  (cumulative), power_w, voltage_v, supply_on (bool), credit_gbp (prepayment only); gas meters
  volume_m3 (cumulative), energy_kwh (cumulative), flow_m3_per_h, credit_gbp (prepayment only);
- `thermostat` (tags household, device, room): temp_c, setpoint_c, humidity_pct, heating_on (bool);
- `weather` (tag area = the registry's address_area): temp_c, the sim's outdoor temperature.
Device faults (gaps, resets, stuck values, spikes) are applied as live, when configured.
`usage_30m` is NOT written here: the collectors' derivation makes it from these registers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from meters_sim.model import Simulation, Trace
from meters_sim.truth import TruthAccumulator
from meters_sim.views import FUEL, DeviceViews

log = logging.getLogger(__name__)
NS = 1_000_000_000

METER_FIELDS = {
    "electricity_meter": ("energy_kwh", "power_w", "voltage_v", "supply_on"),
    "gas_meter": ("volume_m3", "energy_kwh", "flow_m3_per_h"),
}
THERMOSTAT_FIELDS = ("temp_c", "setpoint_c", "humidity_pct", "heating_on")
BOOL_FIELDS = ("supply_on", "heating_on")


@dataclass
class BackfillResult:
    points: dict[str, int] = field(default_factory=lambda: {"meter": 0, "thermostat": 0,
                                                            "weather": 0})
    dead_lettered: int = 0
    samples: int = 0
    start_ns: int = 0
    end_ns: int = 0
    seconds: float = 0.0


def _kind_lines(views: DeviceViews, kind: str, times: np.ndarray, values: dict[str, np.ndarray],
                present: np.ndarray, source: str) -> tuple[str, list[str]]:
    from hearth.influx import lines_from_arrays

    idx = views.by_kind[kind]
    pf = views.pf
    hid = pf.household_id[views.home[idx]].astype(str)
    dev = views.device_id[idx].astype(str)
    if kind == "thermostat":
        groups = [(np.ones(len(idx), bool), THERMOSTAT_FIELDS)]
        measurement = "thermostat"
    else:
        measurement = "meter"
        prepay = pf.prepayment[views.home[idx]]
        base = METER_FIELDS[kind]
        groups = [(~prepay, base), (prepay, (*base, "credit_gbp"))]
    lines: list[str] = []
    for cols, names in groups:
        mask = present & cols[None, :]
        for name in names:
            mask &= np.isfinite(values[name])
        t_idx, d_idx = np.nonzero(mask)
        if not len(t_idx):
            continue
        fields = {}
        for name in names:
            v = values[name][t_idx, d_idx]
            fields[name] = v > 0.5 if name in BOOL_FIELDS else v.astype(float)
        if kind == "thermostat":
            # `source` marks bulk history, so the advisor does not judge its coarse step as
            # the device's own reporting.
            tags = {"household": hid[d_idx], "device": dev[d_idx],
                    "room": views.room[idx][d_idx].astype(str), "source": source}
        else:
            tags = {"household": hid[d_idx], "device": dev[d_idx], "fuel": FUEL[kind],
                    "source": source}
        lines += lines_from_arrays(measurement, tags, fields, times[t_idx])
    return measurement, lines


def backfill(client, sim: Simulation, views: DeviceViews, days: float, interval_s: int = 1800,
             truth: TruthAccumulator | None = None, source: str = "backfill",
             progress: bool = True, forecast_hours: int = 120) -> BackfillResult:
    """Run `sim` for `days` and write every `interval_s` sample of every device (and the
    weather, then a weather forecast `forecast_hours` ahead of the end) through
    `client.write_lines`. Returns the point counts (the forecast not included)."""
    if interval_s % sim.step_s:
        raise ValueError(f"backfill interval {interval_s} s is not a multiple of the"
                         f" simulation step {sim.step_s} s")
    n_steps = round(days * 86400 / sim.step_s)
    interval_ns = interval_s * NS
    res = BackfillResult(start_ns=sim.time_ns)
    t0 = time.monotonic()
    bar = None
    if progress:
        from tqdm import tqdm

        # Counted in whole steps (shown in days): summing fractions of a day overran the total.
        bar = tqdm(total=n_steps, unit="day", unit_scale=sim.step_s / 86400, desc="backfill",
                   bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} days [{elapsed}<{remaining}]")
    areas = np.array(sim.pf.areas, dtype=object).astype(str)
    for trace in sim.run(n_steps):
        if truth is not None:
            truth.update(trace)
        sel = trace.time_ns % interval_ns == 0
        if sel.any():
            _write_samples(client, views, trace, sel, areas, res, source)
        if bar is not None:
            bar.update(trace.steps)
    if bar is not None:
        bar.close()
    if forecast_hours:
        client.write_lines(weather_forecast_lines(sim, forecast_hours))
    res.end_ns = sim.time_ns
    res.seconds = time.monotonic() - t0
    log.info("backfill: %.1f days, %d meter, %d thermostat and %d weather points in %.1f s",
             days, res.points["meter"], res.points["thermostat"], res.points["weather"],
             res.seconds)
    return res


def weather_lines(areas: np.ndarray, times: np.ndarray, temp_c: np.ndarray) -> list[str]:
    """`weather` points (tag area, field temp_c) for temperatures (times, areas)."""
    from hearth.influx import lines_from_arrays

    areas = np.asarray(areas).astype(str)
    return lines_from_arrays("weather", {"area": np.tile(areas, len(times))},
                             {"temp_c": np.round(np.asarray(temp_c, float).ravel(), 2)},
                             np.repeat(np.asarray(times, dtype="int64"), len(areas)))


def weather_forecast_lines(sim: Simulation, hours: int = 120) -> list[str]:
    """The sim's weather forecast issued now (hourly, `hours` ahead) as `weather` points: the
    forecaster reads `weather` beyond its origin as a forecast; actual values written later for
    the same hours replace these points."""
    times, temps = sim.weather.forecast_c(sim.time_ns, hours)
    return weather_lines(np.array(sim.pf.areas, dtype=object), times, temps.T)


def _write_samples(client, views, trace: Trace, sel, areas, res, source):
    times = trace.time_ns[sel]
    true = {name: getattr(trace, name)[sel] for name in Trace.HOME_FIELDS}
    values, present = views.sample(times, true)
    lines: list[str] = []
    for kind in values:
        measurement, kl = _kind_lines(views, kind, times, values[kind], present[kind], source)
        res.points[measurement] += len(kl)
        lines += kl
    w_lines = weather_lines(areas, times, trace.t_out_c[sel])   # (samples, areas)
    res.points["weather"] += len(w_lines)
    result = client.write_lines(lines + w_lines)
    res.dead_lettered += getattr(result, "dead_lettered", 0)
    res.samples += len(times)
