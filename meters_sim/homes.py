"""The portfolio of simulated homes as arrays: registry attributes, derived physics, latent traits.

`Portfolio.from_rows(rows, seed)` takes household rows shaped like the registry's `households`
table (docs/architecture.md) and draws, reproducibly by seed and household id, everything the
registry does not hold: the home's physics and the tenants' habits (the latent traits the
advisor should find: self-rationing, poor ventilation with indoor drying, constrained
prepayment top-ups, deliberate self-disconnection).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from meters_sim import params as pm

OCCUPANCY_TYPES = ("working", "home_all_day", "night_worker")
PROPERTY_TYPES = tuple(pm.EXPOSURE_BY_PROPERTY)
EPC_BANDS = tuple(pm.HLP_BY_EPC_W_PER_M2K)

# Trait prevalences (share of eligible homes), chosen so that in a winter month each risk
# shows in roughly 5-20 % of a social-housing portfolio (docs/simulator.md, "Latent traits").
TRAIT_RATES = {
    "self_rationing": 0.05,          # any home; more likely when prepayment or low income
    "poor_ventilation": 0.18,        # any home
    "indoor_drying": 0.35,           # dries laundry indoors all year
    "constrained_topup": 0.20,       # prepayment homes only
    "deliberate_disconnect": 0.08,   # prepayment homes only
}


def household_rng(seed: int, household_id: str, stream: str = "traits") -> np.random.Generator:
    """A generator that depends only on the seed, the household id and the stream name, so a
    home keeps its traits when others are added to the registry."""
    digest = hashlib.blake2b(f"{stream}:{household_id}".encode(), digest_size=8).digest()
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int.from_bytes(digest, "little")])


@dataclass(frozen=True)
class Tariff:
    unit_rate_gbp_per_kwh: float
    standing_charge_gbp_per_day: float


def tariffs_from_rows(rows: Iterable[Mapping] | None, on_date: str | None = None
                      ) -> dict[tuple[str, str], Tariff]:
    """(fuel, payment_type) -> Tariff from registry `tariffs` rows valid on `on_date`
    (ISO date; default: the latest valid_from). Missing pairs fall back to params defaults."""
    out: dict[tuple[str, str], Tariff] = {}
    chosen: dict[tuple[str, str], str] = {}
    for row in rows or ():
        key = (str(row["fuel"]), str(row["payment_type"]))
        start, end = str(row["valid_from"]), row.get("valid_to")
        if on_date is not None and (start > on_date or (end and str(end) < on_date)):
            continue
        if key not in chosen or start > chosen[key]:
            chosen[key] = start
            out[key] = Tariff(float(row["unit_rate_gbp_per_kwh"]),
                              float(row["standing_charge_gbp_per_day"]))
    for fuel, values in pm.DEFAULT_TARIFFS.items():
        for payment in ("prepayment", "credit"):
            out.setdefault((fuel, payment), Tariff(**values))
    return out


@dataclass
class Portfolio:
    """Per-household arrays, all shaped (households,). Units in the names."""

    household_id: np.ndarray          # str
    area: np.ndarray                  # str, weather area (registry address_area)
    area_index: np.ndarray            # int, index into `areas`
    areas: list[str]
    property_type: np.ndarray         # str
    floor_area_m2: np.ndarray
    epc_band: np.ndarray              # str
    electric_heating: np.ndarray      # bool: heating == 'electric'
    has_gas: np.ndarray               # bool
    prepayment: np.ndarray            # bool
    vulnerable: np.ndarray            # bool
    occupancy: np.ndarray             # int index into OCCUPANCY_TYPES
    occupants: np.ndarray             # int
    # physics
    hlc_w_per_k: np.ndarray           # heat transfer coefficient
    c_air_j_per_k: np.ndarray
    c_fabric_j_per_k: np.ndarray
    h_air_out_w_per_k: np.ndarray     # windows and infiltration (air node to outside)
    h_air_fabric_w_per_k: np.ndarray
    h_fabric_out_w_per_k: np.ndarray
    h_neighbour_w_per_k: np.ndarray   # party walls/floors to neighbouring homes
    heater_w: np.ndarray              # maximum heat output of the heating system
    f_rsi: np.ndarray                 # coldest-surface temperature factor
    volume_m3: np.ndarray
    solar_factor: np.ndarray          # solar gain relative to an average aspect (~0.85-2.4)
    window_habit: np.ndarray          # how far windows are opened for cooling (0.2-1)
    # habits
    comfort_setpoint_c: np.ndarray
    night_setpoint_c: np.ndarray      # 10 C means "off" at night
    season_threshold_c: np.ndarray    # heating switched on when the 3-day mean is below this
    wake_h: np.ndarray                # local hour of getting up (working day)
    sleep_h: np.ndarray               # local hour of going to bed
    leave_h: np.ndarray
    return_h: np.ndarray
    base_ach: np.ndarray              # background ventilation [air changes per hour]
    standby_w: np.ndarray
    appliance_scale: np.ndarray       # household's appetite for appliances (~1)
    has_tumble_dryer: np.ndarray      # bool
    # prepayment habits
    topup_threshold_gbp: np.ndarray
    topup_amount_gbp: np.ndarray
    money_day: np.ndarray             # int 0-6: the weekday money arrives (constrained homes)
    uses_emergency_credit: np.ndarray  # bool
    initial_credit_gbp: np.ndarray
    ration_spells: np.ndarray         # bool: rations by heating only short spells
    # latent traits (truth)
    traits: dict[str, np.ndarray] = field(default_factory=dict)
    tariffs: dict[tuple[str, str], Tariff] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.household_id)

    def index(self, household_id: str) -> int:
        hits = np.flatnonzero(self.household_id == household_id)
        if not len(hits):
            raise KeyError(f"household {household_id!r} is not in the simulated portfolio")
        return int(hits[0])

    def rates(self, fuel: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-home (unit rate [GBP/kWh], standing charge [GBP/day]) of one fuel."""
        unit = np.empty(self.n)
        standing = np.empty(self.n)
        for payment, mask in (("prepayment", self.prepayment), ("credit", ~self.prepayment)):
            t = self.tariffs[(fuel, payment)]
            unit[mask], standing[mask] = t.unit_rate_gbp_per_kwh, t.standing_charge_gbp_per_day
        return unit, standing

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping], seed: int,
                  tariff_rows: Iterable[Mapping] | None = None,
                  tariff_date: str | None = None) -> Portfolio:
        """`rows`: registry households; `tariff_rows`: registry tariffs, those valid on
        `tariff_date` (ISO date; default the latest) are used for prepayment charges."""
        rows = list(rows)
        if not rows:
            raise ValueError("no households to simulate: create some with `hearth registry`"
                             " or pass --households N")

        def col(name, default=None):
            try:
                return [r[name] if r.get(name) is not None else default for r in rows]
            except KeyError:
                raise ValueError(f"household rows lack the column {name!r}") from None

        hid = np.array(col("household_id"), dtype=object)
        area = np.array([str(a or "default") for a in col("address_area", "default")], dtype=object)
        areas = sorted(set(area))
        area_index = np.array([areas.index(a) for a in area])
        ptype = np.array([str(p).lower() for p in col("property_type", "flat")], dtype=object)
        bad = set(ptype) - set(PROPERTY_TYPES)
        if bad:
            raise ValueError(f"unknown property_type {sorted(bad)}; expected {PROPERTY_TYPES}")
        epc = np.array([str(e).upper() for e in col("epc_band", "D")], dtype=object)
        bad = set(epc) - set(EPC_BANDS)
        if bad:
            raise ValueError(f"unknown epc_band {sorted(bad)}; expected one of A..G")
        occ_names = [str(o) for o in col("occupancy", "working")]
        bad = set(occ_names) - set(OCCUPANCY_TYPES)
        if bad:
            raise ValueError(f"unknown occupancy {sorted(bad)}; expected one of {OCCUPANCY_TYPES}")
        occupancy = np.array([OCCUPANCY_TYPES.index(o) for o in occ_names])
        floor = np.array(col("floor_area_m2", 70.0), dtype=float)
        if (floor <= 10).any() or (floor > 1000).any():
            raise ValueError("floor_area_m2 must be between 10 and 1000 m2")
        has_gas = np.array([bool(int(g)) for g in col("has_gas", 1)])
        electric = np.array([str(h).lower() == "electric" for h in col("heating", "gas")])
        electric |= ~has_gas
        prepay = np.array([str(p).lower() == "prepayment" for p in col("payment_type", "credit")])
        vulnerable = np.array([bool(int(v)) for v in col("vulnerable", 0)])
        benefits = np.array([bool(int(v)) for v in col("means_tested_benefits", 0)])
        occupants = np.clip(np.array(col("occupants", 2), dtype=int), 1, 12)

        rngs = [household_rng(seed, h) for h in hid]
        # One row of uniforms per home: independent of the other homes and of their order.
        U = np.array([r.random(40) for r in rngs])
        Z = np.array([r.standard_normal(20) for r in rngs])

        # Fabric by EPC band; an electric home's band reflects its dearer fuel, not its fabric.
        band_index = np.array([EPC_BANDS.index(e) for e in epc], dtype=float)
        band_index = np.maximum(band_index - pm.ELECTRIC_EPC_FABRIC_SHIFT_BANDS * electric, 0.0)
        hlp_table = np.array([pm.HLP_BY_EPC_W_PER_M2K[b] for b in EPC_BANDS])
        hlp = np.interp(band_index, np.arange(len(EPC_BANDS)), hlp_table) * np.exp(0.12 * Z[:, 0])
        exposure = np.array([pm.EXPOSURE_BY_PROPERTY[p] for p in ptype])
        hlc = hlp * exposure * floor
        # Aspect and position (latent: the registry does not hold them) drive summer heat.
        stacked = np.isin(ptype, ["flat", "maisonette"])
        top_floor = stacked & (U[:, 20] < pm.TOP_FLOOR_SHARE)
        south = U[:, 21] < pm.SOUTH_FACING_SHARE
        solar_factor = (np.where(south, pm.SOLAR_FACTOR_SOUTH, pm.SOLAR_FACTOR_OTHER)
                        * np.where(top_floor, pm.TOP_FLOOR_SOLAR_FACTOR, 1.0))
        h_air_out = pm.DIRECT_AIR_LOSS_SHARE * hlc
        h_af = pm.AIR_FABRIC_COUPLING_W_PER_M2K * floor
        fabric_loss = hlc - h_air_out
        h_fo = 1.0 / (1.0 / fabric_loss - 1.0 / h_af)
        volume = floor * pm.CEILING_HEIGHT_M

        # Traits: prevalence raised by the circumstances that drive them in practice.
        poor = ~np.isin(epc, ["A", "B", "C"])
        t = TRAIT_RATES
        ration_p = t["self_rationing"] * (1 + 0.8 * prepay + 0.5 * benefits + 0.5 * poor)
        traits = {
            "self_rationing": U[:, 0] < ration_p,
            "poor_ventilation": U[:, 1] < t["poor_ventilation"] * (1 + 0.5 * poor),
            "indoor_drying": U[:, 2] < t["indoor_drying"],
            "constrained_topup": prepay & (U[:, 3] < t["constrained_topup"] * (1 + 0.5 * benefits)),
            "deliberate_disconnect": prepay & (U[:, 4] < t["deliberate_disconnect"]),
            "top_floor": top_floor,
            "south_facing": south,
        }
        comfort = np.clip(20.0 + 0.9 * Z[:, 1] + 0.7 * vulnerable
                          + pm.ELECTRIC_HEATING_COMFORT_OFFSET_C * electric, 18.0, 23.0)
        # Self-rationing: either a low setpoint all day (14.5-17 C) or short heating spells.
        spells = traits["self_rationing"] & (U[:, 19] < 0.5)
        comfort = np.where(traits["self_rationing"] & ~spells, 14.5 + 2.5 * U[:, 5], comfort)
        night = np.where((U[:, 6] < 0.5) | traits["self_rationing"], 10.0, comfort - 3.0)
        season = np.clip(14.0 + 1.0 * Z[:, 2], 12.0, 16.5)
        wake = 6.5 + 1.2 * U[:, 7]
        sleep = 22.3 + 1.4 * U[:, 8]
        leave = wake + 0.6 + 0.8 * U[:, 9]
        ret = 16.8 + 2.0 * U[:, 10]
        base_ach = np.where(traits["poor_ventilation"], 0.18 + 0.15 * U[:, 11],
                            0.55 + 0.5 * U[:, 11])
        standby = 25.0 + 60.0 * U[:, 12]    # router, standby lights; the fridge cycles apart
        scale = np.exp(0.25 * Z[:, 3]) * (0.6 + 0.2 * occupants) ** 0.7
        dryer = ~traits["indoor_drying"] & (U[:, 13] < 0.55)

        constrained = traits["constrained_topup"] | traits["deliberate_disconnect"]
        threshold = np.where(constrained, 0.0, 4.0 + 8.0 * U[:, 14])
        amount = np.where(constrained, 5.0 + 7.0 * U[:, 15], 20.0 + 20.0 * U[:, 15])
        emergency = ~traits["deliberate_disconnect"] & (U[:, 16] < np.where(constrained, 0.6, 0.9))
        # Constrained households carry little credit (a top-up lasts them days, not weeks).
        initial = np.where(prepay, np.where(constrained, 2.0 + 10.0 * U[:, 17],
                                            5.0 + 20.0 * U[:, 17]), 0.0)

        return cls(
            household_id=hid, area=area, area_index=area_index, areas=areas, property_type=ptype,
            floor_area_m2=floor, epc_band=epc, electric_heating=electric, has_gas=has_gas,
            prepayment=prepay, vulnerable=vulnerable, occupancy=occupancy, occupants=occupants,
            hlc_w_per_k=hlc, c_air_j_per_k=pm.AIR_CAPACITY_J_PER_M3K * volume,
            c_fabric_j_per_k=pm.FABRIC_CAPACITY_J_PER_M2K * floor * np.exp(0.2 * Z[:, 4]),
            h_air_out_w_per_k=h_air_out, h_air_fabric_w_per_k=h_af, h_fabric_out_w_per_k=h_fo,
            h_neighbour_w_per_k=np.array([pm.NEIGHBOUR_W_PER_M2K[p] for p in ptype]) * floor
            * np.where(top_floor, pm.TOP_FLOOR_NEIGHBOUR_FACTOR, 1.0),
            heater_w=np.where(electric, np.minimum(pm.ELECTRIC_HEATER_OVERSIZE * hlc
                                                   * pm.DESIGN_DELTA_T_K, pm.ELECTRIC_HEATER_MAX_W),
                              pm.HEATER_OVERSIZE * hlc * pm.DESIGN_DELTA_T_K),
            f_rsi=np.clip(np.array([pm.F_RSI_BY_EPC[e] for e in epc]) + 0.03 * Z[:, 5], 0.4, 0.95),
            volume_m3=volume, solar_factor=solar_factor,
            window_habit=pm.WINDOW_HABIT_RANGE[0]
            + (pm.WINDOW_HABIT_RANGE[1] - pm.WINDOW_HABIT_RANGE[0]) * U[:, 22],
            comfort_setpoint_c=comfort, night_setpoint_c=night,
            season_threshold_c=season, wake_h=wake, sleep_h=sleep, leave_h=leave, return_h=ret,
            base_ach=base_ach, standby_w=standby, appliance_scale=scale, has_tumble_dryer=dryer,
            topup_threshold_gbp=threshold, topup_amount_gbp=amount,
            money_day=(U[:, 18] * 7).astype(int), uses_emergency_credit=emergency,
            initial_credit_gbp=initial, traits=traits, ration_spells=spells,
            tariffs=tariffs_from_rows(tariff_rows, tariff_date),
        )


