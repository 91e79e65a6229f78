"""Typed settings, loaded from TOML once at start-up and validated.

Every room's section lives in its own module here so that each stays small; `load_settings`
is the only entry point. Secrets come from the environment (or are generated once into var/).
"""

from hearth.settings.loader import ROOT_DIR, load_settings
from hearth.settings.models import Settings

__all__ = ["ROOT_DIR", "Settings", "load_settings"]
