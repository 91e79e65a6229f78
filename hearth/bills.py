"""The next 30 days' bill from a daily forecast, at the household's own tariff: pure code shared
by the officers' dashboard and the tenant portal."""

from __future__ import annotations

import pandas as pd

BILL_DAYS = 30


def bill_forecast(daily: pd.DataFrame, tariffs: dict[str, dict], days: int = BILL_DAYS
                  ) -> pd.DataFrame:
    """Cost per fuel of the first ``days`` days of ``daily`` (columns time, fuel, energy_kwh,
    energy_kwh_p10, energy_kwh_p90 [kWh per day]) with ``tariffs[fuel]`` (unit_rate_gbp_per_kwh,
    standing_charge_gbp_per_day): columns fuel, energy_kwh, energy_kwh_p10, energy_kwh_p90,
    days, cost_gbp, cost_gbp_p10, cost_gbp_p90 (standing charges included for every day),
    unit_rate_gbp_per_kwh, standing_charge_gbp_per_day. A fuel without a tariff is left out."""
    f = daily.sort_values("time").groupby("fuel").head(days)
    rows = []
    for fuel, g in f.groupby("fuel"):
        tariff = tariffs.get(fuel)
        if tariff is None:
            continue
        n = len(g)
        rate, standing = tariff["unit_rate_gbp_per_kwh"], tariff["standing_charge_gbp_per_day"]
        e = {c: float(g[c].sum()) for c in ("energy_kwh", "energy_kwh_p10", "energy_kwh_p90")}
        rows.append({"fuel": fuel, **e, "days": n,
                     "cost_gbp": e["energy_kwh"] * rate + n * standing,
                     "cost_gbp_p10": e["energy_kwh_p10"] * rate + n * standing,
                     "cost_gbp_p90": e["energy_kwh_p90"] * rate + n * standing,
                     "unit_rate_gbp_per_kwh": rate, "standing_charge_gbp_per_day": standing})
    return pd.DataFrame(rows)
