"""What the portal shows one household, read from the registry and InfluxDB. No Streamlit here,
and every function takes the household id of the signed-in tenant (or of a share link) from the
session, never from the page address.

Use is compared over rolling weeks: the last 7 days, the 7 days before, and the same 7 days
52 weeks earlier (same weekdays). A week counts only the half hours recorded; its coverage is
returned so the page can say plainly when readings are missing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from hearth.bills import bill_forecast
from hearth.influx import RAW_RP, USAGE_RP, quote_ident, quote_string

HALF_HOURS_PER_WEEK = 7 * 48
WEEKS = {"this_week": 0, "last_week": 1, "last_year": 52}
MIN_COVERAGE = 0.8   # a week with fewer half hours recorded is shown as incomplete


@dataclass(frozen=True)
class Week:
    fuel: str
    which: str            # this_week | last_week | last_year
    start: datetime
    energy_kwh: float     # sum of the recorded half hours
    coverage: float       # share of the week's half hours recorded, 0..1

    @property
    def complete(self) -> bool:
        return self.coverage >= MIN_COVERAGE


def _m(client, rp: str, measurement: str) -> str:
    return f"{quote_ident(client.database)}.{quote_ident(rp)}.{quote_ident(measurement)}"


def weeks(client, household_id: str, now: datetime | None = None) -> list[Week]:
    """Energy per fuel in the three weeks compared (a fuel with no reading is absent)."""
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    end = now - timedelta(minutes=now.minute % 30)
    out = []
    for which, back in WEEKS.items():
        stop = end - timedelta(weeks=back)
        start = stop - timedelta(days=7)
        q = (f"SELECT sum(energy_kwh) AS energy_kwh, count(energy_kwh) AS n FROM "
             f"{_m(client, USAGE_RP, 'usage_30m')} WHERE household = {quote_string(household_id)}"
             f" AND time >= '{start:%Y-%m-%dT%H:%M:%SZ}' AND time < '{stop:%Y-%m-%dT%H:%M:%SZ}'"
             " GROUP BY fuel")
        for s in client.query(q):
            n = int(s.values["n"][0]) if len(s.values["n"]) else 0
            if n:
                out.append(Week(s.tags.get("fuel", ""), which, start,
                                float(s.values["energy_kwh"][0]), n / HALF_HOURS_PER_WEEK))
    return out


def daily_use(client, household_id: str, days: int = 14) -> pd.DataFrame:
    """Energy per UK day and fuel for the chart: columns day, fuel, energy_kwh."""
    q = (f"SELECT sum(energy_kwh) AS energy_kwh FROM {_m(client, USAGE_RP, 'usage_30m')} WHERE "
         f"household = {quote_string(household_id)} AND time >= now() - {days}d "
         "GROUP BY time(1d), fuel fill(none) tz('Europe/London')")
    frames = [pd.DataFrame({"day": pd.to_datetime(np.asarray(s.values["time"], dtype=np.int64),
                                                  utc=True).tz_convert("Europe/London").date,
                            "fuel": s.tags.get("fuel", ""),
                            "energy_kwh": s.values["energy_kwh"]}) for s in client.query(q)]
    frames = [f for f in frames if not f.empty]
    return (pd.concat(frames, ignore_index=True) if frames
            else pd.DataFrame({"day": [], "fuel": [], "energy_kwh": []}))


def daily_forecast(client, household_id: str) -> pd.DataFrame:
    """The latest daily forecast (forecasting.service.latest_forecasts): columns time, fuel,
    energy_kwh, energy_kwh_p10, energy_kwh_p90 [kWh per day]."""
    from forecasting.service import latest_forecasts

    frames = []
    for fuel, f in latest_forecasts(client, households=[household_id]).items():
        if f.daily_kwh.size == 0:
            continue
        frames.append(pd.DataFrame({"time": pd.to_datetime(f.days.astype("datetime64[ns]"),
                                                           utc=True),
                                    "fuel": fuel, "energy_kwh": f.daily_kwh[0],
                                    "energy_kwh_p10": f.daily_kwh_p10[0],
                                    "energy_kwh_p90": f.daily_kwh_p90[0]}).dropna(
                                        subset=["energy_kwh"]))
    cols = ["time", "fuel", "energy_kwh", "energy_kwh_p10", "energy_kwh_p90"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def tariffs_of(reg, payment_type: str, fuels, on: date | None = None) -> dict[str, dict]:
    """The household's own tariff per fuel (its payment type) on ``on`` (today, UK)."""
    on = on or datetime.now(UTC).date()
    out = {}
    for fuel in fuels:
        found = reg.tariffs(fuel, payment_type, on)
        if found:
            t = found[0]
            out[fuel] = {"unit_rate_gbp_per_kwh": t.unit_rate_gbp_per_kwh,
                         "standing_charge_gbp_per_day": t.standing_charge_gbp_per_day}
    return out


