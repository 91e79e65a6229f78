"""InfluxDB and var/ edges of ``hearth forecast``: read usage incrementally, write forecasts.

The history cache (``var/forecasting/history_<fuel>.npz``) holds the last ``history_days`` of
every household's half-hourly use, so a daily run reads only the days since the last run
(plus ``reread_days`` for late readings), not eight weeks of 100,000 homes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("hearth.forecasting")

STEP_NS = 30 * 60 * 10**9
DAY_NS = 86_400 * 10**9
MODEL = "hearth"                      # value of the `model` tag of our forecasts
FORECAST = "forecast"                 # half-hourly forecasts
FORECAST_DAILY = "forecast_daily"     # 30 daily totals
FORECAST_RUN = "forecast_run"         # one point per run and fuel: where the latest starts
CACHE_VERSION = 1


@dataclass
class History:
    """Half-hourly use of ``households`` in [start_ns, start_ns + T * 30 min) [kWh]."""

    households: np.ndarray
    start_ns: int
    energy_kwh: np.ndarray   # (H, T) float32, NaN missing

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.energy_kwh.shape[1] * STEP_NS


def cache_path(var_dir: Path, fuel: str, shard=None) -> Path:
    """The history cache of a fuel; a shard (hearth.shards.Shard) has its own, so that N
    workers on one machine never overwrite each other's."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", fuel)
    suffix = f"_shard{shard.label}" if shard is not None else ""
    return Path(var_dir) / "forecasting" / f"history_{safe}{suffix}.npz"


def load_cache(path: Path) -> History | None:
    """The cached history, or None when absent or unreadable (then everything is re-read)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != CACHE_VERSION:
                return None
            return History(z["households"].astype(str), int(z["start_ns"]),
                           z["energy_kwh"].astype(np.float32))
    except (OSError, KeyError, ValueError) as exc:
        log.warning("ignoring unreadable forecast cache %s (%s); reading the full history",
                    path, exc)
        return None


def save_cache(path: Path, history: History) -> None:
    """Write atomically (a crash mid-write leaves the previous cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, version=CACHE_VERSION, households=history.households.astype(str),
             start_ns=history.start_ns, energy_kwh=history.energy_kwh)
    tmp.replace(path)


