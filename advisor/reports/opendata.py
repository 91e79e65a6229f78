"""Open data: monthly consumption and cost by area, property type and fuel, safe to publish.

Pure functions. `aggregate` sums households into cells (area x property type, per fuel) with
their margins (area totals, property type totals, the fuel total); `suppress` hides every group
of fewer than ``k`` homes (primary suppression) and then more groups (secondary suppression) until
no hidden group can be worked out from the published ones:

1. every published line (a margin and the cells that add up to it) hides either none or at least
   two of its members, so no single subtraction recovers one;
2. an exact audit: with the hidden groups as unknowns and every margin as an equation, a hidden
   group is recoverable exactly when its unit vector lies in the row space of the equations, i.e.
   its row of the null space basis is zero. Any such group gets a published neighbour hidden
   too (on its own line, or else the smallest published group on a line with a hidden one), and
   the audit runs again. Hiding only grows, so this ends.

Households never appear, only groups of at least ``k`` homes; hidden groups publish no number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALL = "All"
MEASURES = ("homes", "energy_kwh", "cost_gbp")


def aggregate(homes: pd.DataFrame) -> pd.DataFrame:
    """Group totals. homes: one row per household and fuel with columns area, property_type,
    fuel, energy_kwh [kWh], cost_gbp [GBP]. Returns rows (fuel, area, property_type, level,
    homes, energy_kwh, cost_gbp); level is cell, area_total, property_type_total or total, with
    ``All`` in the aggregated column(s). Sorted by fuel, level, area, property type."""
    cols = ["fuel", "area", "property_type"]
    g = homes.assign(homes=1)
    parts = []
    for level, keys in (("cell", cols), ("area_total", ["fuel", "area"]),
                        ("property_type_total", ["fuel", "property_type"]), ("total", ["fuel"])):
        agg = g.groupby(keys, sort=True)[list(MEASURES)].sum().reset_index()
        for c in cols:
            if c not in keys:
                agg[c] = ALL
        agg["level"] = level
        parts.append(agg[[*cols, "level", *MEASURES]])
    out = pd.concat(parts, ignore_index=True)
    order = {"cell": 0, "area_total": 1, "property_type_total": 2, "total": 3}
    out["_o"] = out["level"].map(order)
    out = out.sort_values(["fuel", "_o", "area", "property_type"], kind="mergesort")
    return out.drop(columns="_o").reset_index(drop=True)


def _lines(table: pd.DataFrame) -> list[list[int]]:
    """Additive lines within one fuel: [total row, member rows...] (positions in ``table``)."""
    pos = {(r.area, r.property_type): i for i, r in enumerate(table.itertuples())}
    lines = []
    cells = table[table["level"] == "cell"]
    for area, sub in cells.groupby("area", sort=True):
        lines.append([pos[(area, ALL)], *[pos[(area, p)] for p in sub["property_type"]]])
    for ptype, sub in cells.groupby("property_type", sort=True):
        lines.append([pos[(ALL, ptype)], *[pos[(a, ptype)] for a in sub["area"]]])
    areas = table[table["level"] == "area_total"]
    types = table[table["level"] == "property_type_total"]
    lines.append([pos[(ALL, ALL)], *[pos[(a, ALL)] for a in areas["area"]]])
    lines.append([pos[(ALL, ALL)], *[pos[(ALL, p)] for p in types["property_type"]]])
    return lines


def recoverable(n_rows: int, lines: list[list[int]], hidden: np.ndarray) -> np.ndarray:
    """Which hidden rows are determined exactly by the published rows and the line equations
    (total = sum of members). Boolean (n_rows,)."""
    idx = np.flatnonzero(hidden)
    out = np.zeros(n_rows, bool)
    if idx.size == 0:
        return out
    col = {r: j for j, r in enumerate(idx)}
    eqs = []
    for line in lines:
        if not any(hidden[r] for r in line):
            continue
        row = np.zeros(idx.size)
        total, members = line[0], line[1:]
        if hidden[total]:
            row[col[total]] = 1.0
        for m in members:
            if hidden[m]:
                row[col[m]] -= 1.0
        eqs.append(row)
    if not eqs:
        return out
    A = np.array(eqs)
    # Null space basis from the SVD: rows of vt beyond the rank.
    _, s, vt = np.linalg.svd(A, full_matrices=True)
    rank = int((s > 1e-9 * max(1.0, s.max(initial=0.0))).sum())
    null = vt[rank:].T                              # (unknowns, nullity)
    determined = np.all(np.abs(null) < 1e-7, axis=1) if null.size else np.ones(idx.size, bool)
    out[idx[determined]] = True
    return out


Key = tuple[str, str, str, str]   # fuel, area, property_type, level: one cell of a table


def row_keys(table: pd.DataFrame) -> list[Key]:
    return list(zip(table["fuel"], table["area"], table["property_type"], table["level"],
                    strict=True))


def members(homes: pd.DataFrame, table: pd.DataFrame) -> list[frozenset[str]]:
    """The households behind each row of ``aggregate(homes)`` (``homes`` with household_id),
    in the table's order: what a later publication is checked against (differencing)."""
    groups: dict[Key, set[str]] = {}
    for (fuel, area, ptype), ids in homes.groupby(["fuel", "area", "property_type"],
                                                  sort=False)["household_id"]:
        ids = set(ids)
        for key in ((fuel, area, ptype, "cell"), (fuel, area, ALL, "area_total"),
                    (fuel, ALL, ptype, "property_type_total"), (fuel, ALL, ALL, "total")):
            groups.setdefault(key, set()).update(ids)
    return [frozenset(groups.get(key, ())) for key in row_keys(table)]


