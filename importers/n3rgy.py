"""n3rgy consumer API: half-hourly consumption of a home's electricity or gas meter.

Documented shape (n3rgy data, https://data.n3rgy.com/consumer/api-documentation and the
n3rgy/data repository on GitHub): `GET /{electricity|gas}/consumption/1?start=YYYYMMDDHHmm
&end=YYYYMMDDHHmm` with the home's key in the `Authorization` header returns {"resource",
"responseTimestamp", "start", "end", "granularity": "halfhour", "values": [{"timestamp":
"YYYY-MM-DD HH:MM", "value": number}, ...], "availableCacheRange": {...}, "unit": "kWh"|"m3"};
HTTP 206 when only part of the range is held. At most 90 days per request. Timestamps are UTC
and label a half hour by its end (setting n3rgy_timestamp_is_end); Hearth stores the start.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator

from importers.http import ProviderClient, ProviderError
from importers.providers import (
    HALF_HOUR_NS,
    BadItem,
    MeterPoint,
    Page,
    normalise_unit,
    page_from,
    utc_ns,
    windows,
)

NAME = "n3rgy"


def parse_consumption(obj: object, timestamp_is_end: bool = True, raw: bytes = b"") -> Page:
    if not isinstance(obj, dict) or not isinstance(obj.get("values"), list):
        raise ProviderError(NAME, "malformed", "consumption answer has no `values` list",
                            raw=raw)
    unit = normalise_unit(obj.get("unit"))
    if unit is None:
        raise ProviderError(NAME, "malformed", f"unknown unit {obj.get('unit')!r}", raw=raw)
    shift = HALF_HOUR_NS if timestamp_is_end else 0
    items, bad = [], []
    for item in obj["values"]:
        try:
            stamp = dt.datetime.strptime(item["timestamp"], "%Y-%m-%d %H:%M").replace(
                tzinfo=dt.UTC)
            value = item["value"]
        except (TypeError, KeyError, ValueError):
            bad.append(BadItem("invalid_item: expected {timestamp: 'YYYY-MM-DD HH:MM', value}",
                               json.dumps(item).encode()))
            continue
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) \
                or not math.isfinite(value):
            bad.append(BadItem("invalid_value: value is not a number",
                               json.dumps(item).encode()))
            continue
        t_ns = utc_ns(stamp) - shift
        if t_ns % HALF_HOUR_NS:
            bad.append(BadItem("not_half_hour: timestamp is not on a half-hour boundary",
                               json.dumps(item).encode()))
            continue
        items.append((t_ns, float(value)))
    return page_from(items, unit, bad)


class N3rgy(ProviderClient):
    name = NAME

    def pages(self, point: MeterPoint, start: dt.datetime, end: dt.datetime) -> Iterator[Page]:
        key = self.credential(point.credential_ref or "n3rgy_api_key")
        url = f"{self.s.n3rgy_base_url}/{point.fuel}/consumption/1"
        shift = dt.timedelta(minutes=30) if self.s.n3rgy_timestamp_is_end else dt.timedelta(0)
        for w0, w1 in windows(start, end, self.s.n3rgy_max_days):
            a, b = w0 + shift, w1 + shift - dt.timedelta(minutes=30)
            params = {"start": a.strftime("%Y%m%d%H%M"), "end": b.strftime("%Y%m%d%H%M")}
            obj, raw = self.request("GET", url, params=params, headers={"Authorization": key})
            yield parse_consumption(obj, self.s.n3rgy_timestamp_is_end, raw)
