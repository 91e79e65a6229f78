"""The one interface of a consumer-access provider, the records it yields, and unit handling.

A provider's `pages(point, start, end)` yields `Page`s as it reads them (so what arrived before
an error is kept): half-hour start times [ns, UTC], values as the provider gives them with
their unit, and the items it could not read (dead letters). A missing half hour (absent, or
null) is simply not in a page: never zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

HALF_HOUR_S = 1800
HALF_HOUR_NS = HALF_HOUR_S * 10**9
# Gas volume to energy, as on gas bills (Gas (Calculation of Thermal Energy) Regulations):
# kWh = m3 x volume correction 1.02264 x calorific value [MJ/m3] / 3.6 [MJ per kWh].
GAS_VOLUME_CORRECTION = 1.02264


@dataclass(frozen=True)
class MeterPoint:
    """A household's meter as a provider knows it (registry table meter_points)."""

    household_id: str
    fuel: str                      # electricity | gas
    provider: str
    mpxn: str                      # MPAN or MPRN: personal data, never logged
    meter_serial: str | None = None
    resource_id: str | None = None
    credential_ref: str | None = None
    gas_unit: str | None = None    # m3 | kwh where the provider's answer does not say

    def __repr__(self) -> str:     # keeps the MPAN out of tracebacks and logs
        return f"MeterPoint({self.household_id!r}, {self.fuel!r}, {self.provider!r})"


@dataclass
class BadItem:
    reason: str                    # "code: detail", as collectors/deadletter.py expects
    raw: bytes


@dataclass
class Page:
    start_ns: np.ndarray           # (n,) int64 half-hour starts [ns since the epoch, UTC]
    value: np.ndarray              # (n,) float64 consumption in `unit`
    unit: str                      # "kwh" or "m3"
    bad: list[BadItem] = field(default_factory=list)


class Provider(Protocol):
    name: str

    def pages(self, point: MeterPoint, start: dt.datetime, end: dt.datetime) -> Iterator[Page]:
        """Half hours starting in [start, end) (UTC, on half-hour boundaries)."""
        ...


def normalise_unit(text: object) -> str | None:
    """'kWh', 'KWH', 'kwh' -> 'kwh'; 'm3', 'm^3', 'M3' -> 'm3'; anything else None."""
    t = str(text or "").strip().lower().replace("^", "").replace("³", "3")
    return {"kwh": "kwh", "m3": "m3"}.get(t)


def to_kwh(value: np.ndarray, unit: str, cv_mj_per_m3: float) -> np.ndarray:
    """Consumption in kWh from kWh or gas volume [m3] (calorific value [MJ/m3])."""
    v = np.asarray(value, dtype=np.float64)
    if unit == "kwh":
        return v
    if unit == "m3":
        return v * GAS_VOLUME_CORRECTION * cv_mj_per_m3 / 3.6
    raise ValueError(f"unknown unit {unit!r}")


def windows(start: dt.datetime, end: dt.datetime, max_days: float):
    """[start, end) cut into windows of at most max_days."""
    step = dt.timedelta(days=max_days)
    t = start
    while t < end:
        yield t, min(t + step, end)
        t += step


def utc_ns(t: dt.datetime) -> int:
    t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    d = t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (d.days * 86_400 + d.seconds) * 10**9 + d.microseconds * 1000


def page_from(items: list[tuple[int, float]], unit: str, bad: list[BadItem]) -> Page:
    if items:
        t, v = zip(*items, strict=True)
        return Page(np.array(t, dtype=np.int64), np.array(v, dtype=np.float64), unit, bad)
    return Page(np.zeros(0, np.int64), np.zeros(0), unit, bad)
