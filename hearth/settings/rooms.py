"""Settings sections of the rooms. Each room extends its own class; keep defaults documented
in config/hearth.toml as well."""

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from hearth.settings.base import Section


class SimSettings(Section):
    """[sim]: owned by meters_sim/ (docs/simulator.md)."""

    seed: int = Field(42, description="Same seed, same homes")
    speed: float = Field(60.0, gt=0, description="Simulated seconds per real second")
    interval_s: int = Field(60, ge=1, description="Simulated seconds between readings of a"
                            " device whose registry row gives no interval_s")
    step_s: int = Field(60, ge=1, le=3600, description="Simulation time step [s]; divides a day")
    start: str | None = Field(None, description="Sim start (ISO 8601 UTC) when there is no"
                              " backfill; default now")
    backfill_interval_s: int = Field(1800, ge=60, description="Spacing of backfilled meter,"
                                     " thermostat and weather points [s]")
    fault_rate: float = Field(0.0, ge=0, description="Fault episodes per device per day")
    malformed_rate: float = Field(0.0, ge=0, le=1, description="Share of MQTT payloads sent"
                                  " malformed")
    slow_delay_s: float = Field(3.0, ge=0, description="Delay of a slow Modbus unit [s]")
    bind_host: str = Field("127.0.0.1", description="Gateways listen here, whatever the"
                           " registry's gateway_host")
    mqtt_client_id: str = Field("hearth-sim", min_length=1, description="Publisher client id")
    emission_log_path: Path = Field(Path("var/sim/emissions.jsonl"), description="Every MQTT"
                               " payload published (JSON lines), for end-to-end checks")
    truth_dir: Path = Field(Path("var/sim"), description="Ground-truth labels of each run")

    @field_validator("step_s")
    @classmethod
    def _divides_day(cls, value: int) -> int:
        if 86400 % value:
            raise ValueError("must divide a day (86400 s): 60, 300, 600, 900, 1800 ...")
        return value

    @field_validator("start")
    @classmethod
    def _iso_start(cls, value: str | None) -> str | None:
        if value:
            from datetime import datetime

            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("must be an ISO 8601 time such as 2026-01-05T00:00:00Z") from None
        return value or None


class ModbusDeviceSettings(Section):
    """One Modbus meter listed in config ([[collectors.modbus.devices]]) instead of the registry."""

    device_id: str = Field(min_length=1)
    household_id: str = Field(min_length=1)
    fuel: Literal["electricity", "gas"]
    gateway_host: str = Field(min_length=1)
    gateway_port: int = Field(502, ge=1, le=65535)
    unit_id: int = Field(ge=1, le=247, description="Modbus unit id behind the gateway")
    register_map: str = Field(min_length=1, description="Name of a map in maps_dir")
    prepayment: bool | None = Field(
        None, description="False drops credit_gbp/supply_on; None keeps what the map has")


class ModbusCollectorSettings(Section):
    """[collectors.modbus]: owned by collectors/modbus.py."""

    poll_interval_s: float = Field(10.0, gt=0, description="Seconds between polls of a meter")
    timeout_s: float = Field(
        1.0, gt=0, description="Per-request (and TCP connect) timeout [s]")
    retries: int = Field(0, ge=0, le=5, description="Immediate retries of a failed request")
    failures_before_backoff: int = Field(
        2, ge=1, description="Consecutive failed polls before a device is skipped for a while")
    backoff_initial_s: float = Field(30.0, gt=0, description="First skip of a failing device")
    backoff_max_s: float = Field(600.0, gt=0, description="Longest skip (doubles up to this)")
    max_gap_registers: int = Field(
        8, ge=0, le=123, description="Read across gaps up to this many registers in one request")
    max_registers_per_request: int = Field(
        125, ge=4, le=125, description="Protocol limit is 125; some meters accept fewer")
    stagger: bool = Field(True, description="Spread gateways' poll start times over the interval")
    max_concurrent_gateways: int = Field(
        0, ge=0, description="Gateways polled at once (0 = all); bounds sockets and CPU bursts")
    flush_interval_s: float = Field(0.5, gt=0, description="Hand readings to the sink this often")
    max_pending_readings: int = Field(
        100_000, ge=1, description="Polls pause while this many readings wait for the sink "
        "(spool full): meters keep counting, nothing is dropped")
    log_interval_s: float = Field(60.0, gt=0, description="At most one log line per device "
                                  "and kind of error in this many seconds")
    use_device_clock: bool = Field(
        True, description="Stamp readings with a map's device_time_s register when set (> 0)")
    gas_calorific_value_mj_per_m3: float = Field(
        39.5, gt=0, description="Derives gas energy_kwh when a map has only volume_m3")
    maps_dir: Path | None = Field(
        None, description="Folder of register map TOML files (default config/register_maps)")
    devices: list[ModbusDeviceSettings] = Field(
        default_factory=list, description="Explicit devices; when empty, from the registry")


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
    """[forecasting]: owned by forecasting/ (see docs/forecasting.md)."""

    history_days: int = Field(56, ge=7, le=366, description="History used to fit [days]")
    horizon_steps: int = Field(336, ge=1, le=1488, description="Half-hours forecast (7 days)")
    horizon_days: int = Field(30, ge=1, le=92, description="Daily totals forecast [days]")
    halflife_days: float = Field(21.0, gt=0, description="Recency weighting of history [days]")
    reread_days: int = Field(2, ge=0, le=30, description="Days re-read for late readings")
    chunk_households: int = Field(10_000, ge=1, description="Households fitted together")
    n_jobs: int = Field(2, ge=1, le=64, description="Threads fitting chunks at once")


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
