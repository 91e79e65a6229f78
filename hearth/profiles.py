"""How a year's typical energy use spreads over the months (January first; each sums to 1).

Ofgem's typical domestic consumption values are annual; a 30-day bill or a week's heating is
compared with the share of the year it covers, so that January is not judged by July's use.
Gas (space heating and hot water) follows heating degree days; electricity without electric
heating varies much less (lighting and cooking in winter).
"""

from __future__ import annotations

import numpy as np

HEATING_MONTHLY_SHARE = np.array([0.155, 0.13, 0.12, 0.085, 0.06, 0.04, 0.035, 0.035, 0.045,
                                  0.075, 0.10, 0.12])
ELECTRICITY_MONTHLY_SHARE = np.array([0.10, 0.09, 0.09, 0.08, 0.075, 0.07, 0.07, 0.07, 0.075,
                                      0.085, 0.095, 0.10])
DAYS_IN_MONTH = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def day_months(first_day: np.datetime64, n_days: int) -> np.ndarray:
    """Month numbers 1..12 of n consecutive days from first_day (D,)."""
    days = np.datetime64(first_day, "D") + np.arange(n_days)
    return days.astype("datetime64[M]").astype(np.int64) % 12 + 1


def typical_daily_kwh(months: np.ndarray, annual_kwh, heating: bool | np.ndarray) -> np.ndarray:
    """Typical use on each day [kWh]: annual x the month's share / days in the month.

    months: (D,) 1..12. annual_kwh: scalar or (H,). heating: use the heating profile (gas, or
    electricity in an electrically heated home) rather than the flatter electricity one.
    Returns (H, D) (or (1, D) for scalars)."""
    months = np.asarray(months)
    per_day_heat = HEATING_MONTHLY_SHARE[months - 1] / DAYS_IN_MONTH[months - 1]
    per_day_elec = ELECTRICITY_MONTHLY_SHARE[months - 1] / DAYS_IN_MONTH[months - 1]
    annual = np.atleast_1d(np.asarray(annual_kwh, dtype=np.float64))[:, None]
    heating = np.atleast_1d(np.asarray(heating, dtype=bool))[:, None]
    return annual * np.where(heating, per_day_heat[None, :], per_day_elec[None, :])
