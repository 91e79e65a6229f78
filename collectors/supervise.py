"""Threads that never die silently: a crash is logged, counted and the thread restarted.

`hearth collect`'s work runs in a few long-lived threads (the spool writer, the MQTT committer,
paho's network thread). An exception escaping one of them used to end it quietly while the
process, its health line and its metrics carried on as if all were well. `supervised` runs a
thread's body again after a crash, with a growing pause, and counts each restart by thread
name; the counts reach the health line and `hearth_thread_restarts_total`.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable

log = logging.getLogger("hearth.collectors.supervise")

_restarts: Counter = Counter()
_lock = threading.Lock()


def count_restart(name: str) -> None:
    with _lock:
        _restarts[name] += 1


def restarts() -> dict[str, int]:
    """Restarts per thread name since the process started."""
    with _lock:
        return dict(_restarts)


def supervised(name: str, body: Callable[[], None], stop: threading.Event,
               first_s: float = 1.0, max_s: float = 30.0) -> threading.Thread:
    """A daemon thread running `body` until it returns; a crash restarts it after a pause
    (doubling from `first_s` to `max_s`) unless `stop` is set meanwhile."""

    def main() -> None:
        delay = first_s
        while True:
            try:
                body()
                return
            except Exception:
                count_restart(name)
                log.exception("thread %s crashed (restart %d); starting it again in %.1f s",
                              name, restarts()[name], delay)
            if stop.wait(delay):
                return
            delay = min(delay * 2, max_s)

    return threading.Thread(target=main, name=name, daemon=True)
