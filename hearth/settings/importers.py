"""Settings of importers/: [importers.smart_meter] (docs/devices.md, "Smart-meter data through
consumer-access providers"). Credentials are not settings: they come from the environment or
var/secrets/ when a run needs them (importers/credentials.py)."""

from typing import Literal

from pydantic import Field, field_validator

from hearth.settings.base import Section

PROVIDERS = ("n3rgy", "glowmarkt", "octopus")


class SmartMeterImportSettings(Section):
    """[importers.smart_meter]: owned by importers/smart_meter.py."""

    providers: list[Literal["n3rgy", "glowmarkt", "octopus"]] = Field(
        default_factory=list, description="Providers a run without --provider imports from;"
        " empty: the scheduled job does nothing")
    initial_days: int = Field(30, ge=1, le=730, description="How far back the first import of"
                              " a meter point goes when no --since is given [days]")
    lookback_days: float = Field(7.0, ge=0, le=90, description="Each run re-fetches this far"
                                 " behind the last half hour delivered, for late data [days]")
    timeout_s: float = Field(30.0, gt=0, description="Per-request timeout [s]")
    max_retries: int = Field(4, ge=0, le=10, description="Retries of a request answered 429 or"
                             " 5xx (or not answered) before the household's error is reported")
    backoff_initial_s: float = Field(2.0, ge=0, description="First wait before a retry; doubles"
                                     " each time [s]")
    backoff_max_s: float = Field(120.0, ge=0, description="Longest wait between retries; a"
                                 " Retry-After asking for longer ends the retries [s]")
    gas_calorific_value_mj_per_m3: float = Field(
        39.5, gt=20, lt=60, description="Turns gas volume into kWh: m3 x 1.02264 x CV / 3.6")
    n3rgy_base_url: str = Field("https://consumer-api.data.n3rgy.com", min_length=1,
                                description="n3rgy consumer API")
    n3rgy_max_days: int = Field(90, ge=1, le=90, description="Longest window per n3rgy"
                                " request [days]")
    n3rgy_timestamp_is_end: bool = Field(True, description="n3rgy labels each half hour by its"
                                         " end; Hearth stores the start")
    glowmarkt_base_url: str = Field("https://api.glowmarkt.com/api/v0-1", min_length=1,
                                    description="Glowmarkt (Bright) API")
    glowmarkt_application_id: str = Field(
        "b0f1b774-a586-4f72-9edd-27ead8aa7a8d", min_length=1,
        description="applicationId header: the Bright app's published id, or your own")
    glowmarkt_max_days: int = Field(10, ge=1, le=10, description="Longest window per Glowmarkt"
                                    " PT30M request [days]")
    octopus_base_url: str = Field("https://api.octopus.energy", min_length=1,
                                  description="Octopus Energy REST API")
    octopus_page_size: int = Field(1000, ge=1, le=25_000, description="Results per page")

    @field_validator("n3rgy_base_url", "glowmarkt_base_url", "octopus_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class ImportersSettings(Section):
    """[importers]: data brought in from outside services (importers/)."""

    smart_meter: SmartMeterImportSettings = Field(default_factory=SmartMeterImportSettings)
