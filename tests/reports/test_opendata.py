"""Open data: no published group under the threshold and no suppressed group recoverable from
the rest, for random portfolios (hypothesis); the export against the real InfluxDB."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.reports import opendata
from advisor.reports.period import month_period
from hearth.cli import build_parser
from hearth.influx import USAGE_RP, InfluxClient, usage_lines
from tests.reports import portfolio as pf

AREAS = ["Alder", "Beech", "Cedar", "Damson", "Elm", "Fir"]
TYPES = ["flat", "maisonette", "house", "bungalow"]


@st.composite
def portfolios(draw):
    n = draw(st.integers(0, 250))
    weights_a = draw(st.lists(st.floats(0.01, 1), min_size=len(AREAS), max_size=len(AREAS)))
    weights_t = draw(st.lists(st.floats(0.01, 1), min_size=len(TYPES), max_size=len(TYPES)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    pa = np.array(weights_a) / sum(weights_a)
    pt = np.array(weights_t) / sum(weights_t)
    return pd.DataFrame({"area": rng.choice(AREAS, n, p=pa), "property_type": rng.choice(TYPES, n, p=pt),
                         "fuel": rng.choice(["electricity", "gas"], n, p=[0.6, 0.4]),
                         "energy_kwh": np.round(rng.gamma(2.0, 120.0, n), 3),
                         "cost_gbp": np.round(rng.gamma(2.0, 35.0, n), 2)})


def _independent_lines(t: pd.DataFrame) -> list[tuple[int, list[int]]]:
    """(total, members) of every additive relation, built from the rows' keys."""
    key = {(r.area, r.property_type): i for i, r in enumerate(t.itertuples())}
    lines = []
    for (a, p), i in key.items():
        if a == opendata.ALL and p == opendata.ALL:
            lines.append((i, [j for (a2, p2), j in key.items() if a2 != opendata.ALL and p2 == opendata.ALL]))
            lines.append((i, [j for (a2, p2), j in key.items() if a2 == opendata.ALL and p2 != opendata.ALL]))
        elif p == opendata.ALL:
            lines.append((i, [j for (a2, p2), j in key.items() if a2 == a and p2 != opendata.ALL]))
        elif a == opendata.ALL:
            lines.append((i, [j for (a2, p2), j in key.items() if p2 == p and a2 != opendata.ALL]))
    return lines


def _recoverable_by_rank(t: pd.DataFrame) -> list[int]:
    """Hidden rows whose value the published rows determine: e_i in the row space of the
    equations over the hidden unknowns (rank test, independent of the SVD in the code)."""
    hidden = np.flatnonzero(t["suppressed"].to_numpy(bool))
    if hidden.size == 0:
        return []
    col = {r: j for j, r in enumerate(hidden)}
    rows = []
    for total, members in _independent_lines(t):
        row = np.zeros(hidden.size)
        if total in col:
            row[col[total]] += 1
        for m in members:
            if m in col:
                row[col[m]] -= 1
        if row.any():
            rows.append(row)
    if not rows:
        return list(hidden)
    A = np.array(rows)
    rank = np.linalg.matrix_rank(A)
    out = []
    for r, j in col.items():
        e = np.zeros(hidden.size)
        e[j] = 1
        if np.linalg.matrix_rank(np.vstack([A, e])) == rank:
            out.append(r)
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios(), st.sampled_from([3, 10]))
def test_no_small_group_and_nothing_recoverable(homes, k):
    table = opendata.suppress(opendata.aggregate(homes), k)
    published = table[~table["suppressed"]]
    # 1. No published group of fewer than k homes, whatever row a reader filters to.
    assert (published["homes"] >= k).all()
    # 2. Published numbers are the true sums.
    for r in published.itertuples():
        sel = homes["fuel"] == r.fuel
        if r.area != opendata.ALL:
            sel &= homes["area"] == r.area
        if r.property_type != opendata.ALL:
            sel &= homes["property_type"] == r.property_type
        assert r.homes == sel.sum()
        assert r.energy_kwh == pytest.approx(homes.loc[sel, "energy_kwh"].sum())
    # 3. Hidden rows publish nothing and none can be worked out from the totals.
    hidden = table[table["suppressed"]]
    assert hidden[["homes", "energy_kwh", "cost_gbp"]].isna().all().all()
    for _, t in table.groupby("fuel"):
        t = t.reset_index(drop=True)
        for total, members in _independent_lines(t):
            n_hidden = sum(t.at[x, "suppressed"] for x in [total, *members])
            assert n_hidden != 1
        assert _recoverable_by_rank(t) == []