def synthetic_households(n: int, seed: int) -> list[dict]:
    """Household rows in the registry's schema, for tests and when no registry is available.
    The registry's own generator is the one `hearth sim` uses; this mirrors its columns."""
    rng = np.random.default_rng([int(seed), 0x4845])
    rows = []
    areas = ["north", "south", "east", "west"]
    for i in range(n):
        ptype = rng.choice(PROPERTY_TYPES, p=[0.45, 0.1, 0.35, 0.1])
        bedrooms = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.35, 0.28, 0.07]))
        floor = float(np.round(30 + 18 * bedrooms + rng.normal(0, 6), 1))
        has_gas = bool(rng.random() < 0.82)
        rows.append({
            "household_id": f"H{i + 1:06d}", "patch": f"P{i % 10 + 1:02d}",
            "estate": f"E{i % 25 + 1:02d}", "address_area": areas[i % len(areas)],
            "property_type": str(ptype), "bedrooms": bedrooms, "floor_area_m2": max(floor, 25.0),
            "payment_type": "prepayment" if rng.random() < 0.35 else "credit",
            "has_gas": int(has_gas), "heating": "gas" if has_gas else "electric",
            "epc_band": str(rng.choice(list("ABCDEFG"),
                                        p=[0.01, 0.1, 0.37, 0.35, 0.12, 0.04, 0.01])),
            "means_tested_benefits": int(rng.random() < 0.55),
            "vulnerable": int(rng.random() < 0.2),
            "occupancy": str(rng.choice(OCCUPANCY_TYPES, p=[0.45, 0.45, 0.10])),
            "occupants": int(min(max(1, bedrooms + rng.integers(-1, 2)), 6)),
        })
    return rows
