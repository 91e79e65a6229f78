"""The durable spool: readings wait on disk between their source and InfluxDB.

Layout of ``collectors.spool_dir``::

    00000000000000000007.seg   segment files, append-only, numbered in write order
    00000000000000000008.seg
    position.bin               two checksummed slots {seq, segment, offset}: everything before
                               the newest valid slot is in InfluxDB; overwritten in place
                               (pwrite + fdatasync), so moving it never needs free disk space

Records are framed as in `collectors.spool_format` (magic, length, CRC of length and payload);
a put of many lines becomes several records of at most ``RECORD_LINES`` lines.

`put` returns only once its record is on disk (fdatasync). Callers arriving while another
thread syncs are covered by the next sync (group commit), so many small puts cost few fsyncs.
A write that fails part-way is undone (truncated back to the last whole record, fdatasynced)
before anything else is written, so nothing is ever appended after garbage. Disk full (ENOSPC,
EDQUOT) is a state, not a crash: `put` keeps the record, waits and retries (so the MQTT
collector stops acknowledging and the broker holds the messages) until space returns.

On start-up every segment from the position on is checked record by record. Past a damaged
record the scan resynchronises at the next whole record, so only the damaged bytes go to the
dead letters (whole, with segment, offset and what failed) and every whole record after them
is kept; a torn tail (a crash mid-write: its put never returned, so nothing was acknowledged
for it) is cut off the same way. Writing always continues in a fresh segment. The writer reads
from the position up to the synced end and moves the position only after InfluxDB accepted the
batch; fully written segments are then deleted. The spool is bounded by ``max_bytes``: past
``warn_fraction`` a warning is logged, and when full `put` blocks rather than dropping anything.
"""

from __future__ import annotations

import errno
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
from collectors.spool_format import (
    HEADER,
    HEADER_V1,
    MAX_RECORD_BYTES,
    Damage,
    Record,
    check_record,
    decode_payload,
    detect_format,
    encode_record,
    next_record,
    scan,
)

log = logging.getLogger("hearth.collectors.spool")

__all__ = ["HEADER", "MAX_RECORD_BYTES", "Batch", "Position", "Record", "Spool", "SpoolError",
           "encode_record"]

POSITION_FILE = "position.bin"
LEGACY_POSITION_FILE = "position.json"  # before issue 14: replaced by rename (needed space)
SLOT = struct.Struct("<4sQQQI")         # magic, seq, segment, offset, crc32 of the rest
SLOT_MAGIC = b"HSP1"
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
DISK_FULL_RETRY_S = 0.5                 # a put waiting for disk space tries again this often
RECORD_LINES = 128                      # lines per record at most (one put may make several)


class SpoolError(Exception):
    """The spool cannot accept this put (closed, or one put larger than the whole bound)."""


@dataclass(frozen=True, order=True, slots=True)
class Position:
    """A place in the spool: segment number and byte offset in it."""

    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class Batch:
    records: list[Record]
    end: Position

    @property
    def count(self) -> int:
        return sum(r.count for r in self.records)


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


