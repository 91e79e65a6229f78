"""CSV in and out for ``hearth forecast --input``: a supplier's or data portal's export.

Usage: ``household_id,timestamp,energy_kwh``, one row per household per half hour, timestamp
ISO 8601 (UTC; an explicit offset is converted; no offset means UTC) at the START of the
interval. An empty energy_kwh is a missing reading. Hourly data is refused with a clear error
(splitting an hour evenly would invent a flat profile). Weather: ``timestamp,temp_c``.
Errors name the line (1 = the header) and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hearth.errors import HearthError

USAGE_COLUMNS = ("household_id", "timestamp", "energy_kwh")
WEATHER_COLUMNS = ("timestamp", "temp_c")
# energy_kwh is the median half hour; energy_kwh_mean the expected one (sum it for totals).
OUTPUT_COLUMNS = ("household_id", "timestamp", "energy_kwh", "energy_kwh_mean", "energy_kwh_p10",
                  "energy_kwh_p90")
DAILY_COLUMNS = ("household_id", "date", "energy_kwh", "energy_kwh_p10", "energy_kwh_p90")
STEP = np.timedelta64(30, "m")
MAX_ENERGY_KWH = 100.0  # per half hour: above this a row is a unit or column mistake


class CsvInputError(HearthError):
    """A CSV file the forecaster cannot use; the message names the line and the fix."""


@dataclass
class UsageTable:
    households: np.ndarray      # (H,) str
    start: np.datetime64        # first interval start, UTC [ns]
    energy_kwh: np.ndarray      # (H, T) float32, NaN missing


def _read(path: Path, columns: tuple[str, ...], what: str):
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise CsvInputError(f"{what} file {path} does not exist")
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = fh.readline()
    if header.strip() and '"' not in header:
        _check_field_counts(path, header.count(",") + 1)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True,
                            index_col=False)
    except pd.errors.EmptyDataError as exc:
        raise CsvInputError(f"{path}: the file is empty; expected a header line "
                            f"{','.join(columns)}") from exc
    except pd.errors.ParserError as exc:
        raise CsvInputError(f"{path}: {exc} (the header has {len(columns)} columns: "
                            f"{','.join(columns)}; quote values that contain commas)") from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CsvInputError(f"{path}: line 1: missing column(s) {', '.join(missing)}; the header"
                            f" must name {','.join(columns)} (found {','.join(frame.columns)})")
    if frame.empty:
        raise CsvInputError(f"{path}: no data rows after the header")
    return frame


def _check_field_counts(path: Path, n_fields: int) -> None:
    """A row with too few fields would read as a missing value: refuse it, naming the line.
    (Skipped for files with quoted fields, where commas may sit inside values.)"""
    raw = np.fromfile(path, dtype=np.uint8)
    if (raw == ord('"')).any():
        return
    newlines = np.flatnonzero(raw == ord("\n"))
    ends = np.append(newlines, raw.size) if raw.size and raw[-1] != ord("\n") else newlines
    commas = np.flatnonzero(raw == ord(","))
    per_line = np.diff(np.searchsorted(commas, np.concatenate([[-1], ends])))
    starts = np.concatenate([[0], ends[:-1] + 1])
    blank = (ends - starts) <= (raw[np.maximum(ends - 1, 0)] == ord("\r"))
    bad = np.flatnonzero((per_line != n_fields - 1) & ~blank)
    if bad.size:
        line = int(bad[0]) + 1
        raise CsvInputError(f"{path}: line {line}: {per_line[bad[0]] + 1} fields, expected"
                            f" {n_fields} like the header")


def _bad(path: Path, row: int, message: str) -> CsvInputError:
    return CsvInputError(f"{path}: line {row + 2}: {message}")


def _timestamps(path: Path, raw, column: str = "timestamp") -> np.ndarray:
    import pandas as pd

    parsed = pd.to_datetime(raw, utc=True, format="ISO8601", errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise _bad(path, i, f"{column} {raw.iloc[i]!r} is not an ISO 8601 time such as "
                   f"2026-01-15T17:30:00Z")
    ns = parsed.dt.tz_localize(None).to_numpy("datetime64[ns]")
    off = np.flatnonzero(ns.astype(np.int64) % (30 * 60 * 10**9))
    if off.size:
        i = int(off[0])
        raise _bad(path, i, f"{column} {raw.iloc[i]!r} is not the start of a half hour (UTC :00"
                   " or :30)")
    return ns


def _numbers(path: Path, raw, column: str, allow_empty: bool) -> np.ndarray:
    import pandas as pd

    text = raw.str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(float)
    empty = (text == "").to_numpy()
    bad = np.flatnonzero(np.isnan(values) & ~(empty & allow_empty) | np.isinf(values))
    if bad.size:
        i = int(bad[0])
        what = "is empty" if empty[i] else f"{raw.iloc[i]!r} is not a number"
        raise _bad(path, i, f"{column} {what}")
    return values


def read_usage(path, history_days: int | None = None) -> UsageTable:
    """Read a usage CSV into a (households, half-hours) matrix.

    Keeps the last ``history_days`` days before the latest timestamp when given. A clean file
    is read by Arrow's multi-threaded CSV reader (about 15 times faster than pandas on text);
    a file with anything wrong in it is read again line by line so that the error names the
    line and the fix.
    """
    path = Path(path)
    fast = _read_usage_arrow(path)
    if fast is not None:
        households, row_of, times, energy = fast
    else:
        households, row_of, times, energy = _read_usage_checked(path)
    _refuse_hourly(path, times, row_of)
    start, n_t, keep, key = _cells(times, row_of, history_days)
    matrix = np.full((households.size, n_t), np.nan, np.float32)
    matrix.reshape(-1)[key] = energy[keep]
    return UsageTable(households, start, matrix)


def _cells(times: np.ndarray, row_of: np.ndarray, history_days: int | None):
    """The window kept and each kept row's flat cell in the (households, steps) matrix."""
    end, start = times.max(), times.min()
    if history_days is not None:
        start = max(start, end - np.timedelta64(history_days, "D") + STEP)
    keep = times >= start
    col = ((times[keep] - start) // STEP).astype(np.int64)
    n_t = int((end - start) // STEP) + 1
    return start, n_t, keep, row_of[keep].astype(np.int64) * n_t + col


def _read_usage_arrow(path: Path):
    """(households, row_of, times, energy) of a file with nothing wrong in it, or None when
    anything is off (then the checked reader finds it and says where)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    if not path.is_file():
        return None
    try:
        table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
            column_types={"household_id": pa.string(), "timestamp": pa.timestamp("ns", tz="UTC"),
                          "energy_kwh": pa.float64()},
            include_columns=list(USAGE_COLUMNS), null_values=[""], strings_can_be_null=False,
            quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowKeyError, OSError, ValueError):
        return None
    if table.num_rows == 0 or table.column("timestamp").null_count:
        return None
    ids = pc.utf8_trim_whitespace(table.column("household_id")).combine_chunks()
    if pc.any(pc.equal(pc.utf8_length(ids), 0)).as_py():
        return None
    times = table.column("timestamp").to_numpy().astype("datetime64[ns]")
    energy_col = table.column("energy_kwh")
    energy = energy_col.to_numpy(zero_copy_only=False)
    if int(np.isnan(energy).sum()) != energy_col.null_count:  # a "nan" written as text
        return None
    with np.errstate(invalid="ignore"):
        if (energy < 0).any() or (energy > MAX_ENERGY_KWH).any() or np.isinf(energy).any():
            return None
    if (times.astype(np.int64) % (30 * 60 * 10**9)).any():
        return None
    encoded = ids.dictionary_encode()
    names = encoded.dictionary.to_numpy(zero_copy_only=False).astype(str)
    households, remap = np.unique(names, return_inverse=True)  # the first-seen ids, sorted
    if households.size != names.size:  # two spellings trimmed to one id
        return None
    row_of = remap[encoded.indices.to_numpy()]
    key = _cells(times, row_of, None)[3]
    if np.bincount(key).max() > 1:  # a repeated household and half hour: say which line
        return None
    return households, row_of, times, energy


def _read_usage_checked(path: Path):
    """The line-by-line reader: every problem raises CsvInputError naming the line."""
    frame = _read(path, USAGE_COLUMNS, "usage")
    ids = frame["household_id"].str.strip()
    empty_id = np.flatnonzero((ids == "").to_numpy())
    if empty_id.size:
        raise _bad(path, int(empty_id[0]), "household_id is empty")
    times = _timestamps(path, frame["timestamp"])
    energy = _numbers(path, frame["energy_kwh"], "energy_kwh", allow_empty=True)
    wrong = np.flatnonzero((energy < 0) | (energy > MAX_ENERGY_KWH))
    if wrong.size:
        i = int(wrong[0])
        raise _bad(path, i, f"energy_kwh {energy[i]} is outside 0..{MAX_ENERGY_KWH:g} kWh for"
                   " one half hour (a cumulative register or Wh instead of kWh?)")
    households, row_of = np.unique(ids.to_numpy(str), return_inverse=True)
    key = _cells(times, row_of, None)[3]
    order = np.argsort(key, kind="stable")
    dup = np.flatnonzero(np.diff(key[order]) == 0)
    if dup.size:
        first, second = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
        when = frame["timestamp"].iloc[second]
        raise _bad(path, second, f"household {ids.iloc[second]} at {when} repeats line"
                   f" {first + 2}; keep one row per household and half hour")
    return households, row_of, times, energy


def _refuse_hourly(path: Path, times: np.ndarray, row_of: np.ndarray) -> None:
    """Hourly exports (every time on the hour, an hour apart) would look like half the use."""
    on_hour = (times.astype(np.int64) % (3600 * 10**9)) == 0
    if not on_hour.all() or times.size < 3:
        return
    order = np.lexsort((times, row_of))
    gaps = np.diff(times[order].astype(np.int64))
    same = np.diff(row_of[order]) == 0
    if same.any() and np.median(gaps[same]) >= 3600 * 10**9:
        raise CsvInputError(
            f"{path}: the readings are hourly (all on the hour, an hour apart); `hearth "
            "forecast` needs half-hourly energy per interval start. Export half-hourly data "
            "(UK smart meters record it), or split each hour into its two half hours yourself.")


def read_weather(path) -> tuple[np.ndarray, np.ndarray]:
    """Read ``timestamp,temp_c`` into (times datetime64[ns], temp_c [C])."""
    path = Path(path)
    frame = _read(path, WEATHER_COLUMNS, "weather")
    import pandas as pd

    parsed = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601", errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise _bad(path, i, f"timestamp {frame['timestamp'].iloc[i]!r} is not an ISO 8601 time")
    temp = _numbers(path, frame["temp_c"], "temp_c", allow_empty=False)
    odd = np.flatnonzero((temp < -60) | (temp > 60))
    if odd.size:
        i = int(odd[0])
        raise _bad(path, i, f"temp_c {temp[i]} is not a plausible outdoor temperature [C]")
    return parsed.dt.tz_localize(None).to_numpy("datetime64[ns]"), temp


def iso_utc(times: np.ndarray) -> np.ndarray:
    """ISO 8601 UTC strings (``2026-01-15T17:30:00Z``) of datetime64 values."""
    return np.char.add(np.datetime_as_string(np.asarray(times, "datetime64[s]"), unit="s"), "Z")


def write_forecast(path, households: np.ndarray, times: np.ndarray, p50: np.ndarray,
                   p10: np.ndarray, p90: np.ndarray, mean: np.ndarray) -> int:
    """Write one row per household per half hour; returns the number of rows. ``mean`` is the
    expected value: sum it for totals (the median half hours sum to less, about 6%)."""
    n_h, n_t = p50.shape
    columns = {
        "household_id": np.repeat(np.asarray(households, str), n_t),
        "timestamp": np.tile(iso_utc(times), n_h),
        "energy_kwh": p50, "energy_kwh_mean": mean, "energy_kwh_p10": p10, "energy_kwh_p90": p90,
    }
    return _write_csv(path, columns, OUTPUT_COLUMNS, households)


def _write_csv(path, columns: dict[str, np.ndarray], order: tuple[str, ...],
               households: np.ndarray) -> int:
    """A CSV by Arrow's writer (text is formatted in C++, not row by row in Python): values
    rounded to 0.1 Wh and written in their shortest form, quotes only where needed."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    arrays = {name: pa.array(np.round(np.asarray(v, np.float64).ravel(), 4)
                             if np.asarray(v).dtype.kind == "f" else np.asarray(v))
              for name, v in columns.items()}
    table = pa.table({name: arrays[name] for name in order})
    # Arrow's "needed" quotes every string. Times and dates are ours; the ids come from the
    # input file, so they are checked rather than assumed plain.
    ids = np.asarray(households, str)
    plain = not any((np.char.find(ids, ch) >= 0).any() for ch in (",", '"', "\n", "\r"))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write((",".join(order) + "\n").encode())
        pcsv.write_csv(table, fh, pcsv.WriteOptions(include_header=False,
                                                    quoting_style="none" if plain else "needed"))
    return table.num_rows


def write_daily(path, households: np.ndarray, days: np.ndarray, mean: np.ndarray,
                p10: np.ndarray, p90: np.ndarray) -> int:
    """Write daily forecasts: household_id,date,energy_kwh (expected),energy_kwh_p10,
    energy_kwh_p90."""
    n_h, n_d = mean.shape
    columns = {
        "household_id": np.repeat(np.asarray(households, str), n_d),
        "date": np.tile(np.datetime_as_string(np.asarray(days, "datetime64[D]")), n_h),
        "energy_kwh": mean, "energy_kwh_p10": p10, "energy_kwh_p90": p90,
    }
    return _write_csv(path, columns, DAILY_COLUMNS, households)
