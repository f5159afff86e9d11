"""Remote studio mode: CurveZMQ keys, the allow-list and the daemon's ZAP authenticator.

Off by default. With ``darkroom serve --bind tcp://0.0.0.0:PORT --allow-remote --curve`` the
daemon's socket speaks CurveZMQ (RFC 26: every frame encrypted and authenticated with the
server's long-term key pair and each client's) and a ZAP handler (RFC 27, pyzmq's
:class:`zmq.auth.thread.ThreadAuthenticator`) lets in only client public keys listed in the
allow-list folder. The HMAC signatures of :mod:`darkroom.wire` stay on top, with a key that
persists across restarts so the files handed to clients keep working.

Files, all under ``<config>/curve/`` (0700 folder, secrets 0600)::

    server.key, server.key_secret   the daemon's key pair (zmq.auth certificate files)
    session.key                     the persistent HMAC key used in remote mode
    clients/NAME.key                allow-list: one public key per client (delete to revoke)
    paths                           folders remote clients may name in requests (photo
                                    folders, index files, weights), one absolute path a line;
                                    absent or empty: remote requests may name no path at all
    remote-NAME.json                a connection file for client NAME: endpoint, HMAC key,
                                    server public key, NAME's key pair — copy it to NAME's
                                    machine over a trusted channel, then delete it here

Stdlib + pyzmq only (the plugins import the client, which reads the ``curve`` block).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import zmq
import zmq.auth

from darkroom.config import Paths
from darkroom.connection import write_connection_file
from darkroom.errors import BadRequest
from darkroom.wire import new_key

log = logging.getLogger("darkroom.remote")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def folder(where: Paths) -> Path:
    return where.config / "curve"


def _private_dir(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(d, 0o700)
    return d


def server_keys(where: Paths) -> tuple[bytes, bytes]:
    """The daemon's (public, secret) Z85 key pair, created on first use."""
    d = _private_dir(folder(where))
    secret_file = d / "server.key_secret"
    if not secret_file.is_file():
        zmq.auth.create_certificates(str(d), "server")
        os.chmod(secret_file, 0o600)
    public, secret = zmq.auth.load_certificate(str(secret_file))
    assert secret is not None
    return public, secret


def session_key(where: Paths) -> bytes:
    """The HMAC key of remote mode, persistent (0600) so clients' files outlive restarts."""
    p = _private_dir(folder(where)) / "session.key"
    try:
        key = p.read_text(encoding="ascii").strip().encode("ascii")
        if len(key) == 64:
            return key
    except (OSError, UnicodeDecodeError):
        pass
    key = new_key()
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.decode("ascii"))
    return key


def allowed_keys(where: Paths) -> set[bytes]:
    """Public keys (Z85) in the allow-list folder; unreadable files are skipped."""
    d = folder(where) / "clients"
    keys: set[bytes] = set()
    if not d.is_dir():
        return keys
    for f in sorted(d.glob("*.key")):
        try:
            public, _ = zmq.auth.load_certificate(str(f))
        except (OSError, ValueError):
            log.warning("ignoring unreadable client key %s", f)
            continue
        keys.add(public)
    return keys


def add_client(where: Paths, name: str, endpoint: str) -> Path:
    """Make a key pair for client ``name``, allow its public key, and write the connection
    file that client needs (0600); return that file's path."""
    if not _NAME.match(name):
        raise BadRequest(f"A client name is letters, digits, '.', '_' or '-'; not {name!r}.")
    if not endpoint.startswith("tcp://"):
        raise BadRequest("The endpoint clients reach the daemon at must be tcp://HOST:PORT.")
    server_public, _ = server_keys(where)
    clients = _private_dir(folder(where) / "clients")
    with tempfile.TemporaryDirectory(dir=folder(where)) as tmp:
        public_file, secret_file = zmq.auth.create_certificates(tmp, name)
        public, secret = zmq.auth.load_certificate(secret_file)
        shutil.copyfile(public_file, clients / f"{name}.key")
    assert secret is not None
    out = folder(where) / f"remote-{name}.json"
    write_connection_file(out, {
        "endpoint": endpoint,
        "key": session_key(where).decode("ascii"),
        "signature_scheme": "hmac-sha256",
        "protocol": 1,
        "remote": True,
        "curve": {"server_key": server_public.decode("ascii"),
                  "public_key": public.decode("ascii"), "secret_key": secret.decode("ascii")},
    })
    return out


