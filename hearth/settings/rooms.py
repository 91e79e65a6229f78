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
    port: int = Field(8501, ge=1, le=65535)


class ReportsSettings(Section):
    """[reports]: the weekly report (advisor/reports)."""

    out_dir: Path = Field(Path("var/reports"), description="Where `hearth report weekly` writes")
    top_cost_homes: int = Field(20, ge=1, le=500, description="Homes listed by forecast 30-day cost")
    credit_runout_days: float = Field(7.0, gt=0, le=30, description="List homes whose credit runs"
                                      " out within this many days [days]")
    silent_after_s: int = Field(21600, ge=60, description="A device with no reading for this long"
                                " before the week's end is silent [s]")
    hdd_base_c: float = Field(15.5, description="Heating degree day base temperature [C]")
    forecast_model: str = Field("hearth", min_length=1, description="`model` tag of the forecasts")
    chromium: str = Field("chromium", min_length=1, description="Headless browser for the PDF")
    pdf_timeout_s: float = Field(120.0, gt=0, description="Longest the PDF may take [s]")
    # Open data: monthly aggregates the council publishes (`hearth opendata export`).
    opendata_out_dir: Path = Field(Path("var/opendata"), description="Where open data is written")
    opendata_area: str = Field("estate", pattern="^(patch|estate|address_area)$",
                               description="Area column the open data is grouped by")
    opendata_min_group_homes: int = Field(10, ge=2, description="Smallest group published [homes]")
    opendata_publisher: str = Field("Hearth housing provider", min_length=1)
    opendata_licence_name: str = Field("Open Government Licence v3.0", min_length=1)
    opendata_licence_url: str = Field(
        "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/", min_length=1)


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
