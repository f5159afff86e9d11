"""Faults on disk: the sketch index and the relighting cache survive a SIGKILL at random
moments and a full disk, and a full disk is reported as a sentence.

"Killed at a random moment" is done for real: a child process writes in a loop and prints
what it has committed; the test kills it with SIGKILL after a random delay, then checks
what a user would notice — the file opens, holds whole batches only, keeps everything the
child reported committed, and searching/loading works. A full disk is simulated with
``RLIMIT_FSIZE`` (works as root and in CI, unlike a read-only folder), with ``SIGXFSZ``
ignored so the write fails with ``EFBIG`` instead of killing the process.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from darkroom.errors import StorageError

BATCH = 25
DIM = 64

#: A child that appends batches of BATCH rows to a sketch index, one transaction each, and
#: deletes an old batch every fifth time (like an indexing run that finds deleted photos).
_INDEX_WRITER = textwrap.dedent(f"""
    import sys, numpy as np
    from darkroom.ops.sketch import index as ix
    path, start = sys.argv[1], int(sys.argv[2])
    with ix.connect(path, create=True) as con:
        print("ready", flush=True)
        b = start
        while True:
            rows = [ix.Row(f"/photos/{{b}}/{{i}}.jpg", b, i, f"{{b:032x}}", 64, 48,
                           np.full({DIM}, b % 97, np.float32), bytes(3000)) for i in range({BATCH})]
            ix.store(con, rows)
            if b % 5 == 4:
                with con:
                    con.execute("DELETE FROM photos WHERE path LIKE ?", (f"/photos/{{b - 3}}/%",))
            print(b, flush=True)
            b += 1
""")

def _kill_at_random(script: str, args: list[str], rng: random.Random, most: float
                    ) -> list[int]:
    """Run ``script``, SIGKILL it a random time after it is ready; return the numbers it
    printed (what it reported committed before dying)."""
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == "ready", proc.stderr.read() if proc.stderr else first
        time.sleep(rng.uniform(0.0, most))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, err  # it was killed mid-loop, not crashed
    return [int(x) for x in out.split()]


def _check_index(path: Path, committed: list[int]) -> int:
    """What a user needs from an index after a crash; returns the next batch number."""
    from darkroom.ops.sketch import index as ix

    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with ix.connect(path) as con:
        batches: dict[int, int] = {}
        for p, emb in con.execute("SELECT path, embedding FROM photos"):
            assert len(emb) == DIM * 2  # float16
            b = int(p.split("/")[2])
            batches[b] = batches.get(b, 0) + 1
        assert all(n == BATCH for n in batches.values()), f"half a batch stored: {batches}"
        for b in committed:  # what the writer reported committed is there…
            # …unless batch b + 3 (stored before it) committed b's deletion.
            assert b in batches or (b % 5 == 1 and b + 3 in batches), f"batch {b} lost"
        paths, emb = ix.matrix(con, str(path), DIM)
        assert emb.shape == (len(paths), DIM)
        if paths:  # and it searches
            q = np.ones(DIM, np.float32) / np.sqrt(DIM)
            idx, _ = ix.top_k(emb, q, 5)
            assert len(idx) == min(5, len(paths))
    return max([*batches, *committed], default=-1) + 1


@pytest.mark.slow
def test_sketch_index_survives_sigkill_at_random_moments(tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "index.sqlite"
    nxt, kills, total = 0, 0, 0
    for _ in range(10):
        committed = _kill_at_random(_INDEX_WRITER, [str(path), str(nxt)], rng, 0.4)
        kills += 1
        total += len(committed)
        nxt = _check_index(path, committed)
    assert kills == 10 and total > 10  # the kills really landed among many commits


def _forked_cache_writer(first: int, rng: random.Random, most: float) -> list[int]:
    """Fork a child that saves ever newer relighting models (8 MB) under one key and reports
    each finished save on a pipe; SIGKILL it at a random moment; return what it reported.
    Forking (not a new interpreter) saves a torch import per kill, so many kills stay cheap;
    the child only touches numpy and torch's serialiser, which are fork-safe."""
    from darkroom.ops.relight import cache

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            os.close(r)
            import torch

            i = first
            while True:
                w8 = torch.from_numpy(np.full((1024, 2048), float(i), np.float32))
                cache.save("k" * 32, {"w": w8, "i": torch.tensor(i), "stats": {"step": i}})
                os.write(w, f"{i}\n".encode())
                i += 1
        finally:
            os._exit(1)
    os.close(w)
    time.sleep(rng.uniform(0.0, most))
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(r) as f:
        out = f.read()
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, out
    return [int(x) for x in out.split()]


