"""The pages' only way to data: cached clients (st.cache_resource) and cached queries
(st.cache_data with a time to live) returning pandas frames.

Every function that returns homes, cases, readings or messages takes ``scope`` (the patches
the signed-in person may see, None for all) and filters by it here, not in the page. Portfolio
summaries from InfluxDB are cached once for every home and cut down to the scope afterwards,
so that each officer's first visit is as fast as the second.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import pandas as pd
import requests
import streamlit as st

from dashboard import queries as q
from dashboard import readings as r
from dashboard.runtime import settings_from_env
from hearth.silence import silent_limit_s

log = logging.getLogger("hearth.dashboard")
Scope = tuple[str, ...] | None
QUERY_TTL_S = 60
PORTFOLIO_TTL_S = 300


class OutOfScopeError(PermissionError):
    """The home or case lies outside the signed-in person's patches (or does not exist)."""


@st.cache_resource
def settings():
    return settings_from_env()


@st.cache_resource
def influx():
    from hearth.influx import InfluxClient

    return InfluxClient.from_settings(settings(), role="reader")  # read-only user


@st.cache_resource
def _schema_ready() -> bool:
    """Open the registry once through Registry so that its migrations are applied."""
    from hearth.registry import Registry

    Registry(settings().registry.target).close()
    return True


def connect():
    _schema_ready()
    return q.connect_read(settings().registry.target)


def _read(fn, *args):
    _schema_ready()
    return _read_at(settings().registry.target, fn, *args)


def _read_at(registry_path, fn, *args):
    """A query on a read-only connection of its own; uses no Streamlit cache, so that the
    background refresh thread (which has no script run context) can call it."""
    conn = q.connect_read(registry_path)
    try:
        return fn(conn, *args)
    finally:
        conn.close()


# -- registry -------------------------------------------------------------------------------------

@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def all_patches() -> list[str]:
    return _read(q.patches)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def households(scope: Scope) -> pd.DataFrame:
    return _read(q.households, scope)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def household(household_id: str, scope: Scope) -> dict:
    """The home's registry record; OutOfScopeError if it is outside ``scope`` or unknown."""
    rec = _read(q.household, household_id, scope)
    if rec is None:
        raise OutOfScopeError(household_id)
    return rec


def tenants(household_id: str, scope: Scope) -> pd.DataFrame:
    """Contact and consent (not cached: personal data stays out of shared caches)."""
    household(household_id, scope)
    return _read(q.tenants, household_id, scope)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def sms_allowed(household_id: str, scope: Scope) -> bool:
    household(household_id, scope)
    return _read(q.sms_allowed, household_id)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def devices(scope: Scope, household_id: str | None = None) -> pd.DataFrame:
    return _read(q.devices, scope, household_id)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def open_cases(scope: Scope) -> pd.DataFrame:
    return _read(q.open_cases, scope)


def case(case_id: int, scope: Scope) -> dict:
    rec = _read(q.case, case_id, scope)
    if rec is None:
        raise OutOfScopeError(f"case {case_id}")
    return rec


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def household_cases(household_id: str, scope: Scope) -> pd.DataFrame:
    return _read(q.household_cases, household_id, scope)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def case_events(case_ids: tuple[int, ...]) -> pd.DataFrame:
    return _read(q.case_events, case_ids)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def damp_cases(scope: Scope) -> pd.DataFrame:
    return _read(q.damp_cases, scope)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def case_trend(scope: Scope, weeks: int = 12) -> pd.DataFrame:
    return _read(q.case_trend, scope, weeks)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def messages(scope: Scope, days: int = 30, household_id: str | None = None) -> pd.DataFrame:
    return _read(q.messages, scope, days, household_id)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def opt_outs(scope: Scope) -> pd.DataFrame:
    return _read(q.opt_outs, scope)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def replies(scope: Scope, days: int = 30) -> pd.DataFrame:
    return _read(q.replies, scope, days)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def number_tasks(scope: Scope) -> pd.DataFrame:
    return _read(q.number_tasks, scope)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def tariffs() -> pd.DataFrame:
    return _read(q.tariffs)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def last_contact(scope: Scope) -> pd.DataFrame:
    return _read(q.last_contact, scope)


def clear_case_caches() -> None:
    """After an officer changes a case: the next view shows the change."""
    for fn in (open_cases, household_cases, case_events, damp_cases, case_trend, messages,
               replies, number_tasks, last_contact):
        fn.clear()


# -- one home's readings (scope checked first) --------------------------------------------------

@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def latest(household_id: str, scope: Scope) -> pd.DataFrame:
    household(household_id, scope)
    return r.latest(influx(), household_id)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def usage_daily(household_id: str, scope: Scope, days: int = 56) -> pd.DataFrame:
    household(household_id, scope)
    return r.usage_daily(influx(), household_id, days)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def usage_halfhourly(household_id: str, scope: Scope, days: int = 7) -> pd.DataFrame:
    household(household_id, scope)
    return r.usage_halfhourly(influx(), household_id, days)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def forecasts(household_id: str, scope: Scope) -> pd.DataFrame:
    household(household_id, scope)
    return r.forecasts(influx(), household_id)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def indoor(household_id: str, scope: Scope, days: int = 7) -> pd.DataFrame:
    household(household_id, scope)
    return r.indoor(influx(), household_id, days)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def credit(household_id: str, scope: Scope, days: int = 14) -> pd.DataFrame:
    household(household_id, scope)
    return r.credit(influx(), household_id, days)


