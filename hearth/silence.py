"""When a device counts as silent: one definition for the dashboard's data health and the
weekly report, so the two never disagree about the same device.

A device is silent when its last reading is older than ``intervals`` of its OWN reporting
interval (registry ``devices.interval_s``: a meter every minute, a thermostat every 5 minutes,
a gas meter every 30 minutes), but never sooner than ``SILENT_FLOOR_S`` (one late poll or a
broker reconnect is not silence), or when it has no reading at all.
"""

from __future__ import annotations

import numpy as np

SILENT_FLOOR_S = 900.0     # [s] the shortest silence counted, whatever the interval
NO_READING_NS = np.iinfo(np.int64).min


def silent_limit_s(interval_s, intervals: float) -> np.ndarray:
    """Seconds without a reading after which each device is silent [s] (pure, vectorised)."""
    return np.maximum(np.asarray(interval_s, dtype=float) * float(intervals), SILENT_FLOOR_S)


def is_silent(last_ns, at_ns: int, interval_s, intervals: float) -> np.ndarray:
    """Per device: silent at instant ``at_ns`` [ns since the epoch] given its last reading
    ``last_ns`` [ns; ``NO_READING_NS`` for none]."""
    last = np.asarray(last_ns, dtype=np.int64)
    quiet_s = (int(at_ns) - last.astype(float)) / 1e9
    return (last == NO_READING_NS) | (quiet_s > silent_limit_s(interval_s, intervals))
