"""Ground truth: per-household labels from the TRUE simulated state (before sensor noise,
faults and gaps), for scoring the advisor. Feed it the traces of a run, in order.

Definitions (docs/simulator.md, "Ground truth"); thresholds are `TruthRules` fields:
- heating season: 1 October to 30 April (UK convention for heating-season statistics);
- cold_home: in the heating season, the home's air was below 18 C (UKHSA) for at least half
  of the hours someone was in and awake, over at least 24 such hours;
- damp_mould: in at least 20 % of the 12-hour blocks (00-12, 12-24 UTC) the air's RH was above
  70 % for more than 2 h, or above 90 % for more than 1 h (DESIGN.md criteria);
- credit_out: a prepayment supply (electricity or gas) reached its disconnection point and was
  off at some time;
- self_disconnection: a prepayment supply off for 3 h or more in total in the period;
- self_rationing: in the heating season, once the household has switched its heating on for
  the season, for at least half of the awake-at-home hours the thermostat setpoint in force
  was at most 17 C (or heating off) while the air was below 18 C;
- faulty devices: every device with a fault episode in the period, with the kinds and the
  episodes (kind, start and end [ns], and whether it changed any reading the device sent:
  `changed_readings`, when the injector is given).
Each home's record also carries the numbers behind its labels, and `condensation_h`: hours the
air's dew point was within 2 C of the coldest surface (DESIGN.md's condensation criterion).

Label registry (how other truth modules add labels, e.g. meters_sim/truth_money.py):

    from meters_sim.truth import truth_label, truth_detail, truth_updater

    @truth_label("bill_shock")                 # LABELS["bill_shock"] = fn
    def bill_shock(acc: TruthAccumulator) -> np.ndarray:   # (homes,) bool
        daily = acc.daily()                    # per-UTC-day arrays (days, homes), see below
        ...

    @truth_detail("next_30d_cost_gbp")         # DETAILS[...]: a number per home in the record
    def next_cost(acc) -> np.ndarray: ...      # (homes,) float

    @truth_updater                             # UPDATERS: called with (acc, trace) per Trace,
    def keep_more(acc, tr): acc.extra[...]     # for state a label needs beyond `daily()`

- `LABELS: dict[str, Callable[[TruthAccumulator], np.ndarray]]`: every ground-truth risk, by
  name; `labels()` writes each as a bool in every home's record, and `hearth sim summary`
  reports the share of homes for each. The built-in labels are registered below.
- `LABEL_MODULES`: modules imported (when present) by `load_label_modules()` so their
  decorators run; `TruthAccumulator` calls it, so a module listed there needs no other wiring.
- `acc.daily()`: {"day": (days,) UTC day numbers since 1970, "electricity_kwh", "gas_kwh"
  (energy imported that day, from the true registers), "credit_end_gbp", "gas_credit_end_gbp"
  (prepayment balances at the day's last step; NaN for credit meters), "supply_off_h" (hours
  either prepayment supply was off)}; also `acc.pf` (the Portfolio, with tariffs via
  `acc.pf.rates(fuel)`), `acc.rules`, `acc.start_ns`/`acc.end_ns`, `acc.extra` (a dict).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from meters_sim import params as pm
from meters_sim.faults import FAULT_KINDS, FaultSchedule
from meters_sim.homes import Portfolio
from meters_sim.model import Trace
from meters_sim.physics import dew_point_c
from meters_sim.rooms import bedroom_temp_c

NS_PER_HOUR = 3_600_000_000_000
NS_PER_DAY = 24 * NS_PER_HOUR
BLOCK_NS = 12 * NS_PER_HOUR

LabelFn = Callable[["TruthAccumulator"], np.ndarray]
LABELS: dict[str, LabelFn] = {}
DETAILS: dict[str, LabelFn] = {}
UPDATERS: list[Callable[[TruthAccumulator, Trace], None]] = []
LABEL_MODULES: tuple[str, ...] = ("meters_sim.truth_money",)


def truth_label(name: str) -> Callable[[LabelFn], LabelFn]:
    """Register `fn(acc) -> (homes,) bool` as the ground-truth label `name`."""
    def deco(fn: LabelFn) -> LabelFn:
        LABELS[name] = fn
        return fn
    return deco


def truth_detail(name: str) -> Callable[[LabelFn], LabelFn]:
    """Register `fn(acc) -> (homes,) float`: a number shown in each home's truth record."""
    def deco(fn: LabelFn) -> LabelFn:
        DETAILS[name] = fn
        return fn
    return deco


