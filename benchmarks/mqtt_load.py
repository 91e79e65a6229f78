"""A lean MQTT 5 QoS 1 load generator for the benchmark (not for production use).

paho's publisher costs about 190 us of CPU per message in Python (a queued packet, a wake-up
of its network thread and a callback per message), so two paho publishers could not offer more
than a few thousand readings a second on the benchmark machine. This one speaks just enough
MQTT 5 over a plain socket: CONNECT, PUBLISH at QoS 1 built in batches and written with one
send, and a reader thread counting PUBACKs, with at most `window` messages unacknowledged.
"""

from __future__ import annotations

import socket
import struct
import threading
import time


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(s: str) -> bytes:
    b = s.encode()
    return struct.pack("!H", len(b)) + b


class LeanPublisher:
    """Publishes (topic, payload) pairs at QoS 1; `acked` counts the broker's PUBACKs."""

    def __init__(self, host: str, port: int, client_id: str, username: str, password: str,
                 window: int = 20_000):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        flags = 0x80 | 0x40 | 0x02  # username, password, clean start
        variable = _utf8("MQTT") + bytes([5, flags]) + struct.pack("!H", 60) + b"\x00"
        payload = _utf8(client_id) + _utf8(username) + _utf8(password)
        body = variable + payload
        self.sock.sendall(b"\x10" + _varint(len(body)) + body)
        head = self._read_exact(2)
        rest = self._read_exact(head[1])
        if head[0] != 0x20 or rest[1] != 0:
            raise ConnectionError(f"broker refused the load generator (reason {rest[1]})")
        self.window = window
        self.sent = 0
        self.acked = 0
        self._next_id = 0
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read_acks, daemon=True)
        self._reader.start()

    def _read_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            buf += chunk
        return buf

    def _read_acks(self) -> None:
        buf = b""
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    return
                buf += data
                pos, acks = 0, 0
                while True:  # whole packets in buf: fixed header, varint length, body
                    if len(buf) - pos < 2:
                        break
                    length, mult, i = 0, 1, pos + 1
                    while i < len(buf):
                        length += (buf[i] & 0x7F) * mult
                        mult *= 128
                        i += 1
                        if not buf[i - 1] & 0x80:
                            break
                    else:
                        break
                    if len(buf) - i < length:
                        break
                    if buf[pos] & 0xF0 == 0x40:
                        acks += 1
                    pos = i + length
                buf = buf[pos:]
                if acks:
                    with self._cond:
                        self.acked += acks
                        self._cond.notify_all()
        except OSError:
            return

    def publish_many(self, messages: list[tuple[bytes, bytes]]) -> None:
        """Publish pre-encoded (topic, payload) pairs, waiting while the window is full."""
        with self._cond:
            while self.sent + len(messages) - self.acked > self.window:
                self._cond.wait(0.5)
        parts = []
        for topic, payload in messages:
            self._next_id = self._next_id % 65_535 + 1
            body = (struct.pack("!H", len(topic)) + topic + struct.pack("!H", self._next_id)
                    + b"\x00" + payload)
            parts.append(b"\x32" + _varint(len(body)) + body)
        self.sock.sendall(b"".join(parts))
        self.sent += len(messages)

    def wait_acked(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self.acked < self.sent and time.monotonic() < deadline:
                self._cond.wait(0.5)
        return self.acked >= self.sent

    def close(self) -> None:
        try:
            self.sock.sendall(b"\xe0\x00")  # DISCONNECT
        finally:
            self.sock.close()
