"""Prometheus figures of the MQTT message path: strays per topic prefix, rejections by reason.

`hearth_mqtt_unmatched_messages{prefix}` shows a misconfigured device (a topic no profile
matches); `hearth_mqtt_rejected_messages{reason}` counts unknown devices, forged households,
unknown tags and every other dead-letter code of the message path.
"""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily


def _items(counter) -> list[tuple[str, int]]:
    # Read from the scrape thread while paho's thread counts: copy, retrying a resize.
    for _ in range(5):
        try:
            return sorted(counter.items())
        except RuntimeError:
            continue
    return []


class MqttPathMetrics:
    """A prometheus_client custom collector over one `MessageRouter`."""

    def __init__(self, router):
        self.router = router

    def collect(self):
        u = CounterMetricFamily("hearth_mqtt_unmatched_messages",
                                "MQTT messages on topics no profile matches, by first topic"
                                " level", labels=["prefix"])
        for prefix, n in _items(self.router.unmatched):
            u.add_metric([prefix], n)
        yield u
        r = CounterMetricFamily("hearth_mqtt_rejected_messages",
                                "MQTT messages dead-lettered by the message path, by reason",
                                labels=["reason"])
        for reason, n in _items(self.router.rejected):
            r.add_metric([reason], n)
        yield r
        g = CounterMetricFamily("hearth_mqtt_ignored_messages",
                                "MQTT messages that are no reading and no fault (a bridge's"
                                " group list, a group's state), by reason", labels=["reason"])
        for reason, n in _items(getattr(self.router, "ignored", {})):
            g.add_metric([reason], n)
        yield g
