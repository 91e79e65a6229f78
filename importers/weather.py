"""Hourly outdoor temperature per patch from Open-Meteo, into the `weather` measurement.

Two documented endpoints (https://open-meteo.com/en/docs and
https://open-meteo.com/en/docs/historical-weather-api), both asked for `hourly=temperature_2m`
with `timezone=GMT` and `timeformat=unixtime`, answer::

    {"latitude": 53.48, "longitude": -2.24, "utc_offset_seconds": 0, "timezone": "GMT",
     "hourly_units": {"time": "unixtime", "temperature_2m": "°C"},
     "hourly": {"time": [1764720000, ...], "temperature_2m": [4.1, null, ...]}}

- the archive (reanalysis, about five days behind) gives the observed past: points with
  `forecast=false`;
- the forecast endpoint gives the next `forecast_days` and, with `past_days`, the recent days the
  archive has not got yet: points with `forecast=true`.

Points: measurement `weather`, tag `area`, fields `temp_c` [C] and `forecast` (bool), at the
hour's start (UTC). A re-run writes the same points again (idempotent); observed points are
written after forecast ones, so an hour once observed stays observed. A null hour writes
nothing: missing stays missing, never zero and never interpolated.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

MEASUREMENT = "weather"
SOURCE = "weather"  # dead-letter file weather.jsonl
HOUR_S = 3600
_RETRY_STATUS = {429, 500, 502, 503, 504}


class WeatherFetchError(Exception):
    """The service could not give an area's weather; the message says why."""


@dataclass(frozen=True)
class HourlySeries:
    """Hourly temperatures of one answer: times [s since 1970, UTC], temp_c [C] (NaN: null)."""

    time_s: np.ndarray
    temp_c: np.ndarray

    @property
    def missing_hours(self) -> int:
        return int(np.isnan(self.temp_c).sum())


def parse_hourly(body: object) -> HourlySeries:
    """The hourly temperature_2m series of an Open-Meteo answer (already JSON-decoded).

    Raises ValueError naming what is wrong when the answer is not the documented shape: no
    `hourly` object, `time` and `temperature_2m` of different lengths, times not whole hours
    in unix seconds, a unit other than degrees C, a value that is neither a number nor null."""
    if not isinstance(body, dict):
        raise ValueError(f"the answer is a JSON {type(body).__name__}, not an object")
    hourly = body.get("hourly")
    if not isinstance(hourly, dict):
        raise ValueError("no 'hourly' object in the answer")
    units = body.get("hourly_units") or {}
    if not isinstance(units, dict):
        raise ValueError("'hourly_units' is not an object")
    if units.get("time", "unixtime") != "unixtime":
        raise ValueError(f"hourly times are {units.get('time')!r}, expected unixtime "
                         "(the request sets timeformat=unixtime)")
    unit = units.get("temperature_2m", "°C")
    if unit not in ("°C", "C"):
        raise ValueError(f"temperature_2m is in {unit!r}, expected °C")
    times, temps = hourly.get("time"), hourly.get("temperature_2m")
    if not isinstance(times, list) or not isinstance(temps, list):
        raise ValueError("'hourly' lacks the 'time' or 'temperature_2m' list")
    if len(times) != len(temps):
        raise ValueError(f"'time' has {len(times)} entries but 'temperature_2m' {len(temps)}")
    if not all(isinstance(t, int) and not isinstance(t, bool) for t in times):
        raise ValueError("a 'time' entry is not an integer (unix seconds)")
    bad = [v for v in temps if v is not None and (isinstance(v, bool)
                                                  or not isinstance(v, int | float))]
    if bad:
        raise ValueError(f"a temperature_2m value is not a number or null: {bad[0]!r}")
    time_s = np.asarray(times, dtype=np.int64)
    if time_s.size and (time_s % HOUR_S).any():
        raise ValueError("a 'time' entry is not at a whole hour")
    temp_c = np.array([math.nan if v is None else float(v) for v in temps], dtype=float)
    if np.isfinite(temp_c).any() and not (np.abs(temp_c[np.isfinite(temp_c)]) < 80).all():
        raise ValueError("a temperature_2m value is outside -80..80 C")
    return HourlySeries(time_s, temp_c)