def test_publishable_marks_and_rounds():
    homes = pd.DataFrame({"area": ["A"] * 12 + ["B"] * 3, "property_type": "flat",
                          "fuel": "electricity", "energy_kwh": 100.04, "cost_gbp": 30.005})
    out = opendata.publishable(opendata.suppress(opendata.aggregate(homes), 10), "2026-02",
                               "estate")
    b = out[(out["area"] == "B")]
    assert (b["marker"] == "c").all() and b["energy_kwh"].isna().all()
    total = out[out["level"] == "total"].iloc[0]
    assert (total["homes"], total["energy_kwh"], total["marker"]) == (15, 1500.6, "")
    assert total["energy_kwh_per_home"] == 100.0


FEB = month_period("2026-02")


@pytest.fixture(scope="module")
def february(report_settings):
    """A full month of half-hourly use for the fixture homes: 0.1 kWh electricity and 0.5 kWh
    gas every half hour."""
    times = FEB.start_ns + np.arange(FEB.days * 48, dtype=np.int64) * pf.HH_NS
    lines = []
    for h in pf.homes():
        lines += usage_lines(h.household_id, "electricity", np.full(times.size, 0.1), times)
        if h.has_gas:
            lines += usage_lines(h.household_id, "gas", np.full(times.size, 0.5), times)
    with InfluxClient.from_settings(report_settings) as client:
        client.write_lines(lines, USAGE_RP)
    return report_settings


def test_export_month(february, tmp_path, capsys):
    args = build_parser().parse_args(["opendata", "export", "--out", str(tmp_path),
                                      "--month", "2026-02"])
    assert args.func(args, february) == 0
    folder = tmp_path / "opendata-2026-02"
    data = pd.read_csv(folder / "energy_2026-02.csv", keep_default_na=False, na_values=[""])
    meta = json.loads((folder / "energy_2026-02.csv-metadata.json").read_text())
    assert [c["name"] for c in meta["tableSchema"]["columns"]] == list(data.columns)
    assert meta["dc:license"]["name"] == "Open Government Licence v3.0"
    assert meta["url"] == "energy_2026-02.csv"
    units = {c["name"]: c.get("hearth:unit") for c in meta["tableSchema"]["columns"]}
    assert units["energy_kwh"] == "kWh" and units["cost_gbp"] == "GBP"
    published = data[data["marker"] != "c"]
    assert (published["homes"] >= 10).all()
    # 12 flats in Alder Park and 5 houses in Birch Row: only the portfolio totals survive.
    elec = data[(data["fuel"] == "electricity")]
    total = elec[elec["level"] == "total"].iloc[0]
    assert total["homes"] == 17
    assert total["energy_kwh"] == pytest.approx(17 * 28 * 4.8)
    prepay, credit = 6, 11
    cost = 28 * (prepay * (4.8 * 0.24 + 0.48) + credit * (4.8 * 0.30 + 0.55))
    assert total["cost_gbp"] == pytest.approx(round(cost, 2))
    assert (elec[elec["level"] != "total"]["marker"] == "c").all()
    gas_total = data[(data["fuel"] == "gas") & (data["level"] == "total")].iloc[0]
    assert gas_total["homes"] == 11
    assert gas_total["energy_kwh"] == pytest.approx(11 * 28 * 24.0)
    # Nothing that could identify a household or tenant.
    text = (folder / "energy_2026-02.csv").read_text()
    for h in pf.homes():
        assert h.household_id not in text
    assert "Beech House" not in text          # the block is finer than the estate
    assert "(14 rows, 12 suppressed)" in capsys.readouterr().out
    # Recorded in the registry, so a later export of February is checked against it.
    from advisor.reports.opendata_record import publications
    from hearth.registry import Registry

    with Registry(february.registry.target) as reg:
        assert [(p["period"], p["csv_name"]) for p in publications(reg.conn)] == [
            ("2026-02", "energy_2026-02.csv")]


def test_export_bad_month(report_settings, tmp_path):
    from hearth.errors import HearthError

    args = build_parser().parse_args(["opendata", "export", "--out", str(tmp_path),
                                      "--month", "2026-13"])
    with pytest.raises(HearthError, match="YYYY-MM"):
        args.func(args, report_settings)
