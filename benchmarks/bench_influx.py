"""InfluxDB client benchmarks (issue 2): write throughput from numpy arrays, InfluxDB's own
ceiling, and reading the half-hourly usage matrix.

    python -m benchmarks.bench_influx [--points N] [--households H] [--weeks W] [--no-docs]

Starts its own InfluxDB 1.x (Debian's influxd) on free loopback ports in a temporary folder.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests

from benchmarks._report import machine, write_section
from hearth.influx import BatchWriter, InfluxClient, lines_from_arrays, usage_lines
from hearth.stack import InfluxServer, free_port

NOTES = """\
What limits these figures:

- Writes: CPU shared between the client and influxd on 2 cores. influxd spends 5-7 us of CPU
  per point of this shape (4 tags, 4 fields), the client 1.5-2.5 us: building lines about
  1 us (float columns formatted by Arrow in C++; Python's float formatting took 1.9 us before),
  gzip level 1 about 0.8 us on the client and 1 us in influxd, which is why the default
  `gzip = "auto"` sends plain bodies to a server on loopback. 250,000 points/s needs both
  together under 8 us of CPU per point with the 2 cores to themselves.
- `usage_matrix`: influxd's raw `SELECT` output path costs about 3 us of CPU per row emitted
  (6.5-8.5 s for the 2.7 million rows of `usage_30m`), the same whether the data sit in its
  cache or in compacted TSM files; `count()` over the same points takes 0.75 s, so the cost is
  emitting rows, not reading them. Hence `usage_day`: the derivation (and every other writer,
  through `usage_lines`) also writes one point per household and UTC day with 48 half-hour
  fields, and `usage_matrix` reads those: 48 times fewer rows, about half the influxd CPU and a
  third of the client's (one numpy array per chunk of day rows instead of a tuple per half
  hour). What remains is influxd assembling 48 field cursors into each row (about 1.3 us per
  value); a request for usage_30m's first and last time in the period (to catch days the rollup
  lacks, on databases written before it) adds about 0.1 s. MessagePack answers (used) cost a
  third less server CPU than JSON. Reading in more than 2 parallel slices does not help on 2
  cores.
"""

GOAL_WRITE_PPS = 250_000
GOAL_MATRIX_S = 3.0
CHUNK_STEPS = 10  # readings of all households for this many sample times per lines_from_arrays


def meter_readings(households: int, steps: int, start_ns: int, seed: int = 0):
    """Per step, one electricity reading per household, as a smart meter's Modbus gateway
    would give them: cumulative energy to 0.001 kWh, power and voltage as float32 registers,
    prepayment credit in pence. Yields (tags, fields, time_ns) chunks."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"H{i:06d}" for i in range(households)])
    devices = np.char.add("E", ids)
    register = rng.random(households) * 20_000
    credit = rng.random(households) * 40
    for s0 in range(0, steps, CHUNK_STEPS):
        k = min(CHUNK_STEPS, steps - s0)
        power_w = rng.gamma(2.0, 250.0, (k, households)).astype(np.float32)
        register = register + np.cumsum(power_w / 1000 / 60, axis=0)
        energy_kwh = np.round(register, 3).ravel()
        register = register[-1]
        credit_gbp = np.round(np.maximum(credit - rng.random((k, households)) * 0.02, 0), 2)
        voltage_v = (230 + rng.normal(0, 2, (k, households))).astype(np.float32)
        t = start_ns + np.repeat(np.arange(s0, s0 + k, dtype=np.int64) * 60 * 10**9, households)
        tags = {"household": np.tile(ids, k), "device": np.tile(devices, k),
                "fuel": "electricity", "source": "modbus"}
        fields = {"energy_kwh": energy_kwh, "power_w": power_w.ravel(),
                  "credit_gbp": credit_gbp.ravel(), "voltage_v": voltage_v.ravel()}
        yield tags, fields, t


def cpu_s(pid: int | None = None) -> float:
    """CPU time [s] (user + system) of a process, ours when pid is None."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid: int, timeout_s: float = 60.0) -> float:
    """Wait until influxd has finished compacting what was just written (under 5% of a core
    for a second), so that queries are timed on their own; the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        c0 = cpu_s(pid)
        time.sleep(1.0)
        if cpu_s(pid) - c0 < 0.05:
            break
    return time.perf_counter() - t0


