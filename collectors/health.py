"""Health of `hearth collect`: one summary line a minute and the same figures for Prometheus."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry


@dataclass(frozen=True)
class Snapshot:
    """The figures at one moment (counters are totals since start)."""

    readings_in: int
    written: int
    dead_lettered: int
    influx_dead_lettered: int
    backlog_readings: int
    backlog_bytes: int
    spool_max_bytes: int
    devices_silent: int
    per_collector: dict[str, tuple[int, int, int]]  # name -> (readings in, dead letters, silent)
    write_failures: int
    # Alerts (issue 14): when InfluxDB started failing (epoch s, None while writes succeed),
    # the spool's free disk space, since when the disk is full (None: not full), and threads
    # restarted after a crash.
    influx_unreachable_since: float | None = None
    influx_last_success: float | None = None
    spool_disk_free_bytes: int | None = None
    spool_disk_full_since: float | None = None
    thread_restarts: dict[str, int] = field(default_factory=dict)
    spool_damaged_ranges: int = 0


def summary_line(now: Snapshot, before: Snapshot | None, interval_s: float) -> str:
    """``readings in 12034 (200.6/s), written 12001, spooled 33 (4.1 kB, 0% full), ...``"""
    rate = ((now.readings_in - before.readings_in) / interval_s) if before and interval_s else 0.0
    written = now.written - (before.written if before else 0)
    fill = 100.0 * now.backlog_bytes / now.spool_max_bytes
    return (f"readings in {now.readings_in - (before.readings_in if before else 0)}"
            f" ({rate:.1f}/s), written {written}, spooled {now.backlog_readings}"
            f" ({now.backlog_bytes / 1000:.1f} kB, {fill:.0f}% full), dead-lettered"
            f" {now.dead_lettered + now.influx_dead_lettered} (total), devices silent"
            f" {now.devices_silent}"
            + (f", InfluxDB write failures {now.write_failures}" if now.write_failures else "")
            + alerts_text(now))


def _clock(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def _bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def alerts_text(s: Snapshot, now_s: float | None = None) -> str:
    """The alert part of the summary line: disk space, InfluxDB failing, thread restarts."""
    now_s = time.time() if now_s is None else now_s
    out = ""
    if s.spool_disk_full_since is not None:
        out += (f", spool disk full since {_clock(s.spool_disk_full_since)}"
                f" ({now_s - s.spool_disk_full_since:.0f} s; not acknowledging, sources keep"
                " the readings)")
    if s.spool_disk_free_bytes is not None:
        out += f", spool disk free {_bytes(s.spool_disk_free_bytes)}"
    if s.influx_unreachable_since is not None:
        out += (f", InfluxDB unreachable since {_clock(s.influx_unreachable_since)}"
                f" ({now_s - s.influx_unreachable_since:.0f} s)")
    if s.thread_restarts:
        out += ", thread restarts " + " ".join(f"{k}={v}"
                                                for k, v in sorted(s.thread_restarts.items()))
    if s.spool_damaged_ranges:
        out += f", damaged spool records dead-lettered {s.spool_damaged_ranges}"
    return out


class MetricsCollector:
    """A prometheus_client custom collector reading a fresh snapshot at each scrape."""

    def __init__(self, snapshot):
        self.snapshot = snapshot

    def collect(self):
        s: Snapshot = self.snapshot()
        c = CounterMetricFamily("hearth_collector_readings", "Readings taken in by a collector",
                                labels=["collector"])
        d = CounterMetricFamily("hearth_collector_dead_letters",
                                "Messages or readings dead-lettered by a collector",
                                labels=["collector"])
        g = GaugeMetricFamily("hearth_collector_devices_silent",
                              "Devices not heard from for longer than allowed",
                              labels=["collector"])
        for name, (n_in, n_dead, silent) in sorted(s.per_collector.items()):
            c.add_metric([name], n_in)
            d.add_metric([name], n_dead)
            g.add_metric([name], silent)
        yield c
        yield d
        yield g
        yield CounterMetricFamily("hearth_influx_points_written",
                                  "Points written to InfluxDB from the spool", value=s.written)
        yield CounterMetricFamily("hearth_influx_points_dead_lettered",
                                  "Points InfluxDB refused (400), dead-lettered",
                                  value=s.influx_dead_lettered)
        yield CounterMetricFamily("hearth_influx_write_failures",
                                  "Failed write attempts (server down or 5xx), retried",
                                  value=s.write_failures)
        yield GaugeMetricFamily("hearth_spool_backlog_readings",
                                "Readings in the spool waiting for InfluxDB",
                                value=s.backlog_readings)
        yield GaugeMetricFamily("hearth_spool_backlog_bytes", "Bytes in the spool",
                                value=s.backlog_bytes)
        yield GaugeMetricFamily("hearth_spool_max_bytes",
                                "Spool bound (collectors.spool.max_bytes)", value=s.spool_max_bytes)
        yield from alert_metrics(s)


def alert_metrics(s: Snapshot):
    """Gauges an alert rule can fire on (docs/collectors.md, "Alerts")."""
    now_s = time.time()
    failing = s.influx_unreachable_since
    yield GaugeMetricFamily("hearth_influx_unreachable_since_seconds",
                            "Epoch seconds of the first failed InfluxDB write since the last"
                            " success (0 while writes succeed)", value=failing or 0)
    yield GaugeMetricFamily("hearth_influx_unreachable_seconds",
                            "Seconds InfluxDB writes have been failing (0 while they succeed)",
                            value=(now_s - failing) if failing else 0)
    yield GaugeMetricFamily("hearth_influx_last_success_seconds",
                            "Epoch seconds of the last write InfluxDB accepted (0: none yet)",
                            value=s.influx_last_success or 0)
    if s.spool_disk_free_bytes is not None:
        yield GaugeMetricFamily("hearth_spool_disk_free_bytes",
                                "Free bytes on the spool's file system",
                                value=s.spool_disk_free_bytes)
    yield GaugeMetricFamily("hearth_spool_disk_full",
                            "1 while the spool's disk is full (nothing is acknowledged)",
                            value=1 if s.spool_disk_full_since is not None else 0)
    yield GaugeMetricFamily("hearth_spool_disk_full_since_seconds",
                            "Epoch seconds since the spool's disk is full (0: not full)",
                            value=s.spool_disk_full_since or 0)
    r = CounterMetricFamily("hearth_thread_restarts",
                            "Threads restarted after a crash", labels=["thread"])
    for name, n in sorted(s.thread_restarts.items()):
        r.add_metric([name], n)
    yield r
    yield CounterMetricFamily("hearth_spool_damaged_ranges",
                              "Damaged spool byte ranges moved to the dead letters",
                              value=s.spool_damaged_ranges)


def metrics_registry(snapshot) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(MetricsCollector(snapshot))
    return reg
