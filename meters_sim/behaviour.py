"""What the occupants do in one day: presence, sleep, setpoints, appliances, hot water, moisture.

Pure functions of the portfolio, the day's local clock and one random generator per UTC day,
producing time-major arrays shaped (steps, households). Events (kettle, meals, showers,
laundry) are placed in continuous time and spread over the steps they overlap, so energy is
conserved at any step length. Events that would run past the end of the day are cut there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meters_sim import params as pm
from meters_sim.homes import Portfolio

TIMEZONE = "Europe/London"
WORKING, HOME_ALL_DAY, NIGHT_WORKER = 0, 1, 2
OFF_SETPOINT_C = 10.0   # thermostat at its minimum: heating effectively off (frost only)


@dataclass
class DayDrivers:
    """Exogenous inputs of the thermal/credit loop for one day, each shaped (steps, homes)."""

    home: np.ndarray            # bool: someone is in
    asleep: np.ndarray          # bool
    setpoint_c: np.ndarray      # scheduled thermostat setpoint (before the season switch)
    appliance_w: np.ndarray     # lights, cooking, appliances (not heating, not hot water)
    hot_water_elec_w: np.ndarray
    hot_water_gas_w: np.ndarray  # gas burnt for hot water and cooking
    moisture_g_per_h: np.ndarray  # people, cooking, showers (not laundry drying)
    laundry_water_g: np.ndarray  # water of wet laundry hung up indoors at this step
    ach: np.ndarray             # ventilation [air changes per hour]
    gains_w: np.ndarray         # occupants' sensible heat
    solar_w: np.ndarray
    local_hour: np.ndarray      # (steps,) local clock hour, fractional
    weekend: np.ndarray         # (steps,) bool


def local_clock(time_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(local hour [h, fractional], local weekday 0=Mon, local date ordinal) of UTC ns times."""
    idx = pd.DatetimeIndex(np.asarray(time_ns, dtype="int64"), tz="UTC").tz_convert(TIMEZONE)
    hour = idx.hour.to_numpy() + idx.minute.to_numpy() / 60 + idx.second.to_numpy() / 3600
    return hour.astype(float), idx.day_of_week.to_numpy(), (idx.normalize().tz_localize(None)
                                                        .to_numpy().astype("datetime64[D]")
                                                        .astype("int64"))


class Events:
    """Sum of intervals [start, start+dur) per home spread over the steps they overlap
    (shares of each step covered), built sparsely: a fractional difference array per event,
    one cumulative sum at the end. Event times are local hours mapped linearly from the day's
    first step (on the two DST change days events sit up to an hour off the clock)."""

    def __init__(self, hour0: float, step_h: float, steps: int, homes: int):
        self.hour0, self.step_h, self.steps = hour0, step_h, steps
        self.delta = np.zeros((steps + 2, homes))
        self._cols = np.arange(homes)

    def _edge(self, pos: np.ndarray, weight: np.ndarray, sign: float) -> None:
        pos = np.clip(pos, 0.0, self.steps)
        i = np.floor(pos).astype(int)
        f = pos - i
        np.add.at(self.delta, (i, self._cols), sign * weight * (1 - f))
        np.add.at(self.delta, (i + 1, self._cols), sign * weight * f)

    def add(self, start: np.ndarray, dur_h: np.ndarray | float, weight=1.0) -> None:
        """Add events starting at local hours `start` (homes,) (NaN: none) lasting `dur_h`."""
        ok = ~np.isnan(start)
        w = np.where(ok, np.broadcast_to(weight, start.shape), 0.0)
        a = np.where(ok, (start - self.hour0) / self.step_h, 0.0)
        b = a + np.broadcast_to(dur_h, start.shape) / self.step_h
        self._edge(a, w, 1.0)
        self._edge(b, w, -1.0)

    def total(self) -> np.ndarray:
        """(steps, homes) share of each step covered (weighted)."""
        return np.cumsum(self.delta, axis=0)[: self.steps]


