"""Half-hourly usage (`usage_30m`) from the cumulative meter registers: the forecaster's input.

The numeric core, `half_hour_usage`, is pure numpy on ``(series, samples)`` arrays:

1. **Spikes**: a single sample that jumps away and back (its step in and its step out are both
   implausible, while skipping it gives a plausible step) is removed. A step is implausible when
   it is negative beyond jitter or larger than ``max_power_kw`` x its duration (+ a small floor);
   the cap is per fuel (25 kW electricity: a 100 A supply; 45 kW gas: a large combi boiler).
2. **Counter resets**: a step down (beyond ``jitter_kwh``) means the register restarted from 0,
   so the step's energy is the new value itself. Smaller steps down are jitter (0 kWh).
3. Any remaining step above the physical cap (a spike that did not come back, a reset to a
   large value) is dropped (0 kWh) and counted as a spike.
4. **Gaps**: the cleaned register is interpolated linearly at each half-hour boundary, but only
   between samples at most ``max_gap_s`` apart. Half hours with a boundary inside a longer gap
   are NaN and not written: usage is never invented across long gaps (the register still
   carries the total, so the energy reappears in no half hour, and the forecaster sees a gap).
   Short gaps are spread linearly, which is what interpolating the register means.

Usage per half hour = cleaned register at its end boundary minus at its start. A household's
usage is the sum over its meters of that fuel (NaN only if all of them are NaN).

The I/O wrapper `derive_usage` queries raw `meter` readings per fuel, derives, and writes
`usage_30m` (tags household, fuel; field energy_kwh; time = start of the half hour) and its
daily rollup `usage_day` (one point per household and UTC day, a field per half hour; see
`hearth.influx.usage`) into the `usage` retention policy. Writing the same half hour again
overwrites it (idempotent); without `since` it continues from the last derived half hour minus
`margin_s`, and a day derived in parts gets its later half hours added to its `usage_day`
point. `rebuild_usage_day` makes the rollup from `usage_30m` written before it existed.

Imported half hours win: a half hour a consumer-access provider delivered (`import_30m`,
written by importers/smart_meter.py through the same `usage_lines`) is the meter's own
settlement reading, so the derivation never overwrites it; it fills only the half hours no
import holds. One value per household, fuel and half hour, whichever order the two run in.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger("hearth.collectors.usage")

HALF_HOUR_S = 1800
HALF_HOUR_NS = HALF_HOUR_S * 10**9
FUELS = ("electricity", "gas")


@dataclass(frozen=True)
class UsageResult:
    """`energy_kwh` (series, intervals) [kWh], NaN where unknown; per-series counts."""

    energy_kwh: np.ndarray
    resets: np.ndarray
    spikes: np.ndarray


def _compact(t: np.ndarray, e: np.ndarray, valid: np.ndarray):
    """Sort each row by time with invalid samples moved to the end."""
    order = np.argsort(np.where(valid, t, np.inf), axis=1, kind="stable")
    take = np.take_along_axis
    return take(t, order, 1), take(e, order, 1), take(valid, order, 1)


def half_hour_usage(times_s, energy_kwh, boundaries_s, *, max_gap_s: float = 7200.0,
                    max_power_kw: float = 25.0, jitter_kwh: float = 0.01,
                    spike_floor_kwh: float = 0.05) -> UsageResult:
    """Energy per interval between consecutive `boundaries_s` from cumulative registers.

    times_s: (series, samples) sample times [s], NaN for padding; any order.
    energy_kwh: (series, samples) cumulative register [kWh], NaN where missing.
    boundaries_s: (intervals + 1,) increasing interval boundaries [s].
    """
    t = np.array(times_s, dtype=float, ndmin=2)
    e = np.array(energy_kwh, dtype=float, ndmin=2)
    b = np.asarray(boundaries_s, dtype=float)
    R, S = t.shape
    n_int = max(len(b) - 1, 0)
    if R == 0 or S == 0 or n_int == 0:
        return UsageResult(np.full((R, n_int), np.nan), np.zeros(R, int), np.zeros(R, int))

    def cap(dt_s):
        return max_power_kw * np.maximum(dt_s, 0) / 3600.0 + spike_floor_kwh

    t, e, valid = _compact(t, e, np.isfinite(t) & np.isfinite(e))

    # 1. isolated spikes: bad in, bad out, fine when skipped.
    spikes = np.zeros(R, int)
    if S >= 3:
        tp, tc, tn = t[:, :-2], t[:, 1:-1], t[:, 2:]
        ep, ec, en = e[:, :-2], e[:, 1:-1], e[:, 2:]
        din, dout, dskip = ec - ep, en - ec, en - ep
        with np.errstate(invalid="ignore"):
            bad_in = (din > cap(tc - tp)) | (din < -jitter_kwh)
            bad_out = (dout > cap(tn - tc)) | (dout < -jitter_kwh)
            fine_skip = (dskip >= -jitter_kwh) & (dskip <= cap(tn - tp))
        spike = valid[:, :-2] & valid[:, 1:-1] & valid[:, 2:] & bad_in & bad_out & fine_skip
        if spike.any():
            spikes += spike.sum(axis=1)
            valid = valid.copy()
            valid[:, 1:-1] &= ~spike
            t, e, valid = _compact(t, e, valid)

    # 2-3. steps between consecutive valid samples: resets, jitter, implausible steps.
    pair = valid[:, 1:] & valid[:, :-1]
    with np.errstate(invalid="ignore"):
        dt_s = np.diff(t, axis=1)
        de = np.diff(e, axis=1)
        reset = pair & (de < -jitter_kwh)
        step = np.where(reset, e[:, 1:], np.where(de < 0, 0.0, de))
        implausible = pair & (step > cap(dt_s))
    step = np.where(pair & ~implausible, step, 0.0)
    spikes += implausible.sum(axis=1)
    cum = np.concatenate([np.zeros((R, 1)), np.cumsum(step, axis=1)], axis=1)

    # 4. cleaned register at each boundary, by one searchsorted over all rows at once.
    tv = t[valid]
    lo = min(tv.min() if tv.size else b[0], b[0])
    width = max(tv.max() if tv.size else b[-1], b[-1]) - lo + 2.0
    rows = np.arange(R, dtype=float)[:, None] * width
    flat = (np.where(valid, t - lo, width - 1.0) + rows).ravel()
    queries = ((b - lo)[None, :] + rows).ravel()
    j = np.searchsorted(flat, queries, side="right") - 1
    r_of_q = np.repeat(np.arange(R), len(b))
    jr, jc = np.divmod(np.maximum(j, 0), S)
    left_ok = (j >= 0) & (jr == r_of_q) & valid[jr, jc]
    t_left, c_left = t[jr, jc], cum[jr, jc]
    bq = np.tile(b, R)
    exact = left_ok & (t_left == bq)
    nc = np.minimum(jc + 1, S - 1)
    right_ok = left_ok & (jc + 1 < S) & valid[jr, nc] & (t[jr, nc] - t_left <= max_gap_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (bq - t_left) / (t[jr, nc] - t_left)
        interp = c_left + frac * (cum[jr, nc] - c_left)
    at_b = np.where(exact, c_left, np.where(right_ok, interp, np.nan)).reshape(R, len(b))
    usage = np.diff(at_b, axis=1)
    return UsageResult(usage, reset.sum(axis=1), spikes)


def sum_by_group(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows summed per group label: (labels, (labels, intervals)); NaN only where all are."""
    labels, inverse = np.unique(groups, return_inverse=True)
    out = np.zeros((len(labels), values.shape[1]))
    known = np.zeros_like(out, dtype=bool)
    np.add.at(out, inverse, np.nan_to_num(values, nan=0.0))
    np.logical_or.at(known, inverse, np.isfinite(values))
    return labels, np.where(known, out, np.nan)


