"""How a year's typical energy use spreads over the months: shared with the simulator's
ground truth, so it lives in the shared package (hearth/profiles.py)."""

from hearth.profiles import (  # noqa: F401
    DAYS_IN_MONTH,
    ELECTRICITY_MONTHLY_SHARE,
    HEATING_MONTHLY_SHARE,
    day_months,
    typical_daily_kwh,
)
