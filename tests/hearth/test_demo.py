"""`hearth demo`'s process handling: stopping the demo stops every process it started (also
grandchildren such as the dashboard's Streamlit), and the wait for the Modbus gateways."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from hearth.demo import spawn, stop_all, wait_for_ports
from hearth.stack import free_port

# A service that starts a child of its own (as `hearth dashboard` starts Streamlit) and prints
# the child's pid; the child ignores SIGTERM when asked to, as a slow-stopping server would.
PARENT = """
import signal, subprocess, sys, time
child = ("import signal, time\\n"
         + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n" if sys.argv[1] == "stubborn" else "")
         + "time.sleep(120)")
p = subprocess.Popen([sys.executable, "-c", child])
print(p.pid, flush=True)
time.sleep(120)
"""


def _gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return True
    state = next((line for line in status.read_text().splitlines()
                  if line.startswith("State:")), "")
    return "Z" in state.split(":", 1)[-1][:3]      # a zombie no longer runs


def _service(mode: str) -> tuple[subprocess.Popen, int]:
    proc = spawn([sys.executable, "-c", PARENT, mode], stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def _wait_gone(pid: int, timeout_s: float = 5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not _gone(pid):
        time.sleep(0.05)
    return _gone(pid)


def test_stop_all_stops_grandchildren_too():
    proc, grandchild = _service("polite")
    t0 = time.monotonic()
    stop_all({"dashboard": proc}, timeout_s=10)
    assert proc.returncode is not None
    assert _wait_gone(grandchild), "the service's own child outlived the demo"
    assert time.monotonic() - t0 < 5


def test_stop_all_kills_a_grandchild_that_ignores_sigterm():
    proc, grandchild = _service("stubborn")
    t0 = time.monotonic()
    stop_all({"dashboard": proc}, timeout_s=1.5)
    assert _wait_gone(grandchild), "a child ignoring SIGTERM outlived the demo"
    assert 1.4 < time.monotonic() - t0 < 6


def test_wait_for_ports_returns_the_silent_ones():
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        up = ("127.0.0.1", listening.getsockname()[1])
        down = ("127.0.0.1", free_port())
        t0 = time.monotonic()
        assert wait_for_ports({up}, timeout_s=5) == set()
        assert wait_for_ports({up, down}, timeout_s=1.0) == {down}
        assert time.monotonic() - t0 < 4
        assert wait_for_ports({down}, timeout_s=30, until=lambda: True) == {down}
