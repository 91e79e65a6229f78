"""Chaos checks: faults against the real servers, counting every acknowledged reading.

    PYTHONPATH=. python -m benchmarks.chaos [--quick] [--seed 14] [--only disk_full,...]
        [--kills 20] [--influx-down-s 120] [--disk-mib 16]

Starts its own InfluxDB and Mosquitto (the shipped configuration of `hearth.stack`, free
loopback ports, a temporary folder) and, per fault, a real `hearth collect` process with its own
database, spool and dead letters; a paho publisher sends electricity-meter readings at QoS 1.
"Acknowledged" means the broker sent the publisher a PUBACK for it. After each fault the
benchmark only undoes the fault (starts the stopped server again, starts the killed collector
again as its service manager would) and waits; it never repairs anything.

Faults: disk full under the spool (a tmpfs, InfluxDB down, the broker still accepting), random
bytes written into a spool segment at random offsets (collector stopped, backlog on disk),
SIGKILL of the collector at random moments, InfluxDB down, a broker restart, and a broker
SIGKILL with the collector up. A row counts: acknowledged, stored (in InfluxDB), dead-lettered
(whole, in the dead letters), destroyed (in records the corruption itself hit), lost (the rest:
acknowledged but nowhere), and whether a person had to step in. The last line is
``chaos: F faults, A acknowledged, L lost, D destroyed by corruption``; exit status 1 if L > 0.
"""

from __future__ import annotations

