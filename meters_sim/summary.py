"""`hearth sim summary`: annual energy per home and ground-truth risk shares, from the model alone.

No server is involved: the registry's home mix (`hearth.registry.generate`) feeds a Portfolio,
the Simulation runs, and a TruthAccumulator keeps each home's daily energy and its labels.

A run of D days (`days`): with D >= 365 one contiguous run from `start`; with fewer days,
`segments` (12: one a month) runs of D / segments days, spread evenly over the year from
`start`, each after `spinup_days` of unrecorded spin-up, so that a short run still samples
winter and summer alike. Annual kWh = the energy of the days simulated x 365 / D.

Output (one JSON object):
  {"groups": [{"fuel", "heating", "homes", "median_kwh", "p10_kwh", "p90_kwh",
               "winter_summer_ratio", "max_day_kwh"}, ...],
   "risk_share": {label: share of homes}, "period": {...}}
`heating` is the home's heating fuel ("gas" or "electric") or "all". `winter_summer_ratio` is
the median over the group's homes of mean daily use in December-February over that in June-
August (null when the days simulated miss either season); `max_day_kwh` the most any home of
the group used in one whole UTC day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from meters_sim.homes import Portfolio
from meters_sim.model import Simulation
from meters_sim.truth import TruthAccumulator

NS_PER_DAY = 86_400 * 1_000_000_000
WINTER_MONTHS = (12, 1, 2)
SUMMER_MONTHS = (6, 7, 8)


@dataclass(frozen=True)
class SummaryOptions:
    households: int = 1000
    seed: int = 42
    days: float = 365.0
    start: str = "2025-07-01"       # UTC date the year (or the spread segments) starts
    step_s: int = 300               # the model's step; <= 300 keeps the controller stable
    segments: int = 12
    spinup_days: float = 1.0

    def validate(self) -> None:
        if self.households < 1:
            raise ValueError(f"--households {self.households}: give at least 1")
        if not 1 <= self.days <= 3660:
            raise ValueError(f"--days {self.days}: give 1 to 3660")
        if self.step_s not in (60, 120, 180, 300, 600, 900):
            raise ValueError(f"--step-s {self.step_s}: use 60, 120, 180, 300, 600 or 900")
        if self.segments < 1:
            raise ValueError(f"segments {self.segments}: give at least 1")


def registry_rows(n: int, seed: int) -> list[dict]:
    """Household rows from the registry's generator (the demo's home mix), no registry file."""
    from hearth.registry.generate import GenerateOptions, generate_portfolio

    cols = generate_portfolio(GenerateOptions(households=n, seed=seed,
                                              as_of=date(2026, 1, 1))).households
    names = list(cols)
    return [dict(zip(names, values, strict=True))
            for values in zip(*(cols[c].tolist() for c in names), strict=True)]


def _segments(opts: SummaryOptions) -> list[tuple[int, int]]:
    """(start ns, steps) of each run."""
    start_ns = int(np.datetime64(opts.start, "ns").astype("int64"))
    steps_per_day = 86400 // opts.step_s
    total = max(1, round(opts.days * steps_per_day))
    if opts.days >= 365 or opts.segments == 1:
        return [(start_ns, total)]
    k = min(opts.segments, total)
    per = [total // k + (1 if i < total % k else 0) for i in range(k)]
    gap_ns = 365 * NS_PER_DAY // k
    # Each segment starts at midnight, centred in its share of the year.
    out = []
    for i, steps in enumerate(per):
        mid = start_ns + i * gap_ns + gap_ns // 2 - steps * opts.step_s * 500_000_000
        out.append((mid - mid % NS_PER_DAY, steps))
    return out


def run_truth(pf: Portfolio, opts: SummaryOptions) -> TruthAccumulator:
    acc = TruthAccumulator(pf, step_s=opts.step_s)
    for start_ns, steps in _segments(opts):
        sim = Simulation(pf, np.datetime64(start_ns, "ns"), step_s=opts.step_s, seed=opts.seed,
                         spinup_days=opts.spinup_days)
        for tr in sim.run(steps):
            acc.update(tr)
    return acc


def _months(day_numbers: np.ndarray) -> np.ndarray:
    return day_numbers.astype("datetime64[D]").astype("datetime64[M]").astype(int) % 12 + 1


def annual_kwh(acc: TruthAccumulator) -> dict[str, np.ndarray]:
    """Per-home annual kWh by fuel: energy of the days simulated x 365 / days simulated."""
    d = acc.daily()
    days = d["steps"].sum() * acc.step_s / 86400.0
    return {fuel: d[f"{fuel}_kwh"].sum(axis=0) * 365.0 / days
            for fuel in ("electricity", "gas")}


def winter_summer_ratio(acc: TruthAccumulator, fuel: str) -> np.ndarray:
    """Per home: mean daily use in Dec-Feb / mean daily use in Jun-Aug (NaN if a season is
    missing). Days seen only in part count in proportion."""
    d = acc.daily()
    months = _months(d["day"])
    frac = d["steps"] * acc.step_s / 86400.0
    use = d[f"{fuel}_kwh"]
    out = []
    for season in (WINTER_MONTHS, SUMMER_MONTHS):
        sel = np.isin(months, season)
        out.append(use[sel].sum(0) / frac[sel].sum() if frac[sel].sum() > 0
                   else np.full(use.shape[1], np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        return out[0] / out[1]


def max_day_kwh(acc: TruthAccumulator, fuel: str) -> np.ndarray:
    """Per home: the most energy used in one whole UTC day (0 with no whole day)."""
    d = acc.daily()
    whole = d["steps"] * acc.step_s >= 86400
    use = d[f"{fuel}_kwh"][whole]
    return use.max(axis=0) if len(use) else np.zeros(acc.pf.n)


def _stats(values: np.ndarray) -> dict:
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return {"median_kwh": round(float(p50)), "p10_kwh": round(float(p10)),
            "p90_kwh": round(float(p90))}


def summarise(acc: TruthAccumulator) -> dict:
    pf = acc.pf
    kwh = annual_kwh(acc)
    heating = np.where(pf.electric_heating, "electric", "gas")
    groups = []
    for fuel in ("electricity", "gas"):
        ratio = winter_summer_ratio(acc, fuel)
        peak = max_day_kwh(acc, fuel)
        for heat in ("all", "gas", "electric"):
            sel = np.ones(pf.n, bool) if heat == "all" else heating == heat
            if fuel == "gas":
                sel &= pf.has_gas
            if not sel.any():
                continue
            r = ratio[sel]
            r = r[np.isfinite(r)]
            groups.append({"fuel": fuel, "heating": heat, "homes": int(sel.sum()),
                           **_stats(kwh[fuel][sel]),
                           "winter_summer_ratio": round(float(np.median(r)), 2) if len(r)
                           else None,
                           "max_day_kwh": round(float(peak[sel].max()), 1)})
    verdicts = acc.verdicts()
    d = acc.daily()
    return {"groups": groups,
            "risk_share": {name: round(float(v.mean()), 4) for name, v in verdicts.items()},
            "period": {"days_simulated": round(float(d["steps"].sum() * acc.step_s / 86400), 2),
                       "first_day": str(np.datetime64(int(d["day"][0]), "D")),
                       "last_day": str(np.datetime64(int(d["day"][-1]), "D")),
                       "step_s": acc.step_s}}


def summary(opts: SummaryOptions, rows: list[dict] | None = None) -> dict:
    """Simulate `opts.households` registry-generated homes (or `rows`) and summarise them."""
    opts.validate()
    rows = rows if rows is not None else registry_rows(opts.households, opts.seed)
    pf = Portfolio.from_rows(rows, seed=opts.seed)
    out = summarise(run_truth(pf, opts))
    out["period"].update({"households": pf.n, "seed": opts.seed})
    return out
