"""Tenants' data rights against a real registry, the real test InfluxDB and an outbox file:
subject access complete, consent recorded with time and source, end of tenancy leaving no
personal data behind in the registry (down to the bytes of the SQLite files), logs or outbox."""

from __future__ import annotations

import json
import zipfile
from types import SimpleNamespace

import pytest

from hearth.cli import build_parser
from hearth.errors import HearthError
from hearth.influx import InfluxClient
from hearth.registry import Registry
from hearth.stack import free_port
from tenants.rights import personal_pattern, set_consent, shareable_with_supplier
from tests.conftest import make_settings
from tests.reports import portfolio as pf

H = "H001"


@pytest.fixture
def tenant_settings(tmp_path, influx_server):
    settings = make_settings(tmp_path, influx_server, SimpleNamespace(port=free_port()),
                             influxdb={"raw_retention_days": 3650},
                             schedule={"state_path": str(tmp_path / "schedule.sqlite3")})
    homes = pf.write_registry(settings.registry.target)
    pf.write_influx(settings, homes)
    outbox = settings.notifier.outbox_path
    outbox.parent.mkdir(parents=True, exist_ok=True)
    with open(outbox, "w") as fh:
        for hh, phone, body in ((H, "+447700900123", "Hi Alice Example, your credit is low."),
                                ("H002", "+447700900789", "Hi Carol, a tip for a warm home."),
                                (H, "+447700900456", "Hi Bob, top up soon.")):
            fh.write(json.dumps({"id": f"id-{hh}-{phone[-3:]}", "at": "2026-01-06T13:00:00Z",
                                 "household_id": hh, "case_id": 1, "template": "credit_runout",
                                 "phone_number": phone, "body": body}) + "\n")
    logs = settings.paths.var_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "hearth.log").write_text("2026-01-06 INFO something about Alice Example at 07700 "
                                     "900123\n2026-01-06 INFO unrelated line\n")
    with Registry(settings.registry.target) as reg:
        reg.audit("officer:jbloggs", "case.note", H, {"note": "rang Bob Example"})
    return settings


