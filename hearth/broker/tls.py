"""A local certificate authority and the broker's server certificate, made with `openssl`.

`hearth stack up` calls `ensure_local_ca`: the CA (ca.crt, ca.key) and a server certificate
for 127.0.0.1 and localhost signed by it, under var/tls/. Private keys are mode 0600; the
server key is handed to the user Mosquitto runs as. Clients trust ca.crt only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hearth.errors import StackError

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest validity clients such as Apple's accept for a server cert


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    tool = shutil.which("openssl")
    if tool is None:
        raise StackError("openssl is not installed: run `apt-get install openssl`")
    done = subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"openssl {args[0]} failed: {done.stderr.strip()[-400:]}")


def _ec_key(path: Path, cwd: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", str(path), cwd=cwd)
    os.chmod(path, 0o600)


def ensure_local_ca(tls_dir: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
                    key_owner: tuple[int, int] | None = None, name: str = "mqtt-server"
                    ) -> TlsFiles:
    """Make the CA and the server certificate unless they exist. Returns their paths."""
    d = Path(tls_dir).resolve()
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o755)  # the broker's user reaches its cert and key; the keys stay 0600
    ca_key, ca_cert = d / "ca.key", d / "ca.crt"
    key, cert = d / f"{name}.key", d / f"{name}.crt"
    if not (ca_key.exists() and ca_cert.exists()):
        _ec_key(ca_key, d)
        _openssl("req", "-x509", "-new", "-key", str(ca_key), "-out", str(ca_cert),
                 "-days", str(CA_DAYS), "-subj", "/O=Hearth/CN=Hearth local CA",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        cert.unlink(missing_ok=True)
    if not (key.exists() and cert.exists()):
        _ec_key(key, d)
        csr, ext = d / f"{name}.csr", d / f"{name}.ext"
        alt = ",".join(("IP:" if h.replace(".", "").isdigit() or ":" in h else "DNS:") + h
                       for h in hosts)
        ext.write_text(f"basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                       f"extendedKeyUsage=serverAuth\nsubjectAltName={alt}\n")
        _openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj",
                 f"/O=Hearth/CN={hosts[-1]}", cwd=d)
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-out", str(cert), "-days", str(SERVER_DAYS),
                 "-extfile", str(ext), cwd=d)
        csr.unlink()
        ext.unlink()
    if key_owner is not None:
        os.chown(key, *key_owner)
    return TlsFiles(ca_cert, cert, key)


def ca_path(settings) -> Path:
    """mqtt.tls_ca_path, or the local CA's certificate under var/tls/."""
    given = settings.mqtt.tls_ca_path
    return Path(given) if given is not None else Path(settings.paths.var_dir) / "tls" / "ca.crt"


def client_ca_path(settings) -> str | None:
    """The CA file an MQTT client verifies the broker with; None when mqtt.tls is off."""
    if not settings.mqtt.tls:
        return None
    ca = ca_path(settings)
    if not ca.is_file():
        raise StackError(f"mqtt.tls is on but the CA certificate {ca} does not exist: run"
                         " `hearth stack up` (it makes a local CA), point mqtt.tls_ca_path at"
                         " your broker's CA, or set mqtt.tls = false")
    return str(ca)


def use_tls(client, ca_path: str | None) -> None:
    """Have a paho client verify the broker's certificate (chain and host name) against ca_path."""
    if ca_path is None:
        return
    import ssl

    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_path)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    client.tls_set_context(context)


def connect_problem(host: str, port: int, ca_path: str | None, timeout_s: float = 5.0) -> str:
    """Why a connection to the broker fails below MQTT (refused, TLS, certificate), in words.
    paho retries such failures silently; this names the cause for the log."""
    import socket
    import ssl

    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            if ca_path is None:
                return "the TCP connection works; the broker did not answer MQTT"
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_path)
            with context.wrap_socket(sock, server_hostname=host):
                return "TLS works; the broker did not answer MQTT"
    except ssl.SSLCertVerificationError as exc:
        return (f"the broker's certificate does not verify against {ca_path}"
                f" ({exc.verify_message}): check mqtt.tls_ca_path and mqtt.host")
    except ssl.SSLError as exc:
        return f"TLS handshake failed ({exc.reason}): is the broker listening with TLS?"
    except OSError as exc:
        return f"cannot connect ({exc.strerror or exc}): is the broker running?"
