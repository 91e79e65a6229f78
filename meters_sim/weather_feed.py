"""The live simulation's weather feed: hourly outdoor temperature and a 5-day forecast written
to InfluxDB (`weather`, tag area), standing in for a weather service's feed. Writes happen on a
background thread so that a slow or absent InfluxDB never holds up the simulated meters."""

from __future__ import annotations

import logging
import queue
import threading

log = logging.getLogger(__name__)


class WeatherFeed:
    """`put(lines)` queues line protocol; a thread writes it with the shared InfluxDB client."""

    def __init__(self, settings, max_queued: int = 1000):
        self.settings = settings
        self._queue: queue.Queue[list[str] | None] = queue.Queue(max_queued)
        self.written = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="weather-feed", daemon=True)
        self._thread.start()

    def put(self, lines: list[str]) -> None:
        try:
            self._queue.put_nowait(lines)
        except queue.Full:
            self.failed += len(lines)
            log.warning("weather feed: InfluxDB is not keeping up; %d weather points skipped",
                        len(lines))

    def _run(self) -> None:
        from hearth.influx import InfluxClient

        with InfluxClient.from_settings(self.settings) as client:
            while True:
                lines = self._queue.get()
                if lines is None:
                    return
                try:
                    self.written += client.write_lines(lines).written
                except Exception as exc:  # the feed must never stop the simulated meters
                    self.failed += len(lines)
                    log.warning("weather feed: could not write %d points (%s)", len(lines), exc)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (waiting at most `timeout_s`) and stop the thread."""
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)
