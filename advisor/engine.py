"""Run every risk rule over the aligned inputs: `assess(inputs, settings) -> {kind: RuleResult}`.

Pure: no I/O. The derived quantities the rules share (costs, cold hours, the supply state, the
household's usual range) are computed here once, vectorised over all households.
"""

from __future__ import annotations

import numpy as np

from advisor.frame import FUELS, AdviceInputs
from advisor.rules import (
    RuleResult,
    bill_shock,
    cold_home,
    credit_runout,
    damp_mould,
    device_faults,
    excess_heat,
    fuel_poverty,
    self_disconnection,
    self_rationing,
)
from advisor.rules.base import row_quantile
from advisor.rules.bill_shock import (
    USUAL_LAST_YEAR,
    USUAL_NONE,
    USUAL_SEASONAL,
    period_cost_gbp,
)
from advisor.rules.faults import (
    counter_backwards,
    heating_not_heating,
    implausible_readings,
    silent_devices,
    stuck_readings,
    usage_spikes,
)
from advisor.rules.forecast_sum import (
    cumulative_upper_spread,
    daily_persistence,
    daily_upper_spread,
    sum_upper_spread,
)
from advisor.rules.profiles import day_months, typical_daily_kwh
from advisor.rules.self_disconnection import supply_off_mask
from advisor.rules.self_rationing import expected_heating_kwh, low_setpoint_share
from hearth.reference import ReferenceFigures
from hearth.settings.rooms import AdvisorSettings

RATIONING_DAYS = 7


def _fuels(inp: AdviceInputs, table: dict) -> list[str]:
    return [f for f in FUELS if f in table]


def forecast_cost_gbp(inp: AdviceInputs, which: str, days: int | None = None) -> np.ndarray:
    """Forecast energy cost over the horizon, all fuels, standing charges included [GBP] (H,).

    which: "p10" | "p50" | "p90". Gas costs nothing for households without gas."""
    table = getattr(inp, f"forecast_kwh_{which}")
    has_gas = inp.attr("has_gas", 1).astype(bool)
    total = np.zeros(inp.n)
    for fuel in _fuels(inp, table):
        kwh = table[fuel][:, :days]
        cost = period_cost_gbp(kwh, inp.forecast_rate_gbp_per_kwh[fuel][:, :days],
                               inp.forecast_standing_gbp_per_day[fuel][:, :days])
        total += np.where(has_gas, cost, 0.0) if fuel == "gas" else cost
    return total


def recent_cost_gbp_30d(inp: AdviceInputs) -> np.ndarray:
    """The household's own recent cost scaled to 30 days [GBP] (H,); NaN with too little data."""
    has_gas = inp.attr("has_gas", 1).astype(bool)
    total = np.zeros(inp.n)
    days_seen = np.zeros(inp.n)
    for fuel in _fuels(inp, inp.history_kwh):
        kwh = np.asarray(inp.history_kwh[fuel], dtype=np.float64)
        seen = np.isfinite(kwh)
        rate = inp.history_rate_gbp_per_kwh[fuel]
        standing = inp.history_standing_gbp_per_day[fuel]
        cost = (np.where(seen, kwh * rate + standing, 0.0)).sum(axis=1)
        n_seen = seen.sum(axis=1)
        per_day = np.where(n_seen > 0, cost / np.maximum(n_seen, 1), np.nan)
        contrib = np.where(has_gas, per_day, 0.0) if fuel == "gas" else per_day
        total += np.nan_to_num(contrib)
        days_seen = np.maximum(days_seen, n_seen)
    return np.where(days_seen >= 14, 30 * total, np.nan)


def forecast_p90_cost_gbp(inp: AdviceInputs, days: int = 30) -> np.ndarray:
    """The p90 of the forecast cost of the next `days` days, all fuels [GBP] (H,): the sum of
    the daily p50 costs plus the upper spread of the SUM under the household's own day-to-day
    spread and persistence (advisor/rules/forecast_sum.py), not the sum of daily p90s. The two
    fuels' spreads are added (as if their errors moved together: the cautious side)."""
    has_gas = inp.attr("has_gas", 1).astype(bool)
    total = forecast_cost_gbp(inp, "p50", days)
    for fuel in _fuels(inp, inp.forecast_kwh_p90):
        if fuel not in inp.forecast_kwh_p50:
            continue
        upper = _upper_daily_cost_gbp(inp, fuel, days)
        spread = sum_upper_spread(upper, fuel_persistence(inp, fuel))
        total += np.where(has_gas, spread, 0.0) if fuel == "gas" else spread
    return total