import argparse
import calendar
import collections
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import requests
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parents[1]
MQTT_USER, MQTT_PASSWORD = "chaos", "chaos-mqtt-password"
INFLUX_USER, INFLUX_PASSWORD = "chaos_admin", "chaos-influx-password"
HOUSEHOLDS = 200
# Two days ago on the hour: inside the raw retention policy, in the past.
T0_NS = (time.time_ns() // (3600 * 10**9) - 48) * 3600 * 10**9

Key = tuple[str, int]  # (device, sample time [ns])


@dataclass(frozen=True)
class Options:
    quick: bool
    seed: int
    kills: int
    influx_down_s: float
    disk_mib: int
    corrupt_readings: int
    paced_rate: float     # readings/s published during the timed faults
    settle_s: float       # longest wait for everything to arrive after a fault


@dataclass
class Row:
    fault: str
    acknowledged: int = 0
    stored: int = 0
    dead_lettered: int = 0
    destroyed: int = 0
    lost: int = 0
    by_hand: str = "no"
    note: str = ""


# ---- messages ---------------------------------------------------------------------------------

def message(i: int, start_ns: int) -> tuple[str, bytes, Key]:
    """Reading i: a meter of household i % HOUSEHOLDS, one reading a minute per meter."""
    h, k = i % HOUSEHOLDS, i // HOUSEHOLDS
    t = start_ns + k * 60 * 10**9
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t // 10**9))
    kwh = round(1000.0 + h + k * 0.0125, 4)
    payload = json.dumps({"ts": ts, "energy_kwh": kwh, "power_w": 300.0, "voltage_v": 239.5,
                          "supply_on": True}).encode()
    return f"hearth/H{h:06d}/E{h:06d}/electricity_meter", payload, (f"E{h:06d}", t)


class Publisher:
    """paho at QoS 1; a reading counts as acknowledged once the broker's PUBACK arrived."""

    def __init__(self, port: int, client_id: str):
        self._acks: collections.deque = collections.deque()
        self._pending: dict[int, Key] = {}
        self.acked: set[Key] = set()
        self.published = 0
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        c.username_pw_set(MQTT_USER, MQTT_PASSWORD)
        c.max_inflight_messages_set(0)  # paho's in-flight count can stick after a reconnect
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(1, 2)
        c.on_publish = lambda client, ud, mid, rc, props: (
            None if rc.is_failure else self._acks.append(mid))
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 600
        deadline = time.monotonic() + 30
        while True:
            try:
                c.connect("127.0.0.1", port, 30, clean_start=False, properties=props)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        c.loop_start()
        self.client = c

    def _collect(self) -> None:
        while self._acks:
            key = self._pending.pop(self._acks.popleft(), None)
            if key is not None:
                self.acked.add(key)

    def publish(self, topic: str, payload: bytes, key: Key) -> None:
        self._collect()
        info = self.client.publish(topic, payload, qos=1)
        while info.mid in self._pending:  # packet ids wrap at 65535: wait for the old one
            time.sleep(0.01)
            self._collect()
        self._pending[info.mid] = key
        self.published += 1

    def settle(self, timeout_s: float = 30.0) -> None:
        """Wait (bounded) for PUBACKs of what was published; what never comes is not counted."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._collect()
            if not self._pending:
                return
            time.sleep(0.05)

    def close(self) -> None:
        self.settle(10.0)
        self.client.disconnect()
        self.client.loop_stop()


def publish_paced(pub: Publisher, first: int, n: int, rate: float, start_ns: int,
                  stop: threading.Event | None = None) -> int:
    """Publish readings first..first+n at `rate` per second; returns the next index."""
    t0 = time.monotonic()
    for j in range(n):
        if stop is not None and stop.is_set():
            return first + j
        ahead = j / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
        pub.publish(*message(first + j, start_ns))
    return first + n


# ---- the collector process ----------------------------------------------------------------------

def _toml(obj: dict, prefix: str = "") -> str:
    scalars, tables = [], []
    for k, v in obj.items():
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            scalars.append(f"{k} = {json.dumps(v)}")
    out = (f"[{prefix}]\n" if prefix and scalars else "") + "".join(s + "\n" for s in scalars)
    for k, v in tables:
        out += _toml(v, f"{prefix}.{k}" if prefix else k)
    return out


RUNNING: list = []  # every collector started; stopped after each fault, whatever


class Collector:
    """One `hearth collect` process with its own database, spool and dead letters."""

    def __init__(self, work: Path, name: str, influx, broker, spool_dir: Path | None = None):
        from hearth.stack import free_port

        self.work = work / name
        self.work.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.database = f"chaos_{name}"
        self.spool_dir = spool_dir or self.work / "spool"
        self.dead_dir = self.work / "dead_letters"
        self.metrics_port = free_port()
        self.client_id = f"hearth-chaos-{name}"
        self.log_path = self.work / "collect.log"
        self.config = self.work / "hearth.toml"
        self.config.write_text(_toml({
            "paths": {"var_dir": str(self.work)},
            "influxdb": {"url": influx.url, "database": self.database, "username": INFLUX_USER,
                         "max_retry_s": 2.0, "timeout_s": 2.0},
            "mqtt": {"port": broker.port, "username": MQTT_USER, "tls": False,
                     "device_identities": "shared"},  # the plain broker: one user, no TLS
            "registry": {"path": str(self.work / "registry.sqlite3")},
            "collectors": {"spool_dir": str(self.spool_dir),
                           "dead_letter_dir": str(self.dead_dir),
                           "metrics_port": self.metrics_port, "summary_interval_s": 5.0,
                           "mqtt": {"client_id": self.client_id, "reconnect_min_s": 0.5,
                                    "reconnect_max_s": 2.0},
                           "spool": {"retry_max_s": 2.0}},
        }))
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        RUNNING.append(self)

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), HEARTH_INFLUX_PASSWORD=INFLUX_PASSWORD,
                   HEARTH_MQTT_PASSWORD=MQTT_PASSWORD)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen([sys.executable, "-m", "hearth", "--config",
                                      str(self.config), "collect"], stdout=log,
                                     stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                                     start_new_session=True)
        log.close()
        self.starts += 1
        wait_for(lambda: self.metrics() is not None, 60, f"{self.name}: collector up")
        if self.starts == 1:  # a new session: readings published before it subscribes go nowhere
            wait_for(lambda: "subscribed to" in self.log_text(), 60, f"{self.name}: subscribed")

    def metrics(self) -> dict[str, float] | None:
        try:
            text = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2).text
        except requests.RequestException:
            return None
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    out[name] = float(value)
        return out

    def kill(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None

    def forget_session(self, port: int) -> None:
        """Delete the collector's broker session, so the broker stops queueing for it."""
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                        protocol=paho.MQTTv5)
        c.username_pw_set(MQTT_USER, MQTT_PASSWORD)
        with contextlib.suppress(OSError):
            c.connect("127.0.0.1", port, 30, clean_start=True)
            c.loop_start()
            time.sleep(0.3)
            c.disconnect()
            c.loop_stop()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_for(cond, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


# ---- counting -------------------------------------------------------------------------------

def stored_keys(influx, database: str) -> set[Key]:
    r = requests.get(f"{influx.url}/query", params={
        "db": database, "epoch": "ns",
        "q": 'SELECT "energy_kwh" FROM "raw"."meter" GROUP BY "device"'},
        auth=(INFLUX_USER, INFLUX_PASSWORD), timeout=60)
    r.raise_for_status()
    out: set[Key] = set()
    for result in r.json().get("results", []):
        for s in result.get("series", []) or []:
            dev = s["tags"]["device"]
            out.update((dev, int(v[0])) for v in s["values"])
    return out


_LINE = re.compile(rb"^meter,[^ ]*device=([^, ]+)[^ ]* \S+ (\d+)$", re.M)


def lines_by_key(data: bytes) -> dict[Key, bytes]:
    """The `meter` lines of line protocol bytes by (device, time); damaged bytes may not decode."""
    return {(m.group(1).decode("utf-8", "replace"), int(m.group(2))): m.group(0)
            for m in _LINE.finditer(data)}


def dead_lettered_keys(dead_dir: Path, originals: dict[Key, bytes] | None = None) -> set[Key]:
    """Readings kept whole in the dead letters: MQTT payloads, and lines of the spool's damaged
    bytes that are byte for byte the line the spool was given (`originals`; without them no
    spool line counts, so a damaged line is never taken for a kept one)."""
    from collectors.deadletter import raw_bytes, read_dead_letters

    out: set[Key] = set()
    if not dead_dir.exists():
        return out
    for rec in read_dead_letters(dead_dir):
        raw = raw_bytes(rec, dead_dir) or b""
        if rec.get("source") == "spool":
            out |= {k for k, line in lines_by_key(raw).items()
                    if originals is not None and originals.get(k) == line}
        elif rec.get("topic"):
            with contextlib.suppress(ValueError, KeyError, IndexError):
                device = rec["topic"].split("/")[2]
                ts = json.loads(raw)["ts"]
                t = calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))
                out.add((device, t * 10**9))
    return out