def count_points(client: InfluxClient, measurement: str, rp: str = "raw") -> int:
    [s] = client.query(f'SELECT count("energy_kwh") FROM "{client.database}"."{rp}".'
                       f'"{measurement}"')
    return int(s.values["count"][0])


def bench_ceiling(server: InfluxServer, households: int, steps: int, start_ns: int,
                  connections: int = 2) -> dict:
    """InfluxDB's own rate for pre-built gzip line protocol (5,000 lines a request)."""
    with InfluxClient(server.url, "bench_ceiling", server.username, server.password) as client:
        client.ensure_database()
        lines = [line for tags, fields, t in meter_readings(households, steps, start_ns)
                 for line in lines_from_arrays("meter", tags, fields, t)]
        bodies = [gzip.compress(("\n".join(lines[i:i + 5000]) + "\n").encode(), 1)
                  for i in range(0, len(lines), 5000)]
        n = len(lines)
        del lines
        todo = list(reversed(bodies))
        lock = threading.Lock()

        def post_all():
            session = requests.Session()
            session.auth = (server.username, server.password)
            while True:
                with lock:
                    if not todo:
                        return
                    body = todo.pop()
                resp = session.post(f"{server.url}/write", data=body, params={
                    "db": "bench_ceiling", "precision": "ns"}, headers={"Content-Encoding": "gzip"})
                resp.raise_for_status()

        pid = server.pid()
        c0, t0 = cpu_s(pid), time.perf_counter()
        threads = [threading.Thread(target=post_all) for _ in range(connections)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed, server_cpu = time.perf_counter() - t0, cpu_s(pid) - c0
        assert count_points(client, "meter") == n
    return {"points": n, "seconds": elapsed, "pps": n / elapsed, "connections": connections,
            "server_us": server_cpu / n * 1e6}


def bench_client_write(server: InfluxServer, households: int, steps: int, start_ns: int,
                       gzip_body: bool | str = "auto") -> dict:
    """Arrays -> lines_from_arrays -> BatchWriter -> InfluxDB, all timed."""
    with InfluxClient(server.url, f"bench_client_{'gzip' if gzip_body is True else 'plain'}",
                      server.username, server.password, batch_size=5000,
                      gzip_body=gzip_body) as client:
        client.ensure_database()
        pid = server.pid()
        c0, p0, t0 = cpu_s(pid), cpu_s(), time.perf_counter()
        build_s = 0.0
        with BatchWriter(client) as writer:
            for tags, fields, t in meter_readings(households, steps, start_ns):
                b0 = time.thread_time()  # this thread's CPU only (senders run beside it)
                lines = lines_from_arrays("meter", tags, fields, t)
                build_s += time.thread_time() - b0
                writer.add(lines)
        elapsed, server_cpu, client_cpu = (time.perf_counter() - t0, cpu_s(pid) - c0,
                                           cpu_s() - p0)
        n = households * steps
        assert writer.result.written == n and writer.result.dead_lettered == 0
        assert count_points(client, "meter") == n
    return {"points": n, "seconds": elapsed, "pps": n / elapsed, "build_s": build_s,
            "server_us": server_cpu / n * 1e6, "client_us": client_cpu / n * 1e6}


def _time_matrix(client: InfluxClient, pid: int, start_ns: int, end_ns: int, source: str,
                 runs: int = 3) -> tuple[dict, object]:
    times, server_cpu, client_cpu = [], [], []
    for _ in range(runs):
        c0, p0, q0 = cpu_s(pid), cpu_s(), time.perf_counter()
        m = client.usage_matrix(np.datetime64(start_ns, "ns"), np.datetime64(end_ns, "ns"),
                                source=source)
        times.append(time.perf_counter() - q0)
        server_cpu.append(cpu_s(pid) - c0)
        client_cpu.append(cpu_s() - p0)
    best = int(np.argmin(times))
    return {"first_s": times[0], "best_s": times[best], "server_cpu_s": server_cpu[best],
            "client_cpu_s": client_cpu[best], "runs_s": times}, m


def _profile_matrix(client: InfluxClient, start_ns: int, end_ns: int) -> None:
    """cProfile of one `usage_matrix` from usage_day: the client's share (the rest is
    influxd, measured as its CPU time)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    client.usage_matrix(np.datetime64(start_ns, "ns"), np.datetime64(end_ns, "ns"))
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(14)


def bench_usage_matrix(server: InfluxServer, households: int, weeks: int, end_ns: int,
                       profile: bool = False) -> dict:
    """Half-hourly usage written as the derivation writes it (`usage_lines`: usage_30m points
    and their usage_day rollup), then `usage_matrix` from usage_day (the default) and, for
    comparison, from usage_30m alone."""
    steps = weeks * 7 * 48
    start_ns = end_ns - steps * 1800 * 10**9
    rng = np.random.default_rng(1)
    ids = np.array([f"H{i:06d}" for i in range(households)])
    with InfluxClient(server.url, "bench_usage", server.username, server.password) as client:
        client.ensure_database()
        t0 = time.perf_counter()
        lines_out = 0
        with BatchWriter(client, retention_policy="usage") as writer:
            for s0 in range(0, steps, 48):
                k = min(48, steps - s0)
                t = start_ns + np.repeat(np.arange(s0, s0 + k, dtype=np.int64), households) \
                    * 1800 * 10**9
                energy = np.round(rng.gamma(2.0, 0.15, k * households), 3)
                lines = usage_lines(np.tile(ids, k), "electricity", energy, t)
                lines_out += len(lines)
                writer.add(lines)
        load_s = time.perf_counter() - t0
        pid = server.pid()
        settle_s = settle(pid)
        day, m = _time_matrix(client, pid, start_ns, end_ns, "usage_day")
        assert m.shape == (households, steps), m.shape
        assert not np.isnan(m.energy_kwh).any()
        half, m30 = _time_matrix(client, pid, start_ns, end_ns, "usage_30m")
        np.testing.assert_array_equal(m30.energy_kwh, m.energy_kwh)
        if profile:
            _profile_matrix(client, start_ns, end_ns)
    return {"households": households, "steps": steps, "points": households * steps,
            "lines": lines_out, "load_s": load_s, "settle_s": settle_s, **day, "half": half}


def _matrix_text(m: dict, weeks: int) -> str:
    h = m["half"]
    return (f"usage_matrix {m['households']} x {m['steps']} ({weeks} weeks) from usage_day:"
            f" {', '.join(f'{x:.2f}' for x in m['runs_s'])} s, best {m['best_s']:.2f} s (influxd CPU"
            f" {m['server_cpu_s']:.2f} s, client CPU {m['client_cpu_s']:.2f} s); from usage_30m:"
            f" best {h['best_s']:.2f} s (influxd CPU {h['server_cpu_s']:.2f} s, client CPU"
            f" {h['client_cpu_s']:.2f} s); load {m['load_s']:.1f} s for {m['lines']:,} lines,"
            f" then {m['settle_s']:.0f} s until influxd was idle")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_influx")
    parser.add_argument("--points", type=int, default=2_000_000, help="points per write run")
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--only-matrix", action="store_true",
                        help="only the usage_matrix benchmark (prints, never updates the docs)")
    parser.add_argument("--profile", action="store_true",
                        help="with --only-matrix: cProfile one usage_matrix call (client side)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    steps = max(1, args.points // args.households)
    now_s = time.time_ns() // 10**9
    start_ns = (now_s - 7 * 86_400) * 10**9  # inside the raw RP's 90 days
    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-influx-"))
    server = InfluxServer(workdir, free_port(), free_port(), "bench", "bench-password")
    try:
        server.start()
        print(f"InfluxDB {server.url} in {workdir}", flush=True)
        if args.only_matrix:
            matrix = bench_usage_matrix(server, args.households, args.weeks,
                                        (now_s // 1800) * 1800 * 10**9, profile=args.profile)
            cpu = matrix["server_cpu_s"] + matrix["client_cpu_s"]
            print(_matrix_text(matrix, args.weeks))
            print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())};"
                  f" CPU of the best run {cpu:.2f} s, {cpu / (os.cpu_count() or 1):.2f} s of"
                  f" wall time on {os.cpu_count()} otherwise idle cores")
            return 0
        ceiling = bench_ceiling(server, args.households, steps, start_ns)
        print(f"ceiling: {ceiling['pps']:,.0f} points/s", flush=True)
        # The default (gzip "auto": plain on loopback) first, then forced gzip.
        client = bench_client_write(server, args.households, steps, start_ns)
        print(f"client:  {client['pps']:,.0f} points/s ({client['pps'] / ceiling['pps']:.0%} of"
              " the ceiling)", flush=True)
        gzipped = bench_client_write(server, args.households, steps, start_ns, gzip_body=True)
        print(f"client with gzip: {gzipped['pps']:,.0f} points/s", flush=True)
        matrix = bench_usage_matrix(server, args.households, args.weeks,
                                    (now_s // 1800) * 1800 * 10**9)
        print(_matrix_text(matrix, args.weeks), flush=True)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    ratio = client["pps"] / ceiling["pps"]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    cores = os.cpu_count() or 1
    # What the CPU time alone allows when client and influxd have the machine to themselves.
    bound_client = cores / (client["client_us"] + client["server_us"]) * 1e6
    bound_gzip = cores / (gzipped["client_us"] + gzipped["server_us"]) * 1e6
    bound_ceiling = cores / ceiling["server_us"] * 1e6
    rows = [
        ("client write: numpy arrays -> `lines_from_arrays` -> `BatchWriter`"
         " (5,000 lines a request, 2 senders, default `gzip = \"auto\"`: plain on loopback)",
         f"**{client['pps']:,.0f} points/s** ({client['points']:,} points in"
         f" {client['seconds']:.1f} s); CPU per point: client {client['client_us']:.1f} us"
         f" (building lines {client['build_s'] / client['points'] * 1e6:.1f} us of it),"
         f" influxd {client['server_us']:.1f} us", f">= {GOAL_WRITE_PPS:,} points/s"),
        ("the same with `gzip = true` (level 1)",
         f"{gzipped['pps']:,.0f} points/s; CPU per point: client {gzipped['client_us']:.1f} us,"
         f" influxd {gzipped['server_us']:.1f} us", ""),
        (f"InfluxDB ceiling: pre-built gzip line protocol posted directly,"
         f" {ceiling['connections']} connections",
         f"{ceiling['pps']:,.0f} points/s; influxd CPU per point {ceiling['server_us']:.1f} us",
         ""),
        ("client / ceiling (wall clock)", f"{ratio:.0%}", ""),
        (f"CPU-bound rate on {cores} otherwise idle cores: {cores} / (client + influxd CPU"
         " per point)",
         f"client {bound_client:,.0f} points/s (with gzip {bound_gzip:,.0f});"
         f" ceiling {bound_ceiling:,.0f} points/s; ratio {bound_client / bound_ceiling:.0%}",
         ""),
        (f"`usage_matrix` {matrix['households']:,} households x {args.weeks} weeks"
         f" ({matrix['steps']:,} half hours, {matrix['points']:,} values), from `usage_day`",
         f"**{matrix['best_s']:.2f} s** best of 3 (first {matrix['first_s']:.2f} s); CPU:"
         f" influxd {matrix['server_cpu_s']:.1f} s, client {matrix['client_cpu_s']:.1f} s",
         f"< {GOAL_MATRIX_S:.0f} s"),
        ("the same from `usage_30m` alone (`source=\"usage_30m\"`, the path before usage_day)",
         f"{matrix['half']['best_s']:.2f} s best of 3; CPU: influxd"
         f" {matrix['half']['server_cpu_s']:.1f} s, client {matrix['half']['client_cpu_s']:.1f} s",
         ""),
        ("loading those values through `usage_lines` (usage_30m points + usage_day rollup)",
         f"{matrix['points'] / matrix['load_s']:,.0f} half hours/s"
         f" ({matrix['lines']:,} lines in {matrix['load_s']:.1f} s)", ""),
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    body = f"""\
Command: `python -m benchmarks.bench_influx` ({args.points:,} points, {args.households:,}
households, {args.weeks} weeks). Machine: {machine()}. InfluxDB 1.6 (Debian `influxd`) is
started by the benchmark on loopback and shares the 2 cores with the client; load average
{load} at the end (the benchmark's own client and influxd included). On a busier machine
the wall-clock figures drop; the CPU times per point do not.

| what | figure | goal |
|---|---|---|
{table}

Readings: `meter` points with 4 tags (household, device, fuel, source) and 4 fields (cumulative
energy to 0.001 kWh, power and voltage as float32 registers, credit in pence), about 165 bytes
of line protocol each, {args.households:,} series. The CPU-bound rate is an estimate from the
measured CPU time per point, for comparison across runs on a busy machine; it is not a
measurement of an idle machine.

{NOTES}
"""
    if not args.no_docs:
        write_section("InfluxDB client (issue 2)", body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