def truth_updater(fn: Callable[[TruthAccumulator, Trace], None]):
    """Register `fn(acc, trace)`, called on every Trace after the built-in sums."""
    if fn not in UPDATERS:
        UPDATERS.append(fn)
    return fn


def load_label_modules() -> dict[str, LabelFn]:
    """Import the LABEL_MODULES that exist in this build; returns LABELS."""
    for name in LABEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:      # the module exists but something it imports does not
                raise
    return LABELS


@dataclass(frozen=True)
class TruthRules:
    cold_temp_c: float = 18.0
    cold_share: float = 0.5
    min_awake_hours: float = 24.0
    damp_rh_pct: float = 70.0
    damp_hours_in_12: float = 2.0
    severe_rh_pct: float = 90.0
    severe_hours: float = 1.0
    damp_block_share: float = 0.2
    condensation_margin_c: float = 2.0
    disconnection_hours: float = 3.0
    ration_setpoint_c: float = 17.0
    ration_share: float = 0.5
    heating_season_months: tuple[int, ...] = (10, 11, 12, 1, 2, 3, 4)
    # Excess heat (criteria adapted from CIBSE TM59, assessed May-September).
    heat_months: tuple[int, ...] = (5, 6, 7, 8, 9)
    heat_living_c: float = 28.0
    heat_bedroom_c: float = 26.0
    heat_share: float = 0.01
    night_start_h: float = 22.0
    night_end_h: float = 7.0
    min_heat_hours: float = 24.0
    # Excess cold (HHSRS): risk rises below 19 C, serious below 16 C, great below 10 C.
    hhsrs_bands_c: tuple[float, float, float] = (19.0, 16.0, 10.0)
    hhsrs_spell_share: float = 0.2
    excess_cold_min_band: int = 2


