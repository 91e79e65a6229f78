"""The durable spool on its own: framing, torn tails, resuming, bounds, group commit."""

from __future__ import annotations

import os
import threading
import time

import pytest

from collectors.base import Reading
from collectors.deadletter import DeadLetters, raw_bytes, read_dead_letters
from collectors.lines import reading_to_line
from collectors.spool import HEADER, Spool, SpoolError
from collectors.spool_format import MAGIC


def reading(i: int, household: str = "H000001") -> Reading:
    return Reading("meter", {"household": household, "device": "E1", "fuel": "electricity",
                             "source": "mqtt"},
                   {"energy_kwh": 100.0 + i, "power_w": 250.0}, 1_767_225_600_000_000_000 + i)


def open_spool(tmp_path, **kw) -> Spool:
    return Spool(tmp_path / "spool", DeadLetters(tmp_path / "dead"), **kw)


def drain(spool: Spool, max_readings: int = 10_000, commit: bool = True) -> list[str]:
    lines = []
    while True:
        batch = spool.read_batch(max_readings, timeout_s=0.05)
        if batch is None:
            return lines
        for rec in batch.records:
            lines.extend(rec.lines.decode().split("\n"))
        if not commit:
            return lines  # the next read would start at the same position again
        spool.commit(batch.end, batch.count)


def test_round_trip_and_retention_policy_routing(tmp_path):
    spool = open_spool(tmp_path)
    readings = [reading(i) for i in range(10)]
    usage = Reading("usage_30m", {"household": "H000001", "fuel": "gas"}, {"energy_kwh": 0.4},
                    1_767_225_600_000_000_000)
    spool.put([*readings, usage], "test")
    batch = spool.read_batch(100)
    rps = {rec.retention_policy: rec for rec in batch.records}
    assert set(rps) == {"raw", "usage"}
    assert rps["raw"].lines.decode().split("\n") == [reading_to_line(r) for r in readings]
    # The half hour and its usage_day rollup line (one point per household and day).
    assert rps["usage"].lines.decode().split("\n") == [
        reading_to_line(usage),
        "usage_day,fuel=gas,household=H000001 energy_kwh_0000=0.4 1767225600000000000"]
    assert spool.backlog_readings() == 12
    spool.commit(batch.end, batch.count)
    assert spool.backlog_readings() == 0 and spool.backlog_bytes() == 0
    spool.close()


def test_restart_resumes_from_committed_position(tmp_path):
    spool = open_spool(tmp_path)
    for i in range(5):
        spool.put([reading(i)], "test")
    batch = spool.read_batch(2)  # two records of one reading each
    assert batch.count == 2
    spool.commit(batch.end, batch.count)
    spool.close()

    again = open_spool(tmp_path)
    assert again.backlog_readings() == 3
    lines = drain(again)
    assert lines == [reading_to_line(reading(i)) for i in (2, 3, 4)]
    again.put([reading(9)], "test")
    assert drain(again) == [reading_to_line(reading(9))]
    again.close()
    # Nothing replays once everything was committed.
    third = open_spool(tmp_path)
    assert third.backlog_readings() == 0 and drain(third) == []
    third.close()


def test_uncommitted_batch_is_read_again_after_restart(tmp_path):
    spool = open_spool(tmp_path)
    spool.put([reading(i) for i in range(3)], "test")
    assert len(drain(spool, commit=False)) == 3
    spool.close()
    again = open_spool(tmp_path)
    assert len(drain(again)) == 3
    again.close()