def settle(row: Row, influx, col: Collector, acked: set[Key], timeout_s: float,
           destroyed: set[Key] = frozenset(), originals: dict[Key, bytes] | None = None) -> Row:
    """Wait until every acknowledged reading is stored (or the timeout), then count."""
    want = acked - destroyed
    deadline = time.monotonic() + timeout_s
    while True:
        stored = stored_keys(influx, col.database) & acked
        if want <= stored or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    dead = (dead_lettered_keys(col.dead_dir, originals) & acked) - stored
    missing = acked - stored - dead
    row.acknowledged = len(acked)
    row.stored = len(stored)
    row.dead_lettered = len(dead)
    row.destroyed = len(missing & destroyed)
    row.lost = len(missing - destroyed)
    return row


# ---- the faults -----------------------------------------------------------------------------

def fault_disk_full(o: Options, work: Path, influx, broker, rng: random.Random) -> Row:
    row = Row("disk full under the spool (InfluxDB down)")
    disk = work / "disk_full" / "disk"
    disk.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={o.disk_mib}m", "tmpfs",
                           str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        row.note = f"skipped: mount refused ({done.stderr.strip()})"
        row.by_hand = "-"
        return row
    col = Collector(work, "disk_full", influx, broker, spool_dir=disk / "spool")
    try:
        col.start()
        pub = Publisher(broker.port, "chaos-pub-disk")
        nxt = publish_paced(pub, 0, 1000, 5000, T0_NS)
        pub.settle()
        wait_for(lambda: len(stored_keys(influx, col.database)) >= 1000, 60, "first readings")
        influx.stop()
        saw_full = False
        while not saw_full:  # the broker keeps accepting; the spool's disk fills
            nxt = publish_paced(pub, nxt, 2000, 20_000, T0_NS)
            m = col.metrics() or {}
            saw_full = m.get("hearth_spool_disk_full") == 1
            if nxt > 200 * o.disk_mib * 1024:
                break  # bytes per reading ~150: far past what the disk can hold
        nxt = publish_paced(pub, nxt, 5000, 20_000, T0_NS)  # these wait with the broker
        pub.settle()
        time.sleep(2.0)
        m = col.metrics() or {}
        health_says = "spool disk full" in col.log_text() or m.get("hearth_spool_disk_full") == 1
        influx.start()
        pub.close()
        settle(row, influx, col, pub.acked, o.settle_s)
        row.note = (f"disk full reached: {'yes' if saw_full else 'NO'}; health said 'spool disk"
                    f" full': {'yes' if health_says else 'NO'}; collector process"
                    f" {'still the first' if col.proc and col.proc.poll() is None else 'DIED'}")
    finally:
        if influx.pid() is None:
            influx.start()
        col.stop()
        col.forget_session(broker.port)
        subprocess.run(["umount", "-l", str(disk)], check=False)
    return row