class TruthAccumulator:
    """Streams over Traces and keeps per-home sums; `labels()` gives the verdicts."""

    def __init__(self, portfolio: Portfolio, rules: TruthRules | None = None,
                 step_s: float | None = None):
        """`step_s`: the simulation step [s]; needed when traces may be a single step long."""
        self.pf = portfolio
        self.step_s = step_s
        self.rules = rules or TruthRules()
        H = portfolio.n
        self.awake_h = np.zeros(H)
        self.cold_awake_h = np.zeros(H)
        self.ration_awake_h = np.zeros(H)
        self.enabled_awake_h = np.zeros(H)
        self.off_h = np.zeros(H)
        self.gas_off_h = np.zeros(H)
        self.min_credit_gbp = np.full(H, np.inf)
        self.mean_temp_sum = np.zeros(H)
        self.condensation_h = np.zeros(H)
        self.summer_home_h = np.zeros(H)       # May-Sep hours someone was in and awake
        self.hot_living_h = np.zeros(H)        # ... of them with the air above 28 C
        self.summer_night_h = np.zeros(H)      # May-Sep night hours (22:00-07:00 local) in
        self.hot_night_h = np.zeros(H)         # ... of them with the bedroom above 26 C
        self.below_band_h = np.zeros((3, H))   # awake-at-home heating-season hours below 19/16/10
        self.steps = 0
        self._blocks: dict[int, np.ndarray] = {}   # block -> (3, H): h>70, h>90, hours
        self.start_ns: int | None = None
        self.end_ns: int | None = None
        self.extra: dict = {}
        self._days: dict[int, np.ndarray] = {}   # day -> (6, H) see _DAILY
        self._last_kwh: np.ndarray | None = None
        self._last_m3: np.ndarray | None = None
        self._last_time_ns: int | None = None
        load_label_modules()

    def update(self, tr: Trace) -> None:
        r = self.rules
        if tr.steps == 0:
            return
        if self.step_s:
            step_h = self.step_s / 3600.0
        elif tr.steps > 1:
            step_h = (tr.time_ns[1] - tr.time_ns[0]) / NS_PER_HOUR
        elif self.end_ns is not None:
            step_h = (tr.time_ns[0] - self.end_ns) / NS_PER_HOUR
        else:
            raise ValueError("a one-step trace needs TruthAccumulator(step_s=...)")
        self.start_ns = self.start_ns if self.start_ns is not None else int(tr.time_ns[0])
        self.end_ns = int(tr.time_ns[-1])
        months = tr.time_ns.astype("datetime64[ns]").astype("datetime64[M]").astype(int) % 12 + 1
        season = np.isin(months, r.heating_season_months)[:, None]
        awake = (tr.awake_home > 0.5) & season
        cold = tr.t_air_c < r.cold_temp_c
        self.awake_h += awake.sum(0) * step_h
        self.cold_awake_h += (awake & cold).sum(0) * step_h
        # Rationing: heating held low while the household has its heating on for the season
        # (the season switch itself is not rationing; a cold home still counts as cold).
        enabled = awake & (tr.season_on > 0.5)
        rationed = enabled & cold & (tr.setpoint_c <= r.ration_setpoint_c)
        self.enabled_awake_h += enabled.sum(0) * step_h
        self.ration_awake_h += rationed.sum(0) * step_h
        pp = self.pf.prepayment
        self.off_h += ((tr.supply_on < 0.5) & pp).sum(0) * step_h
        self.gas_off_h += ((tr.gas_supply_on < 0.5) & pp & self.pf.has_gas).sum(0) * step_h
        credit = np.fmin(tr.credit_gbp, tr.gas_credit_gbp)
        self.min_credit_gbp = np.fmin(self.min_credit_gbp, np.nanmin(
            np.where(np.isnan(credit), np.inf, credit), axis=0))
        self.mean_temp_sum += tr.t_air_c.sum(0)
        # Condensation risk: the air's dew point within 2 C of the coldest surface (DESIGN.md).
        dew = dew_point_c(tr.t_air_c.astype(float), tr.rh_pct.astype(float))
        self.condensation_h += (dew >= tr.t_surface_c - r.condensation_margin_c).sum(0) * step_h
        self._update_heat_and_cold(tr, months, awake, step_h)
        self.steps += tr.steps
        self._update_daily(tr, step_h)
        for fn in UPDATERS:
            fn(self, tr)
        block = (tr.time_ns - step_h * NS_PER_HOUR) // BLOCK_NS
        for b in np.unique(block):
            sel = block == b
            acc = self._blocks.setdefault(int(b), np.zeros((3, self.pf.n)))
            acc[0] += (tr.rh_pct[sel] > r.damp_rh_pct).sum(0) * step_h
            acc[1] += (tr.rh_pct[sel] > r.severe_rh_pct).sum(0) * step_h
            acc[2] += sel.sum() * step_h

    def _update_heat_and_cold(self, tr: Trace, months: np.ndarray, awake_season: np.ndarray,
                              step_h: float) -> None:
        r = self.rules
        for i, limit in enumerate(r.hhsrs_bands_c):
            self.below_band_h[i] += (awake_season & (tr.t_air_c < limit)).sum(0) * step_h
        summer = np.isin(months, r.heat_months)
        if not summer.any():
            return
        from meters_sim.behaviour import local_clock

        hour = local_clock(tr.time_ns - int(step_h * NS_PER_HOUR))[0]   # the step's start
        night = ((hour >= r.night_start_h) | (hour < r.night_end_h)) & summer
        in_awake = (tr.awake_home > 0.5) & summer[:, None]
        at_home = tr.home > 0.5
        self.summer_home_h += in_awake.sum(0) * step_h
        self.hot_living_h += (in_awake & (tr.t_air_c > r.heat_living_c)).sum(0) * step_h
        in_at_night = at_home & night[:, None]
        self.summer_night_h += in_at_night.sum(0) * step_h
        # TM59's night criterion is the bedroom's temperature, not the living room's.
        bedroom_c = bedroom_temp_c(tr.t_air_c, tr.season_on > 0.5)
        self.hot_night_h += (in_at_night & (bedroom_c > r.heat_bedroom_c)).sum(0) * step_h

    def hhsrs_band(self) -> np.ndarray:
        """0 none, 1 risk rises (< 19 C), 2 serious (< 16 C), 3 great (< 10 C): the coldest band
        the air was in for at least `hhsrs_spell_share` of the heating season's awake-at-home
        hours (0 with fewer than `min_awake_hours` such hours)."""
        r = self.rules
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(self.awake_h > 0, self.below_band_h / self.awake_h, 0.0)
        band = np.zeros(self.pf.n, dtype=int)
        for i in range(3):
            band = np.where(share[i] >= r.hhsrs_spell_share, i + 1, band)
        return np.where(self.awake_h >= r.min_awake_hours, band, 0)

    def overheating_shares(self) -> tuple[np.ndarray, np.ndarray]:
        """(share of May-Sep awake-at-home hours above 28 C, share of May-Sep night hours at
        home above 26 C); NaN with fewer than `min_heat_hours` such hours."""
        r = self.rules
        with np.errstate(invalid="ignore", divide="ignore"):
            living = np.where(self.summer_home_h >= r.min_heat_hours,
                              self.hot_living_h / self.summer_home_h, np.nan)
            night = np.where(self.summer_night_h >= r.min_heat_hours,
                             self.hot_night_h / self.summer_night_h, np.nan)
        return living, night

    _DAILY = ("electricity_kwh", "gas_kwh", "credit_end_gbp", "gas_credit_end_gbp",
              "supply_off_h", "steps")

    def _update_daily(self, tr: Trace, step_h: float) -> None:
        """Per-UTC-day energy (from the true registers), closing balances and off hours."""
        kwh, m3 = tr.energy_kwh.astype(float), tr.volume_m3.astype(float)
        # A trace that does not follow on from the last (another run) starts afresh.
        follows = (self._last_time_ns is not None
                   and int(tr.time_ns[0]) - self._last_time_ns == round(step_h * NS_PER_HOUR))
        prev_kwh = (self._last_kwh if follows
                    else kwh[0] - tr.power_w[0] * step_h / 1000.0)
        prev_m3 = (self._last_m3 if follows
                   else m3[0] - tr.gas_flow_m3_per_h[0] * step_h)
        self._last_time_ns = int(tr.time_ns[-1])
        d_kwh = np.diff(kwh, axis=0, prepend=prev_kwh[None, :])
        d_m3 = np.diff(m3, axis=0, prepend=prev_m3[None, :])
        self._last_kwh, self._last_m3 = kwh[-1], m3[-1]
        # A step ending at midnight belongs to the day it closes.
        day = (tr.time_ns - 1) // NS_PER_DAY
        pp = self.pf.prepayment
        off = (((tr.supply_on < 0.5) & pp)
               | ((tr.gas_supply_on < 0.5) & pp & self.pf.has_gas))
        for d in np.unique(day):
            sel = day == d
            acc = self._days.get(int(d))
            if acc is None:
                acc = self._days[int(d)] = np.zeros((len(self._DAILY), self.pf.n))
            acc[0] += d_kwh[sel].sum(0)
            acc[1] += d_m3[sel].sum(0) * pm.KWH_PER_M3
            last = np.flatnonzero(sel)[-1]
            acc[2] = tr.credit_gbp[last]
            acc[3] = tr.gas_credit_gbp[last]
            acc[4] += off[sel].sum(0) * step_h
            acc[5] += sel.sum()

    def daily(self) -> dict[str, np.ndarray]:
        """Per-UTC-day series (days, homes) and "day" (days,): see the module docstring.
        "steps" says how many steps of each day were seen (the first and last may be partial)."""
        days = sorted(self._days)
        stack = (np.stack([self._days[d] for d in days], axis=1) if days
                 else np.zeros((len(self._DAILY), 0, self.pf.n)))
        out = {name: stack[i] for i, name in enumerate(self._DAILY)}
        out["steps"] = out["steps"][:, 0].astype(int) if days else np.zeros(0, int)
        out["day"] = np.array(days, dtype="int64")
        return out

    def damp_blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """(flagged 12-hour blocks, complete blocks) per home."""
        r = self.rules
        flagged = np.zeros(self.pf.n)
        total = 0
        for acc in self._blocks.values():
            if acc[2].max() < 11.99:   # partial block at the edges of the run
                continue
            total += 1
            flagged += (acc[0] > r.damp_hours_in_12) | (acc[1] > r.severe_hours)
        return flagged, np.full(self.pf.n, total)

    def shares(self) -> dict[str, np.ndarray]:
        """The per-home numbers the built-in labels compare with their rules."""
        with np.errstate(invalid="ignore", divide="ignore"):
            cold = np.where(self.awake_h > 0, self.cold_awake_h / self.awake_h, 0.0)
            ration = np.where(self.enabled_awake_h > 0,
                              self.ration_awake_h / self.enabled_awake_h, 0.0)
        flagged, total = self.damp_blocks()
        return {"cold_awake_share": cold, "ration_share": ration,
                "damp_block_share": np.where(total > 0, flagged / np.maximum(total, 1), 0.0),
                "off_h": np.maximum(self.off_h, self.gas_off_h)}

    def verdicts(self) -> dict[str, np.ndarray]:
        """{label: (homes,) bool} for every registered label."""
        return {name: np.asarray(fn(self), dtype=bool) for name, fn in LABELS.items()}

    def labels(self, schedule: FaultSchedule | None = None,
               changed: set[tuple[int, int]] | None = None) -> dict:
        """{'households': [one dict per home], 'devices': [faulty devices], 'period': ...}.

        `changed`: the (device index, start ns) of the episodes that altered what a device sent
        (`FaultInjector.changed`); each episode then says so in `changed_readings`."""
        r = self.rules
        pf = self.pf
        sh = self.shares()
        verdicts = self.verdicts()
        details = {name: np.asarray(fn(self), dtype=float) for name, fn in DETAILS.items()}
        homes = []
        for i in range(pf.n):
            home = {"household_id": str(pf.household_id[i])}
            home.update({name: bool(v[i]) for name, v in verdicts.items()})
            home.update({
                "cold_awake_share": round(float(sh["cold_awake_share"][i]), 3),
                "damp_block_share": round(float(sh["damp_block_share"][i]), 3),
                "supply_off_h": round(float(self.off_h[i]), 2),
                "gas_supply_off_h": round(float(self.gas_off_h[i]), 2),
                "mean_indoor_temp_c": round(float(self.mean_temp_sum[i] / max(self.steps, 1)), 2),
                "condensation_h": round(float(self.condensation_h[i]), 2),
                "traits": sorted(k for k, v in pf.traits.items() if v[i]),
            })
            # A number a home does not have (NaN) is null: valid JSON, and equal to itself.
            home.update({name: round(float(v[i]), 3) if np.isfinite(v[i]) else None
                         for name, v in details.items()})
            homes.append(home)
        devices = []
        if schedule is not None and self.start_ns is not None:
            eps = schedule.episodes(self.start_ns, self.end_ns)
            kinds: dict[int, set[str]] = {}
            spells: dict[int, list[dict]] = {}
            for e in np.sort(eps, order="start_ns"):
                kinds.setdefault(int(e["device"]), set()).add(FAULT_KINDS[e["kind"]])
                spell = {"kind": FAULT_KINDS[e["kind"]], "start_ns": int(e["start_ns"]),
                         "end_ns": int(e["end_ns"])}
                if changed is not None:
                    spell["changed_readings"] = (int(e["device"]), int(e["start_ns"])) in changed
                spells.setdefault(int(e["device"]), []).append(spell)
            devices = [{"device_id": str(schedule.device_ids[d]), "fault_kinds": sorted(k),
                        "episodes": spells[d]} for d, k in sorted(kinds.items())]
        return {"period": {"start_ns": self.start_ns, "end_ns": self.end_ns},
                "rules": r.__dict__, "households": homes, "devices": devices}


