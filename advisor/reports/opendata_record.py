"""The registry's record of open data publications (tables opendata_publications and
opendata_cells): every cell published, with its figures and the pseudonymous household ids
behind it, so that a later table of the same month is checked against all earlier ones."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from advisor.db import transaction
from advisor.reports import opendata
from advisor.reports.opendata import Key, row_keys
from advisor.reports.opendata_differencing import protect


def earlier_cells(conn, period: str) -> list[tuple[str, frozenset[str]]]:
    """(fuel, households) of every cell published for ``period`` so far, any geography."""
    rows = conn.execute("SELECT c.fuel, c.members_json FROM opendata_cells c JOIN"
                        " opendata_publications p USING (publication_id) WHERE p.period = ?"
                        " AND c.published = 1", (period,)).fetchall()
    return [(r[0], frozenset(json.loads(r[1]))) for r in rows]


def publications(conn, period: str | None = None) -> list[dict]:
    sql = "SELECT * FROM opendata_publications"
    args: tuple = ()
    if period:
        sql, args = sql + " WHERE period = ?", (period,)
    cur = conn.execute(sql + " ORDER BY publication_id", args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def record(conn, period: str, area_type: str, csv_name: str, k: int, table: pd.DataFrame,
           members: dict[Key, frozenset[str]], reasons: dict[Key, str], at: datetime) -> int:
    """Store one publication: ``table`` is the published CSV's rows (opendata.publishable).
    Returns its publication_id. One transaction: all of it or nothing."""
    with transaction(conn):
        cur = conn.execute("INSERT INTO opendata_publications (period, area_type, published_at,"
                           " csv_name, min_group_homes) VALUES (?, ?, ?, ?, ?)",
                           (period, area_type, at.strftime("%Y-%m-%dT%H:%M:%SZ"), csv_name, k))
        pid = int(cur.lastrowid)
        rows = []
        for key, r in zip(row_keys(table), table.itertuples(index=False), strict=True):
            shown = r.marker != "c"
            rows.append((pid, *key, int(shown), reasons.get(key),
                         int(r.homes) if shown else None,
                         float(r.energy_kwh) if shown else None,
                         float(r.cost_gbp) if shown else None,
                         json.dumps(sorted(members[key])) if shown else "[]"))
        conn.executemany("INSERT INTO opendata_cells (publication_id, fuel, area, property_type,"
                         " level, published, reason, homes, energy_kwh, cost_gbp, members_json)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return pid


def safe_table(rows: pd.DataFrame, month: str, area_type: str, k: int,
               earlier: list[tuple[str, frozenset[str]]]
               ) -> tuple[pd.DataFrame, dict[Key, frozenset[str]], dict[Key, str]]:
    """The CSV rows for ``rows`` (one per household and fuel, with household_id), suppressed
    so that they are safe alone and with the ``earlier`` cells; with each row's households
    and the reason each hidden row is hidden (for ``record``)."""
    table = opendata.aggregate(rows)
    homes = opendata.members(rows, table)
    suppressed, reasons = protect(table, homes, earlier, k)
    return (opendata.publishable(suppressed, month, area_type),
            dict(zip(row_keys(table), homes, strict=True)), reasons)
