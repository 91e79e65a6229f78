"""Bill shock and unaffordable bills: the 30-day cost forecast against the household's own usual
cost for those 30 days (the same days last year, else its recent use adjusted for the time of
year) and against Ofgem's typical use.

Cost = sum over days and fuels of (kWh x unit rate that applies that day + standing charge).
Two bars: the forecast over the household's own recent 30-day cost by `own_ratio` (a shock), or
over the cost of Ofgem typical use for the same days at the same tariffs by `typical_ratio` (an
unaffordable bill). Households on means-tested benefits get the lower ratios. p50 over a bar
flags medium, 1.5 times over it high; the p90 over the own-history bar raised by 0.5 (2.0
or 1.75 times the own cost) flags low.
"""

from __future__ import annotations

import numpy as np

from advisor.rules.base import HIGH, LOW, MEDIUM, NONE, RuleResult

# What the household's own usual cost was built from (advisor/engine.py: usual_cost_gbp_30d).
USUAL_NONE, USUAL_SEASONAL, USUAL_LAST_YEAR = 0, 1, 2
USUAL_WORDS = {USUAL_SEASONAL: "its recent use adjusted for the time of year",
               USUAL_LAST_YEAR: "the same 30 days last year"}


def period_cost_gbp(kwh: np.ndarray, rate_gbp_per_kwh: np.ndarray,
                    standing_gbp_per_day: np.ndarray) -> np.ndarray:
    """Cost of daily energy (H, D) at daily rates (H, D) plus standing charges [GBP] (H,).

    Days without a reading cost the standing charge only."""
    energy = np.nan_to_num(np.asarray(kwh, dtype=np.float64)) * rate_gbp_per_kwh
    return (energy + standing_gbp_per_day).sum(axis=1)


