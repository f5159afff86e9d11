"""A daemon for the real-editor tests, in a temporary DARKROOM_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def start_daemon(home: Path, *extra: str, env: dict[str, str] | None = None):
    """``python -m darkroom serve`` in DARKROOM_HOME=home (or with ``env`` as given, e.g. a
    user's plain HOME); yields (home, op names), stops it.

    ``--client-timeout 600``: the client only heartbeats when the daemon is silent, so a job
    that streams progress for over a minute (relighting trains on this 2-core CPU) would
    otherwise be reaped as if its client had gone (reported to the lead).
    """
    from darkroom.client import Client

    user_env = env
    env = env or {**os.environ, "DARKROOM_HOME": str(home)}
    log = open(home / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "darkroom", "serve", "--client-timeout", "600",
                             *extra], env=env, stdout=log, stderr=subprocess.STDOUT)
    # DARKROOM_HOME=home puts the connection file here (config.paths); the test process's
    # own environment is left alone so that no other test sees this daemon.
    connection = home.resolve() / "state" / "connection.json"
    if user_env is not None:  # the user's folders, from HOME as the editors compute them
        connection = Path(user_env["HOME"]) / ".local/state/neural-darkroom/connection.json"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                c = Client.connect(connection, timeout=5.0)
                ops = [o["name"] for o in c.ops()]
                c.close()
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip("the daemon did not start: "
                                + (home / "serve.log").read_text()[-400:])
                time.sleep(0.5)
        yield home, ops
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def write_sphere_stack(folder: Path, n: int = 8) -> list[tuple[float, float, float]]:
    """A light-stack folder as an RTI capture leaves it: n 8-bit photos of a shiny sphere on a
    floor, each lit from one direction, and no light file. Returns the directions."""
    import numpy as np

    from darkroom import images as imgs
    from darkroom.ops.relight import synth

    folder.mkdir(parents=True, exist_ok=True)
    dirs = []
    for i in range(n):
        a = 2 * np.pi * i / n
        d = np.array([0.55 * np.cos(a), 0.55 * np.sin(a), 0.0])
        d[2] = np.sqrt(1 - d[0] ** 2 - d[1] ** 2)
        lum = synth.sphere_photo((72, 96), (48.0, 36.0, 24.0), tuple(d), seed=1)
        rgb = np.repeat(np.clip(lum, 0, 1)[..., None], 3, 2) * np.array([1.0, 0.9, 0.8])
        imgs.write_image(folder / f"shot{i:02d}.png",
                         imgs.from_float(imgs.linear_to_srgb(rgb), np.uint8))
        dirs.append(tuple(float(v) for v in d))
    return dirs
