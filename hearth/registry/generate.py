"""A realistic, reproducible UK social-housing portfolio for demos, simulators and tests.

Everything is drawn with one ``numpy.random.Generator`` seeded by ``seed`` in a fixed order, and
dates are relative to ``as_of``: the same (households, seed, as_of, gateway options) give the same
registry, row for row. Sampling is vectorised; 100,000 homes take a few seconds.

The proportions (documented in docs/registry.md and checked by the tests):

- homes sit in blocks of flats (12-60 homes) or streets (10-40 homes), in random order;
  blocks form estates (1-4 blocks); estates form officer patches of about 200 homes.
- the home mix follows the English Housing Survey's SOCIAL rented stock (sources in
  docs/simulator.md, "Stock mix"), by quota so that every seed has it (to a home, not by
  chance): exactly 44% of homes in blocks of flats (flat 39.6%, maisonette 4.4%), 56% on
  streets (house 47%, bungalow 9%); floor areas ~45-90 m2 (mean ~65 m2); EPC bands A-C ~65%, D ~28%, E-G ~7%
  (electric-heated homes one band worse: their rating prices the dearer fuel).
- means-tested benefits ~50%; prepayment ~40% (50% with benefits, 30% without).
- electric heating and no gas ~11% (exactly 20% of flats, 5% of other homes); otherwise gas +
  electricity.
- vulnerable ~25%; occupancy working / home_all_day / night_worker ~42/47/11%.
- tenants: one lead tenant per home plus a joint tenant in ~25% of homes with two or more people;
  fake names; mobiles only in Ofcom's drama range 07700 900000-900999; SMS consent ~60% of
  tenants, with a time and source; ~4% of those opted out since.
- devices: one electricity meter per home, a gas meter where there is gas, a living-room
  thermostat in every home and a bedroom one in ~50%. Meters of ~80% of homes are on Modbus
  behind the block's gateway(s) (unit ids 1..units_per_gateway, port = base port + gateway
  index), the rest and all thermostats on MQTT (``hearth/<household>/<device>/<kind>``).
- tariffs: per fuel and payment type, the current quarter (open-ended) and the four before it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from hearth.errors import HearthError
from hearth.registry.models import (
    CONSENT_SOURCES,
    DEFAULT_GATEWAY_BASE_PORT,
    DEFAULT_GATEWAY_HOST,
    DEFAULT_PATCH_SIZE,
    DEFAULT_UNITS_PER_GATEWAY,
    EPC_BANDS,
    OCCUPANCY,
    REGISTER_MAP_BY_KIND,
)
from hearth.registry.store import (
    DEVICE_COLUMNS,
    HOUSEHOLD_COLUMNS,
    TARIFF_COLUMNS,
    TENANT_COLUMNS,
    Registry,
    RegistryError,
)

log = logging.getLogger(__name__)

METER_INTERVAL_S = 60               # meters: one reading a minute (Modbus poll or MQTT publish)
THERMOSTAT_INTERVAL_S = 300         # thermostats: one reading every five minutes
PATCH_SIZE = DEFAULT_PATCH_SIZE     # homes per housing officer's patch (about)

# Shares (see the module docstring); the tests check the generated portfolio against these.
FLAT_BLOCK_SIZE = (12, 60)
STREET_SIZE = (10, 40)
FLAT_IN_BLOCK = 0.90                # the rest of a block of flats are maisonettes
HOUSE_IN_STREET = 0.84              # the rest of a street are bungalows
HOMES_IN_FLAT_BLOCKS = 0.44          # EHS 2019-20: 44 % of social homes are flats, 56 % houses and bungalows
BENEFITS = 0.50
PREPAY_WITH_BENEFITS, PREPAY_WITHOUT = 0.50, 0.30
ELECTRIC_FLAT, ELECTRIC_OTHER = 0.20, 0.05
EPC_P = (0.005, 0.09, 0.555, 0.28, 0.057, 0.01, 0.003)
ELECTRIC_EPC_SHIFT = 1              # bands worse for electric-heated homes (capped at G)
VULNERABLE = 0.25
OCCUPANCY_P_VULNERABLE = (0.20, 0.72, 0.08)
OCCUPANCY_P_OTHER = (0.50, 0.38, 0.12)
TENANCY_MEAN_YEARS, TENANCY_MAX_YEARS = 8.0, 40.0
JOINT_TENANT = 0.25
HAS_MOBILE = 0.92
SMS_CONSENT = 0.60                  # of all tenants (only those with a mobile can consent)
OPTED_OUT = 0.04                    # of those who consented
CONSENT_SOURCE_P = (0.35, 0.25, 0.15, 0.15, 0.05, 0.05)
SHARE_WITH_SUPPLIER = 0.30
MQTT_METERS = 0.20                  # share of homes whose meters publish over MQTT
BEDROOM_THERMOSTAT = 0.50

BEDROOMS = {  # property type -> (bedroom counts, probabilities)
    "flat": ((0, 1, 2, 3), (0.10, 0.45, 0.35, 0.10)),
    "maisonette": ((2, 3, 4), (0.50, 0.45, 0.05)),
    "house": ((2, 3, 4, 5), (0.30, 0.55, 0.13, 0.02)),
    "bungalow": ((1, 2, 3), (0.45, 0.50, 0.05)),
}
FLOOR_AREA_M2 = {  # property type -> (base [m2], per bedroom [m2]); social homes are small
    "flat": (28.0, 15.0), "maisonette": (35.0, 16.0), "house": (40.0, 15.0),
    "bungalow": (32.0, 15.0),
}
# Current quarter's rates per (fuel, payment type): unit rate [GBP/kWh], standing charge
# [GBP/day], near Ofgem's price cap; prepayment pays a slightly lower standing charge.
CURRENT_RATES = {
    ("electricity", "credit"): (0.2635, 0.5368),
    ("electricity", "prepayment"): (0.2550, 0.5122),
    ("gas", "credit"): (0.0629, 0.3238),
    ("gas", "prepayment"): (0.0601, 0.3012),
}
# Price factor of the current quarter and the four before it (newest first).
QUARTER_FACTORS = (1.0, 0.975, 1.02, 1.045, 0.99)

PATCH_NAMES = ("North", "Riverside", "Eastfield", "Westgate", "Southbank", "Hillside",
               "Parkview", "Millbrook", "Canalside", "Oakwood", "Bridgend", "Highfield",
               "Longmoor", "Castle", "Meadowside", "Stonebridge", "Fairfield", "Kingsway",
               "Brookside", "Ashgrove", "Harbour", "Moorland", "Greenhill", "Lakeside")
STEMS = ("Alder", "Beech", "Cedar", "Elm", "Hazel", "Holly", "Juniper", "Laurel", "Linden",
         "Maple", "Rowan", "Willow", "Ash", "Birch", "Chestnut", "Hawthorn", "Poplar", "Yew",
         "Larch", "Sycamore", "Heron", "Kestrel", "Lark", "Wren", "Falcon", "Swallow", "Mallard",
         "Kingfisher", "Plover", "Curlew")
ESTATE_SUFFIXES = ("Estate", "Park", "Green", "Fields", "Grove")
BLOCK_SUFFIXES = ("House", "Court", "Tower", "Heights", "Point")
STREET_SUFFIXES = ("Road", "Close", "Way", "Gardens", "Crescent", "Lane")
FIRST_NAMES = ("Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Sophia", "Lily", "Freya",
               "Emily", "Aisha", "Fatima", "Zara", "Chloe", "Ruby", "Megan", "Sarah", "Karen",
               "Joan", "Margaret", "Patricia", "Agnieszka", "Oliver", "George", "Noah", "Arthur",
               "Leo", "Harry", "Oscar", "Jack", "Jacob", "Mohammed", "Ali", "Daniel", "Liam",
               "Connor", "Kwame", "Tomasz", "David", "John", "Peter", "Michael", "Stephen",
               "Paul", "Andrew", "Gary", "Dylan", "Rhys", "Callum", "Ewan")
SURNAMES = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
            "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts",
            "Green", "Hall", "Thomas", "Clarke", "Jackson", "Wood", "Harris", "Edwards",
            "Turner", "Martin", "Cooper", "Hill", "Ward", "Hughes", "Moore", "Clark", "King",
            "Harrison", "Lewis", "Baker", "Lee", "Allen", "Morris", "Khan", "Ahmed", "Begum",
            "Kowalski", "Nowak", "Okafor", "Mensah", "Campbell", "Murphy", "Kelly", "O'Brien")
VULNERABILITY_NOTES = ("aged over 75", "child under 5", "disability", "long-term illness",
                       "medical equipment at home", "mental health", "pregnancy",
                       "hearing or sight impairment", "recently bereaved")


@dataclass(frozen=True)
class GenerateOptions:
    households: int
    seed: int = 42
    as_of: date | None = None               # default today (UTC); fixes tenancy and tariff dates
    gateway_host: str = DEFAULT_GATEWAY_HOST
    gateway_base_port: int = DEFAULT_GATEWAY_BASE_PORT
    units_per_gateway: int = DEFAULT_UNITS_PER_GATEWAY
    patch_size: int = PATCH_SIZE            # homes per officer's patch (about; whole estates)

    def validate(self) -> None:
        if not 1 <= self.households <= 2_000_000:
            raise HearthError(f"--households {self.households}: give 1 to 2,000,000")
        if not 1 <= self.units_per_gateway <= 247:
            raise HearthError(f"--units-per-gateway {self.units_per_gateway}: Modbus unit ids "
                              "run 1 to 247")
        if not 1024 <= self.gateway_base_port <= 65535:
            raise HearthError(f"--gateway-base-port {self.gateway_base_port}: use 1024-65535")
        if not 10 <= self.patch_size <= 100_000:
            raise HearthError(f"--patch-size {self.patch_size}: give 10 to 100,000 homes")


@dataclass
class Portfolio:
    """Generated rows as column arrays, ready for executemany."""

    households: dict[str, np.ndarray]
    tenants: dict[str, np.ndarray]
    devices: dict[str, np.ndarray]
    tariffs: list[tuple[Any, ...]]
    consent_log: list[tuple[Any, ...]]
    gateways: int

    @staticmethod
    def rows(columns: dict[str, np.ndarray], names: tuple[str, ...]) -> list[tuple[Any, ...]]:
        # tolist() turns numpy scalars into Python ones, which sqlite3 can bind.
        return list(zip(*(columns[c].tolist() for c in names), strict=True))


def _choice(rng: np.random.Generator, values, p, size: int) -> np.ndarray:
    return np.asarray(values)[rng.choice(len(values), size=size, p=np.asarray(p) / np.sum(p))]


def _iso_days(base: date, offsets_days: np.ndarray) -> np.ndarray:
    days = np.datetime64(base, "D") + offsets_days.astype("timedelta64[D]")
    return days.astype(str).astype(object)


def _iso_times(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds -> 'YYYY-MM-DDTHH:MM:SSZ' (object array)."""
    t = seconds.astype("datetime64[s]").astype(str)
    return np.char.add(t, "Z").astype(object)


