"""`hearth report weekly`: read the week's data (I/O edge), compute the tables (pure), write
HTML, PDF and CSV files. The generation time is the only clock reading in the content and can
be fixed (``generated_at``) so that the same data gives byte-identical HTML and CSV."""

from __future__ import annotations

import html
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from advisor.reports import charts, history, inputs, tables
from advisor.reports.period import (
    UK,
    Period,
    current_week_ending,
    default_week_ending,
    same_week_last_year,
    week_ending,
)
from advisor.reports.render import Table, cards_html, chart_html, fmt, page, table_html, write_csv
from hearth.errors import HearthError

log = logging.getLogger("hearth.reports")
QUERY_THREADS = 4      # InfluxDB queries of one report in flight at once


@dataclass
class WeeklyReport:
    folder: Path
    html: Path
    pdf: Path | None
    csv: list[Path]
    timings_s: dict[str, float]
    patches: dict[str, Path] = field(default_factory=dict)   # patch -> its report's folder


class _Progress:
    """A progress bar on a terminal, a log line per step always (scheduled runs log)."""

    def __init__(self, total: int, enabled: bool = True):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc="weekly report", unit="step", disable=not enabled,
                        leave=False)
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.timings: dict[str, float] = {}

    def step(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = now - self.last
        log.info("report: %s (%.1f s)", name, now - self.last)
        self.last = now
        self.bar.set_postfix_str(name)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def load_inputs(settings, week: Period, patch: str | None, progress: _Progress
                ) -> inputs.ReportInputs:
    """Read everything for the report of ``week`` (of one patch, or all)."""
    from hearth.influx import InfluxClient
    from hearth.registry import Registry

    cfg = settings.reports
    notes: list[str] = []
    last_year = same_week_last_year(week)
    with Registry(settings.registry.target) as reg:
        homes = reg.households_frame(patch)
        if patch is not None and homes.empty:
            raise HearthError(f"no homes in patch {patch!r}; patches are: "
                              f"{', '.join(reg.patches()) or 'none (import homes first)'}")
        if homes.empty:
            raise HearthError("the registry has no homes: import them (`hearth registry import`)"
                              " or generate a portfolio (`hearth registry generate`)")
        devices = reg.devices_frame()
        devices = devices[devices["household_id"].isin(homes.index)]
        tariffs = reg.tariff_table()
        cases, events = inputs.read_cases(reg.conn, notes)
        sms, opt_outs = inputs.read_messages(reg.conn, notes)
    progress.step("registry read")
    first_day = np.datetime64(week.last_day) + 1
    fdays = first_day + np.arange(inputs.FORECAST_DAYS)
    unit, standing = {}, {}
    for fuel in inputs.FUELS:
        unit[fuel], standing[fuel] = tariffs.matrix(fuel, homes["payment_type"].to_numpy(), fdays)
    areas = homes["address_area"]

    def read(name: str, func):
        # One client (one HTTP session) per query: they run at the same time.
        with InfluxClient.from_settings(settings, role="reader") as client:
            return name, func(client)

    jobs = {
        "usage this week": lambda c: inputs.daily_usage(c, week, homes.index),
        "usage same week last year": lambda c: inputs.daily_usage(c, last_year, homes.index),
        "weather": lambda c: {p: inputs.area_hdd(c, w, cfg.hdd_base_c).reindex(areas).to_numpy()
                              for p, w in (("this", week), ("last", last_year))},
        "devices": lambda c: inputs.device_last_seen(c, week, devices.index),
        "credit": lambda c: inputs.last_credit(c, week, homes.index),
        "forecasts": lambda c: inputs.forecast_daily(c, first_day, cfg.forecast_model,
                                                     homes.index),
        "history": lambda c: inputs.history_start(c, week.end_ns),
    }
    got = {}
    # InfluxDB answers the queries on several cores while this process decodes the answers.
    with ThreadPoolExecutor(max_workers=QUERY_THREADS) as pool:
        for future in as_completed([pool.submit(read, n, f) for n, f in jobs.items()]):
            name, value = future.result()
            got[name] = value
            progress.step(name)
    usage = {"this": got["usage this week"][0], "last": got["usage same week last year"][0]}
    counts = {"this": got["usage this week"][1], "last": got["usage same week last year"][1]}
    hdd, last_ns, credit, forecast = got["weather"], got["devices"], got["credit"], \
        got["forecasts"]
    dead = inputs.read_dead_letters(settings.collectors.dead_letter_dir)
    runs = inputs.read_job_runs(settings.schedule.state_path)
    return inputs.ReportInputs(
        week=week, last_year=last_year, households=homes, devices=devices,
        device_last_ns=last_ns, usage_kwh=usage, usage_halfhours=counts,
        hdd={k: v.astype(float) for k, v in hdd.items()}, forecast_kwh=forecast,
        forecast_days=fdays, credit_gbp=credit, unit_gbp_per_kwh=unit,
        standing_gbp_per_day=standing, cases=cases, case_events=events, sms=sms,
        opt_outs=opt_outs, dead_letters=dead, job_runs=runs, notes=notes,
        history_start_ns=got["history"])


@dataclass
class Computed:
    tables: list[Table]
    daily: object
    cases_scope: object
    homes: object
    summary: dict


def compute(inp: inputs.ReportInputs, cfg, silent_after_intervals: float) -> Computed:
    """All tables of the report (pure: inputs in, frames out). ``silent_after_intervals``:
    ``[dashboard] silent_after_intervals``, so the report and the dashboard agree."""
    homes = tables.homes_and_devices(inp, silent_after_intervals)
    cases = tables.cases_by_kind(inp)
    awaab, awaab_detail = tables.awaab_deadlines(inp)
    top = tables.top_forecast_cost(inp, cfg.top_cost_homes)
    credit = tables.credit_runout(inp, cfg.credit_runout_days)
    use = tables.consumption(inp)
    daily = tables.daily_consumption(inp)
    tips = tables.tips(inp)
    health, failed_jobs = tables.data_health(inp, silent_after_intervals)
    silent = tables.silent_devices(inp, silent_after_intervals)
    detail = awaab_detail.assign(
        due_by=_iso(awaab_detail["due_by_ns"]), done_at=_iso(awaab_detail["done_ns"]),
        closed_at=_iso(awaab_detail["closed_ns"]))[
        ["patch", "case_id", "kind", "household_id", "stage_due", "due_by", "done_at",
         "closed_at", "outcome"]] \
        .sort_values(["patch", "due_by", "case_id"], kind="mergesort")
    per_patch_cases = cases.groupby("patch", sort=False)[["new", "open_at_end", "closed"]].sum() \
        .reset_index()
    scope_cases = cases[cases["patch"] == tables.ALL].drop(columns="patch")
    total = homes.iloc[-1]
    summary = {
        "homes": int(total["homes"]), "devices": int(total["devices"]),
        "reporting_pct": float(total["devices_reporting_pct"]),
        "open_cases": int(scope_cases["open_at_end"].sum()),
        "new_cases": int(scope_cases["new"].sum()),
        "missed": int(awaab.iloc[-1]["missed"]), "credit_homes": int(credit["household_id"].nunique()),
        "tips": int(tips.iloc[-1]["tips_sent"]), "silent": int(total["devices_silent"]),
    }
    k, g, p, i = "kwh", "gbp", "pct", "int"
    out = [
        Table("homes_devices", "Homes and devices reporting", homes,
              {c: i for c in homes.columns if c not in ("patch", "devices_reporting_pct")}
              | {"devices_reporting_pct": "share"},
              {"devices_reporting_pct": "devices reporting [%]"}),
        Table("cases_by_kind", "Cases by kind (all patches)", scope_cases,
              {"new": i, "open_at_end": i, "closed": i},
              {"new": "new this week", "open_at_end": "open at week end",
               "closed": "closed this week"}),
        Table("cases_by_patch", "Cases by patch", per_patch_cases,
              {"new": i, "open_at_end": i, "closed": i},
              {"new": "new this week", "open_at_end": "open at week end",
               "closed": "closed this week"}),
        Table("cases_by_patch_and_kind", "Cases by patch and kind", cases,
              {"new": i, "open_at_end": i, "closed": i}, max_rows=0),
        Table("awaab_deadlines", "Awaab's Law deadlines that fell due this week", awaab,
              {"deadlines_due": i, "met": i, "missed": i}),
        Table("awaab_deadline_detail", "Each deadline", detail, {"case_id": i}, max_rows=200),
        Table("top_forecast_cost", f"The {cfg.top_cost_homes} homes with the highest forecast "
              "30-day cost", top,
              {"electricity_kwh_30d": k, "gas_kwh_30d": k, "electricity_cost_gbp_30d": g,
               "gas_cost_gbp_30d": g, "cost_gbp_30d": g},
              {"electricity_kwh_30d": "electricity [kWh]", "gas_kwh_30d": "gas [kWh]",
               "electricity_cost_gbp_30d": "electricity [GBP]", "gas_cost_gbp_30d": "gas [GBP]",
               "cost_gbp_30d": "total 30 days [GBP]", "payment_type": "pays by"},
              note="Unit rates and standing charges of each home's tariffs on each day."),
        Table("credit_runout", f"Prepayment credit running out within "
              f"{cfg.credit_runout_days:g} days", credit,
              {"credit_gbp": g, "forecast_cost_gbp_per_day": g, "days_of_credit": "num"},
              {"credit_gbp": "credit at week end [GBP]",
               "forecast_cost_gbp_per_day": "forecast cost next day [GBP/day]",
               "days_of_credit": "days of credit left"}, max_rows=200,
              note="Last balance reported this week over the forecast daily cost."),
        Table("consumption", "Consumption against the same week last year", use,
              {"homes_with_data": i, "energy_kwh": k, "homes_compared": i,
               "energy_kwh_compared": k, "energy_kwh_last_year": k, "change_pct": p,
               "homes_with_weather": i, "hdd_this_week": "num", "hdd_last_year": "num",
               "weather_adjusted_change_pct": p},
              {"energy_kwh": "this week [kWh]", "energy_kwh_compared": "compared homes, this week"
               " [kWh]", "energy_kwh_last_year": "same homes, same week last year [kWh]",
               "change_pct": "change [%]", "homes_with_weather": "of which with weather both years",
               "hdd_this_week": "degree days this week [K day]",
               "hdd_last_year": "degree days last year [K day]",
               "weather_adjusted_change_pct": "weather-adjusted change [%]"},
              note=f"Compared homes have at least 90% of their half hours in both weeks. Weather "
                   f"adjustment: energy per heating degree day (base {cfg.hdd_base_c:g} C, from "
                   "the outdoor temperature of each home's area) this year over last year."),
        Table("daily_consumption", "Energy per day", daily,
              {"energy_kwh": k, "energy_kwh_last_year": k}, max_rows=0),
        Table("tips", "Tips to tenants", tips,
              {c: i for c in tips.columns if c != "patch"},
              {"tips_sent": "tips sent", "opted_out": "tenants opted out"}),
        Table("data_health", "Data health", health, {"value": i}),
        Table("failed_jobs", "Scheduled jobs that failed this week", failed_jobs,
              {"attempt": i}),
        Table("silent_devices", "Silent devices", silent, max_rows=100),
    ]
    if inp.week.to_date:
        for t in out:
            for col in ("metric", "last_reading"):
                if col in t.frame.columns:
                    t.frame[col] = [to_date_wording(str(v), inp.week) for v in t.frame[col]]
        out = [replace(t, title=to_date_wording(t.title, inp.week), note=to_date_wording(
            t.note, inp.week), headers={c: to_date_wording(h, inp.week)
                                        for c, h in t.headers.items()}) for t in out]
    return Computed(out, daily, scope_cases, homes, summary)


_WEEK_END = re.compile(r"\b(?:at (?:the )?week(?:'s)? end|at its end|at the end of the week)\b")
_THIS_WEEK = re.compile(r"\b(this|the) week\b(?! to date)")


def to_date_wording(text: str, week: Period) -> str:
    """The words of a complete week said of a week to date: "this week" is "this week to
    date", "at week end" is the instant the figures are taken at (UK time) (pure)."""
    if not week.to_date:
        return text
    from zoneinfo import ZoneInfo

    at = datetime.fromtimestamp(week.end_ns / 1e9, ZoneInfo(week.tz))
    text = _WEEK_END.sub(f"at {at:%a %d %b %H:%M}", text)
    text = text.replace("that fell due this week", f"falling due {week.first_day:%a %d %b} to "
                        f"{week.last_day:%a %d %b} (missed only once passed)")
    return _THIS_WEEK.sub(lambda m: f"{m.group(1)} week to date", text)


def _iso(ns) -> np.ndarray:
    import pandas as pd

    ns = np.asarray(ns, dtype=np.int64)
    text = pd.to_datetime(np.where(ns == tables.NAT, 0, ns), utc=True).strftime(
        "%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object)
    return np.where(ns == tables.NAT, "", text)


def data_notes(inp: inputs.ReportInputs) -> list[str]:
    """What the data lacks, said in the report (pure: from the inputs of this scope)."""
    notes = []
    if all(np.isnan(v).all() for v in inp.forecast_kwh.values()):
        notes.append(f"No forecasts for the 30 days from {inp.forecast_days[0]}: forecast "
                     "costs and credit run-out are not shown.")
    if inp.week.to_date:
        notes.append("Weather adjustment needs whole days of weather: it is not shown for a "
                     "week to date.")
    elif np.isnan(inp.hdd["last"]).all():
        notes.append("No weather for the same week last year: the weather-adjusted change is "
                     "not available.")
    return notes + history.weekly_gaps(inp.week, inp.history_start_ns)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "patch"


def build_html(inp: inputs.ReportInputs, comp: Computed, scope: str, generated_at: datetime,
               multi_patch: bool, credit_days: float = 7.0) -> str:
    by = {t.name: t for t in comp.tables}
    s = comp.summary
    cards = cards_html([
        (f"{s['homes']:,}", "homes", False),
        (f"{s['reporting_pct']:.1f}%" if not np.isnan(s["reporting_pct"]) else "n/a",
         "devices reporting", False),
        (f"{s['silent']:,}", to_date_wording("devices silent at week end", inp.week),
         s["silent"] > 0),
        (f"{s['new_cases']:,}", "new cases", False),
        (f"{s['open_cases']:,}", to_date_wording("cases open at week end", inp.week), False),
        (f"{s['missed']:,}", "Awaab's Law deadlines missed", s["missed"] > 0),
        (f"{s['credit_homes']:,}", f"homes whose credit runs out within {credit_days:g} days",
         s["credit_homes"] > 0),
        (f"{s['tips']:,}", "tips sent", False),
    ])
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in [*inp.notes,
                                                                        *data_notes(inp)])
    if inp.week.to_date:
        notes = ('<p class="note"><strong>Week to date:</strong> this week has not ended; '
                 f'figures are as at {html.escape(inp.week.label().split(" to ")[-1])} UK time, '
                 "and an Awaab's Law deadline still ahead is counted as not yet due, not missed."
                 "</p>") + notes
    overview = cards + notes + table_html(by["homes_devices"])
    if multi_patch and len(comp.homes) > 2:
        overview += chart_html(charts.reporting_chart(comp.homes.iloc[:-1]), to_date_wording(
                               "Devices that reported this week and devices silent at its end,"
                               " by patch, in per cent", inp.week))
    sections = [
        ("Summary, homes and devices", overview),
        ("Cases", chart_html(charts.cases_chart(comp.cases_scope, scope),
                             to_date_wording("Cases by kind: new, open at week end, closed",
                                             inp.week))
         + table_html(by["cases_by_kind"]) + (table_html(by["cases_by_patch"]) if multi_patch
                                               else "")),
        ("Awaab's Law: hazard deadlines (damp and mould, excess cold, excess heat)",
         table_html(by["awaab_deadlines"]) + table_html(by["awaab_deadline_detail"])),
        ("Bills and prepayment credit",
         table_html(by["top_forecast_cost"]) + table_html(by["credit_runout"])),
        ("Consumption and weather",
         chart_html(charts.daily_consumption_chart(comp.daily, scope),
                    to_date_wording("Energy per day this week and the same week last year,"
                                    " in kWh", inp.week))
         + table_html(by["consumption"])),
        ("Tips to tenants", table_html(by["tips"])),
        ("Data health", table_html(by["data_health"]) + table_html(by["failed_jobs"])
         + table_html(by["silent_devices"])),
    ]
    meta = (f"Week {inp.week.label()} (UK time), compared with {inp.last_year.label()}. "
            f"Generated {generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC by Hearth. "
            "Households are shown by their pseudonymous ids only.")
    title = f"Hearth weekly report{' (week to date)' if inp.week.to_date else ''}: {scope}"
    return page(title, sections, meta)


def subset(inp: inputs.ReportInputs, patch: str) -> inputs.ReportInputs:
    """The inputs of one patch, cut from the portfolio's (pure: no second read)."""
    homes = inp.households
    keep = (homes["patch"] == patch).to_numpy()
    ids = homes.index[keep]
    dev_keep = inp.devices["household_id"].isin(ids).to_numpy()
    cases = inp.cases[inp.cases["household_id"].isin(ids)]
    return replace(
        inp, households=homes[keep], devices=inp.devices[dev_keep],
        device_last_ns=inp.device_last_ns[dev_keep],
        usage_kwh={p: {f: a[keep] for f, a in d.items()} for p, d in inp.usage_kwh.items()},
        usage_halfhours={p: {f: a[keep] for f, a in d.items()}
                         for p, d in inp.usage_halfhours.items()},
        hdd={p: a[keep] for p, a in inp.hdd.items()},
        forecast_kwh={f: a[keep] for f, a in inp.forecast_kwh.items()},
        credit_gbp={f: a[keep] for f, a in inp.credit_gbp.items()},
        unit_gbp_per_kwh={f: a[keep] for f, a in inp.unit_gbp_per_kwh.items()},
        standing_gbp_per_day={f: a[keep] for f, a in inp.standing_gbp_per_day.items()},
        cases=cases, case_events=inp.case_events[inp.case_events["case_id"].isin(cases["case_id"])],
        sms=inp.sms[inp.sms["household_id"].isin(ids)],
        opt_outs=inp.opt_outs[inp.opt_outs["household_id"].isin(ids)])


def _write(inp: inputs.ReportInputs, settings, folder: Path, scope: str, generated_at: datetime,
           multi_patch: bool, pdf: bool) -> tuple[Path, Path | None, list[Path], Computed]:
    """Compute one report and write its HTML, CSV files and (optionally) PDF into ``folder``."""
    from advisor.reports.pdf import html_to_pdf

    cfg = settings.reports
    comp = compute(inp, cfg, settings.dashboard.silent_after_intervals)
    doc = build_html(inp, comp, scope, generated_at, multi_patch=multi_patch,
                     credit_days=cfg.credit_runout_days)
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / "report.html"
    html_path.write_text(doc, encoding="utf-8")
    csv_paths = []
    for t in comp.tables:
        path = folder / f"{t.name}.csv"
        write_csv(t.frame, path, t.formats)
        csv_paths.append(path)
    pdf_path = html_to_pdf(html_path, folder / "report.pdf", cfg.chromium,
                           cfg.pdf_timeout_s) if pdf else None
    return html_path, pdf_path, csv_paths, comp


def weekly_report(settings, out_dir: Path | None = None, patch: str | None = None,
                  week_end: date | None = None, generated_at: datetime | None = None,
                  pdf: bool = True, progress: bool = True, each_patch: bool = False,
                  week_to_date: bool = False) -> WeeklyReport:
    """Write the weekly report of ``week_end``'s week (default: the last complete week) for
    the portfolio or one patch into ``out_dir``/weekly-<date>[-<patch>]/; with ``each_patch``
    also one report per patch from the same data (their folders in ``WeeklyReport.patches``).

    A week that has not ended at ``generated_at`` (default now) is refused unless
    ``week_to_date``: then it is the week so far (default: the Monday-to-Sunday week of
    ``generated_at``), labelled "week to date", its figures taken at ``generated_at``, in
    ``weekly-<date>-to-date/``."""
    from advisor.reports.pdf import find_chromium

    cfg = settings.reports
    generated_at = generated_at or datetime.now(UTC)
    as_of_ns = int(generated_at.timestamp()) * 10**9
    if week_end is None:
        today = generated_at.astimezone(ZoneInfo(UK)).date()
        week_end = current_week_ending(today) if week_to_date else default_week_ending(today)
    week = week_ending(week_end, as_of_ns if week_to_date else None)
    check_week(week, as_of_ns, week_to_date)
    if pdf:
        find_chromium(cfg.chromium)        # fail before the work, not after
    base = Path(out_dir or cfg.out_dir)
    bar = _Progress(total=9 + (1 if each_patch else 0), enabled=progress)  # 7 reads
    patches: dict[str, Path] = {}
    try:
        inp = load_inputs(settings, week, patch, bar)
        scope = f"patch {patch}" if patch else "all patches"
        tag = f"weekly-{week_end.isoformat()}" + ("-to-date" if week.to_date else "")
        folder = base / (tag + (f"-{slug(patch)}" if patch else ""))
        html_path, pdf_path, csv_paths, comp = _write(inp, settings, folder, scope, generated_at,
                                                      patch is None, pdf)
        bar.step("report written")
        if each_patch and patch is None:
            for name in sorted(inp.households["patch"].unique()):
                sub = base / f"{tag}-{slug(name)}"
                _write(subset(inp, name), settings, sub, f"patch {name}", generated_at, False, pdf)
                patches[name] = sub
            bar.step("patch reports written")
    finally:
        bar.close()
    log.info("weekly report for %s, %s: %s (%d homes, %.1f s)", scope, week.label(), folder,
             comp.summary["homes"], sum(bar.timings.values()))
    return WeeklyReport(folder, html_path, pdf_path, csv_paths, bar.timings, patches)


def check_week(week: Period, as_of_ns: int, week_to_date: bool) -> None:
    """Refuse a week that has not ended at ``as_of_ns`` (unless a week to date is asked for)
    and a week that has not begun."""
    if week.start_ns >= as_of_ns:
        raise HearthError(f"the week {week.first_day:%a %d %b %Y} to {week.last_day:%a %d %b %Y}"
                          " has not begun: there is nothing to report yet")
    if week.full_end_ns > as_of_ns and not week_to_date:
        raise HearthError(f"the week {week.label()} has not ended (it ends at midnight after "
                          f"{week.last_day:%a %d %b %Y}, UK time): give an earlier "
                          "--week-ending, or --week-to-date for the week so far, labelled so")


__all__ = ["WeeklyReport", "check_week", "compute", "fmt", "load_inputs", "subset", "weekly_report"]
