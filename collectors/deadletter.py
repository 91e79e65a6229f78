"""Dead letters: payloads and readings that could not be stored, kept with the reason.

One JSON object per line in ``<dead_letter_dir>/<source>.jsonl``::

    {"time": "2026-01-05T07:31:02.114Z", "source": "mqtt", "reason": "out_of_range: ...",
     "topic": "hearth/H000001/E1/electricity_meter", "size_bytes": 57, "sha256": "...",
     "raw": "{...}"}                     # UTF-8 text, or "raw_b64" when the bytes are not UTF-8

`reason` starts with a short code (``invalid_json``, ``missing_field`` ...) before the first
colon; `hearth collect status` counts by it. A record is written and fsynced before the
message is acknowledged, so a dead letter is as durable as a stored reading.

A payload larger than ``max_raw_bytes`` is kept whole in a file of its own,
``<dead_letter_dir>/raw/<sha256>.bin``, named by ``raw_file`` in the record (never truncated).
Once the folder holds ``max_bytes``, records keep only their metadata (never silently nothing)
and an error is logged, except for sources in ``KEEP_WHOLE`` (the spool's damaged bytes: they
held acknowledged readings, so they are always kept).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("hearth.collectors.deadletter")

RAW_DIR = "raw"
KEEP_WHOLE = frozenset({"spool"})  # sources whose bytes are kept even past max_bytes


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One thing that could not be stored: why, and the bytes as received."""

    reason: str
    raw: bytes
    extra: dict = field(default_factory=dict)


def reason_code(reason: str) -> str:
    """The short code of a reason (text before the first colon)."""
    return reason.split(":", 1)[0].strip() or "unknown"


class DeadLetters:
    """Appends dead letters to one JSON lines file per source, fsynced per call."""

    def __init__(self, directory: Path, max_bytes: int = 1_000_000_000,
                 max_raw_bytes: int = 1_048_576):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.max_raw_bytes = max_raw_bytes
        self._lock = threading.Lock()
        self._files: dict[str, int] = {}
        self._bytes = sum(p.stat().st_size for p in [*self.directory.glob("*.jsonl"),
                                                     *self.directory.glob(f"{RAW_DIR}/*.bin")])
        self._warned_full = False
        self.count = 0

    def add(self, source: str, reason: str, raw: bytes, **extra) -> None:
        """Keep one dead letter (durable when this returns)."""
        self.add_many(source, [DeadLetter(reason, raw, extra)])

    def add_many(self, source: str, letters: Iterable[DeadLetter]) -> int:
        """Keep many dead letters with a single fsync; returns how many."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        chunks = []
        for letter in letters:
            chunks.append(self._encode(source, now, letter))
        if not chunks:
            return 0
        data = b"".join(chunks)
        with self._lock:
            fd = self._fd(source)
            _write_all(fd, data)
            os.fsync(fd)
            self._bytes += len(data)
            self.count += len(chunks)
        return len(chunks)

    def _encode(self, source: str, now: str, letter: DeadLetter) -> bytes:
        raw = bytes(letter.raw)
        rec = {"time": now, "source": source, "reason": letter.reason, **letter.extra,
               "size_bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
        if self._bytes >= self.max_bytes and source not in KEEP_WHOLE:
            rec["raw_dropped"] = "dead-letter folder full"
            if not self._warned_full:
                self._warned_full = True
                log.error("dead-letter folder %s holds %d bytes (cap %d): new dead letters keep"
                          " only reason, size and sha256; inspect and archive it, or raise"
                          " collectors.dead_letter_max_bytes", self.directory, self._bytes,
                          self.max_bytes)
        elif len(raw) > self.max_raw_bytes:
            rec["raw_file"] = self._store_raw(raw, rec["sha256"])
        else:
            try:
                rec["raw"] = raw.decode("utf-8")
            except UnicodeDecodeError:
                rec["raw_b64"] = base64.b64encode(raw).decode("ascii")
        return (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")

    def _store_raw(self, raw: bytes, sha256: str) -> str:
        """Keep a big payload whole in its own file (durable on return); its relative path."""
        folder = self.directory / RAW_DIR
        folder.mkdir(exist_ok=True)
        rel = f"{RAW_DIR}/{sha256}.bin"
        path = self.directory / rel
        if not path.exists():  # content-addressed: the same bytes are stored once
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._bytes += len(raw)
        return rel

    def _fd(self, source: str) -> int:
        fd = self._files.get(source)
        if fd is None:
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in source) or "unknown"
            fd = os.open(self.directory / f"{safe}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                         0o640)
            self._files[source] = fd
        return fd

    def close(self) -> None:
        with self._lock:
            for fd in self._files.values():
                os.close(fd)
            self._files.clear()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_dead_letters(directory: Path) -> list[dict]:
    """Every dead letter in the folder (ours and the InfluxDB client's influx.jsonl)."""
    out = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.strip():
                    try:
                        out.append(json.loads(line))
                    except json.JSONDecodeError:
                        out.append({"source": path.stem, "reason": "unreadable_line"})
    return out


def count_by_reason(directory: Path) -> Counter:
    """Dead letters per (source, reason code). The client's records carry `error`, not `reason`."""
    counts: Counter = Counter()
    for rec in read_dead_letters(directory):
        source = rec.get("source") or "influx"
        reason = rec.get("reason")
        code = reason_code(reason) if reason else "influx_rejected"
        counts[(source, code)] += 1
    return counts


def raw_bytes(record: dict, directory: Path | None = None) -> bytes | None:
    """The payload of a dead letter as bytes (None when it was not kept). A payload kept in
    its own file (`raw_file`) is read from `directory`, the dead-letter folder."""
    if "raw_file" in record:
        return (Path(directory) / record["raw_file"]).read_bytes() if directory else None
    if "raw" in record:
        return record["raw"].encode("utf-8")
    if "raw_b64" in record:
        return base64.b64decode(record["raw_b64"])
    if "line" in record:  # the InfluxDB client's records
        return record["line"].encode("utf-8")
    return None