def _quarter_start(day: date, back: int) -> date:
    q = (day.year * 4 + (day.month - 1) // 3) - back
    return date(q // 4, (q % 4) * 3 + 1, 1)


def _patches(estate_homes: list[int], patch_size: int = PATCH_SIZE) -> np.ndarray:
    """Group consecutive estates into patches as close to `patch_size` homes as whole estates
    allow (greedy: close a patch when the next estate would take it further from the size)."""
    out, patch, homes = [], 0, 0
    for size in estate_homes:
        if homes and abs(homes + size - patch_size) > abs(homes - patch_size):
            patch, homes = patch + 1, 0
        out.append(patch)
        homes += size
    return np.array(out, dtype=np.int64)


def _exact_pick(rng: np.random.Generator, candidates: np.ndarray, share: float) -> np.ndarray:
    """Exactly round(share x len(candidates)) of `candidates` (indices), chosen at random.

    A quota rather than one coin per home, so that the realised mix of every seed is the
    target mix (to half a home), not the target plus binomial noise."""
    k = round(share * candidates.size)
    return rng.permutation(candidates)[:k]


def _sizes_summing_to(rng: np.random.Generator, total: int, bounds: tuple[int, int]
                      ) -> np.ndarray:
    """Block (or street) sizes drawn uniformly within `bounds` that add up to `total`; the
    last is cut to fit, and a cut-off remainder below the minimum joins the previous one
    (so sizes stay within bounds except a portfolio smaller than one block, or a last block
    of up to min + max - 1 homes)."""
    if total <= 0:
        return np.zeros(0, dtype=np.int64)
    k = total // bounds[0] + 1
    size = rng.integers(bounds[0], bounds[1] + 1, k)
    cum = np.cumsum(size)
    nb = int(np.searchsorted(cum, total)) + 1
    size = size[:nb].copy()
    size[-1] -= int(cum[nb - 1]) - total
    if nb > 1 and size[-1] < bounds[0]:
        size[-2] += size[-1]
        size = size[:-1]
    return size


def _layout(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(is a block of flats, homes) per block: exactly HOMES_IN_FLAT_BLOCKS of the n homes
    in blocks of flats, the rest in streets, blocks in random order (estates mix both).

    Drawing each block's kind by chance left the flat share of 1,000 homes (a few dozen
    blocks) swinging by +-10 points between seeds; a seed's portfolio now has the English
    Housing Survey's mix whatever the seed (docs/simulator.md, "Stock mix")."""
    in_flats = round(HOMES_IN_FLAT_BLOCKS * n)
    flats = _sizes_summing_to(rng, in_flats, FLAT_BLOCK_SIZE)
    streets = _sizes_summing_to(rng, n - in_flats, STREET_SIZE)
    kind = np.concatenate([np.ones(flats.size, bool), np.zeros(streets.size, bool)])
    size = np.concatenate([flats, streets])
    order = rng.permutation(size.size)
    return kind[order], size[order].astype(np.int64)


def _property_types(rng: np.random.Generator, in_flat_block: np.ndarray) -> np.ndarray:
    """Flat or maisonette in blocks, house or bungalow in streets, in the target shares."""
    ptype = np.where(in_flat_block, "flat", "house").astype(object)
    ptype[_exact_pick(rng, np.flatnonzero(in_flat_block), 1 - FLAT_IN_BLOCK)] = "maisonette"
    ptype[_exact_pick(rng, np.flatnonzero(~in_flat_block), 1 - HOUSE_IN_STREET)] = "bungalow"
    return ptype


def _electric_heating(rng: np.random.Generator, ptype: np.ndarray) -> np.ndarray:
    """Electric-heated (no gas) homes: exactly ELECTRIC_FLAT of flats, ELECTRIC_OTHER of the
    others, so the gas-heated homes' mix by dwelling type is the same on every seed."""
    electric = np.zeros(ptype.size, dtype=bool)
    flat = ptype == "flat"
    electric[_exact_pick(rng, np.flatnonzero(flat), ELECTRIC_FLAT)] = True
    electric[_exact_pick(rng, np.flatnonzero(~flat), ELECTRIC_OTHER)] = True
    return electric


def generate_portfolio(opts: GenerateOptions) -> Portfolio:
    """Draw the whole portfolio (pure: no I/O)."""
    opts.validate()
    as_of = opts.as_of or datetime.now(UTC).date()
    rng = np.random.default_rng(opts.seed)
    n = opts.households

    # Blocks of flats and streets of houses whose homes add up to n, in the target shares.
    flat_block, size = _layout(rng, n)
    nb = size.size
    block = np.repeat(np.arange(nb), size)

    # Estates of 1-4 consecutive blocks; patches of about PATCH_SIZE homes of whole estates.
    estate_of_block = np.repeat(np.arange(nb), rng.integers(1, 5, nb))[:nb]
    estate_of_block = np.unique(estate_of_block, return_inverse=True)[1]
    n_estates = int(estate_of_block.max()) + 1
    estate_homes = np.bincount(estate_of_block, weights=size, minlength=n_estates)
    patch_of_estate = _patches(estate_homes.astype(np.int64).tolist(), opts.patch_size)
    n_patches = int(patch_of_estate.max()) + 1
    patch_names = np.array([PATCH_NAMES[i % len(PATCH_NAMES)]
                            + ("" if i < len(PATCH_NAMES) else f" {i // len(PATCH_NAMES) + 1}")
                            for i in range(n_patches)], dtype=object)
    combos = [f"{s} {x}" for x in ESTATE_SUFFIXES for s in STEMS]
    order = rng.permutation(len(combos))
    estate_names = np.array([combos[order[i % len(combos)]]
                             + ("" if i < len(combos) else f" {i // len(combos) + 1}")
                             for i in range(n_estates)], dtype=object)
    stem_i = rng.integers(0, len(STEMS), nb)
    suffix_i = rng.integers(0, 30, nb)
    block_names = np.array([
        f"{STEMS[s]} {BLOCK_SUFFIXES[x % len(BLOCK_SUFFIXES)]}" if fb
        else f"{STEMS[s]} {STREET_SUFFIXES[x % len(STREET_SUFFIXES)]}"
        for s, x, fb in zip(stem_i.tolist(), suffix_i.tolist(), flat_block.tolist(),
                            strict=True)], dtype=object)
    estate = estate_of_block[block]

    # Homes.
    in_flat_block = flat_block[block]
    ptype = _property_types(rng, in_flat_block)
    bedrooms = np.zeros(n, dtype=np.int64)
    base_area = np.zeros(n)
    per_bed = np.zeros(n)
    for name, (counts, p) in BEDROOMS.items():
        sel = np.flatnonzero(ptype == name)
        bedrooms[sel] = _choice(rng, counts, p, sel.size)
        base_area[sel], per_bed[sel] = FLOOR_AREA_M2[name]
    floor_area = np.round((base_area + per_bed * np.maximum(bedrooms, 0.5))
                          * rng.lognormal(0.0, 0.08, n), 1)
    benefits = rng.random(n) < BENEFITS
    prepay = rng.random(n) < np.where(benefits, PREPAY_WITH_BENEFITS, PREPAY_WITHOUT)
    electric = _electric_heating(rng, ptype)
    epc_i = rng.choice(len(EPC_BANDS), size=n, p=np.asarray(EPC_P) / np.sum(EPC_P))
    epc_i = np.minimum(epc_i + ELECTRIC_EPC_SHIFT * electric, len(EPC_BANDS) - 1)
    epc = np.asarray(EPC_BANDS, dtype=object)[epc_i]
    vulnerable = rng.random(n) < VULNERABLE
    note_a = rng.integers(0, len(VULNERABILITY_NOTES), n)
    note_b = (note_a + rng.integers(1, len(VULNERABILITY_NOTES), n)) % len(VULNERABILITY_NOTES)
    two_notes = rng.random(n) < 0.3
    notes = np.full(n, "", dtype=object)
    for i in np.flatnonzero(vulnerable).tolist():
        notes[i] = VULNERABILITY_NOTES[note_a[i]] + (
            f"; {VULNERABILITY_NOTES[note_b[i]]}" if two_notes[i] else "")
    occ_u = rng.random(n)
    occupancy = np.empty(n, dtype=object)
    for mask, p in ((vulnerable, OCCUPANCY_P_VULNERABLE), (~vulnerable, OCCUPANCY_P_OTHER)):
        edges = np.cumsum(p)
        occupancy[mask] = np.asarray(OCCUPANCY, dtype=object)[
            np.minimum(np.searchsorted(edges, occ_u[mask], side="right"), len(OCCUPANCY) - 1)]
    occupants = np.where(bedrooms == 0, 1,
                         np.clip(bedrooms + rng.integers(-1, 2, n), 1, 8)).astype(np.int64)
    tenancy_days = np.minimum(rng.exponential(TENANCY_MEAN_YEARS * 365.25, n),
                              TENANCY_MAX_YEARS * 365.25).astype(np.int64) + 7
    tenancy_start = _iso_days(as_of, -tenancy_days)
    width = max(6, len(str(n)))
    hid = np.array([f"H{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    households = {
        "household_id": hid, "patch": patch_names[patch_of_estate[estate]],
        "estate": estate_names[estate], "address_area": block_names[block],
        "property_type": ptype, "bedrooms": bedrooms, "floor_area_m2": floor_area,
        "payment_type": np.where(prepay, "prepayment", "credit").astype(object),
        "has_gas": (~electric).astype(np.int64),
        "heating": np.where(electric, "electric", "gas").astype(object),
        "epc_band": epc, "means_tested_benefits": benefits.astype(np.int64),
        "vulnerable": vulnerable.astype(np.int64), "vulnerability_notes": notes,
        "occupancy": occupancy, "occupants": occupants, "tenancy_start": tenancy_start,
        "tenancy_end": np.full(n, None, dtype=object),
    }

    tenants, consent_log = _tenants(rng, n, hid, occupants, tenancy_days, as_of)
    devices, gateways = _devices(rng, opts, hid, block, electric)
    tariffs = _tariffs(as_of)
    return Portfolio(households, tenants, devices, tariffs, consent_log, gateways)


def _tenants(rng: np.random.Generator, n: int, hid: np.ndarray, occupants: np.ndarray,
             tenancy_days: np.ndarray, as_of: date):
    joint = (occupants >= 2) & (rng.random(n) < JOINT_TENANT)
    per_home = 1 + joint.astype(np.int64)
    home = np.repeat(np.arange(n), per_home)
    m = home.size
    second = np.zeros(m, dtype=bool)
    second[np.cumsum(per_home)[joint] - 1] = True     # the joint tenant follows the lead
    first = rng.integers(0, len(FIRST_NAMES), m)
    surname = rng.integers(0, len(SURNAMES), m)
    keep_surname = second & (rng.random(m) < 0.7)
    surname[keep_surname] = surname[np.flatnonzero(keep_surname) - 1]
    names = np.array([f"{FIRST_NAMES[f]} {SURNAMES[s]}"
                      for f, s in zip(first.tolist(), surname.tolist(), strict=True)],
                     dtype=object)
    has_mobile = rng.random(m) < HAS_MOBILE
    suffix = rng.integers(0, 1000, m)
    mobile = np.array([f"+447700900{s:03d}" for s in suffix.tolist()], dtype=object)
    mobile[~has_mobile] = None
    consent = has_mobile & (rng.random(m) < SMS_CONSENT / HAS_MOBILE)
    now_s = int(datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC).timestamp())
    # Consent was given some time during the tenancy (at most 5 years ago), in the daytime.
    window_days = np.minimum(tenancy_days[home], 5 * 365)
    consent_s = (now_s - (rng.random(m) * window_days).astype(np.int64) * 86400
                 - 86400 + rng.integers(8 * 3600, 20 * 3600, m))
    source = _choice(rng, CONSENT_SOURCES, CONSENT_SOURCE_P, m).astype(object)
    opted_out = consent & (rng.random(m) < OPTED_OUT)
    opt_s = consent_s + ((now_s - consent_s) * rng.random(m)).astype(np.int64)
    consent_at = np.where(consent, _iso_times(consent_s), None)
    opted_out_at = np.where(opted_out, _iso_times(opt_s), None)
    share = rng.random(m) < SHARE_WITH_SUPPLIER
    width = max(7, len(str(m)))
    tid = np.array([f"T{i:0{width}d}" for i in range(1, m + 1)], dtype=object)
    tenants = {
        "tenant_id": tid, "household_id": hid[home], "full_name": names, "mobile": mobile,
        "sms_consent": consent.astype(np.int64), "sms_consent_at": consent_at,
        "sms_consent_source": np.where(consent, source, None),
        "opted_out_at": opted_out_at, "share_with_supplier": share.astype(np.int64),
    }
    log_rows = [(t, at, "granted", s, "generate")
                for t, at, s in zip(tid[consent].tolist(), consent_at[consent].tolist(),
                                    source[consent].tolist(), strict=True)]
    log_rows += [(t, at, "opted_out", "text_reply", "generate")
                 for t, at in zip(tid[opted_out].tolist(), opted_out_at[opted_out].tolist(),
                                  strict=True)]
    return tenants, log_rows


def _devices(rng: np.random.Generator, opts: GenerateOptions, hid: np.ndarray,
             block: np.ndarray, electric: np.ndarray) -> tuple[dict[str, np.ndarray], int]:
    n = hid.size
    mqtt_home = rng.random(n) < MQTT_METERS
    bedroom = rng.random(n) < BEDROOM_THERMOSTAT
    # One row per device: (home, order within the home, kind, suffix, room).
    parts = [
        (np.arange(n), 0, "electricity_meter", "EM1", None),
        (np.flatnonzero(~electric), 1, "gas_meter", "GM1", None),
        (np.arange(n), 2, "thermostat", "TH1", "living_room"),
        (np.flatnonzero(bedroom), 3, "thermostat", "TH2", "bedroom"),
    ]
    home = np.concatenate([p[0] for p in parts])
    rank = np.concatenate([np.full(p[0].size, p[1]) for p in parts])
    kind = np.concatenate([np.full(p[0].size, p[2], dtype=object) for p in parts])
    suffix = np.concatenate([np.full(p[0].size, p[3], dtype=object) for p in parts])
    room = np.concatenate([np.full(p[0].size, p[4], dtype=object) for p in parts])
    order = np.lexsort((rank, home))        # homes are in block order, so devices are too
    home, kind, suffix, room = home[order], kind[order], suffix[order], room[order]
    m = home.size
    device_id = np.array([f"{h}-{s}" for h, s in zip(hid[home].tolist(), suffix.tolist(),
                                                     strict=True)], dtype=object)
    is_meter = kind != "thermostat"
    modbus = is_meter & ~mqtt_home[home]

    # Modbus meters: numbered within their block; each block gets ceil(count / units) gateways.
    idx = np.flatnonzero(modbus)
    mb_block = block[home[idx]]
    counts = np.bincount(mb_block, minlength=int(block.max()) + 1)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(idx.size) - first[mb_block]
    per_block = -(-counts // opts.units_per_gateway)
    gw_offset = np.concatenate([[0], np.cumsum(per_block)[:-1]])
    gateway = gw_offset[mb_block] + pos // opts.units_per_gateway
    n_gateways = int(per_block.sum())
    if opts.gateway_base_port + n_gateways - 1 > 65535:
        raise HearthError(f"{n_gateways} Modbus gateways do not fit above port "
                          f"{opts.gateway_base_port}: lower --gateway-base-port or raise "
                          "--units-per-gateway")

    gateway_host = np.full(m, None, dtype=object)
    gateway_port = np.full(m, None, dtype=object)
    unit_id = np.full(m, None, dtype=object)
    register_map = np.full(m, None, dtype=object)
    gateway_host[idx] = opts.gateway_host
    gateway_port[idx] = (opts.gateway_base_port + gateway).astype(object)
    unit_id[idx] = (pos % opts.units_per_gateway + 1).astype(object)
    for k, name in REGISTER_MAP_BY_KIND.items():
        register_map[modbus & (kind == k)] = name
    topic = np.full(m, None, dtype=object)
    mq = np.flatnonzero(~modbus)
    topic[mq] = [f"hearth/{h}/{d}/{k}" for h, d, k in
                 zip(hid[home[mq]].tolist(), device_id[mq].tolist(), kind[mq].tolist(),
                     strict=True)]
    devices = {
        "device_id": device_id, "household_id": hid[home], "kind": kind,
        "protocol": np.where(modbus, "modbus", "mqtt").astype(object),
        "gateway_host": gateway_host, "gateway_port": gateway_port, "unit_id": unit_id,
        "register_map": register_map, "mqtt_topic": topic, "room": room,
        "interval_s": np.where(is_meter, METER_INTERVAL_S, THERMOSTAT_INTERVAL_S),
    }
    return devices, n_gateways


def _tariffs(as_of: date) -> list[tuple[Any, ...]]:
    rows = []
    for (fuel, payment), (unit, standing) in CURRENT_RATES.items():
        for back, factor in enumerate(QUARTER_FACTORS):
            start = _quarter_start(as_of, back)
            end = None if back == 0 else _quarter_start(as_of, back - 1) - timedelta(days=1)
            rows.append((f"{fuel[:4]}-{payment}-{start.isoformat()}", fuel, payment,
                         round(unit * factor, 4), round(standing * factor, 4),
                         start.isoformat(), None if end is None else end.isoformat()))
    return rows


def _count(conn, table: str) -> int | None:
    """Rows in ``table``, or None when this registry has no such table (yet)."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                          (table,)).fetchone()
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if exists else None


def write_portfolio(reg: Registry, portfolio: Portfolio, replace: bool = False,
                    actor: str = "generate") -> dict[str, int]:
    """Write the portfolio in one transaction. Without ``replace`` the registry must hold no
    households or tariffs yet; with it, the base tables are emptied first, and the previous
    homes' cases, their history and texts removed (the audit log stays)."""
    t0 = time.perf_counter()
    with reg.transaction() as conn:
        existing = reg.counts()
        if not replace and (existing["households"] or existing["tariffs"]):
            raise RegistryError(f"the registry {reg.path} already holds "
                                f"{existing['households']} households and "
                                f"{existing['tariffs']} tariffs: pass --replace to start afresh")
        removed_cases = 0
        if replace:
            # The old homes' cases and texts go too: the new homes reuse the same ids, and a
            # case left behind would show an officer another home's history.
            removed_cases = _count(conn, "cases")
            try:
                for table in ("case_events", "sms_log", "sms_replies", "sms_number_tasks",
                              "cases", "consent_log", "device_bindings", "devices", "tenants",
                              "households", "tariffs"):
                    if _count(conn, table) is not None:
                        conn.execute(f"DELETE FROM {table}")
            except Exception as exc:
                raise RegistryError(f"cannot replace the portfolio: other records refer to it "
                                    f"({exc})") from exc
        written = {}
        for table, columns, names in (
                ("households", portfolio.households, HOUSEHOLD_COLUMNS),
                ("tenants", portfolio.tenants, TENANT_COLUMNS),
                ("devices", portfolio.devices, DEVICE_COLUMNS)):
            reg.insert_rows(table, names, Portfolio.rows(columns, names), conn)
            written[table] = len(columns[names[0]])
            log.info("registry generate: wrote %d %s (%.1f s)", written[table], table,
                     time.perf_counter() - t0)
        reg.insert_rows("tariffs", TARIFF_COLUMNS, portfolio.tariffs, conn)
        written["tariffs"] = len(portfolio.tariffs)
        conn.executemany("INSERT INTO consent_log (tenant_id, at, event, source, actor) "
                         "VALUES (?, ?, ?, ?, ?)", portfolio.consent_log)
        written["consent_log"] = len(portfolio.consent_log)
        reg.audit(actor, "registry.generate", "",
                  {**{k: v for k, v in written.items()}, "replace": replace,
                   "removed_cases": removed_cases or 0, "gateways": portfolio.gateways})
        if removed_cases:
            log.warning("registry generate --replace: removed %d cases of the previous homes,"
                        " with their history and texts", removed_cases)
    log.info("registry generate: committed in %.1f s", time.perf_counter() - t0)
    return written
