"""Device faults: silent devices, counters going backwards, spikes, heating that does not heat.

- silent: no reading for longer than `silent_intervals` reporting intervals plus a grace period;
- counter backwards: a cumulative energy register that falls between buckets;
- spike: usage in a bucket far above the household's own range (its 95th percentile);
- heating on while the room keeps cooling: heating on for hours while the temperature falls;
- stuck: a thermostat repeating its exact reading (temperature and humidity) for a run of
  readings, a meter register standing still while the meter itself reports power or gas flow,
  or readings repeating one value for hours (`repeat_runs`, `stuck_readings`).
"""

from __future__ import annotations

import numpy as np

from advisor.rules.base import (
    HIGH,
    LOW,
    MEDIUM,
    RuleResult,
    as_float,
    fmt_hours,
    nanmax_safe,
    nanmin_safe,
    rolling_sum,
)


def silent_devices(age_s: np.ndarray, interval_s: np.ndarray, silent_intervals: float = 3.0,
                   grace_s: float = 900.0,
                   max_gap_s: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per device whether it is, or was within the window, silent too long (H, K), and the
    household's longest silence [s] (H,).

    age_s: since the last reading (H, K) [s]; interval_s: expected interval (H, K) [s];
    max_gap_s: longest gap between readings within the window (H, K) [s], NaN if unknown."""
    age = np.asarray(age_s, dtype=np.float64)
    if max_gap_s is not None:
        age = np.fmax(age, np.asarray(max_gap_s, dtype=np.float64))
    interval = np.asarray(interval_s, dtype=np.float64)
    known = np.isfinite(age) & np.isfinite(interval)
    silent = known & (age > interval * silent_intervals + grace_s)
    worst = np.where(silent, age, 0).max(axis=1) if age.shape[1] else np.zeros(age.shape[0])
    return silent, worst


def repeat_runs(time_s: np.ndarray, gap_s: np.ndarray,
                amount: np.ndarray | None = None) -> tuple[int, float, float]:
    """The longest run of consecutive repeated readings of one device.

    Each row is a reading equal to the one before it (a repeat), at `time_s` [s], `gap_s` [s]
    after that previous reading; `amount` per row (e.g. the energy the reported power implies
    over the gap [kWh]). Rows are consecutive readings when one row's time minus the previous
    row's equals its gap. Returns (repeats, span [s], amount) of the run with the most repeats
    and, separately, the largest amount over any run: (max repeats, their span, max amount)."""
    t = np.asarray(time_s, dtype=np.float64)
    gap = np.asarray(gap_s, dtype=np.float64)
    amt = np.zeros_like(t) if amount is None else np.nan_to_num(np.asarray(amount, np.float64))
    if not len(t):
        return 0, 0.0, 0.0
    order = np.argsort(t, kind="stable")
    t, gap, amt = t[order], gap[order], amt[order]
    # A new run starts where this repeat's previous reading is not the previous repeat.
    new = np.ones(len(t), bool)
    new[1:] = np.abs((t[1:] - t[:-1]) - gap[1:]) > 0.5
    run = np.cumsum(new) - 1
    repeats = np.bincount(run)
    span = np.bincount(run, weights=gap)
    total = np.bincount(run, weights=amt)
    best = int(np.argmax(repeats))
    return int(repeats[best]), float(span[best]), float(total.max())


def stuck_readings(repeats: np.ndarray, repeat_s: np.ndarray, still_kwh: np.ndarray,
                   min_repeats: int = 3, min_span_s: float = 1200.0,
                   still_min_kwh: float = 0.02) -> np.ndarray:
    """Per device (H, K) whether it froze: a run of at least `min_repeats` readings each equal
    to the one before, spanning at least `min_span_s` [s] (thermostats: temperature and humidity
    both unchanged), or a meter register standing still while the meter's own power or flow
    readings say it should have counted at least `still_min_kwh` [kWh]."""
    rep = np.nan_to_num(np.asarray(repeats, dtype=np.float64))
    span = np.nan_to_num(np.asarray(repeat_s, dtype=np.float64))
    still = np.nan_to_num(np.asarray(still_kwh, dtype=np.float64))
    return ((rep >= min_repeats) & (span >= min_span_s)) | (still >= still_min_kwh)


def implausible_readings(min_temp_c: np.ndarray, max_temp_c: np.ndarray, low_c: float = -5.0,
                         high_c: float = 45.0) -> np.ndarray:
    """Most extreme thermostat reading outside what a home can be [C] (H,); NaN if none."""
    lo = np.where(as_float(min_temp_c) < low_c, min_temp_c, np.nan)
    hi = np.where(as_float(max_temp_c) > high_c, max_temp_c, np.nan)
    worst_lo = nanmin_safe(lo)
    worst_hi = nanmax_safe(hi)
    return np.where(np.isfinite(worst_hi), worst_hi, worst_lo)


def counter_backwards(counter_kwh: np.ndarray, tolerance_kwh: float = 0.01) -> np.ndarray:
    """Largest fall of a cumulative register between readings [kWh] (H,); 0 if none."""
    c = as_float(counter_kwh)
    if c.shape[1] < 2:
        return np.zeros(c.shape[0])
    # Compare each reading with the previous one that exists (forward fill over gaps).
    idx = np.where(np.isfinite(c), np.arange(c.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    filled = c[np.arange(c.shape[0])[:, None], idx]
    drop = filled[:, :-1] - c[:, 1:]
    drop = np.where(np.isfinite(drop) & (drop > tolerance_kwh), drop, 0.0)
    return drop.max(axis=1)


def usage_spikes(usage_kwh: np.ndarray, baseline_p95_kwh: np.ndarray, ratio: float = 8.0,
                 min_kwh: float = 3.0) -> np.ndarray:
    """Largest bucket above max(ratio x the household's p95, min_kwh) [kWh] (H,); 0 if none."""
    use = as_float(usage_kwh)
    p95 = np.nan_to_num(np.asarray(baseline_p95_kwh, dtype=np.float64))
    bar = np.maximum(ratio * p95, min_kwh)
    spike = np.where(np.isfinite(use) & (use > bar[:, None]), use, 0.0)
    return spike.max(axis=1)


def heating_not_heating(heating_on: np.ndarray, temp_c: np.ndarray, step_h: float,
                        hours: float = 3.0, drop_c: float = 1.0,
                        setpoint_c: np.ndarray | None = None,
                        setback_c: float = 0.5) -> np.ndarray:
    """Largest fall in temperature over `hours` with the heating on throughout [C] (H,).

    A bucket whose setpoint [C] is more than `setback_c` [C] below the previous bucket's does not
    count as on throughout: the call for heat read at the bucket's end may have stopped within
    it, and a room cooling towards a lowered setpoint is no fault."""
    on = np.nan_to_num(as_float(heating_on)) >= 0.5
    if setpoint_c is not None and on.shape[1] > 1:
        sp = as_float(setpoint_c)
        with np.errstate(invalid="ignore"):
            lowered = sp[:, 1:] < sp[:, :-1] - setback_c
        on[:, 1:] &= ~lowered
    temp = as_float(temp_c)
    w = max(1, round(hours / step_h))
    if temp.shape[1] <= w:
        return np.zeros(temp.shape[0])
    all_on = rolling_sum(on, w + 1) >= w + 1
    fall = temp[:, :-w] - temp[:, w:]
    fall = np.where(all_on & np.isfinite(fall) & (fall >= drop_c), fall, 0.0)
    return fall.max(axis=1)


def device_faults(silent: np.ndarray, worst_silence_s: np.ndarray, counter_drop_kwh: np.ndarray,
                  spike_kwh: np.ndarray, heating_fall_c: np.ndarray,
                  device_ids: np.ndarray | None = None, heating_hours: float = 3.0,
                  stuck: np.ndarray | None = None,
                  implausible_c: np.ndarray | None = None) -> RuleResult:
    """Combine the fault checks into one `device_fault` result per household.

    silent: (H, K) bool; worst_silence_s (H,) [s]; counter_drop_kwh (H,) [kWh];
    spike_kwh (H,) [kWh]; heating_fall_c (H,) [C]; device_ids (H, K) names for the reason;
    stuck: (H, K) bool, a device repeating one value; implausible_c: (H,) a thermostat reading
    no home can have [C], NaN if none.
    """
    silent = np.asarray(silent, dtype=bool)
    n_silent = silent.sum(axis=1)
    stuck = np.zeros_like(silent) if stuck is None else np.asarray(stuck, dtype=bool)
    n_stuck = stuck.sum(axis=1)
    implausible_c = (np.full(len(n_silent), np.nan) if implausible_c is None
                     else np.asarray(implausible_c, dtype=np.float64))
    backwards = counter_drop_kwh > 0
    spike = (spike_kwh > 0) | np.isfinite(implausible_c)
    cooling = heating_fall_c > 0
    flagged = (n_silent > 0) | (n_stuck > 0) | backwards | spike | cooling
    severity = np.full(len(flagged), LOW, dtype=np.int8)
    severity[backwards | spike | cooling] = MEDIUM
    severity[(n_silent > 0) & (worst_silence_s >= 86400)] = MEDIUM
    severity[(n_stuck > 0)] = np.maximum(severity[(n_stuck > 0)], MEDIUM)
    kinds = (n_silent > 0).astype(int) + (n_stuck > 0) + backwards + spike + cooling
    severity[kinds >= 2] = HIGH
    score = 25 * np.minimum(kinds, 4).astype(float)
    ids = None if device_ids is None else np.asarray(device_ids, dtype=object)
    numbers = {"row": np.arange(len(flagged)), "n_silent": n_silent, "n_stuck": n_stuck,
               "implausible_c": implausible_c,
               "silence_h": worst_silence_s / 3600,
               "counter_drop_kwh": counter_drop_kwh, "spike_kwh": spike_kwh,
               "heating_fall_c": heating_fall_c}

    def reason(n: dict) -> str:
        parts = []
        if n["n_silent"]:
            # Device names only for the households whose reason is shown (not all H).
            names = [] if ids is None else [str(d) for d, s in zip(ids[n["row"]],
                                                                   silent[n["row"]], strict=True)
                                            if s and d]
            who = f" ({', '.join(names)})" if names else ""
            parts.append(f"{n['n_silent']} device(s) silent{who}, longest for"
                         f" {fmt_hours(n['silence_h'])}")
        if n["n_stuck"]:
            names = [] if ids is None else [str(d) for d, s in zip(ids[n["row"]],
                                                                   stuck[n["row"]], strict=True)
                                            if s and d]
            who = f" ({', '.join(names)})" if names else ""
            parts.append(f"{n['n_stuck']} device(s) stuck, repeating the same reading{who}")
        if n["implausible_c"] is not None:
            parts.append(f"a thermostat reading of {n['implausible_c']:.0f} C, which no home has")
        if n["counter_drop_kwh"]:
            parts.append(f"meter register went backwards by {n['counter_drop_kwh']:.2f} kWh")
        if n["spike_kwh"]:
            parts.append(f"a spike of {n['spike_kwh']:.1f} kWh in one reading, far above the"
                         " household's usual range")
        if n["heating_fall_c"]:
            parts.append(f"heating on for {fmt_hours(heating_hours)} while the room cooled by"
                         f" {n['heating_fall_c']:.1f} C")
        text = "; ".join(parts)
        return text[0].upper() + text[1:]

    return RuleResult("device_fault", flagged, severity, score, numbers, reason)
