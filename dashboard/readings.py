"""Readings and forecasts from InfluxDB as pandas frames (times tz-aware UTC). No Streamlit.

Queries name their retention policy (`raw` for meter and thermostat, `usage` for usage_30m and
forecast) and ask InfluxDB to aggregate, so a page moves hundreds of rows, not millions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from hearth.influx import RAW_RP, USAGE_RP, InfluxClient, quote_ident, quote_string

DAY_NS = 86_400 * 1_000_000_000
# How far back a portfolio-wide "last reading" query looks; older devices get a second look.
LAST_SEEN_WINDOW = "6h"
LAST_SEEN_LONG_WINDOW = "30d"
MAX_LONG_LOOKUPS = 500


def _m(client: InfluxClient, rp: str, measurement: str) -> str:
    return f"{quote_ident(client.database)}.{quote_ident(rp)}.{quote_ident(measurement)}"


def _times(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(ns, dtype=np.int64), utc=True)


def _regex(values: Iterable[str]) -> str:
    return "/^(?:" + "|".join(re.escape(v).replace("/", "\\/") for v in values) + ")$/"


# -- one household ------------------------------------------------------------------------------

def latest(client: InfluxClient, household_id: str, days: int = 30) -> pd.DataFrame:
    """The newest meter reading per fuel and thermostat reading per room: columns source
    (fuel or room), measurement, time, energy_kwh, power_w, credit_gbp, temp_c, humidity_pct,
    setpoint_c."""
    hh = quote_string(household_id)
    rows = []
    for measurement, key in (("meter", "fuel"), ("thermostat", "room")):
        q = (f"SELECT * FROM {_m(client, RAW_RP, measurement)} WHERE household = {hh} "
             f"AND time > now() - {days}d GROUP BY {quote_ident(key)} ORDER BY time DESC LIMIT 1")
        for s in client.query(q):
            row = {"measurement": measurement, "source": s.tags.get(key, ""),
                   "time": _times(s.values["time"][:1])[0]}
            for col in ("energy_kwh", "power_w", "credit_gbp", "temp_c", "humidity_pct",
                        "setpoint_c"):
                if col in s.values and len(s.values[col]):
                    v = s.values[col][0]
                    row[col] = float(v) if v is not None else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def usage_daily(client: InfluxClient, household_id: str, days: int = 56,
                min_half_hours: int = 44) -> pd.DataFrame:
    """Energy per UK calendar day and fuel: columns time (day start), fuel, energy_kwh. Days
    with fewer than ``min_half_hours`` half hours recorded (today so far, gaps) are left out,
    so that a part-day never looks like a day of low use."""
    q = (f"SELECT sum(energy_kwh) AS energy_kwh, count(energy_kwh) AS n FROM "
         f"{_m(client, USAGE_RP, 'usage_30m')} WHERE household = {quote_string(household_id)} "
         f"AND time >= now() - {days}d GROUP BY time(1d), fuel fill(none) tz('Europe/London')")
    frames = []
    for s in client.query(q):
        full = s.values["n"] >= min_half_hours
        frames.append(pd.DataFrame({"time": _times(s.values["time"][full]),
                                    "fuel": s.tags.get("fuel", ""),
                                    "energy_kwh": s.values["energy_kwh"][full]}))
    return _concat(frames, ["time", "fuel", "energy_kwh"])


def usage_halfhourly(client: InfluxClient, household_id: str, days: int = 7) -> pd.DataFrame:
    q = (f"SELECT energy_kwh FROM {_m(client, USAGE_RP, 'usage_30m')} "
         f"WHERE household = {quote_string(household_id)} AND time >= now() - {days}d "
         "GROUP BY fuel")
    frames = [pd.DataFrame({"time": _times(s.values["time"]), "fuel": s.tags.get("fuel", ""),
                            "energy_kwh": s.values["energy_kwh"]}) for s in client.query(q)]
    return _concat(frames, ["time", "fuel", "energy_kwh"])


def forecasts(client: InfluxClient, household_id: str) -> pd.DataFrame:
    """The latest forecasts of one home (forecasting.service.latest_forecasts): columns time,
    fuel, step ('daily': kWh per UTC day; 'half-hourly': kWh per half hour), energy_kwh (p50),
    energy_kwh_p10, energy_kwh_p90, trust (the forecaster's label: good, gaps, ...)."""
    from forecasting.service import latest_forecasts

    frames = []
    for fuel, f in latest_forecasts(client, households=[household_id]).items():
        trust = str(f.trust[0]) if len(f.trust) else "unknown"
        for step, times, e, lo, hi in (
                ("daily", f.days.astype("datetime64[ns]"), f.daily_kwh, f.daily_kwh_p10,
                 f.daily_kwh_p90),
                ("half-hourly", f.times, f.energy_kwh, f.energy_kwh_p10, f.energy_kwh_p90)):
            if e.size == 0:
                continue
            frames.append(pd.DataFrame({
                "time": pd.to_datetime(times, utc=True), "fuel": fuel, "step": step,
                "energy_kwh": e[0], "energy_kwh_p10": lo[0], "energy_kwh_p90": hi[0],
                "trust": trust}).dropna(subset=["energy_kwh"]))
    return _concat(frames, ["time", "fuel", "step", "energy_kwh", "energy_kwh_p10",
                            "energy_kwh_p90", "trust"])


def indoor(client: InfluxClient, household_id: str, days: int = 7) -> pd.DataFrame:
    """Half-hourly mean indoor temperature [C] and relative humidity [%] per room."""
    q = (f"SELECT mean(temp_c) AS temp_c, mean(humidity_pct) AS humidity_pct FROM "
         f"{_m(client, RAW_RP, 'thermostat')} WHERE household = {quote_string(household_id)} "
         f"AND time >= now() - {days}d GROUP BY time(30m), room fill(none)")
    frames = [pd.DataFrame({"time": _times(s.values["time"]), "room": s.tags.get("room", ""),
                            "temp_c": s.values["temp_c"],
                            "humidity_pct": s.values["humidity_pct"]}) for s in client.query(q)]
    return _concat(frames, ["time", "room", "temp_c", "humidity_pct"])


def credit(client: InfluxClient, household_id: str, days: int = 14) -> pd.DataFrame:
    """Hourly prepayment balance [GBP] per fuel (last reading in each hour)."""
    q = (f"SELECT last(credit_gbp) AS credit_gbp FROM {_m(client, RAW_RP, 'meter')} "
         f"WHERE household = {quote_string(household_id)} AND time >= now() - {days}d "
         "GROUP BY time(1h), fuel fill(none)")
    frames = [pd.DataFrame({"time": _times(s.values["time"]), "fuel": s.tags.get("fuel", ""),
                            "credit_gbp": s.values["credit_gbp"]}) for s in client.query(q)]
    return _concat(frames, ["time", "fuel", "credit_gbp"])


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns, UTC]" if c == "time" else
                                          "float64" if c.endswith(("_kwh", "_c", "_pct", "_gbp",
                                                                   "_p10", "_p90")) else object)
                             for c in columns})
    return pd.concat(frames, ignore_index=True).sort_values("time", kind="stable")