def _encode_slot(seq: int, pos: Position) -> bytes:
    body = SLOT.pack(SLOT_MAGIC, seq, pos.segment, pos.offset, 0)[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def _decode_slot(raw: bytes) -> tuple[int, Position] | None:
    if len(raw) < SLOT.size:
        return None
    magic, seq, seg, off, crc = SLOT.unpack(raw[:SLOT.size])
    if magic != SLOT_MAGIC or zlib.crc32(raw[:SLOT.size - 4]) != crc:
        return None
    return seq, Position(seg, off)


def disk_free_bytes(directory: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system of `directory`."""
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


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
        self._formats: dict[int, int] = {}     # segment -> record format (1: before issue 14)
        self._backlog_readings = 0
        self._retired_fds: list[int] = []
        self._written_seq = 0
        self._synced_seq = 0
        self._syncing = False                  # a leader is in _sync (group commit)
        self._failed_seqs: set[int] = set()    # written, but their fdatasync failed
        self._must_roll = False                # the current segment may end in garbage
        self._closed = False
        self._warned = False
        self._full_since: float | None = None
        self._fd: int | None = None
        self._pos_fd: int | None = None
        self._pos_seq = 0
        self.disk_full_since: float | None = None  # epoch seconds; None while writes succeed
        self.disk_full_events = 0
        self.damaged_ranges = 0                # dead-lettered at start-up or while reading
        self.readings_spooled = 0              # since start
        self.readings_committed = 0            # since start
        self._recover()

    # ---- start-up ---------------------------------------------------------------------------

    def _recover(self) -> None:
        if not self.read_only:
            for tmp in self.directory.glob("*.seg.tmp"):  # a repair cut short: the .seg stands
                tmp.unlink()
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
            self._sizes[seg], count = self._check_segment(seg, start, seg == segments[-1])
            self._backlog_readings += count
        self._pos = pos
        new_seg = (segments[-1] + 1) if segments else max(pos.segment, 1)
        if not segments:
            self._pos = Position(new_seg, 0)
        self._synced_end = Position(new_seg, 0)
        if self.read_only:
            return
        self._open_position()
        self._open_segment(new_seg)
        backlog = self.backlog_readings()
        if backlog:
            log.info("spool %s: resuming at segment %d offset %d with %d readings (%d bytes)"
                     " waiting for InfluxDB", self.directory, self._pos.segment, self._pos.offset,
                     backlog, self.backlog_bytes())

    def _read_position(self) -> Position | None:
        best = None
        try:
            raw = (self.directory / POSITION_FILE).read_bytes()
        except FileNotFoundError:
            raw = b""
        for i in range(2):
            slot = _decode_slot(raw[i * SLOT.size:(i + 1) * SLOT.size])
            if slot is not None and (best is None or slot[0] > best[0]):
                best = slot
        if best is not None:
            self._pos_seq = best[0]
            return best[1]
        if raw.strip(b"\0"):
            # Both slots damaged: outside damage. Replay from the oldest segment (a replay
            # overwrites the same points in InfluxDB, losing nothing).
            log.error("spool position %s is unreadable: replaying from the oldest segment",
                      self.directory / POSITION_FILE)
            return None
        return self._read_legacy_position()

    def _read_legacy_position(self) -> Position | None:
        path = self.directory / LEGACY_POSITION_FILE
        try:
            obj = json.loads(path.read_text())
            return Position(int(obj["segment"]), int(obj["offset"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.error("spool position %s is unreadable (%s): replaying from the oldest segment",
                      path, exc)
            return None

    def _open_position(self) -> None:
        path = self.directory / POSITION_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            if os.fstat(fd).st_size < 2 * SLOT.size:
                # Allocate both slots once, now: later moves overwrite them in place.
                os.pwrite(fd, b"\0" * (2 * SLOT.size), 0)
                if self._pos_seq == 0:
                    os.pwrite(fd, _encode_slot(0, self._pos), 0)
                os.fsync(fd)
                _fsync_dir(self.directory)
        except BaseException:
            os.close(fd)
            raise
        self._pos_fd = fd
        legacy = self.directory / LEGACY_POSITION_FILE
        if legacy.exists():  # upgraded: position.bin now holds the same position
            legacy.unlink()
            _fsync_dir(self.directory)

    def _check_segment(self, seg: int, start: int, last: bool) -> tuple[int, int]:
        """(size, readings after `start`) of a segment once its damaged bytes are removed."""
        path = self.directory / _segment_name(seg)
        data = path.read_bytes()
        fmt = self._formats[seg] = detect_format(data)
        start = min(start, len(data))
        found = scan(data, start, fmt)
        if not found.damage:
            return len(data), found.readings
        if self.read_only:
            # Look only: a damaged tail may be a put in progress in the running collector.
            tail = found.damage[-1]
            return (tail.start if tail.at_end else len(data)), found.readings
        letters = [DeadLetter(self._damage_reason(path.name, d, fmt, last), data[d.start:d.end],
                              {"segment": path.name, "offset": d.start,
                               "length_bytes": d.end - d.start})
                   for d in found.damage]
        self.dead_letters.add_many("spool", letters)  # durable before any byte is cut
        for d, letter in zip(found.damage, letters, strict=True):
            log.warning("spool %s: %d damaged bytes at offset %d kept in dead letters (%s)",
                        path.name, d.end - d.start, d.start, letter.reason.split(":")[0])
        self.damaged_ranges += len(found.damage)
        only_tail = len(found.damage) == 1 and found.damage[0].at_end
        if only_tail:
            os.truncate(path, found.damage[0].start)
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            return found.damage[0].start, found.readings
        kept = data[:start] + b"".join(data[o:o + n] for o, n, _ in found.records)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(kept)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.directory)
        return len(kept), found.readings

    @staticmethod
    def _damage_reason(name: str, d: Damage, fmt: int, last: bool) -> str:
        n = d.end - d.start
        if fmt == 1:
            return (f"corrupt_record: {d.why} at {name}:{d.start} (format 1, no record magic to"
                    f" resynchronise on); the {n} bytes to the end of the segment are kept here")
        if d.at_end and last and d.why.startswith(("header cut short", "payload cut short")):
            return (f"torn_tail: {d.why} at {name}:{d.start}, the last {n} bytes of the segment;"
                    " a put cut short never returned, so its source was not acknowledged")
        after = (f"up to the next whole record at offset {d.end}" if not d.at_end
                 else "to the end of the segment (no whole record follows)")
        return (f"corrupt_record: {d.why} at {name}:{d.start}; {n} bytes {after} are kept here,"
                " every whole record around them was kept")

    def _open_segment(self, seg: int) -> None:
        path = self.directory / _segment_name(seg)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            _fsync_dir(self.directory)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._seg = fd, seg
        self._sizes.setdefault(seg, 0)
        self._formats[seg] = 2

    # ---- the Sink protocol --------------------------------------------------------------------

    def put(self, readings: Sequence[Reading], source: str) -> None:
        """Append readings; returns once they are on disk. Blocks while the spool is full or
        its disk is."""
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
        # Records of at most RECORD_LINES lines, written as one blob (undone as one): a damaged
        # record then costs at most that many readings to the dead letters.
        record = b"".join(encode_record(retention_policy, lines[i:i + RECORD_LINES])
                          for i in range(0, len(lines), RECORD_LINES))
        if len(record) > self.max_bytes:
            raise SpoolError(f"one put of {len(record)} bytes exceeds collectors.spool.max_bytes"
                             f" ({self.max_bytes}); raise it")
        with self._lock:
            while True:
                if self._closed or self.read_only:
                    raise SpoolError("spool is closed" if self._closed
                                     else "spool opened read-only")
                self._wait_for_room(len(record))
                try:
                    seq = self._append(record)
                    break
                except OSError as exc:
                    if exc.errno not in DISK_FULL_ERRNOS:
                        raise
                    self._note_disk_full(exc)
                    if self._sizes[self._seg]:
                        # Write on in a new segment, so that the writer can finish this one
                        # and delete it: that frees the space even when one segment fills
                        # the disk.
                        self._must_roll = True
                    self._close_retired_if_idle()  # a deleted segment's space returns on close
                    self._changed.wait(DISK_FULL_RETRY_S)  # woken early when space is freed
            if self.disk_full_since is not None:
                log.warning("spool %s: disk space is back after %.0f s; accepting readings",
                            self.directory, time.time() - self.disk_full_since)
                self.disk_full_since = None
            self._backlog_readings += len(lines)
            self.readings_spooled += len(lines)
            self._check_fill()
        self._sync(seq)

    def _append(self, record: bytes) -> int:
        """Write one put's records (lock held); on failure undo the part written, then raise."""
        size = self._sizes[self._seg]
        if self._must_roll or (size and size + len(record) > self.segment_bytes):
            self._roll()
            size = 0
        try:
            _write_all(self._fd, record)
        except OSError:
            self._undo(size)
            raise
        self._sizes[self._seg] = size + len(record)
        self._written_seq += 1
        return self._written_seq

    def _undo(self, size: int) -> None:
        """Cut the current segment back to `size` (its last whole record) after a failed write."""
        try:
            os.ftruncate(self._fd, size)
            os.fdatasync(self._fd)
        except OSError as exc:
            # The partial record may stay; never append after it: the next record starts a new
            # segment, and recovery resynchronises past the partial bytes.
            log.critical("spool %s: cannot cut a partial write back to offset %d of segment %d"
                         " (%s); continuing in a new segment", self.directory, size, self._seg,
                         exc)
            self._must_roll = True

    def _note_disk_full(self, exc: OSError) -> None:
        if self.disk_full_since is None:
            self.disk_full_since = time.time()
            self.disk_full_events += 1
            log.error("spool disk full under %s (%s): readings are not acknowledged until space"
                      " returns (the broker keeps them); nothing was written after the failed"
                      " write, and writing resumes by itself", self.directory, exc.strerror)

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
        old = self._fd
        self._open_segment(self._seg + 1)  # on failure the old segment stays current
        self._retired_fds.append(old)
        self._must_roll = False
        # The old segment is synced whole: the writer may read to its end and move past it.
        self._synced_end = max(self._synced_end, Position(self._seg, 0))
        self._changed.notify_all()

    def _close_retired_if_idle(self) -> None:
        """Close retired segments' fds now unless a sync may be using them (lock held)."""
        if self._sync_lock.acquire(blocking=False):  # never blocks: no lock-order deadlock
            try:
                for old in self._retired_fds:
                    os.close(old)  # each was synced when it was retired
                self._retired_fds = []
            finally:
                self._sync_lock.release()

    def _sync(self, seq: int) -> None:
        # Group commit: one thread (the leader) syncs everything written so far; the others wait
        # on the condition, not on the sync lock, so a put covered by a finished sync returns at
        # once instead of queueing behind the next leader's fdatasync.
        with self._lock:
            while True:
                if seq in self._failed_seqs:
                    self._failed_seqs.discard(seq)
                    raise SpoolError("spool: fdatasync failed, this put is not durable")
                if self._synced_seq >= seq:
                    return  # another thread's sync covered this record
                if not self._syncing:
                    self._syncing = True
                    break
                self._changed.wait()
        try:
            with self._sync_lock:
                self._lead_sync(seq)
        finally:
            with self._lock:
                self._syncing = False
                self._changed.notify_all()

    def _lead_sync(self, seq: int) -> None:
        """fdatasync all records written so far (sync lock held, leader flag set)."""
        with self._lock:
            target, fd = self._written_seq, self._fd
            if fd is None:
                raise SpoolError("spool closed before this put was synced")
            end = Position(self._seg, self._sizes[self._seg])
            retired, self._retired_fds = self._retired_fds, []
        try:
            os.fdatasync(fd)
        except OSError as exc:
            # Whether those bytes reached the disk is unknown: every put since the last
            # good sync fails (its source is not acknowledged and sends it again); the
            # bytes stay, and are at worst replayed as the same points.
            with self._lock:
                self._failed_seqs.update(range(self._synced_seq + 1, target + 1))
                self._failed_seqs.discard(seq)
                self._retired_fds = retired + self._retired_fds
                self._must_roll = True
                if exc.errno in DISK_FULL_ERRNOS:
                    self._note_disk_full(exc)
            raise
        for old in retired:  # synced when retired; no other sync runs now (sync lock held)
            os.close(old)
        with self._lock:
            self._synced_seq = target
            self._synced_end = max(self._synced_end, end)

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
        fmt = self._formats.get(pos.segment, 2)
        head_size = (HEADER if fmt == 2 else HEADER_V1).size
        with open(path, "rb") as f:
            f.seek(pos.offset)
            head = f.read(head_size)
            length = (HEADER.unpack(head)[1] if fmt == 2 else HEADER_V1.unpack(head)[0]
                      ) if len(head) == head_size else 0
            buf = head + f.read(min(length, MAX_RECORD_BYTES))
        size, why = check_record(buf, 0, fmt)
        if size:
            return decode_payload(buf[head_size:size]), Position(pos.segment, pos.offset + size)
        # Damage after the data was synced (a disk fault): keep the damaged bytes as a dead
        # letter and go on with the next whole record, rather than stopping the whole flow.
        seg_end = self._sizes[pos.segment] if pos.segment < limit.segment else limit.offset
        with open(path, "rb") as f:
            f.seek(pos.offset)
            rest = f.read(seg_end - pos.offset)
        nxt = next_record(rest, 1) if fmt == 2 else -1
        end = pos.offset + nxt if nxt > 0 else seg_end
        damage = Damage(pos.offset, end, why, at_end=nxt <= 0)
        self.dead_letters.add("spool", self._damage_reason(path.name, damage, fmt, False),
                              rest[:end - pos.offset], segment=path.name, offset=pos.offset,
                              length_bytes=end - pos.offset)
        self.damaged_ranges += 1
        log.error("spool %s: damaged record at offset %d (%s); %d bytes dead-lettered, going on",
                  path.name, pos.offset, why, end - pos.offset)
        return None, Position(pos.segment, end)

    def commit(self, end: Position, readings: int = 0) -> None:
        """InfluxDB accepted everything before `end` (`readings` of them since the last
        commit): persist the position, then delete fully written segments."""
        seq = self._pos_seq + 1
        # In place, in the older of the two slots: no new disk space is needed, so the
        # position moves (and segments are freed) even when the disk is full. The newer slot
        # stays intact until this one is synced (a failed attempt retries in the same slot).
        os.pwrite(self._pos_fd, _encode_slot(seq, end), (seq % 2) * SLOT.size)
        os.fdatasync(self._pos_fd)
        self._pos_seq = seq
        with self._lock:
            freed = [s for s in self._sizes if s < end.segment]
            for seg in freed:
                del self._sizes[seg]
                self._formats.pop(seg, None)
            self._pos = end
            self._backlog_readings = max(0, self._backlog_readings - readings)
            self.readings_committed += readings
            self._check_fill()
            self._changed.notify_all()
        for seg in freed:
            (self.directory / _segment_name(seg)).unlink(missing_ok=True)
        if freed:
            with self._lock:
                self._changed.notify_all()  # disk space freed: a put waiting for it retries

    # ---- figures ----------------------------------------------------------------------------

    def _backlog_bytes_locked(self) -> int:
        return sum(self._sizes.values()) - self._pos.offset

    def backlog_bytes(self) -> int:
        with self._lock:
            return self._backlog_bytes_locked()

    def backlog_readings(self) -> int:
        with self._lock:
            return self._backlog_readings

    def disk_free_bytes(self) -> int:
        return disk_free_bytes(self.directory)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._changed.notify_all()
        if self._fd is not None:
            with self._sync_lock, self._lock:
                try:
                    os.fdatasync(self._fd)
                except OSError as exc:  # puts that returned were synced already
                    log.warning("spool %s: final fdatasync failed (%s)", self.directory, exc)
                os.close(self._fd)
                for fd in self._retired_fds:
                    os.close(fd)
                self._retired_fds = []
                self._fd = None
        if self._pos_fd is not None:
            os.close(self._pos_fd)
            self._pos_fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None
