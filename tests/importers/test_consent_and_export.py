"""Consent to fetch smart-meter data through `hearth tenant consent`, the tenancy's end, the
subject access export of what the import holds, and the settings' checks."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from hearth.cli import build_parser
from hearth.settings.importers import SmartMeterImportSettings
from importers.providers import MeterPoint
from importers.smart_meter import run_import
from tenants.rights import smart_meter_import_households, subject_access
from tests.importers.conftest import DAY0, DAY0_S, add_home

MPAN = "1200023305967"


def tenant(settings, *argv) -> int:
    args = build_parser().parse_args(["tenant", *argv])
    return args.func(args, settings)


def test_consent_cli_needs_a_source_and_is_logged(isettings, reg, capsys):
    add_home(reg, "C1", consent=False)
    assert smart_meter_import_households(reg) == []
    assert tenant(isettings, "consent", "C1", "--smart-meter-import", "on",
                  "--source", "phone_call") == 0
    assert "C1-T0: smart-meter import on" in capsys.readouterr().out
    assert smart_meter_import_households(reg) == ["C1"]
    assert tenant(isettings, "consent", "C1", "--smart-meter-import", "on",
                  "--source", "phone_call") == 0
    assert "already on" in capsys.readouterr().out
    assert tenant(isettings, "consent", "C1", "--smart-meter-import", "off") == 0
    assert smart_meter_import_households(reg) == []
    events = [r[0] for r in reg.query("SELECT event FROM smart_meter_consent_log ORDER BY"
                                      " smart_consent_id")]
    assert events == ["granted", "withdrawn"]


def test_consent_without_source_is_refused(isettings, reg):
    from tenants.rights import TenantRightsError, set_consent

    add_home(reg, "C2", consent=False)
    with pytest.raises(TenantRightsError, match="--source"):
        set_consent(reg, "C2", smart_meter_import=True)


def test_ended_tenancy_is_not_fetched(isettings, reg):
    add_home(reg, "C3")
    assert smart_meter_import_households(reg) == ["C3"]
    with reg.transaction() as conn:
        conn.execute("UPDATE households SET tenancy_end = '2026-01-01' WHERE household_id = 'C3'")
    assert smart_meter_import_households(reg) == []


def test_subject_access_holds_meter_point_consent_and_imported_data(
        isettings, reg, octopus, secrets_env, tmp_path):
    add_home(reg, "C4", MeterPoint("C4", "electricity", "octopus", MPAN, "S4"))
    octopus.data[f"{MPAN}/S4"] = {DAY0_S: 0.7, DAY0_S + 1800: 0.8}
    run_import(isettings, ["octopus"], since=DAY0, until=DAY0 + dt.timedelta(days=1),
               environ=secrets_env)
    out = subject_access(isettings, "C4", tmp_path / "sar")
    doc = json.loads((out / "subject_access.json").read_text())
    assert doc["registry"]["meter_points"][0]["mpxn"] == MPAN      # the tenant sees it
    assert doc["registry"]["smart_meter_consent_log"][0]["event"] == "granted"
    assert doc["registry"]["import_state"][0]["provider"] == "octopus"
    rows = doc["readings"]["import_30m"]["rows"]
    assert doc["readings"]["import_30m"]["count"] == 2 and rows[0]["source"] == "octopus"


def test_settings_refuse_a_base_url_that_is_not_http():
    with pytest.raises(ValidationError, match="http"):
        SmartMeterImportSettings(octopus_base_url="api.octopus.energy")
    with pytest.raises(ValidationError):
        SmartMeterImportSettings(providers=["edf"])
    assert SmartMeterImportSettings(octopus_base_url="http://x/").octopus_base_url == "http://x"


def test_meter_points_from_csv_all_or_nothing(isettings, reg, tmp_path, capsys):
    from pathlib import Path

    from importers.meter_points import MeterPointError, import_csv, meter_points

    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "meter_points.csv"
    for hh in ("H100001", "H100002", "H100003"):
        add_home(reg, hh, consent=False)
    args = build_parser().parse_args(["import", "meter-point", "import", str(example)])
    assert args.func(args, isettings) == 0
    assert "4 meter point(s) recorded" in capsys.readouterr().out
    assert [(p.household_id, p.fuel, p.provider) for p in meter_points(reg)] == [
        ("H100001", "electricity", "octopus"), ("H100001", "gas", "octopus"),
        ("H100002", "electricity", "glowmarkt"), ("H100003", "electricity", "n3rgy")]
    bad = tmp_path / "bad.csv"
    bad.write_text("household_id,fuel,provider,mpxn,meter_serial,gas_unit\n"
                   "H100002,gas,octopus,3346178207,G1,m3\n"          # fine on its own
                   "H100003,electricity,octopus,12345,S,\n"           # MPAN too short
                   "H000009,electricity,n3rgy,1200023305967,,\n"      # unknown household
                   "H100001,gas,octopus,3346178207,G2,\n")            # octopus gas, no unit
    with pytest.raises(MeterPointError) as e:
        import_csv(reg, bad)
    msg = str(e.value)
    assert "nothing imported; 3 line(s) refused" in msg
    assert "line 3 (H100003" in msg and "line 4: no household 'H000009'" in msg
    assert "line 5 (H100001 gas octopus)" in msg
    assert len(meter_points(reg)) == 4                      # the good line was not kept either


def test_one_provider_per_household_and_fuel(isettings, reg):
    from importers.meter_points import add_meter_point, meter_points

    add_home(reg, "C5", MeterPoint("C5", "electricity", "octopus", MPAN, "S5"),
             MeterPoint("C5", "gas", "octopus", "3346178207", "G5", gas_unit="m3"))
    add_meter_point(reg, MeterPoint("C5", "electricity", "glowmarkt", MPAN, resource_id="r5"))
    assert [(p.fuel, p.provider) for p in meter_points(reg, household_id="C5")] == [
        ("electricity", "glowmarkt"), ("gas", "octopus")]
