"""Benchmark: the MQTT message path per profile, in process (no servers).

    PYTHONPATH=. python -m benchmarks.bench_profiles [--messages 50000] [--devices 10000]

Parses the documented payloads of tests/collectors/fixtures/profiles (and Hearth's own
electricity-meter payload) through `MessageRouter.parse` for `--devices` bound or registered
devices, as the collector's paho thread does, and prints microseconds per message: the
message path's share of the collector's CPU per reading (bench_mqtt measures the whole).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "collectors" / "fixtures" / "profiles"
CASES = [  # (name, fixture, profile, kind, room)
    ("glow electricity", "glow_electricitymeter.json", "glow", "electricity_meter", None),
    ("zigbee2mqtt sensor", "z2m_wsdcgq11lm.json", "zigbee2mqtt", "thermostat", "bedroom"),
    ("zigbee2mqtt plug", "z2m_ts011f_plug.json", "zigbee2mqtt", "appliance", None),
    ("tasmota", "tasmota_energy.json", "tasmota", "electricity_meter", None),
    ("shelly switch:0", "shelly_switch0.json", "shelly-gen2", "appliance", None),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--devices", type=int, default=10_000)
    args = ap.parse_args(argv)

    from collectors.device_check import DeviceDirectory, HearthDevice
    from collectors.mqtt_payload import PayloadParser
    from collectors.mqtt_router import MessageRouter
    from collectors.profile_parse import Binding
    from collectors.profiles import load_profiles

    n = args.devices
    directory = DeviceDirectory({f"E{d:06d}": HearthDevice(f"H{d:06d}", "electricity_meter",
                                                           None) for d in range(n)})
    plans = []
    for name, fixture, profile, kind, room in CASES:
        doc = json.loads((FIXTURES / fixture).read_text())
        ref = doc["topic"].split("/")[0 if profile == "shelly-gen2" else 1]
        for d in range(n):
            directory.add(Binding(profile, f"{ref}{d}", f"H{d:06d}", f"{profile}-{kind}-{d}",
                                  kind, room))
        topics = [doc["topic"].replace(ref, f"{ref}{d}", 1) for d in range(n)]
        plans.append((name, topics, json.dumps(doc["payload"]).encode()))
    ts = "2026-12-02T10:00:00Z"
    plans.insert(0, ("hearth electricity_meter",
                     [f"hearth/H{d:06d}/E{d:06d}/electricity_meter" for d in range(n)],
                     (f'{{"ts":"{ts}","energy_kwh":1000.25,"power_w":300.0,"voltage_v":239.5,'
                      '"supply_on":true}').encode()))
    router = MessageRouter(load_profiles(), directory, PayloadParser(), 64)
    now_ns = time.time_ns()
    print("| payload | us per message |\n|---|---|")
    for name, topics, payload in plans:
        for topic in topics:  # warm the topic caches, as a running collector has them
            router.parse(topic, payload, now_ns)
        t0 = time.perf_counter()
        for i in range(args.messages):
            router.parse(topics[i % n], payload, now_ns)
        print(f"| {name} | {(time.perf_counter() - t0) / args.messages * 1e6:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
