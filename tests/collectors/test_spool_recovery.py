"""Recovery of a damaged spool: random bytes anywhere, damage in every segment, corrupt
lengths, and segments written before the record magic existed (format 1)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.base import Reading
from collectors.deadletter import DeadLetters, raw_bytes, read_dead_letters
from collectors.lines import reading_to_line
from collectors.spool import Spool
from collectors.spool_format import HEADER, encode_record_v1, scan


def reading(i: int) -> Reading:
    return Reading("meter", {"household": f"H{i % 7:06d}", "device": "E1", "fuel": "electricity",
                             "source": "mqtt"},
                   {"energy_kwh": 100.0 + i, "power_w": 250.0}, 1_767_225_600_000_000_000 + i)


def open_spool(root: Path, **kw) -> Spool:
    return Spool(root / "spool", DeadLetters(root / "dead"), **kw)


def drain(spool: Spool) -> list[str]:
    lines = []
    while (batch := spool.read_batch(100_000, timeout_s=0.05)) is not None:
        for rec in batch.records:
            lines.extend(rec.lines.decode().split("\n"))
        spool.commit(batch.end, batch.count)
    return lines


def fill(root: Path, sizes: list[int], **kw) -> tuple[list[list[str]], list[Path]]:
    """One put per entry of `sizes` (readings in it); the lines of each put, the segments."""
    spool = open_spool(root, **kw)
    puts, i = [], 0
    for n in sizes:
        rs = [reading(i + k) for k in range(n)]
        i += n
        spool.put(rs, "test")
        puts.append([reading_to_line(r) for r in rs])
    spool.close()
    return puts, sorted((root / "spool").glob("*.seg"))


def records_of(seg: Path) -> list[tuple[int, int, int]]:
    found = scan(seg.read_bytes())
    assert not found.damage
    return found.records


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(1, 30), min_size=2, max_size=40),
       hits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.binary(min_size=1,
                                                                          max_size=8)),
                     min_size=1, max_size=6))
def test_random_bytes_at_random_offsets_keep_every_whole_record(sizes, hits):
    """Property: after random bytes are written at random offsets of a segment, every record
    that no changed byte touches comes out of the spool, and nothing else does."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        puts, [seg] = fill(root, sizes)
        records = records_of(seg)
        data = bytearray(seg.read_bytes())
        before = bytes(data)
        for frac, junk in hits:
            at = int(frac * len(data))
            data[at:at + len(junk)] = junk[:len(data) - at]
        seg.write_bytes(bytes(data))
        changed = [k for k in range(len(data)) if data[k] != before[k]]
        touched = {idx for idx, (off, size, _) in enumerate(records)
                   if any(off <= k < off + size for k in changed)}

        spool = open_spool(root)
        got = drain(spool)
        spool.close()
        expected = [line for idx, put in enumerate(puts) if idx not in touched for line in put]
        assert got == expected
        letters = read_dead_letters(root / "dead")
        assert bool(letters) == bool(touched)
        # The dead letters hold exactly the damaged records' bytes, whole, and say where.
        kept = b"".join(raw_bytes(d, root / "dead") for d in letters)
        assert kept == b"".join(bytes(data[records[i][0]:records[i][0] + records[i][1]])
                                for i in sorted(touched))
        for d in letters:
            assert d["segment"] == seg.name
            assert d["reason"].split(":")[0] in ("corrupt_record", "torn_tail")