def run(settings, *argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    return args.func(args, settings)


def test_subject_access_is_complete(tenant_settings, tmp_path, capsys):
    out = tmp_path / "sar.zip"
    assert run(tenant_settings, "tenant", "export", H, "--out", str(out)) == 0
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        doc = json.loads(z.read("subject_access.json"))
        meter_csv = z.read("readings_meter.csv").decode()
    assert {"README.txt", "subject_access.json", "outbox.csv", "registry_household.csv",
            "registry_tenants.csv", "registry_devices.csv", "registry_consent_log.csv",
            "registry_cases.csv", "registry_case_events.csv", "registry_sms_log.csv",
            "registry_audit_log.csv", "registry_sharing_consent_log.csv",
            "readings_meter.csv", "readings_thermostat.csv", "readings_usage_30m.csv",
            "readings_forecast_daily.csv"} <= names
    reg = doc["registry"]
    assert reg["household"][0]["vulnerability_notes"].startswith("uses a wheelchair")
    assert {t["full_name"] for t in reg["tenants"]} == {"Alice Example", "Bob Example"}
    assert {t["mobile"] for t in reg["tenants"]} == {"+447700900123", "+447700900456"}
    assert [d["device_id"] for d in reg["devices"]] == ["H001-EM1", "H001-GM1", "H001-TH1"]
    assert [c["event"] for c in reg["consent_log"]] == ["granted"]
    assert [c["case_id"] for c in reg["cases"]] == [1]
    assert [e["action"] for e in reg["case_events"]] == ["opened"]
    # two tips and the confirmation of a STOP reply (tests/reports/portfolio.py)
    assert len(reg["sms_log"]) == 3 and "Alice Example" in reg["sms_log"][0]["body"]
    assert any(a["action"] == "case.note" for a in reg["audit_log"])
    assert [o["phone_number"] for o in doc["outbox"]] == ["+447700900123", "+447700900456"]
    readings = doc["readings"]
    # Two readings a day for 7 days from the electricity and gas meters, and the thermostat,
    # and one more each minutes before the week ends (tests/reports/portfolio.py).
    assert readings["meter"]["count"] == 2 * (2 * 7 + 1)
    assert readings["thermostat"]["count"] == 2 * 7 + 1
    assert readings["usage_30m"]["count"] == 2 * 2 * 7 * 48     # two fuels, two weeks
    assert readings["forecast_daily"]["count"] == 2 * 30
    assert {r["household"] for r in readings["meter"]["rows"]} == {H}
    assert "credit_gbp" in meter_csv.splitlines()[0]
    assert "Carol" not in json.dumps(doc)                        # nobody else's data
    with Registry(tenant_settings.registry.target) as r:
        assert r.audit_entries(H, limit=1)[0]["action"] == "tenant.subject_access"
    assert "sar.zip" in capsys.readouterr().out


def test_subject_access_folder(tenant_settings, tmp_path):
    out = tmp_path / "sar"
    run(tenant_settings, "tenant", "export", H, "--out", str(out))
    tenants = (out / "registry_tenants.csv").read_text().splitlines()
    assert tenants[0].startswith("tenant_id,household_id,full_name,mobile")
    assert len(tenants) == 3
    assert len((out / "readings_usage_30m.csv").read_text().splitlines()) == 1 + 2 * 2 * 7 * 48


def test_consent_recorded_with_time_and_source(tenant_settings, capsys):
    assert run(tenant_settings, "tenant", "consent", H, "--sms", "off",
               "--share-with-supplier", "off", "--source", "phone_call",
               "--actor", "officer:jbloggs") == 0
    with Registry(tenant_settings.registry.target) as reg:
        alice = reg.tenant("T001a")
        assert not alice.sms_consent and not alice.sms_contactable
        assert not alice.share_with_supplier
        log = reg.query("SELECT event, source, actor, at FROM consent_log WHERE tenant_id ="
                        " 'T001a' ORDER BY consent_id").fetchall()
        assert [r[:3] for r in log] == [("granted", "tenancy_signup", "import"),
                                        ("withdrawn", "phone_call", "officer:jbloggs")]
        assert log[-1][3].endswith("Z")
        sharing = reg.query("SELECT tenant_id, event, source FROM sharing_consent_log").fetchall()
        assert sharing == [("T001a", "withdrawn", "phone_call")]
        assert reg.audit_entries(H, limit=1)[0]["action"] == "tenant.consent"
        assert H not in shareable_with_supplier(reg)
    out = capsys.readouterr().out
    assert "recorded: T001a: SMS off" in out and "unchanged: T001b: SMS already off" in out
    # Turning SMS on again needs the source, and clears an earlier STOP.
    with pytest.raises(HearthError, match="--source"):
        run(tenant_settings, "tenant", "consent", "H002", "--sms", "on")
    run(tenant_settings, "tenant", "consent", "H002", "--sms", "on", "--source", "web_form")
    with Registry(tenant_settings.registry.target) as reg:
        carol = reg.tenant("T002a")
        assert carol.sms_contactable and carol.sms_consent_source == "web_form"
        assert carol.opted_out_at is None


def test_consent_refuses_what_cannot_be_recorded(tenant_settings):
    with Registry(tenant_settings.registry.target) as reg:
        with reg.transaction() as conn:
            conn.execute("UPDATE tenants SET mobile = NULL, sms_consent = 0 WHERE tenant_id ="
                         " 'T002a'")
        with pytest.raises(HearthError, match="T002a has no mobile"):
            set_consent(reg, "H002", sms=True, source="letter")
        with pytest.raises(HearthError, match="no household 'H999'"):
            set_consent(reg, "H999", sms=False)
        with pytest.raises(HearthError, match="nothing to change"):
            set_consent(reg, "H002")
        set_consent(reg, "H002", share_with_supplier=True, source="letter", at="2026-01-01T00:00:00Z")
        set_consent(reg, H, share_with_supplier=True, source="letter")
        assert shareable_with_supplier(reg)[:2] == [H, "H002"]


SECRETS = [*pf.NAMES.values(), "Alice", "Example", "7700900123", "7700 900123", "7700900456",
           "wheelchair", "oxygen"]


def _leftovers(blob: bytes, secrets=SECRETS) -> list[str]:
    text = blob.decode("latin-1").lower()
    return [s for s in secrets if s.lower() in text]


def test_end_of_tenancy_leaves_no_personal_data(tenant_settings, capsys):
    if tenant_settings.registry.url:
        pytest.skip("reads the SQLite registry's file bytes (HEARTH_TEST_REGISTRY=postgresql)")
    settings = tenant_settings
    assert run(settings, "tenant", "end-tenancy", H, "--date", "2026-01-31") == 0
    reg_files = [p for p in settings.registry.path.parent.glob(settings.registry.path.name + "*")]
    everywhere = b"".join(p.read_bytes() for p in reg_files)
    # Nothing of Alice's or Bob's remains in the registry files, WAL included; Carol's does.
    assert _leftovers(everywhere, [s for s in SECRETS if s != "Carol Sample"]) == []
    assert b"Carol Sample" in everywhere
    outbox = settings.notifier.outbox_path.read_text()
    assert _leftovers(outbox.encode(), [s for s in SECRETS if "Carol" not in s]) == []
    assert "+447700900789" in outbox and "Hi Carol" in outbox      # other household untouched
    log_text = (settings.paths.var_dir / "logs" / "hearth.log").read_text()
    assert _leftovers(log_text.encode()) == [] and "unrelated line" in log_text
    with Registry(settings.registry.target) as reg:
        home = reg.household(H)
        assert str(home.tenancy_end) == "2026-01-31" and home.vulnerability_notes == ""
        assert all(t.mobile is None and not t.sms_consent for t in reg.tenants_of(H))
        erased = reg.query("SELECT location, row_key, field, action, tenancy_end FROM erasure_log"
                           " WHERE household_id = ? ORDER BY erasure_id", (H,)).fetchall()
        where = {(r[0], r[2]) for r in erased}
        assert {("households", "vulnerability_notes"), ("tenants", "full_name"),
                ("tenants", "mobile"), ("sms_log", "body"), ("sms_replies", "content"),
                ("case_events", "detail"),
                ("audit_log", "detail"), ("outbox", "phone_number"), ("outbox", "body")} <= where
        assert {r[4] for r in erased} == {"2026-01-31"}
        assert _leftovers(repr(erased).encode()) == []
        withdrawn = reg.query("SELECT source FROM consent_log WHERE tenant_id = 'T001a' AND"
                              " event = 'withdrawn'").fetchall()
        assert withdrawn == [("end_of_tenancy",)]
        entry = reg.audit_entries(H, limit=1)[0]
        assert entry["action"] == "tenant.end_tenancy"
        assert entry["detail"]["removed"]["tenants.full_name"] == 2
        # Records stay, with the personal parts gone.
        assert reg.query("SELECT count(*) FROM sms_log WHERE household_id = ?", (H,)).fetchone() \
            == (3,)
    # Readings stay under the pseudonymous id.
    with InfluxClient.from_settings(settings) as client:
        s = client.query(f'SELECT count("energy_kwh") FROM "{client.database}"."usage"."usage_30m"'
                         f" WHERE \"household\" = '{H}'")
        assert int(s[0].values["count"][0]) == 2 * 2 * 7 * 48
    assert "tenants.full_name: 2" in capsys.readouterr().out
    # Doing it again finds nothing more to remove and still leaves nothing behind.
    run(settings, "tenant", "end-tenancy", H, "--date", "2026-01-31")


def test_end_of_tenancy_before_it_started(tenant_settings):
    with pytest.raises(HearthError, match="started 2020-01-01"):
        run(tenant_settings, "tenant", "end-tenancy", H, "--date", "2019-12-31")


def test_personal_pattern_catches_usual_spellings():
    p = personal_pattern(["Alice Example"], ["+447700900123"])
    for text in ("Alice Example", "alice", "EXAMPLE", "+447700900123", "07700 900123",
                 "07700-900-123", "+44 (0)7700 900123", "0044 7700900123"):
        assert p.search(text), text
    assert not p.search("Alicent") and not p.search("07700 900124")


def test_end_of_tenancy_erases_officers_notes_whole(tenant_settings):
    """A note can hold personal data that is no name or number ("on chemo, son in prison"): at
    end of tenancy the household's notes go whole; that a note was written, by whom and when,
    stays (issue 15)."""
    from advisor.cases import CaseStore

    secret = "tenant on chemotherapy, son moved back in"
    with Registry(tenant_settings.registry.target) as reg:
        store = CaseStore(reg)
        store.add_note(1, "jbloggs", f"Visited: {secret}")
        store.resolve(1, "jbloggs", f"Closed after visit; {secret}")
    assert run(tenant_settings, "tenant", "end-tenancy", H, "--date", "2026-01-31") == 0
    reg_files = tenant_settings.registry.path.parent.glob(tenant_settings.registry.path.name + "*")
    assert secret.encode() not in b"".join(p.read_bytes() for p in reg_files)
    with Registry(tenant_settings.registry.target) as reg:
        notes = reg.query("SELECT actor, action, detail FROM case_events WHERE case_id = 1 AND "
                          "action IN ('note', 'resolved')").fetchall()
        audit = reg.query("SELECT actor, action, detail FROM audit_log WHERE target = 'case:1' "
                          "AND action = 'case.note'").fetchall()
    assert [(a, b) for a, b, _ in notes] == [("jbloggs", "note"), ("jbloggs", "resolved")]
    assert {d for _, _, d in notes} == {"[note removed at end of tenancy]"}
    assert audit and json.loads(audit[0][2])["household_id"] == H
