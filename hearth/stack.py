"""Start, stop and inspect the local servers: InfluxDB 1.x (Debian's influxd) and Mosquitto.

Each server runs in the background with its config, data, log and pid file under a folder of
its own (``var/influxdb``, ``var/mosquitto``). The same classes start the servers for the tests
on free ports in temporary folders.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from hearth.broker.tls import TlsFiles
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


def _broker_user(run_as: str | None) -> tuple[str, tuple[int, int] | None]:
    """The user Mosquitto runs as, and (uid, gid) to hand its files to when we are root.

    Started as root, Mosquitto switches to the `user` of its config file; it stays root only
    if told `user root`. Started as anyone else it cannot switch and runs as that user."""
    if os.geteuid() != 0:
        return getpass.getuser(), None
    name = run_as or "mosquitto"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise StackError(f"mosquitto: there is no user {name!r} to run the broker as; install"
                         " Debian's mosquitto package (it creates the user)") from None
    if entry.pw_uid == 0:
        raise StackError("mosquitto: refusing to run the broker as root")
    return name, (entry.pw_uid, entry.pw_gid)


def _check_reachable(folder: Path, user: str) -> None:
    """Mosquitto opens its files after switching user: every folder above them must let it in."""
    for parent in Path(folder).resolve().parents:
        if not os.stat(parent).st_mode & 0o001:
            raise StackError(f"mosquitto runs as {user!r}, which cannot enter {parent} (mode"
                             f" {os.stat(parent).st_mode & 0o777:o}): put var_dir elsewhere"
                             f" or `chmod o+x {parent}`")


class MosquittoServer(ManagedServer):
    """Mosquitto on loopback: password file, optional ACL file and TLS, durable persistence,
    a bounded queue per client, never running as root.

    `users` (name -> plaintext password) keeps the simple form the tests use; `password_lines`
    ("name:$7$..." lines) and `acl` come from the registry (hearth.broker.files). Call
    `reload()` after changing them: the files are rewritten and the broker re-reads them on
    SIGHUP without dropping connections.
    """

    def __init__(self, workdir: Path, port: int, users: dict[str, str] | None = None, *,
                 password_lines: list[str] | None = None, acl: str | None = None,
                 tls: TlsFiles | None = None, max_queued_messages: int = 1_000_000,
                 max_queued_bytes: int = 1 << 30, autosave_interval: int = 1,
                 autosave_on_changes: bool = False, run_as: str | None = None):
        super().__init__("mosquitto", Path(workdir), port, "mosquitto", "mosquitto")
        self.users = dict(users or {})
        self.password_lines = list(password_lines or [])
        self.acl = acl
        self.tls = tls
        self.max_queued_messages = max_queued_messages
        self.max_queued_bytes = max_queued_bytes
        self.autosave_interval = autosave_interval
        self.autosave_on_changes = autosave_on_changes
        self.run_as, self.file_owner = _broker_user(run_as)

    @property
    def passwd_file(self) -> Path:
        return self.workdir / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.workdir / "acl"

    def write_security(self) -> None:
        """(Re)write the password file and the ACL file, readable only by the broker's user."""
        from hearth.broker.credentials import mosquitto_hash
        from hearth.broker.files import write_private

        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [f"{u}:{mosquitto_hash(p)}" for u, p in self.users.items()] + self.password_lines
        write_private(self.passwd_file, "\n".join(lines) + "\n", self.file_owner)
        if self.acl is not None:
            write_private(self.acl_file, self.acl, self.file_owner)

    def reload(self) -> bool:
        """Rewrite the security files and have a running broker re-read them (SIGHUP).
        Returns True if a running broker was signalled."""
        self.write_security()
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGHUP)
        return True

    def configure(self) -> None:
        d = self.workdir
        data = d / "data"
        data.mkdir(parents=True, exist_ok=True)
        if self.file_owner is not None:
            _check_reachable(d, self.run_as)
            os.chmod(d, 0o755)  # the broker's user must reach its files; they stay 0600
            os.chown(data, *self.file_owner)
            os.chmod(data, 0o700)
        self.write_security()
        if self.tls is not None and self.file_owner is not None:
            os.chown(self.tls.server_key, *self.file_owner)
        (d / "mosquitto.conf").write_text(self.config_text())

    def config_stale(self) -> bool:
        """The config file on disk differs from what this object would write (a running broker
        reads it only at start)."""
        conf = self.workdir / "mosquitto.conf"
        return conf.exists() and conf.read_text() != self.config_text()

    def config_text(self) -> str:
        d = self.workdir
        data = d / "data"
        tls = ""
        if self.tls is not None:
            tls = (f"cafile {self.tls.ca_cert}\ncertfile {self.tls.server_cert}\n"
                   f"keyfile {self.tls.server_key}\ntls_version tlsv1.2\n")
        acl = f"acl_file {self.acl_file}\n" if self.acl is not None else ""
        # Durability: Mosquitto 2.0 persistence is a snapshot of its in-memory database.
        # autosave_on_changes with autosave_interval N writes it after every N changes
        # (messages queued, subscriptions, retained messages) instead of every N seconds:
        # the smallest window it has, at a cost in throughput (docs/collectors.md).
        on_changes = "true" if self.autosave_on_changes else "false"
        return (f"""\
user {self.run_as}
per_listener_settings false
listener {self.port} 127.0.0.1
{tls}allow_anonymous false
password_file {self.passwd_file}
{acl}persistence true
persistence_location {data}/
autosave_on_changes {on_changes}
autosave_interval {self.autosave_interval}
max_queued_messages {self.max_queued_messages}
max_queued_bytes {self.max_queued_bytes}
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


class StackMosquitto(MosquittoServer):
    """The stack's broker: identities from the registry, the collector's read-only identity,
    TLS from the local CA when mqtt.tls is on; files refreshed on every start and reload."""

    def __init__(self, settings):
        m = settings.mqtt
        super().__init__(Path(settings.paths.var_dir) / "mosquitto", m.port,
                         max_queued_messages=m.max_queued_messages,
                         max_queued_bytes=m.max_queued_bytes,
                         autosave_interval=m.autosave_interval,
                         autosave_on_changes=m.autosave_on_changes)
        self.settings = settings

    def refresh(self) -> None:
        from hearth.broker.credentials import hash_matches, mosquitto_hash
        from hearth.broker.files import from_registry

        m = self.settings.mqtt
        collector = m.username
        password = m.password.get_secret_value() if m.password else ""
        # Keep the collector's line while its password is unchanged, so that a changed line
        # always means a revoked credential (see apply()).
        old = self._password_file_hashes().get(collector)
        kept = old if old is not None and hash_matches(password, old) else None
        hashes = {collector: kept or mosquitto_hash(password)}
        files = from_registry(self.settings.registry.target, hashes, readers=(collector,))
        self.password_lines, self.acl = files.password_lines, files.acl
        self.hubs = files.hubs
        if m.tls:
            from hearth.broker.tls import ca_path, ensure_local_ca

            ca = ca_path(self.settings).resolve()
            if ca.name != "ca.crt":
                raise StackError(f"mqtt.tls_ca_path {ca}: the local CA `hearth stack` makes is"
                                 " <folder>/ca.crt; unset the key or name the file ca.crt")
            self.tls = ensure_local_ca(ca.parent, key_owner=self.file_owner)

    def _password_file_hashes(self) -> dict[str, str]:
        if not self.passwd_file.exists():
            return {}
        return dict(line.split(":", 1) for line in self.passwd_file.read_text().splitlines()
                    if ":" in line)

    def configure(self) -> None:
        self.refresh()
        super().configure()

    def reload(self) -> bool:
        self.refresh()
        return super().reload()

    def apply(self) -> str:
        """Regenerate the files and bring a running broker onto them: SIGHUP when identities
        were only added, a restart when one was revoked (a password changed or a home left).
        Seen here: Mosquitto 2.0.11 aborting ("double free or corruption") after a SIGHUP
        that revoked a user whose client had an offline persistent session; a restart keeps
        the sessions (persistence) and only makes clients reconnect. Returns what was done."""
        before = set(self.passwd_file.read_text().splitlines()) if self.passwd_file.exists() \
            else set()
        self.refresh()
        after = set(self.password_lines)
        revoked = {line.split(":", 1)[0] for line in before - after}
        if self.pid() is None:
            self.write_security()
            return "not running"
        if revoked:
            self.stop()
            self.start()
            return "restarted"
        super().reload()
        return "reloaded"


def sync_broker(settings) -> str | None:
    """After the registry's devices changed: regenerate the broker's password and ACL files
    and bring the running managed broker onto them. Returns a line to print, or None."""
    if not settings.mqtt.manage_server:
        return None
    server = StackMosquitto(settings)
    done = server.apply()
    return (f"broker: {server.hubs} home hub identities in {server.passwd_file} and"
            f" {server.acl_file}" + (f"; mosquitto {done}" if done != "not running" else
                                     " (mosquitto not running: read at `hearth stack up`)"))


def ensure_influx_users(admin, writer: tuple[str, str | None], reader: tuple[str, str | None]
                        ) -> list[str]:
    """Create (or re-password) the writer and reader users and grant them the database:
    the writer ALL on it (READ and WRITE, not admin), the reader READ. Returns what was done."""
    from hearth.influx.client import quote_ident, quote_string

    db = quote_ident(admin.database)
    rows = [s for s in admin.query("SHOW USERS", epoch=None)]
    existing = {str(u) for s in rows for u in s.values.get("user", [])}
    done = []
    for (name, password), grant in ((writer, "ALL"), (reader, "READ")):
        if password is None or name == admin.username:
            continue
        if name in existing:
            admin.execute(f"SET PASSWORD FOR {quote_ident(name)} = {quote_string(password)}")
        else:
            admin.execute(f"CREATE USER {quote_ident(name)} WITH PASSWORD"
                          f" {quote_string(password)}")
        admin.execute(f"REVOKE ALL ON {db} FROM {quote_ident(name)}")
        admin.execute(f"GRANT {grant} ON {db} TO {quote_ident(name)}")
        done.append(f"{name} ({'READ+WRITE' if grant == 'ALL' else 'READ'} on"
                    f" {admin.database})")
    return done


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
        out.append(StackMosquitto(settings))
    return out
