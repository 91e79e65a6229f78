"""The aligned arrays every rule reads: one row per household, one column per time step.

`advisor.inputs` fills this from InfluxDB and the registry; tests and benchmarks build it
directly. Missing data is NaN; a rule that lacks an input it needs flags nobody.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

FUELS = ("electricity", "gas")
EPC_BANDS = "ABCDEFG"


@dataclass
class AdviceInputs:
    """Aligned arrays for H households.

    Recent series (H, S) on buckets of `step_h` hours ending at `now`:
      temp_c: mean indoor temperature over the home's rooms [C]
      living_temp_c: the living room's temperature [C] (NaN where it has no thermostat)
      min_temp_c / max_temp_c: coldest / warmest reading [C]; humidity_pct: the home's air,
      mean over its rooms [%RH]; max_humidity_pct: the most humid room's reading [%RH]
      heating_on: share of the bucket the heating was on [0..1]
      setpoint_c: thermostat setpoint [C]; supply_on[fuel]: the meter's supply switch [0/1]
      usage_kwh[fuel]: energy used in the bucket [kWh]
      counter_kwh[fuel]: meter's cumulative register at the end of the bucket [kWh]
      credit_gbp[fuel]: prepayment balance [GBP]; voltage_v: electricity supply voltage [V];
      power_w: the electricity meter's highest power reading [W]
    Daily arrays: history_kwh[fuel] (H, D) over the past days with the tariff that applied
      (history_rate_gbp_per_kwh, history_standing_gbp_per_day); forecast_kwh_p10/p50/p90[fuel]
      (H, F) for the coming days with forecast_rate_gbp_per_kwh and
      forecast_standing_gbp_per_day. last_year_kwh[fuel] (H, 30): the same 30 days a year
      before the forecast's (NaN where missing; the bill-shock baseline when held).
      credit_daily_min_gbp[fuel] (H, D): the lowest prepayment balance of each past day
      (`credit_pattern_days`; NaN without a reading), for the pattern of running out.
    Registry attributes (H,): prepayment, has_gas, gas_heating, epc_band (0=A..6=G, -1 unknown),
      means_tested_benefits, vulnerable, floor_area_m2.
    Devices (H, K), padded with NaN / "": device_ids, device_age_s (seconds since the last
      reading), device_interval_s (expected reporting interval), device_max_gap_s (longest gap
      between readings in the window), device_stuck_h (hours of readings repeating one value).
      Bulk history (source=backfill) apart: device_bulk_age_s (since its last bulk reading, for
      devices no collector has heard), device_bulk_interval_s (the registry interval or the bulk
      step, the longer), device_bulk_max_gap_s. device_repeats / device_repeat_s: the longest
      run of thermostat readings repeating the previous one exactly (count, span [s]);
      device_still_kwh: the most energy a run of standing meter registers should have counted,
      from the power or gas flow the meter itself reported [kWh].
    gas_volume_m3: the gas meter's volume register, highest in the bucket [m3] (H, S).
    bedroom_temp_c: the warmest bedroom's temperature (H, S) [C] (NaN: no bedroom thermostat).
    reference: the dated reference figures (`hearth.reference.ReferenceFigures`) read with the
      registry; None: the shipped ones.
    """

    households: np.ndarray
    now: datetime
    step_h: float
    step_times: np.ndarray
    temp_c: np.ndarray | None = None
    living_temp_c: np.ndarray | None = None
    bedroom_temp_c: np.ndarray | None = None
    min_temp_c: np.ndarray | None = None
    max_temp_c: np.ndarray | None = None
    humidity_pct: np.ndarray | None = None
    max_humidity_pct: np.ndarray | None = None
    heating_on: np.ndarray | None = None
    setpoint_c: np.ndarray | None = None
    voltage_v: np.ndarray | None = None
    power_w: np.ndarray | None = None
    supply_on: dict[str, np.ndarray] = field(default_factory=dict)
    usage_kwh: dict[str, np.ndarray] = field(default_factory=dict)
    counter_kwh: dict[str, np.ndarray] = field(default_factory=dict)
    credit_gbp: dict[str, np.ndarray] = field(default_factory=dict)
    history_kwh: dict[str, np.ndarray] = field(default_factory=dict)
    history_rate_gbp_per_kwh: dict[str, np.ndarray] = field(default_factory=dict)
    history_standing_gbp_per_day: dict[str, np.ndarray] = field(default_factory=dict)
    forecast_kwh_p10: dict[str, np.ndarray] = field(default_factory=dict)
    forecast_kwh_p50: dict[str, np.ndarray] = field(default_factory=dict)
    forecast_kwh_p90: dict[str, np.ndarray] = field(default_factory=dict)
    forecast_rate_gbp_per_kwh: dict[str, np.ndarray] = field(default_factory=dict)
    forecast_standing_gbp_per_day: dict[str, np.ndarray] = field(default_factory=dict)
    prepayment: np.ndarray | None = None
    has_gas: np.ndarray | None = None
    gas_heating: np.ndarray | None = None
    epc_band: np.ndarray | None = None
    means_tested_benefits: np.ndarray | None = None
    vulnerable: np.ndarray | None = None
    floor_area_m2: np.ndarray | None = None
    device_ids: np.ndarray | None = None
    device_age_s: np.ndarray | None = None
    device_interval_s: np.ndarray | None = None
    device_max_gap_s: np.ndarray | None = None
    device_stuck_h: np.ndarray | None = None
    device_bulk_age_s: np.ndarray | None = None
    device_bulk_interval_s: np.ndarray | None = None
    device_bulk_max_gap_s: np.ndarray | None = None
    device_repeats: np.ndarray | None = None
    device_repeat_s: np.ndarray | None = None
    device_still_kwh: np.ndarray | None = None
    gas_volume_m3: np.ndarray | None = None
    reference: object | None = None
    last_year_kwh: dict[str, np.ndarray] = field(default_factory=dict)
    credit_daily_min_gbp: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.households)

    def attr(self, name: str, default=0) -> np.ndarray:
        """A registry attribute (H,), or `default` for everyone when it is missing."""
        value = getattr(self, name)
        if value is None:
            return np.full(self.n, default)
        return np.asarray(value)

    def waking_temp_c(self) -> np.ndarray | None:
        """The temperature people live in while up and about (H, S) [C]: the living room's
        where the home has a thermostat there, else the mean over its rooms. Bedrooms and halls
        run cooler than the living room by design, so their mean is not the room people sit in."""
        if self.living_temp_c is None:
            return self.temp_c
        if self.temp_c is None:
            return self.living_temp_c
        living = np.asarray(self.living_temp_c, dtype=np.float64)
        return np.where(np.isfinite(living), living, self.temp_c)

    def heating_season(self, months: list[int]) -> np.ndarray:
        """Per step, whether it falls in the heating season (S,)."""
        month = np.asarray(self.step_times, dtype="datetime64[M]").astype(np.int64) % 12 + 1
        return np.isin(month, np.asarray(months))


def epc_index(bands) -> np.ndarray:
    """EPC band letters to 0 (A) .. 6 (G); -1 where unknown."""
    lookup = {b: i for i, b in enumerate(EPC_BANDS)}
    return np.array([lookup.get(str(b).strip().upper(), -1) if b else -1 for b in bands],
                    dtype=np.int8)
