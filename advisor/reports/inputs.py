"""The I/O edge of the weekly report: registry tables, InfluxDB aggregates and var/ files read
into frames and arrays aligned with the households frame. Nothing here computes a figure.

InfluxDB does the heavy sums (GROUP BY household and UK day), so a week of half-hourly use for
10,000 homes arrives as 140,000 daily values instead of 6.7 million half hours.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from advisor.reports.period import DAY_NS, Period, iso_to_ns
from hearth.influx import RAW_RP, USAGE_RP, InfluxClient, quote_ident, quote_string

log = logging.getLogger("hearth.reports")
FUELS = ("electricity", "gas")
FORECAST_DAILY = "forecast_daily"   # the forecaster's 30 daily totals per household and fuel
FORECAST_DAYS = 30


@dataclass
class ReportInputs:
    """Everything the weekly report is computed from. Arrays are aligned with
    ``households.index`` (sorted household ids) unless named otherwise."""

    week: Period
    last_year: Period
    households: pd.DataFrame                      # registry households_frame()
    devices: pd.DataFrame                         # registry devices_frame()
    device_last_ns: np.ndarray                    # (devices,) last reading in the week, NaT none
    usage_kwh: dict[str, dict[str, np.ndarray]]   # period -> fuel -> (H, 7) daily [kWh], NaN
    usage_halfhours: dict[str, dict[str, np.ndarray]]  # period -> fuel -> (H, 7) counts
    hdd: dict[str, np.ndarray]                    # period -> (H,) heating degree days [K day]
    forecast_kwh: dict[str, np.ndarray]           # fuel -> (H, 30) daily forecast [kWh], NaN
    forecast_days: np.ndarray                     # (30,) datetime64[D]
    credit_gbp: dict[str, np.ndarray]             # fuel -> (H,) last prepayment balance [GBP]
    unit_gbp_per_kwh: dict[str, np.ndarray]       # fuel -> (H, 30) tariff on forecast days
    standing_gbp_per_day: dict[str, np.ndarray]   # fuel -> (H, 30)
    cases: pd.DataFrame                           # cases with *_ns columns
    case_events: pd.DataFrame                     # case_id, at_ns, action, detail, due_by_ns, stage
    sms: pd.DataFrame                             # household_id, status, sent_ns, created_ns
    opt_outs: pd.DataFrame                        # household_id, at_ns
    dead_letters: pd.DataFrame                    # file, time_ns
    job_runs: pd.DataFrame                        # job, scheduled_for, started_ns, outcome, error
    notes: list[str] = field(default_factory=list)  # what was missing, shown in the report
    history_start_ns: int | None = None           # first half hour of use stored, None: none


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


def _frame(conn: sqlite3.Connection, sql: str, columns: list[str], args=()) -> pd.DataFrame:
    cur = conn.cursor()
    cur.row_factory = None
    rows = cur.execute(sql, args).fetchall()
    return pd.DataFrame.from_records(rows, columns=columns)


def read_cases(conn: sqlite3.Connection, notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cases and their events (migration 0002); empty frames, with a note, before it exists."""
    case_cols = ["case_id", "household_id", "kind", "severity", "status", "opened_at",
                 "closed_at", "due_by", "stage"]
    event_cols = ["case_id", "at", "action", "detail", "due_by", "stage"]
    if not _has_table(conn, "cases"):
        notes.append("No cases table yet (the advisor's migration 0002 has not run): case and "
                     "Awaab's Law figures are zero.")
        cases, events = pd.DataFrame(columns=case_cols), pd.DataFrame(columns=event_cols)
    else:
        cases = _frame(conn, f"SELECT {', '.join(case_cols)} FROM cases ORDER BY case_id",
                       case_cols)
        events = _frame(conn, f"SELECT {', '.join(event_cols)} FROM case_events"
                        " ORDER BY case_id, at, event_id", event_cols)
    for col in ("opened_at", "closed_at", "due_by"):
        cases[col + "_ns"] = iso_to_ns(cases[col])
    events["at_ns"] = iso_to_ns(events["at"])
    events["due_by_ns"] = iso_to_ns(events["due_by"])
    return cases, events


