"""`hearth collect --shard i/N` splits Modbus gateways: three members polling real simulated
gateways over TCP together read every meter, each meter by exactly one member, and all meters
behind one gateway by the same member. The MQTT side of members: test_collect_members.py."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from collectors.members import keep_my_gateways, member_client_id, member_mqtt_config, shared_topic
from collectors.mqtt import MqttConfig
from hearth.shards import Shard
from meters_sim.modbus_gateway import GatewayGroup, ModbusGateway
from tests.collectors.test_modbus_collector import EM1, ListSink, Meters, collector, device


def test_three_members_poll_every_meter_once():
    meters = Meters()
    shards = [Shard(i, 3) for i in (1, 2, 3)]

    async def scenario():
        gateways = [ModbusGateway({u: EM1 for u in range(1, 6)}, meters.reader(g))
                    for g in range(9)]
        async with GatewayGroup(gateways):
            devices = [device(gw, u, g) for g, gw in enumerate(gateways) for u in range(1, 6)]
            sinks = [ListSink() for _ in shards]
            members = [collector(devices, sink, poll_interval_s=0.3) for sink in sinks]
            kept = [keep_my_gateways(m, s) for m, s in zip(members, shards, strict=True)]
            stop = asyncio.Event()
            tasks = [asyncio.create_task(m.run(stop)) for m in members]
            await asyncio.sleep(1.5)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 10)
        return devices, sinks, kept, members

    devices, sinks, kept, members = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert sum(kept) == 9 and all(kept)  # every gateway kept by one member
    polled_by = defaultdict(set)
    for k, sink in enumerate(sinks):
        for dev in sink.by_device():
            polled_by[dev].add(k)
    assert set(polled_by) == {d.device_id for d in devices}, "every meter was read"
    assert all(len(v) == 1 for v in polled_by.values()), "no meter read by two members"
    for k, m in enumerate(members):  # the member reads whole gateways
        ports = {g.port for g in m.gateways}
        assert {d.gateway_port for d in devices if k in polled_by[d.device_id]} == ports


def test_member_mqtt_identity(settings):
    base = MqttConfig.from_settings(settings)
    m2 = member_mqtt_config(base, Shard(2, 3))
    assert m2.options.client_id == f"{base.options.client_id}-2" == \
        member_client_id(base.options.client_id, Shard(2, 5))  # N does not change it
    assert m2.options.topic == f"$share/hearth/{base.options.topic}"
    assert member_mqtt_config(base, None) is base
    assert shared_topic("$share/x/a/#", "hearth") == "$share/x/a/#"
