"""Dated reference figures: row selection by day across 1 July 2026, validation, the registry
seed against the shipped CSVs, and `hearth reference import`.

Sources of the figures under test (config/reference/*.csv): Ofgem typical domestic
consumption values (medium: 2,700 / 3,900 / 11,500 kWh until 30 June 2026; 2,500 / 3,400 /
9,500 kWh from 1 July 2026) and the Ofgem price cap for 1 July - 30 September 2026, direct
debit (electricity 26.11 p/kWh + 57.19 p/day, gas 7.33 p/kWh + 29.04 p/day)."""

from __future__ import annotations

import numpy as np
import pytest

from hearth.reference import ReferenceError, ReferenceFigures, import_rows, parse_csv

DAYS = np.array(["2026-06-29", "2026-06-30", "2026-07-01", "2026-07-02"], dtype="datetime64[D]")


def test_each_day_takes_the_row_in_force_that_day():
    ref = ReferenceFigures.shipped()
    assert ref.tdcv_kwh_per_year("electricity", DAYS).tolist() == [2700, 2700, 2500, 2500]
    assert ref.tdcv_kwh_per_year("economy7", DAYS).tolist() == [3900, 3900, 3400, 3400]
    assert ref.tdcv_kwh_per_year("gas", DAYS).tolist() == [11500, 11500, 9500, 9500]
    unit, standing = ref.cap_gbp("electricity", "direct_debit", DAYS)
    assert np.isnan(unit[:2]).all()  # no cap row shipped before July 2026: not invented
    assert unit[2:].tolist() == [0.2611, 0.2611]
    assert standing[2:].tolist() == [0.5719, 0.5719]
    unit, standing = ref.cap_gbp("gas", "direct_debit", DAYS)
    assert unit[2] == pytest.approx(0.0733) and standing[2] == pytest.approx(0.2904)
    # Prepayment and standard credit rows are not shipped (no citable source in hand).
    assert np.isnan(ref.cap_gbp("gas", "prepayment", DAYS)[0]).all()


def test_registry_seed_matches_the_shipped_files(registry):
    shipped = ReferenceFigures.shipped()
    seeded = ReferenceFigures.from_registry(registry.conn)
    assert sorted(seeded.tdcv, key=repr) == sorted(shipped.tdcv, key=repr)
    assert sorted(seeded.price_cap, key=repr) == sorted(shipped.price_cap, key=repr)


def test_a_council_imports_newer_rows(registry, tmp_path):
    f = tmp_path / "cap.csv"
    f.write_text("effective_from,fuel,payment_method,unit_rate_p_per_kwh,"
                 "standing_charge_p_per_day,source\n"
                 "2026-10-01,electricity,direct_debit,25.00,55.00,Ofgem cap Oct-Dec 2026\n",
                 encoding="utf-8")
    kind, rows = parse_csv(f)
    assert kind == "price_cap" and import_rows(registry.conn, kind, rows) == 1
    ref = ReferenceFigures.from_registry(registry.conn)
    days = np.array(["2026-09-30", "2026-10-01"], dtype="datetime64[D]")
    assert ref.cap_gbp("electricity", "direct_debit", days)[0].tolist() == [0.2611, 0.25]


@pytest.mark.parametrize("line, message", [
    ("2026-13-01,gas,9500,x", "not a date"),
    ("2026-07-01,oil,9500,x", "profile 'oil' is not one of"),
    ("2026-07-01,gas,-3,x", "outside"),
    ("2026-07-01,gas,9500,", "needs its source"),
])
def test_bad_rows_fail_the_whole_file_with_the_line(registry, tmp_path, line, message):
    f = tmp_path / "tdcv.csv"
    f.write_text("effective_from,profile,kwh_per_year,source\n"
                 "2027-01-01,electricity,2400,ok\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ReferenceError, match=message) as exc:
        parse_csv(f)
    assert "line 3" in str(exc.value)
    # Nothing was imported.
    rows = registry.conn.execute("SELECT count(*) FROM reference_tdcv").fetchone()[0]
    assert rows == 6


def test_cli_import_and_show(registry, tmp_path, capsys):
    from hearth.cli import main

    cfg = tmp_path / "hearth.toml"
    cfg.write_text(f'[registry]\npath = "{registry.path}"\n', encoding="utf-8")
    f = tmp_path / "tdcv.csv"
    f.write_text("effective_from,profile,kwh_per_year,source\n"
                 "2027-04-01,gas,9000,a future review\n", encoding="utf-8")
    assert main(["--config", str(cfg), "reference", "import", str(f)]) == 0
    assert main(["--config", str(cfg), "reference", "show", "--on", "2027-04-01"]) == 0
    out = capsys.readouterr().out
    assert "imported 1 tdcv rows" in out and "gas             9,000 kWh a year" in out
    assert main(["--config", str(cfg), "reference", "import", str(tmp_path / "nope.csv")]) != 0


@pytest.fixture
def registry(tmp_path):
    from hearth.registry import Registry

    reg = Registry(tmp_path / "registry.sqlite3")
    yield reg
    reg.close()
