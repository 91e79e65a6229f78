"""Local stand-ins for the providers' APIs (pytest-httpserver), answering in each provider's
documented response shape from a table of half hours, with paging, gaps (absent or null half
hours), late arrivals (add a half hour between runs) and injected failures (429, 500, 401 ...).

Shapes, as documented:
- Octopus: https://developer.octopus.energy/rest/reference/ "List consumption for a meter" and
  https://developer.octopus.energy/docs/api/#list-consumption-for-a-meter -- {"count", "next",
  "previous", "results": [{"consumption", "interval_start", "interval_end"}]}; times in UK local
  time with their offset (+01:00 in summer); API key as the basic-auth user name.
- Glowmarkt: https://api.glowmarkt.com/api-docs/v0-1/resourcesys/ (and pyglowmarkt, the
  cybermaggedon/pyglowmarkt client) -- POST /auth -> {"valid": true, "token", "exp"}; GET
  /resource/{id}/readings -> {"status": "OK", "units": "kWh", "data": [[unix_s, value|null]]},
  timestamps the start of each half hour, `token` and `applicationId` headers.
- n3rgy: https://data.n3rgy.com/consumer/api-documentation (and the n3rgy/data repository) --
  GET /{fuel}/consumption/1?start=YYYYMMDDHHmm&end=YYYYMMDDHHmm with the key in Authorization
  -> {"resource", "responseTimestamp", "start", "end", "granularity": "halfhour", "values":
  [{"timestamp": "YYYY-MM-DD HH:MM", "value"}], "availableCacheRange", "unit"}; HTTP 206 when
  only part of the range is held; each half hour labelled by its end.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from werkzeug import Request, Response

UK = ZoneInfo("Europe/London")


class Stub:
    """Half hours per meter key {start unix s: value or None}; failures served first."""

    def __init__(self, httpserver):
        self.server = httpserver
        self.data: dict[str, dict[int, float | None]] = {}
        self.failures: dict[str, list[tuple[int, dict, bytes]]] = {}
        self.requests: list[Request] = []

    def fail(self, key: str, status: int, headers: dict | None = None, body: bytes = b"{}",
             times: int = 1) -> None:
        self.failures.setdefault(key, []).extend([(status, headers or {}, body)] * times)

    def _failure(self, key: str) -> Response | None:
        queue = self.failures.get(key)
        if queue:
            status, headers, body = queue.pop(0)
            return Response(body, status=status, headers=headers, content_type="application/json")
        return None

    def _rows(self, key: str, t0: int, t1: int) -> list[tuple[int, float | None]]:
        return sorted((t, v) for t, v in self.data.get(key, {}).items() if t0 <= t < t1)


class OctopusStub(Stub):
    PATH = re.compile(r"^/v1/(electricity|gas)-meter-points/(\d+)/meters/([^/]+)/consumption/$")

    def __init__(self, httpserver, api_key: str):
        super().__init__(httpserver)
        self.api_key = api_key
        httpserver.expect_request(self.PATH).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        m = self.PATH.match(request.path)
        key = f"{m.group(2)}/{m.group(3)}"
        want = "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode()
        if request.headers.get("Authorization") != want:
            return Response(json.dumps({"detail": "Authentication credentials were not"
                                        " provided."}), status=401, content_type="application/json")
        failure = self._failure(key)
        if failure is not None:
            return failure
        if key not in self.data:
            return Response(json.dumps({"detail": "Not found."}), status=404,
                            content_type="application/json")
        q = request.args
        t0 = int(dt.datetime.fromisoformat(q["period_from"].replace("Z", "+00:00")).timestamp())
        t1 = int(dt.datetime.fromisoformat(q["period_to"].replace("Z", "+00:00")).timestamp())
        size, page = int(q.get("page_size", 100)), int(q.get("page", 1))
        rows = [(t, v) for t, v in self._rows(key, t0, t1) if v is not None]  # gaps: absent
        chunk = rows[(page - 1) * size: page * size]
        more = page * size < len(rows)
        nxt = None
        if more:
            args = {k: q[k] for k in q}
            args["page"] = page + 1
            nxt = self.server.url_for(request.path) + "?" + urlencode(args)
        results = [{"consumption": v,
                    "interval_start": dt.datetime.fromtimestamp(t, UK).isoformat(),
                    "interval_end": dt.datetime.fromtimestamp(t + 1800, UK).isoformat()}
                   for t, v in chunk]
        return Response(json.dumps({"count": len(rows), "next": nxt, "previous": None,
                                    "results": results}), content_type="application/json")


class GlowmarktStub(Stub):
    PATH = re.compile(r"^/resource/([^/]+)/readings$")

    def __init__(self, httpserver, username: str, password: str, app_id: str):
        super().__init__(httpserver)
        self.username, self.password, self.app_id = username, password, app_id
        self.token = "tok-" + username
        httpserver.expect_request("/auth", method="POST").respond_with_handler(self.auth)
        httpserver.expect_request(self.PATH).respond_with_handler(self.handle)

    def auth(self, request: Request) -> Response:
        self.requests.append(request)
        body = request.get_json(silent=True) or {}
        if request.headers.get("applicationId") != self.app_id or \
                body.get("username") != self.username or body.get("password") != self.password:
            return Response(json.dumps({"valid": False, "error": "incorrect credentials"}),
                            status=401, content_type="application/json")
        return Response(json.dumps({"valid": True, "token": self.token, "exp": 1_999_999_999,
                                    "accountId": "acc-1"}), content_type="application/json")

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        rid = self.PATH.match(request.path).group(1)
        if request.headers.get("token") != self.token:
            return Response(json.dumps({"error": "invalid token"}), status=401,
                            content_type="application/json")
        failure = self._failure(rid)
        if failure is not None:
            return failure
        if rid not in self.data:
            return Response(json.dumps({"error": "resource not found"}), status=404,
                            content_type="application/json")
        q = request.args
        assert q["period"] == "PT30M" and q["function"] == "sum"
        t0 = int(dt.datetime.fromisoformat(q["from"]).replace(tzinfo=dt.UTC).timestamp())
        t1 = int(dt.datetime.fromisoformat(q["to"]).replace(tzinfo=dt.UTC).timestamp())
        if t1 - t0 > 10 * 86400:
            return Response(json.dumps({"error": "PT30M: at most 10 days"}), status=400,
                            content_type="application/json")
        # Every half hour of the range, null where the meter has none (as Bright answers).
        first = t0 - t0 % 1800
        rows = self.data[rid]
        data = [[t, rows.get(t)] for t in range(first, t1 + 1, 1800)]
        return Response(json.dumps({"status": "OK", "name": "electricity consumption",
                                    "resourceTypeId": "ea02304a", "resourceId": rid,
                                    "query": dict(q), "data": data, "units": "kWh",
                                    "classifier": "electricity.consumption"}),
                        content_type="application/json")


class N3rgyStub(Stub):
    PATH = re.compile(r"^/(electricity|gas)/consumption/1$")

    def __init__(self, httpserver, key: str, unit_gas: str = "m3"):
        super().__init__(httpserver)
        self.key, self.unit_gas = key, unit_gas
        httpserver.expect_request(self.PATH).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        fuel = self.PATH.match(request.path).group(1)
        if request.headers.get("Authorization") != self.key:
            return Response(json.dumps({"errors": [{"code": 401, "message": "Unauthorized"}]}),
                            status=401, content_type="application/json")
        failure = self._failure(fuel)
        if failure is not None:
            return failure
        q = request.args

        def parse(text):
            return int(dt.datetime.strptime(text, "%Y%m%d%H%M").replace(tzinfo=dt.UTC).timestamp())

        e0, e1 = parse(q["start"]), parse(q["end"])          # end labels, inclusive
        rows = self._rows(fuel, e0 - 1800, e1 - 1800 + 1)
        values = [{"timestamp": dt.datetime.fromtimestamp(t + 1800, dt.UTC).strftime(
            "%Y-%m-%d %H:%M"), "value": v} for t, v in rows if v is not None]
        held = sorted(self.data.get(fuel, {}))
        partial = not held or held[0] > e0 - 1800 or held[-1] < e1 - 1800
        body = {"resource": f"/{fuel}/consumption/1", "responseTimestamp":
                "2026-01-08T09:00:00.000Z", "start": q["start"], "end": q["end"],
                "granularity": "halfhour", "values": values,
                "availableCacheRange": {"start": "202512010000", "end": "202601080000"},
                "unit": "kWh" if fuel == "electricity" else self.unit_gas}
        return Response(json.dumps(body), status=206 if partial else 200,
                        content_type="application/json")
