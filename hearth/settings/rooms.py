"""Settings sections of the rooms. Each room extends its own class; keep defaults documented
in config/hearth.toml as well."""

from pathlib import Path

from pydantic import Field, field_validator

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

    enabled: bool = Field(True, description="Run the MQTT collector in `hearth collect`")
    client_id: str = Field("hearth-collector-1", min_length=1, description="Fixed: keeps the session")
    topic: str = Field("hearth/+/+/+", description="Subscription (use $share/group/... to scale out)")
    topic_pattern: str = Field("hearth/{household}/{device}/{kind}",
                               description="Topic levels to tags; {kind} is required")
    session_expiry_s: int = Field(7 * 86400, gt=0, le=4_294_967_294,
                                  description="Broker keeps the session this long [s]")
    receive_maximum: int = Field(20_000, ge=1, le=65_535,
                                 description="Unacknowledged QoS 1 messages in flight")
    reconnect_min_s: float = Field(0.5, gt=0, description="First reconnect delay [s]")
    reconnect_max_s: float = Field(30.0, gt=0, description="Longest reconnect delay [s]")
    max_payload_bytes: int = Field(65_536, ge=256, description="Larger payloads are dead-lettered")
    max_future_s: float = Field(86_400.0, ge=0,
                                description="Sample times further ahead than this are rejected [s]")
    gas_calorific_value_mj_per_m3: float = Field(
        39.5, gt=20, lt=60, description="Turns gas volume into kWh when a meter omits energy_kwh")
    silent_after_s: float = Field(900.0, gt=0,
                                  description="A device unheard this long counts as silent [s]")


class SpoolSettings(Section):
    """[collectors.spool]: owned by collectors/spool.py."""

    max_bytes: int = Field(2_000_000_000, ge=1_000_000, description="Spool size bound [bytes]")
    segment_bytes: int = Field(64_000_000, ge=100_000,
                               description="Segment file size before rolling over [bytes]")
    warn_fraction: float = Field(0.8, gt=0, lt=1,
                                 description="Log a warning when the spool is this full")
    batch_lines: int = Field(5000, ge=1, description="Readings per InfluxDB write from the spool")
    retry_max_s: float = Field(30.0, gt=0,
                               description="Longest pause between write retries [s]")


class CollectorsSettings(Section):
    spool_dir: Path = Field(Path("var/spool"), description="Durable on-disk spool")
    dead_letter_dir: Path = Field(Path("var/dead_letters"))
    dead_letter_max_bytes: int = Field(1_000_000_000, ge=1_000_000,
                                       description="Beyond this, dead letters keep no raw bytes")
    dead_letter_max_raw_bytes: int = Field(1_048_576, ge=1024,
                                           description="Raw bytes kept per dead letter")
    metrics_port: int = Field(9108, ge=1, le=65535, description="Prometheus metrics port")
    summary_interval_s: float = Field(60.0, gt=0, description="Summary log line every [s]")
    usage_max_power_kw: float = Field(25.0, gt=0,
                                      description="Steps above this mean power are spikes [kW]")
    usage_max_gap_s: float = Field(7200.0, gt=0,
                                   description="Register gaps longer than this stay NaN [s]")
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
    port: int = Field(8501, ge=1, le=65535)


class ReportsSettings(Section):
    out_dir: Path = Field(Path("var/reports"))


class JobSettings(Section):
    """One scheduled job: a `hearth` command at cron times in the schedule's time zone."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9_-]+$")
    cron: str = Field(description="Five-field cron expression, local time")
    command: list[str] = Field(min_length=1, description="Arguments after `hearth`")
    retries: int = Field(2, ge=0, le=10)
    retry_delay_s: float = Field(60.0, ge=0)
    timeout_s: float = Field(3600.0, gt=0)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter

        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError("must be a five-field cron expression such as '30 1 * * *'")
        return value


def _default_jobs() -> list[JobSettings]:
    return [
        JobSettings(name="derive-usage", cron="5,35 * * * *", command=["collect", "derive-usage"]),
        JobSettings(name="forecast", cron="30 1 * * *", command=["forecast"]),
        JobSettings(name="advise", cron="15 * * * *", command=["advise"]),
        JobSettings(name="weekly-report", cron="0 6 * * 1", command=["report", "weekly"]),
        JobSettings(name="opendata", cron="0 3 1 * *", command=["opendata", "export"]),
    ]


class ScheduleSettings(Section):
    timezone: str = Field("Europe/London", description="Cron times are local to this zone")
    state_path: Path = Field(Path("var/schedule.sqlite3"), description="Job run history")
    jobs: list[JobSettings] = Field(default_factory=_default_jobs)

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as 'Europe/London'") from None
        return value

    @field_validator("jobs")
    @classmethod
    def _unique_names(cls, jobs: list[JobSettings]) -> list[JobSettings]:
        names = [j.name for j in jobs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"job names must be unique; repeated: {', '.join(dupes)}")
        return jobs
