"""`hearth import weather` against a local stub of Open-Meteo (pytest-httpserver) serving the
documented response shape, writing to the real InfluxDB fixture; and the forecaster's
climatology fallback when the import fails.

The stub's answers follow Open-Meteo's documented JSON (https://open-meteo.com/en/docs, "JSON
return object"; https://open-meteo.com/en/docs/historical-weather-api): top-level latitude,
longitude, utc_offset_seconds, timezone, `hourly_units` {"time": "unixtime",
"temperature_2m": "°C"} and `hourly` {"time": [unix s...], "temperature_2m": [C or null...]}
for `timeformat=unixtime&timezone=GMT`; errors are {"error": true, "reason": "..."} with 400,
and the service answers 429 when its rate limit is reached.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import numpy as np
import pytest
from werkzeug import Response

from collectors.deadletter import read_dead_letters
from forecasting import synthetic
from hearth.cli import build_parser
from hearth.influx import USAGE_RP, InfluxClient, usage_lines
from importers.weather import OpenMeteo, import_weather, parse_hourly
from tests.conftest import make_settings

HOUR = 3600
NOW = int(dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC).timestamp())
AREA = {"name": "north", "latitude": 53.48, "longitude": -2.24}


def temp_at(ts: int, offset: float = 0.0) -> float:
    """A known temperature for each hour: a daily cycle around 5 C [C]."""
    return round(5.0 + offset + 3.0 * np.sin(2 * np.pi * ((ts // HOUR) % 24) / 24), 2)


def body(times, temps, lat=53.48, lon=-2.24):
    return {"latitude": lat, "longitude": lon, "generationtime_ms": 0.05,
            "utc_offset_seconds": 0, "timezone": "GMT", "timezone_abbreviation": "GMT",
            "elevation": 38.0, "hourly_units": {"time": "unixtime", "temperature_2m": "°C"},
            "hourly": {"time": [int(t) for t in times], "temperature_2m": list(temps)}}


def day_s(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp())


def archive_handler(null_from_s: int, gap_s: tuple[int, ...] = ()):
    """The archive: observed hours of [start_date, end_date]; null from `null_from_s` on (the
    archive lags real time) and at the `gap_s` hours (a station gap)."""
    def handle(request):
        a = request.args
        assert (a["hourly"], a["timezone"], a["timeformat"]) == ("temperature_2m", "GMT",
                                                                 "unixtime")
        start, end = day_s(a["start_date"]), day_s(a["end_date"]) + 86_400
        times = range(start, end, HOUR)
        temps = [None if (t >= null_from_s or t in gap_s) else temp_at(t) for t in times]
        return Response(json.dumps(body(times, temps)), content_type="application/json")
    return handle


def forecast_handler(now_s: int, null_s: tuple[int, ...] = ()):
    """The forecast: `past_days` before today and `forecast_days` from today, offset +1 C so
    its values are told apart from the archive's."""
    def handle(request):
        a = request.args
        today = now_s - now_s % 86_400
        start = today - int(a["past_days"]) * 86_400
        end = today + int(a["forecast_days"]) * 86_400
        times = range(start, end, HOUR)
        temps = [None if t in null_s else temp_at(t, 1.0) for t in times]
        return Response(json.dumps(body(times, temps)), content_type="application/json")
    return handle


def weather_settings(tmp_path, influx_server, mqtt_server, httpserver, **extra):
    return make_settings(tmp_path, influx_server, mqtt_server, weather={
        "forecast_url": httpserver.url_for("/v1/forecast"),
        "archive_url": httpserver.url_for("/v1/archive"),
        "past_days": 1, "forecast_days": 2, "history_days": 5, "archive_lookback_days": 3,
        "retries": 3, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0,
        "areas": [AREA], **extra})


def read_points(client, area="north"):
    q = (f'SELECT "temp_c", "forecast" FROM "{client.database}".."weather" '
         f"WHERE \"area\" = '{area}'")
    series = client.query(q)
    if not series:
        return {}
    v = series[0].values
    return {int(t) // 10**9: (float(c), bool(f))
            for t, c, f in zip(v["time"], v["temp_c"], v["forecast"], strict=True)}


# -- the pure parser, on the documented shape ------------------------------------------------

def test_parse_keeps_nulls_missing():
    t0 = day_s("2026-12-01")
    s = parse_hourly(body([t0, t0 + HOUR, t0 + 2 * HOUR], [4.2, None, -1.5]))
    assert s.time_s.tolist() == [t0, t0 + HOUR, t0 + 2 * HOUR]
    assert s.temp_c[0] == 4.2 and np.isnan(s.temp_c[1]) and s.temp_c[2] == -1.5
    assert s.missing_hours == 1


