"""Load settings once: TOML file, then environment overrides, then secrets, then validation.

Environment overrides: ``HEARTH__SECTION__KEY=value`` sets any key (for example
``HEARTH__INFLUXDB__URL``). Secrets: ``HEARTH_INFLUX_PASSWORD`` (admin),
``HEARTH_INFLUX_WRITER_PASSWORD``, ``HEARTH_INFLUX_READER_PASSWORD``, ``HEARTH_MQTT_PASSWORD``;
when unset they are generated once into ``var/secrets/`` with mode 0600.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hearth.errors import ConfigError
from hearth.secrets import read_or_create_secret, read_secret
from hearth.settings.models import Settings

ROOT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT_DIR / "config" / "hearth.toml"
SECRET_ENV = {("influxdb", "password"): "HEARTH_INFLUX_PASSWORD",
              ("influxdb", "writer_password"): "HEARTH_INFLUX_WRITER_PASSWORD",
              ("influxdb", "reader_password"): "HEARTH_INFLUX_READER_PASSWORD",
              ("mqtt", "password"): "HEARTH_MQTT_PASSWORD"}
# InfluxDB's writer and reader users exist once `hearth stack up` (or an administrator) made
# them; until then a part falls back to the admin user and says so (settings/core.py).
MADE_BY_STACK = {"writer_password", "reader_password"}


def _env_overrides(environ: dict[str, str]) -> dict[tuple[str, ...], tuple[str, str]]:
    """`HEARTH__SECTION__KEY` (or `HEARTH__SECTION__SUB__KEY`) -> {(section, ..., key): (name, value)}."""
    out: dict[tuple[str, ...], tuple[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith("HEARTH__"):
            continue
        parts = tuple(name[len("HEARTH__"):].lower().split("__"))
        if len(parts) < 2 or not all(parts):
            raise ConfigError(f"environment variable {name}: use HEARTH__SECTION__KEY")
        out[parts] = (name, value)
    return out


def _apply_overrides(raw: dict[str, Any], overrides: dict[tuple[str, ...], tuple[str, str]]) -> None:
    for path, (name, value) in overrides.items():
        node = raw
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: {'.'.join(path[:-1])} is not a section")
            node = child
        node[path[-1]] = value


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys the model accepts where `loc` points (a section, or the top level)."""
    model = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type) or not issubclass(
                field.annotation, BaseModel):
            return []
        model = field.annotation
    return list(model.model_fields)


def _format_errors(err: ValidationError, source: str,
                   env_names: dict[tuple[str, ...], str] | None = None) -> str:
    lines = [f"invalid settings in {source}:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        env_name = (env_names or {}).get(tuple(str(p) for p in e["loc"]))
        if env_name:
            key = f"{key} (from the environment variable {env_name})"
        value = e.get("input")
        shown = "" if isinstance(value, dict) else f" = {value!r}"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            where = f"[{e['loc'][0]}]" if len(e["loc"]) > 1 else "the file"
            msg = (f"unknown {'key' if len(e['loc']) > 1 else 'section'}; allowed in {where}: "
                   + ", ".join(_allowed_keys(e["loc"])))
        lines.append(f"  {key}{shown}: {msg}")
    return "\n".join(lines)


def _resolve_paths(raw: dict[str, Any], base_dir: Path) -> None:
    """Make relative paths in known path keys relative to the project's base directory."""
    for values in raw.values():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            is_path_key = key.endswith(("_dir", "_path")) or key == "path"
            if is_path_key and isinstance(value, str) and not Path(value).is_absolute():
                values[key] = str(base_dir / value)
    raw.setdefault("paths", {}).setdefault("var_dir", str(base_dir / "var"))


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None,
                  create_secrets: bool = True) -> Settings:
    """Read, override and validate the settings. Raises ConfigError with one line per problem."""
    environ = dict(os.environ if environ is None else environ)
    config_path = Path(path or environ.get("HEARTH_CONFIG") or DEFAULT_CONFIG)
    try:
        raw: dict[str, Any] = tomllib.loads(config_path.read_text()) if config_path.exists() else {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: not valid TOML: {exc}") from exc
    if path is not None and not config_path.exists():
        raise ConfigError(f"settings file {config_path} does not exist")
    overrides = _env_overrides(environ)
    _apply_overrides(raw, overrides)
    base_dir = Path(environ.get("HEARTH_HOME") or ROOT_DIR)
    _resolve_paths(raw, base_dir)
    var_dir = Path(raw["paths"]["var_dir"])
    for (section, key), env_name in SECRET_ENV.items():
        values = raw.setdefault(section, {})
        if environ.get(env_name):
            values[key] = environ[env_name]
        elif values.get(key):
            continue
        elif key in MADE_BY_STACK:
            # Made by `hearth stack up` with the users they belong to: read, never create here.
            found = read_secret(var_dir, f"{section}_{key}")
            if found is not None:
                values[key] = found
        elif create_secrets:
            values[key] = read_or_create_secret(var_dir, f"{section}_{key}")
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        env_names = {path: name for path, (name, _) in overrides.items()}
        source = str(config_path) + (" and HEARTH__ environment variables" if overrides else "")
        raise ConfigError(_format_errors(exc, source, env_names)) from None