def fault_corruption(o: Options, work: Path, influx, broker, rng: random.Random) -> Row:
    from collectors.spool_format import HEADER, decode_payload, scan

    row = Row("random bytes written into a spool segment")
    col = Collector(work, "corrupt", influx, broker)
    col.start()
    pub = Publisher(broker.port, "chaos-pub-corrupt")
    wait_for(lambda: (col.metrics() or {}).get("hearth_influx_last_success_seconds", 0) > 0,
             60, "database created")
    influx.stop()  # the readings stay in the spool
    n = o.corrupt_readings
    publish_paced(pub, 0, n, 5000, T0_NS)
    pub.close()
    wait_for(lambda: (col.metrics() or {}).get(
        'hearth_collector_readings_total{collector="mqtt"}', 0) >= len(pub.acked), 120,
        "the collector took every reading")
    col.stop()
    segs = sorted(col.spool_dir.glob("*.seg"), key=lambda p: p.stat().st_size)
    seg = segs[-1]
    data = bytearray(seg.read_bytes())
    records = scan(bytes(data)).records
    before = bytes(data)
    hits = 4
    for _ in range(hits):  # four random bytes at each of four random offsets
        at = rng.randrange(len(data) - 4)
        data[at:at + 4] = bytes(rng.randrange(256) for _ in range(4))
    seg.write_bytes(bytes(data))
    changed = [k for k in range(len(data)) if data[k] != before[k]]
    originals: dict[Key, bytes] = {}  # the lines of the records hit, as the spool had them
    touched = 0
    for off, size, _ in records:
        if any(off <= k < off + size for k in changed):
            touched += 1
            originals |= lines_by_key(decode_payload(before[off + HEADER.size:off + size]).lines)
    destroyed = set(originals)  # hit records: each reading destroyed unless its line is intact
    influx.start()
    col.start()
    settle(row, influx, col, pub.acked, o.settle_s, destroyed & pub.acked, originals)
    col.stop()
    col.forget_session(broker.port)
    row.note = (f"{hits} x 4 random bytes in {seg.name} ({len(before)} bytes, {len(records)}"
                f" records); {touched} records hit")
    return row


def fault_sigkill(o: Options, work: Path, influx, broker, rng: random.Random) -> Row:
    row = Row(f"SIGKILL of the collector at {o.kills} random moments")
    col = Collector(work, "sigkill", influx, broker)
    col.start()
    pub = Publisher(broker.port, "chaos-pub-kill")
    stop = threading.Event()
    th = threading.Thread(target=publish_paced, args=(pub, 0, 10**8, o.paced_rate, T0_NS, stop),
                          daemon=True)
    th.start()
    try:
        for _ in range(o.kills):
            time.sleep(rng.uniform(0.3, 3.0))
            col.kill()
            col.start()
    finally:
        stop.set()
        th.join(30)
    pub.close()
    settle(row, influx, col, pub.acked, o.settle_s)
    col.stop()
    col.forget_session(broker.port)
    row.note = f"{o.kills} kills, {col.starts} starts"
    return row


def _timed(o: Options, work: Path, influx, broker, name: str, row: Row, fault) -> Row:
    col = Collector(work, name, influx, broker)
    col.start()
    pub = Publisher(broker.port, f"chaos-pub-{name}")
    stop = threading.Event()
    th = threading.Thread(target=publish_paced, args=(pub, 0, 10**8, o.paced_rate, T0_NS, stop),
                          daemon=True)
    th.start()
    try:
        time.sleep(3.0)
        fault(col)
        time.sleep(3.0)
    finally:
        stop.set()
        th.join(30)
    pub.close()
    settle(row, influx, col, pub.acked, o.settle_s)
    row.note = "; ".join(filter(None, [row.note, "collector process never restarted"
                                       if col.starts == 1 else f"collector started {col.starts}"
                                       " times"]))
    col.stop()
    col.forget_session(broker.port)
    return row


def fault_influx_down(o: Options, work: Path, influx, broker, rng: random.Random) -> Row:
    row = Row(f"InfluxDB down {o.influx_down_s:.0f} s")

    def fault(col):
        influx.stop()
        time.sleep(o.influx_down_s)
        m = col.metrics() or {}
        row.note = ("alert hearth_influx_unreachable_seconds ="
                    f" {m.get('hearth_influx_unreachable_seconds', 0):.0f} s before restart")
        influx.start()

    return _timed(o, work, influx, broker, "influx_down", row, fault)


