"""Hand the validated settings from `hearth tenant serve` to the Streamlit process, in the
environment: ``HEARTH_TENANTS_SETTINGS`` holds them as JSON without secrets; the InfluxDB
password travels in its usual variable. Without it the portal loads config/hearth.toml."""

from __future__ import annotations

import json
import os

from hearth.settings import Settings, load_settings

SETTINGS_ENV = "HEARTH_TENANTS_SETTINGS"
_SECRETS = {("influxdb", "password"): "HEARTH_INFLUX_PASSWORD",
            ("mqtt", "password"): "HEARTH_MQTT_PASSWORD"}


def settings_to_env(settings: Settings) -> dict[str, str]:
    raw = settings.model_dump(mode="json")
    env: dict[str, str] = {}
    for (section, key), name in _SECRETS.items():
        secret = getattr(getattr(settings, section), key)
        raw[section].pop(key, None)
        if secret is not None:
            env[name] = secret.get_secret_value()
    env[SETTINGS_ENV] = json.dumps(raw)
    return env


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    text = environ.get(SETTINGS_ENV)
    if not text:
        return load_settings(environ=environ)
    raw = json.loads(text)
    for (section, key), name in _SECRETS.items():
        if environ.get(name):
            raw.setdefault(section, {})[key] = environ[name]
    return Settings.model_validate(raw)
