"""Half-hourly device summaries for the advisor (`thermostat_30m`, `meter_30m`): the one pass
over raw readings the advisor needs, so its hourly run reads summaries instead of scanning the
window's raw readings again.

One point per device, source and half hour (time = start of the half hour, UTC), tags
``household, device, source`` plus ``room`` (thermostats) or ``fuel`` (meters), in the `usage`
retention policy. A field is absent where the half hour had no value for it (never NaN).

thermostat_30m: temp_sum_c / temp_n (the mean is their ratio, so rooms and half hours combine
  exactly), temp_min_c, temp_max_c, hum_sum_pct / hum_n, hum_min_pct, hum_max_pct,
  setpoint_sum_c / setpoint_n, heating_on (the last report in the half hour, 0/1).
meter_30m: energy_max_kwh, energy_min_kwh, energy_n, volume_max_m3, credit_min_gbp,
  voltage_min_v, voltage_max_v, voltage_n, power_max_w, flow_min_m3_per_h, supply_on (last, 0/1).
Both: first_ns / last_ns (first and last reading of the key field, temp_c or energy_kwh, in the
  half hour [ns]), key_n, gap_max_s / gap_med_s (longest and median spacing between two such
  readings inside the half hour [s]); the advisor adds the spacing across half hours from
  last_ns and the next half hour's first_ns.

`derive_summaries` processes only whole half hours since its last run minus a late-data
look-back (`lookback_s`), reading the raw readings of each half hour in full, so re-running
writes the same points (InfluxDB overwrites a point of the same series and time). Its state,
the end of the last half hour it processed, is the latest point of `rollup_state` (tags job,
shard; field done_until_ns; time = done_until_ns) in the `usage` retention policy: it lives
with the data, so workers on several machines share it. Readings arriving later than the
look-back are not summarised unless the rollup is re-run with `--since`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

log = logging.getLogger("hearth.collectors.summaries")

HALF_HOUR_NS = 1800 * 10**9
THERMOSTAT_30M = "thermostat_30m"
METER_30M = "meter_30m"
ROLLUP_STATE = "rollup_state"
JOB = "summaries"

# (raw field, [(summary field, aggregate)]): sum, n (count), min, max, last.
THERMOSTAT_FIELDS = {
    "temp_c": [("temp_sum_c", "sum"), ("temp_n", "n"), ("temp_min_c", "min"),
               ("temp_max_c", "max")],
    "humidity_pct": [("hum_sum_pct", "sum"), ("hum_n", "n"), ("hum_min_pct", "min"),
                     ("hum_max_pct", "max")],
    "setpoint_c": [("setpoint_sum_c", "sum"), ("setpoint_n", "n")],
    "heating_on": [("heating_on", "last")],
}
METER_FIELDS = {
    "energy_kwh": [("energy_max_kwh", "max"), ("energy_min_kwh", "min"), ("energy_n", "n")],
    "volume_m3": [("volume_max_m3", "max")],
    "credit_gbp": [("credit_min_gbp", "min")],
    "voltage_v": [("voltage_min_v", "min"), ("voltage_max_v", "max"), ("voltage_n", "n")],
    "power_w": [("power_max_w", "max")],
    "flow_m3_per_h": [("flow_min_m3_per_h", "min")],
    "supply_on": [("supply_on", "last")],
}
KINDS = {  # measurement: (summary measurement, its own tag, key field, fields)
    "thermostat": (THERMOSTAT_30M, "room", "temp_c", THERMOSTAT_FIELDS),
    "meter": (METER_30M, "fuel", "energy_kwh", METER_FIELDS),
}
SERIES_TAGS = ("household", "device", "source")
KEY_FIELDS = ("first_ns", "last_ns", "key_n", "gap_max_s", "gap_med_s")
# Runs of repeated readings (a reading equal to the one before) cut at half-hour boundaries:
# the run at the start of the half hour (pre), at its end (suf), the longest run strictly
# inside (best) and the largest amount of any inside run; rep_all: every reading repeats;
# rep_first_*: the first reading's own share (it is no repeat when the window starts there).
# n [readings], s [s], u [rate unit x s: the energy a run should have counted, before the
# fuel's factor].
REPEAT_FIELDS = ("rep_all", "rep_pre_n", "rep_pre_s", "rep_pre_u", "rep_suf_n", "rep_suf_s",
                 "rep_suf_u", "rep_best_n", "rep_best_s", "rep_best_u", "rep_first_s",
                 "rep_first_u")
# A reading's predecessor is looked for this far before a chunk (longer gaps: no repeat).
REPEAT_CONTEXT_NS = 3600 * 10**9


def summary_fields(measurement: str) -> list[str]:
    """Every field a point of `measurement` can hold."""
    fields = next(f for m, _, _, f in KINDS.values() if m == measurement)
    return ([name for aggs in fields.values() for name, _ in aggs] + list(KEY_FIELDS)
            + list(REPEAT_FIELDS))
COUNT_FIELDS = {"temp_n", "hum_n", "setpoint_n", "energy_n", "voltage_n", "key_n", "rep_all",
                "rep_pre_n", "rep_suf_n", "rep_best_n"}
RH_PINNED_LOW, RH_PINNED_HIGH = 0.1, 99.9   # as advisor.inputs: saturated humidity is no repeat


def _float(col) -> np.ndarray:
    a = np.asarray(col)
    if a.dtype == object:
        return np.array([np.nan if v is None else float(v) for v in a])
    return a.astype(np.float64)


def repeat_flags(sid: np.ndarray, t_ns: np.ndarray, equal: list[np.ndarray],
                 rate: np.ndarray | None = None, pinned: np.ndarray | None = None):
    """Per reading (sorted by series, then time) whether it repeats the reading before it in
    its series: every array of `equal` unchanged (and `pinned`, humidity, the mean of the two
    strictly inside 0.1..99.9 %), as advisor.inputs_raw's DIFFERENCE queries ask. Returns
    (repeat, gap to the previous reading [s], the lower of the two `rate` readings x gap)."""
    n = len(t_ns)
    rep = np.zeros(n, bool)
    gap = np.zeros(n)
    amount = np.zeros(n)
    if n < 2:
        return rep, gap, amount
    same = sid[1:] == sid[:-1]
    r = same.copy()
    for v in equal:
        r &= v[1:] == v[:-1]
    if pinned is not None:
        h = (pinned[1:] + pinned[:-1]) / 2
        r &= (h > RH_PINNED_LOW) & (h < RH_PINNED_HIGH)
    rep[1:] = r
    gap[1:] = np.where(same, (t_ns[1:] - t_ns[:-1]) / 1e9, 0.0)
    if rate is not None:
        mean, diff = (rate[1:] + rate[:-1]) / 2, rate[1:] - rate[:-1]
        low = np.clip(np.nan_to_num(mean - np.abs(diff) / 2), 0, None)
        amount[1:] = np.where(r, low * gap[1:], 0.0)
    return rep, gap, amount


def _repeat_segments(cell: np.ndarray, starts: np.ndarray, rep: np.ndarray, gap: np.ndarray,
                     amount: np.ndarray) -> dict[str, np.ndarray]:
    """The REPEAT_FIELDS of each cell from its readings' repeat flags (see repeat_flags)."""
    n, m = len(cell), len(starts)
    ends = np.append(starts[1:], n) - 1
    out = {k: np.zeros(m) for k in REPEAT_FIELDS}
    out["rep_all"] = np.minimum.reduceat(rep.astype(np.int64), starts).astype(np.float64)
    out["rep_first_s"] = np.where(rep[starts], gap[starts], 0.0)
    out["rep_first_u"] = np.where(rep[starts], amount[starts], 0.0)
    if not rep.any():
        return out
    begin = rep.copy()
    begin[1:] &= ~rep[:-1] | (cell[1:] != cell[:-1])
    run = np.cumsum(begin) - 1
    idx = np.flatnonzero(rep)
    rid = run[idx]
    k = int(rid.max()) + 1
    count = np.bincount(rid, minlength=k)
    span = np.bincount(rid, weights=gap[idx], minlength=k)
    total = np.bincount(rid, weights=amount[idx], minlength=k)
    first_i = np.full(k, n)
    np.minimum.at(first_i, rid, idx)
    last_i = np.zeros(k, np.int64)
    np.maximum.at(last_i, rid, idx)
    rcell = cell[first_i]
    at_start = first_i == starts[rcell]
    at_end = last_i == ends[rcell]
    for name, mask in (("pre", at_start), ("suf", at_end)):
        c = rcell[mask]
        out[f"rep_{name}_n"][c] = count[mask]
        out[f"rep_{name}_s"][c] = span[mask]
        out[f"rep_{name}_u"][c] = total[mask]
    inner = ~at_start & ~at_end
    if inner.any():
        c, cnt, sp, tot = rcell[inner], count[inner], span[inner], total[inner]
        # The first of the longest inside runs (runs are in time order), as repeat_runs picks.
        order = np.lexsort((np.arange(len(c)), -cnt, c))
        firsts = order[np.r_[True, c[order][1:] != c[order][:-1]]]
        out["rep_best_n"][c[firsts]] = cnt[firsts]
        out["rep_best_s"][c[firsts]] = sp[firsts]
        np.maximum.at(out["rep_best_u"], c, tot)
    return out