# ---- I/O -------------------------------------------------------------------------------------

@dataclass
class DeriveResult:
    fuel: str
    since: dt.datetime | None
    until: dt.datetime | None
    half_hours_written: int = 0
    half_hours_unknown: int = 0
    households: int = 0
    resets: int = 0
    spikes: int = 0
    half_hours_imported: int = 0

    def describe(self) -> str:
        if self.since is None:
            return f"usage_30m {self.fuel}: no meter readings, nothing to derive"
        return (f"usage_30m {self.fuel} {self.since:%Y-%m-%d %H:%M} to {self.until:%Y-%m-%d %H:%M}"
                f" UTC: {self.half_hours_written} half hours written for {self.households}"
                f" households; {self.half_hours_unknown} unknown (gaps), {self.resets} counter"
                f" resets, {self.spikes} spikes dropped"
                + (f"; {self.half_hours_imported} half hours kept from imported smart-meter data"
                   if self.half_hours_imported else ""))


def _to_dt(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)


def _ns(t: dt.datetime) -> int:
    t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    d = t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (d.days * 86_400 + d.seconds) * 10**9 + d.microseconds * 1000


def _one_time(client, q: str) -> int | None:
    series = client.query(q)
    for s in series:
        if len(s.values["time"]):
            return int(s.values["time"][0])
    return None


