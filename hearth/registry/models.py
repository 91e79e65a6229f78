"""Records of the registry and the enumerations their columns allow.

The enumerations here and the CHECK constraints in ``migrations/0001_base.sql`` say the same
thing: the database refuses a bad value even from a careless script, and the importer names the
allowed values before the database ever sees the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

PROPERTY_TYPES = ("flat", "maisonette", "house", "bungalow")
PAYMENT_TYPES = ("prepayment", "credit")
HEATING = ("gas", "electric")
EPC_BANDS = ("A", "B", "C", "D", "E", "F", "G")
OCCUPANCY = ("working", "home_all_day", "night_worker")
FUELS = ("electricity", "gas")
DEVICE_KINDS = ("electricity_meter", "gas_meter", "thermostat")
PROTOCOLS = ("modbus", "mqtt")
ROOMS = ("living_room", "bedroom", "kitchen", "bathroom", "hall")
CONSENT_SOURCES = ("tenancy_signup", "officer_visit", "phone_call", "web_form", "text_reply",
                   "letter")
CONSENT_EVENTS = ("granted", "withdrawn", "opted_out")
# Register maps under config/register_maps the generator assigns to Modbus meters.
REGISTER_MAP_BY_KIND = {"electricity_meter": "hearth-sim-em1", "gas_meter": "hearth-sim-gas"}
FUEL_BY_KIND = {"electricity_meter": "electricity", "gas_meter": "gas"}
# Defaults of `hearth registry generate` (here so that the CLI needs no numpy to show them).
DEFAULT_GATEWAY_HOST = "127.0.0.1"
DEFAULT_GATEWAY_BASE_PORT = 15020   # above 1024: the simulator runs without root
DEFAULT_UNITS_PER_GATEWAY = 50
DEFAULT_PATCH_SIZE = 200          # homes per housing officer's patch, about


@dataclass(frozen=True, slots=True)
class Household:
    """A home (pseudonymous id; no address finer than a block or street name)."""

    household_id: str
    patch: str
    estate: str
    address_area: str
    property_type: str
    bedrooms: int
    floor_area_m2: float          # [m2]
    payment_type: str
    has_gas: bool
    heating: str
    epc_band: str
    means_tested_benefits: bool
    vulnerable: bool
    vulnerability_notes: str = field(repr=False)  # special category data: keep out of logs
    occupancy: str
    occupants: int
    tenancy_start: date
    tenancy_end: date | None

    @property
    def fuels(self) -> tuple[str, ...]:
        return ("electricity", "gas") if self.has_gas else ("electricity",)


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant. Name and mobile are personal data: they are hidden from repr() so that a
    stray log line or traceback never prints them."""

    tenant_id: str
    household_id: str
    full_name: str = field(repr=False)
    mobile: str | None = field(repr=False)      # E.164, +447...
    sms_consent: bool
    sms_consent_at: datetime | None
    sms_consent_source: str | None
    opted_out_at: datetime | None
    share_with_supplier: bool

    @property
    def sms_contactable(self) -> bool:
        """Consent given, not opted out since, and a mobile to text."""
        return self.sms_consent and self.opted_out_at is None and self.mobile is not None


@dataclass(frozen=True, slots=True)
class Device:
    """A meter or thermostat and how to reach it: Modbus (gateway, unit id, register map)
    or MQTT (topic)."""

    device_id: str
    household_id: str
    kind: str
    protocol: str
    gateway_host: str | None
    gateway_port: int | None
    unit_id: int | None
    register_map: str | None
    mqtt_topic: str | None
    room: str | None
    interval_s: int               # [s] expected time between readings

    @property
    def fuel(self) -> str | None:
        return FUEL_BY_KIND.get(self.kind)


@dataclass(frozen=True, slots=True)
class Tariff:
    """Unit rate and standing charge for one fuel and payment type over a date range.
    ``valid_to`` is the last day the tariff applies (inclusive); None means open-ended."""

    tariff_id: str
    fuel: str
    payment_type: str
    unit_rate_gbp_per_kwh: float          # [GBP/kWh]
    standing_charge_gbp_per_day: float    # [GBP/day]
    valid_from: date
    valid_to: date | None

    def applies_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)
