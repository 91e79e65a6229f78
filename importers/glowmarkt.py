"""Glowmarkt (Hildebrand, the Bright app) API: half-hourly readings of a resource.

Documented shape (Glowmarkt API, https://api.glowmarkt.com/api-docs/v0-1/resourcesys/ ;
https://docs.glowmarkt.com/GlowmarktAPIDataRetrievalDocumentationIndividualUserForBright.pdf):
`POST /auth` with {"username", "password"} and the `applicationId` header returns
{"valid": true, "token": ...}; `GET /resource/{id}/readings?from=YYYY-MM-DDTHH:MM:SS&to=...
&period=PT30M&offset=0&function=sum` with headers `token` and `applicationId` returns
{"status": "OK", "units": "kWh", "data": [[unix_s, value|null], ...]} where each timestamp is
the start of its half hour. At most 10 days per PT30M request.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterator

import requests

from importers.http import ProviderClient, ProviderError
from importers.providers import (
    HALF_HOUR_S,
    BadItem,
    MeterPoint,
    Page,
    normalise_unit,
    page_from,
    windows,
)

NAME = "glowmarkt"


def parse_readings(obj: object, raw: bytes = b"") -> Page:
    """A readings answer as a Page; null values are missing half hours (left out)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
        raise ProviderError(NAME, "malformed", "readings answer has no `data` list", raw=raw)
    unit = normalise_unit(obj.get("units", "kWh"))
    if unit is None:
        raise ProviderError(NAME, "malformed", f"unknown units {obj.get('units')!r}", raw=raw)
    items, bad = [], []
    for item in obj["data"]:
        ok = (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)
              and not isinstance(item[0], bool))
        if ok and item[1] is None:
            continue
        if ok and isinstance(item[1], int | float) and not isinstance(item[1], bool) \
                and math.isfinite(item[1]):
            if item[0] % HALF_HOUR_S:
                bad.append(BadItem("not_half_hour: timestamp is not on a half-hour boundary",
                                   json.dumps(item).encode()))
                continue
            items.append((item[0] * 10**9, float(item[1])))
        else:
            bad.append(BadItem("invalid_item: expected [unix_seconds, number|null]",
                               json.dumps(item).encode()))
    return page_from(items, unit, bad)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


class Glowmarkt(ProviderClient):
    name = NAME

    def __init__(self, settings, session: requests.Session, credential: Callable[[str], str],
                 sleep=None):
        super().__init__(settings, session, credential, sleep)
        self._tokens: dict[str, str] = {}
        self._failed: dict[str, ProviderError] = {}

    def _token(self, ref: str | None) -> str:
        prefix = ref or "glowmarkt"
        if prefix in self._failed:          # one refused login per account and run, not one
            raise self._failed[prefix]      # per household
        if prefix not in self._tokens:
            try:
                body = {"username": self.credential(f"{prefix}_username"),
                        "password": self.credential(f"{prefix}_password")}
                obj, _raw = self.request("POST", f"{self.s.glowmarkt_base_url}/auth", json=body,
                                         headers={"applicationId": self.s.glowmarkt_application_id})
                if not isinstance(obj, dict) or not obj.get("valid") or not obj.get("token"):
                    raise ProviderError(NAME, "auth", "glowmarkt /auth did not give a valid"
                                        " token")
            except ProviderError as exc:
                if exc.code == "auth":
                    self._failed[prefix] = exc
                raise
            self._tokens[prefix] = str(obj["token"])
        return self._tokens[prefix]

    def pages(self, point: MeterPoint, start: dt.datetime, end: dt.datetime) -> Iterator[Page]:
        headers = {"applicationId": self.s.glowmarkt_application_id,
                   "token": self._token(point.credential_ref)}
        url = f"{self.s.glowmarkt_base_url}/resource/{point.resource_id}/readings"
        for w0, w1 in windows(start, end, self.s.glowmarkt_max_days):
            params = {"from": _iso(w0), "to": _iso(w1 - dt.timedelta(seconds=1)),
                      "period": "PT30M", "offset": 0, "function": "sum"}
            obj, raw = self.request("GET", url, params=params, headers=headers)
            yield parse_readings(obj, raw)
