"""The I/O edge of the advisor: recent readings, usage, forecasts and tariffs from InfluxDB and
the registry, into the aligned arrays of `AdviceInputs` (one row per household).

Recent readings come from the half-hourly device summaries (`thermostat_30m`, `meter_30m`,
collectors/summaries.py), not from raw readings: each run first brings the summaries up to
date (only the half hours since the last run plus a look-back), then reads the window's
summaries in one query per measurement (per group of households for a patch or shard) and
combines them per household, room or fuel and bucket of `advisor.step_min` minutes, and per
device (last reading, gaps, stuck hours, runs of repeated readings joined across half hours).
Usage, history and forecasts are read grouped by household in InfluxDB. The raw
loader this replaced is advisor/inputs_raw.py, the reference of the tests."""

from __future__ import annotations

import itertools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from advisor.frame import FUELS, AdviceInputs, epc_index
from advisor.rules.base import row_quantile
from hearth.errors import HearthError
from hearth.influx.reader import Series

GAS_VOLUME_CORRECTION = 1.02264   # volume to standard conditions (DESIGN.md)
# Relative humidity this close to the ends of its range is pinned there (sensors saturate at
# 100 % in a condensing room, many report 99.9): repeats there are no sign of a frozen sensor.
RH_PINNED_LOW, RH_PINNED_HIGH = 0.1, 99.9   # [%RH]

log = logging.getLogger(__name__)
NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S


def _ns(at: datetime) -> int:
    return int(at.timestamp()) * NS_PER_S


def _floats(col: np.ndarray) -> np.ndarray:
    """A result column as float64, NaN where a row has no value."""
    if col.dtype == object:
        return np.array([np.nan if v is None else float(v) for v in col])
    return col.astype(np.float64)


def _times(col: np.ndarray) -> np.ndarray:
    """A column of times [ns] as exact int64, -1 where a row has none (float64 would round)."""
    if col.dtype == object:
        return np.array([-1 if v is None else int(v) for v in col], dtype=np.int64)
    if col.dtype.kind == "f":  # a column without any value comes back all NaN
        return np.where(np.isfinite(col), col, -1).astype(np.int64)
    return col.astype(np.int64)


def grid_matrix(series, index: dict[str, int], grid_ns: np.ndarray, column: str,
                match: dict[str, str] | None = None, reduce: str = "min") -> np.ndarray:
    """Put series (tagged by household) onto a (households, steps) grid; NaN where missing.

    grid_ns: bucket start times [ns]. Rows not in `index` are ignored. When several series map
    to one cell (several devices), `reduce` says how to combine them (min, max, mean)."""
    out = np.full((len(index), len(grid_ns)), np.nan)
    count = np.zeros_like(out) if reduce == "mean" else None
    for s in series:
        if match and any(s.tags.get(k) != v for k, v in match.items()):
            continue
        row = index.get(s.tags.get("household", ""))
        if row is None or column not in s.values or len(s) == 0:
            continue
        t = s.values["time"]
        col = np.searchsorted(grid_ns, t)
        ok = (col < len(grid_ns)) & (grid_ns[np.minimum(col, len(grid_ns) - 1)] == t)
        vals = s.values[column]
        if vals.dtype == object:
            vals = np.array([np.nan if v is None else float(v) for v in vals])
        vals = vals.astype(np.float64)
        ok &= np.isfinite(vals)
        cols, v = col[ok], vals[ok]
        current = out[row, cols]
        if reduce == "mean":
            out[row, cols] = np.where(np.isnan(current), v, current + v)
            count[row, cols] += 1
        elif reduce == "max":
            out[row, cols] = np.fmax(current, v)
        else:
            out[row, cols] = np.fmin(current, v)
    if reduce == "mean":
        out = np.where(count > 0, out / np.maximum(count, 1), np.nan)
    return out


