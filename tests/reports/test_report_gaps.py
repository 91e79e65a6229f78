"""The weekly report and open data where the data is short: the current week (refused, or
reported as a week to date at a stated instant) and a new installation whose history is twelve
days old. Every claim is checked against the constants of `portfolio.py` it follows from, on
the real registry and the real test InfluxDB."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from advisor.reports.history import opendata_gap, weekly_gaps
from advisor.reports.period import local_midnight_ns, week_ending
from advisor.reports.weekly import weekly_report
from hearth.cli import build_parser
from hearth.errors import HearthError
from hearth.influx import USAGE_RP, InfluxClient, usage_lines
from hearth.stack import free_port
from tests.conftest import make_settings
from tests.reports import portfolio as pf

# Friday 9 January 2026, 06:05 UTC (= UK time in January): five minutes after Friday's 06:00
# readings, in the middle of the portfolio's week (Mon 5 to Sun 11 January).
FRIDAY = datetime(2026, 1, 9, 6, 5, tzinfo=UTC)


def csv(folder, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", keep_default_na=False, na_values=[""])


def test_a_week_that_has_not_ended_is_refused(report_settings, tmp_path):
    with pytest.raises(HearthError, match=r"has not ended.*--week-to-date"):
        weekly_report(report_settings, tmp_path, week_end=pf.WEEK_END, generated_at=FRIDAY,
                      pdf=False, progress=False)
    assert not any(tmp_path.iterdir())            # nothing half-written
    with pytest.raises(HearthError, match="has not begun"):
        weekly_report(report_settings, tmp_path, week_end=date(2026, 1, 18),
                      generated_at=FRIDAY, pdf=False, progress=False, week_to_date=True)


@pytest.fixture(scope="module")
def to_date(report_settings, tmp_path_factory):
    out = tmp_path_factory.mktemp("wtd")
    return weekly_report(report_settings, out, generated_at=FRIDAY, pdf=False, progress=False,
                         week_to_date=True)


def test_week_to_date_is_labelled(to_date):
    assert to_date.folder.name == "weekly-2026-01-11-to-date"    # this Monday-to-Sunday week
    html = to_date.html.read_text()
    assert "Hearth weekly report (week to date): all patches" in html
    assert "week to date, Mon 05 Jan 2026 to Fri 09 Jan 2026 06:05" in html
    assert "devices silent at Fri 09 Jan 06:05" in html and "at week end" not in html
    assert "Awaab&#x27;s Law deadlines falling due Mon 05 Jan to Sun 11 Jan (missed only once passed)" in html
    assert "new this week to date" in html
    assert "weather-adjusted" in html and "not shown for a week to date" in html


def test_week_to_date_deadlines_missed_only_once_passed(to_date):
    detail = csv(to_date.folder, "awaab_deadline_detail")
    got = sorted((r.case_id, r.stage_due, r.outcome) for r in detail.itertuples())
    assert got == [(3, "investigate", "missed"),                  # due Wed 7th, passed
                   (5, "investigate", "met"),                     # done Wed, due Thu
                   (5, "safety_work", "not yet due"),             # due Sun 11th
                   (6, "investigate", "not yet due"),             # due Fri 9th 23:59:59
                   (8, "made_safe", "missed: closed without the step"),
                   (9, "made_safe", "met")]
    total = csv(to_date.folder, "awaab_deadlines").iloc[-1]
    assert total[["deadlines_due", "met", "missed", "not_yet_due"]].tolist() == [6, 2, 2, 2]


def test_week_to_date_figures_at_its_instant(to_date):
    # Devices: Friday's 06:00 readings are 5 minutes old, within 15 minutes; silent are only
    # H010-TH1 (never) and H012's two devices (stopped on Tuesday).
    silent = csv(to_date.folder, "silent_devices")
    assert list(silent["device_id"]) == ["H010-TH1", "H012-EM1", "H012-TH1"]
    # Use: the half hours from Monday 00:00 up to Friday 06:00 inclusive, 4 x 48 + 13 = 205 of
    # the 204.2 elapsed, against the same 205 half hours last year (H011 has three days only).
    use = csv(to_date.folder, "consumption")
    north = use[(use["patch"] == "North") & (use["fuel"] == "electricity")].iloc[0]
    flats = [h for h in pf.homes() if h.patch == "North"]
    expected = sum(h.elec_kwh_hh * (144 if h.household_id == "H011" else 205) for h in flats)
    assert north["energy_kwh"] == pytest.approx(expected, abs=1e-6)
    assert north["homes_compared"] == 11
    then = sum(h.elec_kwh_hh_last * 205 for h in flats if h.household_id != "H011")
    assert north["energy_kwh_last_year"] == pytest.approx(then, abs=1e-6)
    # Cases open now: damp and mould 5, 6, 9 (7 opens on Friday at noon, after the report).
    cases = csv(to_date.folder, "cases_by_kind").set_index("kind")
    assert cases.loc["damp_mould"].tolist() == [2, 3, 1]


# ---- a new installation ----------------------------------------------------------------------

HISTORY_START = date(2025, 12, 31)        # Wednesday: readings from 00:00 UK time


@pytest.fixture(scope="module")
def new_install(tmp_path_factory, influx_server):
    """The portfolio's homes with twelve days of use, 31 December 2025 to 11 January 2026, and
    nothing earlier (its own database)."""
    var = tmp_path_factory.mktemp("newinstall")
    settings = make_settings(var, influx_server, SimpleNamespace(port=free_port()),
                             schedule={"state_path": str(var / "none.sqlite3")},
                             influxdb={"raw_retention_days": 3650})
    hs = pf.write_registry(settings.registry.target)
    start = local_midnight_ns(HISTORY_START)
    times = start + np.arange(12 * 48, dtype=np.int64) * pf.HH_NS
    lines = []
    for h in hs:
        lines += usage_lines(h.household_id, "electricity", np.full(times.size, h.elec_kwh_hh),
                             times)
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        client.write_lines(lines, USAGE_RP)
    return settings, hs


def test_new_install_weekly_says_what_is_missing(new_install, tmp_path):
    settings, hs = new_install
    first = weekly_report(settings, tmp_path, week_end=date(2026, 1, 4),
                          generated_at=datetime(2026, 1, 12, 6, tzinfo=UTC), pdf=False,
                          progress=False)
    html = first.html.read_text()
    assert ("History starts 31 December 2025: this week has use only from then, so no home has "
            "90% of the week&#x27;s half hours; the first complete week is the one ending "
            "11 January 2026.") in html
    assert "the first week compared is the one ending 10 January 2027" in html
    use = csv(first.folder, "consumption")
    total = use[(use["patch"] == "All patches") & (use["fuel"] == "electricity")].iloc[0]
    # Five days (Wed 31 Dec to Sun 4 Jan) of every home's half hours, none compared.
    assert total["energy_kwh"] == pytest.approx(sum(h.elec_kwh_hh for h in hs) * 5 * 48)
    assert (total["homes_with_data"], total["homes_compared"]) == (17, 0)
    assert np.isnan(total["change_pct"])
    second = weekly_report(settings, tmp_path, week_end=date(2026, 1, 11),
                           generated_at=datetime(2026, 1, 12, 6, tzinfo=UTC), pdf=False,
                           progress=False)
    html = second.html.read_text()
    assert "this week has use only from then" not in html          # a complete week now
    assert "the first week compared is the one ending 10 January 2027" in html


def test_new_install_open_data_says_what_is_missing(new_install, tmp_path):
    settings, _ = new_install
    args = build_parser().parse_args(["opendata", "export", "--out", str(tmp_path),
                                      "--month", "2025-12"])
    with pytest.raises(HearthError, match="open data for December 2025 needs 90% of the "
                       "month's half hours in each home; history starts 31 December 2025, so "
                       r"the first month with enough is January 2026 \(available from "
                       r"1 February 2026\)"):
        args.func(args, settings)
    assert not any(tmp_path.iterdir())


def test_gap_rules():
    week = week_ending(date(2026, 1, 11))
    assert weekly_gaps(week, None)[0].startswith("No half-hourly use is stored yet")
    # History before last year's week: nothing missing.
    assert weekly_gaps(week, local_midnight_ns(date(2024, 12, 1))) == []
    # A first reading at 10:00 on Monday 5 January: that day is not whole, Tuesday is.
    late = local_midnight_ns(date(2026, 1, 5)) + 10 * 3600 * 10**9
    assert "the first complete week is the one ending 18 January 2026" in weekly_gaps(week,
                                                                                        late)[0]
    now = local_midnight_ns(date(2026, 12, 3))
    nov = local_midnight_ns(date(2026, 11, 5))
    assert opendata_gap("2026-11", nov, now) == (
        "open data for November 2026 needs 90% of the month's half hours in each home; "
        "history starts 5 November 2026, so the first month with enough is December 2026 "
        "(available from 1 January 2027)")
    # From 3 November: 27.x of 30 days, 90% reachable.
    assert opendata_gap("2026-11", local_midnight_ns(date(2026, 11, 3)), now) is None
    assert opendata_gap("2026-12", nov, now) == ("open data for December 2026 needs the whole "
                                                 "month: it ends 31 December 2026")
    assert "no half-hourly use is stored yet" in opendata_gap("2026-10", None, now)


def test_command_line_week_to_date(report_settings, tmp_path, capsys):
    base = ["report", "weekly", "--out", str(tmp_path), "--generated-at", "2026-01-09T06:05:00Z",
            "--no-pdf"]
    args = build_parser().parse_args(base)
    # Without --week-ending the default is the last complete week (ending Sun 4 January).
    assert args.func(args, report_settings) == 0
    assert "weekly-2026-01-04/report.html" in capsys.readouterr().out
    args = build_parser().parse_args([*base, "--week-ending", "2026-01-11"])
    with pytest.raises(HearthError, match="has not ended"):
        args.func(args, report_settings)
    args = build_parser().parse_args([*base, "--week-to-date"])
    assert args.func(args, report_settings) == 0
    assert "weekly-2026-01-11-to-date/report.html" in capsys.readouterr().out
