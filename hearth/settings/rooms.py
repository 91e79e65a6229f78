"""Settings sections of the rooms. Each room extends its own class; keep defaults documented
in config/hearth.toml as well."""

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

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
    max_lead_s: float = Field(43_200.0, ge=0, description="How far sim time may run ahead of"
                              " the wall clock before it slows to real time [s]; keep below"
                              " collectors.mqtt.max_future_s")
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
    profile_dirs: list[Path] = Field(default_factory=list, description="Folders of a council's"
                                     " own device profiles (TOML), besides config/profiles")
    profiles: list[str] = Field(default_factory=list, description="Profiles the collector"
                                " subscribes for (empty: every profile found)")
    extra_subscriptions: list[str] = Field(default_factory=list, description="More topic"
                                           " filters to subscribe to (e.g. \"#\": see every"
                                           " misconfigured device as unmatched_topic)")
    max_series_per_household: int = Field(64, ge=1, description="Series one household may"
                                          " have; beyond, readings are dead-lettered")
    share_group: str = Field("hearth", pattern=r"^[^/+#$\s]+$",
                             description="`hearth collect --shard i/N`: members subscribe to"
                             " $share/<share_group>/<topic>")


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
                                           description="Larger payloads: kept whole in raw/")
    metrics_port: int = Field(9108, ge=1, le=65535, description="Prometheus metrics port")
    summary_interval_s: float = Field(60.0, gt=0, description="Summary log line every [s]")
    usage_max_power_kw_electricity: float = Field(
        25.0, gt=0, description="usage_30m: electricity steps above this mean power are spikes")
    usage_max_power_kw_gas: float = Field(
        45.0, gt=0, description="usage_30m: gas steps above this mean power are spikes")
    usage_max_gap_s: float = Field(7200.0, gt=0,
                                   description="Register gaps longer than this stay NaN [s]")
    summaries_lookback_s: float = Field(
        7200.0, ge=0, description="thermostat_30m/meter_30m: re-read for late readings [s]")
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
    """[advisor]: owned by advisor/. Every threshold has its source in docs/advisor.md."""

    # Windows of data the rules look at.
    window_h: int = Field(72, ge=12, le=24 * 14, description="Recent window of readings [h]")
    step_min: int = Field(30, ge=1, le=120, description="Time bucket of the arrays [min]")
    history_days: int = Field(90, ge=14, description="Own recent months (bills) [days]")
    forecast_days: int = Field(30, ge=7, le=60, description="Horizon of the cost forecast [days]")
    forecast_model: str = Field("hearth", pattern="^[A-Za-z0-9_.-]+$",
                                description="`model` tag of the daily forecasts to use")
    min_coverage: float = Field(0.5, gt=0, le=1, description="Share of a window with data")
    heating_season_months: list[int] = Field([10, 11, 12, 1, 2, 3, 4],
                                             description="Months of the heating season (1..12)")
    # Cold home (UKHSA Adverse weather and health plan: 18 C; below 16 C and 12 C the risks rise).
    cold_home_temp_c: float = Field(18.0, description="UKHSA: indoor temperature below 18 C")
    cold_home_hours: float = Field(24.0, gt=0, description="Cold waking hours in the window to"
                                   " flag [h]")
    cold_home_vulnerable_hours: float = Field(12.0, gt=0,
                                              description="Same for vulnerable households [h]")
    cold_home_share: float = Field(0.5, ge=0, le=1, description="... and at least this share of"
                                   " the hours people are at home and awake [ratio]")
    cold_home_vulnerable_share: float = Field(0.35, ge=0, le=1, description="Same for"
                                              " vulnerable households [ratio]")
    cold_home_occupancy_from_use: bool = Field(True, description="Count only waking hours with"
                                               " electricity use above the home's base load")
    active_use_kwh: float = Field(0.03, ge=0, description="... by this much per bucket (and 1.5"
                                  " times the base load) [kWh]")
    cold_home_waking_from_h: float = Field(7.0, ge=0, lt=24, description="Waking hours counted"
                                           " from (UK local time) [h]")
    cold_home_waking_to_h: float = Field(23.0, gt=0, le=24, description="... to [h]")
    timezone: str = Field("Europe/London", description="Local time of waking hours")
    cold_severe_temp_c: float = Field(16.0, description="UKHSA: below 16 C respiratory risk;"
                                      " HHSRS excess cold: serious risk")
    cold_severe_hours: float = Field(12.0, gt=0, description="Hours below the severe level [h]")
    # Damp and mould.
    damp_rh_pct: float = Field(70.0, gt=0, le=100, description="Relative humidity bar [%]")
    damp_rh_hours: float = Field(2.0, gt=0, description="Hours above the bar in any window [h]")
    damp_window_h: float = Field(12.0, gt=0, description="Rolling window for the bar [h]")
    damp_very_high_rh_pct: float = Field(90.0, gt=0, le=100, description="Very high RH bar [%]")
    damp_very_high_hours: float = Field(1.0, gt=0, description="Hours above the very high bar [h]")
    damp_dew_margin_c: float = Field(2.0, ge=0, description="Dew point this close to the coldest"
                                                             " room temperature: condensation [C]")
    damp_block_share: float = Field(0.2, ge=0, le=1, description="Persistent: the humidity bar"
                                    " met in at least this share of the window's half-days"
                                    " (0: any 12 hours) [ratio]")
    damp_condensation_hours: float = Field(2.0, gt=0, description="Condensation hours to count [h]")
    # Prepayment credit, self-disconnection, self-rationing.
    credit_days_low: float = Field(7.0, gt=0, description="Credit runs out within: low [days]")
    credit_days_medium: float = Field(4.0, gt=0, description="... medium [days]")
    credit_days_high: float = Field(2.0, gt=0, description="... high [days]")
    supply_off_credit_gbp: float = Field(-10.0, description="Where a meter does not report its"
                                         " supply switch: balance at or below this is off (the"
                                         " typical GBP 10 emergency credit used up) [GBP]")
    supply_off_hours: float = Field(3.0, gt=0, description="Supply off this long: flag [h]")
    supply_off_brief_hours: float = Field(0.5, gt=0, description="Supply off this long but"
                                          " under supply_off_hours: a low case, no tip [h]")

    @model_validator(mode="after")
    def _brief_off_is_shorter(self):
        if self.supply_off_brief_hours > self.supply_off_hours:
            raise ValueError(f"supply_off_brief_hours ({self.supply_off_brief_hours:g}) must not"
                             f" exceed supply_off_hours ({self.supply_off_hours:g})")
        return self
    no_use_kwh_per_step: float = Field(0.005, ge=0, description="Below this per bucket counts as"
                                       " no use [kWh]")
    no_use_hours: float = Field(6.0, gt=0, description="No use this long while cold: flag [h]")
    supply_off_evidence_h: float = Field(1.0, gt=0, description="A meter without a supply switch:"
                                         " spent balance and the fuel wanted but not flowing"
                                         " this long in a row before it counts as off [h]")
    frost_setpoint_c: float = Field(10.0, description="A thermostat set at or below this is"
                                    " turned down to frost protection: no call for heat [C]")
    gas_in_use_share: float = Field(0.25, ge=0, le=1, description="Gas counts as wanted while"
                                    " people are in and active in a home that uses gas in at"
                                    " least this share of such half-hours (combi hot water,"
                                    " cooking) [ratio]")
    rationing_ratio: float = Field(0.5, gt=0, lt=1, description="Heating fuel use below this share"
                                   " of what the weather calls for [ratio]")
    rationing_cold_hours: float = Field(12.0, gt=0, description="Cold hours needed as well [h]")
    rationing_setpoint_c: float = Field(17.0, description="Thermostat at or below this while"
                                        " cold counts as going without heat [C]")
    rationing_setpoint_share: float = Field(0.5, gt=0, le=1, description="... for this share of"
                                            " the hours people are in [ratio]")
    # Bill shock. Ofgem's typical consumption values are dated rows in the registry
    # (`hearth reference import`, config/reference/tdcv.csv), not settings.
    bill_own_ratio: float = Field(1.5, gt=1, description="Forecast over own recent cost [ratio]")
    bill_typical_ratio: float = Field(1.5, gt=0, description="Forecast over typical cost [ratio]")
    bill_benefits_own_ratio: float = Field(1.25, gt=1, description="Lower bar: means-tested"
                                           " benefits [ratio]")
    bill_benefits_typical_ratio: float = Field(1.2, gt=0, description="Lower bar: benefits [ratio]")
    bill_min_increase_gbp: float = Field(15.0, ge=0, description="Ignore rises below this [GBP]")
    # Fuel poverty (LILEE; the 10% energy burden indicator).
    fuel_poverty_epc_bands: str = Field("DEFG", pattern="^[A-G]+$", description="Low EPC bands")
    fuel_poverty_burden: float = Field(0.10, gt=0, lt=1, description="Energy cost share of income")
    fuel_poverty_proxy_income_gbp: float = Field(16000.0, gt=0, description="Income assumed for a"
                                                 " household on means-tested benefits [GBP/year]")
    # Faults.
    fault_silent_intervals: float = Field(3.0, gt=1, description="Silent longer than this many"
                                          " reporting intervals [ratio]")
    fault_silent_grace_s: float = Field(900.0, ge=0, description="Added grace [s]")
    fault_counter_tolerance_kwh: float = Field(0.01, ge=0, description="Backwards step allowed")
    fault_spike_ratio: float = Field(8.0, gt=1, description="Spike: times the household's p95")
    fault_spike_min_electricity_kwh: float = Field(6.0, gt=0, description="Spike: at least"
                                                   " [kWh/bucket] (6 kWh/30 min = 12 kW)")
    fault_spike_min_gas_kwh: float = Field(20.0, gt=0, description="Spike: at least"
                                           " [kWh/bucket] (above a 40 kW boiler's half hour)")
    fault_stuck_hours: float = Field(2.0, gt=0, description="A device repeating one reading"
                                     " this long [h]")
    fault_frozen_repeats: int = Field(3, ge=1, description="A thermostat whose temperature and"
                                      " humidity repeat exactly this many readings in a row")
    fault_frozen_min_s: float = Field(1200.0, ge=0, description="... spanning at least [s]")
    fault_still_register_kwh: float = Field(0.02, gt=0, description="A meter register standing"
                                            " still while its own power readings say it should"
                                            " have counted this much [kWh]")
    fault_temp_low_c: float = Field(-5.0, description="Thermostat readings below: implausible")
    fault_temp_high_c: float = Field(45.0, description="Thermostat readings above: implausible")
    fault_cooling_hours: float = Field(3.0, gt=0, description="Heating on this long ... [h]")
    fault_cooling_drop_c: float = Field(1.0, gt=0, description="... while the room cools by [C]")
    fault_cooling_setback_c: float = Field(0.5, ge=0, description="... not counting buckets whose"
                                           " setpoint was lowered by more than [C]")
    # Cases.
    auto_close_h: float = Field(48.0, ge=0, description="Close a case once clear this long [h]")
    auto_close_exclude: list[str] = Field(["damp_mould"], description="Kinds never auto-closed"
                                          " (Awaab's Law duties stay once the landlord is aware)")
    awaab_investigate_working_days: int = Field(10, ge=1, description="Awaab's Law: investigate")
    awaab_summary_working_days: int = Field(3, ge=1, description="Written summary after that")
    awaab_safety_work_working_days: int = Field(5, ge=1, description="Safety work begun after that")
    awaab_emergency_hours: float = Field(24.0, gt=0, description="Emergency: made safe within [h]")
    # Issue 13: Awaab's Law phase 2, HHSRS excess cold bands, excess heat (CIBSE TM59).
    awaab_hazards_from: dict[str, date] = Field(
        {"damp_mould": date(2025, 10, 27), "cold_home": date(2026, 10, 1),
         "excess_heat": date(2026, 10, 1)},
        description="Day each hazard's Awaab's Law clock applies from (cold_home is the HHSRS"
                    " excess cold hazard); a case opened earlier has no statutory deadline")
    awaab_further_work_weeks: float = Field(12.0, gt=0, description="Further work begun within"
                                            " this many weeks where it cannot begin within"
                                            " the safety-work days [weeks]")
    cold_hhsrs_great_c: float = Field(10.0, description="HHSRS: great risk below [C]")
    cold_emergency_hours: float = Field(6.0, gt=0, description="A vulnerable household below"
                                        " cold_severe_temp_c this long, or anyone below"
                                        " cold_hhsrs_great_c: emergency [h]")
    heat_living_c: float = Field(28.0, description="CIBSE TM59: living room above [C]")
    heat_bedroom_c: float = Field(26.0, description="CIBSE TM59: bedroom above, at night [C]")
    heat_share: float = Field(0.01, gt=0, lt=1, description="... for more than this share of the"
                              " occupied (living) or night (bedroom) hours [ratio]")
    heat_min_hours: float = Field(3.0, ge=0, description="... and at least this many hours in"
                                  " the window (1 % of 72 h is under an hour) [h]")
    heat_vulnerable_offset_c: float = Field(1.0, ge=0, description="Vulnerable occupants: bars"
                                            " this much lower (CIBSE TM52 Category I) [C]")
    heat_night_from_h: float = Field(22.0, ge=0, lt=24, description="TM59 night from [h]")
    heat_night_to_h: float = Field(7.0, ge=0, lt=24, description="... to (UK local time) [h]")
    heating_saving_per_c: float = Field(0.10, ge=0, lt=1, description="Share of heating"
                                        " energy saved by turning the thermostat down 1 C"
                                        " (Energy Saving Trust, about 10 %) [ratio]")
    heat_high_c: float = Field(30.0, description="Living room above this for heat_min_hours:"
                               " high (and emergency for a vulnerable household) [C]")
    cold_hhsrs_spell_share: float = Field(0.2, gt=0, le=1, description="HHSRS excess cold band"
                                          " of a home: the coldest band (19/16/10 C) its"
                                          " living room was in for at least this share of the"
                                          " hours people were in and awake [ratio]")
    # Issue 15: a case an officer resolved or dismissed stays closed (advisor/reopen.py).
    reopen_quiet_days: float = Field(14.0, ge=0, description="A resolved or dismissed case comes"
                                     " back only if the situation got worse or after this many"
                                     " days [days]")
    reopen_quiet_days_by_kind: dict[str, float] = Field(
        default_factory=dict, description="The same per case kind (money, damp_mould, ...);"
                                          " kinds not named use reopen_quiet_days [days]")

    @model_validator(mode="after")
    def _quiet_days_known(self):
        from advisor.reopen import KNOWN_KINDS
        for kind, days in self.reopen_quiet_days_by_kind.items():
            if kind not in KNOWN_KINDS:
                raise ValueError(f"reopen_quiet_days_by_kind: unknown case kind {kind!r};"
                                 f" use one of {', '.join(KNOWN_KINDS)}")
            if days < 0:
                raise ValueError(f"reopen_quiet_days_by_kind.{kind} must be 0 or more days")
        return self
    # Issue 13, money risks: credit run-out counts for a household that lets its credit run
    # out (not one that always tops up in time).
    credit_pattern_days: int = Field(28, ge=1, le=90, description="Past days searched for the"
                                     " household's own running out of credit [days]")
    credit_pattern_min_days: int = Field(1, ge=1, description="Days with the balance at or"
                                         " below zero in them that make a pattern [days]")


