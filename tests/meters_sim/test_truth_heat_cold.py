"""Excess heat (criteria adapted from CIBSE TM59) and excess cold (HHSRS bands) on true temperatures.

The thresholds are the published ones: TM59 (CIBSE, 2017), section 3: living rooms above 28 C
for more than 1 % of occupied hours; bedrooms above 26 C for more than 1 % of night hours
(22:00-07:00). HHSRS excess cold (Housing Health and Safety Rating System, Operating Guidance
2006, profile 2): health risk rises below 19 C, serious below 16 C, great below 10 C.
"""

from __future__ import annotations

import numpy as np

from meters_sim.homes import Portfolio, synthetic_households
from meters_sim.model import Simulation, Trace
from meters_sim.rooms import FREE_RUNNING_OFFSET_C
from meters_sim.truth import TruthAccumulator
from meters_sim.weather import Weather
from tests.meters_sim.conftest import WINTER

HOUR_NS = 3_600_000_000_000


def _trace(start: str, t_air: np.ndarray, awake: np.ndarray, home: np.ndarray,
           season_on: float = 1.0) -> Trace:
    steps, homes = t_air.shape
    t0 = int(np.datetime64(start, "ns").astype("int64"))
    full = {name: np.zeros((steps, homes)) for name in Trace.HOME_FIELDS}
    full.update(t_air_c=t_air, t_surface_c=t_air - 2, rh_pct=np.full((steps, homes), 50.0),
                awake_home=awake, home=home, supply_on=np.ones((steps, homes)),
                season_on=np.full((steps, homes), season_on), setpoint_c=np.full((steps, homes), 20.0),
                credit_gbp=np.full((steps, homes), np.nan),
                gas_credit_gbp=np.full((steps, homes), np.nan))
    return Trace(time_ns=t0 + HOUR_NS * np.arange(1, steps + 1), t_out_c=np.zeros((steps, 1)),
                 **full)


def _portfolio(n: int) -> Portfolio:
    return Portfolio.from_rows(synthetic_households(n, seed=5), seed=5)


def test_tm59_thresholds_on_living_and_night_hours():
    steps = 100                                    # 10 July 2026 00:00 UTC on, hourly
    times = np.datetime64("2026-07-10T00:00") + np.arange(steps) * np.timedelta64(1, "h")
    local_hour = (times.astype("datetime64[h]").astype(int) + 1) % 24     # BST
    night = (local_hour >= 22) | (local_hour < 7)
    t = np.full((steps, 4), 24.0)
    awake = np.ones((steps, 4))
    home = np.ones((steps, 4))
    t[[10, 11], 0] = 28.5          # home 0: 2 % of occupied hours above 28 C -> excess heat
    # Heating off for the season (free-running): the bedroom runs BEDROOM K above the air
    # node (the living room), and the night criterion reads the bedroom.
    bed = FREE_RUNNING_OFFSET_C["bedroom"]
    t[10, 1] = 28.4                # home 1: 1 % exactly is not "more than 1 %"
    t[:, 1] = np.where(np.arange(steps) == 10, 28.4, 25.9 - bed)   # ... bedroom 25.9: no
    t[:, 2] = 24.0 - bed
    awake[night, 2] = 0            # home 2: asleep at night, bedroom 26.5 C for one night hour
    t[np.flatnonzero(night)[0], 2] = 26.5 - bed
    awake[night, 3] = 0            # home 3: a bedroom at 26.0 C at night is not above 26 C
    t[night, 3] = 26.0 - bed
    acc = TruthAccumulator(_portfolio(4), step_s=3600)
    acc.update(_trace("2026-07-10T00:00", t, awake, home, season_on=0.0))
    homes = acc.labels()["households"]
    assert [h["excess_heat"] for h in homes] == [True, False, True, False]
    assert homes[0]["hot_living_share"] == 0.02
    assert homes[2]["hot_night_share"] == round(1 / night.sum(), 3)


def test_hhsrs_bands_from_long_spells_in_the_heating_season():
    steps = 100
    t = np.full((steps, 4), 20.0)
    t[:30, 0] = 15.0               # 30 % of awake hours below 16 C: serious -> excess cold
    t[:25, 1] = 9.5                # 25 % below 10 C: great
    t[:, 2] = 18.5                 # always below 19 C but never below 16 C: risk rises
    t[:15, 3] = 15.0               # 15 % below 16 C: not a long spell
    ones = np.ones((steps, 4))
    acc = TruthAccumulator(_portfolio(4), step_s=3600)
    acc.update(_trace("2026-01-12T00:00", t, ones, ones))
    homes = acc.labels()["households"]
    assert [h["excess_cold_band"] for h in homes] == [2, 3, 1, 0]
    assert [h["excess_cold"] for h in homes] == [True, True, False, False]
    assert not any(h["excess_heat"] for h in homes)


def test_no_excess_cold_outside_the_heating_season():
    steps = 100
    t = np.full((steps, 2), 12.0)
    ones = np.ones((steps, 2))
    acc = TruthAccumulator(_portfolio(2), step_s=3600)
    acc.update(_trace("2026-06-01T00:00", t, ones, ones))
    assert not any(h["excess_cold"] for h in acc.labels()["households"])


def test_the_heatwave_overheats_top_floor_and_south_facing_homes_most():
    pf = Portfolio.from_rows(synthetic_households(300, seed=8), seed=8)
    start = Weather(pf.areas, seed=8).heatwave(2026)[0]
    # A fortnight around this seed's 2026 heatwave.
    begin = np.datetime64("2026-01-01") + np.timedelta64(int(start) - 4, "D")
    sim = Simulation(pf, begin, step_s=300, seed=8, spinup_days=1)
    acc = TruthAccumulator(pf, step_s=300)
    for tr in sim.run(14 * 288):
        acc.update(tr)
    hot = acc.verdicts()["excess_heat"]
    exposed = pf.traits["top_floor"] | pf.traits["south_facing"]
    assert 0.02 < hot.mean() < 0.6
    assert hot[exposed].mean() > 2 * hot[~exposed].mean()
    assert not acc.verdicts()["excess_cold"].any()


def test_no_excess_heat_in_winter(portfolio_60):
    sim = Simulation(portfolio_60, np.datetime64(WINTER), step_s=300, seed=7, spinup_days=0.5)
    acc = TruthAccumulator(portfolio_60, step_s=300)
    for tr in sim.run(3 * 288):
        acc.update(tr)
    assert not acc.verdicts()["excess_heat"].any()
