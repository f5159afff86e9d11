"""CLI commands that control the daemon: serve, stop, status, ping, doctor."""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import os
import platform
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from darkroom import __version__
from darkroom.config import Paths, paths
from darkroom.errors import BackendUnavailable, ProtocolError, StorageError


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the backend daemon in the foreground")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="compute device (auto: cuda > mps > cpu)")
    p.add_argument("--bind", default=None, metavar="ENDPOINT",
                   help="listen here instead of the default ipc socket: 'tcp' (127.0.0.1, a "
                   "free port), tcp://HOST:PORT or ipc://PATH")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow --bind on an address other machines can reach")
    p.add_argument("--max-queued", type=int, default=32, help="jobs waiting before 'busy'")
    p.add_argument("--client-timeout", type=float, default=60.0,
                   help="seconds of client silence before its jobs are cancelled")
    p.add_argument("--curve", action="store_true",
                   help="remote studio mode: CurveZMQ encryption and a key allow-list "
                   "(with --bind tcp://HOST:PORT; see 'darkroom keys')")
    p.set_defaults(func=_serve)

    p = sub.add_parser("keys", help="remote studio mode: the server key and client keys")
    p.add_argument("--client", metavar="NAME",
                   help="make a key pair for client NAME, allow it, and write its connection file")
    p.add_argument("--endpoint", metavar="tcp://HOST:PORT",
                   help="where NAME reaches this daemon (default: this host's name, port 5555)")
    p.add_argument("--revoke", metavar="NAME", help="remove NAME from the allow-list")
    p.set_defaults(func=_keys)

    p = sub.add_parser("stop", help="stop the running daemon")
    p.add_argument("--timeout", type=float, default=10.0)
    p.set_defaults(func=_stop)

    p = sub.add_parser("status", help="device, queue, jobs done, rejected messages")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_status)

    p = sub.add_parser("ping", help="check that the daemon answers")
    p.add_argument("--timeout", type=float, default=5.0)
    p.set_defaults(func=_ping)

    p = sub.add_parser("doctor", help="versions, device, weights, endpoint, 4K round trip")
    p.set_defaults(func=_doctor)


def _serve(args: argparse.Namespace) -> int:
    from darkroom.server import ServerConfig

    cfg = ServerConfig(device=args.device, bind=args.bind, allow_remote=args.allow_remote,
                       max_queued=args.max_queued, client_timeout=args.client_timeout,
                       curve=args.curve)

    def ready(d: Any) -> None:
        print(f"darkroom: serving on {d.endpoint} (devices: {', '.join(d.devices)}; "
              f"log: {d.paths.log_file})", file=sys.stderr, flush=True)

    serve(cfg, debug=args.debug, ready=ready)
    return 0


def setup_logging(where: Paths, debug: bool = False) -> None:
    where.ensure()
    handler = logging.handlers.RotatingFileHandler(where.log_file, maxBytes=5 << 20,
                                                   backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # A full disk must not make the daemon print a traceback per log line: drop them.
    logging.raiseExceptions = False
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)


def serve(config: Any, *, debug: bool = False, ready: Any = None) -> None:
    """Run a daemon in this process until stopped (``darkroom serve``)."""
    from darkroom.server import Daemon

    where = paths()
    try:
        setup_logging(where, debug)
        daemon = Daemon(config, where)
        daemon.start()
    except OSError as e:  # unwritable or full DARKROOM_HOME: one sentence, no traceback
        raise StorageError(
            f"Cannot write to the darkroom folder {where.config.parent} ({e.strerror or e}): "
            "free some disk space, or set DARKROOM_HOME to a writable folder.") from None
    if ready is not None:
        ready(daemon)
    daemon.serve_forever()


def _keys(args: argparse.Namespace) -> int:
    import socket

    from darkroom import remote

    where = paths().ensure()
    if args.revoke:
        if not remote.revoke_client(where, args.revoke):
            print(f"darkroom: no client named {args.revoke!r} is allowed.", file=sys.stderr)
            return 1
        print(f"darkroom: {args.revoke} can no longer connect (from its next connection).")
        return 0
    public, _ = remote.server_keys(where)
    d = remote.folder(where)
    if args.client:
        endpoint = args.endpoint or f"tcp://{socket.gethostname()}:5555"
        out = remote.add_client(where, args.client, endpoint)
        print(f"darkroom: client {args.client} is allowed; its connection file is {out}")
        print(f"  copy it to {args.client}'s machine over a trusted channel (it holds secrets),")
        print("  delete it here, and there run: DARKROOM_CONNECTION=/path/to/that/file darkroom ping")
        return 0
    print(f"server public key  {public.decode('ascii')}")
    print(f"key folder         {d} (secrets 0600)")
    allowed = sorted(p.stem for p in (d / "clients").glob("*.key"))
    print(f"allowed clients    {', '.join(allowed) or '(none yet: darkroom keys --client NAME)'}")
    return 0


