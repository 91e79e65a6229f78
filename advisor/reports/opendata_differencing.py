"""Open data against differencing: a table is checked against every earlier publication of
the same month before it goes out, so that no group of fewer than ``k`` homes can be worked
out by subtracting one publication from another (pure functions; the record of what was
published is advisor.reports.opendata_record).

The attack: January published with 120 homes, then again after one home left. Every cell
that held that home now differs by exactly that home, so "before minus after" gives its kWh
and cost, although each table on its own has no group under ``k``. This is "disclosure by
differencing" (ONS, "Protecting personal data in Census 2021 results", 2023; Duke-Williams and
Rees, "Can Census Offices publish statistics for more than one small area geography?", IJGIS
12(6), 1998). ONS protects its flexible census tables with cell-key perturbation; Hearth
publishes few tables and records each one, so it can check every new table exactly against all
earlier ones and suppress instead (docs/reports.md, "Open data and differencing").

Two checks, on the households behind each cell (pseudonymous ids), per fuel:

1. Difference rule: a cell is published only if, against every cell published earlier for
   the month, the two sets of homes are the same or differ by at least ``k`` homes
   (symmetric difference 0 or >= k).
2. Exact audit across publications: every published cell, earlier and new, is an equation
   (its total = the sum of its homes). Homes that sit in exactly the same published cells are
   one unknown (an "atom"); an atom's total is recoverable exactly when its unit vector lies
   in the row space of the equations (diagonal of the projector pinv(M) M equal to 1). An
   atom of fewer than ``k`` homes that becomes recoverable because of the new table is a
   disclosure: one of the new cells in the combination that recovers it is hidden.

A hidden cell triggers the usual secondary suppression of the new table, and both checks run
again until nothing changes (hiding only grows, so this ends). Hidden cells publish nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from advisor.reports.opendata import Key, row_keys, suppress

TOL = 1e-7


def _atoms(sets: list[frozenset[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Incidence matrix (sets x atoms) and atom sizes; an atom is the homes that belong to
    exactly the same sets."""
    signature: dict[str, list[int]] = {}
    for i, s in enumerate(sets):
        for h in s:
            signature.setdefault(h, []).append(i)
    groups: dict[tuple[int, ...], int] = {}
    for rows in signature.values():
        key = tuple(rows)
        groups[key] = groups.get(key, 0) + 1
    m = np.zeros((len(sets), len(groups)))
    sizes = np.zeros(len(groups), np.int64)
    for j, (rows, n) in enumerate(sorted(groups.items())):
        m[list(rows), j] = 1.0
        sizes[j] = n
    return m, sizes


def _determined(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which atoms are recoverable from the rows of m, pinv(m))."""
    if m.size == 0:
        return np.zeros(m.shape[1], bool), np.zeros((m.shape[1], m.shape[0]))
    pinv = np.linalg.pinv(m)
    return np.abs(np.diag(pinv @ m) - 1.0) < 1e-6, pinv


def audit(earlier: list[frozenset[str]], new: list[frozenset[str]], k: int) -> int | None:
    """Index in ``new`` of a cell to hide because, with it, an atom of fewer than ``k`` homes
    becomes recoverable from all publications together; None when there is none."""
    if not new:
        return None
    m, sizes = _atoms([*earlier, *new])
    determined, pinv = _determined(m)
    before = _determined(m[:len(earlier)])[0] if earlier else np.zeros(len(sizes), bool)
    exposed = np.flatnonzero(determined & ~before & (sizes < k))
    if exposed.size == 0:
        return None
    coeffs = pinv[exposed[0]][len(earlier):]        # how the new cells recover it
    used = [i for i in np.flatnonzero(np.abs(coeffs) > TOL)]
    if not used:
        used = list(range(len(new)))
    return int(min(used, key=lambda i: (len(new[i]), i)))


def close_difference(new: frozenset[str], earlier: list[frozenset[str]], k: int) -> bool:
    """True when ``new`` differs from an earlier published set by 1 to k-1 homes."""
    n = len(new)
    # |A ^ B| >= ||A| - |B||: only sets of nearly the same size need the set operation.
    return any(abs(n - len(e)) < k and 0 < len(new ^ e) < k for e in earlier)


def protect(table: pd.DataFrame, members: list[frozenset[str]],
            earlier: list[tuple[str, frozenset[str]]], k: int
            ) -> tuple[pd.DataFrame, dict[Key, str]]:
    """Suppress ``table`` (from opendata.aggregate; ``members`` its homes per row) so that it
    is safe alone and together with the ``earlier`` published cells (fuel, homes) of the same
    month. Returns the suppressed table and why each hidden cell is hidden: 'small' (under
    ``k`` homes), 'differencing' (checks above) or 'secondary' (so the others stay hidden)."""
    keys = row_keys(table)
    homes_of = dict(zip(keys, members, strict=True))
    forced: set[Key] = set()
    while True:
        t = suppress(table, k, forced)
        published = [key for key, hidden in zip(row_keys(t), t["suppressed"], strict=True)
                     if not hidden]
        more: set[Key] = set()
        for fuel in sorted({key[0] for key in published}):
            old = [s for f, s in earlier if f == fuel]
            new = [key for key in published if key[0] == fuel]
            more |= {key for key in new if close_difference(homes_of[key], old, k)}
            if not more:
                hide = audit(old, [homes_of[key] for key in new], k)
                if hide is not None:
                    more.add(new[hide])
        if not more:
            break
        forced |= more
    n_homes = dict(zip(keys, table["homes"].astype(int), strict=True))
    reasons = {}
    for key, hidden in zip(row_keys(t), t["suppressed"], strict=True):
        if hidden:
            reasons[key] = ("differencing" if key in forced
                            else "small" if 0 < n_homes[key] < k else "secondary")
    return t, reasons
