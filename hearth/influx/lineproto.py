"""InfluxDB line protocol: escaping, one `Point`, and many points from numpy arrays at once.

Escaping follows InfluxDB's parser (1.x, also 2.x/3.x):

- measurement: ``,`` and space are escaped;
- tag keys, tag values, field keys: ``,``, ``=`` and space are escaped;
- string field values: ``"`` and ``\\`` are escaped, the value is double-quoted;
- integers get an ``i`` suffix, floats are written as their shortest exact round-trip text
  (``repr`` for one `Point`, the same algorithm in C++ for arrays), booleans as
  ``true``/``false``; timestamps are integer nanoseconds.

What InfluxDB cannot store exactly is refused with a `LineProtocolError` naming the value and
what to do (each rule found by round trips through a real InfluxDB 1.6): a backslash at the end
of a name or tag value or just before ``,`` ``=`` space (and ``"`` in measurements and field
keys), which InfluxDB reads as an escape; newlines and NUL anywhere; a measurement starting with
``#`` (a comment) or a tab, a field key starting with a tab (skipped as white space); empty
names and tag values; the name ``time``; NaN, infinities and integers beyond 64 bits.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# A backslash InfluxDB would read as an escape: before , = space, or at the very end; in
# measurements and field keys it also unescapes \" (tags it does not).
_BAD_BACKSLASH = re.compile(r"\\(?=[,= ]|$)")
_BAD_BACKSLASH_QUOTE = re.compile(r'\\(?=[,= "]|$)')


class LineProtocolError(ValueError):
    """A value that cannot be written as line protocol; the message names it and says why."""


def _check_name(kind: str, value: str, context: str = "") -> None:
    where = f" ({context})" if context else ""
    if not isinstance(value, str):
        raise LineProtocolError(f"{kind} {value!r}{where} must be a string")
    if value == "":
        hint = " (leave the tag out of this point instead)" if kind == "tag value" else ""
        raise LineProtocolError(f"{kind}{where} is empty; InfluxDB needs a non-empty {kind}"
                                + hint)
    if "\n" in value or "\r" in value:
        raise LineProtocolError(f"{kind} {value!r}{where} contains a newline, which line protocol"
                                " cannot carry; remove it")
    if "\x00" in value:
        raise LineProtocolError(f"{kind} {value!r}{where} contains a NUL character; remove it")
    if value[0] == "\t" and kind in ("measurement", "field key"):
        raise LineProtocolError(f"{kind} {value!r}{where} starts with a tab, which InfluxDB"
                                " skips as white space; remove it")
    if value[0] == "#" and kind == "measurement":
        raise LineProtocolError(f"measurement {value!r} starts with '#', which makes the line a"
                                " comment; choose another name")
    pattern = _BAD_BACKSLASH_QUOTE if kind in ("measurement", "field key") else _BAD_BACKSLASH
    if pattern.search(value):
        raise LineProtocolError(f"{kind} {value!r}{where} has a backslash at its end or before"
                                " ',', '=', space (or '\"' in names), which InfluxDB cannot"
                                " store exactly; remove or replace it")


def escape_measurement(name: str) -> str:
    _check_name("measurement", name)
    return name.replace(",", "\\,").replace(" ", "\\ ")


def escape_key(name: str, kind: str = "tag key", context: str = "") -> str:
    """Escape a tag key, tag value or field key (``,`` ``=`` space)."""
    _check_name(kind, name, context)
    if kind != "tag value" and name == "time":
        raise LineProtocolError(f"{kind} 'time'{(' (' + context + ')') if context else ''} is"
                                " reserved by InfluxDB; choose another name")
    return name.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def escape_string_field(value: str, key: str = "", measurement: str = "") -> str:
    """A string field value, quoted (``\\`` and ``"`` escaped). Newlines are refused: line
    protocol has no escape for them and a newline would split the point in two."""
    if "\n" in value or "\r" in value or "\x00" in value:
        raise LineProtocolError(f"string field {key!r} of {measurement!r} contains a newline or"
                                f" NUL ({value[:40]!r}); replace it (for example with a space)")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_field_value(value, key: str = "", measurement: str = "") -> str:
    """One field value as line protocol (bool, int with ``i``, float with repr, string)."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        v = int(value)
        if not INT64_MIN <= v <= INT64_MAX:
            raise LineProtocolError(f"field {key!r} of {measurement!r}: integer {v} does not fit"
                                    " in 64 bits; write it as a float")
        return f"{v}i"
    if isinstance(value, numbers.Real):
        v = float(value)
        if not math.isfinite(v):
            raise LineProtocolError(f"field {key!r} of {measurement!r} is {v!r}; InfluxDB cannot"
                                    " store NaN or infinity: leave the field out of this point")
        if isinstance(value, np.float32 | np.float16):
            return str(value)  # shortest text of the float32, as for float32 columns
        return repr(v)
    if isinstance(value, str):
        return escape_string_field(value, key, measurement)
    raise LineProtocolError(f"field {key!r} of {measurement!r} has a value of type"
                            f" {type(value).__name__}; use float, int, bool or str")


@dataclass(frozen=True)
class Point:
    """One point (a reading): measurement, tags, fields, time [ns since the Unix epoch, UTC].

    ``time_ns=None`` lets the server stamp it (avoid: a retry would then add a second point).
    """

    measurement: str
    tags: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, object] = field(default_factory=dict)
    time_ns: int | None = None

    def to_line(self) -> str:
        m = self.measurement
        parts = [escape_measurement(m)]
        for k in sorted(self.tags):  # InfluxDB sorts tags anyway; sorted input is cheaper for it
            v = self.tags[k]
            parts.append(f"{escape_key(k, 'tag key', m)}="
                         f"{escape_key(v, 'tag value', f'tag {k!r} of {m!r}')}")
        if not self.fields:
            raise LineProtocolError(f"point of {m!r} has no fields; InfluxDB needs at least one")
        fields = ",".join(f"{escape_key(k, 'field key', m)}={format_field_value(v, k, m)}"
                          for k, v in self.fields.items())
        line = ",".join(parts) + " " + fields
        if self.time_ns is not None:
            line += f" {int(self.time_ns)}"
        return line


