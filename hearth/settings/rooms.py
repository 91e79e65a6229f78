"""Settings sections of the rooms. Each room extends its own class; keep defaults documented
in config/hearth.toml as well."""

from pathlib import Path

from pydantic import Field

from hearth.settings.base import Section


class SimSettings(Section):
    seed: int = Field(42, description="Same seed, same homes")
    speed: float = Field(60.0, gt=0, description="Simulated seconds per real second")
    interval_s: int = Field(60, ge=1, description="Simulated seconds between readings")


class ModbusCollectorSettings(Section):
    """[collectors.modbus]: owned by collectors/modbus.py."""

    poll_interval_s: float = Field(10.0, gt=0, description="Seconds between polls of a meter")
    timeout_s: float = Field(1.0, gt=0, description="Per-request timeout")


class MqttCollectorSettings(Section):
    """[collectors.mqtt]: owned by collectors/mqtt.py."""

    client_id: str = Field("hearth-collector-1", min_length=1, description="Fixed: keeps the session")
    topic: str = Field("hearth/+/+/+", description="Subscription (use $share/group/... to scale out)")


class SpoolSettings(Section):
    """[collectors.spool]: owned by collectors/spool.py."""

    max_bytes: int = Field(2_000_000_000, ge=1_000_000, description="Spool size bound [bytes]")


class CollectorsSettings(Section):
    spool_dir: Path = Field(Path("var/spool"), description="Durable on-disk spool")
    dead_letter_dir: Path = Field(Path("var/dead_letters"))
    metrics_port: int = Field(9108, ge=1, le=65535, description="Prometheus metrics port")
    modbus: ModbusCollectorSettings = Field(default_factory=ModbusCollectorSettings)
    mqtt: MqttCollectorSettings = Field(default_factory=MqttCollectorSettings)
    spool: SpoolSettings = Field(default_factory=SpoolSettings)


class ForecastingSettings(Section):
    history_days: int = Field(56, ge=7, description="History used to fit [days]")


class AdvisorSettings(Section):
    cold_home_temp_c: float = Field(18.0, description="UKHSA: indoor temperature below 18 C")


class NotifierSettings(Section):
    sender: str = Field("outbox", pattern="^(outbox|notify)$")
    outbox_path: Path = Field(Path("var/outbox.jsonl"))


class DashboardSettings(Section):
    """[dashboard]: owned by dashboard/."""

    port: int = Field(8501, ge=1, le=65535, description="Port of `hearth dashboard`")
    address: str = Field("127.0.0.1", min_length=1, description="Bind address (put a TLS proxy"
                         " in front for other machines)")
    query_ttl_s: int = Field(60, ge=1, description="How long page queries are cached [s]")
    portfolio_ttl_s: int = Field(300, ge=1, description="How long portfolio-wide InfluxDB"
                                 " summaries are cached [s]")
    silent_after_intervals: float = Field(3.0, gt=1, description="A device is silent after this"
                                          " many of its reading intervals without a reading")
    session_timeout_min: int = Field(480, ge=5, description="Sign-in lasts this long [min]")


class ReportsSettings(Section):
    out_dir: Path = Field(Path("var/reports"))


class ScheduleSettings(Section):
    timezone: str = "Europe/London"
