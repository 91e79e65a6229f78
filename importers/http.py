"""HTTP for the providers' APIs: JSON answers, retries with backoff for 429, 5xx and no answer
(honouring Retry-After), and errors a council can act on. Messages never hold a URL (it may
carry an MPAN) or a credential."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from hearth.errors import HearthError

# What each error code asks of the council.
ACTIONS = {
    "auth": "check the provider's credential, and that the tenant's consent at the provider"
            " is still in place",
    "not_found": "check the meter point (MPAN/MPRN, serial, resource id) registered for the"
                 " household",
    "rate_limited": "the provider is limiting requests; the next run fetches it again",
    "server": "the provider's service failed; the next run fetches it again",
    "network": "the provider did not answer; the next run fetches it again",
    "malformed": "the answer is kept as a dead letter for the provider to be asked about",
    "bad_request": "the provider refused the request as sent",
}


_DIGITS = re.compile(r"\d{6,}")


class RedactMeterNumbers(logging.Filter):
    """urllib3 logs each request's path at DEBUG (`hearth -v`), and the providers' paths carry
    MPANs/MPRNs: replace every run of 6 or more digits before the record is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        redacted = _DIGITS.sub("[number]", text)
        if redacted != text:
            record.msg, record.args = redacted, None
        return True


def redact_request_logs() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, RedactMeterNumbers) for f in logger.filters):
        logger.addFilter(RedactMeterNumbers())


class ProviderError(HearthError):
    """A request a provider could not answer with data. `code` is one of ACTIONS."""

    def __init__(self, provider: str, code: str, detail: str, status: int | None = None,
                 raw: bytes = b""):
        self.provider, self.code, self.detail, self.status, self.raw = (
            provider, code, detail, status, raw)
        super().__init__(f"{code}: {detail} ({ACTIONS.get(code, '')})")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    backoff_initial_s: float = 2.0
    backoff_max_s: float = 120.0
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, s) -> RetryPolicy:
        return cls(s.max_retries, s.backoff_initial_s, s.backoff_max_s, s.timeout_s)


def retry_after_s(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for: delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def request_json(session: requests.Session, method: str, url: str, *, provider: str,
                 policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep,
                 **kwargs) -> tuple[object, bytes]:
    """The decoded JSON body of a 2xx answer, and its raw bytes."""
    attempt = 0
    while True:
        wait: float | None
        try:
            resp = session.request(method, url, timeout=policy.timeout_s, **kwargs)
        except requests.RequestException as exc:
            error = ProviderError(provider, "network", f"{provider} did not answer"
                                  f" ({type(exc).__name__})")
            wait = None
        else:
            status = resp.status_code
            if 200 <= status < 300:
                try:
                    return json.loads(resp.content), resp.content
                except (ValueError, UnicodeDecodeError):
                    raise ProviderError(provider, "malformed", f"{provider} answered HTTP"
                                        f" {status} with a body that is not JSON", status,
                                        resp.content) from None
            if status in (401, 403):
                raise ProviderError(provider, "auth", f"{provider} refused access (HTTP"
                                    f" {status})", status)
            if status == 404:
                raise ProviderError(provider, "not_found", f"{provider} does not know this"
                                    " meter (HTTP 404)", status)
            if status != 429 and status < 500:
                raise ProviderError(provider, "bad_request", f"{provider} answered HTTP"
                                    f" {status}", status)
            code = "rate_limited" if status == 429 else "server"
            wait = retry_after_s(resp.headers.get("Retry-After"))
            error = ProviderError(provider, code, f"{provider} answered HTTP {status}"
                                  f" {attempt + 1} time(s)", status)
            if wait is not None and wait > policy.backoff_max_s:
                raise ProviderError(provider, code, f"{provider} answered HTTP {status} and"
                                    f" asks to wait {wait:.0f} s, longer than backoff_max_s",
                                    status)
        if attempt >= policy.max_retries:
            raise error
        if wait is None:
            wait = min(policy.backoff_initial_s * 2 ** attempt, policy.backoff_max_s)
        sleep(wait)
        attempt += 1


class ProviderClient:
    """What every provider's client holds: its settings, the HTTP session, the credential
    lookup and the retry policy; `request` sends one request with them (``sleep`` replaces
    time.sleep between retries, for tests)."""

    name = ""

    def __init__(self, settings, session: requests.Session, credential: Callable[[str], str],
                 sleep=None):
        self.s, self.session, self.credential = settings, session, credential
        self.policy = RetryPolicy.from_settings(settings)
        self.sleep = sleep

    def request(self, method: str, url: str, **kwargs) -> tuple[object, bytes]:
        if self.sleep:
            kwargs["sleep"] = self.sleep
        return request_json(self.session, method, url, provider=self.name, policy=self.policy,
                            **kwargs)
