"""Health of `hearth collect`: one summary line a minute and the same figures for Prometheus."""

from __future__ import annotations

from dataclasses import dataclass

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
            + (f", InfluxDB write failures {now.write_failures}" if now.write_failures else ""))


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


def metrics_registry(snapshot) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(MetricsCollector(snapshot))
    return reg
