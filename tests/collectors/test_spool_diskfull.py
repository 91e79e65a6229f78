"""Disk full under the spool, for real: a 4 MiB tmpfs filled to the last byte."""

from __future__ import annotations

import threading
import time

import pytest

from collectors.base import Reading
from collectors.deadletter import DeadLetters, read_dead_letters
from collectors.lines import reading_to_line
from collectors.spool import Spool
from collectors.spool_format import scan
from tests.collectors.tmpfs_support import small_tmpfs


def reading(i: int) -> Reading:
    return Reading("meter", {"household": f"H{i % 50:06d}", "device": "E1",
                             "fuel": "electricity", "source": "mqtt"},
                   {"energy_kwh": 100.0 + i, "power_w": 250.0}, 1_767_225_600_000_000_000 + i)


@pytest.fixture
def disk(tmp_path):
    with small_tmpfs(tmp_path / "disk", "4m") as path:
        yield path


def on_disk_is_whole(spool: Spool) -> None:
    """Every segment file is whole records only, and as long as the spool thinks."""
    for seg in sorted(spool.directory.glob("*.seg")):
        data = seg.read_bytes()
        assert scan(data).damage == [], f"{seg.name} holds a partial record"
        assert len(data) == spool._sizes[int(seg.stem)]


def test_disk_full_blocks_puts_undoes_partial_writes_and_resumes_alone(tmp_path, disk):
    # max_bytes far above the disk: the file system, not the spool's bound, runs out.
    spool = Spool(disk / "spool", DeadLetters(tmp_path / "dead"), max_bytes=100_000_000,
                  segment_bytes=64_000_000)
    n_puts, per_put = 1500, 40            # ~7.5 MB of records: about twice the disk
    puts = [[reading(p * per_put + k) for k in range(per_put)] for p in range(n_puts)]
    returned = []

    def producer():
        for rs in puts:
            spool.put(rs, "test")
            returned.append(1)

    th = threading.Thread(target=producer, daemon=True)
    th.start()
    deadline = time.monotonic() + 60
    while spool.disk_full_since is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert spool.disk_full_since is not None, "the disk never filled"
    time.sleep(1.5)  # several retries while full
    assert th.is_alive() and len(returned) < n_puts, "put must wait while the disk is full"
    assert spool.disk_free_bytes() < 10_000
    with spool._lock:
        on_disk_is_whole(spool)  # the short write was cut back: no half record on disk
    full_at = len(returned)

    # Space comes back as the writer drains (InfluxDB is back): no one touches the spool.
    got = []
    deadline = time.monotonic() + 120
    while (th.is_alive() or spool.backlog_readings()) and time.monotonic() < deadline:
        batch = spool.read_batch(5000, timeout_s=0.2)
        if batch is not None:
            for rec in batch.records:
                got.extend(rec.lines.decode().split("\n"))
            spool.commit(batch.end, batch.count)
    th.join(5)
    assert len(returned) == n_puts > full_at
    assert got == [reading_to_line(r) for rs in puts for r in rs]  # all, once, in order
    assert spool.disk_full_since is None and spool.disk_full_events >= 1
    on_disk_is_whole(spool)
    spool.close()
    again = Spool(disk / "spool", DeadLetters(tmp_path / "dead"))
    assert again.backlog_readings() == 0 and read_dead_letters(tmp_path / "dead") == []
    again.close()


def test_position_moves_with_the_disk_full(tmp_path, disk):
    """Committing needs no new space (the position is overwritten in place)."""
    spool = Spool(disk / "spool", DeadLetters(tmp_path / "dead"), max_bytes=100_000_000)
    spool.put([reading(i) for i in range(100)], "test")
    filler = disk / "filler"
    with open(filler, "wb") as f:  # someone else fills the disk
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    assert spool.disk_free_bytes() == 0
    batch = spool.read_batch(1000)
    spool.commit(batch.end, batch.count)
    assert spool.backlog_readings() == 0
    spool.close()
    again = Spool(disk / "spool", DeadLetters(tmp_path / "dead"))
    assert again.backlog_readings() == 0 and again.position == batch.end
    again.close()
