"""Sign-in to the tenant portal by a one-time code texted to the mobile number in the registry.

Codes are 6 digits, single use, expire after `code_ttl_min`, and are stored only as an argon2
hash. A code becomes void after `code_max_tries` wrong tries. Requests and wrong tries are
counted per number (by an HMAC of it, so unknown numbers are never stored) and per network
address. The answer to a request is the same whether the number is known or not; the code text
is a service message, sent whatever the tip consent or quiet hours, and neither the number nor
the code is ever logged or audited.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hearth.registry import Registry
from hearth.secrets import read_or_create_secret

log = logging.getLogger("hearth.tenants")
# Codes live minutes and are tried at most a few times: light argon2 parameters suffice.
_HASHER = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)
REQUEST_ANSWER = ("If that number is on our records you will get a text with a 6-digit code "
                  "in the next few minutes.")


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise_mobile(text: str) -> str | None:
    """A UK mobile as typed (07700 900123, +44 7700 900123, 447700900123) in E.164, or None."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits.startswith("44") and (text.strip().startswith("+") or len(digits) == 12):
        digits = digits[2:]
    if digits.startswith("0"):
        digits = digits[1:]
    if len(digits) == 10 and digits.startswith("7"):
        return "+44" + digits
    return None


def number_key(settings, mobile_e164: str) -> str:
    """HMAC of the number: counts attempts per number without keeping the number."""
    secret = read_or_create_secret(settings.paths.var_dir, "tenants_number_key")
    return hmac.new(secret.encode(), mobile_e164.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class RequestResult:
    message: str            # what the page shows: never says whether the number is known
    refused: bool = False   # rate limit hit (said plainly: it does not reveal the number)


@dataclass(frozen=True)
class SignedIn:
    tenant_id: str
    household_id: str


def _count(conn, where: str, args: tuple, since: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM tenant_signin_attempts WHERE {where} AND"
                            " at >= ?", (*args, since)).fetchone()[0])


def _limited(conn, s, key: str, address: str, since: str) -> bool:
    per_number = _count(conn, "number_key = ? AND kind = 'request'", (key,), since)
    per_address = _count(conn, "address = ? AND kind IN ('request', 'verify_failed')",
                         (address,), since)
    return per_number >= s.codes_per_number_per_hour or (
        bool(address) and per_address >= s.attempts_per_address_per_hour)


def request_code(settings, typed_number: str, address: str, sender=None,
                 now: datetime | None = None) -> RequestResult:
    """Send a code to the number if it is a current tenant's; the same answer either way."""
    s = settings.tenants
    now = now or datetime.now(UTC)
    mobile = normalise_mobile(typed_number)
    if mobile is None:
        return RequestResult("Enter a UK mobile number, like 07700 900123.", refused=True)
    key = number_key(settings, mobile)
    since = _iso(now - timedelta(hours=1))
    with Registry(settings.registry.target) as reg:
        conn = reg.conn
        if _limited(conn, s, key, address, since):
            reg.audit("tenant-portal", "tenant.signin_rate_limited", "",
                      {"address": address, "step": "request"})
            return RequestResult("Too many codes have been asked for. Wait an hour and try "
                                 "again, or call your housing officer.", refused=True)
        with reg.transaction():
            conn.execute("INSERT INTO tenant_signin_attempts (at, kind, number_key, address)"
                         " VALUES (?, 'request', ?, ?)", (_iso(now), key, address))
        row = conn.execute("SELECT t.tenant_id, t.household_id FROM tenants t JOIN households h"
                           " USING (household_id) WHERE t.mobile = ? AND h.tenancy_end IS NULL"
                           " ORDER BY t.tenant_id LIMIT 1", (mobile,)).fetchone()
        if row is None:
            reg.audit("tenant-portal", "tenant.signin_code_requested", "",
                      {"address": address, "known": False})
            return RequestResult(REQUEST_ANSWER)
        code = f"{secrets.randbelow(10**6):06d}"
        with reg.transaction():
            # A new code voids the earlier ones of the same number.
            conn.execute("UPDATE tenant_signin_codes SET used_at = ? WHERE number_key = ? AND"
                         " used_at IS NULL", (_iso(now), key))
            conn.execute("INSERT INTO tenant_signin_codes (number_key, tenant_id, household_id,"
                         " code_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                         (key, row[0], row[1], _HASHER.hash(code), _iso(now),
                          _iso(now + timedelta(minutes=s.code_ttl_min))))
            reg.audit("tenant-portal", "tenant.signin_code_requested", row[0],
                      {"address": address, "household_id": row[1], "known": True})
    _send(settings, sender, row[1], mobile, code)
    return RequestResult(REQUEST_ANSWER)


