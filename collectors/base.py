"""The one small interface every collector protocol implements, and the registry by `type`."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True, slots=True)
class Reading:
    """One sample of one device: a point of DESIGN.md's data table.

    `time_ns` is the sample time at the device [ns since the Unix epoch, UTC], never the time
    of writing, so that a replay overwrites the same point."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, float | int | bool | str]
    time_ns: int


class Sink(Protocol):
    """Where collectors hand readings. `put` returns only once the readings are durable
    (spooled to disk), so a collector may acknowledge its source after it returns."""

    def put(self, readings: Sequence[Reading], source: str) -> None: ...

    def dead_letter(self, source: str, reason: str, raw: bytes) -> None: ...


@dataclass
class CollectorStats:
    """Counters every collector keeps for the health line and the metrics endpoint."""

    readings_in: int = 0
    dead_lettered: int = 0
    errors: int = 0
    devices_silent: int = 0
    extra: dict[str, float] = field(default_factory=dict)


class Collector(ABC):
    """A protocol reader. Subclasses set `type` and implement `run`."""

    type: ClassVar[str]

    def __init__(self, name: str, config: Any, sink: Sink):
        self.name = name
        self.config = config
        self.sink = sink
        self.stats = CollectorStats()

    @abstractmethod
    async def run(self, stop: asyncio.Event) -> None:
        """Read until `stop` is set; never raise for one device's or one message's fault."""


COLLECTOR_TYPES: dict[str, type[Collector]] = {}


def register_collector(cls: type[Collector]) -> type[Collector]:
    """Class decorator: make a collector available by its `type` name."""
    if cls.type in COLLECTOR_TYPES:
        raise ValueError(f"collector type {cls.type!r} registered twice")
    COLLECTOR_TYPES[cls.type] = cls
    return cls


def create_collector(type_name: str, name: str, config: Any, sink: Sink) -> Collector:
    try:
        cls = COLLECTOR_TYPES[type_name]
    except KeyError:
        known = ", ".join(sorted(COLLECTOR_TYPES)) or "none registered"
        raise ValueError(f"unknown collector type {type_name!r}; known: {known}") from None
    return cls(name, config, sink)