def _upper_daily_cost_gbp(inp: AdviceInputs, fuel: str, days: int | None) -> np.ndarray:
    """Each day's p90 over its expected energy at that day's unit rate [GBP] (H, D): the
    household's own day-to-day spread around its trend (`daily_upper_spread`). Without
    enough history (7 days), the forecaster's daily p90 over p50."""
    rate = inp.forecast_rate_gbp_per_kwh[fuel][:, :days]
    hist = inp.history_kwh.get(fuel)
    own = (np.full(inp.n, np.nan) if hist is None else daily_upper_spread(hist))
    p50 = np.nan_to_num(np.asarray(inp.forecast_kwh_p50[fuel], dtype=np.float64)[:, :days])
    p90 = np.nan_to_num(np.asarray(inp.forecast_kwh_p90[fuel], dtype=np.float64)[:, :days])
    kwh = np.where(np.isfinite(own)[:, None], np.nan_to_num(own)[:, None],
                   np.clip(p90 - p50, 0, None))
    return kwh * rate


def fuel_persistence(inp: AdviceInputs, fuel: str) -> np.ndarray:
    """Day-to-day persistence of the household's daily use of a fuel (H,), from its history
    (0 without one: independent days)."""
    hist = inp.history_kwh.get(fuel)
    return np.zeros(inp.n) if hist is None else daily_persistence(hist)


def credit_burn_p90_gbp(inp: AdviceInputs, fuel: str) -> np.ndarray:
    """Daily credit use [GBP/day] (H, D) whose running sum is the p90 of the running sum of
    the forecast cost (p50 cost plus the upper spread of the sum, as for bills): the days it
    takes to use up a balance at this burn are the days it runs out in at the cautious end of
    the forecast. Standing charges included (a prepayment meter takes them from the credit)."""
    p50 = np.nan_to_num(np.asarray(inp.forecast_kwh_p50[fuel], dtype=np.float64))
    rate = inp.forecast_rate_gbp_per_kwh[fuel]
    central = np.cumsum(p50 * rate + inp.forecast_standing_gbp_per_day[fuel], axis=1)
    upper = cumulative_upper_spread(_upper_daily_cost_gbp(inp, fuel, None),
                                    fuel_persistence(inp, fuel))
    cum = central + upper
    return np.diff(cum, axis=1, prepend=0.0)


def ran_out_days(inp: AdviceInputs) -> dict[str, np.ndarray]:
    """Per fuel, the past days with the prepayment balance at or below zero (H,): from the
    daily lowest balances (`credit_daily_min_gbp`) where loaded, else from the window's
    readings (1 if the balance reached zero in it)."""
    out = {}
    for fuel, series in inp.credit_gbp.items():
        daily = inp.credit_daily_min_gbp.get(fuel)
        if daily is not None:
            out[fuel] = (np.nan_to_num(np.asarray(daily, float), nan=np.inf) <= 0).sum(axis=1)
        else:
            arr = np.asarray(series, dtype=np.float64)
            arr = arr if arr.ndim == 2 else arr[:, None]
            out[fuel] = (np.nan_to_num(arr, nan=np.inf) <= 0).any(axis=1).astype(np.int64)
    return out