def _send(settings, sender, household_id: str, mobile: str, code: str) -> None:
    from advisor.notify import Tip, make_sender

    minutes = settings.tenants.code_ttl_min
    service = settings.notifier.service_name
    body = (f"{code} is your {service} sign-in code. It expires in {minutes} minutes. "
            "If you did not ask for it, ignore this text.")
    tip = Tip(household_id=household_id, case_id=None, kind="sign_in_code",
              template_id=settings.tenants.code_template_id or None,
              personalisation={"code": code, "service_name": service, "minutes": str(minutes)},
              body=body, reference=f"signin-{secrets.token_hex(4)}", phone_number=mobile)
    sender = sender or make_sender(settings)
    try:
        sender.send(tip)
    except Exception as exc:  # the page must not tell whether the number was known
        log.warning("sign-in code for %s not sent: %s", household_id, type(exc).__name__)


def verify_code(settings, typed_number: str, typed_code: str, address: str,
                now: datetime | None = None) -> SignedIn | None:
    """The tenant the code was sent to, or None (wrong, expired, used, void or rate-limited).
    Every outcome is counted and audited (never the number or the code)."""
    s = settings.tenants
    now = now or datetime.now(UTC)
    mobile = normalise_mobile(typed_number)
    code = "".join(ch for ch in typed_code if ch.isdigit())
    key = number_key(settings, mobile) if mobile else "invalid"
    since = _iso(now - timedelta(hours=1))
    with Registry(settings.registry.target) as reg:
        conn = reg.conn
        conn.row_factory = sqlite3.Row
        if address and _count(conn, "address = ? AND kind IN ('request', 'verify_failed')",
                              (address,), since) >= s.attempts_per_address_per_hour:
            reg.audit("tenant-portal", "tenant.signin_rate_limited", "",
                      {"address": address, "step": "verify"})
            return None
        row = None
        if mobile and len(code) == 6:
            row = conn.execute("SELECT * FROM tenant_signin_codes WHERE number_key = ? AND"
                               " used_at IS NULL ORDER BY code_id DESC LIMIT 1",
                               (key,)).fetchone()
        ok = False
        why = "no_live_code"
        if row is not None:
            code_id, tenant_id, household_id = row["code_id"], row["tenant_id"], row["household_id"]
            if row["expires_at"] < _iso(now):
                why = "expired"
            elif row["attempts"] >= s.code_max_tries:
                why = "too_many_tries"
            else:
                try:
                    ok = _HASHER.verify(row["code_hash"], code)
                except (VerificationError, InvalidHashError):
                    why = "wrong_code"
        with reg.transaction():
            conn.execute("INSERT INTO tenant_signin_attempts (at, kind, number_key, address)"
                         " VALUES (?, ?, ?, ?)",
                         (_iso(now), "verify_ok" if ok else "verify_failed", key, address))
            if row is not None and ok:
                conn.execute("UPDATE tenant_signin_codes SET used_at = ? WHERE code_id = ?",
                             (_iso(now), code_id))
                reg.audit(tenant_id, "tenant.signed_in", household_id,
                          {"address": address, "method": "sms_code"})
                return SignedIn(tenant_id, household_id)
            if row is not None:
                tries = row["attempts"] + 1
                conn.execute("UPDATE tenant_signin_codes SET attempts = ?, used_at = CASE WHEN"
                             " ? >= ? THEN ? ELSE used_at END WHERE code_id = ?",
                             (tries, tries, s.code_max_tries, _iso(now), code_id))
            reg.audit("tenant-portal", "tenant.signin_failed",
                      row["household_id"] if row is not None else "",
                      {"address": address, "reason": why})
    return None
