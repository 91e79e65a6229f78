"""`hearth tenant export | consent | end-tenancy | serve`: tenants' rights over their data, and
their portal."""

from __future__ import annotations

import argparse
import getpass
from datetime import date
from pathlib import Path


def _on_off(text: str) -> bool:
    value = text.strip().lower()
    if value in ("on", "yes", "1", "true"):
        return True
    if value in ("off", "no", "0", "false"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r}: use on or off")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _actor(args) -> str:
    return args.actor or f"cli:{getpass.getuser()}"


def register(sub: argparse._SubParsersAction) -> None:
    from hearth.registry.models import CONSENT_SOURCES

    p = sub.add_parser("tenant", help="tenants' own data: subject access, consent, end of tenancy")
    ts = p.add_subparsers(dest="tenant_action", metavar="ACTION", required=True)
    e = ts.add_parser("export", help="everything Hearth holds about a household (JSON and CSV)")
    e.add_argument("household")
    e.add_argument("--out", type=Path, required=True, help="a .zip file, or a folder")
    e.add_argument("--actor", help="who asks (default cli:<user>), for the audit log")
    e.set_defaults(func=export)
    c = ts.add_parser("consent", help="record a consent change with its time and source")
    c.add_argument("household")
    c.add_argument("--sms", type=_on_off, help="on|off: tips by text message")
    c.add_argument("--share-with-supplier", type=_on_off, help="on|off: sharing data with the"
                   " energy supplier")
    c.add_argument("--smart-meter-import", type=_on_off, help="on|off: fetching the smart"
                   " meter's half-hourly data from a consumer-access provider")
    c.add_argument("--source", choices=[*CONSENT_SOURCES, "tenant_request"],
                   help="how the tenant told us (required to turn consent on)")
    c.add_argument("--tenant", help="one tenant of the household (default: all of them)")
    c.add_argument("--actor", help="who records it (default cli:<user>)")
    c.set_defaults(func=consent)
    t = ts.add_parser("end-tenancy", help="end a tenancy and remove the tenants' personal data")
    t.add_argument("household")
    t.add_argument("--date", type=_day, help="last day of the tenancy (default today)")
    t.add_argument("--actor", help="who records it (default cli:<user>)")
    t.set_defaults(func=end)
    s = ts.add_parser("serve", help="serve the tenant portal (sign-in by a code texted to the "
                      "tenant's mobile)")
    s.add_argument("--port", type=int, help="port (default tenants.port, 8502)")
    s.add_argument("--address", help="bind address (default tenants.address, 127.0.0.1)")
    s.set_defaults(func=serve)


def export(args: argparse.Namespace, settings) -> int:
    from tenants.rights import subject_access

    out = subject_access(settings, args.household, args.out, actor=_actor(args))
    print(f"subject access response for {args.household}: {out}")
    return 0


def consent(args: argparse.Namespace, settings) -> int:
    from hearth.registry import Registry
    from tenants.rights import set_consent

    with Registry(settings.registry.target) as reg:
        result = set_consent(reg, args.household, sms=args.sms,
                             share_with_supplier=args.share_with_supplier, source=args.source,
                             actor=_actor(args), tenant_id=args.tenant,
                             smart_meter_import=args.smart_meter_import)
    for line in result.changed:
        print(f"recorded: {line}")
    for line in result.unchanged:
        print(f"unchanged: {line}")
    return 0


def end(args: argparse.Namespace, settings) -> int:
    from tenants.rights import end_tenancy

    result = end_tenancy(settings, args.household, args.date, actor=_actor(args))
    print(f"tenancy of {args.household} ended {result.tenancy_end}; removed:")
    for what, n in result.counts().items():
        print(f"  {what}: {n}")
    print("readings stay under the pseudonymous id; the erasure log lists each removal")
    return 0


APP_PATH = Path(__file__).with_name("app.py")


def streamlit_command(port: int, address: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "streamlit", "run", str(APP_PATH),
            "--server.headless", "true", "--server.port", str(port),
            "--server.address", address, "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--client.toolbarMode", "minimal", "--global.developmentMode", "false",
            "--theme.base", "light", "--server.maxUploadSize",
            "50"]


def where_codes_go(settings) -> str:
    """One line saying where sign-in codes go (printed by `serve` and by the demo)."""
    if settings.notifier.sender == "notify":
        return "sign-in codes are texted through GOV.UK Notify"
    return (f"no GOV.UK Notify key: sign-in codes are written to the outbox "
            f"{settings.notifier.outbox_path} (the line with \"template\": \"sign_in_code\")")


def serve(args: argparse.Namespace, settings) -> int:
    import os
    import sys

    from hearth.errors import HearthError
    from hearth.registry import Registry
    from hearth.stack import port_in_use
    from tenants.runtime import settings_to_env

    port = args.port or settings.tenants.port
    address = args.address or settings.tenants.address
    if settings.notifier.sender == "notify" and not settings.tenants.code_template_id:
        raise HearthError("GOV.UK Notify sends the sign-in codes, but no template is set: make a"
                          " text template (docs/tenants.md) and set tenants.code_template_id")
    if port_in_use(port, "127.0.0.1"):
        raise HearthError(f"port {port} is already in use: stop the other program or start the "
                          "portal with --port")
    with Registry(settings.registry.target):
        pass  # applies the portal's migration up front
    env = {**os.environ, **settings_to_env(settings)}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(APP_PATH.parent.parent), *filter(None, [env.get("PYTHONPATH")])])
    print(f"tenant portal: open http://{address}:{port} and sign in with a tenant's mobile")
    print(where_codes_go(settings))
    command = streamlit_command(port, address)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(command[0], command, env)
    return 0  # not reached