def usual_cost_gbp_30d(inp: AdviceInputs) -> tuple[np.ndarray, np.ndarray]:
    """The household's own usual cost for the forecast's next 30 days [GBP] (H,), and its basis
    (H,) (USUAL_LAST_YEAR, USUAL_SEASONAL or USUAL_NONE).

    Same 30 days last year where the inputs hold them (`last_year_kwh`, at least 25 of the
    30 days seen): that energy at the forecast days' tariffs. Else the recent history's
    average daily energy (at least 14 days seen) scaled to the season: times the typical
    month-by-month profile's use over the next 30 days over its use on the days seen (gas,
    and electricity in an electrically heated home, on the heating profile, which follows
    heating degree days in a typical year; other electricity on the flatter profile), at the
    forecast days' tariffs. So a December forecast is compared with what this home uses in
    December, not with its autumn. Standing charges included."""
    has_gas = inp.attr("has_gas", 1).astype(bool)
    gas_heating = inp.attr("gas_heating", 1).astype(bool) & has_gas
    first = np.datetime64(inp.now.replace(tzinfo=None), "D")
    seasonal = np.zeros(inp.n)
    last_year = np.zeros(inp.n)
    days_seen = np.zeros(inp.n)
    ly_seen = np.full(inp.n, 30)
    for fuel in _fuels(inp, inp.forecast_rate_gbp_per_kwh):
        rate = inp.forecast_rate_gbp_per_kwh[fuel][:, :30]
        standing = inp.forecast_standing_gbp_per_day[fuel][:, :30]
        n_days = rate.shape[1]
        heating = np.ones(inp.n, bool) if fuel == "gas" else ~gas_heating
        ahead = typical_daily_kwh(day_months(first, n_days), 1.0, heating)       # (H, n)
        hist = inp.history_kwh.get(fuel)
        if hist is not None:
            hist = np.asarray(hist, dtype=np.float64)
            seen = np.isfinite(hist)
            months = day_months(first - hist.shape[1], hist.shape[1])
            past = typical_daily_kwh(months, 1.0, heating)                        # (H, D)
            n_seen = seen.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean_kwh = np.where(seen, hist, 0).sum(1) / n_seen
                factor = ahead.mean(1) / (np.where(seen, past, 0).sum(1) / n_seen)
            per_day = np.nan_to_num(mean_kwh * factor)[:, None]
            cost = (per_day * rate + standing).sum(axis=1) * (30.0 / max(n_days, 1))
            seasonal += np.where(has_gas, cost, 0.0) if fuel == "gas" else cost
            days_seen = np.maximum(days_seen, n_seen)
        ly = inp.last_year_kwh.get(fuel)
        if ly is None:   # last year is only used when every fuel of the home has it
            ly_seen = np.where(has_gas | (fuel != "gas"), 0, ly_seen)
            continue
        ly = np.asarray(ly, dtype=np.float64)[:, :n_days]
        ok = np.isfinite(ly)
        with np.errstate(invalid="ignore"):   # days missing take the mean of the days seen
            fill = np.nanmean(np.where(ok, ly, np.nan), axis=1)
        kwh = np.where(ok, ly, np.nan_to_num(fill)[:, None])
        k = kwh.shape[1]
        cost = (kwh * rate[:, :k] + standing[:, :k]).sum(axis=1) * (30.0 / max(k, 1))
        last_year += np.where(has_gas, cost, 0.0) if fuel == "gas" else cost
        ly_seen = np.where(has_gas | (fuel != "gas"), np.minimum(ly_seen, ok.sum(axis=1)),
                           ly_seen)
    use_ly = ly_seen >= 25
    use_seasonal = ~use_ly & (days_seen >= 14)
    usual = np.where(use_ly, last_year, np.where(use_seasonal, seasonal, np.nan))
    basis = np.where(use_ly, USUAL_LAST_YEAR, np.where(use_seasonal, USUAL_SEASONAL, USUAL_NONE))
    return usual, basis


def reference(inp: AdviceInputs) -> ReferenceFigures:
    """The dated reference figures the inputs were read with (the shipped ones without)."""
    return inp.reference if inp.reference is not None else ReferenceFigures.shipped()


def typical_annual_kwh(inp: AdviceInputs, fuel: str, days: np.ndarray) -> np.ndarray:
    """Ofgem's typical annual use in force on each day, per household [kWh/year] (H, D): gas
    'gas'; electricity 'electricity', or 'economy7' for an electrically heated home."""
    ref = reference(inp)
    if fuel == "gas":
        return np.broadcast_to(ref.tdcv_kwh_per_year("gas", days)[None, :], (inp.n, len(days)))
    gas_heating = (inp.attr("gas_heating", 1).astype(bool)
                   & inp.attr("has_gas", 1).astype(bool))[:, None]
    return np.where(gas_heating, ref.tdcv_kwh_per_year("electricity", days)[None, :],
                    ref.tdcv_kwh_per_year("economy7", days)[None, :])