def weather_lines(area: str, series: HourlySeries, *, forecast: bool,
                  after_s: int | None = None) -> list[str]:
    """`weather` points of the known hours (nulls skipped), optionally only after `after_s`."""
    from hearth.influx import lines_from_arrays

    keep = np.isfinite(series.temp_c)
    if after_s is not None:
        keep &= series.time_s > after_s
    n = int(keep.sum())
    if not n:
        return []
    return lines_from_arrays(MEASUREMENT, {"area": area},
                             {"temp_c": np.round(series.temp_c[keep], 2),
                              "forecast": np.full(n, forecast)},
                             series.time_s[keep] * 1_000_000_000)


@dataclass
class AreaResult:
    area: str
    observed_points: int = 0
    forecast_points: int = 0
    missing_hours: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class OpenMeteo:
    """GETs with retries: 429, 5xx and no answer are retried with exponential backoff (a
    Retry-After header is obeyed up to `backoff_max_s`); other errors are final. An answer
    that is not the documented shape is dead-lettered with the reason."""

    def __init__(self, settings, dead_letters=None, session=None,
                 sleep: Callable[[float], None] = time.sleep):
        import requests

        self.s = settings
        self.session = session or requests.Session()
        self.dead_letters = dead_letters
        self.sleep = sleep
        self.requests = 0

    def hourly(self, url: str, params: dict) -> HourlySeries:
        body = self._get(url, params)
        try:
            return parse_hourly(json.loads(body))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            reason = f"malformed: {exc}"
            if self.dead_letters is not None:
                self.dead_letters.add(SOURCE, reason, body, url=url,
                                      params={k: str(v) for k, v in params.items()})
            raise WeatherFetchError(f"{url}: {reason} (kept in the dead letters)") from None

    def _get(self, url: str, params: dict) -> bytes:
        import requests

        s = self.s
        last, last_response = "", None
        for attempt in range(s.retries + 1):
            if attempt:
                wait = min(s.backoff_initial_s * 2 ** (attempt - 1), s.backoff_max_s)
                wait = max(wait, min(_retry_after_s(last_response), s.backoff_max_s))
                log.info("weather: %s; retry %d of %d in %.1f s", last, attempt, s.retries,
                         wait)
                self.sleep(wait)
            last_response = None
            self.requests += 1
            try:
                response = self.session.get(url, params=params, timeout=s.timeout_s)
            except requests.RequestException as exc:
                last = f"no answer from {url} ({type(exc).__name__})"
                continue
            if response.status_code == 200:
                return response.content
            last_response = response
            last = f"{url} answered {response.status_code}{_reason(response)}"
            if response.status_code not in _RETRY_STATUS:
                break
        else:
            raise WeatherFetchError(f"{last}, after {s.retries + 1} attempts")
        raise WeatherFetchError(last)


def _reason(response) -> str:
    """Open-Meteo's error body is {"error": true, "reason": "..."}."""
    try:
        reason = response.json().get("reason")
    except (ValueError, AttributeError):
        return ""
    return f": {reason}" if reason else ""


def _retry_after_s(response) -> float:
    if response is None:
        return 0.0
    try:
        return max(0.0, float(response.headers.get("Retry-After", 0)))
    except ValueError:
        return 0.0


def last_observed_s(client, area: str) -> int | None:
    """Time of the area's latest observed (not forecast) hour in InfluxDB [s], None if none."""
    from hearth.influx import quote_ident, quote_string

    q = (f'SELECT last("temp_c") FROM {quote_ident(client.database)}..{quote_ident(MEASUREMENT)}'
         f' WHERE "area" = {quote_string(area)} AND "forecast" = false')
    series = client.query(q)
    if not series or not len(series[0]):
        return None
    return int(series[0].values["time"][0]) // 1_000_000_000


