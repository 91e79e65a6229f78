"""The one InfluxDB client: the v1-compatible HTTP API (``/write``, ``/query``, ``/ping``).

Works with InfluxDB 1.x (user and password) and 2.x / 3.x (API token as the password, DBRP
mapping for the database and retention policies; see docs/influxdb.md). Writes are gzipped
(when the server is across a network), sent over pooled keep-alive connections, retried with
exponential backoff while the server is unreachable or answers 5xx (up to
``influxdb.max_retry_s``), and a 400 for some points dead-letters just those points while the
rest are written.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import msgpack
import numpy as np
import requests
from requests.adapters import HTTPAdapter

from hearth.errors import HearthError, InfluxError
from hearth.influx.deadletter import DeadLetterFile
from hearth.influx.lineproto import Point
from hearth.influx.reader import (
    HALF_HOUR_NS,
    Series,
    SeriesBuilder,
    UsageCollector,
    UsageMatrix,
    half_hour_grid,
    to_ns,
)
from hearth.influx.usage import DAY_NS, SLOT_FIELDS, USAGE_30M, USAGE_DAY

log = logging.getLogger("hearth.influx")

RAW_RP, USAGE_RP = "raw", "usage"
# Before the server has answered once, a refused connection is most likely a wrong URL or a
# stopped server: fail after this long instead of the full max_retry_s.
FIRST_CONTACT_RETRY_S = 5.0
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.1, 5.0
# 400 messages about the request as a whole, not about some of its points.
_REQUEST_LEVEL_400 = ("database is required", "invalid precision", "bad timestamp precision",
                      "request body too large", "unable to decode gzip")
_PARSE_ERROR = re.compile(r"unable to parse '(.*?)': ", re.S)


@dataclass
class WriteResult:
    """Points written and points dead-lettered (refused by InfluxDB, kept with the reason)."""

    written: int = 0
    dead_lettered: int = 0

    def __add__(self, other: WriteResult) -> WriteResult:
        return WriteResult(self.written + other.written, self.dead_lettered + other.dead_lettered)


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """An InfluxQL string literal in single quotes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _error_text(resp: requests.Response) -> str:
    # Query errors come back in msgpack when msgpack was asked for; writes answer in JSON.
    if "msgpack" in resp.headers.get("Content-Type", ""):
        try:
            body = msgpack.unpackb(resp.content, raw=False)
            if isinstance(body, dict):
                return str(body.get("error") or body.get("message") or body)
        except (ValueError, msgpack.UnpackException):
            pass
    try:
        body = resp.json()
        if isinstance(body, dict):
            return str(body.get("error") or body.get("message") or body)
    except ValueError:
        pass
    return resp.text.strip()[:2000] or resp.reason or str(resp.status_code)


def _cause(exc: BaseException) -> str:
    text = str(exc)
    for needle, short in (("Connection refused", "connection refused"),
                          ("Name or service not known", "host name not known"),
                          ("timed out", "timed out"), ("Connection reset", "connection reset"),
                          ("RemoteDisconnected", "server closed the connection")):
        if needle in text:
            return short
    return type(exc).__name__


def gzip_wanted(gzip_body: bool | str, url: str) -> bool:
    """Whether to gzip write bodies: "auto" does so for a server across a network, not for one
    on this machine, where compressing costs both sides CPU (about 1.8 us a point, a fifth of
    the whole write) and saves no time."""
    if gzip_body != "auto":
        return bool(gzip_body)
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: assume it is across a network
        return True