def bill(reg, client, household_id: str, payment_type: str) -> pd.DataFrame:
    """The next 30 days' bill per fuel at the household's tariff (hearth.bills)."""
    daily = daily_forecast(client, household_id)
    return bill_forecast(daily, tariffs_of(reg, payment_type, daily["fuel"].unique()))


def credit_days(client, household_id: str, daily: pd.DataFrame, tariffs: dict[str, dict]
                ) -> list[dict]:
    """Prepayment: per fuel the latest balance [GBP] (within 2 days) and the days it lasts at the
    forecast's expected use and at its high (p90) use, standing charge included."""
    from advisor.rules.credit import days_until_empty

    q = (f"SELECT last(credit_gbp) AS credit_gbp FROM {_m(client, RAW_RP, 'meter')} WHERE "
         f"household = {quote_string(household_id)} AND time >= now() - 2d GROUP BY fuel")
    out = []
    for s in client.query(q):
        fuel = s.tags.get("fuel", "")
        if not len(s.values["credit_gbp"]) or fuel not in tariffs:
            continue
        balance = float(s.values["credit_gbp"][0])
        g = daily[daily["fuel"] == fuel].sort_values("time")
        if g.empty:
            out.append({"fuel": fuel, "credit_gbp": balance, "days": None, "days_high": None,
                        "at": pd.to_datetime(int(s.values["time"][0]), utc=True)})
            continue
        t = tariffs[fuel]
        cost = [g[c].to_numpy() * t["unit_rate_gbp_per_kwh"] + t["standing_charge_gbp_per_day"]
                for c in ("energy_kwh", "energy_kwh_p90")]
        days = [float(days_until_empty(np.array([balance]), c[None, :])[0]) for c in cost]
        out.append({"fuel": fuel, "credit_gbp": balance, "days": days[0], "days_high": days[1],
                    "horizon_days": len(g),
                    "at": pd.to_datetime(int(s.values["time"][0]), utc=True)})
    return out


def tips(conn: sqlite3.Connection, household_id: str, limit: int = 20) -> list[dict]:
    """Texts Hearth sent the household, newest first, with the case that prompted each."""
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    rows = cur.execute(
        "SELECT m.sent_at, m.template, m.body, m.status, c.kind, c.reasons FROM sms_log m"
        " LEFT JOIN cases c ON c.case_id = m.case_id WHERE m.household_id = ? AND m.sent_at IS"
        " NOT NULL AND m.template <> 'sign_in_code' ORDER BY m.sent_at DESC LIMIT ?",
        (household_id, limit)).fetchall()
    return [dict(r) for r in rows]


def cases(conn: sqlite3.Connection, household_id: str) -> list[dict]:
    """The household's open cases, most urgent deadline first."""
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    rows = cur.execute(
        "SELECT case_id, kind, severity, reasons, opened_at, due_by, stage, status, officer"
        " FROM cases WHERE household_id = ? AND status IN ('open', 'acknowledged')"
        " ORDER BY due_by IS NULL, due_by, opened_at", (household_id,)).fetchall()
    return [dict(r) for r in rows]
