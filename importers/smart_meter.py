"""`hearth import smart-meter`: half-hourly consumption from consumer-access providers into
`usage_30m`, for households whose tenants consented.

For each consenting household's meter point with the provider: fetch the half hours from
(last half hour delivered - lookback_days), or --since, or initial_days ago, up to the last
whole half hour; convert gas volume to kWh; write them as `import_30m` (tags household, fuel,
source = the provider) and, through `usage_lines`, as `usage_30m` and `usage_day`; remember
the last half hour delivered. Timestamps are the half hour's start, so a re-run or late data
overwrite the same points. A missing half hour is never written (never zero). Imported half
hours win over the meter-register derivation (collectors/usage.py leaves them alone).

Errors are per household and never stop the run: 401/403, 404, 429 and 5xx after retries, and
malformed answers (kept as dead letters under the provider's name with the reason). The
summary names households only by their pseudonymous id.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from importers.http import ProviderError
from importers.providers import HALF_HOUR_NS, MeterPoint, Page, to_kwh, utc_ns

log = logging.getLogger("hearth.importers.smart_meter")


@dataclass
class RunSummary:
    provider: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    households_fetched: set[str] = field(default_factory=set)   # answered without an error
    half_hours_written: int = 0
    gaps: int = 0
    dead_letters: int = 0
    no_consent: set[str] = field(default_factory=set)
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def ok(self) -> bool:
        return not self.errors

    def describe(self) -> str:
        lines = [f"smart-meter import {self.provider}: {len(self.households_fetched)} households"
                 f" fetched, {self.half_hours_written} half hours written, {self.gaps} missing"
                 f" half hours (gaps, left empty), {self.dead_letters} dead letters"]
        if self.no_consent:
            lines.append(f"  {len(self.no_consent)} household(s) with a meter point but without"
                         f" every tenant's consent, not fetched: {', '.join(sorted(self.no_consent))}")
        for hh in sorted(self.errors):
            for e in self.errors[hh]:
                lines.append(f"  error {hh} {e}")
        return "\n".join(lines)


def provider_for(name: str, settings, session, credential, sleep=None):
    from importers.glowmarkt import Glowmarkt
    from importers.n3rgy import N3rgy
    from importers.octopus import Octopus

    cls = {"n3rgy": N3rgy, "glowmarkt": Glowmarkt, "octopus": Octopus}[name]
    return cls(settings.importers.smart_meter, session, credential, sleep=sleep)


def half_hour_floor(t: dt.datetime) -> dt.datetime:
    t = t.astimezone(dt.UTC)
    return t.replace(minute=t.minute - t.minute % 30, second=0, microsecond=0)


def fetch_window(point_last: dt.datetime | None, s, now: dt.datetime,
                 since: dt.datetime | None) -> dt.datetime:
    if since is not None:
        return half_hour_floor(since)
    if point_last is not None:
        return half_hour_floor(point_last + dt.timedelta(minutes=30)
                               - dt.timedelta(days=s.lookback_days))
    return half_hour_floor(now - dt.timedelta(days=s.initial_days))


def gaps_between(start_ns: np.ndarray) -> int:
    """Half hours missing between the first and the last one received."""
    if not len(start_ns):
        return 0
    u = np.unique(start_ns)
    return int((u[-1] - u[0]) // HALF_HOUR_NS + 1 - len(u))


def import_lines(point: MeterPoint, start_ns: np.ndarray, energy_kwh: np.ndarray) -> list[str]:
    """`import_30m` lines, then the same values' `usage_day` and `usage_30m` lines."""
    from hearth.influx import IMPORT_30M, lines_from_arrays, usage_lines

    return (lines_from_arrays(IMPORT_30M, {"household": point.household_id, "fuel": point.fuel,
                                           "source": point.provider},
                              {"energy_kwh": energy_kwh}, start_ns)
            + usage_lines(point.household_id, point.fuel, energy_kwh, start_ns))


