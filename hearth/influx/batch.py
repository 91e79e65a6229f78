"""BatchWriter: collects lines and writes them in batches by size and by time, in the background."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence

from hearth.errors import InfluxError
from hearth.influx.client import InfluxClient, WriteResult

log = logging.getLogger("hearth.influx")


class BatchWriter:
    """Write line protocol in batches of ``client.batch_size`` lines, or whatever has waited
    ``client.flush_interval_s``, on background threads (so building lines, compressing and
    sending overlap, and InfluxDB gets ``senders`` requests at once to use more than one core).
    ``add`` blocks when ``max_pending_batches`` are waiting (backpressure).

    With more than one sender, batches may land out of order: if the same point (series and
    time) is added twice with different values, either may win; use ``senders=1`` then.

    A write that fails for good (server unreachable for ``max_retry_s``, bad credentials) is
    raised from the next ``add``/``flush``/``close``; its lines stay in ``unwritten`` so the
    caller can keep them (for example in its spool).
    """

    def __init__(self, client: InfluxClient, retention_policy: str | None = None,
                 batch_size: int | None = None, flush_interval_s: float | None = None,
                 max_pending_batches: int = 4, senders: int = 2):
        self.client = client
        self.retention_policy = retention_policy
        self.batch_size = batch_size or client.batch_size
        self.flush_interval_s = flush_interval_s or client.flush_interval_s
        self.result = WriteResult()
        self.unwritten: list[str] = []
        self._buffer: list[str] = []
        self._buffer_since = 0.0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._inflight = 0  # batches a sender took by time, outside the queue
        self._queue: queue.Queue[list[str] | None] = queue.Queue(max_pending_batches)
        self._error: BaseException | None = None
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name=f"influx-batch-writer-{i}",
                                          daemon=True) for i in range(max(1, senders))]
        for thread in self._threads:
            thread.start()

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close()

    def _raise_pending_error(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def add(self, lines: Sequence[str] | str) -> None:
        """Queue lines (one string per point, or one string of newline-separated points)."""
        if self._closed:
            raise InfluxError("BatchWriter is closed")
        self._raise_pending_error()
        if isinstance(lines, str):
            lines = lines.splitlines()
        full: list[list[str]] = []
        with self._lock:
            if not self._buffer:
                self._buffer_since = time.monotonic()
            self._buffer.extend(lines)
            while len(self._buffer) >= self.batch_size:
                full.append(self._buffer[:self.batch_size])
                del self._buffer[:self.batch_size]
        for batch in full:
            self._queue.put(batch)

    def flush(self) -> WriteResult:
        """Write everything added so far; returns the totals so far."""
        with self._lock:
            batch, self._buffer = self._buffer, []
        if batch:
            self._queue.put(batch)
        self._queue.join()
        with self._idle:
            while self._inflight:
                self._idle.wait()
        self._raise_pending_error()
        return self.result

    def close(self) -> WriteResult:
        """Flush and stop the background thread."""
        if self._closed:
            return self.result
        try:
            self.flush()
        finally:
            self._closed = True
            for _ in self._threads:
                self._queue.put(None)
            for thread in self._threads:
                thread.join()
        return self.result

    def _take_due_buffer(self) -> list[str] | None:
        with self._lock:
            if self._buffer and time.monotonic() - self._buffer_since >= self.flush_interval_s:
                batch, self._buffer = self._buffer, []
                self._inflight += 1
                return batch
        return None

    def _run(self) -> None:
        while True:
            try:
                batch = self._queue.get(timeout=min(self.flush_interval_s / 4, 0.25))
            except queue.Empty:
                due = self._take_due_buffer()
                if due:
                    try:
                        self._write(due)
                    finally:
                        with self._idle:
                            self._inflight -= 1
                            self._idle.notify_all()
                continue
            try:
                if batch is None:
                    return
                self._write(batch)
            finally:
                self._queue.task_done()

    def _write(self, batch: list[str]) -> None:
        if self._error is not None:  # keep later batches too: the caller decides what to do
            with self._lock:
                self.unwritten.extend(batch)
            return
        try:
            result = self.client.write_lines(batch, self.retention_policy)
        except BaseException as exc:
            with self._lock:
                self.unwritten.extend(batch)
                self._error = exc
            log.error("InfluxDB write failed, %d lines kept unwritten: %s", len(batch), exc)
        else:
            with self._lock:
                self.result += result
