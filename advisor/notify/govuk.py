"""GOV.UK Notify sender (notifications-python-client).

The API key comes from the environment (HEARTH_NOTIFY_API_KEY), never from config; template ids
come from config ([notifier.template_ids]). Errors, as the Notify API documents them:
400 BadRequestError (bad number, team-only key, missing personalisation): the tip cannot be
sent as it is: permanent failure. 403 AuthError (bad key or token): nothing can be sent until
the key is fixed: stop the run. 429 RateLimitError / TooManyRequestsError and 500 Exception (or
the network): try again later.
"""

from __future__ import annotations

import logging
import os

from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient

from advisor.notify.base import SendError, SendResult, Tip
from hearth.errors import ConfigError

log = logging.getLogger(__name__)
API_KEY_ENV = "HEARTH_NOTIFY_API_KEY"

# Notify's statuses for a text message, to sms_log's (docs.notifications.service.gov.uk,
# "Get message status", text message statuses): created, sending, pending, sent, delivered,
# permanent-failure, temporary-failure, technical-failure. "sent" is an international number
# with no receipt: it is not "delivered".
STATUS_MAP = {"created": "sending", "sending": "sending", "pending": "sending",
              "sent": "sent", "delivered": "delivered",
              "permanent-failure": "permanent-failure", "temporary-failure": "temporary-failure",
              "technical-failure": "technical-failure"}


def _error_text(exc: HTTPError) -> str:
    msg = exc.message
    if isinstance(msg, list):
        return "; ".join(f"{e.get('error', '')}: {e.get('message', '')}" for e in msg)
    return str(msg)


class NotifySender:
    name = "notify"

    def __init__(self, api_key: str, base_url: str, template_ids: dict[str, str],
                 timeout_s: float = 10.0) -> None:
        if not api_key:
            raise ConfigError(f"GOV.UK Notify needs an API key: set {API_KEY_ENV} (or use"
                              " notifier.sender = \"outbox\")")
        try:
            self.client = NotificationsAPIClient(api_key, base_url=base_url, timeout=timeout_s)
        except AssertionError as exc:
            raise ConfigError(f"{API_KEY_ENV} is not a GOV.UK Notify API key") from exc
        self.template_ids = dict(template_ids)

    @classmethod
    def from_settings(cls, settings, environ: dict[str, str] | None = None) -> NotifySender:
        env = os.environ if environ is None else environ
        n = settings.notifier
        return cls(env.get(API_KEY_ENV, ""), n.notify_base_url, n.template_ids, n.notify_timeout_s)

    def template_id(self, kind: str) -> str:
        tid = self.template_ids.get(kind)
        if not tid:
            raise ConfigError(f"no GOV.UK Notify template id for tip '{kind}': add it under"
                              " [notifier.template_ids] in config/hearth.toml")
        return tid

    def send(self, tip: Tip) -> SendResult:
        try:
            response = self.client.send_sms_notification(
                phone_number=tip.phone_number, template_id=tip.template_id or
                self.template_id(tip.kind), personalisation=tip.personalisation,
                reference=tip.reference)
        except HTTPError as exc:
            raise self._classify(exc, tip) from None
        return SendResult(response["id"], "sending")

    def status(self, provider_id: str) -> str:
        return self.receipt(provider_id)[0]

    def receipt(self, provider_id: str) -> tuple[str, str | None]:
        """(sms_log status, the number it went to) from GET /v2/notifications/{id}. The number
        is for matching a failure to the tenant, in memory; it is never logged."""
        try:
            response = self.client.get_notification_by_id(provider_id)
        except HTTPError as exc:
            raise self._classify(exc, None) from None
        return (STATUS_MAP.get(response.get("status", ""), "sending"),
                response.get("phone_number"))

    def received_texts(self, until_id: str | None = None, max_pages: int = 1000) -> list[dict]:
        """Replies from tenants, newest first, down to (not including) ``until_id``:
        [{'id', 'user_number', 'notify_number', 'content', 'created_at', 'service_id'}]
        (GET /v2/received-text-messages, 250 a page, ``older_than`` the last id of a page)."""
        out: list[dict] = []
        older_than = None
        try:
            # Page by hand: the client's iterator fails on a last page without a "next" link.
            for _ in range(max_pages):
                page = self.client.get_received_texts(older_than=older_than)
                texts = page.get("received_text_messages") or []
                for text in texts:
                    if until_id is not None and text.get("id") == until_id:
                        return out
                    out.append(text)
                if not texts or not (page.get("links") or {}).get("next"):
                    break
                older_than = texts[-1]["id"]
        except HTTPError as exc:
            raise self._classify(exc, None) from None
        return out

    @staticmethod
    def _classify(exc: HTTPError, tip: Tip | None) -> SendError:
        code = exc.status_code
        text = _error_text(exc)
        where = f" for {tip.household_id}" if tip else ""
        log.warning("GOV.UK Notify answered %s%s: %s", code, where, text)
        if code == 403:
            return SendError(f"GOV.UK Notify refused the API key (403 {text}): check"
                             f" {API_KEY_ENV}", "technical-failure", fatal=True)
        if code == 400:
            return SendError(f"400 {text}", "permanent-failure")
        if code == 429 or code >= 500:
            return SendError(f"{code} {text}", "temporary-failure", retry=True)
        return SendError(f"{code} {text}", "technical-failure")