def merge(old: History | None, new: History, start_ns: int, end_ns: int) -> History:
    """History on [start_ns, end_ns): the cache, overwritten by newly read values.

    Households with no value in the window are dropped (moved out, meter removed).
    """
    n_t = (end_ns - start_ns) // STEP_NS
    names = new.households if old is None else np.union1d(old.households, new.households)
    out = np.full((names.size, n_t), np.nan, np.float32)
    for part in ((old,) if old is not None else ()) + (new,):
        rows = np.searchsorted(names, part.households)
        lo = max(part.start_ns, start_ns)
        hi = min(part.end_ns, end_ns)
        if hi <= lo or part.households.size == 0:
            continue
        src = slice((lo - part.start_ns) // STEP_NS, (hi - part.start_ns) // STEP_NS)
        dst = slice((lo - start_ns) // STEP_NS, (hi - start_ns) // STEP_NS)
        block = part.energy_kwh[:, src]
        current = out[rows, dst]
        out[rows, dst] = np.where(np.isfinite(block), block, current)
    keep = np.isfinite(out).any(axis=1)
    return History(names[keep], start_ns, out[keep])


def read_history(client, fuel: str, end_ns: int, history_days: int, var_dir: Path,
                 reread_days: int = 2, use_cache: bool = True, shard=None,
                 households=None) -> tuple[History, int]:
    """Usage of every household (or of `households`, a shard's) over the ``history_days``
    before ``end_ns`` (a half hour).

    Returns the history and the number of days actually read from InfluxDB.
    """
    start_ns = end_ns - history_days * DAY_NS
    path = cache_path(var_dir, fuel, shard)
    cached = load_cache(path) if use_cache else None
    read_from = start_ns
    if cached is not None and cached.end_ns > start_ns:
        read_from = max(start_ns, min(cached.end_ns, end_ns) - reread_days * DAY_NS)
    else:
        cached = None
    matrix = client.usage_matrix(np.int64(read_from).astype("datetime64[ns]"),
                                 np.int64(end_ns).astype("datetime64[ns]"), fuel=fuel,
                                 households=households)
    first_ns = int(np.asarray(matrix.times[:1], "datetime64[ns]").astype(np.int64)[0]) \
        if len(matrix.times) else read_from
    fresh = History(np.asarray(matrix.households).astype(str), first_ns,
                    np.asarray(matrix.energy_kwh, np.float32))
    if cached is not None and households is not None:
        # A household that moved to another shard (the patch was renamed, N changed) is no
        # longer this worker's: its cached rows must not be forecast twice.
        cached = _only(cached, np.asarray(households, dtype=str))
    history = merge(cached, fresh, start_ns, end_ns)
    if use_cache:
        save_cache(path, history)
    return history, (end_ns - read_from) / DAY_NS


def _only(history: History, households: np.ndarray) -> History:
    keep = np.isin(history.households, households)
    return History(history.households[keep], history.start_ns, history.energy_kwh[keep])


def usage_households(client, fuel: str) -> list[str]:
    """Households with half-hourly usage of this fuel (the series index: no data scanned)."""
    from hearth.influx import USAGE_RP, quote_ident, quote_string

    q = (f'SHOW TAG VALUES FROM {quote_ident(client.database)}.{quote_ident(USAGE_RP)}.'
         f'"usage_30m" WITH KEY = "household" WHERE "fuel" = {quote_string(fuel)}')
    return sorted({str(v) for s in client.query(q, epoch=None) for v in s.values.get("value", [])})


def fuels(client) -> list[str]:
    """Fuels with half-hourly usage in the database."""
    from hearth.influx import USAGE_RP, quote_ident

    q = (f'SHOW TAG VALUES FROM {quote_ident(client.database)}.{quote_ident(USAGE_RP)}.'
         '"usage_30m" WITH KEY = "fuel"')
    found = set()
    for s in client.query(q, epoch=None):
        found.update(str(v) for v in s.values.get("value", []))
    return sorted(found)


def read_weather(client, start_ns: int, end_ns: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Hourly mean outdoor temperature (measurement ``weather``, field ``temp_c``) [C] in
    [start, end), across any weather stations; None when there is none."""
    from hearth.influx import quote_ident

    q = (f'SELECT mean("temp_c") AS "temp_c" FROM {quote_ident(client.database)}..'
         f'"weather" WHERE time >= {start_ns} AND time < {end_ns} GROUP BY time(1h) fill(none)')
    series = client.query(q)
    if not series or len(series[0]) == 0:
        return None
    s = series[0]
    return s.values["time"].astype("datetime64[ns]"), s.values["temp_c"]


def forecast_lines(forecast, fuel: str, model: str = MODEL) -> tuple[list[str], list[str]]:
    """Line protocol of a :class:`forecasting.estimator.Forecast`: half-hourly points of
    ``forecast`` and daily points of ``forecast_daily``, built column-wise."""
    from hearth.influx import lines_from_arrays

    n_h, n_t = forecast.energy_kwh.shape
    hh = lines_from_arrays(
        FORECAST,
        tags={"household": np.repeat(forecast.households, n_t), "fuel": fuel, "model": model},
        fields={"energy_kwh": _r(forecast.energy_kwh),
                "energy_kwh_p10": _r(forecast.energy_kwh_p10),
                "energy_kwh_p90": _r(forecast.energy_kwh_p90),
                "energy_kwh_mean": _r(forecast.energy_kwh_mean)},
        time_ns=np.tile(forecast.times.astype("datetime64[ns]").astype(np.int64), n_h))
    n_d = forecast.daily_kwh.shape[1]
    daily = lines_from_arrays(
        FORECAST_DAILY,
        tags={"household": np.repeat(forecast.households, n_d), "fuel": fuel, "model": model},
        fields={"energy_kwh": _r(forecast.daily_kwh),
                "energy_kwh_p10": _r(forecast.daily_kwh_p10),
                "energy_kwh_p90": _r(forecast.daily_kwh_p90),
                "trust": np.repeat(forecast.trust, n_d)},
        time_ns=np.tile(forecast.days.astype("datetime64[ns]").astype(np.int64), n_h))
    return hh, daily


def _r(values: np.ndarray) -> np.ndarray:
    """Flatten and round to 0.1 Wh (float64 so the text is short and exact)."""
    return np.round(values.astype(np.float64).ravel(), 4)


@dataclass(frozen=True)
class WeatherCoverage:
    """How much real weather a run had: UTC days of the history with outdoor temperature, and
    days of the daily horizon with a forecast; the rest use climatology (plus the recent
    anomaly, decaying)."""

    history_days: int
    history_days_with_weather: int
    horizon_days: int
    horizon_days_with_forecast: int

    @property
    def label(self) -> str:
        """What the run's temperatures came from, past then ahead: `observed+forecast`,
        `observed+climatology` (no forecast ahead), `climatology+forecast` (no past weather)
        or `climatology` (no weather at all)."""
        past, ahead = self.history_days_with_weather > 0, self.horizon_days_with_forecast > 0
        return {(True, True): "observed+forecast", (True, False): "observed+climatology",
                (False, True): "climatology+forecast", (False, False): "climatology"}[
                    (past, ahead)]


def weather_coverage(weather, history_start_ns: int, origin_ns: int,
                     horizon_days: int) -> WeatherCoverage:
    """Pure: the coverage of a (times, temp_c) series (or None) over a run's history
    [history_start, origin) and its horizon of `horizon_days` UTC days from the origin's day."""
    first_day = np.int64(history_start_ns) // DAY_NS
    origin_day = np.int64(origin_ns) // DAY_NS
    n_hist = int(max(origin_day - first_day, 0))
    if weather is None:
        return WeatherCoverage(n_hist, 0, horizon_days, 0)
    times = np.asarray(weather[0], "datetime64[ns]").astype(np.int64)
    ok = np.isfinite(np.asarray(weather[1], float))
    days = times[ok] // DAY_NS
    hist = np.unique(days[(times[ok] >= history_start_ns) & (times[ok] < origin_ns)])
    ahead = np.unique(days[(times[ok] >= origin_ns) & (days < origin_day + horizon_days)])
    return WeatherCoverage(n_hist, int(hist.size), horizon_days, int(ahead.size))


def run_line(fuel: str, origin_ns: int, n_households: int, horizon_steps: int,
             horizon_days: int, trust_counts: dict[str, int], model: str = MODEL,
             weather: WeatherCoverage | None = None, shard=None) -> list[str]:
    """One ``forecast_run`` point at the forecast origin: where the latest forecast starts,
    and (`weather`) how much real weather the run had: fields `weather` (its label),
    `weather_history_days`, `weather_forecast_days`. A shard's run (``--shard i/N``) has the
    tag ``shard`` = ``iofN``, so the N runs of one origin are N points, not one overwritten."""
    from hearth.influx import lines_from_arrays

    fields = {"households": np.array([n_households]), "horizon_steps": np.array([horizon_steps]),
              "horizon_days": np.array([horizon_days])}
    if weather is not None:
        fields["weather"] = np.array([weather.label])
        fields["weather_history_days"] = np.array([weather.history_days_with_weather])
        fields["weather_forecast_days"] = np.array([weather.horizon_days_with_forecast])
    for label, count in trust_counts.items():
        fields[f"trust_{label}"] = np.array([count])
    tags = {"fuel": fuel, "model": model}
    if shard is not None:
        tags["shard"] = shard.label
    return lines_from_arrays(FORECAST_RUN, tags=tags, fields=fields,
                             time_ns=np.array([origin_ns], np.int64))
