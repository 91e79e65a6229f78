"""Broker credentials in the registry: one identity per home's hub (the in-home gateway that
publishes for the home's MQTT devices).

Passwords are random (192 bits), so the stored hash is Mosquitto's own "$7$" PBKDF2-SHA512 at
its default 101 iterations: stretching protects guessable passwords, and these are not. The
plaintext is kept for the installer and the simulator until `--forget`; it is never logged.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from hearth.registry.store import NotFoundError, Registry, utc_now_iso

HUB_PREFIX = "hub-"
MOSQUITTO_ITERATIONS = 101  # mosquitto_passwd's default (Mosquitto 2.0)


@dataclass(frozen=True)
class Credential:
    username: str
    household_id: str
    password: str | None  # None once forgotten: rotate to issue a new one
    password_hash: str


def hub_username(household_id: str) -> str:
    return HUB_PREFIX + household_id


def mosquitto_hash(password: str, salt: bytes | None = None,
                   iterations: int = MOSQUITTO_ITERATIONS) -> str:
    """A password-file hash Mosquitto 2.0 accepts: $7$<iterations>$<b64 salt>$<b64 sha512>."""
    salt = secrets.token_bytes(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return (f"$7${iterations}${base64.b64encode(salt).decode()}"
            f"${base64.b64encode(digest).decode()}")


def hash_matches(password: str, password_hash: str) -> bool:
    """Whether a "$7$" hash (as mosquitto_hash writes it) is of `password`."""
    try:
        _, seven, iterations, salt, _ = password_hash.split("$")
        salt_bytes = base64.b64decode(salt)
    except ValueError:
        return False
    if seven != "7" or not iterations.isdigit():
        return False
    expected = mosquitto_hash(password, salt_bytes, int(iterations))
    return secrets.compare_digest(expected, password_hash)


def new_password() -> str:
    return secrets.token_urlsafe(24)


def device_bindings(reg: Registry) -> list[tuple[str, str, str, str]]:
    """(household_id, device_id, profile, device_ref) of the real MQTT devices bound to homes."""
    return [tuple(r) for r in reg.query(
        "SELECT household_id, device_id, profile, device_ref FROM device_bindings"
        " ORDER BY household_id, device_id")]


def _households_with_mqtt(reg: Registry) -> set[str]:
    homes = {h for (h,) in reg.query(
        "SELECT DISTINCT household_id FROM devices WHERE protocol = 'mqtt'")}
    return homes | {b[0] for b in device_bindings(reg)}


def ensure_credentials(reg: Registry) -> tuple[int, int]:
    """Give every home with MQTT devices a hub identity; drop those of homes without any.
    Returns (created, removed)."""
    wanted = _households_with_mqtt(reg)
    have = {h for (h,) in reg.query("SELECT household_id FROM broker_credentials")}
    now = utc_now_iso()
    rows = []
    for household_id in sorted(wanted - have):
        password = new_password()
        rows.append((hub_username(household_id), household_id, mosquitto_hash(password),
                     password, now))
    gone = sorted(have - wanted)
    _private(reg.path)
    with reg.transaction() as conn:
        conn.executemany("INSERT INTO broker_credentials (username, household_id, password_hash,"
                         " password, created_at) VALUES (?, ?, ?, ?, ?)", rows)
        conn.executemany("DELETE FROM broker_credentials WHERE household_id = ?",
                         [(h,) for h in gone])
    return len(rows), len(gone)


def _private(path) -> None:
    """The registry now holds device passwords (and already holds tenants' details): owner only."""
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(path) + suffix)
        if p.exists():
            os.chmod(p, 0o600)


def hub_credentials(reg: Registry) -> dict[str, Credential]:
    """household_id -> its hub's credential."""
    return {r[1]: Credential(r[0], r[1], r[3], r[2]) for r in reg.query(
        "SELECT username, household_id, password_hash, password FROM broker_credentials"
        " ORDER BY username")}


def device_credential(reg: Registry, device_id: str, rotate: bool = False,
                      forget: bool = False, actor: str = "cli") -> Credential:
    """The credential a device's hub connects with; `rotate` issues a new password (the old
    one stops working at the broker's next reload), `forget` drops the stored plaintext."""
    bound = {b[1]: b[0] for b in device_bindings(reg)}
    if device_id in bound:  # a real device bound to a home (docs/devices.md)
        household_id = bound[device_id]
    else:
        device = reg.device(device_id)
        if device.protocol != "mqtt":
            raise NotFoundError(f"device {device_id!r} is a {device.protocol} device: only MQTT"
                                " devices have broker credentials")
        household_id = device.household_id
    ensure_credentials(reg)
    username = hub_username(household_id)
    if rotate:
        password = new_password()
        with reg.transaction() as conn:
            conn.execute("UPDATE broker_credentials SET password_hash = ?, password = ?,"
                         " rotated_at = ? WHERE username = ?",
                         (mosquitto_hash(password), password, utc_now_iso(), username))
            reg.audit(actor, "broker_credential_rotated", username)
    credential = hub_credentials(reg)[household_id]
    reg.audit(actor, "broker_credential_shown", username, {"device": device_id})
    if forget:  # the caller shows `credential` (a new password, with rotate) one last time
        with reg.transaction() as conn:
            conn.execute("UPDATE broker_credentials SET password = NULL WHERE username = ?",
                         (username,))
            reg.audit(actor, "broker_credential_forgotten", username)
    return credential