def typical_daily_use_kwh(inp: AdviceInputs, fuel: str, first: np.datetime64,
                          n_days: int) -> np.ndarray:
    """Typical use on each of n days from `first` [kWh] (H, D): the annual value in force that
    day spread by the month's share (gas and electric heating on the heating profile)."""
    days = np.datetime64(first, "D") + np.arange(n_days)
    months = day_months(days[0], n_days)
    gas_heating = inp.attr("gas_heating", 1).astype(bool) & inp.attr("has_gas", 1).astype(bool)
    heating = np.ones(inp.n, bool) if fuel == "gas" else ~gas_heating
    return typical_daily_kwh(months, 1.0, heating) * typical_annual_kwh(inp, fuel, days)


def typical_cost_gbp_30d(inp: AdviceInputs, s: AdvisorSettings) -> np.ndarray:
    """Ofgem typical use over the forecast's first 30 days (month by month, each day with the
    typical value in force that day) at the tariffs that apply, standing charges included
    [GBP] (H,). An electrically heated home's typical electricity is Ofgem's Economy 7 value on
    the heating profile."""
    has_gas = inp.attr("has_gas", 1).astype(bool)
    total = np.zeros(inp.n)
    first = np.datetime64(inp.now.replace(tzinfo=None), "D")
    for fuel in _fuels(inp, inp.forecast_rate_gbp_per_kwh):
        rate = inp.forecast_rate_gbp_per_kwh[fuel][:, :30]
        standing = inp.forecast_standing_gbp_per_day[fuel][:, :30]
        kwh = typical_daily_use_kwh(inp, fuel, first, rate.shape[1])
        cost = (kwh * rate + standing).sum(axis=1) * (30.0 / max(rate.shape[1], 1))
        total += np.where(has_gas, cost, 0.0) if fuel == "gas" else cost
    return total


def heating_saving_gbp(inp: AdviceInputs, s: AdvisorSettings, days: int = 30) -> np.ndarray:
    """What turning the heating down 1 C would save over the forecast's first `days` days at
    the household's own unit rates [GBP] (H,): `heating_saving_per_c` of the heating fuel's
    forecast energy, less the typical non-heating use of that fuel (the summer months' share
    of Ofgem's typical year, which does not fall with the thermostat). NaN without a forecast.
    """
    gas_heating = inp.attr("gas_heating", 1).astype(bool) & inp.attr("has_gas", 1).astype(bool)
    first = np.datetime64(inp.now.replace(tzinfo=None), "D")
    out = np.full(inp.n, np.nan)
    for fuel, mask in (("gas", gas_heating), ("electricity", ~gas_heating)):
        kwh = inp.forecast_kwh_p50.get(fuel)
        if kwh is None:
            continue
        kwh = np.nan_to_num(np.asarray(kwh, dtype=np.float64)[:, :days])
        rate = inp.forecast_rate_gbp_per_kwh[fuel][:, :days]
        # Use that is not heating: a summer day's typical use, every day.
        july = typical_daily_use_kwh(inp, fuel, np.datetime64(f"{first.astype(object).year}"
                                                             "-07-15"), 1)[:, 0]
        heat_kwh = np.clip(kwh - july[:, None], 0, None)
        saving = s.heating_saving_per_c * (heat_kwh * rate).sum(axis=1)
        out = np.where(mask, saving, out)
    return out


def typical_annual_cost_gbp(inp: AdviceInputs, s: AdvisorSettings) -> np.ndarray:
    """Ofgem typical use for a year (the values in force on the forecast's first day) at the
    first day's tariffs [GBP] (H,)."""
    has_gas = inp.attr("has_gas", 1).astype(bool)
    first = np.array([np.datetime64(inp.now.replace(tzinfo=None), "D")])
    total = np.zeros(inp.n)
    for fuel in _fuels(inp, inp.forecast_rate_gbp_per_kwh):
        rate = inp.forecast_rate_gbp_per_kwh[fuel][:, 0]
        standing = inp.forecast_standing_gbp_per_day[fuel][:, 0]
        annual = typical_annual_kwh(inp, fuel, first)[:, 0]
        cost = annual * rate + 365 * standing
        total += np.where(has_gas, cost, 0.0) if fuel == "gas" else cost
    return total


def waking_hours(inp: AdviceInputs, s: AdvisorSettings) -> np.ndarray:
    """Per step whether it falls in the waking hours (UK local time) the cold rules count (S,)."""
    import pandas as pd

    local = pd.DatetimeIndex(np.asarray(inp.step_times, dtype="datetime64[ns]")) \
        .tz_localize("UTC").tz_convert(s.timezone)
    hour = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
    start, end = s.cold_home_waking_from_h, s.cold_home_waking_to_h
    return (hour >= start) & (hour < end) if start <= end else (hour >= start) | (hour < end)


