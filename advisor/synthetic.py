"""Synthetic advisor inputs for benchmarks and tests: a portfolio with a known share of cold,
damp, low-credit, rationing and faulty homes, vectorised (no loop over households)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from advisor.frame import AdviceInputs


def synthetic_inputs(n: int, seed: int = 0, now: datetime | None = None, window_h: int = 72,
                     step_min: int = 30, history_days: int = 90, forecast_days: int = 30,
                     dtype=np.float32) -> tuple[AdviceInputs, dict[str, np.ndarray]]:
    """Inputs for n households and the truth of what was planted in them."""
    rng = np.random.default_rng(seed)
    now = now or datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    step_h = step_min / 60
    S = int(window_h / step_h)
    end = np.datetime64(now.replace(tzinfo=None), "ns")
    times = end - (np.arange(S, 0, -1) * int(step_h * 3600e9)).astype("timedelta64[ns]")
    hour = (times.astype("datetime64[h]").astype(np.int64) % 24)[None, :]
    truth = {k: rng.random(n) < p for k, p in (("cold", 0.08), ("damp", 0.06), ("low_credit", 0.05),
                                               ("fault", 0.03), ("rationing", 0.03),
                                               ("bill", 0.04))}
    prepay = rng.random(n) < 0.4
    area = rng.uniform(40, 100, n)
    truth["low_credit"] &= prepay
    truth["disconnected"] = truth["low_credit"] & (rng.random(n) < 0.3)
    # Indoor temperature: 19-21 C with a daily cycle; cold homes 14-17 C.
    base = np.where(truth["cold"] | truth["rationing"], rng.uniform(14, 17, n),
                    rng.uniform(19, 21.5, n))
    # A few overheating homes (a top-floor flat in a heatwave): 28.5-31 C.
    truth["hot"] = ~(truth["cold"] | truth["rationing"]) & (rng.random(n) < 0.02)
    base = np.where(truth["hot"], rng.uniform(28.5, 31, n), base)
    temp = (base[:, None] + 0.5 * np.sin(2 * np.pi * (hour - 16) / 24)
            + rng.normal(0, 0.1, (n, S))).astype(dtype)
    coldest = (temp - rng.uniform(0.5, 2.5, n)[:, None]).astype(dtype)
    rh = np.where(truth["damp"][:, None], rng.uniform(72, 88, n)[:, None],
                  rng.uniform(45, 62, n)[:, None]) + rng.normal(0, 3, (n, S))
    rh = np.clip(rh, 20, 100).astype(dtype)
    setpoint = np.where(truth["rationing"], 15.0, 20.0)[:, None] * np.ones((1, S), dtype)
    # The thermostat calls for heat below its setpoint.
    heating_on = (temp < setpoint).astype(dtype)
    elec = rng.gamma(2.0, 0.12, (n, S)).astype(dtype)
    gas = (rng.gamma(2.0, 0.6, (n, S)) * (temp < 20)).astype(dtype)
    # Faults: a counter that steps back and a silent thermostat.
    counter = np.cumsum(elec, axis=1, dtype=np.float64) + 1000
    counter[truth["fault"], S // 2] -= 5.0
    credit = np.where(prepay, np.where(truth["low_credit"], rng.uniform(0.5, 6, n),
                                       rng.uniform(60, 120, n)), np.nan)
    credit_series = (credit[:, None] * np.ones((1, S))).astype(dtype)
    # Disconnected: credit gone for the last 4 hours, no electricity used, the home cooling.
    off = truth["disconnected"]
    credit_series[off, -8:] = -10.5  # emergency credit used up
    elec[off, -8:] = 0.0
    temp[off, -8:] = np.minimum(temp[off, -8:], 16.0)
    # The households that run low are ones that let their credit run out: the balance at or
    # below zero on two of the past 28 days (the credit run-out rule's own pattern).
    daily_min = np.where(prepay[:, None], rng.uniform(5, 60, (n, 28)), np.nan).astype(dtype)
    daily_min[truth["low_credit"], 3] = -2.0
    daily_min[truth["low_credit"], 17] = 0.0
    D, F = history_days, forecast_days
    hist_e = rng.gamma(8, 1.0, (n, D)).astype(dtype)
    hist_g = (rng.gamma(8, 5.0, (n, D)) * (area / 73.0)[:, None]).astype(dtype)
    hist_g[truth["rationing"]] *= 0.2
    size = {"electricity": np.ones(n), "gas": area / 73.0}
    fc = {fuel: (rng.gamma(8, scale, (n, F)) * (np.where(truth["bill"], 2.2, 1.0)
                                                * size[fuel])[:, None]).astype(dtype)
          for fuel, scale in (("electricity", 1.0), ("gas", 5.0))}
    rates = {"electricity": 0.25, "gas": 0.065}
    standing = {"electricity": 0.55, "gas": 0.32}
    age = rng.uniform(0, 600, (n, 3))
    age[truth["fault"], 2] = 86_400.0
    inp = AdviceInputs(
        households=np.array([f"H{i:06d}" for i in range(1, n + 1)]), now=now, step_h=step_h,
        step_times=times, temp_c=temp, min_temp_c=coldest, humidity_pct=rh,
        heating_on=heating_on, setpoint_c=setpoint, voltage_v=np.full((n, S), 240, dtype),
        usage_kwh={"electricity": elec, "gas": gas},
        counter_kwh={"electricity": counter.astype(np.float64)},
        credit_gbp={"electricity": credit_series},
        credit_daily_min_gbp={"electricity": daily_min},
        history_kwh={"electricity": hist_e, "gas": hist_g},
        history_rate_gbp_per_kwh={f: np.full((n, D), r, dtype) for f, r in rates.items()},
        history_standing_gbp_per_day={f: np.full((n, D), s, dtype) for f, s in standing.items()},
        forecast_kwh_p10={f: (v * 0.7).astype(dtype) for f, v in fc.items()},
        forecast_kwh_p50=fc,
        forecast_kwh_p90={f: (v * 1.3).astype(dtype) for f, v in fc.items()},
        forecast_rate_gbp_per_kwh={f: np.full((n, F), r, dtype) for f, r in rates.items()},
        forecast_standing_gbp_per_day={f: np.full((n, F), s, dtype) for f, s in standing.items()},
        prepayment=prepay, has_gas=np.ones(n, bool), gas_heating=np.ones(n, bool),
        epc_band=rng.choice(7, n, p=[0.01, 0.1, 0.5, 0.3, 0.06, 0.02, 0.01]).astype(np.int8),
        means_tested_benefits=rng.random(n) < 0.35,
        vulnerable=rng.random(n) < 0.15, floor_area_m2=area,
        device_ids=np.array([[f"E{i}", f"G{i}", f"T{i}"] for i in range(n)], dtype=object)
        if n <= 10_000 else None,
        device_age_s=age, device_interval_s=np.full((n, 3), 60.0))
    return inp, truth