def bill_shock(forecast_p50_gbp: np.ndarray, forecast_p90_gbp: np.ndarray,
               recent_gbp_30d: np.ndarray, typical_gbp_30d: np.ndarray,
               benefits: np.ndarray, own_ratio: float = 1.5, typical_ratio: float = 1.5,
               benefits_own_ratio: float = 1.25, benefits_typical_ratio: float = 1.2,
               min_increase_gbp: float = 15.0,
               heating_saving_gbp: np.ndarray | None = None,
               usual_basis: np.ndarray | None = None) -> RuleResult:
    """Flag households facing a much higher bill than usual or than typical.

    forecast_p50_gbp / forecast_p90_gbp: 30-day cost forecast (H,) [GBP]. recent_gbp_30d: own
    recent cost scaled to 30 days (H,) [GBP], NaN without history. typical_gbp_30d: typical use
    at the tariffs that apply, 30 days (H,) [GBP]. benefits: (H,) bool. heating_saving_gbp:
    what turning the heating down 1 C would save over the 30 days at the household's own
    tariff (H,) [GBP], quoted by the tip; NaN or None when not known. usual_basis: (H,) what
    `recent_gbp_30d` was built from (USUAL_SEASONAL, USUAL_LAST_YEAR), named in the reason.
    forecast_p90_gbp is the p90 of the 30-day SUM (not the sum of daily p90s).

    The numbers say which bar fired (`own_fired`: the p50 over the household's own bar;
    `typical_fired`: over the typical-use bar; `own90_fired`: only the p90 over the raised own
    bar), so a reason or a tip claims only what was compared.
    """
    benefits = np.asarray(benefits, dtype=bool)
    p50 = np.asarray(forecast_p50_gbp, dtype=np.float64)
    p90 = np.asarray(forecast_p90_gbp, dtype=np.float64)
    recent = np.asarray(recent_gbp_30d, dtype=np.float64)
    typical = np.asarray(typical_gbp_30d, dtype=np.float64)
    r_own = np.where(benefits, benefits_own_ratio, own_ratio)
    r_typ = np.where(benefits, benefits_typical_ratio, typical_ratio)
    # How far over each bar (1.0 = at the bar); an own-history shock needs a real rise in pounds.
    with np.errstate(invalid="ignore", divide="ignore"):
        rise50 = (recent > 0) & (p50 - recent >= min_increase_gbp)
        rise90 = (recent > 0) & (p90 - recent >= min_increase_gbp)
        own50 = np.where(rise50, p50 / (recent * r_own), 0)
        # The p90 must clear a higher bar (ratio + 0.5): a real chance of a much bigger bill.
        own90 = np.where(rise90, p90 / (recent * (r_own + 0.5)), 0)
        typ50 = np.where(typical > 0, p50 / (typical * r_typ), 0)
    # The p90 (a cold month, a bad estimate) only counts against the household's own history:
    # against typical use it would flag every household whose forecast is merely uncertain.
    over50 = np.nan_to_num(np.maximum(own50, typ50))
    over90 = np.nan_to_num(own90)
    severity = np.select([over50 >= 1.5, over50 >= 1.0, over90 >= 1.0], [HIGH, MEDIUM, LOW], NONE)
    flagged = np.isfinite(p50) & (severity > NONE)
    score = 100 * np.clip((np.maximum(over50, over90 * 0.8) - 0.8) / 1.2, 0, 1)
    own_fired = np.nan_to_num(own50) >= 1.0
    typical_fired = np.nan_to_num(typ50) >= 1.0
    own90_fired = (np.nan_to_num(over90) >= 1.0) & ~own_fired & ~typical_fired
    saving = (np.full(len(p50), np.nan) if heating_saving_gbp is None
              else np.asarray(heating_saving_gbp, dtype=np.float64))
    numbers = {"p50_gbp": p50, "p90_gbp": p90, "recent_gbp": recent, "typical_gbp": typical,
               "own_fired": own_fired, "typical_fired": typical_fired,
               "own90_fired": own90_fired, "own_bar_ratio": r_own, "typical_bar_ratio": r_typ,
               "heating_saving_gbp": saving,
               "own_ratio": np.where(recent > 0, p50 / np.where(recent > 0, recent, 1), np.nan),
               "typical_ratio": np.where(typical > 0, p50 / np.where(typical > 0, typical, 1),
                                         np.nan),
               "benefits": benefits,
               "usual_basis": (np.full(len(p50), USUAL_NONE) if usual_basis is None
                               else np.asarray(usual_basis, dtype=np.int64))}

    def reason(n: dict) -> str:
        # Only the bars that fired, with the numbers they compared.
        text = (f"Next 30 days' energy cost forecast £{n['p50_gbp']:.0f} (up to"
                f" £{n['p90_gbp']:.0f})")
        parts = []
        basis = USUAL_WORDS.get(n.get("usual_basis") or USUAL_NONE)
        basis = f", from {basis}" if basis else ""
        if n["own_fired"]:
            parts.append(f"{n['own_ratio']:.1f} times the household's own usual"
                         f" £{n['recent_gbp']:.0f} for 30 days{basis} (bar"
                         f" {n['own_bar_ratio']:g} times)")
        if n["typical_fired"]:
            parts.append(f"{n['typical_ratio']:.1f} times the £{n['typical_gbp']:.0f} a typical"
                         f" home would pay for the same days (Ofgem typical use; bar"
                         f" {n['typical_bar_ratio']:g} times)")
        if n["own90_fired"]:
            parts.append(f"the upper estimate is {n['p90_gbp'] / n['recent_gbp']:.1f} times the"
                         f" household's own usual £{n['recent_gbp']:.0f}{basis} (bar"
                         f" {n['own_bar_ratio'] + 0.5:g} times)")
        text += ": " + "; ".join(parts)
        if n["benefits"]:
            text += "; receives means-tested benefits (lower bars)"
        return text

    return RuleResult("bill_shock", flagged, severity, score, numbers, reason)