def _day(ts_s: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts_s, dt.UTC).date()


def import_area(api: OpenMeteo, client, settings, area, now_s: int,
                since: dt.date | None = None) -> AreaResult:
    """Fetch one patch's forecast and observed weather and write them. Each part that fails is
    reported in the result; what the other part gave is still written."""
    s = settings
    result = AreaResult(area.name)
    where = {"latitude": area.latitude, "longitude": area.longitude,
             "hourly": "temperature_2m", "timezone": "GMT", "timeformat": "unixtime"}
    last_obs = last_observed_s(client, area.name)
    today = _day(now_s)
    if since is not None:
        start = since
    elif last_obs is None:
        start = today - dt.timedelta(days=s.history_days)
    else:
        start = min(_day(last_obs) + dt.timedelta(days=1),
                    today - dt.timedelta(days=s.archive_lookback_days))
    end = today - dt.timedelta(days=1)
    lines: list[str] = []
    try:
        fc = api.hourly(s.forecast_url, {**where, "past_days": s.past_days,
                                         "forecast_days": s.forecast_days})
        # never let a forecast overwrite an hour already observed in an earlier run
        lines += weather_lines(area.name, fc, forecast=True, after_s=last_obs)
        result.forecast_points = len(lines)
        result.missing_hours += fc.missing_hours
    except WeatherFetchError as exc:
        result.errors.append(f"forecast: {exc}")
    if start <= end:
        try:
            obs = api.hourly(s.archive_url, {**where, "start_date": start.isoformat(),
                                             "end_date": end.isoformat()})
            obs_lines = weather_lines(area.name, obs, forecast=False)
            lines += obs_lines  # after the forecast's: observed wins for the same hour
            result.observed_points = len(obs_lines)
            # the archive's recent days are null until it catches up: count only older gaps
            latest = obs.time_s[np.isfinite(obs.temp_c)].max(initial=-1)
            result.missing_hours += int((np.isnan(obs.temp_c) & (obs.time_s < latest)).sum())
        except WeatherFetchError as exc:
            result.errors.append(f"archive: {exc}")
    if lines:
        written = client.write_lines(lines)
        if written.dead_lettered:
            result.errors.append(f"InfluxDB refused {written.dead_lettered} points (see the "
                                 "influx dead letters)")
    return result


def import_weather(settings, client, now_s: int | None = None, *, since: dt.date | None = None,
                   areas: list[str] | None = None, api: OpenMeteo | None = None
                   ) -> list[AreaResult]:
    """`hearth import weather`: every configured patch (or those named in `areas`)."""
    from collectors.deadletter import DeadLetters
    from hearth.errors import ConfigError

    w = settings.weather
    chosen = [a for a in w.areas if areas is None or a.name in areas]
    if not w.areas:
        raise ConfigError("no weather areas configured: add [[weather.areas]] entries (name, "
                          "latitude, longitude) to the settings file (docs/weather.md)")
    unknown = sorted(set(areas or ()) - {a.name for a in w.areas})
    if unknown:
        raise ConfigError(f"unknown weather area(s) {', '.join(unknown)}; configured: "
                          f"{', '.join(a.name for a in w.areas)}")
    now_s = int(time.time()) if now_s is None else int(now_s)
    dead = DeadLetters(settings.collectors.dead_letter_dir)
    try:
        api = api or OpenMeteo(w, dead)
        if api.dead_letters is None:
            api.dead_letters = dead
        client.ensure_database()
        results = []
        for area in chosen:
            result = import_area(api, client, w, area, now_s, since)
            for err in result.errors:
                log.warning("weather %s: %s", area.name, err)
            results.append(result)
        return results
    finally:
        dead.close()