def _shortest_float_text(values: np.ndarray) -> list[str]:
    """The shortest text that reads back as exactly the same float, per value, in C++.

    Arrow's cast uses the same shortest round-trip algorithm as Python's ``repr`` (for float32:
    the shortest text of the float32, a register's 231.1, not 231.10000610351562), four times
    faster than formatting in Python, which was half of the client's CPU per point. The text
    can differ from ``repr`` in form ("1e-7", "5" for 5.0), never in value; both are floats
    in line protocol (an integer needs the ``i`` suffix).
    """
    if values.dtype == np.float16:
        values = values.astype(np.float32)
    elif values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float64)
    return pc.cast(pa.array(values), pa.string()).to_pylist()


def _column_strings(name: str, values: np.ndarray, measurement: str) -> tuple[list, str]:
    """(per-point Python values, how the formatter writes them: 'i' int, 's' str)."""
    if values.dtype == np.bool_:
        return np.where(values, "true", "false").tolist(), "s"
    if np.issubdtype(values.dtype, np.integer):
        if values.dtype == np.uint64 and len(values) and values.max() > INT64_MAX:
            raise LineProtocolError(f"field {name!r} of {measurement!r}: integer"
                                    f" {values.max()} does not fit in 64 bits")
        return values.tolist(), "i"
    if np.issubdtype(values.dtype, np.floating):
        finite = np.isfinite(values)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise LineProtocolError(
                f"field {name!r} of {measurement!r} is {values[i]!r} at index {i}"
                f" ({int((~finite).sum())} non-finite values); InfluxDB cannot store NaN or"
                " infinity: write those points without this field")
        return _shortest_float_text(values), "s"
    if values.dtype.kind in "UO":
        out = []
        for i, v in enumerate(values.tolist()):
            if not isinstance(v, str):
                raise LineProtocolError(f"field {name!r} of {measurement!r} at index {i} is"
                                        f" {type(v).__name__}; a text column must hold str")
            out.append(escape_string_field(v, name, measurement))
        return out, "s"
    raise LineProtocolError(f"field {name!r} of {measurement!r} has dtype {values.dtype};"
                            " use float, int, bool or str arrays")


# Tag prefixes already escaped, by (measurement, tag names, tag values): households and
# devices repeat from call to call, so each is escaped and checked once per process.
_PREFIX_CACHE: dict[tuple, str] = {}
_PREFIX_CACHE_MAX = 500_000


def _prefix(measurement: str, names: tuple, values: tuple) -> str:
    key = (measurement, names, values)
    prefix = _PREFIX_CACHE.get(key)
    if prefix is None:
        parts = [escape_measurement(measurement)]
        for k, v in sorted(zip(names, values, strict=True)):
            ctx = f"tag {k!r} of {measurement!r}"
            parts.append(f"{escape_key(k, 'tag key', measurement)}="
                         f"{escape_key(v if isinstance(v, str) else str(v), 'tag value', ctx)}")
        prefix = ",".join(parts)
        if len(_PREFIX_CACHE) >= _PREFIX_CACHE_MAX:
            _PREFIX_CACHE.clear()
        _PREFIX_CACHE[key] = prefix
    return prefix


