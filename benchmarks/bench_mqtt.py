"""Benchmark: MQTT in to InfluxDB through `hearth collect`, QoS 1, nothing lost.

    PYTHONPATH=. python -m benchmarks.bench_mqtt [--duration-s 300] [--rate 20000]
        [--publishers 2] [--devices 10000]

Starts its own Mosquitto and InfluxDB (free loopback ports, a temporary folder), runs
`hearth collect` as a separate process, and publishers in separate processes sending
electricity-meter payloads (the format of docs/mqtt.md) at QoS 1, each to a paced share of
`--rate` readings/s. Every 10 s it samples the collector's Prometheus metrics; at the end it
waits for the spool to drain and checks that InfluxDB holds exactly the readings published
(count per series of the run). Prints the figures as a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
MQTT_USER, MQTT_PASSWORD = "bench", "bench-mqtt-password"
INFLUX_USER, INFLUX_PASSWORD = "bench_admin", "bench-influx-password"


WINDOW = 100_000  # readings published but not yet taken by the collector, at most


def _publisher(port: int, index: int, n_pub: int, devices: int, rate: float, duration_s: float,
               t0_ns: int, result: mp.Queue, allowed) -> None:
    """Publish this process's share of readings, paced, at QoS 1; report what was acked.

    Closed loop: a publisher pauses while the readings published by all of them exceed what
    the collector took by `WINDOW` (`allowed` is set by the main process from the metrics), so
    a collector slower than the offered rate shows as a lower rate, not as an ever-growing
    queue in the broker."""
    from benchmarks.mqtt_load import LeanPublisher

    pub = LeanPublisher("127.0.0.1", port, f"bench-pub-{index}", MQTT_USER, MQTT_PASSWORD)
    mine = list(range(index, devices, n_pub))
    topics = [f"hearth/H{d:06d}/E{d:06d}/electricity_meter".encode() for d in mine]
    per_s = rate / n_pub
    start = time.monotonic()
    step = 0
    batch: list[tuple[bytes, bytes]] = []
    while time.monotonic() - start < duration_s:
        # One "round": every device of this publisher reports once (1 s of sample time).
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((t0_ns // 10**9) + step))
        for i, topic in enumerate(topics):
            batch.append((topic, (f'{{"ts":"{ts}Z","energy_kwh":{1000 + step * 0.01 + i * 1e-4:.4f},'
                                  f'"power_w":{300 + i % 700}.0,"voltage_v":239.5,'
                                  '"supply_on":true}').encode()))
            if len(batch) == 200:
                pub.publish_many(batch)
                batch = []
                ahead = pub.sent / per_s - (time.monotonic() - start)  # pace to the rate
                if ahead > 0:
                    time.sleep(ahead)
                while pub.sent * n_pub > allowed.value and time.monotonic() - start < duration_s:
                    time.sleep(0.01)  # the collector is behind: wait for it
                if time.monotonic() - start >= duration_s:
                    break
        step += 1
    if batch:
        pub.publish_many(batch)
    pub.wait_acked(120)
    pub.close()
    result.put((index, pub.sent, pub.acked, time.process_time()))


def _metrics(port: int) -> dict[str, float]:
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except requests.RequestException:
        return {}
    out = {}
    for line in text.splitlines():
        m = re.match(r'^([a-z_]+)(\{[^}]*\})? ([0-9.e+\-]+)$', line)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(3))
    return out


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its threads."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


def _write_registry(path: Path, devices: int) -> None:
    """Households H000000.. with one registered MQTT electricity meter E000000.. each, so
    that the collector checks every message against the registry (as in production)."""
    from hearth.registry.store import Registry

    home = ("North", "Riverside", "RS1", "flat", 2, 60.0, "credit", 1, "gas", "D", 0, 0, "",
            "home_all_day", 2, "2020-01-01")
    with Registry(path) as reg, reg.transaction() as conn:
        conn.executemany(
            "INSERT INTO households (household_id, patch, estate, address_area, property_type,"
            " bedrooms, floor_area_m2, payment_type, has_gas, heating, epc_band,"
            " means_tested_benefits, vulnerable, vulnerability_notes, occupancy, occupants,"
            " tenancy_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(f"H{d:06d}", *home) for d in range(devices)])
        conn.executemany(
            "INSERT INTO devices (device_id, household_id, kind, protocol, mqtt_topic, room,"
            " interval_s) VALUES (?, ?, 'electricity_meter', 'mqtt', ?, NULL, 60)",
            [(f"E{d:06d}", f"H{d:06d}", f"hearth/H{d:06d}/E{d:06d}/electricity_meter")
             for d in range(devices)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration-s", type=float, default=300.0)
    ap.add_argument("--rate", type=float, default=20_000.0, help="target readings/s in total")
    ap.add_argument("--publishers", type=int, default=2, help="publisher processes")
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--no-registry", action="store_true",
                    help="no registry: messages are not checked against registered devices"
                         " (as before device profiles); by default every device is registered")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from hearth.stack import InfluxServer, MosquittoServer, free_port

    work = Path(tempfile.mkdtemp(prefix="hearth-bench-mqtt-"))
    work.chmod(0o755)  # mosquitto drops from root to its own user before opening its files
    influx = InfluxServer(work / "influxdb", free_port(), free_port(), INFLUX_USER,
                          INFLUX_PASSWORD)
    broker = MosquittoServer(work / "mosquitto", free_port(), {MQTT_USER: MQTT_PASSWORD})
    influx.start()
    broker.start()
    metrics_port = free_port()
    config = work / "hearth.toml"
    config.write_text(f"""
