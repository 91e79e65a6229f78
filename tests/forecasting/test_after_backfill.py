"""End to end on the real InfluxDB: the simulator's backfill, the collectors' usage derivation,
then `hearth forecast`: one forecast per household and fuel."""

from __future__ import annotations

import datetime as dt

import numpy as np

from collectors.usage import derive_usage
from forecasting.service import latest_forecasts
from hearth.cli import build_parser
from hearth.influx import InfluxClient
from meters_sim.backfill import backfill
from meters_sim.homes import Portfolio, synthetic_households
from meters_sim.model import Simulation
from meters_sim.views import DeviceViews, synthetic_devices

DAYS = 15


def test_forecast_after_a_backfill_covers_every_household(settings, capsys):
    # Raw readings live in a 90-day retention policy: simulate the last DAYS days.
    start = np.datetime64("now", "D") - np.timedelta64(DAYS + 1, "D")
    end = start + np.timedelta64(DAYS, "D")
    rows = synthetic_households(10, seed=3)
    pf = Portfolio.from_rows(rows, seed=3)
    sim = Simulation(pf, start=str(start), step_s=300, seed=3)
    views = DeviceViews(synthetic_devices(rows, seed=3), pf, seed=3)
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        backfill(client, sim, views, days=DAYS, interval_s=1800, progress=False)
        derive_usage(client, since=dt.datetime.fromisoformat(f"{start}T00:00+00:00"),
                     until=dt.datetime.fromisoformat(f"{end}T00:00+00:00"))
        args = build_parser().parse_args(["forecast", "--now", f"{end}T00:00:00Z"])
        assert args.func(args, settings) == 0
        out = capsys.readouterr().out
        latest = latest_forecasts(client)
    gas_homes = sorted(str(r["household_id"]) for r in rows if r.get("has_gas"))
    assert set(latest) == ({"electricity", "gas"} if gas_homes else {"electricity"})
    el = latest["electricity"]
    assert sorted(el.households) == sorted(str(r["household_id"]) for r in rows)
    assert el.daily_kwh.shape == (10, 30) and el.energy_kwh.shape == (10, 336)
    assert np.isfinite(el.daily_kwh).all() and np.isfinite(el.energy_kwh_p90).all()
    # A simulated home uses a few kWh of electricity a day, not nothing and not hundreds.
    assert 0.5 < np.median(el.daily_kwh[:, :7]) < 40
    if gas_homes:
        assert sorted(latest["gas"].households) == gas_homes
    assert "electricity: forecast 10 households" in out
