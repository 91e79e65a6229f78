"""The durable spool: readings wait on disk between their source and InfluxDB.

Layout of ``collectors.spool_dir``::

    00000000000000000007.seg   segment files, append-only, numbered in write order
    00000000000000000008.seg
    position.json              {"segment": 7, "offset": 123456}: everything before it is in
                               InfluxDB; replaced atomically (write, fsync, rename, fsync dir)

A segment is a run of records ``<u32 length><u32 crc32(payload)><payload>`` (little endian);
a payload is ``<u8 n><rp: n bytes><u32 readings><line protocol, lines joined by \\n>``.

`put` returns only once its record is on disk (fdatasync). Callers arriving while another
thread syncs are covered by the next sync (group commit), so many small puts cost few fsyncs.
On start-up the last segment is checked record by record: a torn tail (a crash mid-write: its
put never returned, so nothing was acknowledged for it) is cut off and its bytes dead-lettered.
Writing always continues in a fresh segment. The writer reads from the position up to the
synced end and moves the position only after InfluxDB accepted the batch; fully written
segments are then deleted. The spool is bounded by ``max_bytes``: past ``warn_fraction`` a
warning is logged, and when full `put` blocks (so the MQTT collector stops acknowledging and
the broker holds the messages) rather than dropping anything.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from collectors.base import Reading
from collectors.deadletter import DeadLetter, DeadLetters
from collectors.lines import group_lines

log = logging.getLogger("hearth.collectors.spool")

HEADER = struct.Struct("<II")
COUNT = struct.Struct("<I")
MAX_RECORD_BYTES = 256 * 1024 * 1024
POSITION_FILE = "position.json"


class SpoolError(Exception):
    """The spool cannot accept this put (closed, or one put larger than the whole bound)."""


@dataclass(frozen=True, order=True, slots=True)
class Position:
    """A place in the spool: segment number and byte offset in it."""

    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class Record:
    retention_policy: str
    lines: bytes  # line protocol, lines joined by b"\n"
    count: int


@dataclass(frozen=True, slots=True)
class Batch:
    records: list[Record]
    end: Position

    @property
    def count(self) -> int:
        return sum(r.count for r in self.records)


def encode_record(rp: str, lines: Sequence[str]) -> bytes:
    rp_b = rp.encode()
    payload = (bytes([len(rp_b)]) + rp_b + COUNT.pack(len(lines))
               + "\n".join(lines).encode("utf-8"))
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode_payload(payload: bytes) -> Record:
    n = payload[0]
    rp = payload[1:1 + n].decode()
    (count,) = COUNT.unpack_from(payload, 1 + n)
    return Record(rp, payload[5 + n:], count)


def _segment_name(number: int) -> str:
    return f"{number:020d}.seg"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lock_directory(directory: Path) -> int:
    """Hold an exclusive lock on the spool folder: two writers would corrupt it."""
    import fcntl

    from hearth.errors import HearthError

    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise HearthError(f"the spool {directory} is in use by another `hearth collect`; stop it"
                          " first, or give this one its own collectors.spool_dir") from None
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Spool:
    """Append-only durable queue of line protocol records; implements the `Sink` protocol."""

    def __init__(self, directory: Path, dead_letters: DeadLetters, max_bytes: int = 2_000_000_000,
                 segment_bytes: int = 64_000_000, warn_fraction: float = 0.8,
                 read_only: bool = False):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.read_only = read_only  # for `status`: look, never cut, never write
        self._lock_fd = None if read_only else _lock_directory(self.directory)
        self.dead_letters = dead_letters
        self.max_bytes = max_bytes
        self.segment_bytes = min(segment_bytes, max(max_bytes // 4, 65_536))
        self.warn_fraction = warn_fraction
        self._lock = threading.Lock()          # segment list, sizes, write fd, counters
        self._sync_lock = threading.Lock()     # one fdatasync at a time (group commit)
        self._changed = threading.Condition(self._lock)  # data synced / space freed
        self._sizes: dict[int, int] = {}       # segment -> bytes
        self._backlog_readings = 0
        self._retired_fds: list[int] = []
        self._written_seq = 0
        self._synced_seq = 0
        self._closed = False
        self._warned = False
        self._full_since: float | None = None
        self.readings_spooled = 0              # since start
        self.readings_committed = 0            # since start
        self._recover()

    # ---- start-up ---------------------------------------------------------------------------

    def _recover(self) -> None:
        segments = sorted(int(p.stem) for p in self.directory.glob("*.seg") if p.stem.isdigit())
        pos = self._read_position()
        if segments and (pos is None or pos.segment < segments[0]):
            pos = Position(segments[0], 0)
        pos = pos or Position(1, 0)
        for seg in [s for s in segments if s < pos.segment and not self.read_only]:
            (self.directory / _segment_name(seg)).unlink()
        segments = [s for s in segments if s >= pos.segment]
        for seg in segments:
            start = pos.offset if seg == pos.segment else 0
            check = seg == segments[-1]
            self._sizes[seg], count = self._scan(seg, start, verify=check)
            self._backlog_readings += count
        self._pos = pos
        new_seg = (segments[-1] + 1) if segments else max(pos.segment, 1)
        if not segments:
            self._pos = Position(new_seg, 0)
        self._synced_end = Position(new_seg, 0)
        if self.read_only:
            self._fd = None
            return
        self._open_segment(new_seg)
        backlog = self.backlog_readings()
        if backlog:
            log.info("spool %s: resuming at segment %d offset %d with %d readings (%d bytes)"
                     " waiting for InfluxDB", self.directory, self._pos.segment, self._pos.offset,
                     backlog, self.backlog_bytes())

    def _read_position(self) -> Position | None:
        path = self.directory / POSITION_FILE
        try:
            obj = json.loads(path.read_text())
            return Position(int(obj["segment"]), int(obj["offset"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            # The file is replaced atomically, so this means outside damage: start from the
            # oldest segment (a replay overwrites the same points in InfluxDB, losing nothing).
            log.error("spool position %s is unreadable (%s): replaying from the oldest segment",
                      path, exc)
            return None

    def _scan(self, seg: int, start: int, verify: bool) -> tuple[int, int]:
        """(valid size, readings after `start`) of a segment; cuts a torn or corrupt tail."""
        path = self.directory / _segment_name(seg)
        size = path.stat().st_size
        count, off = 0, start
        with open(path, "rb") as f:
            while off < size:
                f.seek(off)
                head = f.read(HEADER.size)
                bad = None
                if len(head) < HEADER.size:
                    bad = "torn_record: header cut short"
                else:
                    length, crc = HEADER.unpack(head)
                    if length > MAX_RECORD_BYTES or off + HEADER.size + length > size:
                        bad = "torn_record: payload cut short"
                    elif verify:
                        payload = f.read(length)
                        if zlib.crc32(payload) != crc:
                            bad = "torn_record: CRC mismatch"
                        else:
                            count += decode_payload(payload[:300]).count
                    else:
                        f.seek(off + HEADER.size)
                        count += decode_payload(f.read(min(length, 300))).count
                if bad and self.read_only:
                    size = off  # a put in progress in the running collector, or a torn tail
                    break
                if bad:
                    f.seek(off)
                    tail = f.read()
                    self.dead_letters.add("spool", f"{bad} at {path.name}:{off}; the put never"
                                          " returned, so its source was not acknowledged", tail)
                    log.warning("spool %s: cut a torn tail of %d bytes at offset %d (%s); kept in"
                                " dead letters", path.name, len(tail), off, bad)
                    os.truncate(path, off)
                    size = off
                    break
                off += HEADER.size + length
        return size, count

    def _open_segment(self, seg: int) -> None:
        path = self.directory / _segment_name(seg)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        _fsync_dir(self.directory)
        self._seg = seg
        self._sizes.setdefault(seg, 0)

    # ---- the Sink protocol --------------------------------------------------------------------

    def put(self, readings: Sequence[Reading], source: str) -> None:
        """Append readings; returns once they are on disk. Blocks while the spool is full."""
        try:
            groups = group_lines(readings)
        except ValueError:
            groups = self._group_or_dead_letter(readings, source)
        for rp, lines in groups.items():
            if lines:
                self.put_lines(lines, rp)

    def _group_or_dead_letter(self, readings: Sequence[Reading], source: str
                              ) -> dict[str, list[str]]:
        good, bad = {}, []
        for r in readings:
            try:
                for rp, lines in group_lines([r]).items():
                    good.setdefault(rp, []).extend(lines)
            except ValueError as exc:
                bad.append(DeadLetter(f"unstorable_reading: {exc}", repr(r).encode()))
        self.dead_letters.add_many(source, bad)
        return good

    def dead_letter(self, source: str, reason: str, raw: bytes) -> None:
        self.dead_letters.add(source, reason, raw)

    def dead_letter_many(self, source: str, letters: Sequence[DeadLetter]) -> None:
        self.dead_letters.add_many(source, letters)

    def put_lines(self, lines: Sequence[str], retention_policy: str) -> None:
        """Append line protocol lines bound for one retention policy (durable on return)."""
        record = encode_record(retention_policy, lines)
        if len(record) > self.max_bytes:
            raise SpoolError(f"one put of {len(record)} bytes exceeds collectors.spool.max_bytes"
                             f" ({self.max_bytes}); raise it")
        with self._lock:
            if self._closed or self.read_only:
                raise SpoolError("spool is closed" if self._closed else "spool opened read-only")
            self._wait_for_room(len(record))
            if self._sizes[self._seg] and self._sizes[self._seg] + len(record) > self.segment_bytes:
                self._roll()
            _write_all(self._fd, record)
            self._sizes[self._seg] += len(record)
            self._backlog_readings += len(lines)
            self._written_seq += 1
            seq = self._written_seq
            self.readings_spooled += len(lines)
            self._check_fill()
        self._sync(seq)

    def _wait_for_room(self, need: int) -> None:
        while self._backlog_bytes_locked() + need > self.max_bytes:
            if self._closed:
                raise SpoolError("spool closed while waiting for room")
            now = time.monotonic()
            if self._full_since is None or now - self._full_since > 60:
                log.error("spool %s is FULL (%d of %d bytes): not accepting readings until"
                          " InfluxDB takes some (sources are not acknowledged meanwhile, so"
                          " nothing is dropped); check InfluxDB (`hearth stack status`)",
                          self.directory, self._backlog_bytes_locked(), self.max_bytes)
                self._full_since = now
            self._changed.wait(1.0)
        if self._full_since is not None:
            log.warning("spool %s has room again; accepting readings", self.directory)
            self._full_since = None

    def _check_fill(self) -> None:
        fill = self._backlog_bytes_locked() / self.max_bytes
        if fill >= self.warn_fraction and not self._warned:
            self._warned = True
            log.warning("spool %s is %.0f%% full (%d of %d bytes): InfluxDB is not keeping up or"
                        " is down; when full, collectors stop acknowledging", self.directory,
                        fill * 100, self._backlog_bytes_locked(), self.max_bytes)
        elif fill < self.warn_fraction / 2 and self._warned:
            self._warned = False
            log.info("spool %s is back to %.0f%% full", self.directory, fill * 100)

    def _roll(self) -> None:
        os.fdatasync(self._fd)  # the old segment is complete on disk before the next begins
        self._retired_fds.append(self._fd)
        self._open_segment(self._seg + 1)

    def _sync(self, seq: int) -> None:
        with self._sync_lock:
            if self._synced_seq >= seq:
                return  # another thread's sync covered this record
            with self._lock:
                target, fd = self._written_seq, self._fd
                end = Position(self._seg, self._sizes[self._seg])
                retired, self._retired_fds = self._retired_fds, []
            os.fdatasync(fd)
            for old in retired:  # synced when retired; no other sync runs now (sync lock held)
                os.close(old)
            with self._lock:
                self._synced_seq = target
                self._synced_end = end
                self._changed.notify_all()

    # ---- reading side (one writer thread) -------------------------------------------------------

    @property
    def position(self) -> Position:
        return self._pos

    def wait_for_backlog(self, readings: int, timeout_s: float) -> None:
        """Wait until at least `readings` wait in the spool, or `timeout_s` passed."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._backlog_readings < readings and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    def read_batch(self, max_readings: int, timeout_s: float = 0.5) -> Batch | None:
        """Records from the position on, up to about `max_readings` (at least one record), only
        what is durably synced. None when nothing arrives within `timeout_s`."""
        with self._lock:
            if self._pos >= self._synced_end and not self._closed:
                self._changed.wait(timeout_s)
            limit = self._synced_end
            pos = self._normalise(self._pos, limit)
        records: list[Record] = []
        count = 0
        while pos < limit and count < max_readings:
            record, nxt = self._read_record(pos, limit)
            if record is not None:
                records.append(record)
                count += record.count
            pos = self._normalise(nxt, limit)
        if not records and pos == self._pos:
            return None
        return Batch(records, pos)

    def _normalise(self, pos: Position, limit: Position) -> Position:
        """Step past the end of a finished segment to the start of the next one."""
        while pos.segment < limit.segment and pos.offset >= self._sizes.get(pos.segment, 0):
            later = [s for s in self._sizes if s > pos.segment]
            if not later:
                break
            pos = Position(min(later), 0)
        return pos

    def _read_record(self, pos: Position, limit: Position) -> tuple[Record | None, Position]:
        path = self.directory / _segment_name(pos.segment)
        with open(path, "rb") as f:
            f.seek(pos.offset)
            head = f.read(HEADER.size)
            length, crc = HEADER.unpack(head) if len(head) == HEADER.size else (0, 0)
            payload = f.read(length) if len(head) == HEADER.size else b""
        seg_end = self._sizes[pos.segment] if pos.segment < limit.segment else limit.offset
        if len(head) < HEADER.size or len(payload) < length or zlib.crc32(payload) != crc:
            # Damage after the data was synced (a disk fault): keep the rest of the segment as
            # a dead letter and go on with the next one rather than stopping the whole flow.
            with open(path, "rb") as f:
                f.seek(pos.offset)
                rest = f.read(seg_end - pos.offset)
            self.dead_letters.add("spool", f"corrupt_record: CRC mismatch at {path.name}:"
                                  f"{pos.offset}; the rest of the segment is kept here", rest)
            log.error("spool %s: corrupt record at offset %d; %d bytes dead-lettered",
                      path.name, pos.offset, len(rest))
            return None, Position(pos.segment, seg_end)
        return decode_payload(payload), Position(pos.segment, pos.offset + HEADER.size + length)

    def commit(self, end: Position, readings: int = 0) -> None:
        """InfluxDB accepted everything before `end` (`readings` of them since the last
        commit): persist the position, then delete fully written segments."""
        tmp = self.directory / (POSITION_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump({"segment": end.segment, "offset": end.offset}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.directory / POSITION_FILE)
        _fsync_dir(self.directory)
        with self._lock:
            freed = [s for s in self._sizes if s < end.segment]
            for seg in freed:
                del self._sizes[seg]
            self._pos = end
            self._backlog_readings = max(0, self._backlog_readings - readings)
            self.readings_committed += readings
            self._check_fill()
            self._changed.notify_all()
        for seg in freed:
            (self.directory / _segment_name(seg)).unlink(missing_ok=True)

    # ---- figures ----------------------------------------------------------------------------

    def _backlog_bytes_locked(self) -> int:
        return sum(self._sizes.values()) - self._pos.offset

    def backlog_bytes(self) -> int:
        with self._lock:
            return self._backlog_bytes_locked()

    def backlog_readings(self) -> int:
        with self._lock:
            return self._backlog_readings

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._changed.notify_all()
        if self._fd is None:
            return
        with self._sync_lock, self._lock:
            os.fdatasync(self._fd)
            os.close(self._fd)
            for fd in self._retired_fds:
                os.close(fd)
            self._retired_fds = []
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None