def night_hours(inp: AdviceInputs, s: AdvisorSettings) -> np.ndarray:
    """Per step whether it falls in CIBSE TM59's night (UK local time) (S,)."""
    import pandas as pd

    local = pd.DatetimeIndex(np.asarray(inp.step_times, dtype="datetime64[ns]")) \
        .tz_localize("UTC").tz_convert(s.timezone)
    hour = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
    start, end = s.heat_night_from_h, s.heat_night_to_h
    return (hour >= start) & (hour < end) if start <= end else (hour >= start) | (hour < end)


def occupied_hours(inp: AdviceInputs, s: AdvisorSettings) -> np.ndarray:
    """Buckets when people are likely at home and awake (H, S): waking hours (UK time) in which
    the household uses electricity above its own base load (the fridge and standby that run
    when nobody is in), or has no electricity at all. Without electricity readings, the waking
    hours alone."""
    waking = waking_hours(inp, s)[None, :]
    use = inp.usage_kwh.get("electricity")
    if use is None or not s.cold_home_occupancy_from_use:
        return np.broadcast_to(waking, (inp.n, len(waking[0])))
    use = np.asarray(use)
    # The base load: the 10th percentile of the buckets in which electricity flowed at all (a
    # supply that is off shows zero, not the fridge and standby).
    base = row_quantile(np.where(use >= s.no_use_kwh_per_step, use, np.nan), 0.10)
    active = np.isfinite(use) & (use > np.nan_to_num(base)[:, None] * 1.5 + s.active_use_kwh)
    # A household whose use never rises above its base load (no series, a flat series, a
    # storage heater's constant load) keeps all its waking hours: absence is not shown.
    n_wake = np.maximum((waking & np.isfinite(use)).sum(axis=1), 1)
    usable = ((active & waking).sum(axis=1) / n_wake >= 0.1)[:, None]
    occupied = np.where(usable, active, True)
    # With no electricity at all (the meter's switch off, or none used where it reports no
    # switch: a home always runs its fridge) use cannot show whether people are in: such a
    # bucket counts when the household is usually in at that time of day (active in at least
    # half of the same half-hours with a supply in the window), its own routine.
    no_supply = np.isfinite(use) & (use < s.no_use_kwh_per_step)
    switch = inp.supply_on.get("electricity")
    if switch is not None:
        switch = np.asarray(switch, dtype=np.float64)
        no_supply = np.where(np.isfinite(switch), switch < 0.5, no_supply)
    if no_supply.any():
        occupied = occupied | (no_supply & usual_routine(inp, occupied & ~no_supply,
                                                         np.isfinite(use) & ~no_supply))
    return waking & occupied