@pytest.mark.slow
def test_relight_cache_survives_sigkill_at_random_moments(darkroom_home: Path) -> None:
    from darkroom.ops.relight import cache

    rng = random.Random(3)
    newest, saves = -1, 0
    for round_ in range(25):
        committed = _forked_cache_writer(100 * round_, rng, 0.25)
        saves += len(committed)
        cache.forget_memory()
        state = cache.load("k" * 32)
        if committed:
            newest = committed[-1]
        # Never half a model: the file loads, is internally consistent, and is at least as
        # new as the last save the writer reported. (A save can also be complete but not yet
        # reported when the kill lands: then a newer whole model is there, even in round 0.)
        if state is None:
            assert newest < 0, f"round {round_}: a committed model was lost or damaged"
            continue
        i = int(state["i"])
        assert i >= newest and bool((state["w"] == float(i)).all())
    assert saves > 25  # kills landed among many saves
    finals = list((darkroom_home / "cache" / "relight").glob("*.pt"))
    assert [f.name for f in finals] == ["k" * 32 + ".pt"]


@contextmanager
def _file_size_limit(nbytes: int) -> Iterator[None]:
    """A 'disk' that is full after ``nbytes`` per file, for this process (restored after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)


def _rows(b: int) -> list:  # type: ignore[type-arg]
    from darkroom.ops.sketch import index as ix

    return [ix.Row(f"/photos/{b}/{i}.jpg", b, i, "0" * 32, 64, 48,
                   np.full(DIM, 1, np.float32), os.urandom(3000)) for i in range(BATCH)]


def test_full_disk_while_indexing_is_a_sentence_and_keeps_the_index(tmp_path: Path) -> None:
    from darkroom.ops.sketch import index as ix

    path = tmp_path / "index.sqlite"
    with ix.connect(path, create=True) as con:
        ix.store(con, _rows(0))
    stored = 1
    with pytest.raises(StorageError) as e, _file_size_limit(600_000):
        with ix.connect(path, create=True) as con:
            for b in range(1, 100):
                ix.store(con, _rows(b))
                stored += 1
    text = str(e.value)
    assert "Cannot write the sketch index" in text and str(path) in text
    assert "Traceback" not in text and "sqlite3" not in text
    assert 1 < stored < 100
    assert _check_index(path, list(range(stored))) == stored  # every committed batch, whole
    with ix.connect(path) as con:  # and, with room again, indexing goes on
        ix.store(con, _rows(stored))


def test_full_disk_while_caching_a_relight_model_is_a_sentence(darkroom_home: Path) -> None:
    import torch

    from darkroom.ops.relight import cache

    old = {"w": torch.zeros(10), "i": torch.tensor(0), "stats": {}}
    cache.save("a" * 32, old)
    big = {"w": torch.ones(1 << 20), "i": torch.tensor(1), "stats": {}}
    with pytest.raises(StorageError, match="cannot be saved") as e, _file_size_limit(1 << 20):
        cache.save("a" * 32, big)
    assert "Traceback" not in str(e.value)
    folder = darkroom_home / "cache" / "relight"
    assert sorted(p.name for p in folder.iterdir()) == ["a" * 32 + ".pt"]  # no temp left
    assert int(cache.load("a" * 32)["i"]) == 1  # kept in memory for this process
    cache.forget_memory()
    assert int(cache.load("a" * 32)["i"]) == 0  # the old file is intact


def test_unwritable_cache_folder_is_a_sentence(darkroom_home: Path) -> None:
    import torch

    from darkroom.ops.relight import cache

    (darkroom_home / "cache").mkdir(parents=True, exist_ok=True)
    (darkroom_home / "cache" / "relight").write_text("a file where the folder should be")
    with pytest.raises(StorageError, match="DARKROOM_HOME"):
        cache.save("b" * 32, {"w": torch.zeros(3)})
    cache.forget_memory()


def test_serve_on_a_full_disk_says_so_in_one_sentence(darkroom_home: Path) -> None:
    """The connection file cannot be written: one sentence, no traceback (the log's own
    write errors are dropped, not printed)."""

    def full() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))

    r = subprocess.run([sys.executable, "-m", "darkroom", "serve", "--device", "cpu"],
                       preexec_fn=full, capture_output=True, text=True, timeout=120,
                       env=os.environ.copy())
    assert r.returncode == 1
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "Cannot write to the darkroom folder" in r.stderr and "File too large" in r.stderr
    assert not (darkroom_home / "state" / "connection.json").exists()