def test_damage_in_every_segment_is_skipped_and_the_repair_persists(tmp_path):
    puts, segs = fill(tmp_path, [40] * 60, max_bytes=1_000_000, segment_bytes=100_000)
    assert len(segs) >= 3
    lost = []
    for seg in segs[:-1]:  # four bad bytes in the middle of the third record of every segment
        off, size, _ = records_of(seg)[2]
        data = bytearray(seg.read_bytes())
        data[off + size // 2:off + size // 2 + 4] = b"\x00\x01\x02\x03"
        seg.write_bytes(bytes(data))
        lost.append((seg.name, off))
    spool = open_spool(tmp_path, max_bytes=1_000_000, segment_bytes=100_000)
    got = drain(spool)
    spool.close()
    all_lines = [line for put in puts for line in put]
    assert len(got) == len(all_lines) - 40 * len(lost)
    assert set(got) <= set(all_lines) and len(set(got)) == len(got)
    letters = read_dead_letters(tmp_path / "dead")
    assert [(d["segment"], d["offset"]) for d in letters] == lost
    assert all(d["reason"].startswith("corrupt_record: CRC mismatch") for d in letters)
    assert all("up to the next whole record" in d["reason"] for d in letters)
    # Opened again: nothing new is dead-lettered (the damaged bytes were cut out on disk).
    spool = open_spool(tmp_path, max_bytes=1_000_000, segment_bytes=100_000)
    spool.close()
    assert len(read_dead_letters(tmp_path / "dead")) == len(lost)


def test_a_corrupt_length_does_not_swallow_the_records_after_it(tmp_path):
    puts, [seg] = fill(tmp_path, [5] * 10)
    off, _, _ = records_of(seg)[3]
    data = bytearray(seg.read_bytes())
    data[off + 4:off + 8] = (HEADER.size * 3).to_bytes(4, "little")  # a plausible, wrong length
    seg.write_bytes(bytes(data))
    spool = open_spool(tmp_path)
    got = drain(spool)
    spool.close()
    assert got == [line for k, put in enumerate(puts) if k != 3 for line in put]
    [letter] = read_dead_letters(tmp_path / "dead")
    assert letter["reason"].startswith("corrupt_record: CRC mismatch")


def test_format_1_segments_from_before_the_upgrade_are_still_read(tmp_path):
    """A spool written before issue 14 (no magic, CRC of the payload only, position.json)."""
    d = tmp_path / "spool"
    d.mkdir()
    old = [[reading_to_line(reading(i * 3 + k)) for k in range(3)] for i in range(6)]
    blobs = [encode_record_v1("raw", lines) for lines in old]
    (d / f"{7:020d}.seg").write_bytes(b"".join(blobs))
    (d / f"{8:020d}.seg").write_bytes(b"".join(blobs[:2]))
    # The first two records of segment 7 had reached InfluxDB before the upgrade.
    (d / "position.json").write_text(json.dumps({"segment": 7, "offset": len(blobs[0])
                                                 + len(blobs[1])}))
    spool = open_spool(tmp_path)
    assert spool.backlog_readings() == 4 * 3 + 2 * 3
    assert not (d / "position.json").exists() and (d / "position.bin").exists()
    spool.put([reading(100)], "test")  # new records go to a new, format-2 segment
    got = drain(spool)
    spool.close()
    flat = [line for lines in old[2:] + old[:2] for line in lines]
    assert got == [*flat, reading_to_line(reading(100))]
    assert read_dead_letters(tmp_path / "dead") == []


def test_format_1_damage_keeps_the_rest_of_that_segment_as_a_dead_letter(tmp_path):
    d = tmp_path / "spool"
    d.mkdir()
    blobs = [encode_record_v1("raw", [reading_to_line(reading(i))]) for i in range(5)]
    data = bytearray(b"".join(blobs))
    at = len(blobs[0]) + len(blobs[1]) + 12
    data[at] ^= 0xFF
    (d / f"{3:020d}.seg").write_bytes(bytes(data))
    spool = open_spool(tmp_path)
    got = drain(spool)
    spool.close()
    assert got == [reading_to_line(reading(0)), reading_to_line(reading(1))]
    [letter] = read_dead_letters(tmp_path / "dead")
    assert "format 1" in letter["reason"]
    assert raw_bytes(letter) == bytes(data[len(blobs[0]) + len(blobs[1]):])


def test_damage_while_running_is_skipped_when_read(tmp_path):
    """A record damaged on disk after it was synced (a disk fault, the collector running):
    the writer's read dead-letters only that record and goes on."""
    spool = open_spool(tmp_path)
    puts = []
    for p in range(10):
        rs = [reading(p * 3 + k) for k in range(3)]
        spool.put(rs, "test")
        puts.append([reading_to_line(r) for r in rs])
    seg = spool.directory / f"{spool._seg:020d}.seg"
    off, size, _ = records_of(seg)[4]
    with open(seg, "r+b") as f:
        f.seek(off + size - 10)
        f.write(b"XXXX")
    got = drain(spool)
    spool.close()
    assert got == [line for k, put in enumerate(puts) if k != 4 for line in put]
    [letter] = read_dead_letters(tmp_path / "dead")
    assert letter["offset"] == off and letter["length_bytes"] == size
    assert letter["reason"].startswith("corrupt_record: CRC mismatch")


def test_a_damaged_position_slot_falls_back_to_the_other_one(tmp_path):
    """The position lives in two checksummed slots: a torn write of the newer one means the
    older one counts (a replay of one batch, the same points again), never a loss."""
    puts, _ = fill(tmp_path, [2] * 6)
    spool = open_spool(tmp_path)
    first = spool.read_batch(4)          # two records
    spool.commit(first.end, first.count)
    second = spool.read_batch(4)
    spool.commit(second.end, second.count)
    spool.close()
    pos_file = tmp_path / "spool" / "position.bin"
    data = bytearray(pos_file.read_bytes())
    newer = (spool._pos_seq % 2) * 32
    data[newer + 10] ^= 0xFF
    pos_file.write_bytes(bytes(data))
    again = open_spool(tmp_path)
    assert again.position == first.end
    got = drain(again)
    again.close()
    assert got == [line for put in puts[2:] for line in put]


def test_a_big_put_is_split_so_damage_costs_one_small_record(tmp_path):
    from collectors.spool import RECORD_LINES

    puts, [seg] = fill(tmp_path, [3 * RECORD_LINES - 10])
    records = records_of(seg)
    assert [n for _, _, n in records] == [RECORD_LINES, RECORD_LINES, RECORD_LINES - 10]
    off, size, _ = records[1]
    data = bytearray(seg.read_bytes())
    data[off + size // 2] ^= 0x55
    seg.write_bytes(bytes(data))
    spool = open_spool(tmp_path)
    got = drain(spool)
    spool.close()
    lines = puts[0]
    assert got == lines[:RECORD_LINES] + lines[2 * RECORD_LINES:]
