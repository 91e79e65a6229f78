"""`hearth collect status`: the running collector's alerts, read from its metrics endpoint."""

from __future__ import annotations

import time


def _clock(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def alert_lines(samples: dict[str, float], restarts: dict[str, float],
                now_s: float | None = None) -> list[str]:
    """Lines for the alert gauges of one scrape (names without the `_total` suffix)."""
    now_s = time.time() if now_s is None else now_s
    out = []
    since = samples.get("hearth_influx_unreachable_since_seconds", 0)
    if since:
        out.append(f"  InfluxDB unreachable since {_clock(since)} ({now_s - since:.0f} s);"
                   " readings wait in the spool")
    else:
        last = samples.get("hearth_influx_last_success_seconds", 0)
        out.append("  InfluxDB accepting writes" + (f" (last write {_clock(last)})" if last
                                                     else " (no write yet)"))
    full = samples.get("hearth_spool_disk_full_since_seconds", 0)
    if full:
        out.append(f"  spool disk full since {_clock(full)} ({now_s - full:.0f} s): not"
                   " acknowledging, the broker keeps the messages; free space under the spool")
    if "hearth_spool_disk_free_bytes" in samples:
        out.append(f"  spool disk free {int(samples['hearth_spool_disk_free_bytes'])} bytes")
    for name, n in sorted(restarts.items()):
        out.append(f"  thread {name} restarted {int(n)} times after a crash (see the log)")
    return out


def running_collector_lines(port: int, timeout_s: float = 2.0) -> list[str]:
    """What the `hearth collect` serving metrics on 127.0.0.1:`port` reports."""
    import requests
    from prometheus_client.parser import text_string_to_metric_families

    url = f"http://127.0.0.1:{port}/metrics"
    try:
        text = requests.get(url, timeout=timeout_s).text
    except requests.RequestException:
        return [f"collector: not running (no metrics at {url})"]
    samples: dict[str, float] = {}
    restarts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "hearth_thread_restarts_total":
                restarts[sample.labels.get("thread", "?")] = sample.value
            elif not sample.labels:
                samples[sample.name] = sample.value
    return [f"collector (metrics at {url}):", *alert_lines(samples, restarts)]
