"""Open data against differencing (issue 14): two exports of one month, before and after one
home left (or joined), must not give that home's kWh or cost by subtraction, nor by any linear
combination of everything published; each publication is recorded in the real SQLite
registry and checked against all earlier ones of the month."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from advisor.reports import opendata
from advisor.reports.opendata_record import earlier_cells, publications, record, safe_table
from hearth.registry import Registry

K = 10
MONTH = "2026-01"
KEY = ["fuel", "area", "property_type", "level"]


def january_homes(seed: int = 7) -> pd.DataFrame:
    """Three estates x two property types, 12 to 14 homes each; electricity for all, gas for
    the houses; every home a different kWh (so a leaked value is recognisable)."""
    rng = np.random.default_rng(seed)
    rows, n = [], 0
    for area, sizes in (("Alder", (12, 13)), ("Birch", (14, 12)), ("Cedar", (13, 12))):
        for ptype, size in zip(("flat", "house"), sizes, strict=True):
            for _ in range(size):
                n += 1
                kwh = float(rng.uniform(150, 450))
                rows.append((f"H{n:06d}", area, ptype, "electricity", kwh,
                             round(kwh * 0.2611 + 31 * 0.5719, 2)))
                if ptype == "house":
                    gas = float(rng.uniform(600, 1500))
                    rows.append((f"H{n:06d}", area, ptype, "gas", gas,
                                 round(gas * 0.0733 + 31 * 0.2904, 2)))
    return pd.DataFrame(rows, columns=["household_id", "area", "property_type", "fuel",
                                       "energy_kwh", "cost_gbp"])


@pytest.fixture
def registry(tmp_path):
    reg = Registry(tmp_path / "registry.sqlite3")
    yield reg
    reg.close()


def publish(reg, rows: pd.DataFrame) -> pd.DataFrame:
    table, members, reasons = safe_table(rows, MONTH, "estate", K, earlier_cells(reg.conn, MONTH))
    record(reg.conn, MONTH, "estate", f"energy_{MONTH}.csv", K, table, members, reasons,
           pd.Timestamp("2026-02-01T03:00:00Z").to_pydatetime())
    return table


def naive(rows: pd.DataFrame) -> pd.DataFrame:
    """What Hearth published before this check: each table suppressed on its own."""
    return opendata.publishable(opendata.suppress(opendata.aggregate(rows), K), MONTH, "estate")


def subtraction_attack(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Every cell published in both, before minus after, as the issue's attacker does it."""
    both = before.merge(after, on=KEY, suffixes=("_a", "_b"))
    both = both[(both["marker_a"] != "c") & (both["marker_b"] != "c")]
    return pd.DataFrame({"fuel": both["fuel"], "homes": both["homes_a"] - both["homes_b"],
                         "energy_kwh": both["energy_kwh_a"] - both["energy_kwh_b"],
                         "cost_gbp": both["cost_gbp_a"] - both["cost_gbp_b"]})


def determined(tables: list[pd.DataFrame], rows_by_table: list[pd.DataFrame], home: str,
               fuel: str) -> bool:
    """Whether ``home``'s value is fixed by every published cell of every table, as linear
    equations over the homes (rank test, written apart from the code under test)."""
    homes = sorted(set().union(*[set(r.loc[r["fuel"] == fuel, "household_id"])
                                 for r in rows_by_table]))
    col = {h: j for j, h in enumerate(homes)}
    eqs = []
    for table, rows in zip(tables, rows_by_table, strict=True):
        members = opendata.members(rows, opendata.aggregate(rows))
        for (_, r), m in zip(table.iterrows(), members, strict=True):
            if r["fuel"] == fuel and r["marker"] != "c":
                v = np.zeros(len(homes))
                v[[col[h] for h in m]] = 1
                eqs.append(v)
    if home not in col:
        return False
    a = np.array(eqs)
    e = np.zeros(len(homes))
    e[col[home]] = 1
    return np.linalg.matrix_rank(np.vstack([a, e])) == np.linalg.matrix_rank(a)