# -- the portfolio ------------------------------------------------------------------------------

def last_seen(client: InfluxClient, households: Iterable[str] | None = None) -> pd.DataFrame:
    """The time of the newest reading of every device that reported in the last 30 days:
    columns device_id, household_id, measurement, last_seen. Devices seen in the last 6 hours
    come from one cheap query; older ones from a second, longer look (at most 500 devices)."""
    wanted = set(households) if households is not None else None
    rows: dict[str, tuple[str, str, int]] = {}
    fields = {"meter": "energy_kwh", "thermostat": "temp_c"}
    for measurement, field in fields.items():
        q = (f"SELECT last({quote_ident(field)}) FROM {_m(client, RAW_RP, measurement)} "
             f"WHERE time > now() - {LAST_SEEN_WINDOW} GROUP BY device, household")
        for s in client.query(q):
            h = s.tags.get("household", "")
            if wanted is None or h in wanted:
                rows[s.tags.get("device", "")] = (h, measurement, int(s.values["time"][0]))
    return _last_seen_frame(rows)


def last_seen_long(client: InfluxClient, device_ids: list[str]) -> pd.DataFrame:
    """Last reading in the last 30 days of up to 500 devices (those silent for 6 hours)."""
    rows: dict[str, tuple[str, str, int]] = {}
    ids = sorted(device_ids)[:MAX_LONG_LOOKUPS]
    if ids:
        for measurement, field in (("meter", "energy_kwh"), ("thermostat", "temp_c")):
            q = (f"SELECT last({quote_ident(field)}) FROM {_m(client, RAW_RP, measurement)} "
                 f"WHERE time > now() - {LAST_SEEN_LONG_WINDOW} AND device =~ {_regex(ids)} "
                 "GROUP BY device, household")
            for s in client.query(q):
                rows[s.tags.get("device", "")] = (s.tags.get("household", ""), measurement,
                                                  int(s.values["time"][0]))
    return _last_seen_frame(rows)


def _last_seen_frame(rows: dict[str, tuple[str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame({
        "device_id": list(rows), "household_id": [r[0] for r in rows.values()],
        "measurement": [r[1] for r in rows.values()],
        "last_seen": _times(np.array([r[2] for r in rows.values()], dtype=np.int64))})


def forecast_energy_30d(client: InfluxClient) -> pd.DataFrame:
    """Expected energy [kWh] over the first 30 days of the latest daily forecast, per household
    and fuel: columns household_id, fuel, energy_kwh, days. One aggregate per fuel: InfluxDB 1.x
    scans the series once per aggregate, and for 10,000 homes each costs seconds."""
    from forecasting.service import latest_runs
    from forecasting.store import FORECAST_DAILY, MODEL

    rows = []
    for fuel, run in latest_runs(client).items():
        first_day = run["origin_ns"] // DAY_NS * DAY_NS  # as forecasting.service: today (UTC)
        days = min(30, run["horizon_days"])
        q = (f"SELECT sum(energy_kwh) AS energy_kwh FROM {_m(client, USAGE_RP, FORECAST_DAILY)} "
             f"WHERE fuel = {quote_string(fuel)} AND model = {quote_string(MODEL)} AND "
             f"time >= {first_day} AND time < {first_day + days * DAY_NS} GROUP BY household")
        rows += [(s.tags.get("household", ""), fuel, float(s.values["energy_kwh"][0]), days)
                 for s in client.query(q)]
    return pd.DataFrame(rows, columns=["household_id", "fuel", "energy_kwh", "days"])
