"""Ground truth for the money risks: bill shock and prepayment credit running out.

Registered in the truth label registry (meters_sim/truth.py), computed from the TRUE
simulated days (`acc.daily()`: energy from the true registers, closing balances):

- The advice time splits the run: `acc.extra["advice_at_ns"]` when set, else 30 days before
  the run's end (the run's last 30 days are "the next 30 days"). History: up to 90 days
  before it; the future: the 30 days from it.
- `bill_shock`: the home's own next-30-day cost (its simulated consumption at its tariff,
  standing charges always included; gas only for homes with gas) over its own usual 30-day
  cost (the history's average daily energy per fuel, from at least 14 days, adjusted for the
  time of year by the typical month-by-month profile, x 30 at its tariff) by the advisor's own
  bar and by at least its minimum rise, or over the cost of Ofgem typical use for the same
  days (the value in force each day, spread by month) by the typical bar. The bars are the
  advisor's defaults (hearth/settings: AdvisorSettings), read here, not copied; homes on
  means-tested benefits (`acc.extra["means_tested_benefits"]`, (homes,) bool, when given)
  get the lower bars, as in the rule. Without 30 future days or 14 days of history: False.
- `credit_runout`: a prepayment home whose balance (either fuel) actually reaches zero, or
  whose supply goes off, within `credit_days_low` (7) days of the advice time (the
  household's own top-ups included: one that tops up in time does not run out).
Details in every home's record: `next_30d_cost_gbp`, `usual_30d_cost_gbp`,
`typical_30d_cost_gbp`, `credit_days_left` (NaN: never ran out in the run).
meters_sim imports only the shared `hearth` package (DESIGN.md's rooms), never the advisor.
"""

from __future__ import annotations

import numpy as np

from hearth.profiles import day_months, typical_daily_kwh
from hearth.reference import ReferenceFigures
from hearth.settings.rooms import AdvisorSettings
from meters_sim.truth import truth_detail, truth_label

NS_PER_DAY = 86_400 * 10**9
FUTURE_DAYS = 30
HISTORY_DAYS = 90
MIN_HISTORY_DAYS = 14


def _split(acc) -> int:
    """The advice time as a UTC day number."""
    at = acc.extra.get("advice_at_ns")
    if at is None:
        at = (acc.end_ns or 0) - FUTURE_DAYS * NS_PER_DAY
    return int(at) // NS_PER_DAY


def _costs(acc) -> dict[str, np.ndarray]:
    """Per home: next 30 days' cost, usual 30-day cost, typical cost [GBP] (NaN if unknown)."""
    cached = acc.extra.get("_money_costs")
    if cached is not None:
        return cached
    pf = acc.pf
    d = acc.daily()
    day = d["day"]
    split = _split(acc)
    full = d["steps"] >= max(int(np.median(d["steps"])) if len(day) else 1, 1)
    future = (day >= split) & (day < split + FUTURE_DAYS) & full
    past = (day < split) & (day >= split - HISTORY_DAYS) & full
    n = pf.n
    e_rate, e_stand = pf.rates("electricity")
    g_rate, g_stand = pf.rates("gas") if pf.has_gas.any() else (np.zeros(n), np.zeros(n))
    gas = pf.has_gas.astype(float)

    def day_cost(sel):
        return ((d["electricity_kwh"][sel] * e_rate + e_stand)
                + gas * (d["gas_kwh"][sel] * g_rate + g_stand))   # (days, homes)

    nan = np.full(n, np.nan)
    nxt = day_cost(future).sum(axis=0) if future.sum() == FUTURE_DAYS else nan
    n_past = int(past.sum())
    days = (np.datetime64(int(split), "D") + np.arange(FUTURE_DAYS)).astype("datetime64[D]")
    months = day_months(days[0], FUTURE_DAYS)
    gas_heating = pf.has_gas & ~pf.electric_heating
    # The home's usual cost for these 30 days: its history's average daily energy per fuel,
    # adjusted for the time of year by the typical month-by-month profile (the advisor's own
    # definition, advisor/engine.py usual_cost_gbp_30d), at its tariff, standing charges
    # included. A December month is compared with the home's December, not its autumn.
    if n_past >= MIN_HISTORY_DAYS:
        past_days = day[past].astype("datetime64[D]")
        past_months = past_days.astype("datetime64[M]").astype(np.int64) % 12 + 1

        def season(heating):
            ahead = typical_daily_kwh(months, 1.0, heating).mean(axis=1)
            return ahead / typical_daily_kwh(past_months, 1.0, heating).mean(axis=1)

        e_kwh = d["electricity_kwh"][past].mean(axis=0) * season(~gas_heating)
        g_kwh = d["gas_kwh"][past].mean(axis=0) * season(np.ones(n, bool))
        usual = 30 * ((e_kwh * e_rate + e_stand) + gas * (g_kwh * g_rate + g_stand))
    else:
        usual = nan
    # Ofgem typical use on the same 30 days, the value in force each day.
    ref = ReferenceFigures.shipped()
    elec_y = np.where(gas_heating[:, None], ref.tdcv_kwh_per_year("electricity", days)[None, :],
                      ref.tdcv_kwh_per_year("economy7", days)[None, :])
    e_kwh = typical_daily_kwh(months, 1.0, ~gas_heating) * elec_y
    g_kwh = typical_daily_kwh(months, 1.0, True) * ref.tdcv_kwh_per_year("gas", days)[None, :]
    typical = ((e_kwh * e_rate[:, None] + e_stand[:, None]).sum(axis=1)
               + gas * (g_kwh * g_rate[:, None] + g_stand[:, None]).sum(axis=1))
    out = {"next": nxt, "usual": usual, "typical": typical}
    acc.extra["_money_costs"] = out
    return out


