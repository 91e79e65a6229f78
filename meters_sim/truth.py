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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meters_sim.faults import FAULT_KINDS, FaultSchedule
from meters_sim.homes import Portfolio
from meters_sim.model import Trace
from meters_sim.physics import dew_point_c

NS_PER_HOUR = 3_600_000_000_000
BLOCK_NS = 12 * NS_PER_HOUR


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
        self.steps = 0
        self._blocks: dict[int, np.ndarray] = {}   # block -> (3, H): h>70, h>90, hours
        self.start_ns: int | None = None
        self.end_ns: int | None = None

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
        self.steps += tr.steps
        block = (tr.time_ns - step_h * NS_PER_HOUR) // BLOCK_NS
        for b in np.unique(block):
            sel = block == b
            acc = self._blocks.setdefault(int(b), np.zeros((3, self.pf.n)))
            acc[0] += (tr.rh_pct[sel] > r.damp_rh_pct).sum(0) * step_h
            acc[1] += (tr.rh_pct[sel] > r.severe_rh_pct).sum(0) * step_h
            acc[2] += sel.sum() * step_h

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

    def labels(self, schedule: FaultSchedule | None = None,
               changed: set[tuple[int, int]] | None = None) -> dict:
        """{'households': [one dict per home], 'devices': [faulty devices], 'period': ...}.

        `changed`: the (device index, start ns) of the episodes that altered what a device sent
        (`FaultInjector.changed`); each episode then says so in `changed_readings`."""
        r = self.rules
        pf = self.pf
        enough = self.awake_h >= r.min_awake_hours
        with np.errstate(invalid="ignore", divide="ignore"):
            cold_share = np.where(self.awake_h > 0, self.cold_awake_h / self.awake_h, 0.0)
            ration_share = np.where(self.enabled_awake_h > 0,
                                    self.ration_awake_h / self.enabled_awake_h, 0.0)
        flagged, total = self.damp_blocks()
        damp_share = np.where(total > 0, flagged / np.maximum(total, 1), 0.0)
        off_total = np.maximum(self.off_h, self.gas_off_h)
        homes = []
        for i in range(pf.n):
            homes.append({
                "household_id": str(pf.household_id[i]),
                "cold_home": bool(enough[i] and cold_share[i] >= r.cold_share),
                "damp_mould": bool(damp_share[i] >= r.damp_block_share),
                "credit_out": bool(pf.prepayment[i] and off_total[i] > 0),
                "self_disconnection": bool(pf.prepayment[i]
                                           and off_total[i] >= r.disconnection_hours),
                "self_rationing": bool(self.enabled_awake_h[i] >= r.min_awake_hours
                                       and ration_share[i] >= r.ration_share),
                "cold_awake_share": round(float(cold_share[i]), 3),
                "damp_block_share": round(float(damp_share[i]), 3),
                "supply_off_h": round(float(self.off_h[i]), 2),
                "gas_supply_off_h": round(float(self.gas_off_h[i]), 2),
                "mean_indoor_temp_c": round(float(self.mean_temp_sum[i] / max(self.steps, 1)), 2),
                "condensation_h": round(float(self.condensation_h[i]), 2),
                "traits": sorted(k for k, v in pf.traits.items() if v[i]),
            })
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


def truth_for(sim, n_steps: int, rules: TruthRules | None = None,
              schedule: FaultSchedule | None = None) -> dict:
    """Run `sim` for n_steps and label its homes."""
    acc = TruthAccumulator(sim.pf, rules, sim.step_s)
    for tr in sim.run(n_steps):
        acc.update(tr)
    return acc.labels(schedule)
