"""A local stand-in for the GOV.UK Notify API (documented at docs.notifications.service.gov.uk):
POST /v2/notifications/sms, GET /v2/notifications/{id}, GET /v2/received-text-messages, with
the JWT check Notify does (HS256, iss = service id, iat within 30 seconds, signed with the key's
secret) and Notify's error bodies."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

from hearth.stack import free_port

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"hearth_test-{SERVICE_ID}-{SECRET}"

ERRORS = {
    400: ("BadRequestError", "Can't send to this recipient using a team-only API key"),
    403: ("AuthError", "Invalid token: API key not found"),
    429: ("RateLimitError", "Exceeded rate limit for key type LIVE of 3000 requests per 60"
          " seconds"),
    500: ("Exception", "Internal server error"),
}


def error_body(code: int) -> dict:
    name, message = ERRORS[code]
    return {"status_code": code, "errors": [{"error": name, "message": message}]}


class FakeNotify:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_next: list[int] = []     # status codes to answer the next sends with
        self.statuses: dict[str, str] = {}  # notification id -> status
        self.received: list[dict] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeNotify:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _auth(self) -> dict | None:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Bearer "):
                    self._reply(401, {"status_code": 401, "errors": [
                        {"error": "AuthError", "message": "Unauthorized: authentication token"
                         " must be provided"}]})
                    return None
                try:
                    claims = jwt.decode(header[7:], SECRET, algorithms=["HS256"],
                                        options={"require": ["iss", "iat"]})
                except jwt.PyJWTError as exc:
                    self._reply(403, {"status_code": 403, "errors": [
                        {"error": "AuthError", "message": f"Invalid token: {exc}"}]})
                    return None
                if claims["iss"] != SERVICE_ID or abs(time.time() - claims["iat"]) > 30:
                    self._reply(403, error_body(403))
                    return None
                return claims

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                claims = self._auth()
                record = {"method": "POST", "path": self.path, "body": body,
                          "content_type": self.headers.get("Content-Type"), "claims": claims}
                fake.requests.append(record)
                if claims is None:
                    return
                if self.path != "/v2/notifications/sms":
                    self._reply(404, {"status_code": 404, "errors": [
                        {"error": "NotFound", "message": "Not found"}]})
                    return
                if fake.fail_next:
                    self._reply(code := fake.fail_next.pop(0), error_body(code))
                    return
                missing = [k for k in ("phone_number", "template_id") if k not in body]
                if missing:
                    self._reply(400, {"status_code": 400, "errors": [
                        {"error": "ValidationError", "message": f"{missing[0]} is a required"
                         " property"}]})
                    return
                nid = str(uuid.uuid4())
                fake.statuses[nid] = "created"
                self._reply(201, {
                    "id": nid, "reference": body.get("reference"),
                    "content": {"body": "rendered by Notify", "from_number": "HEARTH"},
                    "uri": f"{fake.url}/v2/notifications/{nid}",
                    "template": {"id": body["template_id"], "version": 1,
                                 "uri": f"{fake.url}/v2/template/{body['template_id']}"}})

            def do_GET(self):
                claims = self._auth()
                fake.requests.append({"method": "GET", "path": self.path, "claims": claims})
                if claims is None:
                    return
                if self.path.startswith("/v2/received-text-messages"):
                    self._reply(200, {"received_text_messages": fake.received,
                                      "links": {"current": f"{fake.url}{self.path}"}})
                    return
                nid = self.path.rsplit("/", 1)[-1]
                if nid not in fake.statuses:
                    self._reply(404, {"status_code": 404, "errors": [
                        {"error": "NoResultFound", "message": "No result found"}]})
                    return
                self._reply(200, {"id": nid, "type": "sms", "status": fake.statuses[nid]})

        return Handler