class InfluxClient:
    """Pooled HTTP client for one database. Use as a context manager, or call close()."""

    def __init__(self, url: str, database: str, username: str | None = None,
                 password: str | None = None, *, flavour: str = "v1",
                 timeout_s: float = 10.0, max_retry_s: float = 300.0, batch_size: int = 5000,
                 flush_interval_s: float = 1.0, gzip_body: bool | str = "auto",
                 dead_letter_path: str | Path | None = None,
                 raw_retention_days: int = 90, usage_retention_days: int = 3650,
                 pool_size: int = 8, query_timeout_s: float = 300.0, query_parallelism: int = 2):
        self.url = url.rstrip("/")
        self.database = database
        self.username = username
        self.flavour = flavour
        self.timeout_s = timeout_s
        self.max_retry_s = max_retry_s
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.gzip = gzip_wanted(gzip_body, self.url)
        self.query_timeout_s = query_timeout_s
        # Ask for MessagePack where known to be served (1.x); others answer JSON.
        self.accept_msgpack = flavour == "v1"
        # InfluxDB 3 has no default RP: name "raw" so that db + rp map to "<db>/raw".
        self.default_rp = RAW_RP if flavour == "v3" else None
        self.query_parallelism = query_parallelism
        self.raw_retention_days = raw_retention_days
        self.usage_retention_days = usage_retention_days
        self.dead_letters = DeadLetterFile(
            Path(dead_letter_path or "var/dead_letters/influx.jsonl"))
        self.first_contact_retry_s = FIRST_CONTACT_RETRY_S
        self._reached = False
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if password is not None and flavour in ("v2", "v3"):
            # InfluxDB 2.x / 3.x: the API token, sent as a token (username is not needed).
            self.session.headers["Authorization"] = f"Token {password}"
        elif username:
            self.session.auth = (username, password or "")

    @classmethod
    def from_settings(cls, settings, role: str = "writer") -> InfluxClient:
        """A client as one of the three users (docs/security.md): "writer" (READ and WRITE on
        the database) for the parts that write, "reader" for those that only read, "admin"
        for `hearth stack` alone."""
        s = settings.influxdb
        username, password = s.credentials(role)
        return cls(s.url, s.database, username, password, flavour=s.flavour,
                   timeout_s=s.timeout_s, max_retry_s=s.max_retry_s, batch_size=s.batch_size,
                   flush_interval_s=s.flush_interval_s, gzip_body=s.gzip,
                   dead_letter_path=Path(settings.collectors.dead_letter_dir) / "influx.jsonl",
                   raw_retention_days=s.raw_retention_days,
                   usage_retention_days=s.usage_retention_days)

    def __enter__(self) -> InfluxClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    # ---- HTTP with retries -------------------------------------------------------------

    def _auth_error(self, resp: requests.Response) -> HearthError:
        msg = _error_text(resp)
        if self.flavour in ("v2", "v3"):
            who = "the API token in HEARTH_INFLUX_PASSWORD"
        else:
            who = (f"user {self.username!r}: check influxdb.username in config/hearth.toml and"
                   " HEARTH_INFLUX_PASSWORD (or var/secrets/influxdb_password)")
        if resp.status_code == 403:
            return InfluxError(f"InfluxDB at {self.url} refused {who} access to database"
                               f" {self.database!r} (403: {msg}); `hearth stack up` creates"
                               " the database and grants the writer and reader users"
                               " (docs/security.md)")
        return InfluxError(f"InfluxDB at {self.url} rejected the credentials of {who}"
                           f" (401: {msg})")

    def _request(self, method: str, path: str, what: str, read_timeout_s: float | None = None,
                 **kwargs) -> requests.Response:
        """Send with retries on connection errors, timeouts, 429 and 5xx; raise on 401/403."""
        started = time.monotonic()
        delay = BACKOFF_FIRST_S
        url = self.url + path
        timeout = (self.timeout_s, read_timeout_s or self.timeout_s)
        while True:
            try:
                resp = self.session.request(method, url, timeout=timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                problem, resp = _cause(exc), None
            else:
                if resp.status_code in (401, 403):
                    raise self._auth_error(resp)
                if resp.status_code < 500 and resp.status_code != 429:
                    self._reached = True
                    return resp
                problem = f"HTTP {resp.status_code}: {_error_text(resp)[:200]}"
                if "not found" in problem and ("database" in problem or "retention" in problem):
                    raise InfluxError(f"InfluxDB at {self.url}: {problem}; run `hearth stack up`"
                                      " (or create the database / DBRP mapping, docs/influxdb.md)")
            waited = time.monotonic() - started
            limit = self.max_retry_s if self._reached else min(self.max_retry_s,
                                                               self.first_contact_retry_s)
            if waited >= limit:
                if resp is None:
                    raise InfluxError(f"cannot reach InfluxDB at {self.url} ({problem}, tried for"
                                      f" {waited:.0f} s): is it running (`hearth stack status`)"
                                      " and is influxdb.url in config/hearth.toml right?")
                raise InfluxError(f"InfluxDB at {self.url} failed to {what} for {waited:.0f} s"
                                  f" ({problem}); see its log")
            pause = delay * (0.5 + random.random() / 2)
            retry_after = resp.headers.get("Retry-After") if resp is not None else None
            if retry_after and retry_after.isdigit():
                pause = max(pause, float(retry_after))
            pause = min(pause, limit - waited + 0.01)
            log.warning("InfluxDB at %s cannot %s (%s); waiting %.1f s before retrying"
                        " (%.0f of %.0f s)", self.url, what, problem, pause, waited, limit)
            time.sleep(pause)
            delay = min(delay * 2, BACKOFF_MAX_S)

    def ping(self) -> str:
        """The server's version (from /ping)."""
        resp = self._request("GET", "/ping", "answer a ping")
        return resp.headers.get("X-Influxdb-Version", "unknown")

    # ---- writes ---------------------------------------------------------------------------

    def write_points(self, points: Iterable[Point], retention_policy: str | None = None
                     ) -> WriteResult:
        """Write `Point`s (see write_lines)."""
        return self.write_lines([p.to_line() for p in points], retention_policy)

    def write_lines(self, lines: Iterable[str] | str, retention_policy: str | None = None
                    ) -> WriteResult:
        """Write line protocol in batches of ``batch_size`` lines.

        Points InfluxDB refuses (400: field type conflict, unparsable, outside the retention
        policy) go to the dead-letter file with the server's message; the rest are written.
        Raises InfluxError when the server stays unreachable for ``max_retry_s``.
        """
        if isinstance(lines, str):
            lines = lines.splitlines()
        elif not isinstance(lines, Sequence):
            lines = list(lines)
        total = WriteResult()
        for i in range(0, len(lines), self.batch_size):
            total += self._write_batch(list(lines[i:i + self.batch_size]), retention_policy)
        return total

    def _post_lines(self, lines: list[str], rp: str | None) -> requests.Response:
        body = ("\n".join(lines) + "\n").encode("utf-8")
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        params = {"db": self.database, "precision": "ns"}
        if rp or self.default_rp:
            params["rp"] = rp or self.default_rp
        return self._request("POST", "/write", f"write {len(lines)} points", params=params,
                             data=body, headers=headers)

    def _write_batch(self, lines: list[str], rp: str | None) -> WriteResult:
        lines = [line for line in lines if line and not line.isspace()]
        if not lines:
            return WriteResult()
        resp = self._post_lines(lines, rp)
        if resp.status_code in (200, 204):
            return WriteResult(len(lines), 0)
        msg = _error_text(resp)
        if resp.status_code == 413:  # body too large for this server: halve
            if len(lines) == 1:
                self.dead_letters.add(lines, f"413: {msg}", self.database, rp)
                return WriteResult(0, 1)
            mid = len(lines) // 2
            return self._write_batch(lines[:mid], rp) + self._write_batch(lines[mid:], rp)
        if resp.status_code == 404:
            raise InfluxError(f"InfluxDB at {self.url}: {msg}; run `hearth stack up` to create"
                              f" database {self.database!r} (or its DBRP mapping,"
                              " docs/influxdb.md)")
        if resp.status_code not in (400, 422) or any(s in msg for s in _REQUEST_LEVEL_400):
            raise InfluxError(f"InfluxDB at {self.url} refused a write"
                              f" ({resp.status_code}: {msg})")
        return self._resolve_refused(lines, msg, rp)

    def _resolve_refused(self, lines: list[str], msg: str, rp: str | None) -> WriteResult:
        """Some points were refused. Writing a point again overwrites it, so the good ones can
        safely be sent again: dead-letter lines the message names, else bisect to find them."""
        if len(lines) == 1:
            self.dead_letters.add(lines, msg, self.database, rp)
            return WriteResult(0, 1)
        named = set(_PARSE_ERROR.findall(msg))
        bad = [line for line in lines if line in named]
        if bad:
            self.dead_letters.add(bad, msg, self.database, rp)
            rest = [line for line in lines if line not in named]
            return WriteResult(0, len(bad)) + self._write_batch(rest, rp)
        dropped = re.search(r"dropped=(\d+)", msg)
        if dropped and int(dropped.group(1)) >= len(lines):  # every point refused
            self.dead_letters.add(lines, msg, self.database, rp)
            return WriteResult(0, len(lines))
        mid = len(lines) // 2
        return self._write_batch(lines[:mid], rp) + self._write_batch(lines[mid:], rp)

    # ---- reads ----------------------------------------------------------------------------

    def query(self, q: str, epoch: str | None = "ns", database: str | None = None,
              chunk_size: int = 10_000) -> list[Series]:
        """Run InfluxQL; every series of every statement, columns as numpy arrays."""
        builder = SeriesBuilder()
        self._stream_query(q, builder.add_response, epoch, database, chunk_size)
        return builder.series()

    def _stream_query(self, q: str, on_response: Callable[[dict, str], None],
                      epoch: str | None = "ns", database: str | None = None,
                      chunk_size: int = 10_000) -> None:
        """Send a query and hand each decoded response object (one per chunk) to on_response.

        InfluxDB 1.x answers in MessagePack when asked (about a third less server CPU than
        JSON); other servers answer JSON, which is parsed by its Content-Type.
        """
        params = {"db": database or self.database, "chunked": "true",
                  "chunk_size": str(chunk_size)}
        if self.default_rp:
            params["rp"] = self.default_rp
        if epoch:
            params["epoch"] = epoch
        headers = {"Accept": "application/x-msgpack"} if self.accept_msgpack else {}
        resp = self._request("POST", "/query", "answer a query", self.query_timeout_s,
                             params=params, data={"q": q}, headers=headers, stream=True)
        with resp:
            if resp.status_code != 200:
                raise InfluxError(f"InfluxDB refused the query ({resp.status_code}:"
                                  f" {_error_text(resp)}); query: {q[:300]}")
            try:
                if "msgpack" in resp.headers.get("Content-Type", ""):
                    unpacker = msgpack.Unpacker(raw=False, use_list=False, max_buffer_size=0)
                    for chunk in resp.iter_content(1 << 20):
                        unpacker.feed(chunk)
                        for obj in unpacker:
                            on_response(obj, q)
                else:
                    for raw in resp.iter_lines(chunk_size=1 << 16):
                        if raw:
                            on_response(json.loads(raw), q)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                raise InfluxError(f"InfluxDB at {self.url} broke off a query answer"
                                  f" ({_cause(exc)}); try again") from exc

    def execute(self, q: str) -> None:
        """Run a statement that changes something (CREATE, ALTER, DROP), via POST."""
        resp = self._request("POST", "/query", "run a statement", params={"db": self.database},
                             data={"q": q})
        if resp.status_code != 200:
            raise InfluxError(f"InfluxDB refused {q[:200]!r} ({resp.status_code}:"
                              f" {_error_text(resp)})")
        SeriesBuilder().add_response(resp.json(), q)

    def usage_matrix(self, start, end, fuel: str = "electricity",
                     households: Sequence[str] | None = None,
                     source: str = USAGE_DAY) -> UsageMatrix:
        """Half-hourly usage energy [kWh] as a (households, steps) matrix.

        ``start``/``end`` (datetime, naive = UTC; datetime64; ISO string) are rounded out to
        half hours; rows follow ``households`` (all households found, sorted, when None);
        NaN where a half hour has no value. The values are those of ``usage_30m``; by default
        they are read from its daily rollup ``usage_day`` (48 times fewer rows for InfluxDB to
        emit), and the days at either end of the period that the rollup lacks while
        ``usage_30m`` has them (a database written before ``usage_day`` existed) are read from
        ``usage_30m`` with a warning naming ``hearth collect rebuild-usage-day``.
        ``source="usage_30m"`` reads the half-hourly points only. The period is read in
        ``query_parallelism`` slices at once, so that InfluxDB works on more than one core.
        """
        if source not in (USAGE_DAY, USAGE_30M):
            raise ValueError(f"usage_matrix: source {source!r} is neither {USAGE_DAY!r} nor"
                             f" {USAGE_30M!r}")
        start_ns, end_ns = to_ns(start), to_ns(end)
        if end_ns <= start_ns:
            raise ValueError(f"usage_matrix: end {end!r} is not after start {start!r}")
        grid = half_hour_grid(start_ns, end_ns)
        collector = UsageCollector(grid, households)
        if households is not None and len(households) == 0:
            return collector.matrix()
        where = [f'"fuel" = {quote_string(fuel)}']
        if households is not None:
            alternatives = "|".join(re.escape(h).replace("/", "\\/") for h in households)
            where.append(f'"household" =~ /^(?:{alternatives})$/')
        g0, g1 = int(grid[0]), int(grid[-1]) + HALF_HOUR_NS
        if source == USAGE_30M:
            self._read_usage_30m(collector, where, g0, g1)
            return collector.matrix()
        # usage_30m's first and last time in the period, asked while usage_day is read.
        with ThreadPoolExecutor(1, thread_name_prefix="influx-usage-ends") as pool:
            ends = pool.submit(self._usage_30m_ends, where, g0, g1)
            self._read_usage_day(collector, where, g0, g1)
            ends = ends.result()
        for lo, hi in self._rollup_gaps(collector, ends, g0, g1):
            log.warning("usage_matrix: %s usage from %s to %s is in usage_30m but not in its"
                        " rollup usage_day (written before usage_day existed?); reading it from"
                        " usage_30m, which is slower. Rebuild the rollup once with: hearth"
                        " collect rebuild-usage-day --fuel %s --since %s --until %s", fuel,
                        _iso(lo), _iso(hi), fuel, _iso(lo), _iso(hi))
            collector.fill_missing = True
            self._read_usage_30m(collector, where, lo, hi)
        return collector.matrix()

    def _read_slices(self, read, edges: list[int]) -> None:
        """read(lo_ns, hi_ns) for each slice between ``edges``, in parallel."""
        if len(edges) == 2:
            read(edges[0], edges[1])
            return
        with ThreadPoolExecutor(len(edges) - 1, thread_name_prefix="influx-usage") as pool:
            list(pool.map(read, edges[:-1], edges[1:]))

    def _read_usage_30m(self, collector: UsageCollector, where: list[str], lo: int,
                        hi: int) -> None:
        source = f'{quote_ident(self.database)}.{quote_ident(USAGE_RP)}.{quote_ident(USAGE_30M)}'
        steps = (hi - lo) // HALF_HOUR_NS
        parts = max(1, min(self.query_parallelism, steps // 48))  # slices of >= 1 day
        edges = [lo + (steps * i // parts) * HALF_HOUR_NS for i in range(parts)] + [hi]

        def read(a: int, b: int) -> None:
            cond = " AND ".join([*where, f"time >= {a}", f"time < {b}"])
            # epoch=s: whole seconds fit a float64 exactly, so rows convert in one numpy call.
            self._stream_query(f'SELECT "energy_kwh" FROM {source} WHERE {cond}'
                               ' GROUP BY "household"', collector.add_response, epoch="s",
                               chunk_size=100_000)

        self._read_slices(read, edges)

    def _read_usage_day(self, collector: UsageCollector, where: list[str], lo: int,
                        hi: int) -> None:
        source = f'{quote_ident(self.database)}.{quote_ident(USAGE_RP)}.{quote_ident(USAGE_DAY)}'
        d0, d1 = lo - lo % DAY_NS, -(-hi // DAY_NS) * DAY_NS  # whole UTC days
        days = (d1 - d0) // DAY_NS
        parts = max(1, min(self.query_parallelism, days))
        edges = [d0 + (days * i // parts) * DAY_NS for i in range(parts)] + [d1]
        fields = ",".join(quote_ident(f) for f in SLOT_FIELDS)

        def read(a: int, b: int) -> None:
            cond = " AND ".join([*where, f"time >= {a}", f"time < {b}"])
            self._stream_query(f"SELECT {fields} FROM {source} WHERE {cond}"
                               ' GROUP BY "household"', collector.add_day_response, epoch="s",
                               chunk_size=5_000)

        self._read_slices(read, edges)

    def _usage_30m_ends(self, where: list[str], lo: int, hi: int) -> tuple[int, int] | None:
        """The half hours [ns] of usage_30m's first and last value in [lo, hi), or None.

        Two requests of one selector each: about 0.1 s of influxd CPU for 2.7 million points.
        """
        source = f'{quote_ident(self.database)}.{quote_ident(USAGE_RP)}.{quote_ident(USAGE_30M)}'
        cond = " AND ".join([*where, f"time >= {lo}", f"time < {hi}"])
        found: dict[int, int] = {}

        def on_response(obj: dict, q: str) -> None:
            SeriesBuilder().add_response(obj, q)  # raises on an error
            for result in obj.get("results", []):
                for s in result.get("series", []) or []:
                    if s.get("values"):
                        found[result.get("statement_id", 0)] = int(s["values"][0][0])

        # One statement per request: InfluxDB 3's /api/v3/query_influxql and some proxies
        # take no more (docs/influxdb.md, "InfluxDB beyond one node").
        ends = []
        for selector in ("first", "last"):
            found.clear()
            self._stream_query(f'SELECT {selector}("energy_kwh") FROM {source} WHERE {cond}',
                               on_response)
            if not found:
                return None
            ends.append(found[0])
        return ends[0] - ends[0] % HALF_HOUR_NS, ends[1] - ends[1] % HALF_HOUR_NS

    @staticmethod
    def _rollup_gaps(collector: UsageCollector, ends: tuple[int, int] | None, lo: int,
                     hi: int) -> list[tuple[int, int]]:
        """Periods [ns) at the ends of [lo, hi) where usage_30m has values usage_day lacks.

        Every writer writes both, so they differ only where usage_30m was written before the
        rollup existed (or by a writer that bypassed `usage_lines`): compare usage_30m's first
        and last half hour (``ends``) with the matrix read from usage_day, and re-read the edge
        days in full.
        """
        if ends is None:
            return []
        first_30m, last_30m = ends
        have = np.zeros(len(collector.grid_ns), dtype=bool)
        for row in collector.rows:
            have |= ~np.isnan(row)
        if not have.any():
            return [(lo, hi)]
        first_day = int(collector.grid_ns[np.argmax(have)])
        last_day = int(collector.grid_ns[len(have) - 1 - np.argmax(have[::-1])])
        gaps = []
        if first_30m < first_day:
            gaps.append((lo, min(hi, first_day - first_day % DAY_NS + DAY_NS)))
        if last_30m > last_day:
            gaps.append((max(lo, last_day - last_day % DAY_NS), hi))
        if len(gaps) == 2 and gaps[1][0] <= gaps[0][1]:
            gaps = [(lo, hi)]
        return gaps

    # ---- database and retention policies ---------------------------------------------------

    def retention_policies(self) -> dict[str, dict]:
        """name -> {duration, shardGroupDuration, replicaN, default} of the database."""
        out = {}
        for s in self.query(f"SHOW RETENTION POLICIES ON {quote_ident(self.database)}",
                            epoch=None):
            for i, name in enumerate(s.values.get("name", [])):
                out[str(name)] = {c: s.values[c][i] for c in s.columns}
        return out

    def ensure_database(self) -> None:
        """Create the database and the RPs ``raw`` (default) and ``usage``; idempotent.

        Existing RPs with other durations are altered to the configured ones. With InfluxDB
        2.x/3.x the database and RPs are DBRP mappings made by an administrator: this checks
        they exist and says how to make them if not.
        """
        wanted = {RAW_RP: self.raw_retention_days, USAGE_RP: self.usage_retention_days}
        db = quote_ident(self.database)
        if self.flavour == "v3":
            # InfluxDB 3 maps db + rp to a database "<db>/<rp>", created on first write; its
            # retention period is set when an administrator creates it (docs/influxdb.md).
            self.ping()
            return
        if self.flavour == "v2":
            self.ping()
            have = self.retention_policies()
            missing = [rp for rp in wanted if rp not in have]
            if missing:
                raise InfluxError(f"database {self.database!r} lacks DBRP mapping(s) for"
                                  f" {', '.join(missing)}: create them as docs/influxdb.md shows")
            return
        # Change only what differs, so that a user without admin rights passes once an
        # administrator has created the database and RPs.
        try:
            have = self.retention_policies()
        except InfluxError as exc:
            if "database not found" not in str(exc):
                raise
            self.execute(f"CREATE DATABASE {db}")
            log.info("created database %s", self.database)
            have = self.retention_policies()
        for rp, days in wanted.items():
            default = " DEFAULT" if rp == RAW_RP else ""
            if rp not in have:
                self.execute(f"CREATE RETENTION POLICY {quote_ident(rp)} ON {db} DURATION {days}d"
                             f" REPLICATION 1{default}")
                log.info("created retention policy %s on %s (%d days)", rp, self.database, days)
                continue
            current = have[rp]
            if _duration_hours(str(current["duration"])) != days * 24 or (
                    default and not bool(current.get("default"))):
                self.execute(f"ALTER RETENTION POLICY {quote_ident(rp)} ON {db} DURATION {days}d"
                             f"{default}")
                log.info("altered retention policy %s on %s to %d days", rp, self.database, days)


def _iso(ns: int) -> str:
    """ns since the epoch -> '2026-01-05T00:00Z'."""
    return str(np.datetime64(ns, "ns").astype("datetime64[m]")) + "Z"


def _duration_hours(text: str) -> float:
    """'2160h0m0s' -> 2160.0; '0s' (infinite) -> 0."""
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not m:
        return -1.0
    h, mi, s = (int(x or 0) for x in m.groups())
    return h + mi / 60 + s / 3600
