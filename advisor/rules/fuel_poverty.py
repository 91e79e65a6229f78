"""Fuel poverty indicator (England, Low Income Low Energy Efficiency).

LILEE: a low income household living in a home of energy efficiency band D to G. The registry
holds the EPC band and whether the household receives means-tested benefits (the low income
proxy). Where the band is better, the energy burden (yearly energy cost over the income assumed
for a household on means-tested benefits) above 10% also counts.
"""

from __future__ import annotations

import numpy as np

from advisor.frame import EPC_BANDS
from advisor.rules.base import LOW, MEDIUM, RuleResult


def fuel_poverty(epc_band: np.ndarray, benefits: np.ndarray, annual_cost_gbp: np.ndarray,
                 low_bands: str = "DEFG", burden_bar: float = 0.10,
                 proxy_income_gbp: float = 16000.0) -> RuleResult:
    """Flag the LILEE indicator.

    epc_band: (H,) 0=A..6=G, -1 unknown. benefits: (H,) bool. annual_cost_gbp: expected yearly
    energy cost (H,) [GBP]. Medium when both the band and the burden say so.
    """
    band = np.asarray(epc_band, dtype=np.int64)
    benefits = np.asarray(benefits, dtype=bool)
    low_idx = np.array([EPC_BANDS.index(b) for b in low_bands])
    inefficient = np.isin(band, low_idx)
    burden = np.asarray(annual_cost_gbp, dtype=np.float64) / proxy_income_gbp
    heavy = benefits & np.isfinite(burden) & (burden >= burden_bar)
    lilee = benefits & inefficient
    flagged = lilee | heavy
    severity = np.where(lilee & heavy, MEDIUM, LOW)
    score = 30 * lilee + 30 * heavy + 40 * np.clip(np.nan_to_num(burden) / (2 * burden_bar), 0, 1)
    letters = np.array([*list(EPC_BANDS), "unknown"], dtype=object)
    numbers = {"epc": letters[np.where(band >= 0, band, 7)], "lilee": lilee,
               "burden_pct": 100 * burden, "annual_cost_gbp": np.asarray(annual_cost_gbp)}

    def reason(n: dict) -> str:
        parts = []
        if n["lilee"]:
            cost = (f", energy costs about £{n['annual_cost_gbp']:.0f} a year"
                    if n["annual_cost_gbp"] is not None else "")
            parts.append(f"EPC band {n['epc']} home and means-tested benefits (LILEE"
                         f" indicator){cost}")
        if n["burden_pct"] is not None and n["burden_pct"] >= 100 * burden_bar:
            parts.append(f"energy costs of about £{n['annual_cost_gbp']:.0f} a year, about"
                         f" {n['burden_pct']:.0f}% of a £{proxy_income_gbp:,.0f} benefit income")
        text = "; ".join(parts)
        return text[0].upper() + text[1:]

    return RuleResult("fuel_poverty", flagged, severity, score, numbers, reason)