EXAMPLE_HELP_PHONE = "0800 000 0000"


class NotifierSettings(Section):
    """[notifier]: SMS tips (owned by advisor/notify)."""

    sender: str = Field("outbox", pattern="^(outbox|notify)$",
                        description="outbox (JSON lines file) | notify (GOV.UK Notify)")
    outbox_path: Path = Field(Path("var/outbox.jsonl"), description="The local sender's file")
    timezone: str = Field("Europe/London", description="Quiet hours are local UK time")
    quiet_start: str = Field("20:00", pattern=r"^\d\d:\d\d$", description="Quiet hours begin")
    quiet_end: str = Field("09:00", pattern=r"^\d\d:\d\d$", description="Quiet hours end")
    min_interval_h: float = Field(72.0, ge=0, description="At most one tip per household per [h]")
    tip_min_severity: str = Field("medium", pattern="^(low|medium|high|emergency)$",
                                  description="Cases below this severity get no tip")
    tip_kinds: list[str] = Field(["credit_runout", "self_disconnection", "cold_home",
                                  "self_rationing", "damp_mould", "bill_shock", "fuel_poverty",
                                  "excess_heat"],
                                 description="Case kinds that send the tenant a tip")
    service_name: str = Field("Hearth energy service", description="Who the tips come from")
    notify_base_url: str = Field("https://api.notifications.service.gov.uk",
                                 description="GOV.UK Notify API (tests point it elsewhere)")
    notify_timeout_s: float = Field(10.0, gt=0, description="Per request to Notify [s]")
    # GOV.UK Notify template ids per tip (the text lives in Notify; `templates` mirrors it).
    template_ids: dict[str, str] = Field(default_factory=dict)
    templates: dict[str, str] = Field(default_factory=dict, description="Tip texts with"
                                      " ((placeholders)); empty: the built-in texts")
    help_phone: str = Field(EXAMPLE_HELP_PHONE, description="The landlord's help line in tips")
    emergency_credit_hint: str = Field("press A then Enter on your meter or call your supplier",
                                       description="How to take emergency credit")
    fuel_voucher_hint: str = Field("ask us about fuel vouchers from the Household Support Fund",
                                   description="Where to get fuel vouchers")
    # Two-way SMS (`hearth notify sync`): answers to replies. Template ids for GOV.UK Notify go
    # in template_ids under the same names (stop_confirmation, help_reply).
    stop_confirmation: str = Field(
        "((service)): you will get no more texts from us. To start them again call"
        " ((help_phone)).", min_length=1, description="The one text confirming a STOP reply")
    help_reply: str = Field(
        "((service)): for help call ((help_phone))((officer)). To stop our texts reply STOP.",
        min_length=1, description="The answer to a HELP reply; ((officer)) is ', or ask for"
        " <name>, your housing officer' when the patch has one officer")
    help_reply_min_interval_h: float = Field(
        1.0, ge=0, description="At most one HELP answer per household per [h] (no auto-reply"
        " loops)")

    @model_validator(mode="after")
    def _real_help_line_for_real_texts(self):
        # The default is an example number: tenants must never be texted a help line that
        # does not answer. The local outbox may keep it (demo and tests).
        if self.sender == "notify" and self.help_phone.strip() == EXAMPLE_HELP_PHONE:
            raise ValueError(f"help_phone is still the example {EXAMPLE_HELP_PHONE!r}: set the"
                             " landlord's real help line before sending texts through GOV.UK"
                             " Notify (sender = \"notify\")")
        return self


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
    """[reports]: the weekly report (advisor/reports)."""

    out_dir: Path = Field(Path("var/reports"), description="Where `hearth report weekly` writes")
    top_cost_homes: int = Field(20, ge=1, le=500, description="Homes listed by forecast 30-day cost")
    credit_runout_days: float = Field(7.0, gt=0, le=30, description="List homes whose credit runs"
                                      " out within this many days [days]")
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
        # No job-level retries: requests are retried inside the run, and a household's error
        # (a revoked consent, an unknown meter) would not go away by re-running all of them.
        JobSettings(name="import-smart-meter", cron="30 6 * * *", command=["import", "smart-meter"],
                    retries=0),
        JobSettings(name="notify-sync", cron="*/5 * * * *", command=["notify", "sync"],
                    retries=0, timeout_s=240.0),
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


