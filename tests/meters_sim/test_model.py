"""The simulated homes: reproducible by seed, and physically sensible."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from meters_sim import params as pm
from meters_sim.homes import Portfolio, synthetic_households
from meters_sim.model import Simulation, Trace
from meters_sim.physics import dew_point_c, saturation_vapour_density_g_per_m3
from meters_sim.weather import Weather, heating_degree_days
from tests.meters_sim.conftest import SUMMER, WINTER


def _run(pf, start, days, seed=7, step_s=60, chunk=None):
    sim = Simulation(pf, np.datetime64(start), step_s=step_s, seed=seed, spinup_days=1)
    return Trace.concat(list(sim.run(int(days * 86400 / step_s), chunk_steps=chunk)))


def test_same_seed_same_homes_whatever_the_chunking(portfolio_60):
    a = _run(portfolio_60, WINTER, 1)
    b = _run(portfolio_60, WINTER, 1, chunk=97)
    for name in Trace.HOME_FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    c = _run(portfolio_60, WINTER, 1, seed=8)
    assert not np.array_equal(a.power_w, c.power_w)


def test_household_traits_depend_on_its_id_not_on_the_others():
    rows = synthetic_households(40, seed=1)
    full = Portfolio.from_rows(rows, seed=3)
    part = Portfolio.from_rows(rows[20:], seed=3)
    for name in full.traits:
        np.testing.assert_array_equal(full.traits[name][20:], part.traits[name])
    np.testing.assert_allclose(full.hlc_w_per_k[20:], part.hlc_w_per_k)


def test_registry_rows_are_validated():
    rows = synthetic_households(3, seed=1)
    rows[1]["epc_band"] = "Z"
    with pytest.raises(ValueError, match="epc_band"):
        Portfolio.from_rows(rows, seed=1)
    with pytest.raises(ValueError, match="no households"):
        Portfolio.from_rows([], seed=1)


def test_uk_weather_seasons_and_degree_days():
    w = Weather(["a", "b"], seed=5)
    jan = np.datetime64("2026-01-01", "ns").astype("int64") + np.arange(31 * 24) * 3_600 * 10**9
    w2 = Weather(["a", "b"], seed=5)
    jul = np.datetime64("2026-07-01", "ns").astype("int64") + np.arange(31 * 24) * 3_600 * 10**9
    t_jan, t_jul = w.temperature_c(jan), w2.temperature_c(jul)
    assert 0.0 < t_jan.mean() < 7.5 and 13.0 < t_jul.mean() < 20.0
    daily_jan = t_jan[0].reshape(31, 24).mean(1)
    hdd = heating_degree_days(daily_jan)
    assert 250 < hdd.sum() < 500                      # UK January: ~ 350-400 K day at base 15.5
    assert heating_degree_days(np.array([16.0, 15.5, 10.0])).tolist() == [0.0, 0.0, 5.5]
    # Diurnal cycle: afternoons warmer than small hours on average.
    hours = t_jul[0].reshape(31, 24).mean(0)
    assert hours[14:16].mean() > hours[3:5].mean() + 3


def test_heating_season_gas_exceeds_summer(portfolio_60):
    win, summ = _run(portfolio_60, WINTER, 2), _run(portfolio_60, SUMMER, 2)
    gas = portfolio_60.has_gas & ~portfolio_60.electric_heating
    used_w = (win.volume_m3[-1] - win.volume_m3[0])[gas]
    used_s = (summ.volume_m3[-1] - summ.volume_m3[0])[gas]
    assert used_w.sum() > 3 * used_s.sum()
    assert np.median(used_s) > 0                      # hot water and cooking all year
    kwh_day = used_w.mean() * pm.KWH_PER_M3 / 2
    assert 20 < kwh_day < 120                          # a January day of a gas-heated home
    elec_day = (win.energy_kwh[-1] - win.energy_kwh[0])[gas].mean() / 2
    assert 4 < elec_day < 16                           # TDCV 2,700 kWh a year ~ 7.4 kWh/day


def test_daily_load_shape_has_morning_and_evening_peaks(portfolio_60):
    tr = _run(portfolio_60, WINTER, 7)
    gas_homes = ~portfolio_60.electric_heating
    hour = ((tr.time_ns // 60_000_000_000) % 1440) // 60       # UTC = local in January
    mean_by_hour = np.array([tr.power_w[hour == h][:, gas_homes].mean() for h in range(24)])
    night = mean_by_hour[1:5].mean()
    assert mean_by_hour[17:21].max() > 1.8 * night             # evening peak
    assert mean_by_hour[6:10].max() > 1.3 * night              # morning peak
    assert mean_by_hour[17:21].max() > mean_by_hour[11:15].mean()


def test_rationing_homes_are_colder(portfolio_60):
    pf = portfolio_60
    tr = _run(pf, WINTER, 3)
    ration = pf.traits["self_rationing"]
    assert ration.any() and (~ration).any()
    awake = tr.awake_home > 0.5
    t_r = tr.t_air_c[:, ration][awake[:, ration]].mean()
    t_n = tr.t_air_c[:, ~ration][awake[:, ~ration]].mean()
    assert t_r < t_n - 2.0
    # Heated homes hover near their setpoint while someone is up and in.
    warm = ~ration & ~pf.prepayment
    assert 17.0 < tr.t_air_c[:, warm][awake[:, warm]].mean() < 22.5


def test_poorer_fabric_needs_more_gas():
    rows = synthetic_households(40, seed=2)
    for r in rows:
        r.update(property_type="house", floor_area_m2=80.0, has_gas=1, heating="gas",
                 payment_type="credit", occupancy="home_all_day", occupants=2)
    good = [dict(r, epc_band="B") for r in rows]
    bad = [dict(r, epc_band="F") for r in rows]
    g = _run(Portfolio.from_rows(good, seed=2), WINTER, 2)
    b = _run(Portfolio.from_rows(bad, seed=2), WINTER, 2)
    assert (b.volume_m3[-1] - b.volume_m3[0]).sum() > 1.5 * (g.volume_m3[-1] - g.volume_m3[0]).sum()


def _forced(pf: Portfolio, dryer: bool, **traits) -> Portfolio:
    new = dict(pf.traits)
    for k, v in traits.items():
        new[k] = np.full(pf.n, v)
    return dataclasses.replace(pf, traits=new, has_tumble_dryer=np.full(pf.n, dryer))


def test_drying_indoors_and_poor_ventilation_raise_humidity(portfolio_60):
    pf = portfolio_60
    dry_in = _run(_forced(pf, False, indoor_drying=True), WINTER, 3)
    dry_out = _run(_forced(pf, True, indoor_drying=False), WINTER, 3)
    assert dry_in.rh_pct.mean() > dry_out.rh_pct.mean() + 1.5
    assert np.percentile(dry_in.rh_pct, 95) > np.percentile(dry_out.rh_pct, 95)
    poor = _run(dataclasses.replace(pf, base_ach=np.full(pf.n, 0.2)), WINTER, 3)
    good = _run(dataclasses.replace(pf, base_ach=np.full(pf.n, 0.9)), WINTER, 3)
    assert poor.rh_pct.mean() > good.rh_pct.mean() + 8
    assert (poor.rh_pct <= 100.0001).all() and (poor.rh_pct > 0).all()


def test_coldest_surface_sits_between_outside_and_room(portfolio_60):
    tr = _run(portfolio_60, WINTER, 1)
    t_out = tr.t_out_c[:, portfolio_60.area_index]
    assert (tr.t_surface_c <= tr.t_air_c + 1e-4).all()
    assert (tr.t_surface_c >= np.minimum(t_out, tr.t_air_c) - 1e-4).all()


def test_prepayment_credit_drains_and_runs_out_for_constrained_homes():
    rows = synthetic_households(80, seed=4)
    for r in rows:
        r["payment_type"] = "prepayment"
    pf = Portfolio.from_rows(rows, seed=4)
    constrained = pf.traits["constrained_topup"] | pf.traits["deliberate_disconnect"]
    assert constrained.sum() >= 5
    sim = Simulation(pf, np.datetime64(WINTER), seed=4, spinup_days=0)
    tr = Trace.concat(list(sim.run(14 * 1440)))
    credit = tr.credit_gbp.astype(float)
    drops = np.diff(credit, axis=0)
    # Between top-ups the balance only goes down (unit rate and standing charge).
    assert (drops[drops < 0]).sum() < 0
    assert ((drops <= 1e-6) | (drops > 4.0)).all()
    off = tr.supply_on < 0.5
    assert off[:, constrained].any(axis=0).mean() > 0.25
    assert off[:, ~constrained].any(axis=0).mean() < 0.15
    # Supply off means no electricity use at all.
    assert (tr.power_w[off] == 0).all()
    assert sim.topups.sum() > 0


def test_registers_are_monotonic(portfolio_60):
    tr = _run(portfolio_60, WINTER, 1)
    assert (np.diff(tr.energy_kwh.astype(float), axis=0) >= -1e-3).all()
    assert (np.diff(tr.volume_m3.astype(float), axis=0) >= -1e-3).all()


def test_moist_air_relations():
    assert saturation_vapour_density_g_per_m3(np.array(20.0)) == pytest.approx(17.3, abs=0.1)
    assert dew_point_c(np.array(20.0), np.array(50.0)) == pytest.approx(9.3, abs=0.1)
    assert pytest.approx(1.02264 * 39.5 / 3.6) == pm.KWH_PER_M3


def test_saved_state_resumes_exactly(tmp_path, portfolio_60):
    a = Simulation(portfolio_60, np.datetime64(WINTER), seed=7, spinup_days=0.2)
    a.advance(300)
    a.save_state(tmp_path / "state.npz")
    b = Simulation.resume(portfolio_60, tmp_path / "state.npz", seed=7)
    assert b is not None and b.time_ns == a.time_ns
    ta, tb = a.advance(200), b.advance(200)
    for name in Trace.HOME_FIELDS:
        np.testing.assert_allclose(getattr(ta, name), getattr(tb, name), rtol=1e-6, err_msg=name)
    assert Simulation.resume(portfolio_60, tmp_path / "state.npz", seed=8) is None
    assert Simulation.resume(portfolio_60, tmp_path / "missing.npz", seed=7) is None


def test_live_clock_never_runs_further_ahead_than_max_lead(portfolio_60):
    import asyncio
    import time

    from meters_sim.live import LiveRunner
    from meters_sim.views import DeviceViews

    now = np.datetime64(time.time_ns(), "ns")
    sim = Simulation(portfolio_60, now, seed=7, spinup_days=0)
    runner = LiveRunner(sim, DeviceViews([], portfolio_60, seed=7), speed=36_000.0,
                        max_lead_s=1800.0)
    stats = asyncio.run(runner.run(duration_s=1.5))
    lead_s = (sim.time_ns - time.time_ns()) / 1e9
    assert stats.steps >= 25                       # it ran fast up to the lead ...
    assert lead_s <= 1800 + 60                     # ... and no further


def test_tariffs_from_the_registry_rows_on_a_date():
    from meters_sim.homes import tariffs_from_rows

    rows = [
        {"fuel": "electricity", "payment_type": "prepayment", "unit_rate_gbp_per_kwh": 0.30,
         "standing_charge_gbp_per_day": 0.60, "valid_from": "2025-10-01", "valid_to": "2025-12-31"},
        {"fuel": "electricity", "payment_type": "prepayment", "unit_rate_gbp_per_kwh": 0.25,
         "standing_charge_gbp_per_day": 0.50, "valid_from": "2026-01-01", "valid_to": None},
    ]
    t = tariffs_from_rows(rows, "2025-11-15")[("electricity", "prepayment")]
    assert (t.unit_rate_gbp_per_kwh, t.standing_charge_gbp_per_day) == (0.30, 0.60)
    t = tariffs_from_rows(rows, "2026-02-01")[("electricity", "prepayment")]
    assert t.unit_rate_gbp_per_kwh == 0.25
    # Missing pairs fall back to the documented price-cap defaults.
    gas = tariffs_from_rows(rows)[("gas", "credit")]
    assert gas.unit_rate_gbp_per_kwh == pm.DEFAULT_TARIFFS["gas"]["unit_rate_gbp_per_kwh"]


def test_live_weather_feed_sends_the_hour_and_a_forecast(portfolio_60):
    from meters_sim.live import LiveRunner
    from meters_sim.views import DeviceViews

    sent: list[list[str]] = []
    sim = Simulation(portfolio_60, np.datetime64(WINTER), seed=7, spinup_days=0)
    runner = LiveRunner(sim, DeviceViews([], portfolio_60, seed=7), speed=60.0,
                        weather_sink=sent.append)
    for _ in range(125):
        runner.step_once()
    assert len(sent) == 2                          # 01:00 and 02:00
    areas = len(portfolio_60.areas)
    assert all(len(lines) == areas * (1 + 120) for lines in sent)
    assert all(line.startswith("weather,area=") for line in sent[0])


def test_two_node_step_reaches_the_network_steady_state():
    from meters_sim.physics import two_node_step

    h_ao, h_af, h_fo, h_fn = 50.0, 1000.0, 120.0, 30.0
    q_air, t_out, t_n = 3000.0, 0.0, 18.0
    a, f = 15.0, 15.0
    for _ in range(3000):                           # 3000 h at 1 h steps: implicit, stable
        a, f = two_node_step(a, f, t_out, q_air, 0.0, 2e6, 2e7, h_ao, h_af, h_fo, h_fn, 18.0,
                             3600.0)
    # Steady state: heat in = heat out, node by node.
    assert q_air == pytest.approx(h_ao * (a - t_out) + h_af * (a - f), rel=1e-6)
    assert h_af * (a - f) == pytest.approx(h_fo * (f - t_out) + h_fn * (f - t_n), rel=1e-6)
