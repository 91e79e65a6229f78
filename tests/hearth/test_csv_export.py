"""Spreadsheet CSV: BOM, absolute times, formula injection neutralised (OWASP "CSV Injection")."""

import csv
import io
import re
from datetime import UTC, datetime

import pandas as pd
import pytest

from hearth.csv_export import BOM, iso_utc, money_gbp, neutralise_cell, spreadsheet_csv


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\",\"y\")", "+1+cmd|' /C calc'!A0",
                                  "-2+3", "@SUM(A1:A9)", "\tlead", "\rlead", "=1"])
def test_formula_cells_are_prefixed(cell):
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-£10.21", "-12.5", "+3", "£1,234.00", "-5%", "Damp in kitchen",
                                  "", "A=B"])
def test_plain_amounts_and_text_are_kept(cell):
    assert neutralise_cell(cell) == cell


def test_non_text_is_untouched():
    assert neutralise_cell(-3.5) == -3.5
    assert neutralise_cell(None) is None


def test_iso_utc_from_registry_text_datetime_and_timestamp():
    assert iso_utc("2026-12-03T09:40:00Z") == "2026-12-03T09:40:00Z"
    assert iso_utc(datetime(2026, 7, 1, 10, 0, tzinfo=UTC)) == "2026-07-01T10:00:00Z"
    assert iso_utc(pd.Timestamp("2026-07-01 11:00", tz="Europe/London")) == "2026-07-01T10:00:00Z"
    assert iso_utc(None) == "" and iso_utc("") == "" and iso_utc(float("nan")) == ""


def test_spreadsheet_csv_reads_back_in_excel_dialect():
    frame = pd.DataFrame({"Why": ["=cmd()", "cold"], "Cost": [-10.21, 3.0], "Money": ["-£10.21", None]})
    raw = spreadsheet_csv(frame)
    assert raw.startswith(BOM.encode("utf-8"))
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows == [["Why", "Cost", "Money"], ["'=cmd()", "-10.21", "-£10.21"], ["cold", "3.0", ""]]
    back = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")
    assert list(back.columns) == ["Why", "Cost", "Money"]
    assert back["Cost"].tolist() == [-10.21, 3.0]


def test_md_text_escapes_every_markdown_construct():
    from dashboard.fmt import md_text

    out = md_text("# h\n![i](http://x/y.png) [l](u) *e* _u_ `c` <b> $x$ https://x.invalid")
    # what is left once escapes are taken out
    unescaped = re.sub(r"\\[!-/:-@\[-`{-~]", "", out)
    assert not set("#![]()*_`<>$:/") & set(unescaped), unescaped
    assert out.replace("\\", "").replace("  \n", "\n").replace("\u2060", "") == (
        "# h\n![i](http://x/y.png) [l](u) *e* _u_ `c` <b> $x$ https://x.invalid")


@pytest.mark.parametrize(("value", "cell"), [(-10.21, "-£10.21"), (10.21, "£10.21"), (0, "£0.00"),
                                             (-0.004, "£0.00"), (-0.005, "-£0.01"),
                                             (2.675, "£2.68"), (1234.5, "£1234.50"),
                                             (-1234567.891, "-£1234567.89"), (3, "£3.00"),
                                             (None, ""), (float("nan"), "")])
def test_money_is_minus_pound_two_decimals(value, cell):
    assert money_gbp(value) == cell


def test_money_columns_round_trip_through_csv_unprefixed():
    """A money cell starts with '-' (an OWASP formula trigger) but is one plain amount, which no
    spreadsheet runs: it is written as it reads, not as text with an apostrophe; a cell that
    only looks like money and carries a formula is still neutralised."""
    frame = pd.DataFrame({"credit_gbp": [-10.21, 5.0, None], "note": ["-£1+cmd()", "ok", ""]})
    raw = spreadsheet_csv(frame, money_columns=["credit_gbp"])
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), dialect="excel"))
    assert rows == [["credit_gbp", "note"], ["-£10.21", "'-£1+cmd()"], ["£5.00", "ok"], ["", ""]]


@pytest.mark.parametrize("text", ["see http://127.0.0.1:9/x.png now", "HTTPS://evil.example/a",
                                  "go to www.evil.example", "mail jane@example.org",
                                  "WWW.Evil.example"])
def test_md_text_leaves_no_bare_url_for_gfm_to_link(text):
    """GitHub-flavoured markdown links bare URLs, www. names and addresses even with every
    punctuation mark escaped (seen in Chromium: a note's http:// became a link); their ':',
    '.' and '@' get an invisible word joiner before them, and read the same."""
    from dashboard.fmt import md_text

    out = md_text(text)
    assert not re.search(r"(?i):\\?/|(?<!\w)www\\?\.|\w\\?@", out), out
    assert out.replace("\\", "").replace("\u2060", "") == text
