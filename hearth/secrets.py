"""Secrets generated once into var/secrets/ (mode 0600) when the environment does not give them."""

import os
import secrets
from pathlib import Path


def read_or_create_secret(var_dir: Path, name: str) -> str:
    """Return the secret `name`, creating a random one with mode 0600 if it does not exist."""
    secret_dir = Path(var_dir) / "secrets"
    secret_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(secret_dir, 0o700)
    path = secret_dir / name
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def read_secret(var_dir: Path, name: str) -> str | None:
    """The secret `name` from var/secrets/, or None if it was never made."""
    path = Path(var_dir) / "secrets" / name
    return path.read_text().strip() if path.exists() else None
