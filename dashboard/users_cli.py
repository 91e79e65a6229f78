"""`hearth users`: dashboard accounts (add, list, passwd, disable, enable)."""

from __future__ import annotations

import argparse

PASSWORD_ENV = "HEARTH_NEW_USER_PASSWORD"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("users", help="dashboard accounts (officers, managers, admins)")
    sub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="create an account; the password is asked for (or read "
                         f"from ${PASSWORD_ENV})")
    add.add_argument("username", help="lower-case sign-in name, e.g. j.smith")
    add.add_argument("--role", required=True, choices=["officer", "manager", "admin"])
    add.add_argument("--patch", action="append", default=[], metavar="PATCH",
                     help="a patch the officer looks after (repeat for several)")
    add.add_argument("--name", dest="display_name", help="name shown in the dashboard")
    add.add_argument("--email", help="email at the council's identity provider (single sign-on)")
    add.add_argument("--sso-only", action="store_true",
                     help="no password: sign in only through single sign-on (needs --email)")
    add.add_argument("--if-missing", action="store_true",
                     help="do nothing (and succeed) if the account exists already")
    add.set_defaults(func=handle_add)
    ls = sub.add_parser("list", help="list accounts with role and patches")
    ls.set_defaults(func=handle_list)
    pw = sub.add_parser("passwd", help="set a new password (prompt or $" + PASSWORD_ENV + ")")
    pw.add_argument("username")
    pw.set_defaults(func=handle_passwd)
    for name, disabled in (("disable", True), ("enable", False)):
        d = sub.add_parser(name, help=f"{name} an account (kept for the audit trail)")
        d.add_argument("username")
        d.set_defaults(func=handle_disable, disabled=disabled)


def _read_password(username: str) -> str:
    import getpass
    import os
    import sys

    from hearth.errors import HearthError

    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise HearthError(f"no password: set {PASSWORD_ENV} or run this in a terminal")
    first = getpass.getpass(f"password for {username}: ")
    if first != getpass.getpass("again: "):
        raise HearthError("the two passwords differ; nothing was changed")
    return first


def _store(settings):
    from dashboard.users import UserStore
    from hearth.registry import Registry

    reg = Registry(settings.registry.target)
    return reg, UserStore(reg.conn)


def handle_add(args, settings) -> int:
    if args.if_missing:
        reg, store = _store(settings)
        with reg:
            if store.get(args.username) is not None:
                print(f"{args.username} exists already; unchanged")
                return 0
    password = None if args.sso_only else _read_password(args.username)
    reg, store = _store(settings)
    with reg:
        user = store.add(args.username, args.role, password, args.patch, args.display_name,
                         args.email)
        reg.audit("cli", "user_added", f"user:{user.username}",
                  {"role": user.role, "patches": list(user.patches)})
    scope = ", ".join(user.patches) if user.patches else "all patches"
    print(f"added {user.username} ({user.role}; {scope})")
    return 0


def handle_list(args, settings) -> int:
    reg, store = _store(settings)
    with reg:
        users = store.all()
    if not users:
        print("no accounts yet: add one with `hearth users add NAME --role manager`")
        return 0
    print(f"{'username':<20} {'role':<8} {'status':<8} patches")
    for u in users:
        patches = ", ".join(u.patches) if u.patches else "(all)"
        print(f"{u.username:<20} {u.role:<8} {'disabled' if u.disabled else 'active':<8} "
              f"{patches}")
    return 0


def handle_passwd(args, settings) -> int:
    password = _read_password(args.username)
    reg, store = _store(settings)
    with reg:
        store.set_password(args.username, password)
        reg.audit("cli", "user_password_set", f"user:{args.username}")
    print(f"password set for {args.username}")
    return 0


def handle_disable(args, settings) -> int:
    reg, store = _store(settings)
    with reg:
        store.set_disabled(args.username, args.disabled)
        reg.audit("cli", "user_disabled" if args.disabled else "user_enabled",
                  f"user:{args.username}")
    print(f"{args.username} {'disabled' if args.disabled else 'enabled'}")
    return 0
