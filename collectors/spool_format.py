"""The spool's on-disk record format and the pure scan that finds whole and damaged records.

Format 2 (written since issue 14), little endian::

    <4 bytes magic FF 48 53 32><u32 length><u32 crc32(length bytes + payload)><payload>

The magic starts with 0xFF, a byte that never occurs in UTF-8 text (line protocol), so a scan
can find the next record after damage; the CRC covers the length too, so a corrupt length is
caught instead of swallowing the records after it. Format 1 (before issue 14) was
``<u32 length><u32 crc32(payload)><payload>``: still read, so that an upgrade loses nothing,
but without a magic a damaged format-1 record cannot be skipped, only the rest of its segment
kept as a dead letter.

A payload is ``<u8 n><rp: n bytes><u32 readings><line protocol, lines joined by \\n>``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

MAGIC = b"\xffHS2"
HEADER = struct.Struct("<4sII")     # format 2: magic, length, crc
HEADER_V1 = struct.Struct("<II")    # format 1: length, crc of the payload only
LENGTH = struct.Struct("<I")
COUNT = struct.Struct("<I")
MAX_RECORD_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Record:
    retention_policy: str
    lines: bytes  # line protocol, lines joined by b"\n"
    count: int


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes [start, end) of a segment that are not a whole record."""

    start: int
    end: int
    why: str          # what failed at `start`: "CRC mismatch", "payload cut short", ...
    at_end: bool      # no whole record follows: a torn tail (or damage reaching the end)


@dataclass(frozen=True, slots=True)
class Scan:
    """Whole records (offset, size, readings) and damaged ranges after a start offset."""

    records: list[tuple[int, int, int]]
    damage: list[Damage]

    @property
    def readings(self) -> int:
        return sum(n for _, _, n in self.records)


def _payload(rp: str, lines: Sequence[str]) -> bytes:
    rp_b = rp.encode()
    return (bytes([len(rp_b)]) + rp_b + COUNT.pack(len(lines))
            + "\n".join(lines).encode("utf-8"))


def record_crc(length: int, payload: bytes | memoryview) -> int:
    return zlib.crc32(payload, zlib.crc32(LENGTH.pack(length)))


def encode_record(rp: str, lines: Sequence[str]) -> bytes:
    payload = _payload(rp, lines)
    return HEADER.pack(MAGIC, len(payload), record_crc(len(payload), payload)) + payload


def encode_record_v1(rp: str, lines: Sequence[str]) -> bytes:
    """A format-1 record (for upgrade tests only: the spool never writes these)."""
    payload = _payload(rp, lines)
    return HEADER_V1.pack(len(payload), zlib.crc32(payload)) + payload


def decode_payload(payload: bytes) -> Record:
    n = payload[0]
    rp = payload[1:1 + n].decode()
    (count,) = COUNT.unpack_from(payload, 1 + n)
    return Record(rp, bytes(payload[5 + n:]), count)


def payload_count(payload: bytes | memoryview) -> int:
    n = payload[0]
    return COUNT.unpack_from(payload, 1 + n)[0]


def check_record(data: bytes | memoryview, off: int, fmt: int = 2) -> tuple[int, str]:
    """(size of the whole record at `off`, "") or (0, why it is not one)."""
    head = HEADER if fmt == 2 else HEADER_V1
    if len(data) - off < head.size:
        return 0, "header cut short"
    if fmt == 2:
        magic, length, crc = HEADER.unpack_from(data, off)
        if magic != MAGIC:
            return 0, "no record magic"
    else:
        length, crc = HEADER_V1.unpack_from(data, off)
    if length < 5 or length > MAX_RECORD_BYTES:
        return 0, f"impossible length {length}"
    end = off + head.size + length
    if end > len(data):
        return 0, f"payload cut short ({len(data) - off - head.size} of {length} bytes)"
    payload = memoryview(data)[off + head.size:end]
    ok = (record_crc(length, payload) if fmt == 2 else zlib.crc32(payload)) == crc
    return (head.size + length, "") if ok else (0, "CRC mismatch")


def detect_format(data: bytes) -> int:
    """2 unless the segment starts with a whole format-1 record (a segment from before)."""
    if data[:4] == MAGIC or not data:
        return 2
    return 1 if check_record(data, 0, 1)[0] else 2


def next_record(data: bytes, start: int) -> int:
    """Offset of the next whole format-2 record at or after `start`, or -1."""
    at = start
    while True:
        at = data.find(MAGIC, at)
        if at < 0 or check_record(data, at)[0]:
            return at
        at += 1


def scan(data: bytes, start: int = 0, fmt: int = 2) -> Scan:
    """Walk the records from `start`; past damage, resynchronise at the next whole record
    (format 2) or give up on the rest of the segment (format 1, which has no magic)."""
    records: list[tuple[int, int, int]] = []
    damage: list[Damage] = []
    head = (HEADER if fmt == 2 else HEADER_V1).size
    off = start
    while off < len(data):
        size, why = check_record(data, off, fmt)
        if size:
            records.append((off, size, payload_count(memoryview(data)[off + head:off + size])))
            off += size
            continue
        nxt = next_record(data, off + 1) if fmt == 2 else -1
        end = nxt if nxt >= 0 else len(data)
        damage.append(Damage(off, end, why, at_end=nxt < 0))
        off = end
    return Scan(records, damage)
