"""The weekly report against the known portfolio in the real registry and InfluxDB: every
figure checked against the data it comes from; the HTML rendered by headless Chromium; the PDF's
pages; the same data giving the same files."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from advisor.reports.weekly import weekly_report
from hearth.errors import HearthError
from hearth.influx import InfluxClient
from tests.reports import portfolio as pf
from tests.reports.browser import dump_dom, require_chromium, screenshot

GENERATED = datetime(2026, 1, 12, 6, 0, tzinfo=UTC)
SECTIONS = ["Summary, homes and devices", "Cases",
            "Awaab's Law: hazard deadlines (damp and mould, excess cold, excess heat)",
            "Bills and prepayment credit", "Consumption and weather", "Tips to tenants",
            "Data health"]


@pytest.fixture(scope="module")
def report(report_settings, tmp_path_factory):
    require_chromium()
    out = tmp_path_factory.mktemp("weekly")
    return weekly_report(report_settings, out, week_end=pf.WEEK_END, generated_at=GENERATED,
                         progress=False)


MONEY = re.compile(r"^-?£\d+\.\d\d$")  # -£10.21: the minus before the pound sign, two decimals


def pounds(cell) -> float:
    """A money cell of the CSV (``-£10.21``) as a number, checking its form on the way."""
    if isinstance(cell, float) and np.isnan(cell):
        return cell
    assert MONEY.match(cell), cell
    return float(cell.replace("£", ""))


def csv(report, name: str) -> pd.DataFrame:
    frame = pd.read_csv(report.folder / f"{name}.csv", keep_default_na=False, na_values=[""])
    for column in frame.columns:
        if "_gbp" in column:  # money columns are written as -£10.21
            frame[column] = frame[column].map(pounds)
    return frame


def row(frame: pd.DataFrame, **keys) -> pd.Series:
    sel = np.ones(len(frame), bool)
    for k, v in keys.items():
        sel &= (frame[k] == v).to_numpy()
    assert sel.sum() == 1, (keys, frame)
    return frame[sel].iloc[0]


def test_homes_and_devices(report):
    t = csv(report, "homes_devices")
    assert list(t["patch"]) == ["North", "South", "All patches"]
    north = row(t, patch="North")
    # 12 flats: electricity meter and thermostat each, gas meter in the 6 with gas.
    assert (north["homes"], north["devices"]) == (12, 30)
    # H010's thermostat never reported; H012's meter and thermostat stopped on Tuesday; H011's
    # electricity meter (every 60 s) last reported 20 minutes before the end: over 15 minutes,
    # silent by its own interval. The gas meters (every 30 min) last heard 80 minutes before
    # the end are not (3 x 30 min = 90 min).
    assert (north["homes_reporting"], north["devices_reporting"], north["devices_silent"]) == \
        (12, 29, 4)
    total = row(t, patch="All patches")
    assert (total["homes"], total["devices"], total["devices_reporting"]) == (17, 45, 44)
    silent = csv(report, "silent_devices")
    assert list(silent["device_id"]) == ["H010-TH1", "H011-EM1", "H012-EM1", "H012-TH1"]


def test_consumption_matches_influx(report, report_settings):
    t = csv(report, "consumption")
    homes = pf.homes()
    expected = {}
    for h in homes:
        n = 48 * 3 if h.household_id == "H011" else 336
        expected.setdefault((h.patch, "electricity"), 0.0)
        expected[(h.patch, "electricity")] += h.elec_kwh_hh * n
        if h.has_gas:
            expected[(h.patch, "gas")] = expected.get((h.patch, "gas"), 0.0) + h.gas_kwh_hh * n
    for (patch, fuel), kwh in expected.items():
        assert row(t, patch=patch, fuel=fuel)["energy_kwh"] == pytest.approx(kwh, abs=1e-6)
    # The portfolio total is what InfluxDB sums over the week's UTC instants.
    with InfluxClient.from_settings(report_settings) as client:
        s = client.query(f'SELECT sum("energy_kwh") FROM "{client.database}"."usage"."usage_30m"'
                         f" WHERE time >= {pf.WEEK.start_ns} AND time < {pf.WEEK.end_ns}"
                         ' GROUP BY "fuel"')
    influx = {x.tags["fuel"]: float(x.values["sum"][0]) for x in s}
    for fuel in ("electricity", "gas"):
        assert row(t, patch="All patches", fuel=fuel)["energy_kwh"] == \
            pytest.approx(influx[fuel], abs=1e-6)
    # Like for like: H011 (three days) is left out; weather adjustment by degree days.
    north = row(t, patch="North", fuel="electricity")
    now = sum(h.elec_kwh_hh * 336 for h in homes if h.patch == "North" and h.household_id != "H011")
    then = sum(h.elec_kwh_hh_last * 336 for h in homes
               if h.patch == "North" and h.household_id != "H011")
    assert north["homes_compared"] == 11
    assert north["energy_kwh_compared"] == pytest.approx(now, abs=1e-6)
    assert north["energy_kwh_last_year"] == pytest.approx(then, abs=1e-6)
    assert north["change_pct"] == round(100 * (now / then - 1), 1)
    hdd_now, hdd_then = 7 * (15.5 - 5.0), 7 * (15.5 - 3.0)
    assert (north["hdd_this_week"], north["hdd_last_year"]) == (hdd_now, hdd_then)
    assert north["weather_adjusted_change_pct"] == \
        round(100 * ((now / hdd_now) / (then / hdd_then) - 1), 1)
    # South has no weather last year: no adjustment rather than a wrong one.
    assert np.isnan(row(t, patch="South", fuel="gas")["weather_adjusted_change_pct"])
    daily = csv(report, "daily_consumption")
    assert daily.groupby("fuel")["energy_kwh"].sum()["gas"] == pytest.approx(influx["gas"])


def test_forecast_cost_uses_each_days_tariff(report):
    t = csv(report, "top_forecast_cost")
    # Credit electricity: 8 days at 0.25/kWh + 0.50/day, then 22 days at 0.30 + 0.55 (new tariff).
    elec_credit = 8 * (8 * 0.25 + 0.50) + 22 * (8 * 0.30 + 0.55)
    gas_credit = 30 * (30 * 0.06 + 0.30)
    top = t.iloc[0]
    assert top["electricity_cost_gbp_30d"] == pytest.approx(round(elec_credit, 2))
    assert top["cost_gbp_30d"] == pytest.approx(round(elec_credit + gas_credit, 2))
    assert list(t["household_id"][:7]) == ["H003", "H005", "H009", "H011", "H103", "H104", "H105"]
    prepay = row(t, household_id="H001")
    assert prepay["cost_gbp_30d"] == pytest.approx(30 * (8 * 0.24 + 0.48) + 30 * (30 * 0.058 + 0.28))
    assert len(t) == 17


def test_money_cells_are_minus_pound_two_decimals_and_excel_safe(report):
    """Every money cell of every CSV is `-£10.21` or `£3.00` (issue 15), read back through the
    `csv` module in Excel's dialect unchanged: no apostrophe (that would make it text), no
    float noise. The HTML shows the same form."""
    import csv as csv_module

    seen = 0
    for path in report.csv:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv_module.reader(f, dialect="excel"))
        header = rows[0]
        for i, name in enumerate(header):
            if "_gbp" in name:
                for r in rows[1:]:
                    assert r[i] == "" or MONEY.match(r[i]), (path.name, name, r[i])
                    seen += r[i] != ""
    assert seen > 20
    html_text = report.html.read_text()
    assert "£-" not in html_text


def test_credit_runout(report):
    t = csv(report, "credit_runout")
    got = [(r.household_id, r.fuel, r.days_of_credit) for r in t.itertuples()]
    per_day = 8 * 0.24 + 0.48          # prepayment electricity [GBP/day]
    assert got == [("H101", "gas", 0.0), ("H101", "electricity", round(2.0 / per_day, 1)),
                   ("H001", "electricity", round(10.0 / per_day, 1))]


def test_cases_awaab_tips_and_health(report):
    cases = csv(report, "cases_by_kind").set_index("kind")
    assert cases.loc["credit_runout"].tolist() == [1, 1, 0]
    assert cases.loc["cold_home"].tolist() == [0, 1, 1]       # one open, one resolved Thursday
    assert cases.loc["bill_shock"].tolist() == [1, 0, 1]
    # New: 7, 8, 9; open at the end: 5, 6, 7, 9; closed: 8.
    assert cases.loc["damp_mould"].tolist() == [3, 4, 1]
    awaab = csv(report, "awaab_deadlines")
    assert row(awaab, patch="All patches")[["deadlines_due", "met", "missed"]].tolist() == [6, 2, 4]
    detail = csv(report, "awaab_deadline_detail")
    got = sorted((r.case_id, r.kind, r.stage_due, r.outcome) for r in detail.itertuples())
    assert got == [(3, "cold_home", "investigate", "missed"),
                   (5, "damp_mould", "investigate", "met"),
                   (5, "damp_mould", "safety_work", "missed"),
                   (6, "damp_mould", "investigate", "missed"),
                   # Resolved before its deadline but never made safe: not met.
                   (8, "damp_mould", "made_safe", "missed: closed without the step"),
                   (9, "damp_mould", "made_safe", "met")]
    eight = detail[detail["case_id"] == 8].iloc[0]
    assert eight["closed_at"] == "2026-01-06T18:00:00Z" and pd.isna(eight["done_at"])
    tips = row(csv(report, "tips"), patch="All patches")
    assert tips[["tips_sent", "delivered", "failed", "skipped", "opted_out"]].tolist() == \
        [2, 1, 1, 1, 1]
    health = csv(report, "data_health").set_index("metric")["value"]
    assert health["dead letters set aside this week"] == 2
    assert health["scheduled job runs failed this week"] == 1
    assert health["devices silent at the end of the week"] == 4
    jobs = csv(report, "failed_jobs")
    assert list(jobs["job"]) == ["forecast"]


def test_same_data_same_report(report, report_settings, tmp_path):
    again = weekly_report(report_settings, tmp_path, week_end=pf.WEEK_END,
                          generated_at=GENERATED, pdf=False, progress=False)
    assert again.html.read_bytes() == report.html.read_bytes()
    for a, b in zip(sorted(report.csv), sorted(again.csv), strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    html = report.html.read_text()
    assert "2026-01-12 06:00 UTC" in html
    for forbidden in ("<script", "http://", "https://", *pf.NAMES.values()):
        assert forbidden not in html


def test_each_patch_from_the_same_data(report_settings, tmp_path):
    r = weekly_report(report_settings, tmp_path, week_end=pf.WEEK_END, generated_at=GENERATED,
                      pdf=False, progress=False, each_patch=True)
    assert sorted(r.patches) == ["North", "South"]
    alone = weekly_report(report_settings, tmp_path / "alone", patch="South",
                          week_end=pf.WEEK_END, generated_at=GENERATED, pdf=False,
                          progress=False)
    # Cut from the portfolio's data or read for the patch alone: the same files.
    for path in sorted(alone.folder.iterdir()):
        assert (r.patches["South"] / path.name).read_bytes() == path.read_bytes(), path.name
    north = pd.read_csv(r.patches["North"] / "tips.csv")
    assert north["tips_sent"].tolist() == [2, 2]


def test_one_patch(report_settings, tmp_path):
    r = weekly_report(report_settings, tmp_path, patch="South", week_end=pf.WEEK_END,
                      generated_at=GENERATED, pdf=False, progress=False)
    assert r.folder.name == "weekly-2026-01-11-south"
    t = pd.read_csv(r.folder / "homes_devices.csv")
    assert t[["patch", "homes", "devices"]].values.tolist() == [["South", 5, 15],
                                                               ["All patches", 5, 15]]
    credit = pd.read_csv(r.folder / "credit_runout.csv")
    assert set(credit["household_id"]) == {"H101"}
    with pytest.raises(HearthError, match=r"no homes in patch 'Nowhere'.*North, South"):
        weekly_report(report_settings, tmp_path, patch="Nowhere", week_end=pf.WEEK_END,
                      pdf=False, progress=False)


def test_html_in_chromium(report, tmp_path):
    dom = dump_dom(report.html)
    for heading in SECTIONS:
        assert f"<h2>{heading.replace(chr(39), '&#x27;')}</h2>" in dom or heading in dom
    assert dom.count('<img class="chart"') == 3
    assert "Hearth weekly report: all patches" in dom
    assert "£147.90" in dom and "96.7%" in dom
    png = screenshot(report.html, tmp_path / "shot.png")
    import matplotlib.image as mpimg

    pixels = mpimg.imread(png)[..., :3]
    # Charts and tables drawn: a good share of the first screen is not white.
    assert (pixels.mean(axis=2) < 0.9).mean() > 0.08


def test_pdf_pages(report):
    from pypdf import PdfReader

    pages = PdfReader(report.pdf).pages
    assert len(pages) == len(SECTIONS)      # each section starts a page; this data fits one each
    texts = [p.extract_text() for p in pages]
    for text, heading in zip(texts, SECTIONS, strict=True):
        assert heading in text.replace("’", "'"), (heading, text[:200])
    assert "Hearth weekly report: all patches" in texts[0]
    assert "147.90" in texts[3]


def test_missing_chromium_is_a_clear_error(report_settings, tmp_path):
    settings = report_settings.model_copy(update={"reports": report_settings.reports.model_copy(
        update={"chromium": "no-such-chromium-browser"})})
    with pytest.raises(HearthError, match="apt-get install -y chromium"):
        weekly_report(settings, tmp_path, week_end=pf.WEEK_END, progress=False)


def test_command_line(report_settings, tmp_path, capsys):
    from hearth.cli import build_parser

    args = build_parser().parse_args(["report", "weekly", "--out", str(tmp_path), "--week-ending",
                                      "2026-01-11", "--generated-at", "2026-01-12T06:00:00Z",
                                      "--no-pdf", "--each-patch"])
    assert args.func(args, report_settings) == 0
    out = capsys.readouterr().out
    assert "weekly-2026-01-11/report.html" in out and "patch South:" in out
    assert (tmp_path / "weekly-2026-01-11-north" / "consumption.csv").exists()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["report", "weekly", "--week-ending", "11/01/2026"])


def test_new_install_without_readings(tmp_path, influx_server):
    """Homes in the registry, nothing in InfluxDB yet: a report that says so, not a crash."""
    from types import SimpleNamespace

    from hearth.stack import free_port
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, influx_server, SimpleNamespace(port=free_port()),
                             schedule={"state_path": str(tmp_path / "none.sqlite3")})
    pf.write_registry(settings.registry.target)
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
    r = weekly_report(settings, tmp_path / "out", week_end=pf.WEEK_END, generated_at=GENERATED,
                      pdf=False, progress=False)
    html = r.html.read_text()
    assert "No forecasts for the 30 days from 2026-01-12" in html
    assert "No weather for the same week last year" in html
    homes = pd.read_csv(r.folder / "homes_devices.csv")
    assert homes.iloc[-1][["homes", "devices_reporting", "devices_silent"]].tolist() == [17, 0, 45]
    assert pd.read_csv(r.folder / "top_forecast_cost.csv").empty