# --- Built-in labels (definitions in the module docstring) --------------------------------

@truth_label("cold_home")
def _cold_home(acc: TruthAccumulator) -> np.ndarray:
    r = acc.rules
    return (acc.awake_h >= r.min_awake_hours) & (acc.shares()["cold_awake_share"] >= r.cold_share)


@truth_label("damp_mould")
def _damp_mould(acc: TruthAccumulator) -> np.ndarray:
    return acc.shares()["damp_block_share"] >= acc.rules.damp_block_share


@truth_label("credit_out")
def _credit_out(acc: TruthAccumulator) -> np.ndarray:
    return acc.pf.prepayment & (acc.shares()["off_h"] > 0)


@truth_label("self_disconnection")
def _self_disconnection(acc: TruthAccumulator) -> np.ndarray:
    return acc.pf.prepayment & (acc.shares()["off_h"] >= acc.rules.disconnection_hours)


@truth_label("self_rationing")
def _self_rationing(acc: TruthAccumulator) -> np.ndarray:
    r = acc.rules
    return ((acc.enabled_awake_h >= r.min_awake_hours)
            & (acc.shares()["ration_share"] >= r.ration_share))


@truth_label("excess_heat")
def _excess_heat(acc: TruthAccumulator) -> np.ndarray:
    living, night = acc.overheating_shares()
    share = acc.rules.heat_share
    return (np.nan_to_num(living) > share) | (np.nan_to_num(night) > share)


