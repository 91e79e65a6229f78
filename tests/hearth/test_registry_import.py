"""CSV import: the documented example files import; bad rows are all reported, by line and
column, and nothing is imported."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hearth.cli import main
from hearth.registry import Registry
from hearth.registry.importer import CsvImportError, import_csv
from hearth.settings import ROOT_DIR

EXAMPLES = ROOT_DIR / "docs" / "examples"
ORDER = ("households", "tenants", "devices", "tariffs")


@pytest.fixture
def reg(tmp_path):
    with Registry(tmp_path / "reg.sqlite3") as r:
        yield r


@pytest.fixture
def loaded(reg):
    for kind in ORDER:
        import_csv(reg, EXAMPLES / f"{kind}.csv")
    return reg


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(reg, path, **kw) -> list[str]:
    before = reg.counts()
    with pytest.raises(CsvImportError) as info:
        import_csv(reg, path, **kw)
    assert reg.counts() == before, "nothing may be imported from a refused file"
    assert str(info.value).count("\n  line") == min(len(info.value.problems), 100)
    return info.value.problems


def test_example_files_import(loaded):
    counts = loaded.counts()
    assert (counts["households"], counts["tenants"], counts["devices"], counts["tariffs"]) == \
        (4, 4, 5, 8)
    h = loaded.household("H100003")
    assert h.tenancy_start == date(2017, 6, 15) and h.epc_band == "E" and h.has_gas
    t = {x.tenant_id: x for x in loaded.tenants_of("H100002")}
    assert t["T100002"].mobile == "+447700900002"
    assert t["T100002"].sms_consent_at.isoformat() == "2024-11-04T10:30:00+00:00"  # GMT in Nov
    assert t["T100002"].opted_out_at is not None and not t["T100002"].sms_contactable
    assert t["T100003"].mobile is None and not t["T100003"].sms_consent
    d = loaded.device("H100002-EM1")
    assert d.mqtt_topic == "hearth/H100002/H100002-EM1/electricity_meter" and d.interval_s == 60
    assert loaded.device("H100002-TH1").interval_s == 300
    assert loaded.tariff_on("gas", "prepayment", date(2026, 9, 30)).tariff_id == \
        "gas-prepayment-2026q3"
    events = loaded.conn.execute("SELECT event, count(*) FROM consent_log GROUP BY event")
    assert dict(events.fetchall()) == {"granted": 2, "opted_out": 1}
    assert [e["action"] for e in loaded.audit_entries()] == ["registry.import"] * 4


def test_kind_is_recognised_from_the_header_or_given(reg, tmp_path):
    assert import_csv(reg, EXAMPLES / "households.csv").kind == "households"
    path = _write(tmp_path, "x.csv", "what,ever\n1,2\n")
    with pytest.raises(Exception, match="give --kind"):
        import_csv(reg, path)
    problems = _problems(reg, path, kind="tariffs")
    assert any(p.startswith("line 1, column what: unknown column") for p in problems)
    assert any("column tariff_id: missing required column" in p for p in problems)


HOUSEHOLD_HEADER = (EXAMPLES / "households.csv").read_text().splitlines()[0]


def test_bad_household_rows_name_line_column_and_reason(reg, tmp_path):
    good = "H1,North,Elm Estate,Elm House,flat,1,40,credit,1,gas,C,0,0,,working,1,2020-01-01,"
    rows = [
        good,                                                                    # line 2
        good.replace("credit", "cash").replace("H1,", "H2,"),                    # 3 enum
        good.replace("2020-01-01", "2020-13-45").replace("H1,", "H3,"),          # 4 date
        good,                                                                    # 5 duplicate
        good.replace(",1,gas,", ",0,gas,").replace("H1,", "H5,"),                # 6 gas, no gas
        good.replace(",flat,1,40,", ",flat,two,-3,").replace("H1,", "H6,"),      # 7 two errors
        good.replace("H1,", "H7,") + ",extra",                                   # 8 field count
        good.replace("H1,North", "H8,"),                                         # 9 empty patch
    ]
    path = _write(tmp_path, "homes.csv", HOUSEHOLD_HEADER + "\n" + "\n".join(rows) + "\n")
    problems = _problems(reg, path)
    text = "\n".join(problems)
    assert "line 3, column payment_type: 'cash' is not allowed; use one of: prepayment, " \
           "credit" in text
    assert "line 4, column tenancy_start: '2020-13-45' is not a date; use YYYY-MM-DD" in text
    assert "line 5, column household_id: duplicate id 'H1': also on line 2" in text
    assert "line 6, column heating: gas heating needs has_gas = 1" in text
    assert "line 7, column bedrooms: 'two' is not a whole number" in text
    assert "line 7, column floor_area_m2: -3 is out of range" in text
    assert "line 8: has 19 fields but the header has 18" in text
    assert "line 9, column patch: empty; a value is required" in text
    assert not any(p.startswith("line 2") for p in problems)


def test_duplicate_of_registry_and_unknown_household(loaded, tmp_path):
    path = _write(tmp_path, "t.csv", "tenant_id,household_id,full_name,mobile,sms_consent\n"
                  "T100001,H100001,Someone Else,,0\n"
                  "T9,H404,Nobody Real,,0\n"
                  "T10,H100001,Mary Private,07700 90012,1\n")
    problems = _problems(loaded, path)
    text = "\n".join(problems)
    assert "line 2, column tenant_id: duplicate id 'T100001': already in the registry" in text
    assert "line 3, column household_id: unknown household 'H404'" in text
    assert "line 4, column mobile: not a UK mobile number" in text
    assert "line 4, column sms_consent_at: required when sms_consent = 1" in text
    # Personal data is never echoed back.
    assert "Mary" not in text and "90012" not in text


def test_bad_devices(loaded, tmp_path):
    header = (EXAMPLES / "devices.csv").read_text().splitlines()[0]
    rows = [
        "D1,H100003,electricity_meter,modbus,127.0.0.1,15020,1,hearth-sim-em1,,,60",  # unit taken
        "D2,H100003,gas_meter,modbus,127.0.0.1,15021,3,no-such-map,,,60",
        "D3,H100003,thermostat,mqtt,,,,,,,",                                      # no room
        "D4,H100003,gas_meter,zigbee,,,,,,,",
        "D5,H100003,gas_meter,modbus,127.0.0.1,15021,3,hearth-sim-gas,,,60",             # same as D2
        "D6,H100003,electricity_meter,mqtt,,,,,hearth/elsewhere,,60",
        "D7,H100003,gas_meter,modbus,127.0.0.1,70000,300,hearth-sim-gas,,,60",
        "D8,H100003,gas_meter,modbus,127.0.0.1,15022,4,sdm-gas,,,60",                # renamed
    ]
    path = _write(tmp_path, "d.csv", header + "\n" + "\n".join(rows) + "\n")
    text = "\n".join(_problems(loaded, path))
    assert "line 2, column unit_id: unit 1 on 127.0.0.1:15020 is already used by the registry" \
        in text
    assert "line 3, column register_map: unknown register map 'no-such-map'; known: " \
           "carlo-gavazzi-em111, eastron-sdm120, eastron-sdm630, hearth-sim-em1, hearth-sim-gas" \
           in text
    assert "line 9, column register_map: register map 'sdm-gas' is now called " \
           "'hearth-sim-gas'; use the new name" in text
    assert "line 4, column room: a thermostat needs its room" in text
    assert "line 5, column protocol: 'zigbee' is not allowed; use one of: modbus, mqtt" in text
    assert "line 6, column unit_id: unit 3 on 127.0.0.1:15021 is already used by line 3" in text
    assert "line 7, column mqtt_topic: 'hearth/elsewhere'" in text
    assert "line 8, column gateway_port: 70000 is out of range; use 1 to 65535" in text
    assert "line 8, column unit_id: 300 is out of range; use 1 to 247" in text


def test_bad_tariffs(loaded, tmp_path):
    header = (EXAMPLES / "tariffs.csv").read_text().splitlines()[0]
    rows = [
        "x1,electricity,credit,26.35,0.53,2027-01-01,",          # pence, not pounds
        "x2,gas,credit,0.07,0.33,2026-10-01,2027-03-31",         # overlaps the open q4 tariff
        "x3,oil,credit,0.07,0.33,2027-01-01,",
        "x4,gas,prepayment,0.06,0.30,2027-05-01,2027-04-01",     # ends before it starts
        "x5,electricity,prepayment,0.25,0.50,01/01/2025,31/03/2025",
        "x6,electricity,prepayment,0.25,0.50,2025-03-01,2025-04-30",  # overlaps line 6
    ]
    path = _write(tmp_path, "tar.csv", header + "\n" + "\n".join(rows) + "\n")
    text = "\n".join(_problems(loaded, path))
    assert "line 2, column unit_rate_gbp_per_kwh: 26.35 is out of range; use 0.0 to 2.0 " \
           "GBP/kWh (that looks like pence: give pounds, e.g. 0.2635)" in text
    assert "line 3, column valid_from: 2026-10-01..2027-03-31 overlaps tariff " \
           "'gas-credit-2026q4' in the registry (2026-10-01..open)" in text
    assert "line 4, column fuel: 'oil' is not allowed; use one of: electricity, gas" in text
    assert "line 5, column valid_to: before valid_from" in text
    assert "line 7, column valid_from: 2025-03-01..2025-04-30 overlaps line 6" in text
    assert "line 6" not in text.replace("overlaps line 6", "")


def test_a_new_price_closes_the_current_open_tariff(loaded, tmp_path):
    header = (EXAMPLES / "tariffs.csv").read_text().splitlines()[0]
    # Listed out of order on purpose: the open-ended 2027 Q2 price before the Q1 one.
    path = _write(tmp_path, "new.csv", header + "\n"
                  "gas-credit-2027q2,gas,credit,0.0610,0.3300,2027-04-01,\n"
                  "gas-credit-2027q1,gas,credit,0.0650,0.3250,2027-01-01,2027-03-31\n")
    result = import_csv(loaded, path)
    assert result.notes == ("tariff 'gas-credit-2026q4' now ends on 2026-12-31",)
    assert loaded.tariff_on("gas", "credit", date(2026, 12, 31)).tariff_id == "gas-credit-2026q4"
    assert loaded.tariff_on("gas", "credit", date(2027, 1, 1)).tariff_id == "gas-credit-2027q1"
    assert loaded.tariff_on("gas", "credit", date(2030, 1, 1)).tariff_id == "gas-credit-2027q2"
    # The other fuel and payment types are untouched.
    assert loaded.tariff_on("gas", "prepayment", date(2030, 1, 1)).valid_to is None
    assert loaded.audit_entries("gas-credit-2026q4")[0]["action"] == "tariff.close"


def test_errors_are_capped_but_counted(reg, tmp_path):
    good = "H{i},North,Elm Estate,,flat,1,40,cash,1,gas,C,0,0,,working,1,2020-01-01,"
    rows = "\n".join(good.format(i=i) for i in range(250))
    path = _write(tmp_path, "many.csv", HOUSEHOLD_HEADER + "\n" + rows + "\n")
    with pytest.raises(CsvImportError) as info:
        import_csv(reg, path, max_errors=20)
    assert len(info.value.problems) == 20
    assert info.value.problems[0].startswith("line 2, ")      # sorted by line
    assert info.value.problems[-1].startswith("line 21, ")
    assert "250 problem(s)" in str(info.value) and "... and 230 more" in str(info.value)
    assert reg.counts()["households"] == 0


def test_header_problems_and_empty_files(reg, tmp_path):
    path = _write(tmp_path, "h.csv", "household_id,patch,patch,colour\nH1,a,b,red\n")
    text = "\n".join(_problems(reg, path))
    assert "line 1, column patch: the column appears twice" in text
    assert "line 1, column colour: unknown column" in text
    assert "line 1, column estate: missing required column" in text
    with pytest.raises(Exception, match="is empty"):
        import_csv(reg, _write(tmp_path, "e.csv", ""))
    with pytest.raises(Exception, match="no rows"):
        import_csv(reg, _write(tmp_path, "n.csv", HOUSEHOLD_HEADER + "\n\n"))
    latin = HOUSEHOLD_HEADER.encode() + "\nH1,Caf\xe9".encode("latin-1")
    (tmp_path / "latin.csv").write_bytes(latin)
    with pytest.raises(Exception, match="not UTF-8"):
        import_csv(reg, tmp_path / "latin.csv")


def test_excel_csv_with_bom_and_multiline_quoted_notes(reg, tmp_path):
    text = (HOUSEHOLD_HEADER + "\r\n" +
            'H1,North,Elm Estate,,flat,1,40,Credit,1,Gas,c,yes,true,"over 75\r\nlives alone",'
            "working,1,2020-01-01,\r\n"
            "H2,North,Elm Estate,,flat,1,40,cash,1,gas,C,0,0,,working,1,2020-01-01,\r\n")
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    problems = _problems(reg, path)
    assert problems == ["line 4, column payment_type: 'cash' is not allowed; use one of: "
                        "prepayment, credit"]


def test_cli_import_reports_and_imports(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    monkeypatch.setenv("HEARTH_INFLUX_PASSWORD", "x")
    monkeypatch.setenv("HEARTH_MQTT_PASSWORD", "x")
    monkeypatch.delenv("HEARTH_CONFIG", raising=False)
    assert main(["registry", "import", str(EXAMPLES / "tenants.csv")]) == 2
    err = capsys.readouterr().err
    assert "unknown household 'H100001'" in err and "nothing was imported" in err
    for kind in ORDER:
        assert main(["registry", "import", str(EXAMPLES / f"{kind}.csv"), "--kind", kind]) == 0
    assert "imported 8 tariffs" in capsys.readouterr().out
    with Registry(tmp_path / "var" / "registry.sqlite3") as reg:
        assert reg.counts()["devices"] == 5


@pytest.mark.parametrize(("text", "stored"), [
    ("07700 900123", "+447700900123"), ("+44 7700 900123", "+447700900123"),
    ("+44 (0)7700 900123", "+447700900123"), ("447700900123", "+447700900123"),
    ("07700-900-123", "+447700900123")])
def test_uk_mobile_spellings(text, stored):
    from hearth.registry.importer import _mobile

    assert _mobile(text) == stored


@pytest.mark.parametrize("text", ["01632 960123", "0770090012", "+1 202 555 0100", "mobile"])
def test_not_uk_mobiles(text):
    from hearth.registry.importer import _mobile

    with pytest.raises(ValueError, match="not a UK mobile"):
        _mobile(text)
