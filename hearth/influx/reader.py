"""InfluxQL results into numpy arrays: `Series`, chunked JSON merging, the usage matrix."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import numpy as np

from hearth.errors import InfluxError

HALF_HOUR_NS = 30 * 60 * 1_000_000_000


@dataclass
class Series:
    """One series of a query result.

    ``values["time"]`` is int64 [ns since the epoch, UTC] (with ``epoch="ns"``); numeric columns
    are float64 (NaN where a row has no value); text columns are object arrays of str/None;
    boolean columns are bool arrays (object arrays if some rows have no value).
    """

    name: str
    tags: dict[str, str]
    columns: list[str]
    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.values.values()))) if self.values else 0


@dataclass
class UsageMatrix:
    """Half-hourly energy per household: ``energy_kwh[h, s]`` [kWh] for household
    ``households[h]`` in the half hour starting at ``times[s]`` (datetime64[ns], UTC); NaN where
    no value was recorded."""

    households: np.ndarray
    times: np.ndarray
    energy_kwh: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.energy_kwh.shape


def _column_array(name: str, col: tuple, time_column: bool) -> np.ndarray:
    if time_column:
        first = next((v for v in col if v is not None), None)
        if isinstance(first, str):  # epoch not given: RFC3339 strings
            return np.array(col, dtype=object)
        return np.array(col, dtype=np.int64)
    first = next((v for v in col if v is not None), None)
    if first is None:
        return np.full(len(col), np.nan)
    if isinstance(first, bool):
        return np.array(col, dtype=bool if None not in col else object)
    if isinstance(first, int | float):
        try:
            return np.array(col, dtype=np.float64)  # None becomes NaN
        except (TypeError, ValueError):
            pass
    return np.array(col, dtype=object)


def query_results(obj: dict, query: str) -> list[dict]:
    """The statement results of one /query answer (or chunk); an error in it raises
    InfluxError naming the query."""
    if "error" in obj:
        raise InfluxError(f"InfluxDB query failed: {obj['error']} (query: {query[:300]})")
    results = obj.get("results", [])
    for result in results:
        if "error" in result:
            raise InfluxError(f"InfluxDB query failed: {result['error']}"
                              f" (query: {query[:300]})")
    return results


class SeriesBuilder:
    """Collects rows of series that chunked responses may split over several chunks."""

    def __init__(self) -> None:
        self._parts: dict[tuple, tuple[str, dict, list[str], list[list]]] = {}

    def add_response(self, obj: dict, query: str) -> None:
        for result in query_results(obj, query):
            sid = result.get("statement_id", 0)
            for s in result.get("series", []) or []:
                tags = s.get("tags") or {}
                key = (sid, s.get("name", ""), tuple(sorted(tags.items())))
                part = self._parts.get(key)
                if part is None:
                    self._parts[key] = (s.get("name", ""), dict(tags), list(s["columns"]),
                                        [s.get("values") or []])
                else:
                    part[3].append(s.get("values") or [])

    def series(self) -> list[Series]:
        out = []
        for name, tags, columns, chunks in self._parts.values():
            rows = chunks[0] if len(chunks) == 1 else [r for c in chunks for r in c]
            cols = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
            values = {c: _column_array(c, col, c == "time") for c, col in zip(columns, cols,
                                                                               strict=True)}
            if not rows and "time" in values:
                values["time"] = np.empty(0, dtype=np.int64)
            out.append(Series(name, tags, columns, values))
        return out


def to_ns(value) -> int:
    """A time as int ns since the epoch, UTC. Accepts datetime (naive means UTC), date,
    numpy datetime64, pandas Timestamp, ISO 8601 string or int ns."""
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ns]").astype(np.int64))
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if isinstance(value, dt.date):
        return to_ns(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC))
    raise TypeError(f"cannot use {value!r} as a time; give a datetime, datetime64 or ISO string")


def half_hour_grid(start_ns: int, end_ns: int) -> np.ndarray:
    """Start times [ns] of the half hours covering [start, end): start floored, end ceiled."""
    first = start_ns - start_ns % HALF_HOUR_NS
    last = -(-end_ns // HALF_HOUR_NS) * HALF_HOUR_NS
    return np.arange(first, last, HALF_HOUR_NS, dtype=np.int64)


class UsageCollector:
    """Scatters ``SELECT energy_kwh ... GROUP BY household`` answers (epoch=s) onto a
    half-hour grid as they arrive, chunk by chunk, from one or more threads.

    ``add_day_response`` takes `usage_day` answers instead (one row per day, one column per
    half-hour slot). With ``fill_missing`` set, values only fill cells still NaN (a second
    source completing the first)."""

    def __init__(self, grid_ns: np.ndarray, households=None):
        self.grid_ns = grid_ns
        self.fixed = households is not None
        self.names: list[str] = list(households) if households is not None else []
        self.row_of = {h: i for i, h in enumerate(self.names)}
        self.rows: list[np.ndarray] = [np.full(len(grid_ns), np.nan) for _ in self.names]
        self.first_s = int(grid_ns[0]) // 1_000_000_000 if len(grid_ns) else 0
        self.fill_missing = False
        self._lock = threading.Lock()

    def _row(self, household: str) -> np.ndarray | None:
        i = self.row_of.get(household)
        if i is None:
            if self.fixed:
                return None
            with self._lock:
                i = self.row_of.get(household)
                if i is None:
                    # Publish the index last: another thread reads row_of without the lock.
                    i = len(self.names)
                    self.names.append(household)
                    self.rows.append(np.full(len(self.grid_ns), np.nan))
                    self.row_of[household] = i
        return self.rows[i]

    def _series(self, obj: dict, query: str):
        for result in query_results(obj, query):
            for s in result.get("series", []) or []:
                row = self._row((s.get("tags") or {}).get("household", ""))
                if row is not None and s.get("values"):
                    yield row, s

    def _put(self, row: np.ndarray, steps: np.ndarray, values: np.ndarray) -> None:
        ok = (steps >= 0) & (steps < len(row))
        steps, values = steps[ok], values[ok]
        if self.fill_missing:
            keep = np.isnan(row[steps])
            steps, values = steps[keep], values[keep]
        row[steps] = values

    def add_response(self, obj: dict, query: str) -> None:
        for row, s in self._series(obj, query):
            a = np.array(s["values"], dtype=np.float64)  # [[time_s, energy_kwh|None], ...]
            # A value not on a half-hour boundary lands in the half hour that holds it.
            steps = (a[:, 0].astype(np.int64) - self.first_s) // (HALF_HOUR_NS // 10**9)
            self._put(row, steps, a[:, 1])

    def add_day_response(self, obj: dict, query: str) -> None:
        """`usage_day` rows: [time_s (midnight UTC), slot values (None: no value)...]."""
        from hearth.influx.usage import SLOT_OF_FIELD

        for row, s in self._series(obj, query):
            cols = s["columns"]
            slots = np.array([SLOT_OF_FIELD.get(c, -1) for c in cols[1:]], dtype=np.int64)
            a = np.array(s["values"], dtype=np.float64)  # (days, 1 + slots); None -> NaN
            day_step = (a[:, 0].astype(np.int64) - self.first_s) // (HALF_HOUR_NS // 10**9)
            steps = day_step[:, None] + slots[None, :]
            known = (slots >= 0)[None, :] & ~np.isnan(a[:, 1:])
            self._put(row, steps[known], a[:, 1:][known])

    def matrix(self) -> UsageMatrix:
        # Unasked-for households come from the answer; a usage_day row can name one whose
        # values all lie outside the period (same day, other hours): leave it out, as usage_30m
        # would.
        order = range(len(self.names)) if self.fixed else sorted(
            (i for i in range(len(self.names)) if not np.isnan(self.rows[i]).all()),
            key=self.names.__getitem__)
        names = [self.names[i] for i in order]
        energy = (np.stack([self.rows[i] for i in order]) if names
                  else np.empty((0, len(self.grid_ns))))
        return UsageMatrix(np.array(names, dtype=str) if names else np.empty(0, dtype=str),
                           self.grid_ns.view("datetime64[ns]"), energy)
