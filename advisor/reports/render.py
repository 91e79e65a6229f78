"""HTML and CSV of the weekly report. The HTML is one self-contained file: inline CSS, charts
as base64 PNG, no scripts and nothing fetched, so it opens offline and prints the same."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hearth.csv_export import spreadsheet_csv

CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: Arial, Helvetica, sans-serif; color: #0b0c0c; font-size: 10.5pt; margin: 0 1em; }
h1 { font-size: 19pt; margin: 0.2em 0; } h2 { font-size: 14pt; border-bottom: 3px solid #1d70b8;
padding-bottom: 2px; margin-top: 1.2em; } h3 { font-size: 11pt; margin-bottom: 0.3em; }
section.page { break-before: page; } section.first { break-before: auto; }
table { border-collapse: collapse; margin: 0.4em 0 0.8em; font-size: 9pt; }
th, td { border: 1px solid #b1b4b6; padding: 2px 6px; } th { background: #f3f2f1; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; background: #f3f2f1; }
.cards { display: flex; flex-wrap: wrap; gap: 8px; margin: 0.6em 0; }
.card { border-left: 5px solid #1d70b8; background: #f3f2f1; padding: 6px 10px; min-width: 9em; }
.card .v { font-size: 16pt; font-weight: bold; } .card .l { font-size: 8.5pt; }
.card.warn { border-color: #d4351c; }
.meta, .note { color: #505a5f; font-size: 9pt; } img.chart { max-width: 100%; }
"""


@dataclass
class Table:
    """One table of the report: its CSV name, title, frame and how to show each column."""

    name: str
    title: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)   # column -> kwh|gbp|pct|int|num|text
    headers: dict[str, str] = field(default_factory=dict)   # column -> heading with unit
    max_rows: int | None = None
    note: str = ""


def fmt(value, kind: str) -> str:
    """A value as a person reads it: thousands separators, units' usual precision, n/a."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "more than 30"
    if kind == "kwh":
        return f"{value:,.1f}"
    if kind == "gbp":  # -£10.21, never £-10.21
        return f"{'-' if value < 0 else ''}£{abs(value):,.2f}"
    if kind == "pct":
        return f"{value:+.1f}%"
    if kind == "share":
        return f"{value:.1f}%"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "num":
        return f"{value:,.1f}"
    return str(value)


def table_html(t: Table) -> str:
    frame = t.frame
    cols = list(frame.columns)
    head = "".join(f"<th>{html.escape(t.headers.get(c, c.replace('_', ' ')))}</th>" for c in cols)
    rows = []
    shown = frame if t.max_rows is None else frame.head(t.max_rows)
    for rec in shown.itertuples(index=False):
        cells = []
        for c, v in zip(cols, rec, strict=True):
            kind = t.formats.get(c, "text")
            cls = ' class="num"' if kind != "text" else ""
            cells.append(f"<td{cls}>{html.escape(fmt(v, kind))}</td>")
        total = ' class="total"' if "patch" in cols and rec[cols.index("patch")] == "All patches" \
            else ""
        rows.append(f"<tr{total}>{''.join(cells)}</tr>")
    more = ""
    if t.max_rows is not None and len(frame) > t.max_rows:
        more = (f'<p class="note">Showing {t.max_rows:,} of {len(frame):,} rows; all are in '
                f"{html.escape(t.name)}.csv.</p>")
    if not len(frame):
        return (f"<h3>{html.escape(t.title)}</h3><p class=\"note\">None this week.</p>"
                + (f'<p class="note">{html.escape(t.note)}</p>' if t.note else ""))
    note = f'<p class="note">{html.escape(t.note)}</p>' if t.note else ""
    return (f"<h3>{html.escape(t.title)}</h3>{note}<table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{more}")


def chart_html(png_b64: str, alt: str) -> str:
    return f'<img class="chart" alt="{html.escape(alt)}" src="data:image/png;base64,{png_b64}">'


def cards_html(cards: Sequence[tuple[str, str, bool]]) -> str:
    items = "".join(f'<div class="card{" warn" if warn else ""}"><div class="v">{html.escape(v)}'
                    f'</div><div class="l">{html.escape(label)}</div></div>'
                    for v, label, warn in cards)
    return f'<div class="cards">{items}</div>'


def page(title: str, sections: Sequence[tuple[str, str]], meta: str) -> str:
    """The whole document: a title and sections (heading, inner HTML), each section from the
    second on starting a new printed page."""
    body = []
    for i, (heading, inner) in enumerate(sections):
        cls = "page first" if i == 0 else "page"
        body.append(f'<section class="{cls}"><h2>{html.escape(heading)}</h2>{inner}</section>')
    return ("<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p class=\"meta\">{meta}</p>{''.join(body)}"
            "</body></html>\n")


def write_csv(frame: pd.DataFrame, path: Path, formats: dict[str, str] | None = None) -> None:
    """CSV for a spreadsheet (hearth.csv_export): UTF-8 with BOM, NaN as empty, money (columns
    whose format is ``gbp``) as ``-£10.21``, other numbers as stored, text that a spreadsheet
    would run as a formula neutralised."""
    money = [c for c, kind in (formats or {}).items() if kind == "gbp" and c in frame.columns]
    path.write_bytes(spreadsheet_csv(frame, money_columns=money))
