"""Dashboard accounts: officers, managers and admins, with argon2id password hashes.

Accounts live in the registry (tables `users` and `user_patches`, migration 0003). Officers see
the homes of their own patches only; managers and admins see every patch. A password is never
stored or logged: only its argon2id hash (argon2-cffi's defaults, RFC 9106 low-memory profile).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dashboard.sessions import SessionStore
from hearth.errors import HearthError

ROLES = ("officer", "manager", "admin")
MIN_PASSWORD_CHARS = 12
_USERNAME = re.compile(r"^[a-z0-9._-]{2,64}$")
_HASHER = PasswordHasher()
# Verifying against this when the user does not exist takes as long as a real check, so the
# time a failed sign-in takes does not reveal which usernames exist.
_DUMMY_HASH = _HASHER.hash("not-a-real-password-hearth")


class UserError(HearthError):
    """An account could not be created or changed; the message says why."""


@dataclass(frozen=True)
class User:
    """A dashboard account. ``patches`` is empty for managers and admins (they see all)."""

    username: str
    display_name: str
    role: str
    patches: tuple[str, ...]
    email: str | None = None
    disabled: bool = False

    @property
    def sees_all_patches(self) -> bool:
        return self.role in ("manager", "admin")

    def scope(self) -> tuple[str, ...] | None:
        """The patches this user may see: None means every patch."""
        return None if self.sees_all_patches else self.patches


def check_password_strength(password: str, username: str) -> None:
    """Refuse passwords that are short or contain the username (NCSC: length over rules)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"the password must have at least {MIN_PASSWORD_CHARS} characters; "
                        "a short phrase of three or four words is easy to remember")
    if username.lower() in password.lower():
        raise UserError("the password must not contain the username")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


class UserStore:
    """Accounts in the registry. ``conn`` is the registry's connection (autocommit mode)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def add(self, username: str, role: str, password: str | None, patches: list[str],
            display_name: str | None = None, email: str | None = None) -> User:
        """Create an account. ``password`` None makes an SSO-only account (needs ``email``)."""
        if not _USERNAME.match(username):
            raise UserError(f"username {username!r}: use 2 to 64 lower-case letters, digits, "
                            "dots, dashes or underscores (for example j.smith)")
        if role not in ROLES:
            raise UserError(f"role {role!r}: choose one of {', '.join(ROLES)}")
        patches = sorted({p.strip() for p in patches if p.strip()})
        if role == "officer" and not patches:
            raise UserError("an officer needs at least one patch: add --patch NAME")
        if password is None and not email:
            raise UserError("give a password (prompt or HEARTH_NEW_USER_PASSWORD) or, for "
                            "single sign-on only, an --email")
        if password is not None:
            check_password_strength(password, username)
        password_hash = hash_password(password) if password is not None else None
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(
                "INSERT INTO users (username, display_name, role, password_hash, email, "
                "created_at, disabled) VALUES (?, ?, ?, ?, ?, ?, 0)",
                (username, display_name or username, role, password_hash, email, now))
            self.conn.executemany("INSERT INTO user_patches (username, patch) VALUES (?, ?)",
                                  [(username, p) for p in patches])
            self.conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            self.conn.execute("ROLLBACK")
            if "users.username" in str(exc):
                raise UserError(f"user {username!r} exists already") from None
            if "users.email" in str(exc):
                raise UserError(f"another account already uses the email {email!r}") from None
            raise UserError(f"cannot add user {username!r}: {exc}") from None
        return self.get(username)

    def set_password(self, username: str, password: str) -> None:
        check_password_strength(password, username)
        cur = self.conn.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                                (hash_password(password), username))
        if cur.rowcount == 0:
            raise UserError(f"no user {username!r}; see `hearth users list`")
        SessionStore(self.conn).revoke_user(username)  # a new password signs out every browser

    def set_disabled(self, username: str, disabled: bool) -> None:
        cur = self.conn.execute("UPDATE users SET disabled = ? WHERE username = ?",
                                (int(disabled), username))
        if cur.rowcount == 0:
            raise UserError(f"no user {username!r}; see `hearth users list`")
        if disabled:
            SessionStore(self.conn).revoke_user(username)

    def get(self, username: str) -> User | None:
        row = self.conn.execute("SELECT username, display_name, role, email, disabled FROM users "
                                "WHERE username = ?", (username,)).fetchone()
        return None if row is None else self._user(row)

    def by_email(self, email: str) -> User | None:
        row = self.conn.execute("SELECT username, display_name, role, email, disabled FROM users "
                                "WHERE lower(email) = lower(?)", (email,)).fetchone()
        return None if row is None else self._user(row)

    def all(self) -> list[User]:
        rows = self.conn.execute("SELECT username, display_name, role, email, disabled FROM users "
                                 "ORDER BY username").fetchall()
        return [self._user(r) for r in rows]

    def _user(self, row: tuple) -> User:
        patches = tuple(r[0] for r in self.conn.execute(
            "SELECT patch FROM user_patches WHERE username = ? ORDER BY patch", (row[0],)))
        return User(row[0], row[1], row[2], patches, row[3], bool(row[4]))

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password matches and the account is enabled, else None. Rehashes
        the password when argon2's parameters have been raised since it was stored."""
        row = self.conn.execute("SELECT password_hash, disabled FROM users WHERE username = ?",
                                (username.strip().lower(),)).fetchone()
        stored = row[0] if row and row[0] else None
        try:
            _HASHER.verify(stored or _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if stored is None or row[1]:
            return None
        if _HASHER.check_needs_rehash(stored):
            self.conn.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                              (hash_password(password), username.strip().lower()))
        return self.get(username.strip().lower())
