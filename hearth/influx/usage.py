"""Half-hourly usage as InfluxDB points: `usage_30m` and its daily rollup `usage_day`.

`usage_30m` (tags household, fuel; field ``energy_kwh``; time = start of the half hour) is the
contract every reader uses. `usage_day` holds the same values as ONE point per household, fuel
and UTC day (time = midnight UTC) with one field per half-hour slot, ``energy_kwh_0000`` (the
half hour starting 00:00 UTC) to ``energy_kwh_2330``. A slot without a value is an absent
field, never NaN or 0. It exists for bulk reads: InfluxDB 1.x spends about 3 us of CPU per row
it emits whatever the row holds, and `usage_day` has 48 times fewer rows (see docs/influxdb.md).

Every writer of `usage_30m` goes through `usage_lines`, which returns both measurements' lines
for the same values, so the two never disagree. InfluxDB merges the fields of a point written
twice (same series and time): a day derived in parts (an incremental run, a late reading) is
completed by later writes without losing the fields written before, and a slot written again
is overwritten, exactly as its `usage_30m` point is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hearth.influx.lineproto import _tag_prefixes, lines_from_arrays

USAGE_30M = "usage_30m"
USAGE_DAY = "usage_day"
# Half hours imported from a consumer-access provider (tags household, fuel, source; field
# energy_kwh; retention policy `usage`). Where one exists, it is that half hour's usage_30m:
# the meter-register derivation (collectors/usage.py) leaves such half hours alone.
IMPORT_30M = "import_30m"
HALF_HOUR_NS = 30 * 60 * 10**9
DAY_NS = 86_400 * 10**9
SLOTS_PER_DAY = 48
# energy_kwh_0000 .. energy_kwh_2330: the UTC start (HHMM) of the half hour, so a slot reads as
# the time it covers. Slots are UTC: a day has 48 of them, on clock-change days too.
SLOT_FIELDS = tuple(f"energy_kwh_{i // 2:02d}{30 * (i % 2):02d}" for i in range(SLOTS_PER_DAY))
SLOT_OF_FIELD = {name: i for i, name in enumerate(SLOT_FIELDS)}


def day_grid(household, fuel, energy_kwh, time_ns):
    """Half-hourly values grouped per (household, fuel, UTC day).

    household, fuel: str (all points) or arrays of n values; energy_kwh: n values [kWh], NaN
    where unknown (left out); time_ns: n half-hour start times [ns since the epoch, UTC]; a time
    inside a half hour counts for that half hour, and of two values for one half hour the later
    in the input wins (as when they are written in that order).
    Returns (households (D,), fuels (D,), day_ns (D,) int64, energy_kwh (D, 48) with NaN where
    a slot has no value), rows in order of first appearance.
    """
    t = np.asarray(time_ns)
    if t.dtype.kind == "M":
        t = t.astype("datetime64[ns]").view(np.int64)
    t = t.astype(np.int64, copy=False)
    e = np.asarray(energy_kwh, dtype=np.float64)
    n = len(t)
    if e.shape != (n,):
        raise ValueError(f"energy_kwh has shape {e.shape}; expected ({n},) like time_ns")
    hh = np.broadcast_to(np.asarray(household, dtype=object), (n,))
    fu = np.broadcast_to(np.asarray(fuel, dtype=object), (n,))
    ok = np.isfinite(e)
    t, e, hh, fu = t[ok], e[ok], hh[ok], fu[ok]
    day = t - t % DAY_NS
    slot = (t - day) // HALF_HOUR_NS
    h_code, h_names = pd.factorize(hh)
    f_code, f_names = pd.factorize(fu)
    d_code, d_values = pd.factorize(day)
    key = np.ravel_multi_index((h_code, f_code, d_code),
                               (max(len(h_names), 1), max(len(f_names), 1), max(len(d_values), 1)))
    row, keys = pd.factorize(key)
    grid = np.full((len(keys), SLOTS_PER_DAY), np.nan)
    grid[row, slot] = e  # numpy assigns repeated indices in order: the later value stays
    hi, fi, di = np.unravel_index(keys, (max(len(h_names), 1), max(len(f_names), 1),
                                         max(len(d_values), 1)))
    return (np.asarray(h_names, dtype=object)[hi], np.asarray(f_names, dtype=object)[fi],
            np.asarray(d_values, dtype=np.int64)[di], grid)


def usage_day_lines(household, fuel, energy_kwh, time_ns) -> list[str]:
    """`usage_day` line protocol for the given `usage_30m` values (arguments as `day_grid`).

    One line per household, fuel and day holding only the slots given a value; written into
    the `usage` retention policy beside the same values' `usage_30m` points.
    """
    names, fuels, days, grid = day_grid(household, fuel, energy_kwh, time_ns)
    if not len(days):
        return []
    known = np.isfinite(grid)
    # Rows with the same known slots (whole days; the same hours of a run's first or last
    # day) share one vectorised call; rare patterns (scattered gaps) are joined row by row.
    pattern, patterns = pd.factorize(_pattern_keys(known))
    counts = np.bincount(pattern, minlength=len(patterns))
    lines: list[str] = []
    for p in np.flatnonzero(counts >= 8):
        rows = np.flatnonzero(pattern == p)
        slots = np.flatnonzero(known[rows[0]])
        lines += lines_from_arrays(USAGE_DAY, {"household": names[rows], "fuel": fuels[rows]},
                                   {SLOT_FIELDS[i]: grid[rows, i] for i in slots}, days[rows])
    rare = np.flatnonzero(counts[pattern] < 8)
    if len(rare):
        prefixes = _tag_prefixes(USAGE_DAY, {"household": names[rare], "fuel": fuels[rare]},
                                 len(rare))
        keys = [f + "=" for f in SLOT_FIELDS]
        for prefix, values, day in zip(prefixes, grid[rare].tolist(), days[rare].tolist(),
                                       strict=True):
            body = ",".join([k + repr(v) for k, v in zip(keys, values, strict=True) if v == v])
            lines.append(f"{prefix} {body} {day}")
    return lines


def _pattern_keys(known: np.ndarray) -> np.ndarray:
    """One int64 per row: bit i set when slot i is known (48 slots fit)."""
    return known.astype(np.int64) @ (np.int64(1) << np.arange(SLOTS_PER_DAY, dtype=np.int64))


def usage_lines(household, fuel, energy_kwh, time_ns) -> list[str]:
    """Line protocol of half-hourly usage: the `usage_day` rollup, then the `usage_30m` points.

    The one way to write half-hourly usage (write the result with ``retention_policy="usage"``,
    in order). household, fuel: str or arrays of n values; energy_kwh: n values [kWh] (NaN: no
    value, no point); time_ns: n half-hour start times [ns since the epoch, UTC] or datetime64.
    The rollup comes first: the derivation resumes after the last `usage_30m` it finds, so a
    run cut off between the two (the lines may go in several requests) has written no half
    hour whose rollup is missing; it writes both again next time.
    """
    t = np.asarray(time_ns)
    if t.dtype.kind == "M":
        t = t.astype("datetime64[ns]").view(np.int64)
    e = np.asarray(energy_kwh, dtype=np.float64)
    ok = np.isfinite(e)
    hh, fu = household, fuel
    if not ok.all():
        t, e = t[ok], e[ok]
        hh = hh if isinstance(hh, str) else np.asarray(hh)[ok]
        fu = fu if isinstance(fu, str) else np.asarray(fu)[ok]
    return (usage_day_lines(hh, fu, e, t)
            + lines_from_arrays(USAGE_30M, {"household": hh, "fuel": fu}, {"energy_kwh": e}, t))
