"""Settings of the shared parts: paths, InfluxDB, MQTT broker, registry."""

import logging
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

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
    # Least privilege (docs/security.md): `username` above is the admin, used only by
    # `hearth stack`; parts that write use the writer, the dashboard and reports the reader.
    writer_username: str = Field("hearth_writer", min_length=1,
                                 description="READ and WRITE on the database, no admin")
    # Secret: HEARTH_INFLUX_WRITER_PASSWORD, else var/secrets/influxdb_writer_password.
    writer_password: SecretStr | None = None
    reader_username: str = Field("hearth_reader", min_length=1,
                                 description="READ on the database only")
    # Secret: HEARTH_INFLUX_READER_PASSWORD, else var/secrets/influxdb_reader_password.
    reader_password: SecretStr | None = None

    def credentials(self, role: Literal["admin", "writer", "reader"]) -> tuple[str, str | None]:
        """(username, password) of one of the three InfluxDB users."""
        name, secret = {"admin": (self.username, self.password),
                        "writer": (self.writer_username, self.writer_password),
                        "reader": (self.reader_username, self.reader_password)}[role]
        if role != "admin" and secret is None and self.password is not None:
            _warn_admin_fallback(role)
            name, secret = self.username, self.password
        return name, None if secret is None else secret.get_secret_value()


_warned: set[str] = set()


def _warn_admin_fallback(role: str) -> None:
    if role not in _warned:
        _warned.add(role)
        logging.getLogger("hearth.settings").warning(
            "influxdb: no %s password (HEARTH_INFLUX_%s_PASSWORD or var/secrets/influxdb_%s"
            "_password): using the admin user; `hearth stack up` creates the %s user",
            role, role.upper(), role, role)


class MqttSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    # The collector's identity: subscribe only (the broker's ACL lets it publish nothing).
    username: str = Field("hearth-collector", min_length=1)
    # Secret: HEARTH_MQTT_PASSWORD, else generated once into var/secrets/mqtt_password.
    password: SecretStr | None = None
    manage_server: bool = True
    keepalive_s: int = Field(30, ge=5)
    tls: bool = Field(True, description="Connect over TLS and verify the broker's certificate")
    tls_ca_path: Path | None = Field(None, description="CA certificate the clients trust;"
                                     " default <var_dir>/tls/ca.crt, where `hearth stack up`"
                                     " makes a local CA")
    device_identities: Literal["registry", "shared"] = Field(
        "registry", description="How the simulator's devices connect: each home's hub"
        " credentials from the registry, or the shared username/password above (a broker"
        " without per-device ACLs)")
    max_queued_messages: int = Field(1_000_000, ge=1, description="Managed broker: messages"
                                     " queued per offline client before it drops new ones")
    max_queued_bytes: int = Field(1 << 30, ge=1, description="Managed broker: bytes queued"
                                  " per offline client before it drops new ones")
    autosave_on_changes: bool = Field(True, description="Managed broker: save its database"
                                      " after autosave_interval changes (else seconds)")
    autosave_interval: int = Field(1, ge=1, description="Managed broker: changes (or seconds)"
                                   " between saves of its database")


class RegistrySettings(Section):
    path: Path = Field(Path("var/registry.sqlite3"), description="SQLite file of the registry")
    url: str = Field("", description="PostgreSQL registry instead of the SQLite file:"
                     " postgresql://user@host:port/db, no password (HEARTH_REGISTRY_PASSWORD"
                     " or var/secrets/registry_password). Empty: the SQLite file at path")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if value:
            from hearth.registry.db import check_url

            check_url(value)
        return value

    @property
    def target(self) -> str | Path:
        """What `Registry()` and `hearth.registry.db.connect()` open: the url, else the path."""
        return self.url or self.path