def revoke_client(where: Paths, name: str) -> bool:
    """Remove ``name`` from the allow-list (effective for its next connection)."""
    p = folder(where) / "clients" / f"{name}.key"
    if not _NAME.match(name) or not p.is_file():
        return False
    p.unlink()
    return True


def allowed_roots(where: Paths) -> list[Path]:
    """Folders under which remote clients may name paths (see the module docstring)."""
    try:
        lines = (folder(where) / "paths").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [Path(x.strip()).resolve() for x in lines
            if x.strip() and not x.startswith("#") and Path(x.strip()).is_absolute()]


def check_remote_paths(where: Paths, spec: Any, params: dict[str, Any]) -> None:
    """Refuse path parameters outside :func:`allowed_roots` in a remote client's request: a
    listed client may use the GPU, not read or index the whole server's disk."""
    roots: list[Path] | None = None  # read only when the request names a path
    for p in spec.params:
        value = params.get(p.name)
        if p.path is None or value in (None, ""):
            continue
        if roots is None:
            roots = allowed_roots(where)
        for v in value if isinstance(value, list) else [value]:
            real = Path(v).resolve()
            if not any(real.is_relative_to(r) for r in roots):
                raise BadRequest(
                    f"Remote clients may only name paths under the folders listed in "
                    f"{folder(where) / 'paths'} on the server; '{p.name}' is outside them.",
                    field=p.name)


class _AllowList:
    """ZAP credentials provider: a key is let in when it is in the allow-list folder now
    (re-read on each handshake, so adding or revoking needs no restart) or is one of
    ``extra`` (the daemon's own local key)."""

    def __init__(self, where: Paths, extra: set[bytes]) -> None:
        self.where = where
        self.extra = extra
        self.refused = 0

    def callback(self, domain: str, key: bytes) -> bool:
        ok = key in self.extra or key in allowed_keys(self.where)
        if not ok:
            self.refused += 1
            log.warning("refused a CurveZMQ client with an unknown key %s", key.decode("ascii"))
        return ok


class CurveServer:
    """Turns a daemon's socket into a CurveZMQ server with a ZAP allow-list.

    ``local`` is a key pair made for this run, allowed too, which the daemon writes into its
    own (0600) connection file so ``darkroom status`` / ``stop`` work on the server itself.
    """

    def __init__(self, ctx: zmq.Context, where: Paths) -> None:
        from zmq.auth.thread import ThreadAuthenticator

        self.public, self.secret = server_keys(where)
        self.local_public, self.local_secret = zmq.curve_keypair()
        self.allow = _AllowList(where, {self.local_public})
        self.auth = ThreadAuthenticator(ctx, log=logging.getLogger("darkroom.zap"))
        self.auth.start()
        self.auth.configure_curve_callback("*", credentials_provider=self.allow)

    def secure(self, sock: zmq.Socket) -> None:
        """Make ``sock`` a CurveZMQ server (before it binds)."""
        sock.curve_secretkey = self.secret
        sock.curve_publickey = self.public
        sock.curve_server = True

    def local_client(self) -> dict[str, Any]:
        """The ``curve`` block of the daemon's own connection file."""
        return {"server_key": self.public.decode("ascii"),
                "public_key": self.local_public.decode("ascii"),
                "secret_key": self.local_secret.decode("ascii")}

    def stop(self) -> None:
        self.auth.stop()


def secure_client(sock: zmq.Socket, curve: Any) -> None:
    """Set a client socket's CurveZMQ keys from a connection file's ``curve`` block."""
    if not isinstance(curve, dict) or not all(
            isinstance(curve.get(k), str) and len(curve[k]) == 40
            for k in ("server_key", "public_key", "secret_key")):
        raise BadRequest("The connection file's 'curve' block needs server_key, public_key "
                         "and secret_key (40-character Z85 keys).")
    sock.curve_serverkey = curve["server_key"].encode("ascii")
    sock.curve_publickey = curve["public_key"].encode("ascii")
    sock.curve_secretkey = curve["secret_key"].encode("ascii")
