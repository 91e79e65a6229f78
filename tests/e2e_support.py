"""Helpers of tests/test_end_to_end.py: a settings file for the real `hearth` commands, a runner
that keeps every command's output, the tenants' personal data to look for, and scanners that
report where it turns up (InfluxDB tags and string fields, files, text)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hearth.influx import InfluxClient, quote_ident

ROOT = Path(__file__).resolve().parents[1]
SECRET_KEYS = {("influxdb", "password"), ("mqtt", "password")}


# ---- settings file --------------------------------------------------------------------------

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)           # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def _toml_table(name: str, values: dict, out: list[str]) -> None:
    scalars = {k: v for k, v in values.items() if v is not None and not isinstance(v, dict)
               and not (isinstance(v, list) and v and isinstance(v[0], dict))}
    out.append(f"[{name}]")
    out.extend(f"{k} = {_toml_value(v)}" for k, v in scalars.items())
    out.append("")
    for k, v in values.items():
        if isinstance(v, dict):
            _toml_table(f"{name}.{k}", v, out)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                out.append(f"[[{name}.{k}]]")
                out.extend(f"{ik} = {_toml_value(iv)}" for ik, iv in item.items() if iv is not None)
                out.append("")


def write_settings_toml(settings, path: Path) -> Path:
    """The whole validated settings tree as a TOML file, secrets left out (they go in the
    environment, as in production)."""
    raw = settings.model_dump(mode="json")
    out: list[str] = ["# written by tests/test_end_to_end.py", ""]
    for section, values in raw.items():
        values = {k: v for k, v in values.items() if (section, k) not in SECRET_KEYS}
        _toml_table(section, values, out)
    path.write_text("\n".join(out))
    return path


# ---- running hearth commands ----------------------------------------------------------------

@dataclass
class CommandRun:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float

    def describe(self) -> str:
        tail = "\n".join((self.stderr or "").strip().splitlines()[-25:])
        return (f"`hearth {' '.join(self.args)}` exited {self.returncode} after"
                f" {self.duration_s:.1f} s; stdout:\n{self.stdout[-2000:]}\nstderr (last lines):\n"
                f"{tail}")


@dataclass
class HearthRunner:
    """Runs `python -m hearth ...` as a council would, with the test's settings file and
    secrets in the environment; keeps every command's output for the privacy checks."""

    env: dict[str, str]
    cwd: Path
    runs: list[CommandRun] = field(default_factory=list)

    @classmethod
    def create(cls, config: Path, home: Path, influx_password: str, mqtt_password: str,
               **overrides: str) -> HearthRunner:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH")}
        env.update({"HEARTH_CONFIG": str(config), "HEARTH_HOME": str(home),
                    "HEARTH_INFLUX_PASSWORD": influx_password,
                    "HEARTH_MQTT_PASSWORD": mqtt_password,
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                env.get("PYTHONPATH")])),
                    "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1", **overrides})
        return cls(env, home)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "hearth", *args]

    def run(self, *args: str, timeout_s: float = 180.0) -> CommandRun:
        t0 = time.monotonic()
        proc = subprocess.run(self.command(*args), env=self.env, cwd=self.cwd, text=True,
                              capture_output=True, timeout=timeout_s)
        run = CommandRun(list(args), proc.returncode, proc.stdout, proc.stderr,
                         time.monotonic() - t0)
        self.runs.append(run)
        return run

    def start(self, *args: str, log_dir: Path) -> tuple[subprocess.Popen, Path, Path]:
        """A long-running command; its output goes to files (a pipe could fill and block it)."""
        name = "-".join(args).replace("/", "_")[:60]
        out, err = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
        proc = subprocess.Popen(self.command(*args), env=self.env, cwd=self.cwd,
                                stdout=out.open("w"), stderr=err.open("w"), text=True)
        return proc, out, err

    def stop(self, proc: subprocess.Popen, args: list[str], out: Path, err: Path,
             started: float, sig: int = signal.SIGINT, timeout_s: float = 60.0) -> CommandRun:
        """Stop a command with a signal, as an operator or systemd would, and keep its output."""
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        run = CommandRun(list(args), proc.returncode, out.read_text(errors="replace"),
                         err.read_text(errors="replace"), time.monotonic() - started)
        self.runs.append(run)
        return run


