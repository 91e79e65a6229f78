"""Hand validated settings from a command to the Streamlit process it starts.

Streamlit runs an app in its own process, so the settings travel in the environment: one
variable (named by the app) holds them as JSON without secrets, and the secrets travel in their
usual variables (``HEARTH_INFLUX_PASSWORD``, ``HEARTH_MQTT_PASSWORD``). Without that variable
the app loads config/hearth.toml like every other command. Used by the officers' dashboard and
the tenant portal, each with its own variable.
"""

from __future__ import annotations

import json
import os

from hearth.settings.loader import load_settings
from hearth.settings.models import Settings

_SECRETS = {("influxdb", "password"): "HEARTH_INFLUX_PASSWORD",
            ("mqtt", "password"): "HEARTH_MQTT_PASSWORD"}


def settings_to_env(settings: Settings, variable: str) -> dict[str, str]:
    """Environment variables that carry ``settings`` (secrets in their own variables)."""
    raw = settings.model_dump(mode="json")
    env: dict[str, str] = {}
    for (section, key), name in _SECRETS.items():
        secret = getattr(getattr(settings, section), key)
        raw[section].pop(key, None)
        if secret is not None:
            env[name] = secret.get_secret_value()
    env[variable] = json.dumps(raw)
    return env


def settings_from_env(variable: str, environ: dict[str, str] | None = None) -> Settings:
    """The settings handed over in ``variable``, else those of config/hearth.toml."""
    environ = dict(os.environ if environ is None else environ)
    text = environ.get(variable)
    if not text:
        return load_settings(environ=environ)
    raw = json.loads(text)
    for (section, key), name in _SECRETS.items():
        if environ.get(name):
            raw.setdefault(section, {})[key] = environ[name]
    return Settings.model_validate(raw)
