"""The vectorised simulation of a whole portfolio of homes.

State lives in arrays over households; time advances in fixed steps (default 60 s). Each UTC
day's exogenous drivers (weather, presence, appliances, hot water, moisture sources) are built
at once as (steps, homes) arrays; only the stateful part (room and fabric temperature,
thermostat, humidity, laundry drying, prepayment credit and supply) runs step by step, still
vectorised over homes. Randomness of day d comes from a generator keyed by (seed, d), so a run
is reproducible by seed whatever the chunking of `advance` calls.

Usage::

    sim = Simulation(Portfolio.from_rows(rows, seed=42), start=np.datetime64("2026-01-05"))
    for trace in sim.run(7 * 1440):      # a week of 1-minute steps, yields chunks
        ...                               # trace.t_air_c etc. are (steps, homes) float32
    sim.current                           # the latest step's true values (homes,)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np

from meters_sim import params as pm
from meters_sim.behaviour import OFF_SETPOINT_C, DayDrivers, day_drivers
from meters_sim.homes import Portfolio, household_rng
from meters_sim.physics import saturation_vapour_density_g_per_m3
from meters_sim.weather import NS_PER_DAY, Weather, daylight

NS = 1_000_000_000
SEASON_TIMESCALE_S = 3 * 86400.0   # households judge "it's got cold" on a ~3-day mean
SEASON_HYSTERESIS_C = 1.5


@dataclass
class Trace:
    """True state over a run of steps: each array (steps, homes) float32 unless stated.
    Units in the names; booleans stored as 0/1."""

    time_ns: np.ndarray          # (steps,) int64, UTC, the end of each step
    t_out_c: np.ndarray          # (steps, areas)
    t_air_c: np.ndarray          # indoor air temperature
    t_surface_c: np.ndarray      # coldest internal surface
    rh_pct: np.ndarray           # indoor relative humidity
    setpoint_c: np.ndarray       # thermostat setpoint in force (10 = off)
    heating_on: np.ndarray       # heating delivering heat
    power_w: np.ndarray          # electricity import over the step (0 once cut off)
    gas_flow_m3_per_h: np.ndarray  # over the step (0 once cut off)
    energy_kwh: np.ndarray       # cumulative electricity import register (float64)
    volume_m3: np.ndarray        # cumulative gas volume register
    credit_gbp: np.ndarray       # electricity prepayment balance (NaN for credit meters)
    gas_credit_gbp: np.ndarray   # gas prepayment balance (NaN where none)
    supply_on: np.ndarray        # electricity supply connected
    gas_supply_on: np.ndarray    # gas supply connected (0 where no gas)
    home: np.ndarray             # someone in
    awake_home: np.ndarray       # someone in and awake
    season_on: np.ndarray        # the household has switched its heating on for the season

    EXACT_FIELDS = ("energy_kwh", "volume_m3", "credit_gbp", "gas_credit_gbp")  # float64
    HOME_FIELDS = ("t_air_c", "t_surface_c", "rh_pct", "setpoint_c", "heating_on", "power_w",
                   "gas_flow_m3_per_h", "energy_kwh", "volume_m3", "credit_gbp",
                   "gas_credit_gbp", "supply_on", "gas_supply_on", "home", "awake_home",
                   "season_on")

    @property
    def steps(self) -> int:
        return len(self.time_ns)

    @staticmethod
    def concat(traces: list[Trace]) -> Trace:
        return Trace(**{f.name: np.concatenate([getattr(t, f.name) for t in traces])
                        for f in fields(Trace)})


class Simulation:
    """A portfolio of homes advancing in steps of `step_s` seconds from `start` (UTC)."""

    def __init__(self, portfolio: Portfolio, start, step_s: int = 60, seed: int = 42,
                 spinup_days: float = 2.0):
        if step_s <= 0 or 86400 % step_s:
            raise ValueError(f"step_s={step_s}: the step must divide a day (60, 300, 900 ...)")
        self.pf = portfolio
        self.seed = int(seed)
        self.step_s = int(step_s)
        self.step_ns = self.step_s * NS
        start_ns = int(np.datetime64(start, "ns").astype("int64"))
        self.start_ns = start_ns - start_ns % self.step_ns
        self.weather = Weather(portfolio.areas, seed)
        self._unit_e, self._sc_e = portfolio.rates("electricity")
        self._unit_g, self._sc_g = portfolio.rates("gas")
        self._init_state()
        self._day: int | None = None
        self._drivers: DayDrivers | None = None
        self._spinning = True
        spin = round(spinup_days * 86400 / self.step_s)
        self.time_ns = self.start_ns - spin * self.step_ns   # time of the last completed step
        if spin:
            for _ in self.run(spin, chunk_steps=spin):
                pass
        self._spinning = False
        self.current: dict[str, np.ndarray] = self._snapshot()

    # ------------------------------------------------------------------ state
    def _init_state(self) -> None:
        pf = self.pf
        H = pf.n
        U = np.array([household_rng(self.seed, h, "registers").random(4) for h in pf.household_id])
        self.t_air = np.minimum(pf.comfort_setpoint_c, 19.0) - 1.0
        self.t_fab = self.t_air - 1.0
        self.vap = 0.5 * saturation_vapour_density_g_per_m3(self.t_air)
        self.wet_laundry_g = np.zeros(H)
        self.energy_kwh = np.round(2000 + 30000 * U[:, 0], 2)   # meters were not new
        self.volume_m3 = np.where(pf.has_gas, np.round(500 + 8000 * U[:, 1], 3), 0.0)
        self.credit_gbp = np.where(pf.prepayment, pf.initial_credit_gbp, np.nan)
        gas_prepay = pf.prepayment & pf.has_gas
        self.gas_credit_gbp = np.where(gas_prepay, pf.initial_credit_gbp * 1.2, np.nan)
        self.supply_on = np.ones(H, bool)
        self.gas_supply_on = pf.has_gas.copy()
        self.heating_on = np.zeros(H, bool)
        self.season_on = np.zeros(H, bool)
        self.t_out_mean = None   # 3-day mean outdoor temperature, set at the first step
        self._season_day = -1    # the day whose weather last updated t_out_mean
        self.setpoint = np.full(H, OFF_SETPOINT_C)
        self.power_w = np.zeros(H)
        self.gas_flow = np.zeros(H)
        self.t_surface = self.t_air.copy()
        self.rh = np.full(H, 50.0)
        self.home = np.ones(H, bool)
        self.awake_home = np.ones(H, bool)
        self.t_out_area = np.zeros(len(self.pf.areas))
        self.topups = np.zeros(H, int)          # count of top-ups (both fuels)
        self.off_steps = np.zeros(H, int)       # steps with the electricity supply off

    def _snapshot(self) -> dict[str, np.ndarray]:
        return {"t_air_c": self.t_air.copy(), "t_surface_c": self.t_surface.copy(),
                "rh_pct": self.rh.copy(), "setpoint_c": self.setpoint.copy(),
                "heating_on": self.heating_on.copy(), "power_w": self.power_w.copy(),
                "gas_flow_m3_per_h": self.gas_flow.copy(), "energy_kwh": self.energy_kwh.copy(),
                "volume_m3": self.volume_m3.copy(), "credit_gbp": self.credit_gbp.copy(),
                "gas_credit_gbp": self.gas_credit_gbp.copy(), "supply_on": self.supply_on.copy(),
                "gas_supply_on": self.gas_supply_on.copy(), "home": self.home.copy(),
                "awake_home": self.awake_home.copy(), "season_on": self.season_on.copy(),
                "t_out_c": self.t_out_area[self.pf.area_index].copy()}

    # ------------------------------------------------------------------ persistence
    STATE_FIELDS = ("t_air", "t_fab", "vap", "wet_laundry_g", "energy_kwh", "volume_m3",
                    "credit_gbp", "gas_credit_gbp", "supply_on", "gas_supply_on", "season_on",
                    "t_out_mean", "topups", "off_steps")

    def save_state(self, path) -> None:
        """Write the homes' state (registers, credit, temperatures ...) so that a later run
        continues where this one stopped instead of starting the meters afresh."""
        from pathlib import Path

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        w_hour, w_anom = self.weather.state(self.time_ns)
        np.savez(tmp, time_ns=np.int64(self.time_ns), seed=np.int64(self.seed),
                 weather_hour=np.int64(w_hour), weather_anom=w_anom,
                 season_day=np.int64(self._season_day),
                 step_s=np.int64(self.step_s), household_id=self.pf.household_id.astype(str),
                 **{name: np.asarray(self._state_value(name)) for name in self.STATE_FIELDS})
        tmp.replace(path)

    def _state_value(self, name: str):
        value = getattr(self, name)
        return np.full(self.pf.n, np.nan) if value is None else value

    @classmethod
    def resume(cls, portfolio: Portfolio, path, seed: int, step_s: int = 60) -> Simulation | None:
        """A Simulation continuing from a saved state, or None when the file is missing or
        was saved for other homes, another seed or another step."""
        from pathlib import Path

        path = Path(path)
        if not path.exists():
            return None
        with np.load(path) as z:
            same = (int(z["seed"]) == int(seed) and int(z["step_s"]) == int(step_s)
                    and np.array_equal(z["household_id"], portfolio.household_id.astype(str)))
            if not same:
                return None
            state = {name: z[name].copy() for name in cls.STATE_FIELDS}
            time_ns = int(z["time_ns"])
            weather = int(z["weather_hour"]), z["weather_anom"].copy()
            season_day = int(z["season_day"])
        sim = cls(portfolio, np.datetime64(time_ns, "ns"), step_s=step_s, seed=seed,
                  spinup_days=0)
        sim.weather.restore(*weather)
        sim._season_day = season_day
        for name, value in state.items():
            setattr(sim, name, value)
        if np.isnan(sim.t_out_mean).all():
            sim.t_out_mean = None
        sim.current = sim._snapshot()
        return sim

    # ------------------------------------------------------------------ drivers
    def _day_drivers(self, day: int) -> None:
        steps = 86400 // self.step_s
        # Step k covers (t_k - step, t_k]; drivers are sampled at the step's start.
        t = day * NS_PER_DAY + np.arange(steps, dtype="int64") * self.step_ns
        rng = np.random.default_rng([self.seed, 0xDA7, day & 0xFFFFFFFF])
        t_out_area = self.weather.temperature_c(t)            # (areas, steps)
        rh_out_area = self.weather.relative_humidity(t, t_out_area)
        idx = self.pf.area_index
        t_out = t_out_area.T[:, idx]
        self._t_out_area = t_out_area.T
        self._vap_out = (rh_out_area.T * saturation_vapour_density_g_per_m3(t_out_area.T))[:, idx]
        self._t_out = t_out
        self._drivers = day_drivers(self.pf, t, self.step_s, t_out, rng, daylight(t))
        self._topup_u = rng.random((steps, self.pf.n))
        self._topup_amount_u = rng.random((steps, self.pf.n))
        self._day = day
        self._prepare_day()

    # ------------------------------------------------------------------ stepping
    def run(self, n_steps: int, chunk_steps: int | None = None) -> Iterator[Trace]:
        """Advance `n_steps` steps, yielding the true state as Traces of at most `chunk_steps`
        (default: up to the end of each UTC day)."""
        done = 0
        while done < n_steps:
            t_next = self.time_ns + self.step_ns
            day = int((t_next - self.step_ns) // NS_PER_DAY)
            if day != self._day:
                self._day_drivers(day)
            first = int(((t_next - self.step_ns) % NS_PER_DAY) // self.step_ns)
            steps_left_today = 86400 // self.step_s - first
            size = min(n_steps - done, steps_left_today, chunk_steps or steps_left_today)
            yield self._advance_within_day(first, size)
            done += size

    def advance(self, n_steps: int) -> Trace:
        """Advance and return the whole trace at once (mind memory for long runs)."""
        return Trace.concat(list(self.run(n_steps)))

    def advance_to(self, time_ns: int) -> int:
        """Advance (discarding the trace) until the last step ends at or before `time_ns`.
        Returns the number of steps taken."""
        n = max(0, int((int(time_ns) - self.time_ns) // self.step_ns))
        for _ in self.run(n):
            pass
        return n

    def _prepare_day(self) -> None:
        """Everything of the day that does not depend on the loop's state, as (steps, homes)
        arrays, so the step loop does only the recurrences."""
        pf, d, dt = self.pf, self._drivers, float(self.step_s)
        dt_h = dt / 3600.0
        t_out = self._t_out
        # Heating season: households switch the heating on for the season when a ~3-day mean
        # of the outdoor temperature falls below their threshold (off again 1.5 C above it).
        day_mean = t_out.mean(axis=0)
        if self.t_out_mean is None:
            self.t_out_mean = day_mean.copy()
            self.season_on = self.t_out_mean < pf.season_threshold_c
        if self._season_day != self._day:     # once per day, also across save and resume
            self._season_day = self._day
            keep = np.exp(-86400.0 / SEASON_TIMESCALE_S)
            self.t_out_mean += (1 - keep) * (day_mean - self.t_out_mean)
            self.season_on = np.where(
                self.season_on, self.t_out_mean < pf.season_threshold_c + SEASON_HYSTERESIS_C,
                self.t_out_mean < pf.season_threshold_c)
        self._sp = np.where(self.season_on, d.setpoint_c, OFF_SETPOINT_C)
        self._app85 = 0.85 * d.appliance_w
        h_ao = pf.h_air_out_w_per_k + 0.33 * pf.volume_m3 * np.maximum(d.ach - pf.base_ach, 0)
        ka, kf = pf.c_air_j_per_k / dt, pf.c_fabric_j_per_k / dt
        h_af = pf.h_air_fabric_w_per_k
        self._a11 = ka + h_ao + h_af
        self._a22 = kf + pf.h_fabric_out_w_per_k + h_af + pf.h_neighbour_w_per_k
        self._inv_det = 1.0 / (self._a11 * self._a22 - h_af * h_af)
        self._ra_ext = d.gains_w + h_ao * t_out
        self._rf_ext = (d.solar_w + pf.h_fabric_out_w_per_k * t_out
                        + pf.h_neighbour_w_per_k * pm.NEIGHBOUR_TEMP_C)
        self._base_elec = d.appliance_w + d.hot_water_elec_w
        flow = d.ach * pf.volume_m3
        buffer_vol = pm.MOISTURE_BUFFER_FACTOR * pf.volume_m3
        self._vap_in = dt_h * (d.moisture_g_per_h + flow * self._vap_out)
        self._inv_denom = 1.0 / (buffer_vol + dt_h * flow)
        self._awake_home = d.home & ~d.asleep
        h = d.local_hour
        self._friendly = d.weekend | (h >= pm.FRIENDLY_START_HOUR) | (h < pm.FRIENDLY_END_HOUR)
        # Keep only what the loop reads, in float32 (coefficients and drivers; the state stays
        # float64): memory is ~80 kB per home for a day of 1-minute steps.
        f32 = np.float32
        for name in ("_sp", "_app85", "_a11", "_inv_det", "_ra_ext", "_rf_ext", "_base_elec",
                     "_vap_in", "_inv_denom", "_t_out"):
            setattr(self, name, getattr(self, name).astype(f32))
        d.hot_water_gas_w = d.hot_water_gas_w.astype(f32)
        d.laundry_water_g = d.laundry_water_g.astype(f32)
        for name in ("setpoint_c", "appliance_w", "hot_water_elec_w", "moisture_g_per_h", "ach",
                     "gains_w", "solar_w", "asleep"):
            setattr(d, name, None)
        self._vap_out = None
        self._topup_amount_u = self._topup_amount_u.astype(f32)
        self._topup_u = self._topup_u.astype(f32)

    def _advance_within_day(self, first: int, size: int) -> Trace:
        pf, d, dt = self.pf, self._drivers, float(self.step_s)
        H = pf.n
        record = not self._spinning
        out = None
        if record:
            out = {name: np.empty((size, H), np.float64 if name in Trace.EXACT_FIELDS
                                  else np.float32) for name in Trace.HOME_FIELDS}
        dt_h = dt / 3600.0
        laundry_keep = np.exp(-dt_h / pm.DRYING_TIMESCALE_H)
        buffer_vol = pm.MOISTURE_BUFFER_FACTOR * pf.volume_m3
        cond_coeff = pm.CONDENSATION_RATE_M3_PER_H_PER_M2 * pm.COLD_SURFACE_SHARE * pf.floor_area_m2
        cond_cap = buffer_vol / dt_h
        elec_heat, gas_heat = pf.electric_heating, ~pf.electric_heating
        prepay = pf.prepayment
        any_prepay = bool(prepay.any())
        gas_prepay = prepay & pf.has_gas
        ec_floor = np.where(pf.uses_emergency_credit, -pm.EMERGENCY_CREDIT_GBP, 0.0)
        constrained = pf.traits["constrained_topup"]
        deliberate = pf.traits["deliberate_disconnect"]
        normal_payer = prepay & ~constrained & ~deliberate
        sc_e_step, sc_g_step = self._sc_e * dt / 86400, self._sc_g * dt / 86400
        unit_e_step = self._unit_e * dt / 3.6e6      # GBP per W over one step
        unit_g_step = self._unit_g * dt / 3.6e6
        ka, kf = pf.c_air_j_per_k / dt, pf.c_fabric_j_per_k / dt
        h_af = pf.h_air_fabric_w_per_k
        heater = pf.heater_w
        gas_heat_w = gas_heat / pm.BOILER_EFFICIENCY
        warm_day = bool(self._t_out.max() > pm.WINDOW_COOLING_FROM_C - 10.0)
        cooling_w_per_k_ach = (0.33 * pf.volume_m3 * pf.window_habit * np.where(
            pf.traits["poor_ventilation"], pm.WINDOW_COOLING_POOR_VENTILATION, 1.0))
        boiler_aux_w = gas_heat * pm.BOILER_AUX_W
        f_rsi = pf.f_rsi
        kwh_per_w_step = dt / 3.6e6
        m3_per_w_step = kwh_per_w_step / pm.KWH_PER_M3
        inv_band = 1.0 / pm.CONTROL_BAND_K
        has_gas = pf.has_gas
        times = self.time_ns + self.step_ns * np.arange(1, size + 1, dtype="int64")
        t_air, t_fab, vap = self.t_air, self.t_fab, self.vap

        for j in range(size):
            k = first + j
            t_out = self._t_out[k]
            supply, gas_supply = self.supply_on, self.gas_supply_on
            sp = self._sp[k]
            if any_prepay:   # prepayment homes cut their heating when credit is nearly gone
                heat_credit = np.where(elec_heat, self.credit_gbp, self.gas_credit_gbp)
                sp = np.where(prepay & (heat_credit < pm.RATION_CREDIT_GBP), OFF_SETPOINT_C, sp)
            # A gas boiler needs electricity for its pump and ignition.
            fuel_on = supply & (elec_heat | gas_supply)
            frac = np.clip((sp - t_air) * inv_band + 0.5, 0.0, 1.0)
            frac *= (sp > OFF_SETPOINT_C) & fuel_on
            heat_w = frac * heater

            # Two-node thermal model, implicit Euler (physics.two_node_step, inlined).
            ra = ka * t_air + heat_w + self._app85[k] * supply + self._ra_ext[k]
            rf = kf * t_fab + self._rf_ext[k]
            a11, inv_det = self._a11[k], self._inv_det[k]
            if warm_day:
                # Windows opened wide once the room is warm and it is cooler outside.
                g = np.clip((t_air - pm.WINDOW_COOLING_FROM_C) / pm.WINDOW_COOLING_RAMP_K,
                            0.0, 1.0) * (t_out < t_air)
                if g.any():
                    g = g * np.where(self._awake_home[k], pm.WINDOW_COOLING_ACH_AWAKE,
                                     pm.WINDOW_COOLING_ACH_ASLEEP) * cooling_w_per_k_ach
                    ra = ra + g * t_out
                    a11 = a11 + g
                    inv_det = 1.0 / (a11 * self._a22 - h_af * h_af)
            t_air = (ra * self._a22 + h_af * rf) * inv_det
            t_fab = (a11 * rf + h_af * ra) * inv_det

            power_w = (self._base_elec[k] + elec_heat * heat_w + boiler_aux_w * frac) * supply
            gas_on = gas_supply & supply
            gas_w = (d.hot_water_gas_w[k] + gas_heat_w * heat_w) * gas_on
            self.energy_kwh += power_w * kwh_per_w_step
            self.volume_m3 += gas_w * m3_per_w_step

            # Moisture: people, cooking, showers, drying laundry; ventilation; condensation on
            # the coldest surface once the air's vapour exceeds saturation there.
            evaporated = self.wet_laundry_g * (1 - laundry_keep)
            self.wet_laundry_g = self.wet_laundry_g * laundry_keep + d.laundry_water_g[k]
            t_surf = t_out + f_rsi * (t_air - t_out)
            excess = np.maximum(vap - saturation_vapour_density_g_per_m3(t_surf), 0.0)
            cond = np.minimum(cond_coeff * excess, excess * cond_cap)
            vap = (buffer_vol * vap + self._vap_in[k] + evaporated - dt_h * cond) * self._inv_denom[k]
            sat = saturation_vapour_density_g_per_m3(t_air)
            vap = np.minimum(vap, sat)
            rh = 100.0 * vap / sat

            if any_prepay:
                # Charges, disconnection outside friendly hours, top-ups.
                friendly = self._friendly[k]
                self.credit_gbp = self.credit_gbp - (power_w * unit_e_step + sc_e_step)
                self.gas_credit_gbp = self.gas_credit_gbp - (gas_w * unit_g_step + sc_g_step)
                if not friendly:
                    supply = supply & ~(prepay & (self.credit_gbp <= ec_floor))
                    gas_supply = gas_supply & ~(gas_prepay & (self.gas_credit_gbp <= ec_floor))
                # A meter that is off comes back once topped up into credit.
                supply = supply | (prepay & ~supply & (self.credit_gbp > 0))
                gas_supply = gas_supply | (gas_prepay & ~gas_supply & (self.gas_credit_gbp > 0))
                self.supply_on, self.gas_supply_on = supply, gas_supply
                self._top_up(k, d.local_hour[k], dt_h, normal_payer, constrained, deliberate,
                             prepay, gas_prepay, self._awake_home[k])
                self.off_steps += prepay & ~self.supply_on
                supply, gas_supply = self.supply_on, self.gas_supply_on
                # Readings at the end of the step: nothing flows once a supply has been cut.
                power_w = power_w * supply
                gas_w = gas_w * (gas_supply & supply)

            heating_on = (frac > 0.05) & supply & (elec_heat | gas_supply)
            if record:
                o = out
                o["t_air_c"][j] = t_air
                o["t_surface_c"][j] = t_surf
                o["rh_pct"][j] = rh
                o["setpoint_c"][j] = sp
                o["heating_on"][j] = heating_on
                o["power_w"][j] = power_w
                o["gas_flow_m3_per_h"][j] = gas_w
                o["energy_kwh"][j] = self.energy_kwh
                o["volume_m3"][j] = self.volume_m3
                o["credit_gbp"][j] = self.credit_gbp
                o["gas_credit_gbp"][j] = self.gas_credit_gbp
                o["supply_on"][j] = supply
                o["gas_supply_on"][j] = gas_supply & has_gas
        # State after the last step (the live views read it).
        self.t_air, self.t_fab, self.vap = t_air, t_fab, vap
        last = first + size - 1
        self.t_surface, self.rh = t_surf, rh
        self.setpoint, self.heating_on, self.power_w = sp, heating_on, power_w
        self.gas_flow = gas_w / 1000.0 / pm.KWH_PER_M3
        self.home, self.awake_home = d.home[last], self._awake_home[last]
        self.t_out_area = self._t_out_area[last]
        self.time_ns = int(times[-1])
        if not record:
            return None
        out["gas_flow_m3_per_h"] /= 1000.0 * pm.KWH_PER_M3
        out["home"][:] = d.home[first:first + size]
        out["awake_home"][:] = self._awake_home[first:first + size]
        out["season_on"][:] = self.season_on
        self.current = self._snapshot()
        return Trace(time_ns=times, t_out_c=self._t_out_area[first:first + size].astype(np.float32),
                     **out)

    def _top_up(self, k, hour, dt_h, normal, constrained, deliberate, prepay, gas_prepay,
                awake_home):
        """Prepayment top-ups: normal payers top up soon after the balance falls below their
        threshold; constrained ones only on their money day, small sums, once nearly out;
        deliberate self-disconnectors leave the supply off for days before topping up."""
        pf = self.pf
        if not (8.0 <= hour < 21.0):      # top-ups happen while shops are open
            return
        weekday = int(((self.time_ns // NS_PER_DAY) + 3) % 7)  # 1970-01-01 was a Thursday
        money_day = (pf.money_day == weekday) | (pf.money_day == (weekday + 3) % 7)
        u, ua = self._topup_u[k], self._topup_amount_u[k]
        for credit_name, mask in (("credit_gbp", prepay), ("gas_credit_gbp", gas_prepay)):
            credit = getattr(self, credit_name)
            on = self.supply_on if credit_name == "credit_gbp" else self.gas_supply_on
            low = mask & awake_home & ((credit < np.maximum(pf.topup_threshold_gbp, 2.0)) | ~on)
            if not low.any():
                continue
            hazard = np.where(normal & (credit < pf.topup_threshold_gbp), 0.8, 0.0)
            hazard = np.where(constrained & money_day & (credit < 2.0), 0.5, hazard)
            hazard = np.where(deliberate & ~on, 0.02, hazard)
            hazard = np.where(deliberate & on & (credit < 1.0), 0.1, hazard)
            go = low & (u < 1.0 - np.exp(-hazard * dt_h))
            if go.any():
                amount = pf.topup_amount_gbp * (0.8 + 0.4 * ua)
                if credit_name == "gas_credit_gbp":
                    amount = amount * 1.2
                setattr(self, credit_name, np.where(go, credit + amount, credit))
                self.topups += go
