"""Hand the validated settings from `hearth tenant serve` to the Streamlit process in
``HEARTH_TENANTS_SETTINGS`` (hearth.settings.handover says how)."""

from __future__ import annotations

from hearth.settings import Settings, handover

SETTINGS_ENV = "HEARTH_TENANTS_SETTINGS"


def settings_to_env(settings: Settings) -> dict[str, str]:
    return handover.settings_to_env(settings, SETTINGS_ENV)


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    return handover.settings_from_env(SETTINGS_ENV, environ)