def tariff_on(fuel: str, payment_type: str, day: date | None = None) -> dict | None:
    """The tariff of a fuel and payment type on ``day`` (today, UK) as a dict, or None."""
    day = (day or datetime.now(UTC).date()).isoformat()
    t = tariffs()
    hit = t[(t["fuel"] == fuel) & (t["payment_type"] == payment_type) & (t["valid_from"] <= day)
            & (t["valid_to"].isna() | (t["valid_to"] >= day))]
    return None if hit.empty else hit.iloc[0].to_dict()


def bill_forecast(household_id: str, scope: Scope) -> pd.DataFrame:
    """The next 30 days' cost per fuel from the daily forecast (hearth.bills.bill_forecast)."""
    from hearth.bills import bill_forecast as forecast_cost_of

    home = household(household_id, scope)
    f = forecasts(household_id, scope)
    tariffs = {fuel: t for fuel in f["fuel"].unique()
               if (t := tariff_on(fuel, home["payment_type"])) is not None}
    return forecast_cost_of(f[f["step"] == "daily"], tariffs)


# -- the portfolio ------------------------------------------------------------------------------

class PortfolioSummaries:
    """Portfolio-wide summaries, kept fresh in the background (stale-while-revalidate).

    Reading the last reading of 30,000 devices or summing 30 days of forecasts for 10,000
    homes takes InfluxDB seconds; no officer should wait for that. `warm_up` (called by the
    sign-in page) starts a daemon thread that computes every summary at once and again every
    ``refresh_s``; pages get the latest finished result immediately. A page that asks before
    the first result is ready either waits for it (``wait=True``) or gets None.
    """

    def __init__(self, refresh_s: float):
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, pd.DataFrame]] = {}
        self._compute: dict[str, Callable[[], pd.DataFrame]] = {}
        self._busy: dict[str, threading.Lock] = {}
        self._thread: threading.Thread | None = None

    def register(self, name: str, compute: Callable[[], pd.DataFrame]) -> None:
        with self._lock:
            self._compute.setdefault(name, compute)
            self._busy.setdefault(name, threading.Lock())

    def get(self, name: str, wait: bool = True) -> pd.DataFrame | None:
        """The latest value of a registered summary (see the class)."""
        self.start()
        hit = self._values.get(name)
        if hit is None and wait:
            self._refresh(name, only_if_missing=True)
            hit = self._values.get(name)
        return None if hit is None else hit[1]

    def _refresh(self, name: str, only_if_missing: bool = False) -> None:
        with self._busy[name]:  # one computation of a summary at a time
            if only_if_missing and name in self._values:
                return
            value = self._compute[name]()
            with self._lock:
                self._values[name] = (time.monotonic(), value)

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="hearth-portfolio-refresh",
                                            daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            for name in list(self._compute):
                try:
                    self._refresh(name)
                except Exception:  # keep serving the last good figures; say so in the log
                    log.exception("dashboard: refreshing %s failed; keeping the previous figures",
                                  name)
            time.sleep(self.refresh_s)


@st.cache_resource
def _summaries() -> PortfolioSummaries:
    """The summaries, their computations bound here (in a script run) to the cached InfluxDB
    client and the registry path: the refresh thread then calls no Streamlit cache, which
    outside a script run only logs warnings about a missing ScriptRunContext."""
    _schema_ready()  # apply the registry's migrations once, here
    s = PortfolioSummaries(float(settings().dashboard.portfolio_ttl_s))
    client, path = influx(), settings().registry.target
    s.register("last_seen", partial(_compute_last_seen, client, path))
    s.register("forecast_cost", partial(_compute_forecast_cost, client, path))
    return s


def warm_up() -> None:
    """Start computing the portfolio summaries in the background (cheap after the first call)."""
    _summaries().start()


def _compute_last_seen(client, registry_path) -> pd.DataFrame:
    recent = r.last_seen(client)
    known = _read_at(registry_path, q.devices, None)
    missing = sorted(set(known["device_id"]) - set(recent["device_id"]))
    older = r.last_seen_long(client, missing) if missing else recent.iloc[:0]
    return pd.concat([recent, older], ignore_index=True)


def device_status(scope: Scope, wait: bool = True) -> pd.DataFrame | None:
    """Every device in scope with last_seen (NaT if none in 30 days), silent_s and silent
    (no reading for more than ``silent_after_intervals`` of its intervals). None while the
    figures are first being computed, when ``wait`` is False."""
    seen = _summaries().get("last_seen", wait)
    if seen is None:
        return None
    devs = devices(scope)
    out = devs.merge(seen[["device_id", "last_seen"]], on="device_id", how="left")
    now = pd.Timestamp.now(tz="UTC")
    out["silent_s"] = (now - out["last_seen"]).dt.total_seconds()
    limit_s = silent_limit_s(out["interval_s"].to_numpy(float),
                             settings().dashboard.silent_after_intervals)
    out["silent"] = out["last_seen"].isna() | (out["silent_s"].to_numpy() > limit_s)
    return out


