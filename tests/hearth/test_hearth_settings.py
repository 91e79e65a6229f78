"""Settings: validated once; a wrong key or value names the key, the value and what is allowed."""

from __future__ import annotations

import os
import stat

import pytest

from hearth.errors import ConfigError
from hearth.settings import load_settings


def load(tmp_path, text: str, **env):
    path = tmp_path / "hearth.toml"
    path.write_text(text)
    return load_settings(path, environ={"HEARTH_HOME": str(tmp_path), **env})


def error_of(tmp_path, text: str, **env) -> str:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text, **env)
    return str(err.value)


def test_defaults_and_the_shipped_file_are_valid(tmp_path):
    from hearth.settings.loader import DEFAULT_CONFIG

    s = load(tmp_path, DEFAULT_CONFIG.read_text())
    assert s.influxdb.raw_retention_days == 90 and s.influxdb.usage_retention_days == 3650
    assert s.paths.var_dir == tmp_path / "var"


@pytest.mark.parametrize(("text", "expected"), [
    ('[influxdb]\nflavour = "v9"', ["influxdb.flavour = 'v9'", "'v1', 'v2' or 'v3'"]),
    ("[influxdb]\nbatch_size = 0", ["influxdb.batch_size = 0", "greater than or equal to 1"]),
    ("[mqtt]\nport = 70000", ["mqtt.port = 70000", "less than or equal to 65535"]),
    ('[influxdb]\nmax_retry_s = "soon"', ["influxdb.max_retry_s = 'soon'", "number"]),
    ('[influxdb]\ncolour = "blue"', ["influxdb.colour = 'blue'", "unknown key",
                                    "allowed in [influxdb]:", "batch_size", "max_retry_s"]),
    ("[nosuch]\nx = 1", ["nosuch", "unknown section", "influxdb", "collectors"]),
])
def test_invalid_values_name_key_value_and_what_is_allowed(tmp_path, text, expected):
    msg = error_of(tmp_path, text)
    assert str(tmp_path / "hearth.toml") in msg.splitlines()[0]
    for words in expected:
        assert words in msg


def test_every_problem_is_reported_at_once(tmp_path):
    msg = error_of(tmp_path, '[influxdb]\nflavour = "v9"\nbatch_size = 0\n[mqtt]\nport = 0')
    assert len(msg.splitlines()) == 4


def test_environment_overrides_are_validated_too(tmp_path):
    s = load(tmp_path, "", HEARTH__INFLUXDB__BATCH_SIZE="250")
    assert s.influxdb.batch_size == 250
    msg = error_of(tmp_path, "", HEARTH__INFLUXDB__BATCH_SIZE="many")
    assert "influxdb.batch_size (from the environment variable HEARTH__INFLUXDB__BATCH_SIZE) = 'many'" in msg
    with pytest.raises(ConfigError, match="HEARTH__SECTION__KEY"):
        load(tmp_path, "", HEARTH__BATCH_SIZE="1")
    nested = load(tmp_path, "", HEARTH__COLLECTORS__MODBUS__TIMEOUT_S="2.5")
    assert nested.collectors.modbus.timeout_s == 2.5


def test_bad_toml_and_missing_file(tmp_path):
    assert "not valid TOML" in error_of(tmp_path, "[influxdb\nurl=")
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={"HEARTH_HOME": str(tmp_path)})


def test_secrets_come_from_environment_or_are_generated_private(tmp_path):
    s = load(tmp_path, "", HEARTH_INFLUX_PASSWORD="from-env")
    assert s.influxdb.password.get_secret_value() == "from-env"
    assert "from-env" not in repr(s)
    s1 = load(tmp_path, "")
    generated = tmp_path / "var" / "secrets" / "influxdb_password"
    assert s1.influxdb.password.get_secret_value() == generated.read_text().strip()
    assert stat.S_IMODE(os.stat(generated).st_mode) == 0o600
    assert load(tmp_path, "").influxdb.password == s1.influxdb.password  # stable