[paths]
var_dir = "{work}/var"
[influxdb]
url = "{influx.url}"
database = "bench"
username = "{INFLUX_USER}"
manage_server = false
[mqtt]
port = {broker.port}
username = "{MQTT_USER}"
manage_server = false
tls = false
device_identities = "shared"
[registry]
path = "{work}/var/registry.sqlite3"
[collectors]
spool_dir = "{work}/var/spool"
dead_letter_dir = "{work}/var/dead_letters"
metrics_port = {metrics_port}
summary_interval_s = 10.0
[collectors.mqtt]
client_id = "bench-collector"
[collectors.modbus]
""")
    if not args.no_registry:
        _write_registry(work / "var" / "registry.sqlite3", args.devices)
    env = dict(os.environ, PYTHONPATH=str(ROOT), HEARTH_INFLUX_PASSWORD=INFLUX_PASSWORD,
               HEARTH_MQTT_PASSWORD=MQTT_PASSWORD)
    log_path = work / "collect.log"
    collector = subprocess.Popen([sys.executable, "-m", "hearth", "--config", str(config),
                                  "collect"], cwd=ROOT, env=env, start_new_session=True,
                                 stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        deadline = time.monotonic() + 30
        while "subscribed to" not in log_path.read_text():
            if time.monotonic() > deadline or collector.poll() is not None:
                raise SystemExit(f"collector did not start; see {log_path}")
            time.sleep(0.2)
        t0_ns = (time.time_ns() // 10**9 - 86_400) * 10**9  # yesterday: inside retention
        results: mp.Queue = mp.Queue()
        allowed = mp.Value("d", float(WINDOW), lock=False)
        pubs = [mp.Process(target=_publisher, args=(broker.port, i, args.publishers, args.devices,
                                                    args.rate, args.duration_s, t0_ns, results,
                                                    allowed))
                for i in range(args.publishers)]
        cpu0 = {"collector": _cpu_s(collector.pid), "influxd": _cpu_s(influx.pid()),
                "mosquitto": _cpu_s(broker.pid())}
        start = time.monotonic()
        for p in pubs:
            p.start()
        samples = []
        last = (start, 0.0)
        while any(p.is_alive() for p in pubs):
            for _ in range(10):
                time.sleep(1)
                taken = _metrics(metrics_port).get("hearth_collector_readings_total")
                if taken is not None:
                    allowed.value = taken + WINDOW
            m = _metrics(metrics_port)
            now = time.monotonic()
            written = m.get("hearth_influx_points_written_total", 0.0)
            rate = (written - last[1]) / (now - last[0])
            samples.append((now - start, m.get("hearth_collector_readings_total", 0.0), written,
                            m.get("hearth_spool_backlog_readings", 0.0), rate))
            print(f"t={now - start:6.0f} s  in={samples[-1][1]:>10.0f}  written={written:>10.0f}"
                  f"  backlog={samples[-1][3]:>8.0f}  write rate={rate:8.0f}/s", flush=True)
            last = (now, written)
        publish_end = time.monotonic()
        sent = acked = 0
        pub_cpu_s = 0.0
        for _ in pubs:
            _, s, a, cpu = results.get(timeout=180)
            sent += s
            acked += a
            pub_cpu_s += cpu
        for p in pubs:
            p.join()
        # Drain: everything acked by the broker must reach InfluxDB.
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            m = _metrics(metrics_port)
            if m.get("hearth_influx_points_written_total", 0) >= sent and \
                    m.get("hearth_spool_backlog_readings", 1) == 0:
                break
            time.sleep(1)
        drained = time.monotonic()
        cpu1 = {"collector": _cpu_s(collector.pid), "influxd": _cpu_s(influx.pid()),
                "mosquitto": _cpu_s(broker.pid())}
        q = requests.post(f"{influx.url}/query", auth=(INFLUX_USER, INFLUX_PASSWORD),
                          data={"db": "bench", "q": 'SELECT count("energy_kwh") FROM "raw"."meter"'},
                          timeout=120).json()
        stored = int(q["results"][0]["series"][0]["values"][0][1])
        m = _metrics(metrics_port)
    finally:
        collector.send_signal(signal.SIGTERM)
        try:
            collector.wait(60)
        except subprocess.TimeoutExpired:
            collector.kill()
        broker.stop()
        influx.stop()
    elapsed_pub = publish_end - start
    total = drained - start
    steady = [s[4] for s in samples[1:-1]] or [s[4] for s in samples]
    lost = sent - stored
    print()
    print("| figure | value |\n|---|---|")
    print(f"| readings published (QoS 1, acked by broker) | {sent:,} ({acked:,} acked) |")
    print(f"| readings in InfluxDB at the end | {stored:,} (lost: {lost}) |")
    print(f"| publish phase | {elapsed_pub:.0f} s, {sent / elapsed_pub:,.0f} readings/s offered |")
    print(f"| end to end (publish start to spool drained) | {total:.0f} s,"
          f" {stored / total:,.0f} readings/s |")
    print(f"| write rate per 10 s sample (min / median / max) | {min(steady):,.0f} /"
          f" {sorted(steady)[len(steady) // 2]:,.0f} / {max(steady):,.0f} readings/s |")
    print(f"| peak spool backlog | {max(s[3] for s in samples):,.0f} readings |")
    cpu = {name: cpu1[name] - cpu0[name] for name in cpu0}
    cpu["publishers"] = pub_cpu_s
    for name, sec in cpu.items():
        print(f"| CPU {name} | {sec:.0f} s ({sec / total:.2f} cores), {sec / stored * 1e6:.0f} us"
              " per reading |")
    per_reading = sum(cpu.values()) / stored
    print(f"| CPU of the whole pipeline per reading | {per_reading * 1e6:.0f} us: {os.cpu_count()}"
          f" dedicated cores would carry about {os.cpu_count() / per_reading:,.0f} readings/s"
          " (without publishers"
          f" {os.cpu_count() / (per_reading - pub_cpu_s / stored):,.0f}/s) |")
    print(f"| dead letters | {m.get('hearth_collector_dead_letters_total', 0):.0f} |")
    print(f"| machine | {platform.machine()}, {os.cpu_count()} cores,"
          f" load average {os.getloadavg()[0]:.1f} at the end |")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