@truth_label("bill_shock")
def bill_shock(acc) -> np.ndarray:
    s = AdvisorSettings()
    c = _costs(acc)
    benefits = np.asarray(acc.extra.get("means_tested_benefits", np.zeros(acc.pf.n, bool)),
                          dtype=bool)
    r_own = np.where(benefits, s.bill_benefits_own_ratio, s.bill_own_ratio)
    r_typ = np.where(benefits, s.bill_benefits_typical_ratio, s.bill_typical_ratio)
    nxt, usual, typical = c["next"], c["usual"], c["typical"]
    with np.errstate(invalid="ignore"):
        own = (usual > 0) & (nxt >= r_own * usual) & (nxt - usual >= s.bill_min_increase_gbp)
        typ = (typical > 0) & (nxt >= r_typ * typical)
    return np.isfinite(nxt) & (np.nan_to_num(own) | np.nan_to_num(typ)).astype(bool)


def credit_days_left(acc) -> np.ndarray:
    """Days from the advice time until a prepayment home's credit ran out (balance at or
    below zero at a day's end, or its supply off that day), counting the day it happened as
    1; NaN when it did not run out in the run (or not prepayment)."""
    d = acc.daily()
    day = d["day"]
    split = _split(acc)
    after = day >= split
    bal = np.fmin(d["credit_end_gbp"], d["gas_credit_end_gbp"])   # NaN for credit meters
    out_day = (np.nan_to_num(bal, nan=np.inf) <= 0) | (d["supply_off_h"] > 0)
    out_day &= after[:, None] & acc.pf.prepayment[None, :]
    first = np.where(out_day.any(axis=0), out_day.argmax(axis=0), -1)
    days = np.where(first >= 0, day[np.clip(first, 0, None)] - split + 1, np.nan) \
        if len(day) else np.full(acc.pf.n, np.nan)
    return days.astype(float)


@truth_label("credit_runout")
def credit_runout(acc) -> np.ndarray:
    left = credit_days_left(acc)
    return acc.pf.prepayment & np.isfinite(left) & (left <= AdvisorSettings().credit_days_low)


@truth_detail("next_30d_cost_gbp")
def _next(acc) -> np.ndarray:
    return _costs(acc)["next"]


@truth_detail("usual_30d_cost_gbp")
def _usual(acc) -> np.ndarray:
    return _costs(acc)["usual"]


@truth_detail("typical_30d_cost_gbp")
def _typical(acc) -> np.ndarray:
    return _costs(acc)["typical"]


@truth_detail("credit_days_left")
def _days_left(acc) -> np.ndarray:
    return credit_days_left(acc)
