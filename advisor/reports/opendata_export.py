"""`hearth opendata export`: the I/O around :mod:`advisor.reports.opendata`. Reads each home's
month of half-hourly use from InfluxDB (summed per UK day by the server), prices it with the
tariffs in force each day, aggregates, suppresses, and writes the CSV with a CSVW metadata file
(every column, its unit, the licence and the method)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from advisor.reports import inputs, opendata_record
from advisor.reports.period import default_month, month_period

log = logging.getLogger("hearth.reports")
AREA_COLUMNS = ("patch", "estate", "address_area")
MIN_SHARE = 0.9     # a home counts for a fuel when it has 90% of the month's half hours


@dataclass
class OpenDataResult:
    month: str
    csv: Path
    metadata: Path
    rows: int
    suppressed: int


def household_month(homes: pd.DataFrame, kwh: dict[str, np.ndarray], counts: dict[str, np.ndarray],
                    unit: dict[str, np.ndarray], standing: dict[str, np.ndarray], area: str,
                    days: int) -> pd.DataFrame:
    """One row per counted household and fuel: household_id (pseudonymous; for the record of
    who is behind each published cell, never published), area, property_type, fuel,
    energy_kwh [kWh], cost_gbp [GBP] = sum over days of kWh x unit rate + standing charge per day (pure)."""
    parts = []
    has_gas = homes["has_gas"].to_numpy(bool)
    for fuel in inputs.FUELS:
        ok = counts[fuel].sum(axis=1) >= MIN_SHARE * days * 48
        if fuel == "gas":
            ok &= has_gas
        daily = np.nan_to_num(kwh[fuel])
        cost = (daily * unit[fuel] + standing[fuel]).sum(axis=1)
        ok &= ~np.isnan(cost)                        # a day without a tariff: not priced
        parts.append(pd.DataFrame({"household_id": homes.index.to_numpy()[ok],
                                   "area": homes[area].to_numpy()[ok],
                                   "property_type": homes["property_type"].to_numpy()[ok],
                                   "fuel": fuel, "energy_kwh": daily.sum(axis=1)[ok],
                                   "cost_gbp": cost[ok]}))
    return pd.concat(parts, ignore_index=True)


def metadata(settings, csv_name: str, month: str, area: str, k: int) -> dict:
    """CSVW (W3C CSV on the Web) metadata: columns with units, licence, method."""
    cfg = settings.reports
    cols = [
        ("month", "Month (UK calendar month)", "string", None),
        ("area_type", f"Kind of area: '{area}' (block or street, estate, or officer patch)",
         "string", None),
        ("area", "Area name, or 'All' in totals over areas", "string", None),
        ("property_type", "flat, maisonette, house, bungalow, or 'All'", "string", None),
        ("fuel", "electricity or gas", "string", None),
        ("level", "cell (area and property type), area_total, property_type_total or total",
         "string", None),
        ("homes", "Homes in the group with at least 90% of the month's half-hourly readings",
         "integer", "homes"),
        ("energy_kwh", "Energy used by the group in the month", "decimal", "kWh"),
        ("energy_kwh_per_home", "energy_kwh / homes", "decimal", "kWh per home"),
        ("cost_gbp", "Cost at the homes' tariffs: each day's kWh x unit rate plus the daily "
         "standing charge, for every day of the month", "decimal", "GBP"),
        ("cost_gbp_per_home", "cost_gbp / homes", "decimal", "GBP per home"),
        ("marker", "'c' where the group is suppressed (confidential): fewer than "
         f"{k} homes, or hidden so that such a group cannot be worked out from totals; its "
         "numbers are left empty", "string", None),
    ]
    return {
        "@context": "http://www.w3.org/ns/csvw",
        "url": csv_name,
        "dc:title": f"Home energy use and cost by area, property type and fuel, {month}",
        "dc:publisher": cfg.opendata_publisher,
        "dc:license": {"name": cfg.opendata_licence_name, "url": cfg.opendata_licence_url},
        "dc:description": (
            "Monthly electricity and gas use of the homes Hearth monitors, from half-hourly "
            "smart meter readings summed over each UK calendar day, and its cost at the tariffs "
            "(unit rates and standing charges, by payment type, with the dates they apply). "
            f"Method: a home counts for a fuel in a month when at least {MIN_SHARE:.0%} of the "
            f"month's half hours were read. Groups of fewer than {k} homes are suppressed "
            "(primary suppression), and further groups are suppressed (secondary suppression) "
            "until no suppressed group can be recovered from the published ones and the totals "
            "(each line of a total hides none or at least two groups, checked by an exact linear "
            "audit). Each table is also checked against every table published before for the "
            "same month: a group is published only if its homes are the same as, or differ by "
            f"at least {k} homes from, every group published before, and no group of fewer than "
            f"{k} homes can be worked out from all the tables together (an exact linear audit "
            "across publications); otherwise it is suppressed. No row describes fewer than "
            f"{k} homes; no household, tenant or address finer than '{area}' is published."),
        "hearth:minimum_group_homes": k,
        "tableSchema": {
            "columns": [{"name": n, "titles": n, "dc:description": d, "datatype": t,
                         **({"hearth:unit": u} if u else {})} for n, d, t, u in cols],
            "primaryKey": ["month", "area", "property_type", "fuel", "level"],
        },
    }


def refuse_short_history(client, month: str) -> None:
    """A clear error, before anything is written, when the stored history cannot give any home
    90% of ``month`` (a new installation) or the month has not ended: what is missing and
    when it will be there (advisor/reports/history.py)."""
    from advisor.reports.history import opendata_gap

    gap = opendata_gap(month, inputs.history_start(client, month_period(month).end_ns),
                       int(datetime.now(UTC).timestamp()) * 10**9)
    if gap:
        raise ValueError(gap)


def export_month(settings, out_dir: Path | None = None, month: str | None = None,
                 area: str | None = None) -> OpenDataResult:
    """Write ``opendata-<month>/energy_<month>.csv`` and its ``-metadata.json``."""
    from hearth.influx import InfluxClient
    from hearth.registry import Registry

    cfg = settings.reports
    # One geography, set once in the settings: publishing the same homes by two overlapping
    # geographies would let a reader subtract one from the other.
    area = area or cfg.opendata_area
    if area not in AREA_COLUMNS:
        raise ValueError(f"area must be one of {', '.join(AREA_COLUMNS)}; got {area!r}")
    month = month or default_month(datetime.now(UTC).date())
    period = month_period(month)
    k = cfg.opendata_min_group_homes
    with Registry(settings.registry.target) as reg:
        homes = reg.households_frame()
        tariffs = reg.tariff_table()
    if homes.empty:
        raise ValueError("the registry has no homes: nothing to publish")
    days = period.day_array()
    unit, standing = {}, {}
    for fuel in inputs.FUELS:
        unit[fuel], standing[fuel] = tariffs.matrix(fuel, homes["payment_type"].to_numpy(), days)
    log.info("open data %s: reading %d homes' use", month, len(homes))
    with InfluxClient.from_settings(settings, role="reader") as client:
        refuse_short_history(client, month)
        kwh, counts = inputs.daily_usage(client, period, homes.index)
    rows = household_month(homes, kwh, counts, unit, standing, area, period.days)
    folder = Path(out_dir or cfg.opendata_out_dir) / f"opendata-{month}"
    csv_path = folder / f"energy_{month}.csv"
    with Registry(settings.registry.target) as reg:
        # Checked against every earlier publication of this month (differencing), and
        # recorded in the same registry before the files exist: a table is never out unrecorded.
        earlier = opendata_record.earlier_cells(reg.conn, month)
        table, members, reasons = opendata_record.safe_table(rows, month, area, k, earlier)
        opendata_record.record(reg.conn, month, area, csv_path.name, k, table, members, reasons,
                               datetime.now(UTC))
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_path, index=False, lineterminator="\n", na_rep="")
    meta_path = folder / f"energy_{month}.csv-metadata.json"
    meta_path.write_text(json.dumps(metadata(settings, csv_path.name, month, area, k), indent=2)
                         + "\n", encoding="utf-8")
    if earlier:
        log.info("open data %s: checked against %d cells published before for the month",
                 month, len(earlier))
    suppressed = int((table["marker"] == "c").sum())
    log.info("open data %s: %d rows, %d suppressed -> %s", month, len(table), suppressed, folder)
    return OpenDataResult(month, csv_path, meta_path, len(table), suppressed)