def summarise(sid: np.ndarray, t_ns: np.ndarray, values: dict[str, np.ndarray], key: str,
              fields: dict[str, list[tuple[str, str]]], repeats=None,
              emit_from_ns: int | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Half-hour summaries of readings (pure numpy and pandas).

    sid: (n,) series number of each reading; t_ns: (n,) times [ns]; values: raw field ->
    (n,) float64 (NaN where the reading lacks it). repeats: a function of (sid, t_ns, values)
    sorted, giving `repeat_flags`' answer. Readings before `emit_from_ns` serve only as the
    predecessors of later ones. Returns (series number, half-hour start [ns], {summary field:
    (m,) float64, NaN where none}) for the m (series, half hour) cells holding a reading;
    first_ns and last_ns are int64, -1 where none."""
    if not len(t_ns):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), {}
    order = np.lexsort((t_ns, sid))
    sid, t_ns = sid[order], t_ns[order]
    vals = {k: v[order] for k, v in values.items()}
    rep = repeats(sid, t_ns, vals) if repeats is not None else None
    if emit_from_ns is not None:
        keep = t_ns >= emit_from_ns
        sid, t_ns = sid[keep], t_ns[keep]
        vals = {k: v[keep] for k, v in vals.items()}
        rep = None if rep is None else tuple(a[keep] for a in rep)
    n = len(t_ns)
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), {}
    bucket = t_ns // HALF_HOUR_NS * HALF_HOUR_NS
    new = np.ones(n, bool)
    new[1:] = (sid[1:] != sid[:-1]) | (bucket[1:] != bucket[:-1])
    starts = np.flatnonzero(new)
    cell = np.cumsum(new) - 1
    m = len(starts)
    out: dict[str, np.ndarray] = {}
    idx = np.arange(n)
    for raw, aggs in fields.items():
        v = vals.get(raw)
        if v is None:
            v = np.full(n, np.nan)
        ok = np.isfinite(v)
        count = np.bincount(cell, weights=ok, minlength=m)
        for name, how in aggs:
            if how == "sum":
                r = np.bincount(cell, weights=np.where(ok, v, 0.0), minlength=m)
            elif how == "n":
                r = count.copy()
            elif how == "min":
                r = np.fmin.reduceat(v, starts)
            elif how == "max":
                r = np.fmax.reduceat(v, starts)
            else:  # last: the latest reading that carries the field
                j = np.maximum.reduceat(np.where(ok, idx, -1), starts)
                r = np.where(j >= starts, v[np.maximum(j, 0)], np.nan)
            out[name] = np.where(count > 0, r, np.nan) if how != "n" else r
    # The key field's readings: first, last, and the spacing inside the half hour.
    k_ok = np.isfinite(vals[key])
    kc, kt = cell[k_ok], t_ns[k_ok]
    key_n = np.bincount(kc, minlength=m).astype(np.float64)
    first = np.full(m, -1, np.int64)   # -1: no key reading (times stay exact integers)
    last = np.full(m, -1, np.int64)
    if len(kc):
        kstart = np.ones(len(kc), bool)
        kstart[1:] = kc[1:] != kc[:-1]
        first[kc[kstart]] = kt[kstart]
        kend = np.ones(len(kc), bool)
        kend[:-1] = kc[1:] != kc[:-1]
        last[kc[kend]] = kt[kend]
    gap_max = np.full(m, np.nan)
    gap_med = np.full(m, np.nan)
    inner = np.flatnonzero(kc[1:] == kc[:-1]) if len(kc) > 1 else np.zeros(0, int)
    if len(inner):
        gaps = pd.Series((kt[inner + 1] - kt[inner]) / 1e9, index=kc[inner + 1])
        g = gaps.groupby(level=0)
        gap_max[g.max().index.to_numpy()] = g.max().to_numpy()
        med = g.median()
        gap_med[med.index.to_numpy()] = med.to_numpy()
    out.update(first_ns=first, last_ns=last, key_n=key_n, gap_max_s=gap_max, gap_med_s=gap_med)
    if rep is not None:
        out.update(_repeat_segments(cell, starts, *rep))
    return sid[starts], bucket[starts], out


def summary_lines(measurement: str, tags: dict[str, np.ndarray], time_ns: np.ndarray,
                  fields: dict[str, np.ndarray]) -> list[str]:
    """Line protocol of summary points, leaving out each point's NaN fields (counts and times
    as integers)."""
    from hearth.influx import lines_from_arrays

    if not len(time_ns):
        return []
    names = list(fields)
    finite = np.column_stack([np.isfinite(fields[k]) if fields[k].dtype.kind == "f"
                              else fields[k] >= 0 for k in names])
    # A tag without a value (a thermostat with no room) is left out, as in the raw point.
    tag_names = list(tags)
    present = np.column_stack([np.asarray(tags[k], dtype=object) != "" for k in tag_names])
    pattern = np.packbits(np.hstack([finite, present]), axis=1)
    _, which = np.unique(pattern, axis=0, return_inverse=True)
    which = np.asarray(which).reshape(-1)
    lines: list[str] = []
    for p in np.unique(which):
        rows = np.flatnonzero(which == p)
        cols = {k: fields[k][rows] for j, k in enumerate(names) if finite[rows[0], j]}
        cols = {k: (v.astype(np.int64) if k in COUNT_FIELDS or k.endswith("_ns") else v)
                for k, v in cols.items()}
        if not cols:
            continue
        row_tags = {k: np.asarray(tags[k], dtype=object)[rows] for j, k in enumerate(tag_names)
                    if present[rows[0], j]}
        lines += lines_from_arrays(measurement, row_tags, cols, time_ns[rows])
    return lines


@dataclass
class SummaryResult:
    measurement: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    points_written: int = 0
    devices: set = field(default_factory=set)

    def describe(self) -> str:
        if self.since is None:
            return f"{self.measurement}: nothing new to summarise"
        return (f"{self.measurement} {self.since:%Y-%m-%d %H:%M} to {self.until:%Y-%m-%d %H:%M}"
                f" UTC: {self.points_written} half-hour summaries of {len(self.devices)}"
                " devices written")


def _dt(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)


def _ns(t: dt.datetime) -> int:
    t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return int(t.timestamp()) * 10**9


def read_state(client, shard_label: str = "all") -> int | None:
    """End of the last half hour summarised for this shard [ns], or None (never run)."""
    from hearth.influx import quote_ident, quote_string

    series = client.query(f'SELECT LAST("done_until_ns") FROM {quote_ident(client.database)}.'
                          f'"usage"."{ROLLUP_STATE}" WHERE "job" = {quote_string(JOB)} AND'
                          f' "shard" = {quote_string(shard_label)}')
    for s in series:
        col = s.values.get("last")
        if col is not None and len(col):
            return int(col[-1])
    return None


def write_state(client, done_until_ns: int, shard_label: str = "all") -> None:
    from hearth.influx import lines_from_arrays

    # A point at the time it names (a fixed old time would fall outside the retention
    # period): the latest is the state, older ones are a record of past runs.
    lines = lines_from_arrays(ROLLUP_STATE, {"job": JOB, "shard": shard_label},
                              {"done_until_ns": np.array([done_until_ns], np.int64)},
                              np.array([done_until_ns], np.int64))
    client.write_lines(lines, retention_policy="usage")


def _first_raw(client, measurement: str, key: str, groups: list[str]) -> int | None:
    from hearth.influx import quote_ident

    found = []
    for g in groups:
        cond = f" WHERE {g}" if g else ""
        for s in client.query(f'SELECT FIRST("{key}") FROM {quote_ident(client.database)}.'
                              f'"raw"."{measurement}"{cond}'):
            if len(s.values["time"]):
                found.append(int(s.values["time"][0]))
    return min(found) if found else None


def derive_summaries(client, *, since: dt.datetime | None = None,
                     until: dt.datetime | None = None, lookback_s: float = 7200.0,
                     chunk_s: float = 86_400.0, households=None,
                     shard_label: str = "all", partial: bool = False) -> list[SummaryResult]:
    """Write `thermostat_30m` and `meter_30m` for the whole half hours from the last run (minus
    `lookback_s`) or `since`, up to `until` (default now); see the module docstring.

    households: only these (a shard's), read in groups (hearth.shards.household_filters).
    partial: also summarise the half hour in progress, up to `until` (the advisor's run, so a
    device's last reading is as fresh as the raw data's, not up to 30 minutes old); the state
    stays at the last whole half hour, so the next run writes that half hour again, whole."""
    from hearth.influx import quote_ident
    from hearth.shards import household_filters

    groups = [""] if households is None else household_filters(list(households))
    if households is not None and not groups:
        return [SummaryResult(m) for m, *_ in KINDS.values()]
    db = quote_ident(client.database)
    until_ns = (_ns(until) if until is not None else _ns(dt.datetime.now(dt.UTC)))
    end_ns = until_ns // HALF_HOUR_NS * HALF_HOUR_NS
    read_end_ns = until_ns if partial else end_ns
    state = read_state(client, shard_label)
    if since is not None:
        start_ns = _ns(since) // HALF_HOUR_NS * HALF_HOUR_NS
    elif state is not None:
        start_ns = (state - int(lookback_s * 1e9)) // HALF_HOUR_NS * HALF_HOUR_NS
    else:
        firsts = [t for m, (_, _, key, _) in KINDS.items()
                  if (t := _first_raw(client, m, key, groups)) is not None]
        if not firsts:
            return [SummaryResult(m) for m, *_ in KINDS.values()]
        start_ns = min(firsts) // HALF_HOUR_NS * HALF_HOUR_NS
    chunk_ns = max(int(chunk_s * 1e9) // HALF_HOUR_NS, 1) * HALF_HOUR_NS
    results = []
    for raw, (measurement, own_tag, key, fields) in KINDS.items():
        res = SummaryResult(measurement)
        if start_ns < read_end_ns:
            res.since, res.until = _dt(start_ns), _dt(read_end_ns)
        wanted = ", ".join(f'"{f}"' for f in fields)
        tag_list = ", ".join(f'"{t}"' for t in (*SERIES_TAGS, own_tag))
        for w0 in range(start_ns, read_end_ns, chunk_ns):
            w1 = min(w0 + chunk_ns, read_end_ns)
            for g in groups:
                cond = f" AND {g}" if g else ""
                series = [s for s in client.query(
                    f'SELECT {wanted} FROM {db}."raw"."{raw}" WHERE'
                    f' time >= {w0 - REPEAT_CONTEXT_NS} AND time < {w1}{cond}'
                    f' GROUP BY {tag_list}') if len(s)]
                res.points_written += _summarise_write(client, series, measurement, own_tag,
                                                       key, fields, res.devices, w0)
        results.append(res)
    if start_ns < end_ns and (state is None or end_ns > state):
        write_state(client, end_ns, shard_label)
    return results


def _repeats_of(raw: str, fuel_of_sid: np.ndarray | None):
    """The repeat test of a raw measurement, for `summarise`."""
    if raw == "thermostat":
        return lambda sid, t, v: repeat_flags(sid, t, [v["temp_c"], v["humidity_pct"]],
                                              pinned=v["humidity_pct"])

    def meters(sid, t, v):
        gas = fuel_of_sid[sid] == "gas"
        rate = np.where(gas, v["flow_m3_per_h"], v["power_w"])
        return repeat_flags(sid, t, [v["energy_kwh"]], rate=rate)
    return meters


def _summarise_write(client, series, measurement, own_tag, key, fields, devices,
                     emit_from_ns: int) -> int:
    if not series:
        return 0
    lengths = np.array([len(s) for s in series])
    sid = np.repeat(np.arange(len(series)), lengths)
    t = np.concatenate([s.values["time"].astype(np.int64) for s in series])
    values = {}
    for f in fields:
        parts = [_float(s.values[f]) if f in s.values else np.full(len(s), np.nan)
                 for s in series]
        values[f] = np.concatenate(parts)
    raw = "thermostat" if measurement == THERMOSTAT_30M else "meter"
    fuel_of_sid = np.array([s.tags.get("fuel", "") for s in series], dtype=object)
    cell_sid, cell_t, out = summarise(sid, t, values, key, fields,
                                      _repeats_of(raw, fuel_of_sid), emit_from_ns)
    if not len(cell_t):
        return 0
    tags = {tag: np.array([s.tags.get(tag, "") for s in series], dtype=object)[cell_sid]
            for tag in (*SERIES_TAGS, own_tag)}
    devices.update(series[i].tags.get("device", "") for i in np.unique(cell_sid).tolist())
    lines = summary_lines(measurement, tags, cell_t, out)
    return client.write_lines(lines, retention_policy="usage").written


def derive_summaries_from_settings(settings, since=None, until=None,
                                   shard=None) -> list[SummaryResult]:
    """The summaries part of `hearth collect derive-usage [--shard i/N]`."""
    from hearth.influx import InfluxClient

    lookback_s = float(settings.collectors.summaries_lookback_s)
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        if shard is None:
            return derive_summaries(client, since=since, until=until, lookback_s=lookback_s)
        from hearth.registry import Registry
        from hearth.shards import households_in, registry_patches

        patch_of = registry_patches(settings.registry.target)
        with Registry(settings.registry.target, migrate_schema=False) as reg:
            ids = reg.households_frame(None).index.astype(str).tolist()
        mine = households_in(shard, ids, patch_of)
        return derive_summaries(client, since=since, until=until, lookback_s=lookback_s,
                                households=mine, shard_label=str(shard))
