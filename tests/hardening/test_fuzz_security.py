"""Hardening (issue 7), first slice: garbage on the wire and pickle-free code.

Random multipart frames (truncated, unsigned, random bytes) are thrown at a live daemon
from a raw DEALER socket; the daemon must neither crash nor execute anything, and must
still answer ``ping`` afterwards.  A static check asserts that nothing under backend/
uses pickle or an unrestricted ``torch.load``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BACKEND = Path(__file__).resolve().parents[2] / "backend"

frames = st.lists(st.binary(max_size=256), min_size=0, max_size=6)


def test_daemon_survives_random_frames(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon()
    sock = d.raw_socket()
    sent = [0]

    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(frames)
    def throw(parts: list[bytes]) -> None:
        if parts:
            sock.send_multipart(parts)
            sent[0] += 1

    try:
        throw()
    finally:
        sock.close()
    assert sent[0] > 100
    assert d.thread.is_alive(), "daemon loop died on malformed input"
    with d.client() as c:
        assert c.ping(timeout=10)["protocol"] == 1


def test_no_pickle_or_unsafe_torch_load_in_backend() -> None:
    bad: list[str] = []
    for f in BACKEND.rglob("*.py"):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                if any(n.split(".")[0] in {"pickle", "cPickle", "dill", "marshal"} for n in names):
                    bad.append(f"{f}:{node.lineno} imports pickle-like module")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "load" and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id == "torch":
                ok = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant)
                         and k.value.value is True for k in node.keywords)
                if not ok:
                    bad.append(f"{f}:{node.lineno} torch.load without weights_only=True")
    assert not bad, "\n".join(bad)


def test_unusable_darkroom_home_gives_one_sentence(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    home = tmp_path / "not-a-folder"
    home.write_text("x")
    env = {**__import__("os").environ, "DARKROOM_HOME": str(home)}
    r = subprocess.run([sys.executable, "-m", "darkroom", "serve"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout
    assert "DARKROOM_HOME" in r.stderr + r.stdout and str(home) in r.stderr + r.stdout
