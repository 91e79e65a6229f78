"""`hearth collect`: the collectors, the spool and its writer in one process.

asyncio runs the collectors (paho keeps its own network thread; the spool writer is a thread
of its own, as `requests` blocks). SIGTERM/SIGINT set the stop event: collectors store and
acknowledge what they took, the writer finishes its batch, the rest waits in the spool.

A collector task that ends with an error before the stop takes the whole process down, loudly:
logged as CRITICAL, the others stop cleanly as for SIGTERM, and `hearth collect` exits with
status 1 so that its service manager (systemd `Restart=on-failure`) starts it again. Threads
are restarted in place instead (`collectors/supervise.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import time

from collectors.base import COLLECTOR_TYPES, Collector, create_collector
from collectors.deadletter import DeadLetters
from collectors.health import Snapshot, metrics_registry, summary_line
from collectors.spool import Spool
from collectors.supervise import restarts
from collectors.writer import SpoolWriter

log = logging.getLogger("hearth.collectors")


def open_spool(settings, read_only: bool = False) -> Spool:
    c = settings.collectors
    letters = DeadLetters(c.dead_letter_dir, c.dead_letter_max_bytes, c.dead_letter_max_raw_bytes)
    return Spool(c.spool_dir, letters, c.spool.max_bytes, c.spool.segment_bytes,
                 c.spool.warn_fraction, read_only=read_only)


class CollectService:
    """Everything `hearth collect` runs; `run(stop)` until the event is set."""

    def __init__(self, settings, collectors: list[Collector] | None = None,
                 serve_metrics: bool = True, shard=None):
        from hearth.influx import InfluxClient

        self.settings = settings
        self.shard = shard  # hearth.shards.Shard: this process is one of N members
        self.spool = open_spool(settings)
        self.client = InfluxClient.from_settings(settings)
        c = settings.collectors
        self.writer = SpoolWriter(self.spool, self.client, c.spool.batch_lines,
                                  retry_max_s=c.spool.retry_max_s, prepare=self._prepare_db)
        self.collectors = collectors if collectors is not None else self._configured()
        self.serve_metrics = serve_metrics
        self._http = None
        self.crashed: str | None = None  # the task that ended with an error, and why

    def _prepare_db(self) -> None:
        self.client.ensure_database()

    def _configured(self) -> list[Collector]:
        out: list[Collector] = []
        if self.settings.collectors.mqtt.enabled:
            from collectors.members import member_mqtt_config
            from collectors.mqtt import MqttConfig

            config = member_mqtt_config(MqttConfig.from_settings(self.settings), self.shard)
            out.append(create_collector("mqtt", "mqtt", config, self.spool))
        try:
            importlib.import_module("collectors.modbus")
        except ModuleNotFoundError as exc:
            if exc.name != "collectors.modbus":
                raise
        if "modbus" in COLLECTOR_TYPES:
            from collectors.members import keep_my_gateways

            modbus = create_collector("modbus", "modbus", self.settings, self.spool)
            if self.shard is not None and getattr(modbus, "gateways", None):
                total = len(modbus.gateways)
                log.info("shard %s: polling %d of %d Modbus gateways", self.shard,
                         keep_my_gateways(modbus, self.shard), total)
            if getattr(modbus, "gateways", None):
                out.append(modbus)
            else:
                log.info("no Modbus devices in the registry or config: Modbus collector not run")
        if not out:
            log.warning("no collectors configured: only draining the spool into InfluxDB")
        return out

    # ---- figures ----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        per = {}
        for col in self.collectors:
            per[col.name] = (col.stats.readings_in, col.stats.dead_lettered,
                             col.stats.devices_silent)
        return Snapshot(
            readings_in=sum(v[0] for v in per.values()),
            written=self.writer.stats.written,
            dead_lettered=sum(v[1] for v in per.values()),
            influx_dead_lettered=self.writer.stats.dead_lettered,
            backlog_readings=self.spool.backlog_readings(),
            backlog_bytes=self.spool.backlog_bytes(),
            spool_max_bytes=self.spool.max_bytes,
            devices_silent=sum(v[2] for v in per.values()),
            per_collector=per,
            write_failures=self.writer.stats.failures,
            influx_unreachable_since=self.writer.stats.failing_since,
            influx_last_success=self.writer.stats.last_success,
            spool_disk_free_bytes=self._disk_free(),
            spool_disk_full_since=self.spool.disk_full_since,
            thread_restarts=restarts(),
            spool_damaged_ranges=self.spool.damaged_ranges)

    def _disk_free(self) -> int | None:
        try:
            return self.spool.disk_free_bytes()
        except OSError:  # the folder went away under us: say nothing rather than a wrong 0
            return None

    async def _summaries(self, stop: asyncio.Event) -> None:
        interval = self.settings.collectors.summary_interval_s
        before, t0 = None, time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            now = self.snapshot()
            t1 = time.monotonic()
            log.info("collect: %s", summary_line(now, before, t1 - t0))
            before, t0 = now, t1

    def _start_metrics(self) -> None:
        from prometheus_client import start_http_server

        port = self.settings.collectors.metrics_port
        registry = metrics_registry(self.snapshot)
        for col in self.collectors:  # a collector's own figures (the MQTT message path)
            extra = getattr(col, "metrics", None)
            if extra is not None:
                registry.register(extra)
        try:
            server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
        except OSError as exc:
            from hearth.errors import HearthError

            raise HearthError(f"cannot serve metrics on 127.0.0.1:{port} ({exc}); is another"
                              " `hearth collect` running? Change collectors.metrics_port") from exc
        self._http = server
        log.info("metrics on http://127.0.0.1:%d/metrics", port)

    # ---- running ----------------------------------------------------------------------------

    def _task_done(self, task: asyncio.Task, stop: asyncio.Event) -> None:
        if stop.is_set() or task.cancelled():
            return
        exc = task.exception()
        why = repr(exc) if exc is not None else "returned before the stop"
        self.crashed = f"{task.get_name()}: {why}"
        log.critical("%s ended unexpectedly (%s): stopping hearth collect, exit status 1, so"
                     " that its service manager starts it again; unacknowledged messages wait"
                     " with the broker", task.get_name(), why, exc_info=exc)
        stop.set()

    async def run(self, stop: asyncio.Event) -> None:
        if self.serve_metrics:
            self._start_metrics()
        self.writer.start()
        tasks = [asyncio.create_task(col.run(stop), name=f"collector-{col.name}")
                 for col in self.collectors]
        tasks.append(asyncio.create_task(self._summaries(stop), name="summary"))
        for task in tasks:
            task.add_done_callback(lambda t: self._task_done(t, stop))
        try:
            await stop.wait()
        finally:
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for col, res in zip(self.collectors, results, strict=False):
                if isinstance(res, BaseException):
                    log.error("collector %s stopped with an error: %r", col.name, res)
            await asyncio.to_thread(self.writer.stop, 5.0)
            self.spool.close()
            self.spool.dead_letters.close()
            self.client.close()
            if self._http is not None:
                self._http.shutdown()
            log.info("collect: stopped; %s", summary_line(self.snapshot(), None, 0))


def run_forever(settings, shard=None) -> int:
    """Run until SIGTERM/SIGINT."""

    async def main() -> str | None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        service = CollectService(settings, shard=shard)
        await service.run(stop)
        return service.crashed

    crashed = asyncio.run(main())
    return 1 if crashed else 0
