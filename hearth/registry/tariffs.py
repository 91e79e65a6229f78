"""Vectorised tariff lookup: unit rates and standing charges for many days at once.

Tariffs apply per UK calendar day (``valid_from`` .. ``valid_to`` inclusive), so times are turned
into Europe/London dates before the lookup. Days no tariff covers come back as NaN, which a cost
sum then shows as missing instead of silently as zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hearth.registry.models import FUELS, PAYMENT_TYPES, Tariff

_OPEN_END = np.datetime64("9999-12-31", "D")


def local_days(times, tz: str = "Europe/London") -> np.ndarray:
    """UTC instants (datetime64, naive = UTC) -> calendar days in ``tz`` as datetime64[D]."""
    import pandas as pd

    idx = pd.DatetimeIndex(np.asarray(times, dtype="datetime64[ns]")).tz_localize("UTC")
    return idx.tz_convert(tz).tz_localize(None).to_numpy().astype("datetime64[D]")


@dataclass(frozen=True)
class TariffTable:
    """All tariffs as arrays, sorted by (fuel, payment_type, valid_from)."""

    fuel: np.ndarray                 # str
    payment_type: np.ndarray         # str
    unit_rate_gbp_per_kwh: np.ndarray
    standing_charge_gbp_per_day: np.ndarray
    valid_from: np.ndarray           # datetime64[D]
    valid_to: np.ndarray             # datetime64[D], 9999-12-31 when open-ended

    @classmethod
    def from_tariffs(cls, tariffs: Sequence[Tariff]) -> TariffTable:
        ts = sorted(tariffs, key=lambda t: (t.fuel, t.payment_type, t.valid_from))
        return cls(
            fuel=np.array([t.fuel for t in ts], dtype=object),
            payment_type=np.array([t.payment_type for t in ts], dtype=object),
            unit_rate_gbp_per_kwh=np.array([t.unit_rate_gbp_per_kwh for t in ts], dtype=float),
            standing_charge_gbp_per_day=np.array([t.standing_charge_gbp_per_day for t in ts],
                                                 dtype=float),
            valid_from=np.array([t.valid_from for t in ts], dtype="datetime64[D]"),
            valid_to=np.array([_OPEN_END if t.valid_to is None else np.datetime64(t.valid_to, "D")
                               for t in ts], dtype="datetime64[D]"),
        )

    def lookup(self, fuel: str, payment_type: str, days) -> tuple[np.ndarray, np.ndarray]:
        """Rates for one fuel and payment type on each day.

        days: datetime64[D] array (steps,). Returns (unit_rate [GBP/kWh], standing_charge
        [GBP/day]), each (steps,), NaN on days no tariff covers.
        """
        if fuel not in FUELS or payment_type not in PAYMENT_TYPES:
            raise ValueError(f"fuel must be one of {FUELS} and payment_type one of "
                             f"{PAYMENT_TYPES}; got {fuel!r}, {payment_type!r}")
        days = np.asarray(days, dtype="datetime64[D]")
        sel = np.flatnonzero((self.fuel == fuel) & (self.payment_type == payment_type))
        unit = np.full(days.shape, np.nan)
        standing = np.full(days.shape, np.nan)
        if sel.size == 0:
            return unit, standing
        starts = self.valid_from[sel]
        pos = np.searchsorted(starts, days, side="right") - 1
        ok = pos >= 0
        pos_ok = sel[np.where(ok, pos, 0)]
        ok &= days <= self.valid_to[pos_ok]
        unit[ok] = self.unit_rate_gbp_per_kwh[pos_ok[ok]]
        standing[ok] = self.standing_charge_gbp_per_day[pos_ok[ok]]
        return unit, standing

    def matrix(self, fuel: str, payment_types, days) -> tuple[np.ndarray, np.ndarray]:
        """Rates per household and day.

        payment_types: str array (households,); days: datetime64[D] array (steps,).
        Returns (unit_rate [GBP/kWh], standing_charge [GBP/day]), each (households, steps).
        """
        payment_types = np.asarray(payment_types, dtype=object)
        bad = ~np.isin(payment_types, PAYMENT_TYPES)
        if bad.any():
            raise ValueError(f"unknown payment types {sorted(set(payment_types[bad]))}; "
                             f"allowed: {PAYMENT_TYPES}")
        per_type = [self.lookup(fuel, pt, days) for pt in PAYMENT_TYPES]
        unit_by_type = np.stack([u for u, _ in per_type])         # (types, steps)
        standing_by_type = np.stack([s for _, s in per_type])
        import pandas as pd

        code = pd.Categorical(payment_types, categories=list(PAYMENT_TYPES)).codes
        return unit_by_type[code], standing_by_type[code]