def run_import(settings, providers: list[str] | None = None, household: str | None = None,
               since: dt.datetime | None = None, until: dt.datetime | None = None,
               session=None, sleep=time.sleep, environ=None) -> list[RunSummary]:
    import requests

    from collectors.deadletter import DeadLetter, DeadLetters
    from hearth.influx import InfluxClient
    from hearth.registry import Registry
    from importers.credentials import read_credential
    from importers.http import redact_request_logs
    from importers.meter_points import last_interval, meter_points, remember_interval
    from tenants.rights import smart_meter_import_households

    redact_request_logs()
    s = settings.importers.smart_meter
    names = providers or list(s.providers)
    now = dt.datetime.now(dt.UTC)
    end = half_hour_floor(until or now)
    session = session or requests.Session()
    var_dir = settings.paths.var_dir

    def credential(name: str) -> str:
        return read_credential(var_dir, name, environ)

    c = settings.collectors
    dead = DeadLetters(c.dead_letter_dir, c.dead_letter_max_bytes, c.dead_letter_max_raw_bytes)
    summaries = []
    with Registry(settings.registry.target) as reg, InfluxClient.from_settings(settings) as db:
        db.ensure_database()
        for name in names:
            summary = RunSummary(name, until=end)
            summaries.append(summary)
            provider = provider_for(name, settings, session, credential, sleep)
            consenting = set(smart_meter_import_households(reg))
            points = meter_points(reg, provider=name, household_id=household)
            if household and not points:
                summary.errors[household].append(f"no {name} meter point in the registry (add"
                                                 " one with `hearth import meter-point add`)")
            limited: ProviderError | None = None
            for point in points:
                hh = point.household_id
                if limited is not None and hh in consenting:
                    # The provider asked us to slow down beyond the retries: ask no more now.
                    summary.errors[hh].append(f"{point.fuel}: not fetched, {name} was"
                                              f" limiting requests ({limited.detail})")
                    continue
                if hh not in consenting:
                    summary.no_consent.add(hh)
                    continue
                start = fetch_window(last_interval(reg, point), s, now, since)
                if start >= end:
                    continue
                summary.since = min(summary.since or start, start)
                t_parts, e_parts = [], []
                letters: list[DeadLetter] = []
                try:
                    for page in provider.pages(point, start, end):
                        t, e = _accept(page, point, start, end, s, letters)
                        t_parts.append(t)
                        e_parts.append(e)
                    summary.households_fetched.add(hh)
                except ProviderError as exc:
                    summary.errors[hh].append(f"{point.fuel}: {exc}")
                    if exc.code == "malformed":
                        letters.append(DeadLetter(f"malformed: {exc.detail}", exc.raw))
                    if exc.code == "rate_limited":
                        limited = exc
                    log.warning("smart-meter import %s %s %s: %s", name, hh, point.fuel, exc)
                except Exception as exc:  # a missing credential, a bug: this household only
                    summary.errors[hh].append(f"{point.fuel}: {exc}")
                    log.warning("smart-meter import %s %s %s: %s", name, hh, point.fuel, exc)
                if letters:
                    summary.dead_letters += dead.add_many(
                        f"import_{name}", [DeadLetter(d.reason, d.raw,
                                                      {"household": hh, "fuel": point.fuel,
                                                       "provider": name, **d.extra})
                                           for d in letters])
                t = np.concatenate(t_parts) if t_parts else np.zeros(0, np.int64)
                e = np.concatenate(e_parts) if e_parts else np.zeros(0)
                if not len(t):
                    continue
                written = db.write_lines(import_lines(point, t, e), retention_policy="usage")
                if written.dead_lettered:
                    summary.errors[hh].append(f"{point.fuel}: InfluxDB refused"
                                              f" {written.dead_lettered}"
                                              " point(s) (see its dead letters)")
                summary.half_hours_written += len(np.unique(t))
                summary.gaps += gaps_between(t)
                last = dt.datetime.fromtimestamp(int(t.max()) / 1e9, dt.UTC)
                remember_interval(reg, point, last)
            log.info("%s", summary.describe().splitlines()[0])
    dead.close()
    return summaries


def _accept(page: Page, point: MeterPoint, start: dt.datetime, end: dt.datetime, s,
            letters: list) -> tuple[np.ndarray, np.ndarray]:
    """The page's half hours in [start, end) as kWh; bad items and negative values to letters."""
    from collectors.deadletter import DeadLetter

    letters.extend(DeadLetter(b.reason, b.raw) for b in page.bad)
    t, v = page.start_ns, page.value
    inside = (t >= utc_ns(start)) & (t < utc_ns(end))
    t, v = t[inside], v[inside]
    if point.fuel == "electricity" and page.unit != "kwh":
        letters.append(DeadLetter(f"wrong_unit: electricity reported in {page.unit}",
                                  json.dumps({"unit": page.unit, "interval_start_ns": t.tolist(),
                                              "value": v.tolist()}).encode()))
        return np.zeros(0, np.int64), np.zeros(0)
    negative = v < 0
    for ti, vi in zip(t[negative].tolist(), v[negative].tolist(), strict=True):
        letters.append(DeadLetter("negative_consumption: import consumption below zero",
                                  json.dumps({"interval_start_ns": ti, "value": vi}).encode()))
    t, v = t[~negative], v[~negative]
    return t, to_kwh(v, page.unit, s.gas_calorific_value_mj_per_m3)
