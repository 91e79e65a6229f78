"""CSV files that people open in a spreadsheet: UTF-8 with a byte-order mark (so Excel reads
'£' and accents right), ISO 8601 times, and no cell that a spreadsheet would run as a formula.

Formula injection (CSV injection): a text cell that begins with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return may be evaluated by Excel or LibreOffice. Such a cell is written with a
leading apostrophe, as OWASP's "CSV Injection" guidance recommends, unless the whole cell is a
plain number or an amount of money (``-12.5``, ``-£10.21``), which no spreadsheet runs.
Numeric columns are left as numbers, except money: ``money_gbp`` writes it as people and Excel
read it, ``-£10.21`` (the minus before the pound sign, two decimals; never ``£-10.21`` or a float
such as ``-10.2099999``). Excel (en-GB) reads such a cell as the number -10.21 in currency format;
it cannot carry a formula, so it is not prefixed, which would turn it into text.

OWASP, "CSV Injection": https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime

import pandas as pd

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_AMOUNT = re.compile(r"^[-+]?£?\d[\d,]*(\.\d+)?%?$")


def neutralise_cell(value):
    """``value`` as a spreadsheet shows it without running it (text only; others unchanged)."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if _PLAIN_AMOUNT.match(value):
        return value
    return "'" + value


def money_gbp(value) -> str:
    """An amount of money [GBP] as ``-£10.21`` / ``£1234.50`` (no thousands separator, so the cell
    stays one plain amount); '' for none. Rounded half away from zero to the penny."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    pence = int(_round_half_away(float(value) * 100))
    sign = "-" if pence < 0 else ""
    return f"{sign}£{abs(pence) // 100}.{abs(pence) % 100:02d}"


def _round_half_away(x: float) -> float:
    # Python's round() is banker's rounding; money is rounded half away from zero. The 1e-9
    # absorbs binary noise (2.675 * 100 = 267.49999...).
    return math.floor(abs(x) + 0.5 + 1e-9) * (1 if x >= 0 else -1)


def iso_utc(value) -> str:
    """An absolute time as ISO 8601 in UTC (``2026-12-03T09:40:00Z``); '' for none."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, str):
        if not value:
            return ""
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spreadsheet_csv(frame: pd.DataFrame, money_columns: Iterable[str] = ()) -> bytes:
    """``frame`` as CSV bytes for a spreadsheet: BOM, header, '\\r\\n' rows as Excel writes
    them, empty cells for missing values, ``money_columns`` [GBP] as ``-£10.21``, text cells
    neutralised."""
    safe = frame.copy()
    for column in money_columns:
        safe[column] = safe[column].map(money_gbp).astype(object)
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_cell)
    safe.columns = [neutralise_cell(str(c)) for c in safe.columns]
    text = safe.to_csv(index=False, lineterminator="\r\n", na_rep="")
    return (BOM + text).encode("utf-8")
