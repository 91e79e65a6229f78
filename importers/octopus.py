"""Octopus Energy REST API: half-hourly consumption of an electricity or gas meter, paged.

Documented shape (https://developer.octopus.energy/rest/reference/ "List consumption for a
meter"; https://developer.octopus.energy/docs/api/#list-consumption-for-a-meter):
`GET /v1/electricity-meter-points/{mpan}/meters/{serial}/consumption/?period_from=...&period_to
=...&page_size=...&order_by=period` (gas: `/v1/gas-meter-points/{mprn}/...`), the API key as
the HTTP basic-auth user name, returns {"count": n, "next": url|null, "previous": url|null,
"results": [{"consumption": number, "interval_start": ISO 8601 with offset, "interval_end":
...}, ...]}. Units: electricity kWh; gas kWh from SMETS1 meters, m3 from SMETS2 meters (the
answer does not say: the registry's gas_unit does). period_from is inclusive, period_to
exclusive.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from urllib.parse import urlsplit

from importers.http import ProviderClient, ProviderError
from importers.providers import (
    HALF_HOUR_NS,
    BadItem,
    MeterPoint,
    Page,
    page_from,
    utc_ns,
)

NAME = "octopus"


def _when(text: object) -> dt.datetime:
    if not isinstance(text, str):
        raise ValueError("not a string")
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError("no UTC offset")
    return t


def parse_consumption(obj: object, unit: str, raw: bytes = b"") -> tuple[Page, str | None]:
    """One page of results and the next page's URL (None on the last)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("results"), list):
        raise ProviderError(NAME, "malformed", "consumption answer has no `results` list",
                            raw=raw)
    nxt = obj.get("next")
    if nxt is not None and not isinstance(nxt, str):
        raise ProviderError(NAME, "malformed", "`next` is neither a URL nor null", raw=raw)
    items, bad = [], []
    for item in obj["results"]:
        try:
            t0, t1 = _when(item["interval_start"]), _when(item["interval_end"])
            value = item["consumption"]
        except (TypeError, KeyError, ValueError):
            bad.append(BadItem("invalid_item: expected {consumption, interval_start,"
                               " interval_end} with ISO 8601 times", json.dumps(item).encode()))
            continue
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) \
                or not math.isfinite(value):
            bad.append(BadItem("invalid_value: consumption is not a number",
                               json.dumps(item).encode()))
            continue
        t_ns = utc_ns(t0)
        if (t1 - t0) != dt.timedelta(minutes=30) or t_ns % HALF_HOUR_NS:
            bad.append(BadItem("not_half_hour: interval is not one half hour",
                               json.dumps(item).encode()))
            continue
        items.append((t_ns, float(value)))
    return page_from(items, unit, bad), nxt


def _z(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Octopus(ProviderClient):
    name = NAME

    def pages(self, point: MeterPoint, start: dt.datetime, end: dt.datetime) -> Iterator[Page]:
        key = self.credential(point.credential_ref or "octopus_api_key")
        kind = "electricity-meter-points" if point.fuel == "electricity" else "gas-meter-points"
        unit = "kwh" if point.fuel == "electricity" else (point.gas_unit or "m3")
        base = self.s.octopus_base_url
        url: str | None = f"{base}/v1/{kind}/{point.mpxn}/meters/{point.meter_serial}/consumption/"
        params: dict | None = {"period_from": _z(start), "period_to": _z(end),
                               "page_size": self.s.octopus_page_size, "order_by": "period"}
        while url:
            obj, raw = self.request("GET", url, params=params, auth=(key, ""))
            page, url = parse_consumption(obj, unit, raw)
            yield page
            params = None                  # `next` carries the query
            if url and urlsplit(url)[:2] != urlsplit(base)[:2]:
                # The key would go with the request: only ever to the configured API.
                raise ProviderError(NAME, "malformed", "`next` points away from"
                                    " octopus_base_url; not followed", raw=raw)