class InputLoader:
    """Loads `AdviceInputs` for every household of the registry (or a patch)."""

    def __init__(self, settings, registry, client) -> None:
        self.settings = settings
        self.timings_s: dict[str, float] = {}
        self.s = settings.advisor
        self.registry = registry
        self.client = client
        db = client.database
        self.raw = f'"{db}"."raw"'
        self.usage = f'"{db}"."usage"'

    def load(self, now: datetime | None = None, patch: str | None = None,
             shard=None) -> AdviceInputs:
        now = (now or datetime.now(UTC)).astimezone(UTC)
        step_s = self.s.step_min * 60
        end_ns = _ns(now) // (step_s * NS_PER_S) * (step_s * NS_PER_S)
        steps = self.s.window_h * 3600 // step_s
        grid = end_ns - (np.arange(steps, 0, -1, dtype=np.int64) * step_s * NS_PER_S)
        frame = self.registry.households_frame(patch)
        if frame.empty:
            raise HearthError("the registry has no households: import them first"
                              " (`hearth registry import ...`)")
        if shard is not None:  # `hearth advise --shard i/N`: only this shard's patches
            frame = frame[[shard.owns(p) for p in frame["patch"]]]
            if frame.empty:
                raise HearthError(f"shard {shard} holds none of the patches"
                                  f"{' (with --patch)' if patch else ''}: nothing to assess")
        ids = frame.index.to_numpy().astype(str)
        index = {h: i for i, h in enumerate(ids)}
        inp = AdviceInputs(households=ids, now=now, step_h=step_s / 3600,
                           step_times=grid.astype("datetime64[ns]"))
        self._attributes(inp, frame)
        log.info("advisor inputs: %d households, %d buckets of %d min up to %s", len(ids), steps,
                 self.s.step_min, now.isoformat(timespec="minutes"))
        # The registry is read here, once; the steps below only query InfluxDB.
        self._tariff_table = self.registry.tariff_table()
        from hearth.reference import ReferenceFigures

        inp.reference = self._reference = ReferenceFigures.from_registry(self.registry.conn)
        devices = self.registry.devices()
        if self.refresh_summaries:
            t0 = time.perf_counter()
            self._bring_summaries_up_to_date(now, ids, patch, shard)
            self.timings_s["summaries_rollup"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        self._read_summaries(int(grid[0]), int(end_ns),
                             None if patch is None and shard is None else list(ids))
        self.timings_s["summaries_read"] = time.perf_counter() - t0
        # Each group fills its own fields of `inp`; within a group the steps run in order (the
        # forecast falls back on the history). InfluxDB runs one query's scan on one core, so
        # two groups at a time use both.
        groups = ((("thermostats", lambda: self._thermostats(inp, index, grid, step_s)),),
                  (("meters", lambda: self._meters(inp, index, grid, step_s)),),
                  (("usage", lambda: self._usage(inp, index, grid, step_s)),),
                  (("history", lambda: self._history(inp, index, end_ns, frame)),
                   ("forecast", lambda: self._forecast(inp, index, end_ns, frame))),
                  (("devices", lambda: self._devices(inp, index, end_ns, int(grid[0]),
                                                     devices)),),
                  (("last_year", lambda: self._last_year(inp, index, end_ns)),
                   ("credit_history", lambda: self._credit_history(inp, index, end_ns))))

        def run(group) -> None:
            for name, step in group:
                t0 = time.perf_counter()
                step()
                self.timings_s[name] = time.perf_counter() - t0
                log.info("advisor inputs: %s read in %.1f s", name, self.timings_s[name])

        with ThreadPoolExecutor(self._workers()) as pool:
            list(pool.map(run, groups))
        return inp

    def _workers(self) -> int:
        return max(1, int(getattr(self.client, "query_parallelism", 2)))

    # ---------------------------------------------------------------- registry
    def _attributes(self, inp: AdviceInputs, frame) -> None:
        inp.prepayment = (frame["payment_type"] == "prepayment").to_numpy()
        inp.has_gas = frame["has_gas"].to_numpy().astype(bool)
        inp.gas_heating = (frame["heating"] == "gas").to_numpy()
        inp.epc_band = epc_index(frame["epc_band"].to_numpy())
        inp.means_tested_benefits = frame["means_tested_benefits"].to_numpy().astype(bool)
        inp.vulnerable = frame["vulnerable"].to_numpy().astype(bool)
        inp.floor_area_m2 = frame["floor_area_m2"].to_numpy().astype(float)
        self._payment_types = frame["payment_type"].to_numpy().astype(object)

    # ------------------------------------------------------------------ series
    def _window(self, grid: np.ndarray, step_s: int) -> str:
        return f"time >= {int(grid[0])} AND time < {int(grid[-1]) + step_s * NS_PER_S}"

    # ------------------------------------------------------- summaries (one pass)
    refresh_summaries = True

    def _bring_summaries_up_to_date(self, now: datetime, ids: np.ndarray, patch, shard) -> None:
        """The incremental summaries rollup (collectors/summaries.py) up to `now`: an hourly run
        summarises the hour since the last one (plus the late-data look-back), not the window."""
        from collectors.summaries import derive_summaries

        c = getattr(self.settings, "collectors", None)
        lookback_s = float(getattr(c, "summaries_lookback_s", 7200.0))
        if shard is None and patch is None:
            derive_summaries(self.client, until=now, lookback_s=lookback_s, partial=True)
        else:
            label = str(shard) if patch is None else f"{shard or 'all'}:{patch}"
            derive_summaries(self.client, until=now, lookback_s=lookback_s,
                             households=list(ids), shard_label=label, partial=True)

    def _read_summaries(self, window_start_ns: int, end_ns: int, households=None) -> None:
        """The window's `thermostat_30m` and `meter_30m` points as frames: one query each for
        the portfolio, or one per group of households (a patch or shard)."""
        from collectors.summaries import KINDS, SERIES_TAGS, summary_fields
        from hearth.shards import household_filters

        window = f"time >= {window_start_ns} AND time < {end_ns}"
        conds = [""] if households is None else [f" AND {c}" for c in
                                                 household_filters(households)]
        queries, names = [], []
        for measurement, own_tag, *_ in KINDS.values():
            tags = ", ".join(f'"{t}"' for t in (*SERIES_TAGS, own_tag))
            for cond in conds:
                queries.append(f'SELECT * FROM {self.usage}."{measurement}" WHERE {window}'
                               f'{cond} GROUP BY {tags}')
                names.append((measurement, own_tag))
        self._summ = {}
        answers: dict[tuple, list] = {}
        for key, answer in zip(names, self._query_all(queries), strict=True):
            answers.setdefault(key, []).extend(answer)
        for (measurement, own_tag), answer in answers.items():
            parts = []
            for s in answer:
                if not len(s):
                    continue
                cols = {k: (v if k == "time" else _times(v) if k.endswith("_ns") else _floats(v))
                        for k, v in s.values.items()}
                part = pd.DataFrame(cols)
                for tag in (*SERIES_TAGS, own_tag):
                    part[tag] = s.tags.get(tag, "")
                parts.append(part)
            df = pd.concat(parts, ignore_index=True) if parts else None
            if df is not None:  # a field no point of the window holds comes back absent
                for name in summary_fields(measurement):
                    if name not in df:
                        df[name] = -1 if name.endswith("_ns") else np.nan
            self._summ[measurement] = df
        if all(v is None for v in self._summ.values()):
            log.warning("advisor inputs: no half-hourly summaries (thermostat_30m, meter_30m)"
                        " in the window: no readings, or `hearth collect derive-usage` has"
                        " not run on them")

    def _cells(self, measurement: str, by: str, step_s: int, aggs: dict) -> list[Series]:
        """Summaries combined per (household, `by`, step), as one Series per (household, by)
        for `grid_matrix`. aggs: output column -> (how, summary field[, count field]); how is
        min, max, mean (sum of field / sum of count) or last (by last_ns)."""
        df = self._summ.get(measurement)
        if df is None or df.empty:
            return []
        df = df.assign(step=df["time"] // (step_s * NS_PER_S) * (step_s * NS_PER_S))
        keys = ["household", by, "step"]
        g = df.groupby(keys, sort=True)
        out = pd.DataFrame(index=g.size().index)
        for name, spec in aggs.items():
            how, col = spec[0], spec[1]
            if col not in df:
                out[name] = np.nan
            elif how == "mean":
                n = g[spec[2]].sum(min_count=1)
                out[name] = g[col].sum(min_count=1) / n.where(n > 0)
            elif how == "last":
                ordered = df[df[col].notna()].sort_values("last_ns", kind="stable")
                out[name] = ordered.groupby(keys)[col].last()
            else:
                out[name] = getattr(g[col], how)()
        out = out.reset_index()
        series = []
        for (house, tag), part in out.groupby(["household", by], sort=False):
            values = {"time": part["step"].to_numpy(np.int64)}
            values.update({k: part[k].to_numpy(np.float64) for k in aggs})
            series.append(Series(measurement, {"household": house, by: tag},
                                 ["time", *aggs], values))
        return series

    def _thermostats(self, inp, index, grid, step_s) -> None:
        series = self._cells("thermostat_30m", "room", step_s, {
            "temp_c": ("mean", "temp_sum_c", "temp_n"), "min_temp_c": ("min", "temp_min_c"),
            "max_temp_c": ("max", "temp_max_c"),
            "humidity_pct": ("mean", "hum_sum_pct", "hum_n"),
            "max_humidity_pct": ("max", "hum_max_pct"),
            "setpoint_c": ("mean", "setpoint_sum_c", "setpoint_n"),
            "heating_on": ("last", "heating_on")})
        self._fill_thermostats(inp, index, grid, series)

    def _meters(self, inp, index, grid, step_s) -> None:
        series = self._cells("meter_30m", "fuel", step_s, {
            "counter_kwh": ("max", "energy_max_kwh"), "volume_m3": ("max", "volume_max_m3"),
            "credit_gbp": ("min", "credit_min_gbp"), "voltage_v": ("min", "voltage_min_v"),
            "power_w": ("max", "power_max_w"), "supply_on": ("last", "supply_on")})
        self._fill_meters(inp, index, grid, series)

    def _device_stats(self, window_start_ns: int, end_ns: int):
        """Per device, from the summaries: the last reading per source, the longest (and for
        bulk history the median) spacing between readings, the hours whose readings all repeat
        one value, the runs of repeated readings."""
        last: dict[str, int] = {}
        bulk_last: dict[str, int] = {}
        gap: dict[str, float] = {}
        bulk_gap: dict[str, float] = {}
        bulk_step: dict[str, float] = {}
        frozen = self._summary_repeats()
        frames = [f for f in self._summ.values() if f is not None and not f.empty]
        for df in frames:
            keyed = df[df["last_ns"] >= 0].sort_values(["device", "source", "time"])
            if keyed.empty:
                continue
            for (dev, source), part in keyed.groupby(["device", "source"], sort=False):
                first = part["first_ns"].to_numpy(np.int64)
                final = part["last_ns"].to_numpy(np.int64)
                # Spacing across half hours: one half hour's last reading to the next's first.
                across = (first[1:] - final[:-1]) / NS_PER_S
                inner = part["gap_max_s"].to_numpy(np.float64)
                gaps = np.concatenate([across, inner[np.isfinite(inner)]])
                bulk = source == "backfill"
                into = bulk_last if bulk else last
                into[dev] = max(into.get(dev, 0), int(final.max()))
                if not len(gaps):
                    continue
                if bulk:
                    bulk_gap[dev] = max(bulk_gap.get(dev, 0.0), float(gaps.max()))
                    med = part["gap_med_s"].to_numpy(np.float64)
                    bulk_step[dev] = float(np.median(np.concatenate(
                        [across, med[np.isfinite(med)]])))
                else:
                    gap[dev] = max(gap.get(dev, 0.0), float(gaps.max()))
        stuck = self._summary_stuck_hours()
        return last, bulk_last, gap, bulk_gap, bulk_step, stuck, frozen

    def _summary_repeats(self) -> dict[str, tuple[int, float, float]]:
        """`_repeats` from the summaries' run segments: per device the longest run of readings
        each equal to the one before (thermostats: count and span) or the most energy a run of
        standing registers should have counted (meters, kWh). Runs crossing half hours are
        joined; the window's first reading is no repeat (its predecessor lies outside)."""
        from collectors.summaries import REPEAT_FIELDS

        gas_kwh_per_m3 = GAS_VOLUME_CORRECTION * self._calorific_mj_per_m3() / 3.6
        out: dict[str, tuple[int, float, float]] = {}
        for measurement in ("thermostat_30m", "meter_30m"):
            df = self._summ.get(measurement)
            if df is None or df.empty or "rep_all" not in df:
                continue
            df = df[df["key_n"] > 0].sort_values(["device", "time"], kind="stable")
            cols = {k: df[k].fillna(0).to_numpy(np.float64) for k in REPEAT_FIELDS}
            devs = df["device"].to_numpy()
            fuel = df["fuel"].to_numpy() if "fuel" in df else None
            bounds = np.flatnonzero(np.r_[True, devs[1:] != devs[:-1], True])
            for a, b in itertools.pairwise(bounds.tolist()):
                best_n, best_s, max_u = _join_runs({k: v[a:b] for k, v in cols.items()})
                if measurement == "thermostat_30m":
                    if best_n:
                        out[str(devs[a])] = (best_n, best_s, 0.0)
                elif max_u or best_n:
                    per = gas_kwh_per_m3 / 3600 if fuel[a] == "gas" else 1 / 3.6e6
                    out[str(devs[a])] = (0, 0.0, max_u * per)
        return out

    def _summary_stuck_hours(self) -> dict[str, float]:
        """`_stuck_hours` from the summaries: per device the whole-hour buckets (UTC, clipped
        to the window) of 3 readings or more that all repeat one value."""
        hour_ns = self.STUCK_BUCKET_H * 3600 * NS_PER_S
        out: dict[str, float] = {}
        checks = (("thermostat_30m", None, "temp_min_c", "temp_max_c", "temp_n"),
                  ("meter_30m", "electricity", "voltage_min_v", "voltage_max_v", "voltage_n"),
                  ("meter_30m", "gas", "energy_min_kwh", "energy_max_kwh", "energy_n"))
        for measurement, fuel, lo, hi, n in checks:
            df = self._summ.get(measurement)
            if df is None or df.empty or lo not in df or n not in df:
                continue
            if fuel is not None:
                df = df[df["fuel"] == fuel]
            extra = {"hum_lo": ("hum_min_pct", "min"), "hum_hi": ("hum_max_pct", "max")} if (
                fuel is None) else {"flow": ("flow_min_m3_per_h", "min")} if fuel == "gas" else {}
            extra = {k: v for k, v in extra.items() if v[0] in df}
            g = df.assign(hour=df["time"] // hour_ns).groupby(["device", "hour"])
            h = g.agg(lo=(lo, "min"), hi=(hi, "max"), n=(n, "sum"), **extra)
            still = (h["n"] >= 3) & ((h["hi"] - h["lo"]) == 0)
            if fuel is None:  # humidity still too, and not pinned at 0 or 100 %
                if "hum_lo" not in h or "hum_hi" not in h:
                    continue
                still &= (h["hum_hi"] - h["hum_lo"]) == 0
                still &= (h["hum_hi"] < RH_PINNED_HIGH) & (h["hum_lo"] > RH_PINNED_LOW)
            elif fuel == "gas":  # a register standing still while the meter reports a flow
                still &= h["flow"].fillna(0) > 0 if "flow" in h else False
            counts = still[still].groupby(level="device").size()
            for dev, k in counts.items():
                out[str(dev)] = out.get(str(dev), 0.0) + float(k) * self.STUCK_BUCKET_H
        return out

    # Shared by both loaders: how per-(household, room) series fill the thermostat fields.
    def _fill_thermostats(self, inp, index, grid, series) -> None:
        # One series per room: the home's values combine its rooms (mean, coldest, warmest).
        inp.temp_c = grid_matrix(series, index, grid, "temp_c", reduce="mean")
        living = grid_matrix(series, index, grid, "temp_c", {"room": "living_room"}, "mean")
        inp.living_temp_c = living if np.isfinite(living).any() else None
        bedroom = grid_matrix(series, index, grid, "max_temp_c", {"room": "bedroom"}, "max")
        inp.bedroom_temp_c = bedroom if np.isfinite(bedroom).any() else None
        inp.min_temp_c = grid_matrix(series, index, grid, "min_temp_c", reduce="min")
        inp.max_temp_c = grid_matrix(series, index, grid, "max_temp_c", reduce="max")
        inp.humidity_pct = grid_matrix(series, index, grid, "humidity_pct", reduce="mean")
        inp.max_humidity_pct = grid_matrix(series, index, grid, "max_humidity_pct", reduce="max")
        inp.setpoint_c = grid_matrix(series, index, grid, "setpoint_c", reduce="mean")
        # The thermostat's call for heat: its own `heating_on` at the end of each bucket (LAST
        # works on booleans; InfluxQL cannot average them); where a thermostat does not report
        # it, inferred from the room being below its setpoint.
        reported = grid_matrix(series, index, grid, "heating_on", reduce="max")
        with np.errstate(invalid="ignore"):
            calls = ((inp.setpoint_c - inp.temp_c) > 0.25).astype(float)
        inferred = np.where(np.isfinite(inp.setpoint_c) & np.isfinite(inp.temp_c), calls, np.nan)
        inp.heating_on = np.where(np.isfinite(reported), reported, inferred)

    def _fill_meters(self, inp, index, grid, series) -> None:
        for fuel in FUELS:
            counter = grid_matrix(series, index, grid, "counter_kwh", {"fuel": fuel}, "max")
            if np.isfinite(counter).any():
                inp.counter_kwh[fuel] = counter
            credit = grid_matrix(series, index, grid, "credit_gbp", {"fuel": fuel}, "min")
            if np.isfinite(credit).any():
                inp.credit_gbp[fuel] = credit
            # The supply switch at the end of each bucket (NaN where the meter does not
            # report one: the balance decides there).
            switch = grid_matrix(series, index, grid, "supply_on", {"fuel": fuel}, "min")
            if np.isfinite(switch).any():
                inp.supply_on[fuel] = switch
        # A gas meter's own register is its volume (energy is derived from it): glitches show
        # there even when the energy field is sound.
        volume = grid_matrix(series, index, grid, "volume_m3", {"fuel": "gas"}, "max")
        inp.gas_volume_m3 = volume if np.isfinite(volume).any() else None
        volts = grid_matrix(series, index, grid, "voltage_v", {"fuel": "electricity"}, "min")
        inp.voltage_v = volts if np.isfinite(volts).any() else None
        power = grid_matrix(series, index, grid, "power_w", {"fuel": "electricity"}, "max")
        inp.power_w = power if np.isfinite(power).any() else None

    def _usage(self, inp, index, grid, step_s) -> None:
        q = (f'SELECT SUM("energy_kwh") AS kwh FROM {self.usage}."usage_30m" WHERE'
             f' {self._window(grid, step_s)} GROUP BY time({step_s}s), "household", "fuel"'
             f' fill(none)')
        inp.usage_kwh.update(self._per_fuel(q, index, grid, "kwh", "max"))

    def _per_fuel(self, q: str, index, grid, column: str, how: str) -> dict[str, np.ndarray]:
        """{fuel: (H, len(grid)) matrix} of one query grouped by household and fuel; a fuel
        with no value at all is left out (the rules treat a missing fuel as not metered)."""
        series = self.client.query(q)
        out = {}
        for fuel in FUELS:
            m = grid_matrix(series, index, grid, column, {"fuel": fuel}, how)
            if np.isfinite(m).any():
                out[fuel] = m
        return out

    # ------------------------------------------------------------------- daily
    def _days(self, first_ns: int, n: int) -> np.ndarray:
        return (first_ns + np.arange(n, dtype=np.int64) * DAY_NS)

    def _tariffs(self, fuel: str, day_grid: np.ndarray):
        table = self._tariff_table
        days = day_grid.astype("datetime64[ns]").astype("datetime64[D]")
        rate, standing = table.matrix(fuel, self._payment_types, days)
        rate, standing = cap_fallback(rate, standing, self._reference, fuel,
                                      self._payment_types, days)
        if np.isnan(rate).all():
            raise HearthError(f"no {fuel} tariff covers {days[0]}..{days[-1]}: import tariffs"
                              " with their dates (`hearth registry import tariffs.csv`)")
        # A day neither a tariff nor the price cap covers takes the nearest known rate, so a
        # gap does not hide a bill.
        rate = _fill_rows(rate)
        standing = _fill_rows(standing)
        return rate, standing

    def _history(self, inp, index, end_ns, frame) -> None:
        today = end_ns // DAY_NS * DAY_NS
        n = self.s.history_days
        grid = self._days(today - n * DAY_NS, n)
        q = (f'SELECT SUM("energy_kwh") AS kwh FROM {self.usage}."usage_30m" WHERE'
             f' time >= {int(grid[0])} AND time < {today} GROUP BY time(1d), "household",'
             f' "fuel" fill(none)')
        series = self.client.query(q)
        for fuel in FUELS:
            m = grid_matrix(series, index, grid, "kwh", {"fuel": fuel}, "max")
            if not np.isfinite(m).any():
                continue
            inp.history_kwh[fuel] = m
            rate, standing = self._tariffs(fuel, grid)
            inp.history_rate_gbp_per_kwh[fuel] = rate
            inp.history_standing_gbp_per_day[fuel] = standing

    LAST_YEAR_DAYS = 30

    def _last_year(self, inp, index, end_ns) -> None:
        """`last_year_kwh`: daily use on the same 30 days a year (365 days) before the
        forecast's first 30, where the usage history reaches back that far."""
        today = end_ns // DAY_NS * DAY_NS
        grid = self._days(today - 365 * DAY_NS, self.LAST_YEAR_DAYS)
        q = (f'SELECT SUM("energy_kwh") AS kwh FROM {self.usage}."usage_30m" WHERE'
             f' time >= {int(grid[0])} AND time < {int(grid[-1]) + DAY_NS} GROUP BY time(1d),'
             f' "household", "fuel" fill(none)')
        inp.last_year_kwh.update(self._per_fuel(q, index, grid, "kwh", "max"))

    def _credit_history(self, inp, index, end_ns) -> None:
        """`credit_daily_min_gbp`: each past day's lowest prepayment balance, over
        `credit_pattern_days` days up to now (today's whole half hours so far included)."""
        today = end_ns // DAY_NS * DAY_NS
        n = int(getattr(self.s, "credit_pattern_days", 28))
        grid = self._days(today - (n - 1) * DAY_NS, n)
        q = self._credit_query(int(grid[0]), end_ns)
        inp.credit_daily_min_gbp.update(self._per_fuel(q, index, grid, "credit_gbp", "min"))

    def _credit_query(self, first_ns: int, end_ns: int) -> str:
        # From the half-hourly summaries, whole half hours only (a half hour that ends after
        # now would hold readings the advisor could not have had).
        return (f'SELECT MIN("credit_min_gbp") AS credit_gbp FROM {self.usage}."meter_30m"'
                f' WHERE time >= {first_ns} AND time <= {end_ns - 1800 * NS_PER_S}'
                f' GROUP BY time(1d), "household", "fuel" fill(none)')

    def _forecast(self, inp, index, end_ns, frame) -> None:
        today = end_ns // DAY_NS * DAY_NS
        n = self.s.forecast_days
        grid = self._days(today, n)
        # The forecaster's daily forecasts (docs/architecture.md: `forecast_daily`, one point
        # per household, fuel and UTC day; a newer run overwrites the same day).
        q = (f'SELECT LAST("energy_kwh") AS p50, LAST("energy_kwh_p10") AS p10,'
             f' LAST("energy_kwh_p90") AS p90 FROM {self.usage}."forecast_daily" WHERE'
             f' "model" = \'{self.s.forecast_model}\' AND time >= {int(grid[0])}'
             f' AND time < {int(grid[-1]) + DAY_NS}'
             f' GROUP BY time(1d), "household", "fuel" fill(none)')
        series = self.client.query(q)
        for fuel in FUELS:
            p50 = grid_matrix(series, index, grid, "p50", {"fuel": fuel}, "max")
            if np.isfinite(p50).any():
                p10 = grid_matrix(series, index, grid, "p10", {"fuel": fuel}, "max")
                p90 = grid_matrix(series, index, grid, "p90", {"fuel": fuel}, "max")
            elif fuel in inp.history_kwh:
                log.warning("no %s forecasts in InfluxDB from %s: using the last 28 days' use"
                            " instead (run `hearth forecast` first)", fuel,
                            datetime.fromtimestamp(today / NS_PER_S, UTC).date())
                p10, p50, p90 = naive_forecast(inp.history_kwh[fuel], n)
            else:
                continue
            # Days the forecast misses (a gap) take the household's median forecast day.
            inp.forecast_kwh_p10[fuel] = _fill_rows_median(p10)
            inp.forecast_kwh_p50[fuel] = _fill_rows_median(p50)
            inp.forecast_kwh_p90[fuel] = _fill_rows_median(p90)
            rate, standing = self._tariffs(fuel, grid)
            inp.forecast_rate_gbp_per_kwh[fuel] = rate
            inp.forecast_standing_gbp_per_day[fuel] = standing

    # ----------------------------------------------------------------- devices
    def _devices(self, inp, index, end_ns, window_start_ns, devices) -> None:
        if not devices:
            return
        last, bulk_last, gap, bulk_gap, bulk_step, stuck, frozen = self._device_stats(
            window_start_ns, end_ns)
        per_home: dict[int, list] = {}
        for d in devices:
            row = index.get(d.household_id)
            if row is not None:
                per_home.setdefault(row, []).append(d)
        k = max((len(v) for v in per_home.values()), default=0)
        ids = np.full((inp.n, k), "", dtype=object)
        shape = (inp.n, k)
        age, interval, max_gap = np.full(shape, np.nan), np.full(shape, np.nan), np.full(
            shape, np.nan)
        b_age, b_interval, b_gap = np.full(shape, np.nan), np.full(shape, np.nan), np.full(
            shape, np.nan)
        stuck_h, repeats, repeat_s, still_kwh = (np.zeros(shape) for _ in range(4))
        lookback_s = (end_ns - window_start_ns) / NS_PER_S
        for row, devs in per_home.items():
            for j, d in enumerate(devs):
                dev = d.device_id
                ids[row, j] = dev
                interval[row, j] = d.interval_s
                seen = last.get(dev)
                if seen is not None:
                    age[row, j] = (end_ns - seen) / NS_PER_S
                elif dev in bulk_last:  # only bulk history so far: judged on its own step
                    b_age[row, j] = (end_ns - bulk_last[dev]) / NS_PER_S
                else:  # nothing at all in the window
                    age[row, j] = lookback_s
                max_gap[row, j] = gap.get(dev, np.nan)
                if dev in bulk_step:
                    b_interval[row, j] = max(d.interval_s, bulk_step[dev])
                    b_gap[row, j] = bulk_gap[dev]
                stuck_h[row, j] = stuck.get(dev, 0.0)
                repeats[row, j], repeat_s[row, j], still_kwh[row, j] = frozen.get(
                    dev, (0, 0.0, 0.0))
        inp.device_ids, inp.device_age_s, inp.device_interval_s = ids, age, interval
        inp.device_max_gap_s, inp.device_stuck_h = max_gap, stuck_h
        inp.device_bulk_age_s, inp.device_bulk_interval_s = b_age, b_interval
        inp.device_bulk_max_gap_s = b_gap
        inp.device_repeats, inp.device_repeat_s = repeats, repeat_s
        inp.device_still_kwh = still_kwh

    def _query_all(self, queries: list[str]) -> list[list]:
        """The answers of independent queries, `query_parallelism` (2) at a time."""
        workers = self._workers()
        if workers == 1 or len(queries) < 2:
            return [self.client.query(q) for q in queries]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(self.client.query, queries))

    def _repeat_queries(self, window: str) -> list[tuple[str, float | None]]:
        """(query, kWh per unit-second of its rate; None for thermostats) per kind of device,
        for `_repeats`. Each returns only the readings equal to the one before."""
        gas_kwh_per_m3 = GAS_VOLUME_CORRECTION * self._calorific_mj_per_m3() / 3.6
        low = '("r" - ABS("d") / 2)'   # the lower of two readings from their mean and change
        return [
            # Humidity pinned at the end of its range (100 % in a condensing room) has no jitter
            # left to lose: those repeats say nothing.
            (f'SELECT "g" FROM (SELECT DIFFERENCE("temp_c") AS a, DIFFERENCE("humidity_pct")'
             f' AS b, MOVING_AVERAGE("humidity_pct", 2) AS h, ELAPSED("temp_c", 1s) AS g FROM'
             f' {self.raw}."thermostat" WHERE {window} GROUP BY "device") WHERE "a" = 0 AND'
             f' "b" = 0 AND "h" > {RH_PINNED_LOW} AND "h" < {RH_PINNED_HIGH} GROUP BY "device"',
             None),
            (f'SELECT "g", {low} AS p FROM (SELECT DIFFERENCE("energy_kwh") AS a,'
             f' MOVING_AVERAGE("power_w", 2) AS r, DIFFERENCE("power_w") AS d,'
             f' ELAPSED("energy_kwh", 1s) AS g FROM {self.raw}."meter" WHERE {window}'
             f' AND "fuel" = \'electricity\' GROUP BY "device") WHERE "a" = 0 GROUP BY "device"',
             1 / 3.6e6),
            (f'SELECT "g", {low} AS p FROM (SELECT DIFFERENCE("energy_kwh") AS a,'
             f' MOVING_AVERAGE("flow_m3_per_h", 2) AS r, DIFFERENCE("flow_m3_per_h") AS d,'
             f' ELAPSED("energy_kwh", 1s) AS g FROM {self.raw}."meter" WHERE {window}'
             f' AND "fuel" = \'gas\' GROUP BY "device") WHERE "a" = 0 GROUP BY "device"',
             gas_kwh_per_m3 / 3600),
        ]

    @staticmethod
    def _repeats(queries: list[tuple[str, float | None]], answers: list[list]
                 ) -> dict[str, tuple[int, float, float]]:
        """Per device (longest run of repeated readings, its span [s], the most energy a run of
        standing registers should have counted [kWh]), from the answers of `_repeat_queries`.

        A thermostat's reading repeats when its temperature and humidity both equal the
        previous reading's (sensors jitter in their last digit, a frozen one does not), humidity
        not pinned at 0 or 100 %. A meter's register stands still when it equals the previous
        reading; the energy it should have counted is the lower of the two power (or gas flow)
        readings times the gap between them: a working register cannot stand still while power
        is drawn."""
        from advisor.rules.faults import repeat_runs

        out: dict[str, tuple[int, float, float]] = {}
        for (_, kwh_per_unit_s), answer in zip(queries, answers, strict=True):
            for s in answer:
                if not len(s):
                    continue
                dev = s.tags.get("device", "")
                t = s.values["time"].astype(np.float64) / NS_PER_S
                g = s.values["g"].astype(np.float64)
                if kwh_per_unit_s is None:
                    n, span, _ = repeat_runs(t, g)
                    out[dev] = (n, span, 0.0)
                else:
                    rate = np.clip(np.nan_to_num(s.values["p"].astype(np.float64)), 0, None)
                    _, _, kwh = repeat_runs(t, g, rate * g * kwh_per_unit_s)
                    out[dev] = (0, 0.0, kwh)
        return out

    def _calorific_mj_per_m3(self) -> float:
        """The gas calorific value the collectors use [MJ/m3] (39.5, DESIGN.md)."""
        mqtt = getattr(getattr(self.settings, "collectors", None), "mqtt", None)
        return float(getattr(mqtt, "gas_calorific_value_mj_per_m3", 39.5))

    STUCK_BUCKET_H = 1

    def _stuck_queries(self, window: str) -> list[tuple[str, str]]:
        """(query, kind of device) for `_stuck_hours`: per device the 1-hour buckets of 3
        readings or more whose readings all repeat one value (only those come back, not every
        device-hour of the window)."""
        group = f"GROUP BY time({self.STUCK_BUCKET_H}h), \"device\" fill(none)"
        inner = (
            (f'SELECT SPREAD("temp_c") AS a, SPREAD("humidity_pct") AS b, COUNT("temp_c") AS n,'
             f' MAX("humidity_pct") AS hi, MIN("humidity_pct") AS lo'
             f' FROM {self.raw}."thermostat" WHERE {window} {group}', "thermostat"),
            (f'SELECT SPREAD("voltage_v") AS a, SPREAD("voltage_v") AS b, COUNT("voltage_v")'
             f' AS n FROM {self.raw}."meter" WHERE {window} AND "fuel" = \'electricity\''
             f' {group}', "electricity"),
            (f'SELECT SPREAD("energy_kwh") AS a, MIN("flow_m3_per_h") AS f,'
             f' COUNT("energy_kwh") AS n FROM {self.raw}."meter" WHERE {window}'
             f' AND "fuel" = \'gas\' {group}', "gas"),
        )
        return [(f'SELECT * FROM ({q}) WHERE "a" = 0 AND "n" >= 3 GROUP BY "device"', what)
                for q, what in inner]

    @classmethod
    def _stuck_hours(cls, queries: list[tuple[str, str]], answers: list[list]
                     ) -> dict[str, float]:
        """Hours per device whose readings all repeat one value, from `_stuck_queries`' answers:
        a thermostat whose temperature and humidity never move, an electricity meter whose
        voltage never moves, a gas meter whose register stands still while it reports a flow."""
        out: dict[str, float] = {}
        for (_, what), answer in zip(queries, answers, strict=True):
            for s in answer:
                n = s.values.get("n")
                if n is None or not len(n):
                    continue
                still = (n >= 3) & (s.values["a"] == 0)
                if what == "gas":
                    still &= np.nan_to_num(s.values["f"]) > 0
                else:
                    still &= s.values["b"] == 0
                if what == "thermostat":  # humidity pinned at 0 or 100 %: saturated, not stuck
                    still &= (s.values["hi"] < RH_PINNED_HIGH) & (s.values["lo"] > RH_PINNED_LOW)
                if still.any():
                    dev = s.tags.get("device", "")
                    out[dev] = out.get(dev, 0.0) + float(still.sum()) * cls.STUCK_BUCKET_H
        return out


def _join_runs(c: dict[str, np.ndarray]) -> tuple[int, float, float]:
    """(repeats, span [s]) of the first longest run and the largest amount of any run, from
    one device's half-hour run segments in time order (collectors.summaries.REPEAT_FIELDS)."""
    best_n, best_s, max_u = 0, 0.0, 0.0
    carry_n, carry_s, carry_u = 0, 0.0, 0.0

    def close(n, s_, u):
        nonlocal best_n, best_s, max_u
        if n > best_n:
            best_n, best_s = n, s_
        max_u = max(max_u, u)

    for i in range(len(c["rep_all"])):
        pre_n, pre_s, pre_u = c["rep_pre_n"][i], c["rep_pre_s"][i], c["rep_pre_u"][i]
        whole = c["rep_all"][i] > 0
        if i == 0 and pre_n > 0:  # the window's first reading repeats nothing in it
            pre_n, pre_s, pre_u = pre_n - 1, pre_s - c["rep_first_s"][i], pre_u - c[
                "rep_first_u"][i]
        if whole:
            carry_n, carry_s, carry_u = carry_n + pre_n, carry_s + pre_s, carry_u + pre_u
            continue
        if pre_n > 0:
            close(carry_n + pre_n, carry_s + pre_s, carry_u + pre_u)
        elif carry_n:
            close(carry_n, carry_s, carry_u)
        if c["rep_best_n"][i] > 0 or c["rep_best_u"][i] > 0:
            close(int(c["rep_best_n"][i]), float(c["rep_best_s"][i]), 0.0)
            max_u = max(max_u, float(c["rep_best_u"][i]))
        carry_n, carry_s, carry_u = c["rep_suf_n"][i], c["rep_suf_s"][i], c["rep_suf_u"][i]
    if carry_n:
        close(carry_n, carry_s, carry_u)
    return int(best_n), float(best_s), float(max_u)


# The price cap row that stands in for a household's own tariff on a day none covers: credit
# meters are billed as direct debit (the cap Ofgem publishes as its headline); prepayment
# takes the prepayment row where one is imported, else the direct debit one.
CAP_METHODS = {"credit": ("direct_debit",), "prepayment": ("prepayment", "direct_debit")}


def cap_fallback(rate: np.ndarray, standing: np.ndarray, reference, fuel: str,
                 payment_types: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill the days (H, D) no tariff covers with the price cap in force that day."""
    if reference is None or not np.isnan(rate).any():
        return rate, standing
    rate, standing = rate.copy(), standing.copy()
    for payment, methods in CAP_METHODS.items():
        rows = np.asarray(payment_types) == payment
        for method in methods:
            unit, stand = reference.cap_gbp(fuel, method, days)
            gap = rows[:, None] & np.isnan(rate) & np.isfinite(unit)[None, :]
            rate = np.where(gap, unit[None, :], rate)
            standing = np.where(gap, stand[None, :], standing)
    return rate, standing


def naive_forecast(history_kwh: np.ndarray, days: int) -> tuple[np.ndarray, ...]:
    """p10/p50/p90 daily use from the last 28 days' daily use (H, days) [kWh]."""
    recent = history_kwh[:, -28:]
    q = [np.nan_to_num(row_quantile(recent, p)) for p in (0.10, 0.50, 0.90)]
    return tuple(np.repeat(x[:, None], days, axis=1) for x in q)


def _fill_rows(x: np.ndarray) -> np.ndarray:
    """Fill NaN along each row with the nearest earlier value, then the nearest later one."""
    x = np.asarray(x, dtype=np.float64).copy()
    if not np.isnan(x).any():
        return x
    idx = np.where(np.isfinite(x), np.arange(x.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    x = x[np.arange(x.shape[0])[:, None], idx]
    rev = x[:, ::-1]
    idx = np.where(np.isfinite(rev), np.arange(x.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    return rev[np.arange(x.shape[0])[:, None], idx][:, ::-1]


def _fill_rows_median(x: np.ndarray) -> np.ndarray:
    med = row_quantile(x, 0.5)
    return np.where(np.isfinite(x), x, np.nan_to_num(med)[:, None])
