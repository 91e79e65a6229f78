"""Provider credentials: from the environment, else from var/secrets/ (never generated, never
in the registry, never logged). The registry may name a meter point's own secret
(`credential_ref`), for providers that give each home its own key."""

from __future__ import annotations

import os
from pathlib import Path

from hearth.errors import HearthError


class MissingCredentialError(HearthError):
    """A provider's credential is in neither the environment nor var/secrets/."""


def env_name(name: str) -> str:
    return "HEARTH_" + name.upper()


def read_credential(var_dir: Path, name: str, environ: dict[str, str] | None = None) -> str:
    """The secret `name`: $HEARTH_<NAME>, else the file var/secrets/<name>."""
    environ = os.environ if environ is None else environ
    value = environ.get(env_name(name))
    if value:
        return value
    path = Path(var_dir) / "secrets" / name
    if path.exists():
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text
    raise MissingCredentialError(f"no credential {name!r}: set {env_name(name)} or write it to"
                            f" {path} (mode 0600)")
