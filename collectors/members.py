"""`hearth collect --shard i/N`: this process is member i of N collectors.

- MQTT: the members share one subscription, ``$share/<share_group>/<topic>`` (MQTT 5 shared
  subscriptions): the broker hands each message to one member. Each member keeps its own
  fixed client id, ``<client_id>-<i>``, and so its own persistent session.
- Modbus: gateways are split by a stable hash of ``host:port`` (hearth.shards), so every meter
  is polled by exactly one member, and all meters behind one gateway by the same one.

What a shared subscription does when a member dies (Mosquitto 2, measured in
tests/collectors/test_collect_members.py): the member's session stays, with the shared
subscription in it, for `session_expiry_s`. The broker keeps choosing that session in its turn
and queues those messages in it, together with the ones in flight that the member had not
acknowledged; the live members do not get them. When the member comes back with the same
client id, it receives them all. A member that never comes back holds its queue until the
session expires, and the broker then discards it: so retire a member with
`hearth collect leave --shard i/N` (it takes its queue, stores it, unsubscribes and ends the
session), never by just removing it. See docs/sharding.md.
"""

from __future__ import annotations

import dataclasses

from hearth.shards import Shard, gateway_key

SHARE_PREFIX = "$share/"


def shared_topic(topic: str, group: str) -> str:
    """The shared form of a subscription; a topic already shared is kept as it is."""
    return topic if topic.startswith(SHARE_PREFIX) else f"{SHARE_PREFIX}{group}/{topic}"


def member_client_id(client_id: str, shard: Shard) -> str:
    """Member i's own client id: fixed per member, so its session survives restarts (it does
    not depend on N: growing from 3 to 4 members keeps members 1-3's sessions)."""
    return f"{client_id}-{shard.index}"


def member_mqtt_config(config, shard: Shard | None):
    """The MqttConfig of member `shard` (unchanged without a shard)."""
    if shard is None:
        return config
    o = config.options
    options = o.model_copy(update={"client_id": member_client_id(o.client_id, shard),
                                   "topic": shared_topic(o.topic, o.share_group)})
    return dataclasses.replace(config, options=options)


def keep_my_gateways(modbus, shard: Shard | None) -> int:
    """Drop the gateways of other members from a ModbusCollector; returns how many stay."""
    if shard is not None:
        modbus.gateways = [g for g in modbus.gateways if shard.owns(gateway_key(g.host, g.port))]
    return len(modbus.gateways)


def leave(settings, shard: Shard, idle_s: float = 3.0, timeout_s: float = 900.0) -> dict:
    """`hearth collect leave --shard i/N`: retire MQTT member i for good, losing nothing.

    Connects with the member's client id (resuming its session), stores every message queued
    in it, unsubscribes from the shared topic, stores what was still in flight, then ends the
    session (DISCONNECT with session expiry 0) and writes its spool into InfluxDB. From then on
    the broker shares the topic among the other members only. Returns the counts."""
    import asyncio
    import logging
    import time

    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from collectors.base import create_collector
    from collectors.mqtt import MqttConfig
    from collectors.service import CollectService
    from hearth.errors import HearthError

    log = logging.getLogger("hearth.collectors.members")
    service = CollectService(settings, collectors=[], serve_metrics=False)
    config = member_mqtt_config(MqttConfig.from_settings(settings), shard)
    mqtt = create_collector("mqtt", "mqtt", config, service.spool)
    service.collectors = [mqtt]
    topic, client_id = config.options.topic, config.options.client_id
    deadline = time.monotonic() + timeout_s

    # Count what arrives, so that "settled" means every message received is stored and
    # acknowledged (the collector counts a message only once its batch is committed).
    arrived = [0]
    on_message = mqtt.client.on_message

    def counting(client, userdata, msg) -> None:
        arrived[0] += 1  # paho's network thread only
        on_message(client, userdata, msg)

    mqtt.client.on_message = counting

    async def settled() -> None:
        """Until every message received is stored and acknowledged, and none came for idle_s."""
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            n = arrived[0]
            if n != last or mqtt.stats.extra["acked"] != n:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= idle_s:
                return
            await asyncio.sleep(0.1)
        raise HearthError(f"member {client_id!r} still receiving after {timeout_s:.0f} s")

    async def main() -> dict:
        stop = asyncio.Event()
        runner = asyncio.create_task(service.run(stop))
        try:
            while not mqtt._connected.is_set():
                if time.monotonic() > deadline or runner.done():
                    raise HearthError(f"member {client_id!r} could not connect and subscribe"
                                      " (see the log above)")
                await asyncio.sleep(0.1)
            await settled()
            queued = mqtt.stats.extra["messages"]
            mqtt.client.unsubscribe(list(mqtt.topics))  # `topic` and the profiles' filters
            await settled()  # what the broker had already sent before the UNSUBSCRIBE
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0  # the broker discards the (now empty) session
            mqtt._accepting = False
            mqtt.client.disconnect(properties=props)
            while service.spool.backlog_readings() and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            left = service.spool.backlog_readings()
            if left:
                raise HearthError(f"{left} readings of member {client_id!r} still in its spool"
                                  f" {settings.collectors.spool_dir}: InfluxDB did not take"
                                  " them; run `hearth collect leave` again")
            log.info("member %r left the share group of %r: %d queued and %d in-flight messages"
                     " stored, session ended", client_id, topic, queued,
                     mqtt.stats.extra["messages"] - queued)
            return {"messages": mqtt.stats.extra["messages"],
                    "readings": mqtt.stats.readings_in, "dead_lettered": mqtt.stats.dead_lettered}
        finally:
            stop.set()
            await runner

    return asyncio.run(main())
