"""Self-disconnection: a prepayment supply off, or no electricity used for hours while cold.

The supply counts as off when the prepayment balance is at or below the configured level (after
emergency credit) or the meter sees no voltage. A home always uses some electricity (fridge,
standby), so hours of none while the home is cold mean the supply was cut or switched off.
"""

from __future__ import annotations

import numpy as np

from advisor.rules.base import (
    EMERGENCY,
    HIGH,
    LOW,
    MEDIUM,
    RuleResult,
    as_float,
    fmt_hours,
    longest_run,
    nanmin_safe,
)


def _run_ahead(mask: np.ndarray) -> np.ndarray:
    """At each step, how many steps in a row from it on are True (H, S)."""
    rev = mask[:, ::-1]
    c = np.cumsum(rev, axis=1, dtype=np.int32)
    base = np.maximum.accumulate(np.where(rev, np.int32(0), c), axis=1)
    return (c - base)[:, ::-1]


def off_from_evidence(spent: np.ndarray, wanted: np.ndarray, min_wanted_steps: int = 1
                      ) -> np.ndarray:
    """Steps a supply without a switch counts as off (H, S) bool.

    spent: (H, S) bool, the balance spent (at or below zero) and none of the fuel used.
    wanted: (H, S) bool, the fuel would be used if it could flow. Within each unbroken run of
    `spent` steps, once the fuel has been wanted without flowing for `min_wanted_steps` steps in
    a row, the supply counts as off from the first of them to the end of the run: a meter cut
    off stays off until it is topped up into credit (the run then ends), and a home on emergency
    credit shows flow as soon as the fuel is wanted (the run ends too). Isolated steps of want
    (a noisy estimate of who is in) are not enough."""
    spent = np.asarray(spent, dtype=bool)
    H, S = spent.shape
    if S == 0:
        return spent.copy()
    trig = spent & np.asarray(wanted, dtype=bool)
    trig = _run_ahead(trig) >= max(1, int(min_wanted_steps))   # a long enough streak starts
    starts = spent & ~np.concatenate([np.zeros((H, 1), bool), spent[:, :-1]], axis=1)
    # From the first streak of the run on: the count of streak starts since the run started.
    c = np.cumsum(trig, axis=1, dtype=np.int32)
    before = np.maximum.accumulate(np.where(starts, c - trig, 0), axis=1)
    return spent & (c - before > 0)


def supply_off_mask(credit_gbp: dict[str, np.ndarray], voltage_v: np.ndarray | None,
                    off_credit_gbp: float = -10.0, min_voltage_v: float = 50.0,
                    supply_on: dict[str, np.ndarray] | None = None,
                    usage_kwh: dict[str, np.ndarray] | None = None,
                    no_use_kwh: float = 0.005,
                    demand: dict[str, np.ndarray] | None = None,
                    evidence_steps: int = 1) -> np.ndarray:
    """Per step whether any prepaid supply is off (H, S).

    Per fuel, the meter's own supply switch (`supply_on`, 0/1, NaN where not reported) is the
    best evidence. Where a meter does not report it: a balance at or below `off_credit_gbp`
    (the disconnection point after emergency credit), or a spent balance (at or below zero)
    with none of that fuel used while it is wanted (`demand[fuel]`, bool (H, S); electricity
    always, for the fridge), counted from the first such step until the fuel flows again or
    the balance is topped up (`off_from_evidence`, after `evidence_steps` wanted steps). A
    meter on emergency credit still supplies, and a home may simply not want gas for a while.
    No voltage is off too."""
    supply_on = supply_on or {}
    usage_kwh = usage_kwh or {}
    demand = demand or {}
    masks = []
    for fuel in sorted(set(credit_gbp) | set(supply_on)):
        switch = supply_on.get(fuel)
        credit = credit_gbp.get(fuel)
        by_credit = None
        if credit is not None:
            credit = as_float(credit)
            by_credit = credit <= off_credit_gbp
            use = usage_kwh.get(fuel)
            if use is not None:
                spent = (credit <= 0) & (as_float(use) < no_use_kwh)
                wanted = np.broadcast_to(np.asarray(demand.get(fuel, True), dtype=bool),
                                         spent.shape)
                by_credit = by_credit | off_from_evidence(spent, wanted, evidence_steps)
        if switch is None:
            masks.append(by_credit)
            continue
        switch = as_float(switch)
        off = np.isfinite(switch) & (switch < 0.5)
        if by_credit is not None:
            off |= ~np.isfinite(switch) & by_credit
        masks.append(off)
    if voltage_v is not None:
        masks.append(as_float(voltage_v) < min_voltage_v)
    if not masks:
        raise ValueError("supply_off_mask needs credit_gbp, supply_on or voltage_v series")
    out = masks[0].copy()
    for m in masks[1:]:
        out |= m
    return out