# ---- the tenants' personal data -------------------------------------------------------------

@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    household_id: str
    full_name: str
    mobile: str | None            # E.164, as the registry stores it
    sms_consent: bool
    opted_out: bool

    @property
    def contactable(self) -> bool:
        return self.sms_consent and not self.opted_out and bool(self.mobile)

    @property
    def mobile_forms(self) -> list[str]:
        """The number as E.164, national (07700900123) and spaced national (07700 900123)."""
        if not self.mobile:
            return []
        national = "0" + self.mobile.removeprefix("+44")
        return [self.mobile, national, f"{national[:5]} {national[5:]}"]

    @property
    def needles(self) -> list[str]:
        return [self.full_name, *self.mobile_forms]


def read_tenants(registry_path: Path) -> list[Tenant]:
    with sqlite3.connect(f"file:{registry_path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT tenant_id, household_id, full_name, mobile, sms_consent,"
                            " opted_out_at FROM tenants ORDER BY tenant_id").fetchall()
    return [Tenant(t, h, n, m, bool(c), o is not None) for t, h, n, m, c, o in rows]


def registry_rows(registry_path: Path, sql: str, args=()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{registry_path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def find_needles(text: str, needles: list[str]) -> list[str]:
    return sorted({n for n in needles if n and n in text})


def find_needles_bytes(data: bytes, needles: list[str]) -> list[str]:
    return sorted({n for n in needles if n and n.encode("utf-8") in data})


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def scan_files(paths: list[Path], needles: list[str]) -> dict[str, list[str]]:
    """{file: needles found}, over the raw bytes and, for PDFs, the extracted text."""
    found: dict[str, list[str]] = {}
    for path in paths:
        hits = find_needles_bytes(path.read_bytes(), needles)
        if path.suffix == ".pdf":
            hits = sorted(set(hits) | set(find_needles(pdf_text(path), needles)))
        if hits:
            found[str(path)] = hits
    return found


# ---- InfluxDB -------------------------------------------------------------------------------

def influx_strings(client: InfluxClient) -> list[tuple[str, str]]:
    """Every string stored in the database: (where, value) for each tag value of each tag key
    of each measurement, and each value of each string field in each retention policy."""
    db = quote_ident(client.database)
    out: list[tuple[str, str]] = []
    measurements = [str(v) for s in client.query(f"SHOW MEASUREMENTS ON {db}", epoch=None)
                    for v in s.values.get("name", [])]
    rps = [str(v) for s in client.query(f"SHOW RETENTION POLICIES ON {db}", epoch=None)
           for v in s.values.get("name", [])]
    for m in measurements:
        for s in client.query(f"SHOW TAG KEYS ON {db} FROM {quote_ident(m)}", epoch=None):
            for key in s.values.get("tagKey", []):
                q = f"SHOW TAG VALUES ON {db} FROM {quote_ident(m)} WITH KEY = {quote_ident(key)}"
                for tv in client.query(q, epoch=None):
                    out.extend((f"tag {m}.{key}", str(v)) for v in tv.values.get("value", []))
        for rp in rps:
            source = f"{db}.{quote_ident(rp)}.{quote_ident(m)}"
            # Field keys live per retention policy (forecast_daily's are in "usage" only).
            string_fields = [str(k) for s in client.query(f"SHOW FIELD KEYS FROM {source}",
                                                          epoch=None)
                             for k, t in zip(s.values.get("fieldKey", []),
                                             s.values.get("fieldType", []), strict=True)
                             if t == "string"]
            for f in string_fields:
                # DISTINCT: every value once, not once per point.
                q = f"SELECT DISTINCT({quote_ident(f)}) FROM {source}"
                for s in client.query(q, epoch="s"):
                    out.extend((f"field {rp}.{m}.{f}", str(v))
                               for v in s.values.get("distinct", []) if v is not None)
    return out
