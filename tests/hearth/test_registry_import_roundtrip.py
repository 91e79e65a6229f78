"""Generated portfolios survive a trip through CSV files and the importer, and a single bad
cell anywhere is reported at exactly its line and column."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hearth.registry import Registry
from hearth.registry.generate import GenerateOptions, Portfolio, generate_portfolio
from hearth.registry.importer import SPECS, CsvImportError, import_csv
from hearth.registry.store import DEVICE_COLUMNS, HOUSEHOLD_COLUMNS, TARIFF_COLUMNS, TENANT_COLUMNS

AS_OF = date(2026, 11, 25)
PORTFOLIO = generate_portfolio(GenerateOptions(40, seed=9, as_of=AS_OF))
TABLES = {"households": (PORTFOLIO.households, HOUSEHOLD_COLUMNS),
          "tenants": (PORTFOLIO.tenants, TENANT_COLUMNS),
          "devices": (PORTFOLIO.devices, DEVICE_COLUMNS)}


def _csv(header, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()


def _files(tmp_path) -> dict[str, object]:
    paths = {}
    for kind, (columns, names) in TABLES.items():
        paths[kind] = tmp_path / f"{kind}.csv"
        paths[kind].write_text(_csv(names, Portfolio.rows(columns, names)))
    paths["tariffs"] = tmp_path / "tariffs.csv"
    paths["tariffs"].write_text(_csv(TARIFF_COLUMNS, PORTFOLIO.tariffs))
    return paths


def test_generated_portfolio_round_trips_through_csv(tmp_path):
    paths = _files(tmp_path)
    with Registry(tmp_path / "reg.sqlite3") as reg:
        for kind in ("households", "tenants", "devices", "tariffs"):
            import_csv(reg, paths[kind])
        for kind, (columns, names) in TABLES.items():
            stored = reg.query(f"SELECT {', '.join(names)} FROM {kind} ORDER BY 1").fetchall()
            assert stored == sorted(Portfolio.rows(columns, names))
        stored = reg.query(f"SELECT {', '.join(TARIFF_COLUMNS)} FROM tariffs ORDER BY 1")
        assert stored.fetchall() == sorted(PORTFOLIO.tariffs)
        assert reg.counts()["consent_log"] == len(PORTFOLIO.consent_log)


# A value each column refuses (for the kinds whose rows need nothing else in the registry).
BAD = {
    "household_id": "H 1", "property_type": "castle", "bedrooms": "2.5", "floor_area_m2": "-1",
    "payment_type": "cash", "has_gas": "maybe", "heating": "oil", "epc_band": "H",
    "means_tested_benefits": "2", "vulnerable": "perhaps", "occupancy": "retired",
    "occupants": "0", "tenancy_start": "31/31/2020", "tenancy_end": "soon",
    "patch": "", "estate": "",
}


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(0, 39), column=st.sampled_from(sorted(BAD)))
def test_one_bad_cell_is_reported_at_its_line_and_column(tmp_path, row, column):
    columns, names = TABLES["households"]
    rows = [list(r) for r in Portfolio.rows(columns, names)]
    rows[row][names.index(column)] = BAD[column]
    path = tmp_path / "one_bad.csv"
    path.write_text(_csv(names, rows))
    with Registry(tmp_path / f"reg_{row}_{column}.sqlite3") as reg:
        with pytest.raises(CsvImportError) as info:
            import_csv(reg, path)
        assert reg.counts()["households"] == 0
    problems = info.value.problems
    assert problems and problems[0].startswith(f"line {row + 2}, column {column}: ")
    # tenancy_end left the row valid otherwise; nothing else is blamed.
    assert all(p.startswith(f"line {row + 2}, ") for p in problems)


def test_specs_cover_every_table_column():
    for kind, names in (("households", HOUSEHOLD_COLUMNS), ("tenants", TENANT_COLUMNS),
                        ("devices", DEVICE_COLUMNS), ("tariffs", TARIFF_COLUMNS)):
        assert tuple(c.name for c in SPECS[kind]) == names
