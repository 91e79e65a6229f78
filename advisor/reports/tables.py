"""The weekly report's tables, computed from :class:`ReportInputs` by pure functions.

Every table has one row per patch (sorted) and a last row ``All patches`` for the portfolio,
so the same numbers serve the portfolio and each patch. Ordering is fixed (patch, kind, then
id) and nothing reads the clock, so the same data gives the same tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from advisor.reports.inputs import FUELS, ReportInputs
from hearth.silence import is_silent

ALL = "All patches"
NAT = np.iinfo(np.int64).min
CASE_KINDS = ("bill_shock", "credit_runout", "self_disconnection", "self_rationing", "cold_home",
              "damp_mould", "fuel_poverty", "device_fault", "excess_heat", "money")
# Events after which the Awaab's Law deadline in force no longer runs.
_STAGE_DONE = ("stage", "resolved", "dismissed", "auto_closed")
# Outcomes of one deadline. Only the step itself, recorded by `record_stage` (a "stage" event
# whose detail starts "<stage> done"), meets it: closing the case does not make a home safe.
MET, MISSED, MISSED_CLOSED, NOT_YET_DUE = ("met", "missed", "missed: closed without the step",
                                           "not yet due")


def _with_total(frame: pd.DataFrame, sum_cols: list[str]) -> pd.DataFrame:
    """Append the ``All patches`` row: the sum of ``sum_cols`` over the patch rows."""
    total = {c: frame[c].sum() for c in sum_cols}
    total["patch"] = ALL
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def _count_by_patch(patches: list[str], keys: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """How many rows with ``mask`` fall in each of ``patches`` (keys: patch of each row)."""
    series = pd.Series(mask.astype(np.int64)).groupby(np.asarray(keys, dtype=object)).sum()
    return series.reindex(patches, fill_value=0).to_numpy(np.int64)


def patch_list(inp: ReportInputs) -> list[str]:
    return sorted(inp.households["patch"].unique().tolist())


def home_patch(inp: ReportInputs, household_ids) -> np.ndarray:
    """Patch of each household id (None when not in the report's households)."""
    pos = inp.households.index.get_indexer(pd.Index(household_ids, dtype=object))
    patches = inp.households["patch"].to_numpy(dtype=object)
    return np.where(pos >= 0, patches[np.maximum(pos, 0)], None)


# ---- homes and devices -----------------------------------------------------------------------

def device_status(inp: ReportInputs, silent_after_intervals: float) -> pd.DataFrame:
    """Per device: household, patch, kind, reporting in the week, silent at its end (or at the
    report's time, for a week to date) by the shared rule of :mod:`hearth.silence`: no reading
    for ``silent_after_intervals`` of the device's own interval."""
    dev = inp.devices
    last = inp.device_last_ns
    reporting = last != NAT
    silent = is_silent(last, inp.week.end_ns, dev["interval_s"].to_numpy(), silent_after_intervals)
    return pd.DataFrame({"device_id": dev.index.to_numpy(), "household_id": dev["household_id"],
                         "patch": home_patch(inp, dev["household_id"]), "kind": dev["kind"],
                         "interval_s": dev["interval_s"].to_numpy(),
                         "reporting": reporting, "silent": silent}).reset_index(drop=True)


def homes_and_devices(inp: ReportInputs, silent_after_intervals: float) -> pd.DataFrame:
    """Homes, homes with a device reporting this week, devices, devices reporting, silent."""
    patches = patch_list(inp)
    status = device_status(inp, silent_after_intervals)
    home_reporting = status.groupby("household_id")["reporting"].any()
    homes = inp.households
    reporting_home = home_reporting.reindex(homes.index, fill_value=False).to_numpy()
    table = pd.DataFrame({
        "patch": patches,
        "homes": _count_by_patch(patches, homes["patch"], np.ones(len(homes), bool)),
        "homes_reporting": _count_by_patch(patches, homes["patch"], reporting_home),
        "devices": _count_by_patch(patches, status["patch"], np.ones(len(status), bool)),
        "devices_reporting": _count_by_patch(patches, status["patch"], status["reporting"]),
        "devices_silent": _count_by_patch(patches, status["patch"], status["silent"]),
    })
    table = _with_total(table, ["homes", "homes_reporting", "devices", "devices_reporting",
                                "devices_silent"])
    table["devices_reporting_pct"] = _pct(table["devices_reporting"], table["devices"])
    return table


def _pct(part, whole) -> pd.Series:
    part, whole = np.asarray(part, float), np.asarray(whole, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(np.where(whole > 0, np.round(100.0 * part / whole, 1), np.nan))


# ---- cases -----------------------------------------------------------------------------------

def cases_by_kind(inp: ReportInputs) -> pd.DataFrame:
    """Per patch and kind: cases opened this week, open at its end, closed this week."""
    c = inp.cases
    s, e = inp.week.start_ns, inp.week.end_ns
    opened, closed = c["opened_at_ns"].to_numpy(np.int64), c["closed_at_ns"].to_numpy(np.int64)
    patch = home_patch(inp, c["household_id"])
    frame = pd.DataFrame({
        "patch": patch, "kind": c["kind"].to_numpy(dtype=object),
        "new": (opened >= s) & (opened < e),
        "open_at_end": (opened < e) & ((closed == NAT) | (closed >= e)),
        "closed": (closed != NAT) & (closed >= s) & (closed < e),
    })
    frame = frame[frame["patch"].notna()]
    grid = pd.MultiIndex.from_product([patch_list(inp), CASE_KINDS], names=["patch", "kind"])
    counts = (frame.groupby(["patch", "kind"])[["new", "open_at_end", "closed"]].sum()
              .reindex(grid, fill_value=0).astype(np.int64).reset_index())
    total = counts.groupby("kind", sort=False)[["new", "open_at_end", "closed"]].sum()
    total = total.reindex(list(CASE_KINDS)).reset_index()
    total.insert(0, "patch", ALL)
    return pd.concat([counts, total], ignore_index=True)


def step_done_ns(stage: str, after: int, ats: np.ndarray, actions: np.ndarray,
                 details: np.ndarray, until_ns: int) -> int:
    """When the step ``stage`` was recorded done (the first "stage" event after event
    ``after`` whose detail is "<stage> done...", before ``until_ns``) [ns]; NAT if never."""
    for j in range(after + 1, len(ats)):
        if int(ats[j]) >= until_ns:
            break
        if actions[j] == "stage" and str(details[j] or "").startswith(f"{stage} done"):
            return int(ats[j])
    return NAT


def deadline_outcome(due_ns: int, done_ns: int, closed_ns: int, as_of_ns: int) -> str:
    """met (the step recorded by its deadline), missed (the deadline passed without it, the
    case perhaps closed without it), or not yet due (still ahead at ``as_of_ns``) (pure)."""
    if done_ns != NAT and done_ns <= due_ns:
        return MET
    if due_ns >= as_of_ns:
        return NOT_YET_DUE
    return MISSED_CLOSED if closed_ns != NAT and closed_ns <= due_ns else MISSED


def awaab_deadlines(inp: ReportInputs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Awaab's Law deadlines that fall due this week, of every case on the clock (damp and
    mould; excess cold, the cold_home case, and excess heat from phase 2; every emergency):
    met only when the step itself was recorded done by the deadline (a case resolved or
    dismissed without it is missed), missed once the deadline has passed without it, and, in
    a week to date, not yet due while the deadline is still ahead. Deadlines come from the
    events that set them (columns ``due_by`` and ``stage`` of case_events); one replaced before
    it fell due (an escalation to an emergency moved it earlier) is not counted. Events after
    the report's time are not seen. Returns (per-patch table, one row per deadline)."""
    s, full_e, as_of = inp.week.start_ns, inp.week.full_end_ns, inp.week.end_ns
    # Only hazards and emergencies carry deadlines (advisor/cases.py), so every case counts.
    cases = inp.cases
    events = inp.case_events[inp.case_events["case_id"].isin(cases["case_id"])]
    events = events[events["at_ns"].to_numpy(np.int64) < as_of]
    rows = []
    for case_id, ev in events.groupby("case_id", sort=True):
        case = cases[cases["case_id"] == case_id].iloc[0]
        ats = ev["at_ns"].to_numpy(np.int64)
        actions = ev["action"].to_numpy(dtype=object)
        details = ev["detail"].to_numpy(dtype=object)
        dues = ev["due_by_ns"].to_numpy(np.int64)
        stages = ev["stage"].to_numpy(dtype=object)
        setters = np.flatnonzero(dues != NAT).tolist()
        closed = int(case["closed_at_ns"])
        closed = closed if closed != NAT and closed < as_of else NAT
        for n, i in enumerate(setters):
            due_ns = int(dues[i])
            if not s <= due_ns < full_e:
                continue
            replaced = n + 1 < len(setters) and actions[setters[n + 1]] not in _STAGE_DONE \
                and ats[setters[n + 1]] <= due_ns
            if replaced:
                continue
            stage = stages[i] or ""
            done_ns = step_done_ns(stage, i, ats, actions, details, as_of)
            outcome = deadline_outcome(due_ns, done_ns, closed, as_of)
            rows.append({"case_id": int(case_id), "kind": case["kind"],
                         "household_id": case["household_id"],
                         "stage_due": stage, "due_by_ns": due_ns,
                         "done_ns": done_ns, "closed_ns": closed, "outcome": outcome,
                         "met": outcome == MET})
    detail = pd.DataFrame(rows, columns=["case_id", "kind", "household_id", "stage_due",
                                         "due_by_ns", "done_ns", "closed_ns", "outcome", "met"])
    detail["patch"] = home_patch(inp, detail["household_id"]) if len(detail) else []
    detail = detail[detail["patch"].notna()] if len(detail) else detail
    patches = patch_list(inp)
    outcome = detail["outcome"].to_numpy(dtype=object) if len(detail) else np.zeros(0, object)
    keys = detail["patch"].to_numpy(dtype=object) if len(detail) else np.zeros(0, object)
    met = outcome == MET
    ahead = outcome == NOT_YET_DUE
    table = pd.DataFrame({"patch": patches,
                          "deadlines_due": _count_by_patch(patches, keys, np.ones(len(met), bool)),
                          "met": _count_by_patch(patches, keys, met),
                          "missed": _count_by_patch(patches, keys, ~met & ~ahead)})
    sums = ["deadlines_due", "met", "missed"]
    if inp.week.to_date:
        table["not_yet_due"] = _count_by_patch(patches, keys, ahead)
        sums.append("not_yet_due")
    return _with_total(table, sums), detail.reset_index(drop=True)


# ---- costs and credit ------------------------------------------------------------------------

def daily_forecast_cost(inp: ReportInputs) -> dict[str, np.ndarray]:
    """Forecast cost per household, fuel and day [GBP]: kWh x unit rate + standing charge, for
    the fuels a home has (gas only with gas); NaN without a forecast or a tariff."""
    has_gas = inp.households["has_gas"].to_numpy(bool)
    out = {}
    for fuel in FUELS:
        cost = inp.forecast_kwh[fuel] * inp.unit_gbp_per_kwh[fuel] + inp.standing_gbp_per_day[fuel]
        if fuel == "gas":
            cost = np.where(has_gas[:, None], cost, 0.0)
        out[fuel] = cost
    return out


def forecast_costs(inp: ReportInputs) -> pd.DataFrame:
    """Per household: forecast 30-day energy [kWh] and cost [GBP] by fuel and in total."""
    cost = daily_forecast_cost(inp)
    h = inp.households
    frame = pd.DataFrame({"household_id": h.index.to_numpy(), "patch": h["patch"].to_numpy(),
                          "estate": h["estate"].to_numpy(),
                          "payment_type": h["payment_type"].to_numpy()})
    has_gas = h["has_gas"].to_numpy(bool)
    for fuel in FUELS:
        kwh = inp.forecast_kwh[fuel].sum(axis=1)     # NaN when any day is missing
        if fuel == "gas":
            kwh = np.where(has_gas, kwh, 0.0)
        frame[f"{fuel}_kwh_30d"] = np.round(kwh, 3)
        frame[f"{fuel}_cost_gbp_30d"] = np.round(cost[fuel].sum(axis=1), 2)
    frame["cost_gbp_30d"] = np.round(cost["electricity"].sum(axis=1) + cost["gas"].sum(axis=1), 2)
    return frame


def top_forecast_cost(inp: ReportInputs, n: int) -> pd.DataFrame:
    """The ``n`` homes with the highest forecast 30-day cost (ties by household id)."""
    frame = forecast_costs(inp).dropna(subset=["cost_gbp_30d"])
    frame = frame.sort_values(["cost_gbp_30d", "household_id"], ascending=[False, True],
                              kind="mergesort")
    return frame.head(n).reset_index(drop=True)


def days_of_credit(credit_gbp: np.ndarray, daily_cost_gbp: np.ndarray) -> np.ndarray:
    """Days until a prepayment balance runs out at the forecast daily cost [days].

    credit_gbp (H,) [GBP]; daily_cost_gbp (H, D) [GBP/day]. 0 for a balance at or below zero;
    fractional within the day it runs out; inf if it lasts the D days; NaN without a balance
    or a forecast for the days it needs."""
    n_h = daily_cost_gbp.shape[0]
    cum = np.cumsum(daily_cost_gbp, axis=1)                      # NaN propagates
    before = np.concatenate([np.zeros((n_h, 1)), cum[:, :-1]], axis=1)
    with np.errstate(invalid="ignore"):
        crosses = cum >= credit_gbp[:, None]
    has = crosses.any(axis=1)
    k = np.argmax(crosses, axis=1)
    rows = np.arange(n_h)
    with np.errstate(invalid="ignore", divide="ignore"):
        part = (credit_gbp - before[rows, k]) / daily_cost_gbp[rows, k]
    days = np.where(has, k + np.clip(part, 0.0, 1.0), np.inf)
    # A missing day before the crossing (or the whole row) leaves the answer unknown.
    unknown = np.isnan(cum[:, -1]) & ~(has & ~np.isnan(cum[rows, k]))
    days = np.where(unknown | np.isnan(credit_gbp), np.nan, days)
    return np.where(credit_gbp <= 0, 0.0, days)


def credit_runout(inp: ReportInputs, within_days: float) -> pd.DataFrame:
    """Prepayment meters whose balance runs out within ``within_days`` at the forecast cost,
    soonest first."""
    cost = daily_forecast_cost(inp)
    h = inp.households
    prepay = h["payment_type"].to_numpy() == "prepayment"
    has_gas = h["has_gas"].to_numpy(bool)
    parts = []
    for fuel in FUELS:
        credit = np.where(prepay & (has_gas if fuel == "gas" else True), inp.credit_gbp[fuel],
                          np.nan)
        days = days_of_credit(credit, cost[fuel])
        pick = np.flatnonzero(~np.isnan(days) & (days <= within_days))
        parts.append(pd.DataFrame({
            "household_id": h.index.to_numpy()[pick], "patch": h["patch"].to_numpy()[pick],
            "estate": h["estate"].to_numpy()[pick], "fuel": fuel,
            "credit_gbp": np.round(credit[pick], 2),
            "forecast_cost_gbp_per_day": np.round(cost[fuel][pick, 0], 2),
            "days_of_credit": np.round(days[pick], 1)}))
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(["days_of_credit", "household_id", "fuel"],
                             kind="mergesort").reset_index(drop=True)


# ---- consumption -----------------------------------------------------------------------------

def consumption(inp: ReportInputs, min_share: float = 0.9) -> pd.DataFrame:
    """Per patch and fuel: energy this week [kWh] (all homes with data), and like for like
    against the same week last year for homes with at least ``min_share`` of their half hours
    in both weeks, raw and adjusted for the weather by heating degree days (consumption per
    degree day this year over last year)."""
    patches = patch_list(inp)
    keys = inp.households["patch"].to_numpy(dtype=object)
    hdd_now, hdd_then = inp.hdd["this"], inp.hdd["last"]
    need = min_share * inp.week.expected_halfhours
    rows = []
    for fuel in FUELS:
        now_kwh = np.nansum(inp.usage_kwh["this"][fuel], axis=1)
        then_kwh = np.nansum(inp.usage_kwh["last"][fuel], axis=1)
        now_n = inp.usage_halfhours["this"][fuel].sum(axis=1)
        then_n = inp.usage_halfhours["last"][fuel].sum(axis=1)
        with_data = now_n > 0
        both = (now_n >= need) & (then_n >= need)
        frame = pd.DataFrame({"patch": keys, "with_data": with_data, "both": both,
                              "kwh": np.where(with_data, now_kwh, 0.0),
                              "now": np.where(both, now_kwh, 0.0),
                              "then": np.where(both, then_kwh, 0.0),
                              "hdd_now": np.where(both, hdd_now, np.nan),
                              "hdd_then": np.where(both, hdd_then, np.nan)})
        groups = [*frame.groupby("patch", sort=True), (ALL, frame)]
        for patch, g in groups:
            if patch != ALL and patch not in patches:
                continue
            rows.append(_consumption_row(patch, fuel, g))
    table = pd.DataFrame(rows)
    order = {p: i for i, p in enumerate([*patches, ALL])}
    table["_o"] = table["patch"].map(order)
    return table.sort_values(["_o", "fuel"], kind="mergesort").drop(columns="_o") \
        .reset_index(drop=True)


def _consumption_row(patch: str, fuel: str, g: pd.DataFrame) -> dict:
    now, then = float(g["now"].sum()), float(g["then"].sum())
    # Weather adjustment only over compared homes with degree days in both weeks.
    w = g[g["both"] & g["hdd_now"].notna() & g["hdd_then"].notna()]
    hdd_now = float(w["hdd_now"].mean()) if len(w) else np.nan
    hdd_then = float(w["hdd_then"].mean()) if len(w) else np.nan
    w_now, w_then = float(w["now"].sum()), float(w["then"].sum())
    change = 100.0 * (now / then - 1.0) if then > 0 else np.nan
    if w_then > 0 and hdd_now > 0 and hdd_then > 0:
        adjusted = 100.0 * ((w_now / hdd_now) / (w_then / hdd_then) - 1.0)
    else:
        adjusted = np.nan
    return {"patch": patch, "fuel": fuel, "homes_with_data": int(g["with_data"].sum()),
            "energy_kwh": round(float(g["kwh"].sum()), 3),
            "homes_compared": int(g["both"].sum()),
            "energy_kwh_compared": round(now, 3), "energy_kwh_last_year": round(then, 3),
            "change_pct": round(change, 1), "homes_with_weather": len(w),
            "hdd_this_week": round(hdd_now, 1), "hdd_last_year": round(hdd_then, 1),
            "weather_adjusted_change_pct": round(adjusted, 1)}


def daily_consumption(inp: ReportInputs) -> pd.DataFrame:
    """Portfolio (or patch) energy per UK day and fuel, this week and the same week last year
    [kWh], for the chart and its CSV."""
    days = inp.week.day_array()
    rows = []
    for fuel in FUELS:
        now = np.nansum(inp.usage_kwh["this"][fuel], axis=0)
        then = np.nansum(inp.usage_kwh["last"][fuel], axis=0)
        for i, day in enumerate(days):
            rows.append({"date": str(day), "fuel": fuel, "energy_kwh": round(float(now[i]), 3),
                         "energy_kwh_last_year": round(float(then[i]), 3)})
    return pd.DataFrame(rows)


# ---- tips and data health --------------------------------------------------------------------

def tips(inp: ReportInputs) -> pd.DataFrame:
    """Per patch: tips sent this week, delivered, failed, skipped (consent, quiet hours...), and
    tenants who opted out (STOP) this week."""
    s, e = inp.week.start_ns, inp.week.end_ns
    sms = inp.sms
    status = sms["status"].to_numpy(dtype=object)
    sent_ns, created_ns = sms["sent_ns"].to_numpy(np.int64), sms["created_ns"].to_numpy(np.int64)
    # A tip is sent when handed to GOV.UK Notify: an outbox line reached no one, and the
    # answers to STOP and HELP replies are not tips.
    answer = sms["template"].isin(["stop_confirmation", "help_reply"]).to_numpy(bool)
    sent = ((sent_ns != NAT) & (sent_ns >= s) & (sent_ns < e) & ~answer
            & ~np.isin(status, ["skipped", "outbox", "cancelled"]))
    skipped = (status == "skipped") & (created_ns >= s) & (created_ns < e)
    failed = sent & np.array([str(x).endswith("failure") for x in status], bool)
    patches = patch_list(inp)
    keys = home_patch(inp, sms["household_id"])
    okeys = home_patch(inp, inp.opt_outs["household_id"])
    at = inp.opt_outs["at_ns"].to_numpy(np.int64)
    table = pd.DataFrame({"patch": patches,
                          "tips_sent": _count_by_patch(patches, keys, sent),
                          "delivered": _count_by_patch(patches, keys, sent & (status == "delivered")),
                          "failed": _count_by_patch(patches, keys, failed),
                          "skipped": _count_by_patch(patches, keys, skipped),
                          "opted_out": _count_by_patch(patches, okeys, (at >= s) & (at < e))})
    return _with_total(table, ["tips_sent", "delivered", "failed", "skipped", "opted_out"])


def data_health(inp: ReportInputs, silent_after_intervals: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary metric/value rows, failed scheduled jobs this week)."""
    s, e = inp.week.start_ns, inp.week.end_ns
    status = device_status(inp, silent_after_intervals)
    dl = inp.dead_letters
    t = dl["time_ns"].to_numpy(np.int64)
    in_week = (t >= s) & (t < e)
    runs = inp.job_runs
    started = runs["started_ns"].to_numpy(np.int64)
    failed = runs[(runs["outcome"] == "failed").to_numpy(bool) & (started >= s) & (started < e)]
    summary = [
        {"metric": "devices silent at the end of the week", "value": int(status["silent"].sum())},
        {"metric": "devices that never reported this week",
         "value": int((~status["reporting"]).sum())},
        {"metric": "dead letters set aside this week", "value": int(in_week.sum())},
    ]
    for name, n in dl[in_week].groupby("file").size().sort_index().items():
        summary.append({"metric": f"dead letters in {name}", "value": int(n)})
    summary.append({"metric": "scheduled job runs failed this week", "value": len(failed)})
    jobs = failed[["job", "scheduled_for", "attempt", "started_at", "error"]].sort_values(
        ["started_at", "job"], kind="mergesort").reset_index(drop=True)
    return pd.DataFrame(summary), jobs


def silent_devices(inp: ReportInputs, silent_after_intervals: float) -> pd.DataFrame:
    """The silent devices themselves (pseudonymous ids), by patch then device."""
    status = device_status(inp, silent_after_intervals)
    last = inp.device_last_ns
    status["last_reading"] = np.where(last == NAT, "none this week",
                                      pd.to_datetime(np.where(last == NAT, 0, last), utc=True)
                                      .strftime("%Y-%m-%dT%H:%M:%SZ"))
    out = status[status["silent"]][["patch", "household_id", "device_id", "kind", "last_reading"]]
    return out.sort_values(["patch", "device_id"], kind="mergesort").reset_index(drop=True)
