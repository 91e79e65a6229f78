"""GOV.UK Notify's API as documented, served by pytest-httpserver for
notifications-python-client to talk to (its base_url pointed here).

Shapes from https://docs.notifications.service.gov.uk/rest-api.html:
- POST /v2/notifications/sms -> 201 {"id", "reference", "content": {"body", "from_number"},
  "uri", "template": {"id", "version", "uri"}} ("Send a text message", response);
- GET /v2/notifications/{id} -> {"id", "type": "sms", "phone_number", "status", ...}; text
  statuses created, sending, pending, sent, delivered, permanent-failure, temporary-failure,
  technical-failure ("Get message status");
- GET /v2/received-text-messages[?older_than=<id>] -> {"received_text_messages": [{"id",
  "user_number" (e.g. "447700900111"), "notify_number", "content", "created_at",
  "service_id"}], "links": {"current", "next"}}, newest first, up to 250 a page, the last 7
  days ("Get received text messages"). This stub pages by `page_size` to exercise `older_than`.
Every request must carry the JWT Notify checks: HS256, iss = service id, signed with the key.
"""

from __future__ import annotations

import json
import re
import uuid

import jwt
from werkzeug import Request, Response

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"hearth_test-{SERVICE_ID}-{SECRET}"
NOTIFY_NUMBER = "07700900000"


class NotifyStub:
    def __init__(self, httpserver, page_size: int = 2) -> None:
        self.server = httpserver
        self.page_size = page_size
        self.received: list[dict] = []          # newest first, as Notify lists them
        self.statuses: dict[str, str] = {}       # notification id -> status
        self.sent: list[dict] = []               # POSTed text messages (with the number)
        self.numbers: dict[str, str] = {}        # notification id -> phone number
        self.received_calls: list[str | None] = []  # older_than of each list request
        httpserver.expect_request("/v2/received-text-messages", method="GET"
                                  ).respond_with_handler(self._received)
        httpserver.expect_request("/v2/notifications/sms", method="POST"
                                  ).respond_with_handler(self._send)
        httpserver.expect_request(re.compile(r"^/v2/notifications/[0-9a-f-]{36}$"),
                                  method="GET").respond_with_handler(self._status)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def reply(self, user_number: str, content: str, created_at: str) -> str:
        """A tenant texts the service's number; returns the received text's id."""
        rid = str(uuid.uuid4())
        self.received.insert(0, {"id": rid, "user_number": user_number,
                                 "notify_number": NOTIFY_NUMBER, "content": content,
                                 "created_at": created_at, "service_id": SERVICE_ID})
        self.received.sort(key=lambda r: r["created_at"], reverse=True)
        return rid

    # ------------------------------------------------------------------ handlers
    def _auth(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        try:
            claims = jwt.decode(header.removeprefix("Bearer "), SECRET, algorithms=["HS256"],
                                options={"require": ["iss", "iat"]})
        except jwt.PyJWTError as exc:
            return self._error(403, "AuthError", f"Invalid token: {exc}")
        if claims["iss"] != SERVICE_ID:
            return self._error(403, "AuthError", "Invalid token: service not found")
        return None

    @staticmethod
    def _error(code: int, name: str, message: str) -> Response:
        return Response(json.dumps({"status_code": code, "errors": [{"error": name,
                                                                     "message": message}]}),
                        status=code, content_type="application/json")

    def _received(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        older_than = request.args.get("older_than")
        self.received_calls.append(older_than)
        texts = self.received
        if older_than:
            ids = [t["id"] for t in texts]
            texts = texts[ids.index(older_than) + 1:] if older_than in ids else []
        page = texts[:self.page_size]
        base = f"{self.url}/v2/received-text-messages"
        links = {"current": base + (f"?older_than={older_than}" if older_than else "")}
        if len(texts) > self.page_size:
            links["next"] = f"{base}?older_than={page[-1]['id']}"
        return Response(json.dumps({"received_text_messages": page, "links": links}),
                        content_type="application/json")

    def _send(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        body = request.get_json()
        for key in ("phone_number", "template_id"):
            if not body.get(key):
                return self._error(400, "ValidationError", f"{key} is a required property")
        nid = str(uuid.uuid4())
        self.sent.append(body)
        self.numbers[nid] = body["phone_number"]
        self.statuses[nid] = "created"
        return Response(json.dumps({
            "id": nid, "reference": body.get("reference"),
            "content": {"body": "(rendered by Notify)", "from_number": "Hearth"},
            "uri": f"{self.url}/v2/notifications/{nid}",
            "template": {"id": body["template_id"], "version": 1,
                         "uri": f"{self.url}/v2/template/{body['template_id']}"}}),
            status=201, content_type="application/json")

    def _status(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        nid = request.path.rsplit("/", 1)[-1]
        if nid not in self.statuses:
            return self._error(404, "NoResultFound", "No result found")
        return Response(json.dumps({"id": nid, "type": "sms", "status": self.statuses[nid],
                                    "phone_number": self.numbers.get(nid),
                                    "created_at": "2026-12-14T12:00:00.000000Z"}),
                        content_type="application/json")