@pytest.mark.parametrize("bad, why", [
    ({"error": True, "reason": "x"}, "no 'hourly' object"),
    ({"hourly": {"time": [0, 3600], "temperature_2m": [1.0]}}, "'time' has 2 entries"),
    ({"hourly": {"time": ["2026-12-01T00:00"], "temperature_2m": [1.0]}}, "not an integer"),
    ({"hourly_units": {"temperature_2m": "°F"}, "hourly": {"time": [0], "temperature_2m": [1]}},
     "expected °C"),
    ({"hourly": {"time": [0], "temperature_2m": ["cold"]}}, "not a number or null"),
    ({"hourly": {"time": [1800], "temperature_2m": [1.0]}}, "whole hour"),
    ([1, 2], "not an object"),
])
def test_parse_refuses_what_is_not_the_documented_shape(bad, why):
    with pytest.raises(ValueError, match=why):
        parse_hourly(bad)


# -- against the stub and the real InfluxDB ----------------------------------------------------

def test_import_writes_observed_and_forecast_hours(tmp_path, influx_server, mqtt_server,
                                                   httpserver):
    settings = weather_settings(tmp_path, influx_server, mqtt_server, httpserver)
    today = NOW - NOW % 86_400
    lag_from = today - 86_400 + 10 * HOUR          # archive has yesterday until 10:00 only
    gap = (today - 3 * 86_400 + 5 * HOUR,)          # and one missing hour three days ago
    httpserver.expect_request("/v1/archive").respond_with_handler(archive_handler(lag_from, gap))
    fc_null = (today + 30 * HOUR,)                 # the forecast misses one hour tomorrow
    httpserver.expect_request("/v1/forecast").respond_with_handler(
        forecast_handler(NOW, fc_null))
    with InfluxClient.from_settings(settings) as client:
        (r,) = import_weather(settings, client, NOW)
        assert r.ok, r.errors
        points = read_points(client)
        # archive: 5 days back to yesterday; forecast: yesterday (past_days=1) + 2 days
        first = today - 5 * 86_400
        assert r.observed_points == 4 * 24 + 10 - 1       # days -5..-2 whole, -1 to 10:00, gap
        assert r.forecast_points == 3 * 24 - 1
        assert r.missing_hours == 1 + 1                   # the station gap, the forecast's null
        assert min(points) == first and gap[0] not in points and fc_null[0] not in points
        # observed hours are the archive's values, marked observed, even where the forecast
        # service also gave yesterday's hours
        for t in (first, gap[0] - HOUR, lag_from - HOUR):
            assert points[t] == (temp_at(t), False)
        # after the archive's last hour, yesterday and ahead are the forecast's, marked so
        for t in (lag_from, today, today + 47 * HOUR):
            assert points[t] == (temp_at(t, 1.0), True)
        assert max(points) == today + 2 * 86_400 - HOUR

        # a re-run an hour later writes the same points (idempotent); the archive request
        # now starts after the last observed day, within archive_lookback_days
        httpserver.clear_log()
        (again,) = import_weather(settings, client, NOW + HOUR)
        assert again.ok and read_points(client) == points
        archive_args = [req.args for req, _ in httpserver.log if req.path == "/v1/archive"]
        assert archive_args[0]["start_date"] == "2026-11-30"   # today - lookback (3 days)
        assert archive_args[0]["end_date"] == "2026-12-02"


def test_429_and_500_are_retried_with_backoff_then_succeed(tmp_path, influx_server,
                                                             mqtt_server, httpserver):
    settings = weather_settings(tmp_path, influx_server, mqtt_server, httpserver)
    rate = {"error": True, "reason": "Minutely API request limit exceeded. Please try again "
            "in one minute."}
    httpserver.expect_ordered_request("/v1/forecast").respond_with_json(
        rate, status=429, headers={"Retry-After": "0.02"})
    httpserver.expect_ordered_request("/v1/forecast").respond_with_data("busy", status=500)
    httpserver.expect_ordered_request("/v1/forecast").respond_with_handler(forecast_handler(NOW))
    httpserver.expect_ordered_request("/v1/archive").respond_with_data("", status=503)
    httpserver.expect_ordered_request("/v1/archive").respond_with_handler(
        archive_handler(NOW - NOW % 86_400))
    sleeps = []
    with InfluxClient.from_settings(settings) as client:
        api = OpenMeteo(settings.weather, sleep=sleeps.append)
        (r,) = import_weather(settings, client, NOW, api=api)
        assert r.ok, r.errors
        assert api.requests == 5
        # waits double from backoff_initial_s (0.01), capped at 0.05; Retry-After 0.02 obeyed
        assert sleeps == [0.02, 0.02, 0.01]
        assert r.forecast_points == 72 and r.observed_points == 5 * 24
    httpserver.check_assertions()


def test_malformed_answer_is_dead_lettered_and_the_rest_still_written(
        tmp_path, influx_server, mqtt_server, httpserver):
    settings = weather_settings(tmp_path, influx_server, mqtt_server, httpserver)
    broken = body([NOW, NOW + HOUR], [3.0])           # one temperature short
    httpserver.expect_request("/v1/forecast").respond_with_json(broken)
    httpserver.expect_request("/v1/archive").respond_with_handler(
        archive_handler(NOW - NOW % 86_400))
    with InfluxClient.from_settings(settings) as client:
        (r,) = import_weather(settings, client, NOW)
        assert not r.ok and r.forecast_points == 0 and r.observed_points == 5 * 24
        assert "forecast:" in r.errors[0] and "'time' has 2 entries" in r.errors[0]
        assert all(not f for _, f in read_points(client).values())
    (letter,) = read_dead_letters(settings.collectors.dead_letter_dir)
    assert letter["source"] == "weather" and letter["reason"].startswith("malformed: ")
    assert json.loads(letter["raw"]) == broken and letter["params"]["past_days"] == "1"


