"""What every rule returns, and the vectorised helpers the rules share.

Rules are pure functions on arrays shaped (households, steps); they never loop over households.
A rule returns a `RuleResult`: per household a flag, a severity code, a score 0..100 and the
numbers behind a reason; the reason text is formatted only for flagged households.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

SEVERITIES = ("none", "low", "medium", "high", "emergency")
NONE, LOW, MEDIUM, HIGH, EMERGENCY = range(5)


@dataclass
class RuleResult:
    """Outcome of one risk rule over all households.

    kind: case kind (see docs/architecture.md). flagged: bool (H,). severity: int8 (H,) codes
    0 none .. 4 emergency. score: float (H,) 0..100. numbers: named arrays (H,) behind the reason.
    reason: formats one household's numbers (a dict of Python scalars) into plain English.
    """

    kind: str
    flagged: np.ndarray
    severity: np.ndarray
    score: np.ndarray
    numbers: dict[str, np.ndarray] = field(default_factory=dict)
    reason: Callable[[dict], str] = lambda n: ""

    def __post_init__(self) -> None:
        self.flagged = np.asarray(self.flagged, dtype=bool)
        self.severity = np.where(self.flagged, np.asarray(self.severity, dtype=np.int8), NONE)
        self.severity = self.severity.astype(np.int8)
        self.score = np.where(self.flagged, np.clip(np.nan_to_num(self.score), 0.0, 100.0), 0.0)

    def numbers_of(self, i: int) -> dict:
        """The numbers behind household i's reason, as plain Python values."""
        return {k: _scalar(v[i]) for k, v in self.numbers.items()}

    def reason_of(self, i: int) -> str:
        return self.reason(self.numbers_of(i))

    def severity_name(self, i: int) -> str:
        return SEVERITIES[int(self.severity[i])]

    def flagged_indices(self) -> np.ndarray:
        return np.flatnonzero(self.flagged)

    def iter_flagged(self) -> Iterator[tuple[int, str, float, str, dict]]:
        """(index, severity, score, reason, numbers) for each flagged household."""
        for i in self.flagged_indices():
            yield int(i), self.severity_name(i), float(self.score[i]), self.reason_of(i), \
                self.numbers_of(i)


def _scalar(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def as_float(x) -> np.ndarray:
    """x as a floating array, without a copy when it already is one (float32 stays float32)."""
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sums over every window of `window` consecutive steps along axis 1: (H, S-window+1).

    Booleans are counted in integers. If the series is shorter than the window, one sum over
    the whole series (H, 1)."""
    x = np.asarray(x)
    window = max(1, min(int(window), x.shape[1]))
    dtype = np.int32 if x.dtype == bool else np.float64
    c = np.zeros((x.shape[0], x.shape[1] + 1), dtype=dtype)
    np.cumsum(x, axis=1, dtype=dtype, out=c[:, 1:])
    return c[:, window:] - c[:, :-window]


def longest_run(mask: np.ndarray) -> np.ndarray:
    """Length of the longest run of True along axis 1 [steps] (H,)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape[1] == 0:
        return np.zeros(mask.shape[0], dtype=np.int64)
    c = np.cumsum(mask, axis=1, dtype=np.int32)
    # At each False, remember the count so far; the run length is the count since the last False.
    base = np.maximum.accumulate(np.where(mask, np.int32(0), c), axis=1)
    return (c - base).max(axis=1)


def trailing_run(mask: np.ndarray) -> np.ndarray:
    """Length of the run of True that ends at the last step [steps] (H,)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape[1] == 0:
        return np.zeros(mask.shape[0], dtype=np.int64)
    not_mask = ~mask[:, ::-1]
    first_false = np.where(not_mask.any(axis=1), not_mask.argmax(axis=1), mask.shape[1])
    return first_false.astype(np.int64)


def coverage(x: np.ndarray) -> np.ndarray:
    """Share of steps with data (not NaN) per household (H,)."""
    x = np.asarray(x)
    if x.shape[1] == 0:
        return np.zeros(x.shape[0])
    return np.isfinite(x).mean(axis=1)


def nanmin_safe(x: np.ndarray) -> np.ndarray:
    """Minimum along axis 1 ignoring NaN; NaN where a row has no data (no warnings)."""
    x = as_float(x)
    filled = np.where(np.isfinite(x), x, np.inf).min(axis=1)
    return np.where(np.isfinite(filled), filled, np.nan)


def nanmax_safe(x: np.ndarray) -> np.ndarray:
    x = as_float(x)
    filled = np.where(np.isfinite(x), x, -np.inf).max(axis=1)
    return np.where(np.isfinite(filled), filled, np.nan)


def grade(value: np.ndarray, low: float, medium: float, high: float,
          higher_is_worse: bool = True) -> np.ndarray:
    """Severity codes from three ascending (or descending) bars."""
    v = np.nan_to_num(np.asarray(value, dtype=np.float64),
                      nan=-np.inf if higher_is_worse else np.inf)
    if not higher_is_worse:
        v, low, medium, high = -v, -low, -medium, -high
    return np.select([v >= high, v >= medium, v >= low], [HIGH, MEDIUM, LOW], NONE).astype(np.int8)


def hours(n_steps, step_h: float):
    return np.asarray(n_steps, dtype=np.float64) * step_h


def fmt_h(value: float | None) -> str:
    """Hours for a reason: whole hours when large, one decimal when small."""
    if value is None:
        return "?"
    return f"{value:.0f}" if value >= 10 or float(value).is_integer() else f"{value:.1f}"


def last_valid(x: np.ndarray) -> np.ndarray:
    """Last non-NaN value along axis 1 (H,); NaN where a row has none."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[1] == 0:
        return np.full(x.shape[0], np.nan)
    finite = np.isfinite(x)
    idx = x.shape[1] - 1 - finite[:, ::-1].argmax(axis=1)
    out = x[np.arange(x.shape[0]), idx]
    return np.where(finite.any(axis=1), out, np.nan)


def fmt_hours(value: float | None) -> str:
    """'1 hour', '2.5 hours', '41 hours'."""
    text = fmt_h(value)
    return f"{text} hour" if text == "1" else f"{text} hours"


def row_quantile(x: np.ndarray, q: float) -> np.ndarray:
    """The q-quantile (0..1, lower value) of each row ignoring NaN, vectorised (H,); NaN for an
    empty row. numpy's nanpercentile loops over rows in Python when NaN are present."""
    x = as_float(x)
    if x.shape[1] == 0:
        return np.full(x.shape[0], np.nan)
    srt = np.sort(np.where(np.isfinite(x), x, np.inf), axis=1)
    n = np.isfinite(x).sum(axis=1)
    k = np.clip(np.floor(q * (n - 1)).astype(np.int64), 0, x.shape[1] - 1)
    out = np.take_along_axis(srt, k[:, None], axis=1)[:, 0]
    return np.where(n > 0, out, np.nan)