class TenantsSettings(Section):
    """[tenants]: the tenant portal (tenants/)."""

    port: int = Field(8502, ge=1, le=65535, description="Port of `hearth tenant serve`")
    address: str = Field("127.0.0.1", min_length=1, description="Bind address (put a TLS proxy"
                         " in front for phones)")
    public_url: str = Field("http://127.0.0.1:8502", min_length=1, description="The address"
                            " tenants open (share links are built on it)")
    session_timeout_min: int = Field(30, ge=5, le=720, description="A sign-in lasts this long"
                                     " [min]")
    code_ttl_min: int = Field(10, ge=1, le=60, description="A sign-in code expires after [min]")
    code_max_tries: int = Field(5, ge=1, le=10, description="Wrong tries before a code is void")
    codes_per_number_per_hour: int = Field(3, ge=1, le=20, description="Code requests per mobile"
                                           " number per hour")
    attempts_per_address_per_hour: int = Field(20, ge=1, le=1000, description="Code requests"
                                               " plus wrong codes per network address per hour")
    code_template_id: str = Field("", description="GOV.UK Notify template id of the sign-in code"
                                  " text (needed with notifier.sender = \"notify\")")
    share_max_days: int = Field(90, ge=1, le=365, description="Longest a share link may last"
                                " [days]")
    photo_dir: Path = Field(Path("var/tenant_photos"), description="Where reported photos are kept")
    photo_max_bytes: int = Field(5_000_000, ge=10_000, le=50_000_000, description="Largest photo"
                                 " accepted [bytes]")
