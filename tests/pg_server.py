"""A real PostgreSQL 15 server for tests: Debian's binaries, a temporary cluster on a free
loopback port, password authentication (scram-sha-256). initdb and postgres refuse to run as
root, so under root (CI) the cluster belongs to Debian's `postgres` user, as Mosquitto drops to
`mosquitto` (tests/conftest.py)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from hearth.stack import free_port


def _pg_bin() -> Path:
    """Debian's newest installed PostgreSQL (bookworm ships 15), or HEARTH_PG_BIN."""
    if os.environ.get("HEARTH_PG_BIN"):
        return Path(os.environ["HEARTH_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()
PG_USER, PG_PASSWORD, PG_DB = "hearth", "test-registry-password", "hearth"


def available() -> bool:
    return (PG_BIN / "postgres").exists() and (PG_BIN / "initdb").exists()


class PostgresServer:
    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="hearth-pg-"))
        self.workdir.chmod(0o755)
        self.data = self.workdir / "data"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._as = {}
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.workdir, owner.pw_uid, owner.pw_gid)
            self._as = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{PG_DB}"

    def start(self) -> None:
        pwfile = self.workdir / "pw"
        pwfile.write_text(PG_PASSWORD + "\n")
        if self._as:
            os.chown(pwfile, self._as["user"], self._as["group"])
        subprocess.run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", PG_USER,
                        "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                        "--locale=C.UTF-8", "--no-sync"],
                       check=True, capture_output=True, **self._as)
        pwfile.unlink()
        # Durability off: a test cluster is thrown away (never do this on a real registry).
        with open(self.workdir / "log", "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1",
                 "-c", f"unix_socket_directories={self.workdir}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=200", "-c", "shared_buffers=64MB"],
                stdout=subprocess.DEVNULL, stderr=log, **self._as)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited: " + (self.workdir / "log").read_text())
            done = subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p",
                                   str(self.port)], capture_output=True)
            if done.returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("postgres did not start in 30 s")
        subprocess.run([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", PG_USER, PG_DB], check=True, capture_output=True,
                       env={**os.environ, "PGPASSWORD": PG_PASSWORD})

    def fresh_schema_url(self) -> str:
        """A URL whose search_path is a new, empty schema: one registry per test, fast."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, password=PG_PASSWORD, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self.url}?options=-csearch_path%3D{name}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.workdir, ignore_errors=True)
