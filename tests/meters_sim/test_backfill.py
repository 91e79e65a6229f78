"""Backfill into the real InfluxDB: expected point counts, tags, values and no NaN credit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hearth.influx import InfluxClient
from hearth.stack import free_port
from meters_sim.backfill import backfill
from meters_sim.faults import FaultConfig
from meters_sim.homes import Portfolio, synthetic_households
from meters_sim.model import Simulation, Trace
from meters_sim.truth import TruthAccumulator
from meters_sim.views import DeviceViews, synthetic_devices
from tests.conftest import make_settings

# Raw readings live in a 90-day retention policy: backfill recent days, as `hearth sim` does.
WINTER = (np.datetime64("now", "D") - np.timedelta64(3, "D")).astype("datetime64[ns]")


@pytest.fixture
def client(tmp_path, influx_server):
    settings = make_settings(tmp_path, influx_server, SimpleNamespace(port=free_port()))
    with InfluxClient.from_settings(settings) as c:
        c.ensure_database()
        yield c


def _homes(n=20, seed=5):
    rows = synthetic_households(n, seed)
    return rows, Portfolio.from_rows(rows, seed), synthetic_devices(rows, seed=seed)


def _count(client, measurement, field):
    series = client.query(f'SELECT count("{field}") FROM "{measurement}"')
    return int(series[0].values["count"][0]) if series else 0


def test_backfill_writes_every_sample_of_every_device(client):
    _rows, pf, devices = _homes()
    sim = Simulation(pf, np.datetime64(WINTER), seed=5, spinup_days=0.5)
    views = DeviceViews(devices, pf, seed=5)
    truth = TruthAccumulator(pf)
    res = backfill(client, sim, views, days=1, interval_s=1800, truth=truth, progress=False)
    samples = 48
    kinds = [d["kind"] for d in devices]
    n_meters = sum(k != "thermostat" for k in kinds)
    n_th = kinds.count("thermostat")
    assert res.points == {"meter": n_meters * samples, "thermostat": n_th * samples,
                          "weather": len(pf.areas) * samples}
    assert res.dead_lettered == 0
    assert _count(client, "meter", "energy_kwh") == n_meters * samples
    assert _count(client, "thermostat", "temp_c") == n_th * samples
    end = res.end_ns
    w = client.query(f'SELECT count("temp_c") FROM "weather" WHERE time <= {end}')
    assert int(w[0].values["count"][0]) == len(pf.areas) * samples
    # Then a 5-day hourly weather forecast from the end, for the forecaster.
    ahead = client.query(f'SELECT "temp_c" FROM "weather" WHERE time > {end} GROUP BY "area"')
    assert len(ahead) == len(pf.areas)
    assert all(len(s) == 120 for s in ahead)
    t_true = sim.weather.temperature_c(ahead[0].values["time"])[pf.areas.index(
        ahead[0].tags["area"])]
    err = ahead[0].values["temp_c"] - t_true
    assert 0 < np.abs(err).mean() < 6
    # credit_gbp only on prepayment meters.
    prepay_homes = set(pf.household_id[pf.prepayment])
    n_prepay_meters = sum(d["kind"] != "thermostat" and d["household_id"] in prepay_homes
                          for d in devices)
    assert _count(client, "meter", "credit_gbp") == n_prepay_meters * samples
    # Tags and timestamps as documented: source=backfill, aligned to the half hour.
    series = client.query('SELECT "energy_kwh", "supply_on" FROM "meter" GROUP BY *')
    assert {s.tags["source"] for s in series} == {"backfill"}
    assert {s.tags["fuel"] for s in series} == {"electricity", "gas"}
    for s in series:
        t = s.values["time"]
        assert (t % (1800 * 10**9) == 0).all() and len(t) == samples
        assert (np.diff(s.values["energy_kwh"]) >= 0).all()
    th = client.query('SELECT * FROM "thermostat" GROUP BY "device"')
    assert all(s.values["heating_on"].dtype == bool for s in th)
    assert truth.steps == 1440


def test_backfilled_values_are_the_device_views(client):
    _rows, pf, devices = _homes(8, seed=6)
    sim_a = Simulation(pf, np.datetime64(WINTER), seed=6, spinup_days=0.5)
    backfill(client, sim_a, DeviceViews(devices, pf, seed=6), days=0.5, interval_s=900,
             progress=False)
    # The same run, sampled directly.
    sim_b = Simulation(pf, np.datetime64(WINTER), seed=6, spinup_days=0.5)
    tr = Trace.concat(list(sim_b.run(720)))
    sel = tr.time_ns % (900 * 10**9) == 0
    values, _ = DeviceViews(devices, pf, seed=6).sample(
        tr.time_ns[sel], {k: getattr(tr, k)[sel] for k in Trace.HOME_FIELDS})
    views = DeviceViews(devices, pf, seed=6)
    i = int(views.by_kind["thermostat"][0])
    device = views.device_id[i]
    got = client.query(f'SELECT "temp_c", "humidity_pct" FROM "thermostat"'
                       f" WHERE \"device\" = '{device}'")
    np.testing.assert_allclose(got[0].values["temp_c"], values["thermostat"]["temp_c"][:, 0])
    np.testing.assert_allclose(got[0].values["humidity_pct"],
                               values["thermostat"]["humidity_pct"][:, 0])


def test_backfill_with_faults_leaves_gaps_not_errors(client):
    _rows, pf, devices = _homes(20, seed=8)
    sim = Simulation(pf, np.datetime64(WINTER), seed=8, spinup_days=0.5)
    views = DeviceViews(devices, pf, seed=8, faults=FaultConfig(rate_per_device_day=3.0))
    res = backfill(client, sim, views, days=1, interval_s=1800, progress=False)
    full = sum(d["kind"] != "thermostat" for d in devices) * 48
    assert res.dead_lettered == 0
    assert 0.5 * full < res.points["meter"] < full
    assert _count(client, "meter", "energy_kwh") == res.points["meter"]


def test_backfill_feeds_the_usage_derivation_truthfully(client):
    """Backfilled registers -> collectors' usage_30m -> the sim's true half-hourly energy."""
    import datetime as dt

    from collectors.usage import derive_usage

    _rows, pf, devices = _homes(12, seed=9)
    sim = Simulation(pf, np.datetime64(WINTER), seed=9, spinup_days=0.5)
    start_ns = sim.time_ns
    views = DeviceViews(devices, pf, seed=9)
    backfill(client, sim, views, days=1, interval_s=1800, progress=False)
    derive_usage(client, since=dt.datetime.fromtimestamp(start_ns / 1e9, dt.UTC),
                 until=dt.datetime.fromtimestamp(sim.time_ns / 1e9, dt.UTC))
    series = client.query(f'SELECT "energy_kwh" FROM "{client.database}"."usage"."usage_30m"'
                          " WHERE \"fuel\" = 'electricity' GROUP BY \"household\"")
    assert len(series) == pf.n
    # The truth: the same homes, the register at each half-hour boundary.
    twin = Simulation(pf, np.datetime64(WINTER), seed=9, spinup_days=0.5)
    tr = Trace.concat(list(twin.run(1440)))
    at = tr.time_ns % (1800 * 10**9) == 0
    true_kwh = np.diff(tr.energy_kwh[at], axis=0)            # (47, homes), interval after each
    starts = tr.time_ns[at][:-1]
    for s in series:
        i = pf.index(s.tags["household"])
        t, got = s.values["time"], s.values["energy_kwh"]
        want = dict(zip(starts.tolist(), true_kwh[:, i].tolist(), strict=True))
        common = [k for k, ti in enumerate(t.tolist()) if ti in want]
        assert len(common) >= 40
        np.testing.assert_allclose(got[common], [want[int(t[k])] for k in common], atol=2e-3)
    # The derivation's usage_day rollup gives the forecaster the very same matrix.
    lo, hi = np.datetime64(start_ns, "ns"), np.datetime64(sim.time_ns, "ns")
    day = client.usage_matrix(lo, hi)
    np.testing.assert_array_equal(day.energy_kwh, client.usage_matrix(lo, hi, source="usage_30m")
                                  .energy_kwh)
    assert day.shape[0] == pf.n and np.isfinite(day.energy_kwh).sum() >= 40 * pf.n
