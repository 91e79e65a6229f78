"""The whole settings tree."""

import os

from pydantic import Field, model_validator

from hearth.settings.base import Section
from hearth.settings.core import InfluxSettings, MqttSettings, PathsSettings, RegistrySettings
from hearth.settings.importers import ImportersSettings
from hearth.settings.rooms import (
    AdvisorSettings,
    CollectorsSettings,
    DashboardSettings,
    ForecastingSettings,
    NotifierSettings,
    ReportsSettings,
    ScheduleSettings,
    SimSettings,
    TenantsSettings,
)
from hearth.settings.weather import WeatherSettings


class Settings(Section):
    paths: PathsSettings = Field(default_factory=PathsSettings)
    influxdb: InfluxSettings = Field(default_factory=InfluxSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    collectors: CollectorsSettings = Field(default_factory=CollectorsSettings)
    forecasting: ForecastingSettings = Field(default_factory=ForecastingSettings)
    advisor: AdvisorSettings = Field(default_factory=AdvisorSettings)
    notifier: NotifierSettings = Field(default_factory=NotifierSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    reports: ReportsSettings = Field(default_factory=ReportsSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    importers: ImportersSettings = Field(default_factory=ImportersSettings)
    weather: WeatherSettings = Field(default_factory=WeatherSettings)
    tenants: TenantsSettings = Field(default_factory=TenantsSettings)

    @model_validator(mode="after")
    def _registry_password(self):
        # A PostgreSQL registry's password from var/secrets/ when the environment has none:
        # exported for this process and its children (the Streamlit apps), never to a file.
        if self.registry.url:
            from hearth.registry.db import PASSWORD_ENV, registry_password

            secret = registry_password(self.paths.var_dir)
            if secret:
                os.environ.setdefault(PASSWORD_ENV, secret)
        return self