def _compute_forecast_cost(client, registry_path) -> pd.DataFrame:
    """Next 30 days' forecast cost per home [GBP] (expected energy of the latest daily forecast
    at today's tariff, plus the standing charges of those days), over every home."""
    energy = r.forecast_energy_30d(client)
    homes = _read_at(registry_path, q.households, None)[["household_id", "payment_type"]]
    t = _read_at(registry_path, q.tariffs)
    today = datetime.now(UTC).date().isoformat()
    t = t[(t["valid_from"] <= today) & (t["valid_to"].isna() | (t["valid_to"] >= today))]
    df = energy.merge(homes, on="household_id").merge(t, on=["fuel", "payment_type"], how="left")
    df["cost_gbp"] = (df["energy_kwh"] * df["unit_rate_gbp_per_kwh"]
                      + df["days"] * df["standing_charge_gbp_per_day"])
    return df.groupby("household_id", as_index=False)["cost_gbp"].sum()


def forecast_cost(scope: Scope, wait: bool = True) -> pd.DataFrame | None:
    """Forecast cost of the next 30 days per home in scope; None while first being computed,
    when ``wait`` is False."""
    costs = _summaries().get("forecast_cost", wait)
    if costs is None:
        return None
    homes = households(scope)[["household_id", "patch"]]
    return homes.merge(costs, on="household_id", how="inner")


# -- data health ----------------------------------------------------------------------------------

@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def dead_letters(max_per_file: int = 2000) -> pd.DataFrame:
    """The newest dead letters of every file under collectors.dead_letter_dir: columns file,
    time, source, code (the reason's short code), reason, topic, item (the refused payload or
    line, cut to 200 characters)."""
    root = Path(settings().collectors.dead_letter_dir)
    rows = []
    for path in sorted(root.rglob("*.jsonl")) if root.exists() else []:
        with open(path, encoding="utf-8", errors="replace") as f:
            tail = deque(f, maxlen=max_per_file)
        for line in tail:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                obj = {"reason": "unreadable dead-letter line", "line": line}
            reason = str(obj.get("reason") or obj.get("error") or "no reason recorded")
            when = obj.get("time") or obj.get("at") or obj.get("received_at")
            item = (obj.get("raw") or obj.get("line") or obj.get("payload") or obj.get("item")
                    or obj.get("raw_b64") or "")
            code = reason.split(":", 1)[0].strip() if ":" in reason[:40] else reason
            rows.append({"file": str(path.relative_to(root)), "time": when,
                         "source": obj.get("source") or path.stem, "code": code[:80],
                         "reason": reason[:300], "topic": obj.get("topic") or "",
                         "item": (item if isinstance(item, str) else json.dumps(item))[:200]})
    df = pd.DataFrame(rows, columns=["file", "time", "source", "code", "reason", "topic",
                                     "item"])
    df["time"] = pd.to_datetime(df["time"], utc=True, errors="coerce", format="ISO8601")
    return df.sort_values("time", ascending=False)


_METRIC_WORDS = {
    "hearth_collector_readings_total": "Readings taken in",
    "hearth_collector_dead_letters_total": "Readings refused (dead letters)",
    "hearth_collector_devices_silent": "Devices silent",
    "hearth_influx_points_written_total": "Points written to InfluxDB",
    "hearth_influx_points_dead_lettered_total": "Points InfluxDB refused",
    "hearth_influx_write_failures_total": "InfluxDB write failures (retried)",
    "hearth_spool_backlog_readings": "Readings waiting in the spool",
    "hearth_spool_backlog_bytes": "Spool used [bytes]",
    "hearth_spool_max_bytes": "Spool size [bytes]",
}


@st.cache_data(ttl=15, show_spinner=False)
def collector_metrics() -> dict:
    """The collectors' figures from their Prometheus endpoint, in words: {"rows": [(figure,
    value)], "url", "at"}, or {"error": ...} when it does not answer."""
    port = settings().collectors.metrics_port
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        text = requests.get(url, timeout=1.0).text
    except requests.RequestException:
        return {"error": f"Readings may not be arriving: the collectors do not answer (port "
                f"{port}). Tell IT; they can check with `hearth collect status`."}
    rows = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name, _, labels = series.partition("{")
        if name not in _METRIC_WORDS:
            continue
        label = labels.rstrip("}").replace('"', "").replace("collector=", "")
        try:
            rows.append((_METRIC_WORDS[name] + (f" ({label})" if label else ""), float(value)))
        except ValueError:
            continue
    return {"url": url, "rows": rows, "at": datetime.now(UTC)}


def since_text(last_seen, now: datetime | None = None) -> str:
    from dashboard.fmt import uk_time

    if last_seen is None or pd.isna(last_seen):
        return "no readings in the last 30 days"
    return f"last reading {uk_time(last_seen, now)}"