def self_disconnection(supply_off: np.ndarray, electricity_kwh: np.ndarray, temp_c: np.ndarray,
                       prepayment: np.ndarray, vulnerable: np.ndarray, step_h: float,
                       cold_temp_c: float = 18.0, off_hours: float = 3.0,
                       no_use_kwh_per_step: float = 0.005, no_use_hours: float = 6.0,
                       emergency_hours: float = 12.0,
                       power_w: np.ndarray | None = None,
                       brief_off_hours: float | None = None,
                       in_season: bool | np.ndarray = False,
                       day_off_hours: float = 24.0) -> RuleResult:
    """Flag prepayment households whose supply was off, or who used nothing for hours while cold.

    supply_off: (H, S) bool. electricity_kwh: usage per bucket (H, S) [kWh]. temp_c: indoor
    temperature (H, S) [C]. prepayment, vulnerable: (H,) bool. step_h: bucket length [h].
    power_w: the meter's highest power reading per bucket (H, S) [W], when reported.
    brief_off_hours: a supply off at least this long but under `off_hours` is flagged LOW
    (the credit ran out, the tenant topped up): no tip, but an officer sees that the home ran
    out. None: only `off_hours` and more.
    Emergency (an imminent risk of serious harm): a vulnerable household off or without use
    while cold for `emergency_hours`, or any supply off for `day_off_hours` in a row in the
    heating season (`in_season`: bool, or (H,)).
    """
    prepay = np.asarray(prepayment, dtype=bool)
    vulnerable = np.asarray(vulnerable, dtype=bool)
    off = np.asarray(supply_off, dtype=bool)
    temp = as_float(temp_c)
    cold = np.isfinite(temp) & (temp < cold_temp_c)
    use = as_float(electricity_kwh)
    no_use = np.isfinite(use) & (use < no_use_kwh_per_step)
    if power_w is not None:
        # A meter whose register is stuck shows no use but still reports power drawn.
        power = as_float(power_w)
        no_use &= ~(np.isfinite(power) & (power >= 5.0))
    off_h = off.sum(axis=1) * step_h
    off_cold_h = longest_run(off & cold) * step_h
    no_use_cold_h = longest_run(no_use & cold) * step_h
    lowest = nanmin_safe(np.where(off | no_use, temp, np.nan))
    eps = 1e-9
    long_off = off_h >= off_hours - eps
    brief = (off_h >= brief_off_hours - eps) & ~long_off if brief_off_hours is not None \
        else np.zeros(len(prepay), bool)
    long_no_use = no_use_cold_h >= no_use_hours - eps
    flagged = prepay & (long_off | brief | long_no_use)
    severity = np.full(len(prepay), MEDIUM, dtype=np.int8)
    severity[brief & ~long_no_use] = LOW
    severity[(off_cold_h >= off_hours - eps) | (no_use_cold_h >= 2 * no_use_hours)] = HIGH
    worst_cold_h = np.maximum(off_cold_h, no_use_cold_h)
    severity[vulnerable & (worst_cold_h >= emergency_hours - eps)] = EMERGENCY
    off_run_h = longest_run(off) * step_h
    severity[np.asarray(in_season, dtype=bool) & (off_run_h >= day_off_hours - eps)] = EMERGENCY
    score = 40 + 40 * np.clip(np.maximum(off_h, no_use_cold_h) / 24.0, 0, 1) + 20 * vulnerable
    numbers = {"off_h": off_h, "off_cold_h": off_cold_h, "no_use_cold_h": no_use_cold_h,
               "lowest_c": lowest, "off_run_h": off_run_h}

    def reason(n: dict) -> str:
        parts = []
        if n["off_h"] >= off_hours - eps:
            parts.append(f"Prepayment supply off for {fmt_hours(n['off_h'])} in the window")
        elif brief_off_hours is not None and n["off_h"] >= brief_off_hours - eps:
            parts.append(f"Prepayment supply off for {fmt_hours(n['off_h'])} in the window"
                         " (credit ran out, then topped up)")
        if n["no_use_cold_h"] >= no_use_hours - eps:
            parts.append(f"no electricity used for {fmt_hours(n['no_use_cold_h'])} in a row"
                         f" while the home was below {cold_temp_c:g} C")
        text = "; ".join(parts)
        if n["lowest_c"] is not None:
            text += f" (lowest indoor {n['lowest_c']:.1f} C)"
        return text[0].upper() + text[1:]

    return RuleResult("self_disconnection", flagged, severity, score, numbers, reason)
