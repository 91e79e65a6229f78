"""CSV mode of `hearth forecast`: a round trip through the command, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import csvio, synthetic
from hearth import cli

HEADER = "household_id,timestamp,energy_kwh\n"


@pytest.fixture
def config(tmp_path, monkeypatch):
    """A settings file with var/ in the test's folder (CSV mode needs no server)."""
    path = tmp_path / "hearth.toml"
    path.write_text(f'[paths]\nvar_dir = "{tmp_path / "var"}"\n')
    monkeypatch.setenv("HEARTH_INFLUX_PASSWORD", "unused")
    monkeypatch.setenv("HEARTH_MQTT_PASSWORD", "unused")
    return str(path)


def _usage_csv(path, n_households=6, n_days=30, seed=4):
    pf = synthetic.portfolio(n_households, n_days, seed=seed, special_share=0)
    n_t = pf.energy_kwh.shape[1]
    times = pf.start + np.arange(n_t) * np.timedelta64(30, "m")
    frame = pd.DataFrame({"household_id": np.repeat(pf.households, n_t),
                          "timestamp": np.tile(csvio.iso_utc(times), n_households),
                          "energy_kwh": pf.energy_kwh.ravel()})
    frame.to_csv(path, index=False, float_format="%.4f", na_rep="")
    weather = path.with_name("weather.csv")
    pd.DataFrame({"timestamp": csvio.iso_utc(pf.weather_times), "temp_c": pf.temp_c}).to_csv(
        weather, index=False)
    return pf, weather


def test_round_trip_through_the_command(tmp_path, config, capsys):
    usage = tmp_path / "usage.csv"
    pf, weather = _usage_csv(usage)
    out, daily = tmp_path / "forecast.csv", tmp_path / "daily.csv"
    rc = cli.main(["--config", config, "forecast", "--input", str(usage), "--output", str(out),
                   "--weather", str(weather), "--horizon", "96", "--daily-output", str(daily)])
    assert rc == 0, capsys.readouterr().err
    frame = pd.read_csv(out)
    assert list(frame.columns) == list(csvio.OUTPUT_COLUMNS)
    assert len(frame) == 6 * 96
    assert sorted(frame["household_id"].unique()) == sorted(pf.households)
    first = pf.start + 30 * 48 * np.timedelta64(30, "m")
    assert frame["timestamp"].iloc[0] == csvio.iso_utc(np.array([first]))[0]
    assert frame.groupby("household_id").size().eq(96).all()
    assert frame[["energy_kwh", "energy_kwh_p10", "energy_kwh_p90"]].notna().all().all()
    assert (frame["energy_kwh_p10"] <= frame["energy_kwh"] + 1e-4).all()
    assert (frame["energy_kwh"] <= frame["energy_kwh_p90"] + 1e-4).all()
    assert len(pd.read_csv(daily)) == 6 * 30
    # Reading our own output back as usage (renaming the column) works: same grid, same ids.
    back = csvio.read_usage(out)
    assert back.energy_kwh.shape == (6, 96)
    assert "trust:" in capsys.readouterr().out


def _write(tmp_path, body: str, name="usage.csv"):
    path = tmp_path / name
    path.write_text(body)
    return path


@pytest.mark.parametrize("body, message", [
    (HEADER + "H1,2026-01-01T00:00:00Z,0.2\nH1,yesterday,0.3\n",
     "line 3: timestamp 'yesterday' is not an ISO 8601 time"),
    (HEADER + "H1,2026-01-01T00:00:00Z,0.2\nH1,2026-01-01T00:30:00Z,lots\n",
     "line 3: energy_kwh 'lots' is not a number"),
    (HEADER + "H1,2026-01-01T00:00:00Z,-0.2\n", "line 2: energy_kwh -0.2 is outside"),
    (HEADER + "H1,2026-01-01T00:00:00Z,0.2\nH1,2026-01-01T00:10:00Z,0.2\n",
     "line 3: timestamp '2026-01-01T00:10:00Z' is not the start of a half hour"),
    (HEADER + "H1,2026-01-01T00:00:00Z,0.2\nH1,2026-01-01T00:00:00+00:00,0.3\n",
     "line 3: household H1 at 2026-01-01T00:00:00\\+00:00 repeats line 2"),
    (HEADER + ",2026-01-01T00:00:00Z,0.2\n", "line 2: household_id is empty"),
    ("household,time,kwh\nH1,2026-01-01T00:00:00Z,0.2\n", "line 1: missing column"),
    (HEADER + "H1,2026-01-01T00:00:00Z,0.2,extra\n", "line 2: 4 fields, expected 3"),
    (HEADER + "H1,2026-01-01T00:00:00Z,0.2\nH1,2026-01-01T00:30:00Z\n",
     "line 3: 2 fields, expected 3"),
    ("", "the file is empty"),
    (HEADER, "no data rows"),
    (HEADER + "".join(f"H1,2026-01-01T{h:02d}:00:00Z,0.4\n" for h in range(10)),
     "readings are hourly"),
])
def test_bad_usage_is_refused_naming_the_line(tmp_path, body, message):
    with pytest.raises(csvio.CsvInputError, match=message):
        csvio.read_usage(_write(tmp_path, body))