def _client(timeout: float = 5.0) -> Any:
    from darkroom.client import Client

    return Client.connect(timeout=timeout)


def _stop(args: argparse.Namespace) -> int:
    where = paths()
    try:
        from darkroom.connection import read_connection_file

        info = read_connection_file(where.connection_file)
    except (FileNotFoundError, ProtocolError):
        print("darkroom: no backend is running.", file=sys.stderr)
        return 0
    pid = info.get("pid")
    try:
        with _client(timeout=min(args.timeout, 5.0)) as c:
            c.shutdown()
    except BackendUnavailable:
        if isinstance(pid, int) and _alive(pid):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while isinstance(pid, int) and _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if isinstance(pid, int) and _alive(pid):
        print(f"darkroom: the backend (pid {pid}) did not stop in {args.timeout:.0f} s.",
              file=sys.stderr)
        return 1
    print("darkroom: backend stopped.", file=sys.stderr)
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (tests) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return True


def _status(args: argparse.Namespace) -> int:
    try:
        with _client() as c:
            st = c.status()
    except BackendUnavailable as e:
        if args.json:
            print(json.dumps({"running": False, "message": str(e)}))
        else:
            print(f"not running: {e}")
        return 3
    st["running"] = True
    if args.json:
        print(json.dumps(st, indent=1))
        return 0
    q = st["queue"]
    print(f"running      pid {st['pid']}, version {st['version']}, up {st['uptime_s']:.0f} s")
    print(f"endpoint     {st['endpoint']}")
    print(f"devices      {', '.join(st['devices'])}")
    print(f"queue        {q['queued']} waiting, {q['running']} running")
    print(f"jobs         {q['done']} done, {q['failed']} failed, {q['cancelled']} cancelled")
    print(f"rejected     {st['rejected']} unsigned/malformed messages; {st['errors']} error replies")
    if st.get("curve"):
        print(f"remote       CurveZMQ on; {st.get('refused_keys', 0)} unknown keys refused")
    print(f"log          {st['log']}")
    return 0


def _ping(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    with _client(timeout=args.timeout) as c:
        meta = c.ping()
    ms = (time.perf_counter() - t0) * 1000
    print(f"pong from darkroom {meta.get('version')} (pid {meta.get('pid')}, "
          f"{', '.join(meta.get('devices', []))}) in {ms:.1f} ms")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    import torchvision
    import zmq

    from darkroom.config import pick_device
    from darkroom.models import BACKBONES, available

    where = paths()
    rows = [
        ("darkroom", __version__),
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("torch", f"{torch.__version__} (cuda {torch.version.cuda or 'none'})"),
        ("torchvision", torchvision.__version__),
        ("numpy", np.__version__),
        ("pyzmq", f"{zmq.__version__} (libzmq {zmq.zmq_version()})"),
        ("device", _device_text(pick_device("auto"))),
    ]
    for name in BACKBONES:
        rows.append((f"weights {name}", "available" if available(name) else
                     "not on this machine (vgg19: run once with network, or --weights FILE)"))
    rows.append(("DARKROOM_HOME", os.environ.get("DARKROOM_HOME", "(not set)")))
    rows.append(("connection", str(where.connection_file)))
    for k, v in rows:
        print(f"{k:18} {v}")
    try:
        with _client(timeout=3.0) as c:
            print(f"{'endpoint':18} {c.endpoint} (answers)")
            ms = _round_trip(c)
            where_rt = "running daemon"
    except BackendUnavailable:
        print(f"{'endpoint':18} no daemon running; measuring with a temporary one")
        ms = _round_trip_temporary()
        where_rt = "temporary daemon"
    print(f"{'4K round trip':18} {ms:.0f} ms (3840×2160 RGBA u8 through debug.echo, {where_rt})")
    return 0


def _device_text(dev: str) -> str:
    import torch

    if dev == "cuda":
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return dev


def _round_trip(client: Any) -> float:
    import numpy as np

    from darkroom.wire import WireImage

    img = WireImage.from_numpy(np.zeros((2160, 3840, 4), np.uint8) + 128)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        client.run("debug.echo", [img], {})
        times.append(time.perf_counter() - t0)
    return 1000 * min(times)


def _round_trip_temporary() -> float:
    from darkroom.client import Client
    from darkroom.config import Paths
    from darkroom.server import Daemon, ServerConfig

    with tempfile.TemporaryDirectory(prefix="darkroom-doctor-") as tmp:
        root = Path(tmp)
        where = Paths(root / "c", root / "r", root / "s", root / "k", root / "d")
        d = Daemon(ServerConfig(device="cpu"), where)
        d.start()
        t = threading.Thread(target=d._loop, daemon=True)
        t.start()
        try:
            from darkroom.connection import read_connection_file

            with Client(read_connection_file(where.connection_file)) as c:
                return _round_trip(c)
        finally:
            d.stop()
            t.join(5)
            d.close()
