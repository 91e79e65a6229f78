"""config/hearth.toml's [sim] section lists every SimSettings key with its default."""

import tomllib

import pytest

from hearth.errors import ConfigError
from hearth.settings import ROOT_DIR, load_settings
from hearth.settings.rooms import SimSettings

CONFIG = ROOT_DIR / "config" / "hearth.toml"


def test_sim_section_lists_every_key_with_its_default():
    section = tomllib.loads(CONFIG.read_text())["sim"]
    defaults = SimSettings()
    for key in SimSettings.model_fields:
        if key == "start":            # optional, shown commented out
            assert "# start = " in CONFIG.read_text()
            continue
        assert key in section, f"[sim] {key} missing from config/hearth.toml"
        value = getattr(defaults, key)
        if key.endswith(("_path", "_dir")):
            assert str(value).endswith(section[key].removeprefix("var/").rstrip("/")) or \
                str(value) == section[key]
        else:
            assert section[key] == value, key


def test_bad_sim_settings_are_named(tmp_path):
    env = {"HEARTH_HOME": str(tmp_path), "HEARTH__SIM__STEP_S": "7"}
    with pytest.raises(ConfigError, match="step_s"):
        load_settings(CONFIG, environ=env, create_secrets=False)
    env = {"HEARTH_HOME": str(tmp_path), "HEARTH__SIM__START": "yesterday"}
    with pytest.raises(ConfigError, match="start"):
        load_settings(CONFIG, environ=env, create_secrets=False)