def test_bad_input_through_the_command_is_one_line(tmp_path, config, capsys):
    usage = _write(tmp_path, HEADER + "H1,2026-01-01T00:00:00Z,abc\n")
    rc = cli.main(["--config", config, "forecast", "--input", str(usage), "--output",
                   str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "line 2: energy_kwh 'abc' is not a number" in err
    assert "Traceback" not in err
    rc = cli.main(["--config", config, "forecast", "--input", str(usage)])
    assert rc == 2 and "--input needs --output" in capsys.readouterr().err


def test_bad_weather_names_the_line(tmp_path):
    path = _write(tmp_path, "timestamp,temp_c\n2026-01-01T00:00:00Z,3.5\n2026-01-01T01:00:00Z,"
                  "warm\n", "weather.csv")
    with pytest.raises(csvio.CsvInputError, match="line 3: temp_c 'warm' is not a number"):
        csvio.read_weather(path)


def test_empty_energy_is_a_missing_reading(tmp_path):
    body = HEADER + "H1,2026-01-01T00:00:00Z,0.2\nH1,2026-01-01T00:30:00Z,\n" \
        "H2,2026-01-01T01:00:00Z,0.5\n"
    table = csvio.read_usage(_write(tmp_path, body))
    assert list(table.households) == ["H1", "H2"]
    assert table.start == np.datetime64("2026-01-01T00:00", "ns")
    np.testing.assert_array_equal(np.isnan(table.energy_kwh),
                                  [[False, True, True], [True, True, False]])


def test_backtest_of_a_csv_prints_every_model_and_saves_a_plot(tmp_path, config, capsys):
    usage = tmp_path / "usage.csv"
    _usage_csv(usage, n_households=8, n_days=21)
    plot = tmp_path / "plots" / "bt.png"
    rc = cli.main(["--config", config, "forecast", "backtest", "--input", str(usage),
                   "--origins", "3", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert rc == 0
    for model in ("hearth", "seasonal_naive_week", "mean_last_4_weekdays"):
        assert model in out
    assert "n/a" in out                  # 21 days: too short for the 30-day total
    assert f"plot: {plot}" in out and plot.read_bytes()[:4] == b"\x89PNG"


# Arrow reads a clean file; anything else is read line by line to name the line. Both must
# give the same matrix wherever Arrow accepts a file, and Arrow must decline what it cannot
# read exactly as the checked reader does.
READER_CASES = {
    "utc": HEADER + "H1,2026-01-15T17:30:00Z,0.5\nH1,2026-01-15T18:00:00Z,\nH2,2026-01-15T17:30:00Z,0.25\n",
    "offset": HEADER + "H1,2026-07-15T18:30:00+01:00,0.5\nH2,2026-07-15T18:00:00Z,0.1\n",
    "no_offset": HEADER + "H1,2026-01-15T17:30:00,0.5\nH2,2026-01-15T18:00:00,0.1\n",
    "bom": "\ufeff" + HEADER + "H1,2026-01-15T17:30:00Z,0.5\n",
    "spaces": "household_id, timestamp, energy_kwh\n H1 ,2026-01-15T17:30:00Z, 0.5\n",
    "quoted": HEADER + '"H1",2026-01-15T17:30:00Z,"0.5"\n',
    "extra_column": "household_id,timestamp,energy_kwh,fuel\nH1,2026-01-15T17:30:00Z,0.5,gas\n",
}
REFUSED_CASES = {
    "nan_text": HEADER + "H1,2026-01-15T17:30:00Z,nan\n",
    "negative": HEADER + "H1,2026-01-15T17:30:00Z,-0.5\n",
    "duplicate": HEADER + "H1,2026-01-15T17:30:00Z,0.5\nH1,2026-01-15T17:30:00Z,0.6\n",
    "short_row": HEADER + "H1,2026-01-15T17:30:00Z\n",
    "off_grid": HEADER + "H1,2026-01-15T17:10:00Z,0.5\n",
    "empty_id": HEADER + ",2026-01-15T17:30:00Z,0.5\n",
    "huge": HEADER + "H1,2026-01-15T17:30:00Z,500\n",
}


@pytest.mark.parametrize("name", sorted(READER_CASES))
def test_fast_and_checked_readers_agree(tmp_path, name):
    path = tmp_path / f"{name}.csv"
    path.write_text(READER_CASES[name], encoding="utf-8")
    checked = csvio._read_usage_checked(path)
    fast = csvio._read_usage_arrow(path)
    if fast is not None:
        for a, b in zip(fast, checked, strict=True):
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    table = csvio.read_usage(path)
    assert list(table.households) == list(checked[0])


@pytest.mark.parametrize("name", sorted(REFUSED_CASES))
def test_fast_reader_declines_what_the_checked_reader_refuses(tmp_path, name):
    path = tmp_path / f"{name}.csv"
    path.write_text(REFUSED_CASES[name], encoding="utf-8")
    assert csvio._read_usage_arrow(path) is None
    with pytest.raises(csvio.CsvInputError, match="line 2"):
        csvio.read_usage(path)


def test_output_has_the_expected_value_and_quotes_only_where_needed(tmp_path):
    times = np.array(["2026-01-01T00:00", "2026-01-01T00:30"], "datetime64[ns]")
    p50 = np.array([[0.1, 0.2], [0.3, 0.4]], np.float32)
    out = tmp_path / "f.csv"
    csvio.write_forecast(out, np.array(["H1", "Flat 2, Elm"]), times, p50, p50 * 0.5, p50 * 2,
                         p50 * 1.1)
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(csvio.OUTPUT_COLUMNS)
    back = pd.read_csv(out)
    assert list(back["household_id"]) == ["H1", "H1", "Flat 2, Elm", "Flat 2, Elm"]
    assert back["energy_kwh_mean"].tolist() == pytest.approx([0.11, 0.22, 0.33, 0.44], abs=1e-4)
    plain = tmp_path / "g.csv"
    csvio.write_forecast(plain, np.array(["H1"]), times, p50[:1], p50[:1], p50[:1], p50[:1])
    assert plain.read_text().splitlines()[1] == "H1,2026-01-01T00:00:00Z,0.1,0.1,0.1,0.1"