def _tag_prefixes(measurement: str, tags: Mapping[str, object], n: int) -> list[str]:
    """Per point 'measurement,tag=value,...' built once per unique tag combination."""
    const_names, const_values, arrays = [], [], []
    for k in sorted(tags):
        v = tags[k]
        if isinstance(v, str):
            const_names.append(k)
            const_values.append(v)
            continue
        arr = np.asarray(v)
        if arr.shape != (n,):
            raise LineProtocolError(f"tag {k!r} of {measurement!r} has shape {arr.shape};"
                                    f" expected ({n},) like time_ns")
        arrays.append((k, arr))
    names = tuple(const_names) + tuple(k for k, _ in arrays)
    if not arrays:
        return [_prefix(measurement, names, tuple(const_values))] * n
    codes, uniques = [], []
    for _, arr in arrays:
        # Hash-based factorize: several times faster than np.unique's sort on strings.
        inverse, uniq = pd.factorize(arr, use_na_sentinel=False)
        codes.append(inverse.astype(np.int64, copy=False))
        uniques.append(np.asarray(uniq, dtype=object))
    dims = [len(u) for u in uniques]
    if len(codes) == 1:
        combo_codes, combos = codes[0], np.arange(dims[0])
    else:
        combo_codes, combos = pd.factorize(np.ravel_multi_index(codes, dims))
    idx = np.unravel_index(combos, dims)
    columns = [u[ix].tolist() for u, ix in zip(uniques, idx, strict=True)]
    const = tuple(const_values)
    prefixes = [_prefix(measurement, names, const + combo) for combo in zip(*columns, strict=True)]
    return np.array(prefixes, dtype=object)[combo_codes].tolist()


_FORMATTERS: dict[tuple[str, ...], object] = {}


def _formatter(kinds: tuple[str, ...]):
    """A function (prefix, *values, time, *keys) -> line, compiled once per column kinds.

    An f-string is faster than str.format for millions of lines; the generated source holds
    only argument names (keys arrive as arguments), never data.
    """
    fn = _FORMATTERS.get(kinds)
    if fn is None:
        args = ", ".join(f"v{i}" for i in range(len(kinds)))
        keys = ", ".join(f"k{i}" for i in range(len(kinds)))
        body = "".join(f"{{k{i}}}{{v{i}}}{'i' if kind == 'i' else ''}"
                       for i, kind in enumerate(kinds))
        src = f"lambda {keys}: lambda p, {args}, t: f'{{p}} {body} {{t}}'"
        fn = _FORMATTERS[kinds] = eval(src, {})  # source holds names only
    return fn


def lines_from_arrays(measurement: str, tags: Mapping[str, object],
                      fields: Mapping[str, np.ndarray], time_ns) -> list[str]:
    """Line protocol for many points at once.

    ``tags``: name -> str (same for all points) or array of n values; ``fields``: name -> array
    of n values (float64, float32, int, bool or str); ``time_ns``: n int64 timestamps [ns since
    the epoch, UTC] or datetime64. Tag strings are escaped once per unique combination, values
    are converted column by column. float32 columns are written with float32's shortest text.
    """
    t = np.asarray(time_ns)
    if t.ndim != 1:
        raise LineProtocolError(f"time_ns must be one-dimensional, got shape {t.shape}")
    if t.dtype.kind == "M":
        t = t.astype("datetime64[ns]").view(np.int64)
    if not np.issubdtype(t.dtype, np.integer):
        raise LineProtocolError(f"time_ns must be integer nanoseconds, got dtype {t.dtype}")
    n = len(t)
    if not fields:
        raise LineProtocolError(f"no fields for {measurement!r}; InfluxDB needs at least one")
    prefixes = _tag_prefixes(measurement, tags, n)
    if n == 0:
        return []
    cols, kinds, keys = [], [], []
    for i, (k, v) in enumerate(fields.items()):
        arr = np.asarray(v)
        if arr.shape != (n,):
            raise LineProtocolError(f"field {k!r} of {measurement!r} has shape {arr.shape};"
                                    f" expected ({n},) like time_ns")
        values, kind = _column_strings(k, arr, measurement)
        cols.append(values)
        kinds.append(kind)
        keys.append(("," if i else "") + escape_key(k, "field key", measurement) + "=")
    line = _formatter(tuple(kinds))(*keys)
    return list(map(line, prefixes, *cols, t.astype(np.int64, copy=False).tolist()))