def test_the_attack_works_on_tables_suppressed_one_by_one():
    """The issue's finding, reproduced: so this test can tell a fix from no fix."""
    before = january_homes()
    leaver = before[before["household_id"] == "H000005"]
    after = before[before["household_id"] != "H000005"]
    diff = subtraction_attack(naive(before), naive(after))
    hit = diff[(diff["homes"] == 1) & (diff["fuel"] == "electricity")]
    assert len(hit) and np.allclose(hit["energy_kwh"], leaver["energy_kwh"].iloc[0], atol=0.11)
    assert np.allclose(hit["cost_gbp"], leaver["cost_gbp"].iloc[0], atol=0.011)


@pytest.mark.parametrize("leaver", ["H000005", "H000020", "H000040"])  # a flat, houses with gas
def test_a_home_that_left_is_not_revealed(registry, leaver):
    before = january_homes()
    after = before[before["household_id"] != leaver]
    first = publish(registry, before)
    second = publish(registry, after)
    mine = before[before["household_id"] == leaver]
    diff = subtraction_attack(first, second)
    for _, r in mine.iterrows():
        d = diff[diff["fuel"] == r["fuel"]]
        assert not np.isclose(d["energy_kwh"], r["energy_kwh"], atol=0.11).any()
        assert not np.isclose(d["cost_gbp"], r["cost_gbp"], atol=0.011).any()
        assert not determined([first, second], [before, after], leaver, r["fuel"])
    # No published cell of either is under k, and the second still publishes what it safely
    # can: cells that do not hold the leaver are the same homes as before.
    for t in (first, second):
        assert (t.loc[t["marker"] != "c", "homes"] >= K).all()
    assert (second["marker"] != "c").sum() > 0
    reasons = registry.conn.execute(
        "SELECT reason, count(*) FROM opendata_cells c JOIN opendata_publications p USING"
        " (publication_id) WHERE p.publication_id = 2 AND c.published = 0 GROUP BY reason"
        ).fetchall()
    assert "differencing" in dict(reasons)


def test_a_home_that_joined_is_not_revealed(registry):
    after = january_homes()
    before = after[after["household_id"] != "H000030"]
    first, second = publish(registry, before), publish(registry, after)
    joined = after[after["household_id"] == "H000030"]
    diff = subtraction_attack(second, first)
    for _, r in joined.iterrows():
        d = diff[diff["fuel"] == r["fuel"]]
        assert not np.isclose(d["energy_kwh"], r["energy_kwh"], atol=0.11).any()
        assert not determined([first, second], [before, after], "H000030", r["fuel"])


def test_same_homes_republished_unchanged_and_recorded(registry):
    rows = january_homes()
    first, second = publish(registry, rows), publish(registry, rows)
    pd.testing.assert_frame_equal(first, second)
    assert [p["period"] for p in publications(registry.conn)] == [MONTH, MONTH]
    cells = registry.conn.execute("SELECT count(*), sum(published) FROM opendata_cells WHERE"
                                  " publication_id = 1").fetchone()
    assert cells[0] == len(first) and cells[1] == int((first["marker"] != "c").sum())
    # Hidden cells keep no households in the record; published ones keep their ids only.
    assert registry.conn.execute("SELECT count(*) FROM opendata_cells WHERE published = 0 AND"
                                 " members_json <> '[]'").fetchone()[0] == 0


def test_many_homes_leaving_at_once_may_be_published(registry):
    """A difference of k or more homes is a group big enough to publish: not over-hidden."""
    before = january_homes()
    gone = set(before.loc[(before["area"] == "Birch") & (before["property_type"] == "flat"),
                          "household_id"])                   # all 14 Birch flats
    after = before[~before["household_id"].isin(gone)]
    publish(registry, before)
    second = publish(registry, after)
    total = second[(second["fuel"] == "electricity") & (second["level"] == "total")].iloc[0]
    assert total["marker"] == "" and total["homes"] == 76 - 14
