"""What Mosquitto's persistence settings cost: QoS 1 messages per second through a real broker
(one publisher, one subscriber, loopback) with its database saved every second or after every
N changes. Run: python -m benchmarks.bench_broker_durability [--messages 20000]."""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hearth.stack import MosquittoServer, free_port

BODY = b'{"ts":"2026-01-01T00:00:00Z","temp_c":19.5,"humidity_pct":55.0}'


def _client(port: int, client_id: str, on_message=None) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set("bench", "bench-pw")
    c.max_inflight_messages_set(200)
    c.max_queued_messages_set(0)
    c.on_message = on_message
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def rate(on_changes: bool, interval: int, messages: int) -> float:
    """Messages per second from the first publish to the last delivery."""
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-broker-"))
    work.chmod(0o755)  # mosquitto drops from root to its own user
    server = MosquittoServer(work / "mosquitto", free_port(), {"bench": "bench-pw"},
                             autosave_on_changes=on_changes, autosave_interval=interval)
    server.start()
    done, count = threading.Event(), [0]

    def on_message(c, u, m):
        count[0] += 1
        if count[0] >= messages:
            done.set()

    try:
        sub = _client(server.port, "bench-sub", on_message)
        sub.subscribe("bench/#", qos=1)
        pub = _client(server.port, "bench-pub")
        time.sleep(0.5)
        t0 = time.perf_counter()
        for i in range(messages):
            pub.publish(f"bench/{i % 100}", BODY, qos=1)
        if not done.wait(600):
            raise RuntimeError(f"only {count[0]} of {messages} delivered")
        took = time.perf_counter() - t0
        for c in (pub, sub):
            c.disconnect()
            c.loop_stop()
        return messages / took
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=20_000)
    args = ap.parse_args(argv)
    print(f"{'persistence':<36} {'msg/s':>8}")
    for on_changes, interval in ((False, 1), (True, 1), (True, 10), (True, 100)):
        label = (f"after every {interval} change(s)" if on_changes
                 else f"every {interval} s (snapshot)")
        print(f"{label:<36} {rate(on_changes, interval, args.messages):>8,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