def fault_broker_restart(o: Options, work: Path, influx, broker, rng: random.Random) -> Row:
    row = Row("broker restart")

    def fault(col):
        broker.stop()
        time.sleep(2.0)
        broker.start()

    return _timed(o, work, influx, broker, "broker_restart", row, fault)


def fault_broker_kill(o: Options, work: Path, influx, broker, rng: random.Random) -> Row:
    row = Row("broker SIGKILL, collector up")

    def fault(col):
        broker.kill()
        time.sleep(1.0)
        broker.start()

    return _timed(o, work, influx, broker, "broker_kill", row, fault)


FAULTS = {"disk_full": fault_disk_full, "corruption": fault_corruption,
          "sigkill": fault_sigkill, "influx_down": fault_influx_down,
          "broker_restart": fault_broker_restart, "broker_kill": fault_broker_kill}


# ---- main ----------------------------------------------------------------------------------

def table(rows: list[Row]) -> str:
    out = ["| fault | readings acknowledged | stored | dead-lettered | destroyed by corruption"
           " | lost | recovered by hand | notes |", "|---|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        out.append(f"| {r.fault} | {r.acknowledged} | {r.stored} | {r.dead_lettered} |"
                   f" {r.destroyed} | {r.lost} | {r.by_hand} | {r.note} |")
    return "\n".join(out)


def options(args) -> Options:
    quick = args.quick
    return Options(quick=quick, seed=args.seed,
                   kills=args.kills if args.kills is not None else (3 if quick else 20),
                   influx_down_s=(args.influx_down_s if args.influx_down_s is not None
                                  else (10.0 if quick else 120.0)),
                   disk_mib=args.disk_mib or (4 if quick else 16),
                   corrupt_readings=3000 if quick else 20_000,
                   paced_rate=500.0 if quick else 1000.0,
                   settle_s=120.0 if quick else 300.0)


def run(o: Options, only: list[str] | None = None) -> list[Row]:
    from hearth.stack import InfluxServer, MosquittoServer, free_port

    rng = random.Random(o.seed)
    work = Path(tempfile.mkdtemp(prefix="hearth-chaos-"))
    work.chmod(0o755)  # mosquitto drops from root to its own user before opening its files
    influx = InfluxServer(work / "influxdb", free_port(), free_port(), INFLUX_USER,
                          INFLUX_PASSWORD)
    broker = MosquittoServer(work / "mosquitto", free_port(), {MQTT_USER: MQTT_PASSWORD})
    rows: list[Row] = []
    try:
        influx.start()
        broker.start()
        for name, fault in FAULTS.items():
            if only and name not in only:
                continue
            t0 = time.monotonic()
            try:
                row = fault(o, work, influx, broker, rng)
            except Exception as exc:  # a fault that could not be run is a failed row, loudly
                row = Row(name, by_hand="yes", note=f"ERROR: {type(exc).__name__}: {exc}")
                row.lost = -1
            finally:
                while RUNNING:  # never leave a collector process behind
                    RUNNING.pop().stop()
            row.note = "; ".join(filter(None, [row.note, f"{time.monotonic() - t0:.0f} s"]))
            print(f"chaos: {row.fault}: acknowledged {row.acknowledged}, stored {row.stored},"
                  f" lost {row.lost}, destroyed {row.destroyed} ({row.note})", flush=True)
            rows.append(row)
            if influx.pid() is None:
                influx.start()
            if broker.pid() is None:
                broker.start()
    finally:
        broker.stop()
        influx.stop()
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="CI sizes: InfluxDB down 10 s, 3 kills, a 4 MiB disk")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--kills", type=int)
    ap.add_argument("--influx-down-s", type=float)
    ap.add_argument("--disk-mib", type=int)
    ap.add_argument("--only", help=f"comma-separated faults of {','.join(FAULTS)}")
    args = ap.parse_args(argv)
    only = args.only.split(",") if args.only else None
    if only and (unknown := set(only) - set(FAULTS)):
        ap.error(f"unknown faults {sorted(unknown)}; known: {', '.join(FAULTS)}")
    rows = run(options(args), only)
    print()
    print(table(rows))
    failed = [r for r in rows if r.lost < 0]
    acked = sum(r.acknowledged for r in rows)
    lost = sum(max(r.lost, 0) for r in rows)
    destroyed = sum(r.destroyed for r in rows)
    print(f"chaos: {len(rows)} faults, {acked} acknowledged, {lost} lost, {destroyed} destroyed"
          " by corruption" + (f" ({len(failed)} faults could not be run)" if failed else ""))
    return 1 if lost or failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