@pytest.mark.parametrize("cut", [3, HEADER.size + 5, -1])
def test_torn_tail_is_cut_and_dead_lettered(tmp_path, cut):
    spool = open_spool(tmp_path)
    spool.put([reading(0)], "test")
    spool.put([reading(1)], "test")
    seg = spool.directory / f"{spool._seg:020d}.seg"
    spool.close()
    size = seg.stat().st_size
    with open(seg, "r+b") as f:  # a third record, torn mid-write
        f.seek(size)
        torn = bytes(seg.read_bytes()[:size // 2])
        f.write(torn[:cut] if cut > 0 else torn)
    if cut == -1:  # complete length but wrong CRC: flip a byte of the last record's payload
        data = bytearray(seg.read_bytes())
        data[-1] ^= 0xFF
        seg.write_bytes(bytes(data))
    again = open_spool(tmp_path)
    lines = drain(again)
    assert lines[:2] == [reading_to_line(reading(0)), reading_to_line(reading(1))]
    assert len(lines) == 2
    letters = read_dead_letters(tmp_path / "dead")
    # Cut short: a torn tail; whole length but wrong CRC: a corrupt record at the end.
    code = "corrupt_record: CRC mismatch" if cut == -1 else "torn_tail"
    assert len(letters) == 1 and letters[0]["reason"].startswith(code), letters[0]["reason"]
    assert letters[0]["source"] == "spool" and letters[0]["offset"] == size
    # Appending after recovery works and survives another restart.
    again.put([reading(5)], "test")
    again.close()
    third = open_spool(tmp_path)
    assert drain(third) == [reading_to_line(reading(5))]
    third.close()


def test_segments_roll_and_are_deleted_once_written(tmp_path):
    spool = open_spool(tmp_path, max_bytes=10_000_000, segment_bytes=100_000)
    for i in range(300):
        spool.put([reading(i * 10 + k) for k in range(10)], "test")
    segs = sorted(spool.directory.glob("*.seg"))
    assert len(segs) > 3
    lines = drain(spool, max_readings=500)
    assert len(lines) == 3000
    assert len(list(spool.directory.glob("*.seg"))) == 1  # only the one being written
    assert spool.position.segment >= 4
    spool.close()
    again = open_spool(tmp_path)  # the position file holds it
    assert again.position == spool.position and again.backlog_readings() == 0
    again.close()


def test_full_spool_blocks_put_until_the_writer_frees_room(tmp_path, caplog):
    spool = open_spool(tmp_path, max_bytes=1_000_000, segment_bytes=100_000)
    big = [reading(i) for i in range(800)]  # ~100 kB a put
    done = []

    def producer():
        for _ in range(20):  # ~2 MB: twice the bound
            spool.put(big, "test")
            done.append(1)

    th = threading.Thread(target=producer, daemon=True)
    th.start()
    time.sleep(1.0)
    assert th.is_alive(), "put must block when the spool is full"
    assert spool.backlog_bytes() <= spool.max_bytes
    assert "FULL" in caplog.text and "full" in caplog.text
    got = 0
    deadline = time.monotonic() + 30
    while got < 20 * 800 and time.monotonic() < deadline:
        batch = spool.read_batch(5000, timeout_s=0.2)
        if batch:
            got += batch.count
            spool.commit(batch.end, batch.count)
    th.join(5)
    assert got == 16_000 and len(done) == 20
    spool.close()


def test_one_put_larger_than_the_bound_is_refused(tmp_path):
    spool = open_spool(tmp_path, max_bytes=1_000_000)
    with pytest.raises(SpoolError, match="max_bytes"):
        spool.put([reading(i) for i in range(20_000)], "test")
    spool.close()


def test_group_commit_many_threads_few_fsyncs(tmp_path, monkeypatch):
    spool = open_spool(tmp_path)
    calls = []
    real = os.fdatasync

    def counting(fd):
        calls.append(fd)
        time.sleep(0.02)  # a slow disk: long enough for the other threads to queue up
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    n_threads, per_thread = 8, 25

    def worker(k):
        for i in range(per_thread):
            spool.put([reading(k * 1000 + i)], "test")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert spool.backlog_readings() == n_threads * per_thread
    assert len(calls) < n_threads * per_thread * 0.5, "puts waiting together share one fsync"
    assert len(set(drain(spool))) == n_threads * per_thread
    spool.close()


def test_unstorable_reading_is_dead_lettered_not_the_batch(tmp_path):
    spool = open_spool(tmp_path)
    bad = Reading("meter", {"household": "H1"}, {"energy_kwh": float("nan")}, 1)
    spool.put([reading(0), bad, reading(1)], "test")
    assert len(drain(spool)) == 2
    letters = read_dead_letters(tmp_path / "dead")
    assert [d["reason"].split(":")[0] for d in letters] == ["unstorable_reading"]
    spool.close()


def test_dead_letters_keep_raw_bytes_whole_and_cap_folder(tmp_path):
    letters = DeadLetters(tmp_path / "dl", max_bytes=1_000_000, max_raw_bytes=2048)
    letters.add("mqtt", "invalid_json: x", b"\xff\xfe not utf8", topic="hearth/a/b/c")
    letters.add("mqtt", "too_large: y", b"a" * 5000)
    recs = read_dead_letters(tmp_path / "dl")
    import base64

    assert base64.b64decode(recs[0]["raw_b64"]) == b"\xff\xfe not utf8"
    assert recs[0]["topic"] == "hearth/a/b/c"
    # Larger than max_raw_bytes: kept whole in a file of its own, not truncated.
    assert "raw" not in recs[1] and recs[1]["raw_file"].startswith("raw/")
    assert raw_bytes(recs[1], tmp_path / "dl") == b"a" * 5000
    assert recs[1]["size_bytes"] == 5000
    letters._bytes = letters.max_bytes  # folder full: metadata only, still recorded
    letters.add("mqtt", "bad_type: z", b"{}")
    last = read_dead_letters(tmp_path / "dl")[-1]
    assert "raw" not in last and last["raw_dropped"] and last["reason"] == "bad_type: z"
    # The spool's damaged bytes held acknowledged readings: kept even past the folder cap.
    letters.add("spool", "corrupt_record: x", b"b" * 5000)
    last = read_dead_letters(tmp_path / "dl")[-1]
    assert raw_bytes(last, tmp_path / "dl") == b"b" * 5000
    letters.close()


def test_one_writer_per_spool_and_read_only_status_never_cuts(tmp_path):
    from hearth.errors import HearthError

    spool = open_spool(tmp_path)
    spool.put([reading(0)], "test")
    with pytest.raises(HearthError, match="in use by another"):
        open_spool(tmp_path)
    seg = spool.directory / f"{spool._seg:020d}.seg"
    with open(seg, "ab") as f:  # a put half-way through its write in the running collector
        f.write(HEADER.pack(MAGIC, 500, 0) + b"partial")
    size = seg.stat().st_size
    look = Spool(tmp_path / "spool", DeadLetters(tmp_path / "dead"), read_only=True)
    assert look.backlog_readings() == 1
    with pytest.raises(SpoolError, match="read-only"):
        look.put([reading(1)], "test")
    look.close()
    assert seg.stat().st_size == size and read_dead_letters(tmp_path / "dead") == []
    spool.close()
    again = open_spool(tmp_path)  # the lock went with the first writer
    again.close()
