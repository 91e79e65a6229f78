"""What the advisor and the dashboard read: the latest forecasts, as arrays.

    from forecasting.service import latest_forecasts
    latest = latest_forecasts(client, households=["H000001", "H000002"])
    gas = latest.get("gas")            # LatestForecast or absent
    gas.daily_kwh                      # (H, 30) expected kWh per UTC day; p10 / p90 alongside
    gas.energy_kwh                     # (H, 336) median kWh per half hour; p10 / p90 alongside
    gas.trust                          # (H,) good | gaps | step_change | limited_history | ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from forecasting.store import DAY_NS, FORECAST, FORECAST_DAILY, FORECAST_RUN, MODEL, STEP_NS


@dataclass
class LatestForecast:
    """The latest run's forecasts of one fuel. Rows follow ``households``; NaN only where a
    household was not in that run (asked for but unknown)."""

    fuel: str
    origin: np.datetime64            # first forecast half hour (UTC) = end of the data used
    households: np.ndarray           # (H,) str
    trust: np.ndarray                # (H,) str
    days: np.ndarray                 # (D,) datetime64[D], UTC days
    daily_kwh: np.ndarray            # (H, D) expected energy of the day [kWh]
    daily_kwh_p10: np.ndarray
    daily_kwh_p90: np.ndarray
    times: np.ndarray                # (S,) datetime64[ns] half-hour starts
    energy_kwh: np.ndarray           # (H, S) median energy of the half hour [kWh]
    energy_kwh_p10: np.ndarray
    energy_kwh_p90: np.ndarray

    def total_kwh(self, days: int = 30) -> np.ndarray:
        """Expected energy over the first ``days`` days (H,) [kWh]."""
        return np.nansum(self.daily_kwh[:, :days], axis=1)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _household_filter(households) -> str:
    if households is None:
        return ""
    alternatives = "|".join(re.escape(h).replace("/", "\\/") for h in households)
    return f' AND "household" =~ /^(?:{alternatives})$/'


def latest_runs(client, model: str = MODEL) -> dict[str, dict]:
    """fuel -> {origin_ns, households, horizon_steps, horizon_days} of the latest run.

    Sharded runs (`hearth forecast --shard i/N`, tag ``shard``) of the latest origin count as
    one run: their households are added up."""
    from hearth.influx import USAGE_RP, quote_ident

    q = (f'SELECT "households", "horizon_steps", "horizon_days" FROM '
         f'{quote_ident(client.database)}.{quote_ident(USAGE_RP)}.{quote_ident(FORECAST_RUN)} '
         f'WHERE "model" = {_quote(model)} GROUP BY "fuel", "shard" ORDER BY time DESC LIMIT 1')
    runs: dict[str, dict] = {}
    for s in client.query(q):
        if not len(s):
            continue
        run = {"origin_ns": int(s.values["time"][0]),
               "households": int(s.values["households"][0]),
               "horizon_steps": int(s.values["horizon_steps"][0]),
               "horizon_days": int(s.values["horizon_days"][0])}
        fuel = s.tags.get("fuel", "")
        best = runs.get(fuel)
        if best is None or run["origin_ns"] > best["origin_ns"]:
            runs[fuel] = run
        elif run["origin_ns"] == best["origin_ns"]:
            best["households"] += run["households"]
            best["horizon_steps"] = max(best["horizon_steps"], run["horizon_steps"])
            best["horizon_days"] = max(best["horizon_days"], run["horizon_days"])
    return runs


def latest_forecasts(client, households=None, fuels=None, model: str = MODEL
                     ) -> dict[str, LatestForecast]:
    """The latest forecasts per fuel for ``households`` (all of the run when None)."""
    from hearth.influx import USAGE_RP, quote_ident

    if households is not None:
        households = [str(h) for h in households]
        if not households:
            return {}
    prefix = f"{quote_ident(client.database)}.{quote_ident(USAGE_RP)}."
    out = {}
    for fuel, run in latest_runs(client, model).items():
        if fuels is not None and fuel not in fuels:
            continue
        origin = run["origin_ns"]
        first_day = origin // DAY_NS * DAY_NS          # today: used so far + the rest
        days_ns = first_day + np.arange(run["horizon_days"], dtype=np.int64) * DAY_NS
        times_ns = origin + np.arange(run["horizon_steps"], dtype=np.int64) * STEP_NS
        where = (f'WHERE "fuel" = {_quote(fuel)} AND "model" = {_quote(model)}'
                 f'{_household_filter(households)}')
        daily = client.query(
            f'SELECT "energy_kwh", "energy_kwh_p10", "energy_kwh_p90", "trust" FROM {prefix}'
            f'{quote_ident(FORECAST_DAILY)} {where} AND time >= {first_day} AND '
            f'time < {first_day + run["horizon_days"] * DAY_NS} GROUP BY "household"')
        half = client.query(
            f'SELECT "energy_kwh", "energy_kwh_p10", "energy_kwh_p90" FROM {prefix}'
            f'{quote_ident(FORECAST)} {where} AND time >= {origin} AND '
            f'time < {origin + run["horizon_steps"] * STEP_NS} GROUP BY "household"')
        names = (np.array(households, dtype=str) if households is not None else
                 np.array(sorted({s.tags.get("household", "") for s in daily + half}), dtype=str))
        row_of = {h: i for i, h in enumerate(names)}
        d = _scatter(daily, row_of, days_ns, DAY_NS,
                     ("energy_kwh", "energy_kwh_p10", "energy_kwh_p90"))
        h = _scatter(half, row_of, times_ns, STEP_NS,
                     ("energy_kwh", "energy_kwh_p10", "energy_kwh_p90"))
        trust = np.full(names.size, "unknown", dtype=object)
        for s in daily:
            i = row_of.get(s.tags.get("household", ""))
            if i is not None and len(s) and "trust" in s.values:
                trust[i] = str(s.values["trust"][-1])
        out[fuel] = LatestForecast(
            fuel=fuel, origin=np.int64(origin).astype("datetime64[ns]"), households=names,
            trust=trust.astype(str), days=days_ns.astype("datetime64[ns]").astype("datetime64[D]"),
            daily_kwh=d["energy_kwh"], daily_kwh_p10=d["energy_kwh_p10"],
            daily_kwh_p90=d["energy_kwh_p90"], times=times_ns.astype("datetime64[ns]"),
            energy_kwh=h["energy_kwh"], energy_kwh_p10=h["energy_kwh_p10"],
            energy_kwh_p90=h["energy_kwh_p90"])
    return out


def _scatter(series, row_of: dict[str, int], grid_ns: np.ndarray, step_ns: int,
             fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    out = {f: np.full((len(row_of), grid_ns.size), np.nan) for f in fields}
    for s in series:
        i = row_of.get(s.tags.get("household", ""))
        if i is None or not len(s):
            continue
        col = (s.values["time"] - grid_ns[0]) // step_ns
        ok = (col >= 0) & (col < grid_ns.size)
        for f in fields:
            out[f][i, col[ok]] = s.values[f][ok]
    return out
