"""Settings of the shared parts: paths, InfluxDB, MQTT broker, registry."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from hearth.settings.base import Section


class PathsSettings(Section):
    var_dir: Path = Field(Path("var"), description="Runtime data, logs, pid files. Default var/")


class InfluxSettings(Section):
    url: str = Field("http://127.0.0.1:8086", description="Base URL of the v1-compatible API")
    database: str = Field("hearth", min_length=1)
    username: str = Field("hearth_admin", min_length=1)
    # Secret: HEARTH_INFLUX_PASSWORD, else generated once into var/secrets/influx_password.
    password: SecretStr | None = None
    # Where InfluxDB 2.x/3.x is used, the password is the API token (DBRP mapping needed).
    flavour: Literal["v1", "v2", "v3"] = "v1"
    manage_server: bool = Field(True, description="`hearth stack` starts influxd itself")
    rpc_port: int = Field(8088, ge=1, le=65535, description="influxd's backup/restore RPC port")
    raw_retention_days: int = Field(90, ge=1, description="How long raw readings are kept")
    usage_retention_days: int = Field(3650, ge=1, description="How long usage_30m is kept")
    batch_size: int = Field(5000, ge=1, le=1_000_000)
    flush_interval_s: float = Field(1.0, gt=0)
    timeout_s: float = Field(10.0, gt=0)
    max_retry_s: float = Field(300.0, gt=0, description="Give up retrying a write after this")
    # "auto": gzip write bodies for a server across a network, not for one on loopback.
    gzip: bool | Literal["auto"] = "auto"


class MqttSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str = Field("hearth", min_length=1)
    # Secret: HEARTH_MQTT_PASSWORD, else generated once into var/secrets/mqtt_password.
    password: SecretStr | None = None
    manage_server: bool = True
    keepalive_s: int = Field(30, ge=5)


class RegistrySettings(Section):
    path: Path = Field(Path("var/registry.sqlite3"), description="SQLite file of the registry")
