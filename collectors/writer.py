"""Drains the spool into InfluxDB: batch, write, and only then move the spool's position.

InfluxDB down (or refusing with 5xx) for minutes: the client retries for up to
``influxdb.max_retry_s``, then this writer keeps trying with its own backoff (up to
``collectors.spool.retry_max_s`` between attempts) without moving the position; the spool grows
and drains once InfluxDB is back. Points InfluxDB refuses with 400 are dead-lettered by the
client with the server's message and the batch counts as done. A crash between a write and
the position update replays that batch: the same points (same tags and sample times)
overwrite themselves, so nothing is duplicated.

While writes fail, `stats.failing_since` holds when the first failure after the last success
happened (the "InfluxDB unreachable since" alert); a failure to move the spool's position is
retried the same way without losing the batch; and the thread itself is supervised: a crash is
logged, counted (`hearth_thread_restarts_total{thread="spool-writer"}`) and the loop restarted.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from collectors.spool import Batch, Spool
from collectors.supervise import supervised

log = logging.getLogger("hearth.collectors.writer")

# Before a write, wait this long for a full batch: fewer, larger requests cost InfluxDB (and
# the position fsync) far less per point, at a quarter of a second of extra latency.
LINGER_S = 0.25


@dataclass
class WriterStats:
    written: int = 0          # points InfluxDB accepted
    dead_lettered: int = 0    # points InfluxDB refused (400), kept by the client
    batches: int = 0
    failures: int = 0         # write attempts that failed (server down, 5xx)
    last_error: str = ""
    last_write_monotonic: float = 0.0
    failing_since: float | None = None   # epoch seconds of the first failure since a success
    last_success: float | None = None    # epoch seconds of the last accepted write
    commit_failures: int = 0             # failed attempts to persist the spool position


class SpoolWriter:
    """One thread: read a batch from the spool, write it, commit, repeat until stopped."""

    def __init__(self, spool: Spool, client, batch_readings: int = 5000,
                 retry_first_s: float = 0.5, retry_max_s: float = 30.0, prepare=None):
        self.spool = spool
        self.client = client
        self.batch_readings = batch_readings
        self.retry_first_s = retry_first_s
        self.retry_max_s = retry_max_s
        self.prepare = prepare  # called (with retries) before the first write
        self.stats = WriterStats()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        self._thread = supervised("spool-writer", self.run, self._stop)
        self._thread.start()

    def stop(self, drain_timeout_s: float = 0.0) -> None:
        """Stop; first wait up to `drain_timeout_s` for the backlog to reach InfluxDB."""
        deadline = time.monotonic() + drain_timeout_s
        while self.spool.backlog_bytes() > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run(self) -> None:
        if self.prepare is not None and not self._retry(self.prepare):
            return
        while not self._stop.is_set():
            self.spool.wait_for_backlog(self.batch_readings, LINGER_S)
            batch = self.spool.read_batch(self.batch_readings, timeout_s=0.2)
            if batch is None:
                continue
            for rp, lines in runs(batch):
                if not self._write_with_retry(lines, rp):
                    return  # stopped while InfluxDB was down: the batch stays in the spool
            self.stats.batches += 1
            self.stats.last_write_monotonic = time.monotonic()
            if not self._commit(batch):
                return  # stopped: the batch is replayed on start (the same points again)

    def _commit(self, batch: Batch) -> bool:
        """Persist the spool position after `batch`, retrying (disk errors) until stopped."""
        delay = self.retry_first_s
        while True:
            try:
                self.spool.commit(batch.end, batch.count)
                return True
            except OSError as exc:
                self.stats.commit_failures += 1
                log.error("cannot move the spool position (%s); retrying in %.1f s (the batch"
                          " is in InfluxDB; a restart now would only write it again)", exc, delay)
            if self._stop.wait(delay):
                return False
            delay = min(delay * 2, self.retry_max_s)

    def _write_with_retry(self, lines: list[str], rp: str) -> bool:
        def write() -> None:
            result = self.client.write_lines(lines, retention_policy=rp)
            self.stats.written += result.written
            self.stats.dead_lettered += result.dead_lettered

        return self._retry(write)

    def _retry(self, action) -> bool:
        """Run `action` until it succeeds (True) or the writer is stopped (False)."""
        delay = self.retry_first_s
        while True:
            try:
                action()
            except Exception as exc:  # any failure: keep the batch, retry
                self.stats.failures += 1
                if self.stats.failing_since is None:
                    self.stats.failing_since = time.time()
                if str(exc) != self.stats.last_error:
                    log.error("cannot write to InfluxDB (%s); the spool keeps %d readings and"
                              " retries every %.0f s at most", exc, self.spool.backlog_readings(),
                              self.retry_max_s)
                self.stats.last_error = str(exc)
            else:
                self.stats.failing_since = None
                self.stats.last_success = time.time()
                if self.stats.last_error:
                    log.info("InfluxDB accepts writes again; draining the spool (%d readings"
                             " waiting)", self.spool.backlog_readings())
                    self.stats.last_error = ""
                return True
            if self._stop.wait(delay):
                return False
            delay = min(delay * 2, self.retry_max_s)


def runs(batch: Batch) -> list[tuple[str, list[str]]]:
    """The batch's lines as runs of consecutive records bound for the same retention policy."""
    out: list[tuple[str, list[str]]] = []
    for record in batch.records:
        lines = record.lines.decode("utf-8").split("\n")
        if out and out[-1][0] == record.retention_policy:
            out[-1][1].extend(lines)
        else:
            out.append((record.retention_policy, lines))
    return out