def test_a_400_is_final_and_says_the_services_reason(tmp_path, influx_server, mqtt_server,
                                                     httpserver):
    settings = weather_settings(tmp_path, influx_server, mqtt_server, httpserver)
    httpserver.expect_request("/v1/forecast").respond_with_json(
        {"error": True, "reason": "Latitude must be in range of -90 to 90°. Given: 91.0."},
        status=400)
    httpserver.expect_request("/v1/archive").respond_with_json(
        {"error": True, "reason": "Latitude must be in range of -90 to 90°. Given: 91.0."},
        status=400)
    with InfluxClient.from_settings(settings) as client:
        api = OpenMeteo(settings.weather, sleep=lambda s: None)
        (r,) = import_weather(settings, client, NOW, api=api)
    assert api.requests == 2   # no retries
    assert "answered 400: Latitude must be in range" in r.errors[0]


def test_no_areas_is_a_clear_error(tmp_path, influx_server, mqtt_server, httpserver):
    from hearth.errors import ConfigError

    settings = weather_settings(tmp_path, influx_server, mqtt_server, httpserver, areas=[])
    with InfluxClient.from_settings(settings) as client, pytest.raises(
            ConfigError, match=r"no weather areas configured: add \[\[weather.areas\]\]"):
        import_weather(settings, client, NOW)


# -- the forecaster with and without weather --------------------------------------------------

def _usage(client, start: str, days: int):
    pf = synthetic.portfolio(4, days, start=start, seed=3, special_share=0)
    n_t = days * 48
    t0 = np.datetime64(start, "ns")
    times = (t0 + np.arange(n_t) * np.timedelta64(30, "m")).astype(np.int64)
    e = pf.energy_kwh[:, :n_t]
    lines = usage_lines(np.repeat(pf.households, n_t), "electricity", e.ravel().astype(float),
                        np.tile(times, len(pf.households)))
    assert client.write_lines(lines, retention_policy=USAGE_RP).dead_lettered == 0
    return str(t0 + n_t * np.timedelta64(30, "m"))


def _last_run(client):
    (s,) = client.query(f'SELECT * FROM "{client.database}"."usage"."forecast_run"')
    return {k: v[-1] for k, v in s.values.items()}


def test_failing_service_ends_in_the_climatology_fallback(tmp_path, influx_server, mqtt_server,
                                                          httpserver, capsys, caplog):
    settings = weather_settings(tmp_path, influx_server, mqtt_server, httpserver, retries=1)
    httpserver.expect_request("/v1/forecast").respond_with_data("down", status=502)
    httpserver.expect_request("/v1/archive").respond_with_data("down", status=502)
    args = build_parser().parse_args(["import", "weather"])
    assert args.func(args, settings) == 1
    out = capsys.readouterr().out
    assert "north: error: forecast:" in out and "answered 502, after 2 attempts" in out
    assert "the forecaster uses climatology" in out
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        now = _usage(client, "2026-11-01", 30)
        caplog.set_level(logging.WARNING, logger="hearth.forecasting")
        args = build_parser().parse_args(["forecast", "--now", now])
        assert args.func(args, settings) == 0
        run = _last_run(client)
    assert run["weather"] == "climatology"
    assert run["weather_history_days"] == 0 and run["weather_forecast_days"] == 0
    assert "the forecast uses climatology" in caplog.text
    assert "weather: climatology (0 of 30 days ahead forecast)" in capsys.readouterr().out


def test_imported_weather_reaches_the_forecasts_run_record(tmp_path, influx_server, mqtt_server,
                                                           httpserver, capsys):
    settings = weather_settings(tmp_path, influx_server, mqtt_server, httpserver,
                                history_days=40, forecast_days=7)
    origin = day_s("2026-12-01")
    httpserver.expect_request("/v1/archive").respond_with_handler(
        archive_handler(origin - 86_400 * 4))   # the archive lags four days
    httpserver.expect_request("/v1/forecast").respond_with_handler(forecast_handler(origin))
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        (r,) = import_weather(settings, client, origin)
        assert r.ok, r.errors
        now = _usage(client, "2026-11-01", 30)
        assert now.startswith("2026-12-01T00:00")
        args = build_parser().parse_args(["forecast", "--now", now])
        assert args.func(args, settings) == 0
        run = _last_run(client)
    assert run["weather"] == "observed+forecast"
    assert run["weather_forecast_days"] == 7          # days 8..30 of the horizon: climatology
    # the history window (forecasting.history_days = 56, from 10-06): the archive from 10-22
    # (history_days = 40 back) to 11-26, then the forecast service's past day 11-30;
    # 11-27..11-29 have no weather (left to climatology)
    assert run["weather_history_days"] == 36 + 1
    assert "weather: observed+forecast (7 of 30 days ahead forecast)" in capsys.readouterr().out