def suppress(table: pd.DataFrame, k: int = 10, force: frozenset[Key] | set[Key] = frozenset()
             ) -> pd.DataFrame:
    """Hide groups of fewer than ``k`` homes, the rows in ``force`` (hidden for differencing,
    advisor.reports.opendata_differencing), and enough others that none can be recovered.
    Adds ``suppressed`` (bool); hidden rows keep no measure (NaN). Works per fuel."""
    out = []
    for _, t in table.groupby("fuel", sort=True):
        t = t.reset_index(drop=True)
        homes = t["homes"].to_numpy(np.int64)
        hidden = (homes > 0) & (homes < k)
        if force:
            hidden |= np.array([key in force for key in row_keys(t)], bool)
        lines = _lines(t)
        while True:
            changed = False
            # 1. No line with exactly one hidden member.
            for line in lines:
                h = [r for r in line if hidden[r]]
                if len(h) == 1:
                    _hide_neighbour(line, hidden, homes, t)
                    changed = True
            # 2. Exact audit.
            if not changed:
                found = np.flatnonzero(recoverable(len(t), lines, hidden))
                if found.size:
                    r = int(found[0])
                    line = next((ln for ln in lines
                                 if r in ln and any(not hidden[x] for x in ln)), None)
                    if line is None:
                        # Its own lines are all hidden: the published rows that pin it down sit
                        # further away. Hide the smallest published row next to any hidden one.
                        line = sorted({x for ln in lines if any(hidden[y] for y in ln)
                                       for x in ln})
                    _hide_neighbour(line, hidden, homes, t)
                    changed = True
            if not changed:
                break
        t["suppressed"] = hidden
        for m in MEASURES:
            t[m] = t[m].astype(float).where(~hidden)
        out.append(t)
    return pd.concat(out, ignore_index=True) if out else table.assign(suppressed=False)


def _hide_neighbour(line: list[int], hidden: np.ndarray, homes: np.ndarray,
                    t: pd.DataFrame) -> None:
    """Hide the published member of ``line`` with the fewest homes (cells before totals, then
    by area and property type, so the choice is the same every time)."""
    candidates = [r for r in line if not hidden[r]]
    if not candidates:
        return
    level_rank = {"cell": 0, "area_total": 1, "property_type_total": 1, "total": 2}
    best = min(candidates, key=lambda r: (level_rank[t.at[r, "level"]], homes[r],
                                          t.at[r, "area"], t.at[r, "property_type"]))
    hidden[best] = True


def publishable(table: pd.DataFrame, month: str, area_type: str) -> pd.DataFrame:
    """The CSV's rows: rounded measures, means per home, a marker on hidden groups."""
    t = table.copy()
    t.insert(0, "month", month)
    t.insert(1, "area_type", area_type)
    with np.errstate(invalid="ignore", divide="ignore"):
        t["energy_kwh_per_home"] = (t["energy_kwh"] / t["homes"]).round(1)
        t["cost_gbp_per_home"] = (t["cost_gbp"] / t["homes"]).round(2)
    t["energy_kwh"] = t["energy_kwh"].round(1)
    t["cost_gbp"] = t["cost_gbp"].round(2)
    t["homes"] = t["homes"].astype("Int64")
    t["marker"] = np.where(t["suppressed"], "c", "")
    return t[["month", "area_type", "area", "property_type", "fuel", "level", "homes",
              "energy_kwh", "energy_kwh_per_home", "cost_gbp", "cost_gbp_per_home", "marker"]]