def read_messages(conn: sqlite3.Connection, notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SMS log rows (no bodies) and opt-outs from consent_log, each with its household."""
    if _has_table(conn, "sms_log"):
        sms = _frame(conn, "SELECT household_id, template, status, sent_at, created_at FROM"
                     " sms_log ORDER BY message_id",
                     ["household_id", "template", "status", "sent_at", "created_at"])
    else:
        notes.append("No sms_log table yet (migration 0002): tip figures are zero.")
        sms = pd.DataFrame(columns=["household_id", "template", "status", "sent_at",
                                    "created_at"])
    sms["sent_ns"] = iso_to_ns(sms["sent_at"])
    sms["created_ns"] = iso_to_ns(sms["created_at"])
    opt = _frame(conn, "SELECT t.household_id, c.at FROM consent_log c JOIN tenants t"
                 " USING (tenant_id) WHERE c.event = 'opted_out' ORDER BY c.consent_id",
                 ["household_id", "at"])
    opt["at_ns"] = iso_to_ns(opt["at"])
    return sms, opt


def read_dead_letters(directory: Path) -> pd.DataFrame:
    """One row per dead letter in ``directory``/*.jsonl with the time it was set aside."""
    files, times = [], []
    for path in sorted(Path(directory).glob("*.jsonl")) if Path(directory).is_dir() else []:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    obj = {}
                stamp = next((obj[k] for k in ("time", "at", "received_at", "dead_lettered_at")
                              if isinstance(obj, dict) and isinstance(obj.get(k), str)), None)
                files.append(path.name)
                times.append(stamp)
    frame = pd.DataFrame({"file": files, "time": times})
    frame["time_ns"] = iso_to_ns(frame["time"])
    return frame


def read_job_runs(path: Path) -> pd.DataFrame:
    """The scheduler's job runs (read only)."""
    cols = ["job", "scheduled_for", "attempt", "started_at", "outcome", "error"]
    if not Path(path).exists():
        return pd.DataFrame(columns=[*cols, "started_ns"]).assign(started_ns=np.array([], np.int64))
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        if not _has_table(db, "job_runs"):
            frame = pd.DataFrame(columns=cols)
        else:
            frame = _frame(db, f"SELECT {', '.join(cols)} FROM job_runs ORDER BY run_id", cols)
    finally:
        db.close()
    frame["started_ns"] = iso_to_ns(frame["started_at"])
    return frame


# ---- InfluxDB --------------------------------------------------------------------------------

def _source(client: InfluxClient, rp: str, measurement: str) -> str:
    return f"{quote_ident(client.database)}.{quote_ident(rp)}.{quote_ident(measurement)}"


def _day_index(times_ns: np.ndarray, period: Period) -> np.ndarray:
    """Bucket start instants of GROUP BY time(1d) tz(UK) -> day number in the period. Only the
    few distinct instants are converted (a week has seven)."""
    from hearth.registry.tariffs import local_days

    uniq, inverse = np.unique(np.asarray(times_ns, dtype=np.int64), return_inverse=True)
    days = local_days(uniq.astype("datetime64[ns]"), period.tz)
    return (days - np.datetime64(period.first_day)).astype(np.int64)[inverse]


def _flatten(series, tag_names: tuple[str, ...], columns: tuple[str, ...]):
    """All series of a result as flat arrays: one array per tag (repeated per row), the times,
    and each value column; one pass, so that 20,000 series cost one numpy concatenation."""
    kept = [x for x in series if len(x)]
    lengths = np.array([len(x) for x in kept], dtype=np.int64)
    tags = {t: np.repeat(np.array([x.tags.get(t) for x in kept], dtype=object), lengths)
            for t in tag_names}
    if not kept:
        empty = np.zeros(0)
        return tags, np.zeros(0, np.int64), {c: empty for c in columns}
    times = np.concatenate([x.values["time"] for x in kept]).astype(np.int64)
    values = {c: np.concatenate([np.asarray(x.values[c], dtype=float) for x in kept])
              for c in columns}
    return tags, times, values


def daily_usage(client: InfluxClient, period: Period, index: pd.Index
                ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """usage_30m summed per household, fuel and UK day: ({fuel: (H, days) kWh},
    {fuel: (H, days) half hours counted}); NaN / 0 where nothing was recorded."""
    q = (f'SELECT sum("energy_kwh") AS energy_kwh, count("energy_kwh") AS n FROM '
         f'{_source(client, USAGE_RP, "usage_30m")} WHERE time >= {period.start_ns} AND '
         f'time < {period.end_ns} GROUP BY time(1d), "household", "fuel" fill(none) '
         f"tz('{period.tz}')")
    kwh = {f: np.full((len(index), period.days), np.nan) for f in FUELS}
    count = {f: np.zeros((len(index), period.days), np.int64) for f in FUELS}
    tags, times, values = _flatten(client.query(q), ("household", "fuel"), ("energy_kwh", "n"))
    rows = index.get_indexer(tags["household"])
    days = _day_index(times, period)
    ok = (rows >= 0) & (days >= 0) & (days < period.days)
    for fuel in FUELS:
        m = ok & (tags["fuel"] == fuel)
        kwh[fuel][rows[m], days[m]] = values["energy_kwh"][m]
        count[fuel][rows[m], days[m]] = values["n"][m].astype(np.int64)
    return kwh, count


def area_hdd(client: InfluxClient, period: Period, base_c: float) -> pd.Series:
    """Heating degree days per weather area over the period: the sum over its UK days of
    max(0, base - daily mean outdoor temperature) [K day]; NaN unless every day has weather.
    Reads `weather` from both retention policies (raw keeps 90 days; usage may keep more)."""
    q = (f'SELECT mean("temp_c") AS temp_c FROM {_source(client, RAW_RP, "weather")}, '
         f'{_source(client, USAGE_RP, "weather")} WHERE time >= {period.start_ns} AND '
         f'time < {period.end_ns} GROUP BY time(1d), "area" fill(none) tz(\'{period.tz}\')')
    out = {}
    for s in client.query(q):
        area = s.tags.get("area")
        d = _day_index(s.values["time"], period)
        temps = np.full(period.days, np.nan)
        ok = (d >= 0) & (d < period.days)
        temps[d[ok]] = s.values["temp_c"][ok]
        out[area] = (float(np.maximum(0.0, base_c - temps).sum())
                     if not np.isnan(temps).any() else np.nan)
    return pd.Series(out, dtype=float)


def device_last_seen(client: InfluxClient, period: Period, devices: pd.Index) -> np.ndarray:
    """Time of each device's last reading in the period [ns], NaT-min where none."""
    last = np.full(len(devices), np.iinfo(np.int64).min, dtype=np.int64)
    for measurement, fld in (("meter", "energy_kwh"), ("thermostat", "temp_c")):
        q = (f'SELECT last({quote_ident(fld)}) FROM {_source(client, RAW_RP, measurement)} '
             f'WHERE time >= {period.start_ns} AND time < {period.end_ns} GROUP BY "device"')
        tags, times, _ = _flatten(client.query(q), ("device",), ())
        pos = devices.get_indexer(tags["device"])
        ok = pos >= 0
        np.maximum.at(last, pos[ok], times[ok])
    return last


def last_credit(client: InfluxClient, period: Period, index: pd.Index) -> dict[str, np.ndarray]:
    """Last prepayment balance of each household's meters in the period [GBP], NaN none."""
    out = {f: np.full(len(index), np.nan) for f in FUELS}
    q = (f'SELECT last("credit_gbp") FROM {_source(client, RAW_RP, "meter")} WHERE '
         f'time >= {period.start_ns} AND time < {period.end_ns} GROUP BY "household", "fuel"')
    tags, _, values = _flatten(client.query(q), ("household", "fuel"), ("last",))
    rows = index.get_indexer(tags["household"])
    for fuel in FUELS:
        m = (rows >= 0) & (tags["fuel"] == fuel)
        out[fuel][rows[m]] = values["last"][m]
    return out


def forecast_daily(client: InfluxClient, first_day: np.datetime64, model: str, index: pd.Index
                   ) -> dict[str, np.ndarray]:
    """The stored daily forecasts for the 30 days from ``first_day`` (UTC days, as the
    forecaster writes them) [kWh]: {fuel: (H, 30)}, NaN where there is none."""
    start = int(np.datetime64(first_day, "D").astype("datetime64[ns]").astype(np.int64))
    # Tags as columns of one series, not GROUP BY household: one JSON series instead of one
    # per household and fuel (the per-series overhead dominates for 20,000 short series).
    q = (f'SELECT "energy_kwh", "household", "fuel" FROM '
         f'{_source(client, USAGE_RP, FORECAST_DAILY)} WHERE "model" = {quote_string(model)} '
         f'AND time >= {start} AND time < {start + FORECAST_DAYS * DAY_NS}')
    out = {f: np.full((len(index), FORECAST_DAYS), np.nan) for f in FUELS}
    for s in client.query(q):
        if not len(s):
            continue
        rows = index.get_indexer(pd.Index(s.values["household"], dtype=object))
        days = (s.values["time"].astype(np.int64) - start) // DAY_NS
        fuel = s.values["fuel"]
        ok = (rows >= 0) & (days >= 0) & (days < FORECAST_DAYS)
        for f in FUELS:
            m = ok & (fuel == f)
            out[f][rows[m], days[m]] = s.values["energy_kwh"][m].astype(float)
    return out


def history_start(client: InfluxClient, before_ns: int) -> int | None:
    """The first half hour of use stored (usage_30m, any home) before ``before_ns`` [ns], or
    None when there is none: where a new installation's history starts."""
    q = (f'SELECT first("energy_kwh") FROM {_source(client, USAGE_RP, "usage_30m")} '
         f'WHERE time < {int(before_ns)}')
    times = [int(s.values["time"][0]) for s in client.query(q) if len(s)]
    return min(times) if times else None
