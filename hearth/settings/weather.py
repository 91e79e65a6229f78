"""Settings of `hearth import weather`: where the weather service is and which patches to fetch."""

from __future__ import annotations

from pydantic import Field, model_validator

from hearth.settings.base import Section


class WeatherAreaSettings(Section):
    """One patch: its name (the registry's households.address_area) and a point in it."""

    name: str = Field(min_length=1, description="Area name, as households.address_area")
    latitude: float = Field(ge=-90, le=90, description="Latitude [degrees north, WGS84]")
    longitude: float = Field(ge=-180, le=180, description="Longitude [degrees east, WGS84]")


class WeatherSettings(Section):
    forecast_url: str = Field("https://api.open-meteo.com/v1/forecast",
                              description="Open-Meteo forecast endpoint (hourly temperature_2m)")
    archive_url: str = Field("https://archive-api.open-meteo.com/v1/archive",
                             description="Open-Meteo historical (archive) endpoint")
    forecast_days: int = Field(16, ge=1, le=16, description="Days of forecast to fetch")
    past_days: int = Field(2, ge=0, le=92, description="Recent days taken from the forecast "
                           "service, which the archive has not got yet")
    history_days: int = Field(60, ge=1, le=3650, description="Days of observed weather a "
                              "first run (or --since) fetches from the archive")
    archive_lookback_days: int = Field(10, ge=1, le=92, description="Each run re-fetches this "
                                       "many days of the archive, which fills in late")
    timeout_s: float = Field(20.0, gt=0, description="Timeout of one HTTP request [s]")
    retries: int = Field(4, ge=0, le=10, description="Retries of a request answered 429 or "
                         "5xx, or not answered")
    backoff_initial_s: float = Field(2.0, ge=0, description="First wait before a retry [s]; "
                                     "doubles each retry")
    backoff_max_s: float = Field(60.0, ge=0, description="Longest wait before a retry [s], "
                                 "also the most a Retry-After header is obeyed")
    areas: tuple[WeatherAreaSettings, ...] = Field(
        (), description="Patches to fetch: [[weather.areas]] name, latitude, longitude")

    @model_validator(mode="after")
    def _unique_areas(self) -> WeatherSettings:
        names = [a.name for a in self.areas]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"weather.areas: area names must be unique; repeated: "
                             f"{', '.join(twice)}")
        if self.archive_lookback_days < self.past_days:
            raise ValueError("weather.archive_lookback_days must be >= past_days, so each "
                             "run's observed hours replace the forecast service's")
        return self