class Occupancy:
    """Presence and sleep of each home on one local day, evaluated at any local hours."""

    def __init__(self, pf: Portfolio, weekday: int, rng: np.random.Generator):
        H = pf.n
        j = rng.normal(0, 0.25, (4, H))
        self.kind = pf.occupancy
        weekend = weekday >= 5
        self.wake = pf.wake_h + j[0] + (1.5 if weekend else 0.0) + 0.8 * (self.kind == HOME_ALL_DAY)
        self.sleep = pf.sleep_h + j[1] + (0.5 if weekday in (4, 5) else 0.0)
        works = (self.kind == WORKING) & (not weekend)
        self.leave = np.where(works, pf.leave_h + j[2], np.nan)
        self.ret = np.where(works, pf.return_h + j[3], np.nan)
        # Outings: shopping, visits, school run; not for working days.
        p_out = np.where(self.kind == HOME_ALL_DAY, 0.5, 0.6)
        has_out = ~works & (rng.random(H) < p_out)
        start = 10.0 + 5.0 * rng.random(H)
        self.out_start = np.where(has_out, start, np.nan)
        self.out_end = self.out_start + 1.0 + 3.0 * rng.random(H)
        # Night workers: five night shifts a week, 21:00 to 07:30, then sleep 08:30-15:00.
        night = self.kind == NIGHT_WORKER
        self.shift_tonight = night & (weekday <= 4)
        self.shift_last_night = night & (1 <= weekday <= 5)

    def state(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(home, asleep) booleans at local hours h, broadcast against (homes,)."""
        with np.errstate(invalid="ignore"):
            asleep = (h < self.wake) | (h >= self.sleep)
            away = (h >= self.leave) & (h < self.ret)
            away |= (h >= self.out_start) & (h < self.out_end)
            # Night worker mornings after a shift: away until 07:30, asleep 08:30-15:00.
            after = self.shift_last_night
            asleep = np.where(after, (h >= 8.5) & (h < 15.0), asleep)
            away = np.where(after, h < 7.5, away)
            tonight = self.shift_tonight
            away = np.where(tonight & (h >= 21.0), True, away)
            asleep = np.where(tonight & (h >= 21.0), False, asleep)
            away = np.where(after & (h >= 21.0) & ~tonight, False, away)
            asleep = np.where(after & ~tonight & (h >= self.sleep), True, asleep)
        return ~away, asleep & ~away

    def awake_home_times(self, rng: np.random.Generator, n_draws: int, lo: float = 0.0,
                         hi: float = 24.0) -> np.ndarray:
        """(n_draws, homes) random local hours in [lo, hi), NaN where nobody is in and awake."""
        t = lo + (hi - lo) * rng.random((n_draws, len(self.kind)))
        home, asleep = self.state(t)
        return np.where(home & ~asleep, t, np.nan)


def hot_water_season_factor(time_ns) -> float:
    """Energy to heat a litre of water relative to the annual mean: ~1.1 in late January,
    ~0.9 in late July (SAP 10.2 Table J1 monthly hot-water factors, about 1.10 to 0.86)."""
    from meters_sim.weather import day_of_year

    doy = float(day_of_year(np.asarray([time_ns], dtype="int64"))[0])
    return 1.0 + pm.HOT_WATER_SEASON_AMPLITUDE * np.cos(
        2 * np.pi * (doy - pm.OUTDOOR_COLDEST_DAY_OF_YEAR) / 365.25)


def day_drivers(pf: Portfolio, time_ns: np.ndarray, step_s: float, outdoor_c: np.ndarray,
                rng: np.random.Generator, daylight_factor: np.ndarray) -> DayDrivers:
    """Drivers of one local day sampled at `time_ns` (steps,); `outdoor_c` (steps, homes)."""
    H = pf.n
    hour, weekday_arr, _ = local_clock(time_ns)
    # The day's habits follow the weekday at its middle (a DST day still has one weekday).
    weekday = int(weekday_arr[len(weekday_arr) // 2])
    step_h = step_s / 3600.0
    occ = Occupancy(pf, weekday, rng)
    home, asleep = occ.state(hour[:, None])
    awake_home = home & ~asleep

    # --- Thermostat schedule: comfort when up and in (and half an hour before), night
    # setback when asleep, off when out. Rationing homes heat only a short evening spell.
    home_ahead, asleep_ahead = occ.state(hour[:, None] + 0.5)
    want = (awake_home | (home_ahead & ~asleep_ahead)) & home_ahead
    sp = np.where(want, pf.comfort_setpoint_c, np.where(home & asleep, pf.night_setpoint_c,
                                                        OFF_SETPOINT_C))
    h = hour[:, None]
    spell = ((h >= 18.0) & (h < 20.5)) | ((h >= occ.wake) & (h < occ.wake + 1.0))
    sp = np.where(pf.ration_spells, np.where(spell & awake_home, pf.comfort_setpoint_c,
                                             OFF_SETPOINT_C), sp)

    # --- Electricity of appliances.
    scale = pf.appliance_scale
    dark = 1.0 - np.clip(daylight_factor * 5.0, 0.0, 1.0)
    appliance = np.broadcast_to(pf.standby_w, (len(hour), H)).copy()
    # Fridge-freezer compressor: ~110 W, on ~40 % of a 45-75 minute cycle.
    period_h = 0.75 + 0.5 * rng.random(H)
    phase = rng.random(H)
    appliance += 110.0 * (np.sin(2 * np.pi * (hour[:, None] / period_h + phase)) > 0.3)
    # What people switch on varies hour by hour: a lognormal level per home and local hour.
    level = rng.lognormal(-0.06, 0.35, (25, H))[np.clip(hour.astype(int), 0, 24)]
    evening_boost = np.where((hour >= 18) & (hour < 23), 1.6, 1.0)[:, None]
    appliance += awake_home * scale * level * (pm.ELECTRONICS_W * evening_boost
                                               + pm.LIGHTING_W * dark[:, None])
    kettle_t = occ.awake_home_times(rng, 6)
    kettles = (rng.random(kettle_t.shape) < 0.6 * np.sqrt(pf.occupants / 2.0))
    kettle_t = np.where(kettles, kettle_t, np.nan)
    S = len(hour)

    def events() -> Events:
        return Events(float(hour[0]), step_h, S, H)

    kettle = events()
    for k in range(kettle_t.shape[0]):
        kettle.add(kettle_t[k], pm.KETTLE_MIN / 60)
    appliance += pm.KETTLE_W * kettle.total()

    # Meals: breakfast after getting up, lunch for those at home, the main meal in the evening.
    cook = events()
    breakfast = occ.wake + 0.3 + 0.3 * rng.random(H)
    lunch = np.where(occ.kind == HOME_ALL_DAY, 12.0 + rng.random(H), np.nan)
    dinner_base = np.where(np.isnan(occ.ret), 17.3, np.maximum(occ.ret + 0.4, 17.3))
    dinner_base = np.where(occ.shift_tonight, 17.0, dinner_base)
    dinner = dinner_base + 1.2 * rng.random(H)
    for start, dur in ((breakfast, 0.2), (lunch, 0.25), (dinner, 0.7)):
        ok = occ.state(start)
        start = np.where(ok[0] & ~ok[1], start, np.nan)
        cook.add(start, dur)
    cook_frac = cook.total()
    gas_cooking = pf.has_gas & ~pf.electric_heating
    appliance += np.where(gas_cooking, pm.COOK_ELECTRIC_IN_GAS_HOME_W,
                          pm.COOK_ELECTRIC_W) * cook_frac

    # Showers: ~0.7 per person a day, mostly after getting up, some in the evening.
    n_sh = np.minimum(rng.poisson(0.7 * pf.occupants), 6)
    showers = events()
    for k in range(6):
        morning = rng.random(H) < 0.7
        t = np.where(morning, occ.wake + 0.1 + 0.8 * rng.random(H), 19.0 + 3.0 * rng.random(H))
        t = np.where(k < n_sh, t, np.nan)
        home_t, asleep_t = occ.state(t)
        showers.add(np.where(home_t & ~asleep_t, t, np.nan), pm.SHOWER_MIN / 60)
    shower = showers.total()
    elec_shower = pf.electric_heating
    # Heating water to a set temperature takes more in winter, when the mains are colder.
    season = hot_water_season_factor(time_ns[len(time_ns) // 2])
    hot_water_elec = np.where(elec_shower, pm.ELECTRIC_SHOWER_W, 0.0) * shower
    hot_water_gas = np.where(elec_shower, 0.0, pm.COMBI_SHOWER_GAS_W * season) * shower
    # Taps (washing up, hand washing): ~1.2 kWh/day of gas for a combi home when in and awake.
    hot_water_gas += np.where(elec_shower, 0.0, pm.TAPS_GAS_W * season
                              * np.sqrt(pf.occupants / 2.0)) * awake_home
    hot_water_gas += np.where(gas_cooking, pm.COOK_GAS_W, 0.0) * cook_frac
    # Electric homes heat the rest of their hot water with an off-peak immersion heater
    # (~1-1.5 kWh a night for 1-3 people: the showers are electric, the rest is taps).
    immersion_dur = 0.2 + 0.1 * pf.occupants
    immersion = events()
    immersion.add(np.where(elec_shower, 2.0, np.nan), immersion_dur)
    hot_water_elec += pm.IMMERSION_W * season * immersion.total()

    # Laundry: ~0.2 loads per person a day, washed when someone is in.
    n_loads = np.minimum(rng.poisson(0.2 * pf.occupants), 2)
    laundry_water = np.zeros((len(hour), H))
    washer, dryer = events(), events()
    winter = float(np.mean(outdoor_c)) < 12.0
    cool = float(np.mean(outdoor_c)) < 14.0
    for k in range(2):
        tries = occ.awake_home_times(rng, 4, 7.5, 21.0)
        first = np.argmax(~np.isnan(tries), axis=0)
        t = tries[first, np.arange(H)]
        t = np.where(k < n_loads, t, np.nan)
        washer.add(t, pm.WASHER_MIN / 60)
        end = t + pm.WASHER_MIN / 60
        # The habit dries indoors in all but warm dry spells; others only in winter without
        # a dryer, half the time.
        u = rng.random(H)
        indoors = (pf.traits["indoor_drying"] & (cool | (u < 0.3))) | (
            ~pf.has_tumble_dryer & winter & (u < 0.5))
        tumble = pf.has_tumble_dryer & ~indoors
        dryer.add(np.where(tumble, end, np.nan), 1.5)
        at = np.clip(np.floor((end - hour[0]) / step_h), 0, len(hour) - 1)
        hang = indoors & ~np.isnan(end) & (end < hour[0] + S * step_h)
        rows = at[hang].astype(int)
        laundry_water[rows, np.flatnonzero(hang)] += pm.MOISTURE_LAUNDRY_G
    appliance += pm.WASHER_W * washer.total() + 2500.0 * dryer.total()

    # --- Moisture and ventilation.
    people = pf.occupants * np.where(asleep, pm.MOISTURE_PERSON_ASLEEP_G_PER_H,
                                     pm.MOISTURE_PERSON_AWAKE_G_PER_H) * home
    cook_moist = np.where(gas_cooking, 1.0, 0.6) * pm.MOISTURE_COOKING_G_PER_H * cook_frac
    shower_moist = pm.MOISTURE_SHOWER_G / (pm.SHOWER_MIN / 60) * shower
    moisture = people + cook_moist + shower_moist
    fans = ~pf.traits["poor_ventilation"]
    ach = pf.base_ach + fans * pm.EXTRACT_BOOST_ACH * np.clip(cook_frac + shower, 0, 1)
    # Windows: opened more as the weather gets milder, wide while someone is up and in, a
    # crack otherwise; less in homes with the poor-ventilation habit (noise, security, draughts).
    mild = np.clip((outdoor_c - 10.0) / 8.0, 0.0, 1.0) * np.where(fans, 1.0, 0.5)
    ach = ach + mild * np.where(awake_home, 2.5, 0.4)

    gains = pm.OCCUPANT_GAIN_W * pf.occupants * home * np.where(asleep, 0.7, 1.0)
    solar = (pm.SOLAR_GAIN_W_PER_M2_FLOOR * daylight_factor[:, None] * pf.floor_area_m2
             * pf.solar_factor)

    return DayDrivers(home=home, asleep=asleep, setpoint_c=sp, appliance_w=appliance,
                      hot_water_elec_w=hot_water_elec, hot_water_gas_w=hot_water_gas,
                      moisture_g_per_h=moisture, laundry_water_g=laundry_water, ach=ach,
                      gains_w=gains, solar_w=solar, local_hour=hour, weekend=weekday_arr >= 5)
