"""Quantiles of many rows at once, ignoring NaN, without ``np.nanquantile``'s slow path."""

from __future__ import annotations

import numpy as np


def row_quantiles(values: np.ndarray, probs: np.ndarray | list[float]) -> np.ndarray:
    """Quantiles along the last axis of a 2-D array, NaN ignored (linear interpolation).

    values: (rows, samples); probs: (q,) in [0, 1]. Returns (rows, q); NaN for a row with no
    finite value.
    """
    values = np.asarray(values)
    probs = np.asarray(probs, float)
    ordered = np.sort(values, axis=1)  # NaN sort to the end
    n = np.isfinite(ordered).sum(axis=1)
    pos = probs[None, :] * np.maximum(n - 1, 0)[:, None]
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0)[:, None])
    frac = (pos - lo).astype(values.dtype if values.dtype.kind == "f" else float)
    v_lo = np.take_along_axis(ordered, lo, axis=1)
    v_hi = np.take_along_axis(ordered, hi, axis=1)
    out = v_lo + (v_hi - v_lo) * frac
    out[n == 0] = np.nan
    return out


def pinball_loss(actual: np.ndarray, quantile: np.ndarray, prob: float) -> np.ndarray:
    """Pinball (quantile) loss per element [units of the data]; NaN where actual is missing."""
    diff = actual - quantile
    return np.maximum(prob * diff, (prob - 1) * diff)