def _latest(client, q: str, groups: list[str], pick) -> int | None:
    """`_one_time` of `q` per household group, then `pick` (max/min) of those found."""
    found = [t for t in (_one_time(client, q + g) for g in groups) if t is not None]
    return pick(found) if found else None


def _imported(client, db: str, fq: str, labels: np.ndarray, w0: int, n_int: int) -> np.ndarray:
    """(labels, n_int) True where `import_30m` holds the household's half hour from w0 [ns]."""
    from hearth.influx import IMPORT_30M, quote_ident

    mask = np.zeros((len(labels), n_int), dtype=bool)
    row = {h: i for i, h in enumerate(labels.tolist())}
    series = client.query(f'SELECT "energy_kwh" FROM {db}."usage".{quote_ident(IMPORT_30M)}'
                          f' WHERE "fuel" = {fq} AND time >= {w0}'
                          f' AND time < {w0 + n_int * HALF_HOUR_NS} GROUP BY "household"')
    for s in series:
        i = row.get(s.tags.get("household", ""))
        if i is None or not len(s.values["time"]):
            continue
        col = (s.values["time"].astype(np.int64) - w0) // HALF_HOUR_NS
        mask[i, col[(col >= 0) & (col < n_int)]] = True
    return mask


def derive_usage(client, *, since: dt.datetime | None = None, until: dt.datetime | None = None,
                 fuels=FUELS, max_gap_s: float = 7200.0, max_power_kw=None,
                 margin_s: float = 7200.0, chunk_s: float = 86_400.0,
                 households=None) -> list[DeriveResult]:
    """Derive and write usage_30m for each fuel; see the module docstring.

    households: only these (a shard's, see hearth.shards), read in groups of
    `HOUSEHOLDS_PER_QUERY`; None: every household in one query per chunk."""
    from hearth.influx import quote_ident, quote_string, usage_lines
    from hearth.shards import household_filters

    # One WHERE condition per group of households ("" = all): each group is derived alone,
    # which gives the same half hours as one pass, as a household's meters stay in its group.
    groups = [""] if households is None else [f" AND {f}" for f in
                                              household_filters(list(households))]
    db = quote_ident(client.database)
    # Physical cap on mean power per fuel [kW]: a 100 A electricity supply; a large combi boiler.
    caps = {"electricity": 25.0, "gas": 45.0, **(max_power_kw or {})}
    now_ns = _ns(until) if until is not None else _ns(dt.datetime.now(dt.UTC))
    end_ns = now_ns // HALF_HOUR_NS * HALF_HOUR_NS
    results = []
    for fuel in fuels or FUELS:
        fq = quote_string(fuel)
        if since is not None:
            start_ns = _ns(since) // HALF_HOUR_NS * HALF_HOUR_NS
        else:
            last = _latest(client, f'SELECT last("energy_kwh") FROM {db}."usage"."usage_30m"'
                                   f' WHERE "fuel" = {fq}', groups, max)
            if last is not None:
                start_ns = (last - int(margin_s * 1e9)) // HALF_HOUR_NS * HALF_HOUR_NS
            else:
                first = _latest(client, f'SELECT first("energy_kwh") FROM {db}."raw"."meter"'
                                        f' WHERE "fuel" = {fq}', groups, min)
                if first is None:
                    results.append(DeriveResult(fuel, None, None))
                    continue
                start_ns = first // HALF_HOUR_NS * HALF_HOUR_NS
        res = DeriveResult(fuel, _to_dt(start_ns), _to_dt(end_ns))
        households: set[str] = set()
        chunk_ns = max(int(chunk_s * 1e9) // HALF_HOUR_NS, 1) * HALF_HOUR_NS
        gap_ns = int(max_gap_s * 1e9)
        for w0, group in ((w0, g) for w0 in range(start_ns, end_ns, chunk_ns) for g in groups):
            w1 = min(w0 + chunk_ns, end_ns)
            series = client.query(
                f'SELECT "energy_kwh" FROM {db}."raw"."meter" WHERE "fuel" = {fq}{group}'
                f" AND time >= {w0 - gap_ns} AND time <= {w1 + gap_ns}"
                ' GROUP BY "household", "device"')
            series = [s for s in series if len(s.values["time"])]
            if not series:
                continue
            S = max(len(s.values["time"]) for s in series)
            t = np.full((len(series), S), np.nan)
            e = np.full((len(series), S), np.nan)
            for i, s in enumerate(series):
                n = len(s.values["time"])
                t[i, :n] = (s.values["time"].astype(np.int64) - w0) / 1e9
                e[i, :n] = s.values["energy_kwh"]
            bounds_ns = np.arange(w0, w1 + 1, HALF_HOUR_NS, dtype=np.int64)
            out = half_hour_usage(t, e, (bounds_ns - w0) / 1e9, max_gap_s=max_gap_s,
                                  max_power_kw=caps.get(fuel, 25.0))
            houses = np.array([s.tags.get("household", "") for s in series])
            labels, per_house = sum_by_group(out.energy_kwh, houses)
            res.resets += int(out.resets.sum())
            res.spikes += int(out.spikes.sum())
            imported = _imported(client, db, fq + group, labels, w0, per_house.shape[1])
            ok = np.isfinite(per_house) & ~imported
            res.half_hours_unknown += int((~np.isfinite(per_house) & ~imported).sum())
            res.half_hours_imported += int(imported.sum())
            hh, col = np.nonzero(ok)
            if len(hh):
                # The usage_day rollup, then the usage_30m points of the same values.
                lines = usage_lines(labels[hh], fuel, per_house[hh, col], bounds_ns[:-1][col])
                written = client.write_lines(lines, retention_policy="usage")
                res.half_hours_written += max(0, written.written - (len(lines) - len(hh)))
                households.update(labels[np.unique(hh)].tolist())
            # Progress for long runs without a line per day: about ten lines per fuel at most.
            n_chunks = -(-(end_ns - start_ns) // chunk_ns)
            step = max(1, n_chunks // 10)
            done = (w0 - start_ns) // chunk_ns + 1
            if group == groups[-1] and (done % step == 0 or w1 == end_ns):
                log.info("usage_30m %s: derived up to %s (%d of %d chunks)", fuel, _to_dt(w1),
                         done, n_chunks)
        res.households = len(households)
        if res.spikes or res.resets:
            log.warning("usage_30m %s: %d counter resets handled, %d implausible steps dropped",
                        fuel, res.resets, res.spikes)
        results.append(res)
    return results


@dataclass
class RebuildResult:
    fuel: str
    since: dt.datetime | None
    until: dt.datetime | None
    days_written: int = 0
    half_hours_read: int = 0

    def describe(self) -> str:
        if self.since is None:
            return f"usage_day {self.fuel}: no usage_30m, nothing to rebuild"
        return (f"usage_day {self.fuel} {self.since:%Y-%m-%d} to {self.until:%Y-%m-%d} UTC:"
                f" {self.days_written} household-days written from {self.half_hours_read}"
                " half hours of usage_30m")


def rebuild_usage_day(client, *, since: dt.datetime | None = None,
                      until: dt.datetime | None = None, fuels=FUELS,
                      chunk_days: int = 1) -> list[RebuildResult]:
    """Write the `usage_day` rollup of the `usage_30m` already stored (a database written before
    `usage_day` existed, or usage_30m written by hand). Idempotent; whole UTC days from the day
    holding `since` (default: the first usage_30m) to the one holding `until` (default: the
    last)."""
    from hearth.influx import quote_ident, quote_string, usage_day_lines

    src = f'{quote_ident(client.database)}."usage"."usage_30m"'
    day_ns = 86_400 * 10**9
    results = []
    for fuel in fuels or FUELS:
        fq = quote_string(fuel)
        lo = _ns(since) if since is not None else _one_time(
            client, f'SELECT first("energy_kwh") FROM {src} WHERE "fuel" = {fq}')
        hi = _ns(until) if until is not None else _one_time(
            client, f'SELECT last("energy_kwh") FROM {src} WHERE "fuel" = {fq}')
        if lo is None or hi is None:
            results.append(RebuildResult(fuel, None, None))
            continue
        d0, d1 = lo - lo % day_ns, hi - hi % day_ns + day_ns
        res = RebuildResult(fuel, _to_dt(d0), _to_dt(d1 - day_ns))
        step = max(1, chunk_days) * day_ns
        n_chunks = -(-(d1 - d0) // step)
        for k, w0 in enumerate(range(d0, d1, step), 1):
            w1 = min(w0 + step, d1)
            series = client.query(f'SELECT "energy_kwh" FROM {src} WHERE "fuel" = {fq}'
                                  f' AND time >= {w0} AND time < {w1} GROUP BY "household"')
            series = [s for s in series if len(s)]
            if series:
                hh = np.concatenate([np.full(len(s), s.tags.get("household", ""), dtype=object)
                                     for s in series])
                t = np.concatenate([s.values["time"].astype(np.int64) for s in series])
                e = np.concatenate([s.values["energy_kwh"] for s in series])
                lines = usage_day_lines(hh, fuel, e, t)
                res.days_written += client.write_lines(lines, retention_policy="usage").written
                res.half_hours_read += int(np.isfinite(e).sum())
            if k % max(1, n_chunks // 10) == 0 or w1 == d1:
                log.info("usage_day %s: rebuilt up to %s (%d of %d chunks)", fuel,
                         _to_dt(w1), k, n_chunks)
        results.append(res)
    return results


def rebuild_usage_day_from_settings(settings, since=None, until=None,
                                    fuels=None) -> list[RebuildResult]:
    from hearth.influx import InfluxClient

    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        return rebuild_usage_day(client, since=since, until=until, fuels=fuels or FUELS)


def derive_usage_from_settings(settings, since=None, until=None, fuels=None,
                               shard=None) -> list[DeriveResult]:
    """`hearth collect derive-usage [--shard i/N]`: with a shard, only the households of its
    patches (hearth.shards), per fuel."""
    from hearth.influx import InfluxClient

    c = settings.collectors
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        kwargs = dict(since=since, until=until, max_gap_s=c.usage_max_gap_s,
                      max_power_kw={"electricity": c.usage_max_power_kw_electricity,
                                    "gas": c.usage_max_power_kw_gas})
        if shard is None:
            return derive_usage(client, fuels=fuels or FUELS, **kwargs)
        from hearth.shards import households_in, registry_patches

        patch_of = registry_patches(settings.registry.target)
        results = []
        for fuel in fuels or FUELS:
            mine = households_in(shard, meter_households(client, fuel), patch_of)
            log.info("usage_30m %s: shard %s has %d households", fuel, shard, len(mine))
            results += derive_usage(client, fuels=[fuel], households=mine, **kwargs)
        return results


def meter_households(client, fuel: str) -> list[str]:
    """Households with `meter` readings of this fuel (the series index: no data scanned)."""
    from hearth.influx import quote_ident, quote_string

    series = client.query(f'SHOW TAG VALUES FROM {quote_ident(client.database)}."raw"."meter"'
                          f' WITH KEY = "household" WHERE "fuel" = {quote_string(fuel)}',
                          epoch=None)
    return sorted({str(v) for s in series for v in s.values.get("value", [])})