def usual_routine(inp: AdviceInputs, active: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Per bucket whether the household is usually active at that time of day (H, S): active
    in at least half of the buckets at the same time of day (UTC) that have data (`seen`)."""
    step_s = round(inp.step_h * 3600)
    t_s = np.asarray(inp.step_times, dtype="datetime64[s]").astype(np.int64)
    # Time of day in UK local time would follow the clock change; UTC slots keep this pure and
    # the two differ only on a clock-change weekend.
    slot = (t_s % 86400) // max(step_s, 1)
    usual = np.zeros(active.shape, dtype=bool)
    for k in np.unique(slot):
        cols = slot == k
        act = active[:, cols].sum(axis=1)
        n = seen[:, cols].sum(axis=1)
        usual[:, cols] = ((n > 0) & (act >= 0.5 * n))[:, None]
    return usual


def fuel_wanted(inp: AdviceInputs, s: AdvisorSettings,
                occupied: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per bucket whether gas would flow if it could (H, S), for meters that report no supply
    switch: the thermostat calls for heat (its setpoint above the room's temperature and above
    `frost_setpoint_c`, a thermostat turned down to frost protection being off; not the
    reported `heating_on`, which is the boiler firing and stops when the gas does), or people
    are in and active in a home that habitually uses gas then (a combi boiler's hot water,
    cooking: at least `gas_in_use_share` of those buckets with gas flowing while in credit)."""
    temp = inp.waking_temp_c()
    if temp is None:
        return {}
    wanted = np.zeros(temp.shape, dtype=bool)
    if inp.setpoint_c is not None:
        setpoint = np.nan_to_num(np.asarray(inp.setpoint_c, dtype=np.float64), nan=-99.0)
        with np.errstate(invalid="ignore"):
            wanted |= (setpoint > s.frost_setpoint_c) & (np.nan_to_num(setpoint - temp,
                                                                       nan=-1.0) > 0.25)
    gas = inp.usage_kwh.get("gas")
    if gas is not None:
        active = occupied_hours(inp, s) if occupied is None else occupied
        credit = inp.credit_gbp.get("gas")
        in_credit = np.ones(gas.shape, bool) if credit is None else \
            ~(np.nan_to_num(np.asarray(credit), nan=1.0) <= 0)
        seen = active & in_credit & np.isfinite(gas)
        used = seen & (np.asarray(gas) >= s.no_use_kwh_per_step)
        habit = used.sum(axis=1) >= s.gas_in_use_share * np.maximum(seen.sum(axis=1), 1)
        habit &= seen.sum(axis=1) > 0
        wanted |= active & habit[:, None]
    return {"gas": wanted}


def _supply_off(inp: AdviceInputs, s: AdvisorSettings,
                occupied: np.ndarray | None = None) -> np.ndarray:
    """Per bucket whether a prepaid supply is off (H, S)."""
    return supply_off_mask(inp.credit_gbp, inp.voltage_v, s.supply_off_credit_gbp,
                           supply_on=inp.supply_on, usage_kwh=inp.usage_kwh,
                           no_use_kwh=s.no_use_kwh_per_step,
                           demand=fuel_wanted(inp, s, occupied),
                           evidence_steps=int(np.ceil(s.supply_off_evidence_h / inp.step_h
                                                      - 1e-9)))


def assess(inp: AdviceInputs, s: AdvisorSettings) -> dict[str, RuleResult]:
    """Every rule whose inputs are present, keyed by case kind."""
    out: dict[str, RuleResult] = {}
    step_h = inp.step_h
    vulnerable = inp.attr("vulnerable", 0).astype(bool)
    prepayment = inp.attr("prepayment", 0).astype(bool)
    benefits = inp.attr("means_tested_benefits", 0).astype(bool)
    cold_h = None
    off = None
    # Who is in and awake, worked out once: the cold home, the gas supply state and rationing.
    occupied = occupied_hours(inp, s)
    if inp.temp_c is not None:
        season = inp.heating_season(s.heating_season_months)
        r = cold_home(inp.waking_temp_c(), season, vulnerable, step_h, s.cold_home_temp_c,
                      s.cold_home_hours, s.cold_home_vulnerable_hours, s.cold_severe_temp_c,
                      s.cold_severe_hours, s.cold_hhsrs_great_c, s.cold_emergency_hours,
                      s.min_coverage, occupied, s.cold_home_share,
                      s.cold_home_vulnerable_share, band_share=s.cold_hhsrs_spell_share)
        out[r.kind] = r
        cold_h = r.numbers["cold_h"]
    if inp.temp_c is not None:
        r = excess_heat(inp.waking_temp_c(), inp.bedroom_temp_c, occupied, night_hours(inp, s),
                        vulnerable, step_h, s.heat_living_c, s.heat_bedroom_c, s.heat_share,
                        s.heat_min_hours, s.heat_vulnerable_offset_c, s.heat_high_c)
        out[r.kind] = r
    if inp.humidity_pct is not None and inp.temp_c is not None:
        coldest = inp.min_temp_c if inp.min_temp_c is not None else inp.temp_c
        r = damp_mould(inp.humidity_pct, inp.temp_c, coldest, vulnerable, step_h, s.damp_rh_pct,
                       s.damp_rh_hours, s.damp_window_h, s.damp_very_high_rh_pct,
                       s.damp_very_high_hours, s.damp_dew_margin_c, s.damp_condensation_hours,
                       s.min_coverage, inp.step_times,
                       s.damp_block_share)
        out[r.kind] = r
    if inp.credit_gbp and inp.forecast_kwh_p90:
        burn = {f: credit_burn_p90_gbp(inp, f) for f in inp.credit_gbp
                if f in inp.forecast_kwh_p50 and f in inp.forecast_rate_gbp_per_kwh}
        r = credit_runout(inp.credit_gbp, inp.forecast_kwh_p90, inp.forecast_rate_gbp_per_kwh,
                          inp.forecast_standing_gbp_per_day, prepayment, s.credit_days_low,
                          s.credit_days_medium, s.credit_days_high, burn_gbp_per_day=burn,
                          ran_out_days=ran_out_days(inp), pattern_min_days=s.credit_pattern_min_days,
                          pattern_days=s.credit_pattern_days)
        out[r.kind] = r
    if (inp.credit_gbp or inp.voltage_v is not None or inp.supply_on) \
            and "electricity" in inp.usage_kwh and inp.temp_c is not None:
        off = _supply_off(inp, s, occupied)
        r = self_disconnection(off, inp.usage_kwh["electricity"], inp.temp_c, prepayment,
                               vulnerable, step_h, s.cold_home_temp_c, s.supply_off_hours,
                               s.no_use_kwh_per_step, s.no_use_hours, power_w=inp.power_w,
                               brief_off_hours=s.supply_off_brief_hours,
                               in_season=bool(inp.heating_season(s.heating_season_months)[-1]))
        out[r.kind] = r
    if inp.history_kwh and cold_h is not None:
        r = _rationing(inp, s, cold_h, occupied)
        if r is not None:
            out[r.kind] = r
    if inp.forecast_kwh_p50 and inp.forecast_rate_gbp_per_kwh:
        p50 = forecast_cost_gbp(inp, "p50", 30)
        p90 = forecast_p90_cost_gbp(inp, 30)
        usual, basis = usual_cost_gbp_30d(inp)
        r = bill_shock(p50, p90, usual, typical_cost_gbp_30d(inp, s),
                       benefits, s.bill_own_ratio, s.bill_typical_ratio,
                       s.bill_benefits_own_ratio, s.bill_benefits_typical_ratio,
                       s.bill_min_increase_gbp, heating_saving_gbp(inp, s), basis)
        out[r.kind] = r
        # A year's cost: the 30-day forecast scaled by the typical year over the typical 30 days
        # (a January forecast times 365/30 would overstate the year by half).
        typical_30 = typical_cost_gbp_30d(inp, s)
        annual = p50 * typical_annual_cost_gbp(inp, s) / np.where(typical_30 > 0, typical_30,
                                                                   np.nan)
    else:
        annual = np.full(inp.n, np.nan)
    if inp.epc_band is not None:
        r = fuel_poverty(inp.epc_band, benefits, annual, s.fuel_poverty_epc_bands,
                         s.fuel_poverty_burden, s.fuel_poverty_proxy_income_gbp)
        out[r.kind] = r
    out["device_fault"] = _faults(inp, s, off)
    return out


def _rationing(inp: AdviceInputs, s: AdvisorSettings, cold_h: np.ndarray,
               occupied: np.ndarray) -> RuleResult | None:
    gas_heating = inp.attr("gas_heating", 1).astype(bool) & inp.attr("has_gas", 1).astype(bool)
    if "gas" not in inp.history_kwh:
        gas_heating = np.zeros(inp.n, dtype=bool)
    elec = inp.history_kwh.get("electricity")
    gas = inp.history_kwh.get("gas")
    base = elec if elec is not None else gas
    if base is None:
        return None
    days = min(RATIONING_DAYS, base.shape[1])
    heating = np.where(gas_heating[:, None],
                       gas[:, -days:] if gas is not None else np.nan,
                       elec[:, -days:] if elec is not None else np.nan)
    end = np.datetime64(inp.now.replace(tzinfo=None), "D")
    past = np.arange(end - days, end, dtype="datetime64[D]")
    day_months = past.astype("datetime64[M]").astype(np.int64) % 12 + 1
    ref = reference(inp)
    expected = expected_heating_kwh(day_months, gas_heating, ref.tdcv_kwh_per_year("gas", past),
                                    ref.tdcv_kwh_per_year("economy7", past), inp.floor_area_m2)
    low_sp = None
    if inp.setpoint_c is not None and inp.temp_c is not None:
        season = inp.heating_season(s.heating_season_months)
        counted = occupied & season[None, :]
        low_sp = low_setpoint_share(inp.setpoint_c, inp.heating_on, inp.temp_c, counted,
                                    s.cold_home_temp_c, s.rationing_setpoint_c)
    return self_rationing(heating, expected, cold_h, s.rationing_ratio, s.rationing_cold_hours,
                          low_sp, s.rationing_setpoint_share)


def _faults(inp: AdviceInputs, s: AdvisorSettings, off: np.ndarray | None = None) -> RuleResult:
    n = inp.n
    stuck = None
    if inp.device_age_s is not None:
        silent, worst = silent_devices(inp.device_age_s, inp.device_interval_s,
                                       s.fault_silent_intervals, s.fault_silent_grace_s,
                                       inp.device_max_gap_s)
        if inp.device_bulk_interval_s is not None:
            # Bulk history: its gaps against its own step (or the registry's interval). Its
            # timestamps sit exactly on that step, so the grace for delivery delays is not added.
            interval = np.where(np.isfinite(inp.device_bulk_interval_s),
                                inp.device_bulk_interval_s, inp.device_interval_s)
            b_silent, b_worst = silent_devices(inp.device_bulk_age_s, interval,
                                               s.fault_silent_intervals, 0.0,
                                               inp.device_bulk_max_gap_s)
            silent, worst = silent | b_silent, np.maximum(worst, b_worst)
        stuck = np.zeros(silent.shape, dtype=bool)
        if inp.device_stuck_h is not None:
            stuck |= np.asarray(inp.device_stuck_h) >= s.fault_stuck_hours
        if inp.device_repeats is not None:
            stuck |= stuck_readings(inp.device_repeats, inp.device_repeat_s,
                                    inp.device_still_kwh, s.fault_frozen_repeats,
                                    s.fault_frozen_min_s, s.fault_still_register_kwh)
    else:
        silent, worst = np.zeros((n, 0), dtype=bool), np.zeros(n)
    implausible = None
    if inp.min_temp_c is not None and inp.max_temp_c is not None:
        implausible = implausible_readings(inp.min_temp_c, inp.max_temp_c,
                                           s.fault_temp_low_c, s.fault_temp_high_c)
    drop = np.zeros(n)
    for counter in inp.counter_kwh.values():
        drop = np.maximum(drop, counter_backwards(counter, s.fault_counter_tolerance_kwh))
    if inp.gas_volume_m3 is not None:
        # The volume register, its fall reported in kWh (DESIGN.md's conversion).
        kwh_per_m3 = 1.02264 * 39.5 / 3.6
        drop = np.maximum(drop, kwh_per_m3 * counter_backwards(
            inp.gas_volume_m3, s.fault_counter_tolerance_kwh / kwh_per_m3))
    spike = np.zeros(n)
    for fuel, use in inp.usage_kwh.items():
        # The usual range: p95 of the recent window's buckets (robust to a few spikes).
        p95 = _p95(use)
        floor = (s.fault_spike_min_gas_kwh if fuel == "gas"
                 else s.fault_spike_min_electricity_kwh)
        spike = np.maximum(spike, usage_spikes(use, p95, s.fault_spike_ratio, floor))
    if inp.power_w is not None:
        # Power readings far above the household's own range (a glitched meter).
        power = np.asarray(inp.power_w, dtype=np.float64)
        bar_w = np.maximum(s.fault_spike_ratio * np.nan_to_num(_p95(power)),
                           s.fault_spike_min_electricity_kwh * 1000.0 / inp.step_h)
        over = np.where(np.isfinite(power) & (power > bar_w[:, None]), power, 0.0).max(axis=1)
        # Reported as the energy that power would draw in one bucket [kWh].
        spike = np.maximum(spike, over * inp.step_h / 1000.0)
    fall = np.zeros(n)
    if inp.heating_on is not None and inp.temp_c is not None:
        heating_on = inp.heating_on
        if inp.credit_gbp or inp.supply_on or inp.voltage_v is not None:
            # With the supply off the boiler cannot heat: that is not a device fault.
            off = _supply_off(inp, s) if off is None else off
            heating_on = np.where(off, 0, heating_on)
        fall = heating_not_heating(heating_on, inp.temp_c, inp.step_h,
                                   s.fault_cooling_hours, s.fault_cooling_drop_c,
                                   inp.setpoint_c, s.fault_cooling_setback_c)
    return device_faults(silent, worst, drop, spike, fall, inp.device_ids, s.fault_cooling_hours,
                         stuck, implausible)


def _p95(x: np.ndarray) -> np.ndarray:
    return row_quantile(x, 0.95)
