"""`hearth import smart-meter` end to end: each provider's stub server (documented shapes,
tests/importers/stubs.py) -> real InfluxDB -> read back through usage_30m (and its usage_day
rollup, as the forecaster reads it). Gaps stay gaps, re-runs and late data are idempotent,
paging is followed, 429 and 500 are retried, 401/404/malformed answers are reported per
household and dead-lettered, consent is enforced."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from collectors.deadletter import read_dead_letters
from hearth.influx import InfluxClient
from importers.meter_points import last_interval, meter_points
from importers.providers import MeterPoint
from importers.smart_meter import run_import
from tests.importers.conftest import DAY0, DAY0_S, add_home

MPAN_A, MPAN_B, MPRN_A = "1200023305967", "1900001059830", "3346178207"
HH = 1800
UNTIL = DAY0 + dt.timedelta(days=2)


def usage(settings, household, fuel="electricity", source="usage_30m"):
    with InfluxClient.from_settings(settings) as db:
        m = db.usage_matrix(DAY0 - dt.timedelta(days=1), UNTIL, fuel=fuel,
                            households=[household], source=source)
    t = m.times.astype("datetime64[s]").astype(np.int64)
    return {int(ti): float(v) for ti, v in zip(t, m.energy_kwh[0], strict=True) if np.isfinite(v)}


def day_of(values, day0=DAY0_S, step=HH):
    return {day0 + i * step: v for i, v in enumerate(values)}


def imported_sources(settings, household):
    with InfluxClient.from_settings(settings) as db:
        return {s.tags["source"]: len(s) for s in db.query(
            f'SELECT "energy_kwh" FROM "usage"."import_30m" WHERE "household" = \'{household}\''
            ' GROUP BY "source"')}


def test_octopus_paging_gaps_gas_and_idempotent_rerun(isettings, reg, octopus, secrets_env):
    add_home(reg, "H1", MeterPoint("H1", "electricity", "octopus", MPAN_A, "21L4381234"),
             MeterPoint("H1", "gas", "octopus", MPRN_A, "E6S12345678961", gas_unit="m3"))
    elec = {DAY0_S + i * HH: round(0.1 + 0.01 * i, 3) for i in range(96)}
    for missing in (DAY0_S + 10 * HH, DAY0_S + 11 * HH, DAY0_S + 50 * HH):
        del elec[missing]                                           # a gap: absent half hours
    octopus.data[f"{MPAN_A}/21L4381234"] = elec
    octopus.data[f"{MPRN_A}/E6S12345678961"] = {DAY0_S + i * HH: 0.1 for i in range(4)}

    [s] = run_import(isettings, ["octopus"], since=DAY0, until=UNTIL, environ=secrets_env)
    assert s.ok, s.describe()
    assert s.half_hours_written == 93 + 4 and s.gaps == 3
    got = usage(isettings, "H1")
    assert got == pytest.approx(elec) and DAY0_S + 10 * HH not in got   # missing, never 0
    # usage_day holds the same values (the rollup the forecaster reads by default).
    assert usage(isettings, "H1", source="usage_day") == pytest.approx(elec)
    # Gas m3 -> kWh with the calorific value: 0.1 m3 x 1.02264 x 39.5 / 3.6.
    gas = usage(isettings, "H1", "gas")
    assert list(gas.values()) == pytest.approx([0.1 * 1.02264 * 39.5 / 3.6] * 4)
    assert imported_sources(isettings, "H1") == {"octopus": 97}
    pages = [r for r in octopus.requests if MPAN_A in r.path]
    assert len(pages) == -(-93 // 5)                               # page_size 5: every page
    assert last_interval(reg, meter_points(reg, household_id="H1")[0]) == \
        dt.datetime.fromtimestamp(DAY0_S + 95 * HH, dt.UTC)

    # The same run again writes the same points: nothing doubles.
    run_import(isettings, ["octopus"], since=DAY0, until=UNTIL, environ=secrets_env)
    assert usage(isettings, "H1") == pytest.approx(elec)
    assert imported_sources(isettings, "H1") == {"octopus": 97}


def test_late_data_and_lookback_fetch_only_what_is_new(isettings, reg, octopus, secrets_env):
    add_home(reg, "H2", MeterPoint("H2", "electricity", "octopus", MPAN_B, "S1"))
    data = {DAY0_S + i * HH: 0.2 for i in range(48)}
    del data[DAY0_S + 40 * HH]
    octopus.data[f"{MPAN_B}/S1"] = dict(data)
    day1 = DAY0 + dt.timedelta(days=1)
    run_import(isettings, ["octopus"], since=DAY0, until=day1, environ=secrets_env)
    assert DAY0_S + 40 * HH not in usage(isettings, "H2")

    # A day later the provider has the next day, the late half hour, and a revised value.
    data.update({DAY0_S + i * HH: 0.3 for i in range(48, 96)})
    data[DAY0_S + 40 * HH] = 0.25
    data[DAY0_S + 47 * HH] = 0.21
    octopus.data[f"{MPAN_B}/S1"] = data
    octopus.requests.clear()
    [s] = run_import(isettings, ["octopus"], until=UNTIL, environ=secrets_env)   # no --since
    first = octopus.requests[0].args["period_from"]
    # From the last half hour delivered (23:30) + 30 min - lookback_days (1 day).
    assert first == (day1 - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    got = usage(isettings, "H2")
    assert got[DAY0_S + 40 * HH] == pytest.approx(0.25)
    assert got[DAY0_S + 47 * HH] == pytest.approx(0.21)
    assert len(got) == 96 and s.ok


def test_retries_429_honouring_retry_after_then_500(isettings, reg, octopus, secrets_env):
    add_home(reg, "H3", MeterPoint("H3", "electricity", "octopus", MPAN_A, "S3"))
    octopus.data[f"{MPAN_A}/S3"] = day_of([0.5] * 4)
    octopus.fail(f"{MPAN_A}/S3", 429, {"Retry-After": "3"})
    octopus.fail(f"{MPAN_A}/S3", 503)
    waits = []
    [s] = run_import(isettings, ["octopus"], since=DAY0, until=UNTIL, environ=secrets_env,
                     sleep=waits.append)
    assert s.ok and s.half_hours_written == 4
    assert waits == [3.0, 0.0]            # Retry-After, then the (test's zero) backoff

    # 500 on every try: retried max_retries times, then reported; nothing invented.
    octopus.fail(f"{MPAN_A}/S3", 500, times=10)
    waits.clear()
    [s] = run_import(isettings, ["octopus"], since=DAY0, until=UNTIL, environ=secrets_env,
                     sleep=waits.append)
    assert not s.ok and len(waits) == 2
    assert "server: octopus answered HTTP 500" in s.errors["H3"][0]


def test_errors_by_household_and_dead_letters(isettings, reg, octopus, secrets_env):
    add_home(reg, "H4", MeterPoint("H4", "electricity", "octopus", MPAN_A, "GOOD"))
    add_home(reg, "H5", MeterPoint("H5", "electricity", "octopus", MPAN_B, "UNKNOWN"))
    add_home(reg, "H6", MeterPoint("H6", "electricity", "octopus", "1012345678901", "BAD"))
    add_home(reg, "H7", MeterPoint("H7", "electricity", "octopus", "1098765432109", "KEY",
                                   credential_ref="octopus_h7"))
    octopus.data[f"{MPAN_A}/GOOD"] = day_of([0.4] * 3)
    octopus.data["1012345678901/BAD"] = day_of([0.4])
    octopus.fail("1012345678901/BAD", 200, body=b'{"count": 1, "results": "not a list"}')
    env = {**secrets_env, "HEARTH_OCTOPUS_H7": "sk_wrong"}
    [s] = run_import(isettings, ["octopus"], since=DAY0, until=UNTIL, environ=env)
    assert s.half_hours_written == 3 and sorted(s.errors) == ["H5", "H6", "H7"]
    assert "not_found" in s.errors["H5"][0] and "check the meter point" in s.errors["H5"][0]
    assert "malformed" in s.errors["H6"][0]
    assert "auth: octopus refused access (HTTP 401)" in s.errors["H7"][0]
    text = s.describe()
    for secret in (MPAN_A, MPAN_B, "sk_wrong", "sk_test_octopus", "1012345678901"):
        assert secret not in text                               # pseudonymous ids only
    [letter] = read_dead_letters(isettings.collectors.dead_letter_dir)
    assert letter["source"] == "import_octopus" and letter["household"] == "H6"
    assert letter["reason"].startswith("malformed:") and "not a list" in letter["raw"]


def test_consent_only_and_withdrawal_stops_next_run(isettings, reg, octopus, secrets_env):
    from tenants.rights import set_consent

    add_home(reg, "H8", MeterPoint("H8", "electricity", "octopus", MPAN_A, "C8"), tenants=2)
    add_home(reg, "H9", MeterPoint("H9", "electricity", "octopus", MPAN_B, "C9"), consent=False)
    octopus.data[f"{MPAN_A}/C8"] = day_of([0.1] * 2)
    octopus.data[f"{MPAN_B}/C9"] = day_of([0.1] * 2)
    [s] = run_import(isettings, ["octopus"], since=DAY0, until=UNTIL, environ=secrets_env)
    assert s.households_fetched == {"H8"} and s.no_consent == {"H9"}
    assert not any(MPAN_B in r.path for r in octopus.requests)      # never asked for
    # One of H8's two tenants withdraws: the next run does not fetch H8 at all.
    set_consent(reg, "H8", smart_meter_import=False, tenant_id="H8-T1", actor="test")
    octopus.requests.clear()
    [s] = run_import(isettings, ["octopus"], since=DAY0, until=UNTIL, environ=secrets_env)
    assert s.households_fetched == set() and s.no_consent == {"H8", "H9"}
    assert octopus.requests == []


def test_glowmarkt_auth_windows_nulls_and_500(isettings, reg, glowmarkt, secrets_env):
    add_home(reg, "G1", MeterPoint("G1", "electricity", "glowmarkt", MPAN_A,
                                   resource_id="res-elec-1"))
    rows = {DAY0_S - 20 * 86400 + i * HH: 0.05 for i in range(48 * 22)}   # 22 days
    rows[DAY0_S] = None                                                   # null: missing
    glowmarkt.data["res-elec-1"] = rows
    glowmarkt.fail("res-elec-1", 500)
    since = DAY0 - dt.timedelta(days=20)
    [s] = run_import(isettings, ["glowmarkt"], since=since, until=UNTIL, environ=secrets_env,
                     sleep=lambda _s: None)
    assert s.ok, s.describe()
    reads = [r for r in glowmarkt.requests if r.path.endswith("/readings")]
    assert len(reads) == 3 + 1                         # 22 days in 10-day windows, + the 500
    assert sum(r.path == "/auth" for r in glowmarkt.requests) == 1        # token reused
    got = usage(isettings, "G1")
    assert DAY0_S not in got and got[DAY0_S + HH] == pytest.approx(0.05)
    assert s.half_hours_written == 48 * 22 - 1


def test_glowmarkt_bad_password_is_an_auth_error(isettings, reg, glowmarkt, secrets_env):
    add_home(reg, "G2", MeterPoint("G2", "electricity", "glowmarkt", MPAN_A, resource_id="r2"))
    env = {**secrets_env, "HEARTH_GLOWMARKT_PASSWORD": "wrong"}
    [s] = run_import(isettings, ["glowmarkt"], since=DAY0, until=UNTIL, environ=env)
    assert "auth" in s.errors["G2"][0] and "wrong" not in s.describe()


def test_n3rgy_end_labels_partial_206_and_gas_volume(isettings, reg, n3rgy, secrets_env):
    add_home(reg, "N1", MeterPoint("N1", "electricity", "n3rgy", MPAN_A),
             MeterPoint("N1", "gas", "n3rgy", MPRN_A))
    n3rgy.data["electricity"] = day_of([0.3] * 10)
    n3rgy.data["gas"] = day_of([0.2, None, 0.4])
    [s] = run_import(isettings, ["n3rgy"], since=DAY0, until=UNTIL, environ=secrets_env)
    assert s.ok, s.describe()
    assert [r.args["start"] for r in n3rgy.requests] == [(DAY0 + dt.timedelta(minutes=30))
                                                          .strftime("%Y%m%d%H%M")] * 2
    el = usage(isettings, "N1")
    assert sorted(el) == [DAY0_S + i * HH for i in range(10)]     # stored at the start
    gas = usage(isettings, "N1", "gas")
    k = 1.02264 * 39.5 / 3.6
    assert gas == pytest.approx({DAY0_S: 0.2 * k, DAY0_S + 2 * HH: 0.4 * k})
    assert s.gaps == 1


def test_cli_without_providers_does_nothing_and_reports_errors(isettings, reg, octopus,
                                                               secrets_env, capsys):
    from hearth.cli import build_parser

    def run(*argv):
        args = build_parser().parse_args(["import", *argv])
        return args.func(args, isettings)

    assert run("smart-meter") == 0
    assert "nothing to import" in capsys.readouterr().out
    add_home(reg, "H10")
    assert run("meter-point", "add", "H10", "--fuel", "electricity", "--provider", "octopus",
               "--mpxn", "12 0002 3305 967", "--serial", "X10") == 0
    assert run("meter-point", "list") == 0
    out = capsys.readouterr().out
    assert "...5967" in out and MPAN_A not in out
    # Unknown meter at the provider: exit 1, the household named, the action to take.
    assert run("smart-meter", "--provider", "octopus", "--since", DAY0.date().isoformat(),
               "--until", UNTIL.isoformat()) == 1
    out = capsys.readouterr().out
    assert "error H10 electricity: not_found" in out


def test_rate_limit_beyond_backoff_stops_asking(isettings, reg, octopus, secrets_env):
    add_home(reg, "R1", MeterPoint("R1", "electricity", "octopus", MPAN_A, "R1"))
    add_home(reg, "R2", MeterPoint("R2", "electricity", "octopus", MPAN_B, "R2"))
    octopus.data[f"{MPAN_A}/R1"] = day_of([0.1])
    octopus.data[f"{MPAN_B}/R2"] = day_of([0.1])
    octopus.fail(f"{MPAN_A}/R1", 429, {"Retry-After": "3600"})     # backoff_max_s is 5
    waits = []
    [s] = run_import(isettings, ["octopus"], since=DAY0, until=UNTIL, environ=secrets_env,
                     sleep=waits.append)
    assert waits == []                                   # not an hour's sleep, not a retry
    assert "rate_limited" in s.errors["R1"][0] and "asks to wait 3600 s" in s.errors["R1"][0]
    assert "not fetched, octopus was limiting requests" in s.errors["R2"][0]
    assert len(octopus.requests) == 1 and s.half_hours_written == 0


def test_missing_credential_and_one_login_attempt(isettings, reg, glowmarkt, octopus,
                                                   secrets_env):
    add_home(reg, "K1", MeterPoint("K1", "electricity", "octopus", MPAN_A, "K1"))
    env = {k: v for k, v in secrets_env.items() if k != "HEARTH_OCTOPUS_API_KEY"}
    [s] = run_import(isettings, ["octopus"], since=DAY0, until=UNTIL, environ=env)
    assert "set HEARTH_OCTOPUS_API_KEY or write it to" in s.errors["K1"][0]
    assert octopus.requests == []
    for hh in ("K2", "K3"):
        add_home(reg, hh, MeterPoint(hh, "electricity", "glowmarkt", MPAN_A, resource_id=hh))
    env = {**secrets_env, "HEARTH_GLOWMARKT_PASSWORD": "wrong"}
    [s] = run_import(isettings, ["glowmarkt"], since=DAY0, until=UNTIL, environ=env)
    assert sorted(s.errors) == ["K2", "K3"]
    assert sum(r.path == "/auth" for r in glowmarkt.requests) == 1


def test_debug_logs_never_show_the_mpan(isettings, reg, octopus, secrets_env, caplog):
    import logging

    add_home(reg, "L1", MeterPoint("L1", "electricity", "octopus", MPAN_A, "L1"))
    octopus.data[f"{MPAN_A}/L1"] = day_of([0.1] * 3)
    with caplog.at_level(logging.DEBUG):
        run_import(isettings, ["octopus"], since=DAY0, until=UNTIL, environ=secrets_env)
    # Hearth's own log lines (the stub server's werkzeug lines are the provider's side).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert "/meters/L1/consumption/" in ours                      # urllib3 did log the request
    assert MPAN_A not in ours and secrets_env["HEARTH_OCTOPUS_API_KEY"] not in ours


def test_wrong_unit_and_negative_values_are_dead_lettered_not_lost(isettings, reg, n3rgy,
                                                                    secrets_env):
    import json

    add_home(reg, "W1", MeterPoint("W1", "electricity", "n3rgy", MPAN_A))
    stamp = (DAY0 + dt.timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M")
    later = (DAY0 + dt.timedelta(minutes=60)).strftime("%Y-%m-%d %H:%M")
    body = {"resource": "/electricity/consumption/1", "granularity": "halfhour", "unit": "m3",
            "values": [{"timestamp": stamp, "value": 0.4}]}
    n3rgy.fail("electricity", 200, body=json.dumps(body).encode())
    [s] = run_import(isettings, ["n3rgy"], since=DAY0, until=DAY0 + dt.timedelta(hours=1),
                     environ=secrets_env)
    body = {**body, "unit": "kWh", "values": [{"timestamp": stamp, "value": -0.2},
                                              {"timestamp": later, "value": 0.3}]}
    n3rgy.fail("electricity", 200, body=json.dumps(body).encode())
    [s2] = run_import(isettings, ["n3rgy"], since=DAY0, until=DAY0 + dt.timedelta(hours=1),
                      environ=secrets_env)
    letters = read_dead_letters(isettings.collectors.dead_letter_dir)
    assert [d["reason"].split(":")[0] for d in letters] == ["wrong_unit", "negative_consumption"]
    assert json.loads(letters[0]["raw"])["value"] == [0.4]            # kept, not dropped
    assert s.half_hours_written == 0 and s2.half_hours_written == 1
    assert usage(isettings, "W1") == pytest.approx({DAY0_S + HH: 0.3})