@truth_label("excess_cold")
def _excess_cold(acc: TruthAccumulator) -> np.ndarray:
    return acc.hhsrs_band() >= acc.rules.excess_cold_min_band


@truth_detail("excess_cold_band")
def _excess_cold_band(acc: TruthAccumulator) -> np.ndarray:
    return acc.hhsrs_band()


@truth_detail("hot_living_share")
def _hot_living_share(acc: TruthAccumulator) -> np.ndarray:
    return np.nan_to_num(acc.overheating_shares()[0])


@truth_detail("hot_night_share")
def _hot_night_share(acc: TruthAccumulator) -> np.ndarray:
    return np.nan_to_num(acc.overheating_shares()[1])


def truth_for(sim, n_steps: int, rules: TruthRules | None = None,
              schedule: FaultSchedule | None = None) -> dict:
    """Run `sim` for n_steps and label its homes."""
    acc = TruthAccumulator(sim.pf, rules, sim.step_s)
    for tr in sim.run(n_steps):
        acc.update(tr)
    return acc.labels(schedule)


# --- Thermal numbers in each home's record (for `--explain` in the truth benchmark) -------

def _band_share(acc: TruthAccumulator, i: int) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(acc.awake_h > 0, acc.below_band_h[i] / acc.awake_h, np.nan)


@truth_detail("below_16c_share")
def _below_16c_share(acc: TruthAccumulator) -> np.ndarray:
    """Share of the heating season's awake-at-home hours below 16 C (HHSRS serious)."""
    return _band_share(acc, 1)


@truth_detail("ration_share")
def _ration_share_detail(acc: TruthAccumulator) -> np.ndarray:
    return acc.shares()["ration_share"]

