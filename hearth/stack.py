"""Start, stop and inspect the local servers: InfluxDB 1.x (Debian's influxd) and Mosquitto.

Each server runs in the background with its config, data, log and pid file under a folder of
its own (``var/influxdb``, ``var/mosquitto``). The same classes start the servers for the tests
on free ports in temporary folders.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from hearth.errors import StackError

READY_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port that is free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


@dataclass
class ManagedServer:
    """A background server with a pid file. Subclasses say how to configure, run and probe it."""

    name: str
    workdir: Path
    port: int
    binary: str
    package: str

    @property
    def pid_file(self) -> Path:
        return self.workdir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def command(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def configure(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def ready(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def after_start(self) -> None:
        """Hook run once the server answers (create users, databases)."""

    def _find_binary(self) -> str:
        path = shutil.which(self.binary) or next(
            (p for p in (f"/usr/sbin/{self.binary}", f"/usr/bin/{self.binary}") if Path(p).exists()),
            None,
        )
        if path is None:
            raise StackError(f"{self.binary} is not installed: run `apt-get install {self.package}`"
                             " (or `make setup`)")
        return path

    def start(self) -> bool:
        """Start the server unless ours already runs. Returns True if it was started now."""
        if self.pid() is not None:
            self.wait_ready()
            return False
        if port_in_use(self.port):
            raise StackError(f"{self.name}: port {self.port} on 127.0.0.1 is already in use by"
                             " another program; choose another port in config/hearth.toml")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.configure()
        log = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.workdir)
        log.close()
        self.pid_file.write_text(f"{proc.pid}\n")
        self._proc = proc
        self.wait_ready()
        self.after_start()
        return True

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.ready():
                return
            if self.pid() is None:
                tail = self.log_file.read_text(errors="replace")[-800:] if self.log_file.exists() else ""
                raise StackError(f"{self.name} exited at start; last log lines:\n{tail}")
            time.sleep(0.1)
        raise StackError(f"{self.name} did not answer on port {self.port} within {timeout_s:.0f} s;"
                         f" see {self.log_file}")

    def stop(self, timeout_s: float = 20.0) -> bool:
        """Stop the server we started (by pid file). Returns True if one was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.05)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _pid_alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """Stop abruptly (tests of crash recovery)."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            while _pid_alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> str:
        pid = self.pid()
        if pid is None:
            return f"{self.name}: stopped"
        state = "answering" if self.ready() else "NOT answering"
        return f"{self.name}: running, pid {pid}, 127.0.0.1:{self.port}, {state}; log {self.log_file}"


class InfluxServer(ManagedServer):
    """InfluxDB 1.x with authentication on and an admin user created at first start."""

    def __init__(self, workdir: Path, port: int, rpc_port: int, username: str, password: str):
        super().__init__("influxdb", Path(workdir), port, "influxd", "influxdb")
        self.rpc_port = rpc_port
        self.username = username
        self.password = password

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configure(self) -> None:
        if port_in_use(self.rpc_port):
            raise StackError(f"influxdb: RPC port {self.rpc_port} on 127.0.0.1 is already in use;"
                             " set influxdb.rpc_port in config/hearth.toml")
        d = self.workdir
        (d / "influxdb.conf").write_text(f"""\
reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  cache-max-memory-size = "1g"
  max-values-per-tag = 0
  max-series-per-database = 0
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = true
  log-enabled = false
  max-body-size = 0
  flux-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
""")

    def command(self) -> list[str]:
        return [self._find_binary(), "-config", str(self.workdir / "influxdb.conf")]

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/ping", timeout=0.5).status_code == 204
        except requests.RequestException:
            return False

    def after_start(self) -> None:
        # With auth on and no users yet, InfluxDB 1.x accepts exactly this one statement unauthenticated.
        q = f"CREATE USER \"{self.username}\" WITH PASSWORD '{self.password}' WITH ALL PRIVILEGES"
        resp = requests.post(f"{self.url}/query", data={"q": q}, timeout=10)
        if resp.status_code == 200:
            return
        # Users exist already: check our credentials work.
        check = requests.post(f"{self.url}/query", data={"q": "SHOW DATABASES"},
                              auth=(self.username, self.password), timeout=10)
        if check.status_code == 401:
            raise StackError("influxdb: the admin password in var/secrets (or"
                             " HEARTH_INFLUX_PASSWORD) does not match the one the database was"
                             f" created with; fix the secret or remove {self.workdir}")


class MosquittoServer(ManagedServer):
    """Mosquitto on loopback with a password file and persistence, MQTT 5 capable."""

    def __init__(self, workdir: Path, port: int, users: dict[str, str]):
        super().__init__("mosquitto", Path(workdir), port, "mosquitto", "mosquitto")
        self.users = users

    def configure(self) -> None:
        d = self.workdir
        (d / "data").mkdir(parents=True, exist_ok=True)
        passwd = d / "passwd"
        passwd.unlink(missing_ok=True)
        tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        for i, (user, password) in enumerate(self.users.items()):
            args = [tool, "-b"] + (["-c"] if i == 0 else []) + [str(passwd), user, password]
            subprocess.run(args, check=True, capture_output=True)
        os.chmod(passwd, 0o600)
        (d / "mosquitto.conf").write_text(f"""\
user {getpass.getuser()}
per_listener_settings false
listener {self.port} 127.0.0.1
allow_anonymous false
password_file {passwd}
persistence true
persistence_location {d}/data/
autosave_interval 1
max_queued_messages 0
max_inflight_messages 0
max_packet_size 2000000
persistent_client_expiration 14d
log_dest stdout
log_type error
log_type warning
log_type notice
""")

    def command(self) -> list[str]:
        return [self._find_binary(), "-c", str(self.workdir / "mosquitto.conf")]

    def ready(self) -> bool:
        return port_in_use(self.port)


def servers_from_settings(settings) -> list[ManagedServer]:
    """The servers `hearth stack` manages, as the settings describe them."""
    from urllib.parse import urlparse

    var_dir = Path(settings.paths.var_dir)
    out: list[ManagedServer] = []
    if settings.influxdb.manage_server:
        url = urlparse(settings.influxdb.url)
        out.append(InfluxServer(var_dir / "influxdb", url.port or 8086, settings.influxdb.rpc_port,
                                settings.influxdb.username,
                                settings.influxdb.password.get_secret_value()))
    if settings.mqtt.manage_server:
        out.append(MosquittoServer(var_dir / "mosquitto", settings.mqtt.port,
                                   {settings.mqtt.username: settings.mqtt.password.get_secret_value()}))
    return out
