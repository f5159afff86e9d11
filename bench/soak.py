"""Soak benchmark (issue 7): a real ``darkroom serve`` subprocess under a fuzz campaign, load,
cancels and a crash, with a baseline measured in the same run.

    python bench/soak.py [--messages 10000] [--clients 8] [--jobs 25] [--out bench/out]

Phases, all against one daemon (CPU, private ``DARKROOM_HOME``):

1. **baseline** — as many valid signed pings as the fuzz sends messages: time and daemon RSS.
2. **fuzz** — ``--messages`` hostile messages from a raw socket, drawn at random (seeded) from
   the kinds in :data:`KINDS`: unsigned, wrongly signed, truncated, replayed, oversized,
   and signed-but-hostile (huge shapes, NaN/inf, negative sizes, unknown ops, deep JSON, bad
   paths), with a valid ping every 20th message. Counts per kind: sent, answered, executed
   (a result for a forged/replayed/truncated message would be one). Every reply is checked
   for tracebacks and source paths. Then ``darkroom status --json``'s ``rejected``, the RSS
   growth against the baseline's, and a final ``ping``.
3. **load** — ``--clients`` clients × ``--jobs`` jobs (echo, small style, small relight, 2
   of each heavy kind per client) submitted at once: delivered / lost / duplicated / out of
   order per client, throughput against client 0's jobs run one by one (the baseline), and
   the daemon's peak RSS while loaded.
4. **busy** — one client floods past the queue limit: every job gets one answer, a result or
   a 'busy' sentence.
5. **cancel** — latency from ``cancel`` to the client's 'cancelled' event for a running echo,
   style transfer and relight training (goal ≤ 1 s).
6. **crash** — SIGKILL mid-job: how long the client takes to say so; a new daemon on the
   stale files answers.

Writes ``soak.json`` and ``soak.png`` into ``--out`` and copies both to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import publish  # bench/publish.py: this script's folder is on sys.path
import zmq

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("unsigned", "forged", "truncated", "replayed", "oversized", "huge_shape",
         "nan_inf", "negative", "unknown_op", "deep_json", "bad_path", "wrong_types")
#: Kinds the daemon must drop unanswered (never parse, never run).
DROPPED = ("unsigned", "forged", "replayed")
#: Kinds that are signed, so the daemon answers with an error sentence.
ANSWERED = ("huge_shape", "nan_inf", "negative", "unknown_op", "deep_json", "bad_path",
            "wrong_types")
LEAKS = ("Traceback", 'File "', ".py\"", ".py'", ".py:", "/backend/darkroom", str(ROOT))
RSS_BOUND_MB = 64.0  #: stated bound on RSS growth over the fuzz campaign


# -- the daemon ------------------------------------------------------------------------------

class Daemon:
    """``darkroom serve`` in a subprocess, with an RSS sampler (``/proc``, Linux)."""

    def __init__(self, home: Path, *extra: str) -> None:
        self.home = home
        self.conn_file = home / "state" / "connection.json"
        self.env = dict(os.environ, DARKROOM_HOME=str(home))
        # stderr to a file: an unread pipe fills and blocks the daemon's logging.
        self.stderr = open(home / f"serve-{time.time():.0f}.err", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "darkroom", "serve", "--device", "cpu", *extra],
            env=self.env, stdout=subprocess.DEVNULL, stderr=self.stderr)
        self.samples: list[tuple[float, float, str]] = []  #: (t, RSS MB, phase)
        self.phase = "start"
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def _sample(self) -> None:
        while not self._stop.is_set() and self.proc.poll() is None:
            self.samples.append((time.monotonic() - self.t0, self.rss_mb(), self.phase))
            time.sleep(0.2)

    def peak(self, phase: str) -> float:
        vals = [r for _, r, p in self.samples if p == phase and r == r]
        return max(vals) if vals else float("nan")

    def client(self, **kw: Any) -> Any:
        from darkroom.client import Client

        deadline = time.monotonic() + 120
        while True:
            try:
                return Client.connect(self.conn_file, **kw)
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        f"the daemon is not answering; see {self.stderr.name}") from None
                time.sleep(0.3)

    def connection(self) -> dict[str, Any]:
        from darkroom.connection import read_connection_file

        return read_connection_file(self.conn_file)

    def status(self) -> dict[str, Any]:
        r = subprocess.run([sys.executable, "-m", "darkroom", "status", "--json"],
                           env=self.env, capture_output=True, text=True, timeout=60)
        return json.loads(r.stdout)

    def stop(self) -> None:
        self._stop.set()
        if self.proc.poll() is None:
            subprocess.run([sys.executable, "-m", "darkroom", "stop"], env=self.env,
                           capture_output=True, timeout=60)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# -- hostile messages ------------------------------------------------------------------------

def _signed(session: Any, header: dict[str, Any], bufs: list[bytes] = (), raw: bool = False
            ) -> list[bytes]:
    """Sign a header as given (NaN tokens allowed); fresh id and time unless ``raw``."""
    from darkroom.wire import new_id

    h = dict(header) if raw else {"v": 1, "id": new_id(), "ts": time.time(), **header}
    hb = json.dumps(h, allow_nan=True).encode()
    return [session.sign(hb), hb, *bufs]


def _nest(depth: int) -> Any:
    v: Any = 0
    for i in range(depth):
        v = [v] if i % 2 else {"k": v}
    return v


class Fuzzer:
    """Draws messages of each kind; remembers which ids belong to which kind."""

    def __init__(self, key: bytes, seed: int = 0) -> None:
        from darkroom.wire import Message, Session, WireImage, new_key

        self.rng = random.Random(seed)
        self.good = Session(key)
        self.forger = Session(new_key())
        self.Message, self.WireImage = Message, WireImage
        self.kind_of: dict[str, str] = {}  #: message id -> kind
        self.replayable: list[list[bytes]] = []
        self.img = np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)

    def _echo(self, session: Any, tag: str) -> list[Any]:
        msg = self.Message("request", {"op": "debug.echo", "params": {"tag": tag}},
                           [self.WireImage.from_numpy(self.img)])
        frames = session.serialize(msg)
        return [bytes(memoryview(f)) for f in frames]

    def _note(self, frames: list[bytes], kind: str) -> list[bytes]:
        try:
            self.kind_of[json.loads(frames[1])["id"]] = kind
        except Exception:
            pass
        return frames

    def valid_ping(self) -> list[bytes]:
        frames = [bytes(memoryview(f)) for f in self.good.serialize(self.Message("ping"))]
        self.replayable.append(frames)
        if len(self.replayable) > 200:
            self.replayable.pop(0)
        return self._note(frames, "valid")

    def draw(self, kind: str) -> list[bytes]:
        r = self.rng
        if kind == "unsigned":
            return [os.urandom(r.randint(0, 80)) for _ in range(r.randint(1, 5))]
        if kind == "forged":
            f = self._echo(self.forger, "FORGED")
            return self._note(f, kind)
        if kind == "truncated":
            f = self._echo(self.good, "TRUNCATED")
            self._note(f, kind)
            how = r.randint(0, 3)
            if how == 0:
                return f[:-1]  # the pixel buffer is missing
            if how == 1:
                return [*f[:-1], f[-1][: r.randint(0, len(f[-1]) - 1)]]  # cut pixels
            if how == 2:
                return [f[0], f[1][: r.randint(1, len(f[1]) - 1)], *f[2:]]  # cut header
            return [f[0][: r.randint(0, 63)], *f[1:]]  # cut signature
        if kind == "replayed":
            if not self.replayable:
                return self.valid_ping()
            f = r.choice(self.replayable)
            return f
        if kind == "oversized":
            if r.random() < 0.1:
                return [b"0" * 64, b"{" + b" " * ((1 << 20) + 10) + b"}"]  # header > 1 MiB
            # many buffers, over the per-message count limit
            n = 300
            descs = [{"shape": [1, 1, 1], "dtype": "u8", "digest": "0" * 64}] * n
            return self._note(_signed(self.good, {"type": "request", "op": "debug.echo",
                                                  "params": {}, "buffers": descs,
                                                  "digest_alg": "sha256"}, [b"x"] * n), kind)
        if kind == "huge_shape":
            shape = [r.choice([2**31, 10**6, 65536]), r.choice([2**31, 10**6, 65536]),
                     r.randint(1, 4)]
            descs = [{"shape": shape, "dtype": r.choice(["u8", "f32"]), "digest": "0" * 64}]
            return self._note(_signed(self.good, {"type": "request", "op": "debug.echo",
                                                  "params": {}, "buffers": descs,
                                                  "digest_alg": "sha256"}, [b"x"]), kind)
        if kind == "nan_inf":
            op, p = r.choice([("debug.echo", {"delay": float("nan")}),
                              ("style.transfer", {"strength": float("inf")}),
                              ("relight.render", {"lights": [{"position": [float("nan"), 0]}]}),
                              ("debug.echo", {"delay": -float("inf")})])
            return self._note(_signed(self.good, {"type": "request", "op": op, "params": p}),
                              kind)
        if kind == "negative":
            if r.random() < 0.5:
                descs = [{"shape": [-r.randint(1, 10**6), 4, 3], "dtype": "u8",
                          "digest": "0" * 64}]
                return self._note(_signed(self.good, {"type": "request", "op": "debug.echo",
                                                      "params": {}, "buffers": descs,
                                                      "digest_alg": "sha256"}, [b"x"]), kind)
            op, p = r.choice([("style.transfer", {"size": -r.randint(1, 10**9)}),
                              ("sketch.search", {"k": -5}), ("debug.echo", {"delay": -1})])
            return self._note(_signed(self.good, {"type": "request", "op": op, "params": p}),
                              kind)
        if kind == "unknown_op":
            op = r.choice(["nope", "", "debug", "os.system", "daemon.exec", "x" * 500,
                           "style.transfer\x00", "../../etc/passwd"])
            return self._note(_signed(self.good, {"type": "request", "op": op, "params": {}}),
                              kind)
        if kind == "deep_json":
            return self._note(_signed(self.good, {"type": "request", "op": "debug.echo",
                                                  "params": {"tag": _nest(r.randint(33, 900))}}),
                              kind)
        if kind == "bad_path":
            # Paths each op must refuse ("/" is a real folder: indexing it would be valid).
            bad = ["relative/x", "/no/such", "/dev/zero", "a\x00b", "~/" + "x" * 5000]
            op, p = r.choice([
                ("sketch.index", {"folders": [r.choice([*bad, "/etc/passwd", "/proc/self/mem"])]}),
                ("sketch.search", {"index": r.choice([*bad, "/", "/no/such/dir/i.sqlite"])}),
                ("style.transfer", {"weights": r.choice([*bad, "/", "/proc"])})])
            return self._note(_signed(self.good, {"type": "request", "op": op, "params": p}),
                              kind)
        # wrong_types
        op, p = r.choice([("debug.echo", {"delay": "slow"}), ("debug.echo", {"tag": [1]}),
                          ("style.transfer", {"mode": 3}), ("relight.render", {"lights": 5}),
                          ("sketch.index", {"folders": "not-a-list"}),
                          ("debug.echo", {"bogus": 1}), ("debug.echo", [1, 2]),
                          ("sketch.search", {"k": True})])
        h: dict[str, Any] = {"type": r.choice(["request", "request", "result", "cancel",
                                               "progress"]), "op": op, "params": p}
        if h["type"] == "cancel":
            h["job"] = r.choice([None, 5, "x" * 100, {"a": 1}])
        return self._note(_signed(self.good, h), kind)


def fuzz(d: Daemon, key: bytes, n: int, seed: int) -> dict[str, Any]:
    fz = Fuzzer(key, seed)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.connect(d.connection()["endpoint"])
    sent = {k: 0 for k in (*KINDS, "valid")}
    answers: dict[str, int] = {}  #: id -> replies
    results: dict[str, int] = {}  #: id -> 'result' replies
    unattributed, leaks, forged_tags = 0, 0, 0

    t_last = time.perf_counter()

    def drain(wait_ms: int) -> int:
        nonlocal unattributed, leaks, forged_tags, t_last
        got = 0
        while sock.poll(wait_ms):
            frames = sock.recv_multipart()
            t_last = time.perf_counter()
            got += 1
            wait_ms = 0
            text = frames[1].decode("utf-8", "replace")
            leaks += any(w in text for w in LEAKS)
            h = json.loads(frames[1])
            job = h.get("job")
            if h.get("type") == "result":
                meta = h.get("meta") or {}
                forged_tags += meta.get("tag") in ("FORGED", "TRUNCATED")
            if isinstance(job, str) and job in fz.kind_of:
                answers[job] = answers.get(job, 0) + 1
                if h.get("type") == "result":
                    results[job] = results.get(job, 0) + 1
            else:
                unattributed += 1
        return got

    t0 = time.perf_counter()
    for i in range(n):
        if i % 20 == 0:
            frames, kind = fz.valid_ping(), "valid"
        else:
            kind = fz.rng.choice(KINDS)
            frames = fz.draw(kind)
        sock.send_multipart(frames)
        sent[kind] += 1
        if i % 50 == 0:
            drain(0)
    t_sent = time.perf_counter()
    while drain(2000):
        pass
    elapsed = max(t_last, t_sent) - t0  # not counting the final 2 s of listening to silence
    sock.close()

    per_kind: dict[str, dict[str, int]] = {}
    for kind in sent:
        ids = [i for i, k in fz.kind_of.items() if k == kind]
        per_kind[kind] = {"sent": sent[kind],
                          "answered": sum(1 for i in ids if answers.get(i)),
                          "results": sum(results.get(i, 0) for i in ids)}
    replay_executions = sum(max(0, c - 1) for i, c in results.items()
                            if fz.kind_of.get(i) == "valid")
    return {"messages": n, "seconds": round(elapsed, 2), "per_kind": per_kind,
            "executions_of_forged_or_truncated": forged_tags
            + per_kind["forged"]["results"] + per_kind["truncated"]["results"],
            "executions_of_replays": replay_executions,
            "valid_pings_answered": per_kind["valid"]["answered"],
            # error replies to messages whose header could not be read (no id to name)
            "unattributed_error_replies": unattributed, "replies_leaking_source": leaks}


def baseline_pings(d: Daemon, key: bytes, n: int) -> dict[str, Any]:
    """The same number of valid signed pings, pipelined the same way."""
    from darkroom.wire import Message, Session

    s = Session(key)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(d.connection()["endpoint"])
    got = 0
    t0 = time.perf_counter()
    for i in range(n):
        sock.send_multipart(s.serialize(Message("ping")))
        if i % 50 == 0:
            while sock.poll(0):
                sock.recv_multipart()
                got += 1
    while got < n and sock.poll(5000):
        sock.recv_multipart()
        got += 1
    elapsed = time.perf_counter() - t0
    sock.close()
    return {"messages": n, "answered": got, "seconds": round(elapsed, 2)}


# -- load --------------------------------------------------------------------------------------

def _stack(size: int = 16) -> list[Any]:
    from darkroom.ops.relight import synth
    from darkroom.wire import WireImage

    lights = synth.grid_lights(2)
    st = synth.render_stack(synth.make_scene(1, 2), size, lights)
    return [WireImage.from_numpy(np.ascontiguousarray(im, np.float32), role="stack",
                                 name=f"light {u!r} {v!r}", colorspace="linear")
            for im, (u, v) in zip(st, lights)]


def _jobs(i: int, n: int, stack: list[Any]) -> list[tuple[str, list[Any], dict[str, Any], Any]]:
    from darkroom.wire import WireImage

    rng = np.random.default_rng(i)
    style_at, relight_at = {n // 5, 3 * n // 5}, {2 * n // 5, 4 * n // 5}
    out = []
    for k in range(n):
        if k in style_at:
            c, s = (rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(2))
            out.append(("style.transfer", [WireImage.from_numpy(c, role="content"),
                                           WireImage.from_numpy(s, role="style")],
                        {"quality": "draft", "size": 32, "seed": k}, (24, 32, 3)))
        elif k in relight_at:
            out.append(("relight.render", stack, {"lights": [{"position": [0.2 + 0.01 * i, 0.6]}],
                                                  "quality": "draft"}, (16, 16, 3)))
        else:
            a = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
            out.append(("debug.echo", [WireImage.from_numpy(a)], {"tag": f"{i}-{k}"}, a))
    return out


def _check(i: int, jobs: list[Any], asked: list[Any], order: list[str]) -> dict[str, Any]:
    ids = [j.id for j in jobs]
    wrong = 0
    for job, (op, _, params, want) in zip(jobs, asked):
        ev = job.final
        if ev is None or ev.error is not None:
            wrong += 1
            continue
        got = ev.images[0].to_numpy()
        if op == "debug.echo":
            wrong += ev.meta.get("tag") != params["tag"] or not np.array_equal(got, want)
        else:
            wrong += got.shape != want
    return {"client": i, "asked": len(ids), "delivered": len(set(order) & set(ids)),
            "lost": len(set(ids) - set(order)), "duplicated": len(order) - len(set(order)),
            "in_order": order == ids, "wrong_or_failed": int(wrong)}


def load(d: Daemon, clients: int, n: int) -> dict[str, Any]:
    stack = _stack()
    per: list[dict[str, Any]] = []
    lat: dict[str, list[float]] = {}
    lock = threading.Lock()

    def run(i: int) -> None:
        with d.client(timeout=60) as c:
            asked = _jobs(i, n, stack)
            t_sub = {}
            jobs = []
            for op, ims, params, _ in asked:
                j = c.submit(op, ims, params)
                t_sub[j.id] = time.perf_counter()
                jobs.append(j)
            order = []
            for j in c.as_completed(jobs, timeout=1800):
                order.append(j.id)
                with lock:
                    lat.setdefault(j.op, []).append(time.perf_counter() - t_sub[j.id])
            c.ping()
            time.sleep(0.3)
            while c._recv(time.monotonic() + 0.2):
                pass
            res = _check(i, jobs, asked, order)
            res["stray_messages"] = len(c._inbox)
            with lock:
                per.append(res)

    # Baseline, same run: client 0's jobs one at a time from one client (models warm).
    with d.client(timeout=60) as c:
        for op, ims, params, _ in _jobs(0, n, stack):  # warm-up: backbone, relight training
            c.run(op, ims, params, timeout=1800)
        t0 = time.perf_counter()
        for op, ims, params, _ in _jobs(0, n, stack):
            c.run(op, ims, params, timeout=1800)
        serial = time.perf_counter() - t0
    d.phase = "load"
    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.perf_counter() - t0
    d.phase = "after-load"
    jobs_total = clients * n
    return {
        "clients": clients, "jobs_per_client": n,
        "delivered": sum(p["delivered"] for p in per), "asked": jobs_total,
        "lost": sum(p["lost"] for p in per), "duplicated": sum(p["duplicated"] for p in per),
        "stray_messages": sum(p["stray_messages"] for p in per),
        "clients_in_order": sum(p["in_order"] for p in per),
        "wrong_or_failed": sum(p["wrong_or_failed"] for p in per),
        "seconds": round(total, 1),
        "throughput_jobs_per_s": round(jobs_total / total, 2),
        "baseline_serial_one_client_jobs_per_s": round(n / serial, 2),
        "throughput_ratio_vs_serial": round((jobs_total / total) / (n / serial), 2),
        "latency_s": {op: {"median": round(statistics.median(v), 2), "max": round(max(v), 2)}
                      for op, v in lat.items()},
        "per_client": sorted(per, key=lambda p: p["client"]),
    }


def busy(d: Daemon, flood: int, limit: int) -> dict[str, Any]:
    with d.client(timeout=60) as c:
        jobs = [c.submit("debug.echo", [], {"delay": 0.005, "tag": str(k)}) for k in range(flood)]
        done = list(c.as_completed(jobs, timeout=600))
    codes = [j.final.error.code if j.final.error else "result" for j in done]
    return {"flood": flood, "queue_limit": limit, "answered": len({j.id for j in done}),
            "results": codes.count("result"), "busy": codes.count("busy"),
            "other_errors": len(codes) - codes.count("result") - codes.count("busy"),
            "busy_sentence": next((str(j.final.error) for j in done if j.final.error), "")}


def cancels(d: Daemon) -> dict[str, Any]:
    """Cancel each kind of job 1.5 s after submitting it (it runs at once: the queue is
    empty); time from ``cancel`` to the client's 'cancelled' event, and to the worker being
    free again (the op's next cancel check: an echo sent then comes back)."""
    from darkroom.wire import WireImage

    rng = np.random.default_rng(5)
    c_img, s_img = (rng.integers(0, 256, (384, 512, 3), dtype=np.uint8) for _ in range(2))
    cases = {
        "debug.echo": ([], {"delay": 60}),
        "style.transfer (photo, fast)": ([WireImage.from_numpy(c_img, role="content"),
                                          WireImage.from_numpy(s_img, role="style")],
                                         {"quality": "standard"}),
        "style.transfer (photo, dpst)": ([WireImage.from_numpy(c_img, role="content"),
                                          WireImage.from_numpy(s_img, role="style")],
                                         {"quality": "standard", "method": "dpst"}),
        "relight.render (training)": (_stack(48), {"lights": [{"position": [0.5, 0.5]}],
                                                   "quality": "best"}),
    }
    from darkroom.errors import BackendUnavailable

    out: dict[str, Any] = {}
    with d.client(timeout=60) as c:
        for name, (ims, params) in cases.items():
            op = name.split(" ")[0]
            job = c.submit(op, ims, params)
            t_sub = time.perf_counter()
            t_cancel = None
            while name not in out:
                try:  # short waits, so the cancel goes out on time even without progress
                    ev = c._next_event(job.id, time.monotonic() + 0.05)
                except BackendUnavailable:
                    ev = None
                now = time.perf_counter()
                if t_cancel is None and now - t_sub > 1.5:  # well inside the running op
                    job.cancel()
                    t_cancel = now
                if ev is not None and ev.type == "error":
                    out[name] = {"latency_s": round(now - t_cancel, 3) if t_cancel else None,
                                 "code": ev.error.code if ev.error else ""}
                elif ev is not None and ev.type == "result":
                    out[name] = {"latency_s": None, "note": "finished before the cancel"}
                elif t_cancel is not None and now - t_cancel > 600:
                    out[name] = {"latency_s": None, "note": "not cancelled within 600 s"}
            if t_cancel is not None:  # when could the next job run? (op's next check)
                c.run("debug.echo", [], {}, timeout=600)
                out[name]["worker_free_s"] = round(time.perf_counter() - t_cancel, 3)
    return out


def crash(home: Path) -> dict[str, Any]:
    """SIGKILL mid-job → client error time; a new daemon on the stale files answers."""
    d = Daemon(home)
    c = d.client(timeout=3.0)
    c.heartbeat = 0.5
    job = c.submit("debug.echo", [], {"delay": 60})
    next(iter(job.events()))
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    t0 = time.perf_counter()
    try:
        job.wait(timeout=60)
        said = "no error!"
    except Exception as e:
        said = str(e)
    detect = time.perf_counter() - t0
    c.close()
    stale = d.conn_file.exists()
    t1 = time.perf_counter()
    d2 = Daemon(home)
    with d2.client(timeout=5) as c2:
        c2.ping()
    restart = time.perf_counter() - t1
    d2.stop()
    return {"client_detects_kill_s": round(detect, 2), "client_says": said,
            "stale_connection_file_left": stale, "restart_to_ping_s": round(restart, 2)}


# -- report ----------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dr-soak-"))
    os.environ["DARKROOM_HOME"] = str(home)  # this process's clients name the right log
    queue_limit = 256
    d = Daemon(home, "--max-queued", str(queue_limit))
    report: dict[str, Any] = {
        "benchmark": "soak",
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
                   f"python {platform.python_version()}, pyzmq {zmq.__version__}",
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    try:
        with d.client(timeout=30) as c:
            c.ping()
            c.run("debug.echo", [], {}, timeout=60)
        key = d.connection()["key"].encode()
        d.phase = "baseline"
        rss0 = d.rss_mb()
        base = baseline_pings(d, key, args.messages)
        rss1 = d.rss_mb()
        base.update(rss_before_mb=round(rss0, 1), rss_after_mb=round(rss1, 1),
                    rss_growth_mb=round(rss1 - rss0, 1))
        report["baseline"] = base
        print(f"baseline: {base}", flush=True)

        d.phase = "fuzz"
        rejected0 = d.status()["rejected"]
        f = fuzz(d, key, args.messages, args.seed)
        rss2 = d.rss_mb()
        st = d.status()
        with d.client(timeout=10) as c:
            pong = bool(c.ping())
        f.update(rss_before_mb=round(rss1, 1), rss_after_mb=round(rss2, 1),
                 rss_growth_mb=round(rss2 - rss1, 1), rss_bound_mb=RSS_BOUND_MB,
                 rejected_by_daemon=st["rejected"] - rejected0,
                 replies_dropped_by_daemon=st.get("dropped_replies", 0),
                 dropped_kinds_sent=sum(f["per_kind"][k]["sent"] for k in DROPPED),
                 daemon_alive=d.proc.poll() is None, crashes=int(d.proc.poll() is not None),
                 ping_at_end=pong, time_ratio_vs_baseline=round(f["seconds"] / base["seconds"], 2))
        report["fuzz"] = f
        print(f"fuzz: {json.dumps({k: v for k, v in f.items() if k != 'per_kind'})}", flush=True)

        d.phase = "load-baseline"
        report["load"] = load(d, args.clients, args.jobs)
        report["load"]["peak_rss_mb"] = round(d.peak("load"), 1)
        print(f"load: {json.dumps({k: v for k, v in report['load'].items() if k != 'per_client'})}",
              flush=True)
        d.phase = "busy"
        report["busy"] = busy(d, queue_limit + 150, queue_limit)
        print(f"busy: {report['busy']}", flush=True)
        d.phase = "cancel"
        report["cancel"] = cancels(d)
        print(f"cancel: {report['cancel']}", flush=True)
        report["daemon_peak_rss_mb"] = round(max(r for _, r, _ in d.samples if r == r), 1)
        report["rss_timeline"] = [(round(t, 1), round(r, 1), p) for t, r, p in d.samples]
    finally:
        d.stop()
    report["crash"] = crash(home)
    print(f"crash: {report['crash']}", flush=True)
    shutil.rmtree(home, ignore_errors=True)

    publish.write(args.out, "soak", report, lambda png: _plot(report, png))
    print(f"wrote {args.out / 'soak.json'} and soak.png (copied to {publish.RESULTS})")


def _plot(rep: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    ax = axes[0][0]
    pk = rep["fuzz"]["per_kind"]
    names = list(pk)
    x = np.arange(len(names))
    ax.bar(x - 0.27, [pk[n]["sent"] for n in names], 0.27, label="sent")
    ax.bar(x, [pk[n]["answered"] for n in names], 0.27, label="answered (error sentence)")
    ax.bar(x + 0.27, [pk[n]["results"] for n in names], 0.27, label="executed (result)")
    for i, n in enumerate(names):
        if n in DROPPED:
            ax.text(i, pk[n]["sent"], "dropped\nby design", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_title(f"Fuzz: {rep['fuzz']['messages']} messages, crashes {rep['fuzz']['crashes']}, "
                 f"forged executed {rep['fuzz']['executions_of_forged_or_truncated']}")
    ax.legend(fontsize=8)

    ax = axes[0][1]
    tl = rep["rss_timeline"]
    ax.plot([t for t, _, _ in tl], [r for _, r, _ in tl], lw=1)
    last = None
    for t, r, p in tl:
        if p != last:
            ax.axvline(t, color="grey", lw=0.5)
            ax.text(t, min(r for _, r, _ in tl), p, rotation=90, fontsize=7, va="bottom")
            last = p
    ax.set_xlabel("s since start")
    ax.set_ylabel("daemon RSS (MB)")
    ax.set_title(f"Memory: fuzz growth {rep['fuzz']['rss_growth_mb']} MB vs baseline "
                 f"{rep['baseline']['rss_growth_mb']} MB (bound {RSS_BOUND_MB:.0f})")

    ax = axes[1][0]
    ld = rep["load"]
    per = ld["per_client"]
    ax.bar([p["client"] for p in per], [p["delivered"] for p in per], label="delivered")
    ax.bar([p["client"] for p in per], [p["lost"] + p["duplicated"] for p in per],
           bottom=[p["delivered"] for p in per], color="red", label="lost + duplicated")
    ax.set_xlabel("client")
    ax.set_ylabel("jobs")
    ax.set_title(f"Load {ld['clients']}×{ld['jobs_per_client']}: {ld['delivered']}/{ld['asked']} "
                 f"delivered, {ld['clients_in_order']} clients in order, ×"
                 f"{ld['throughput_ratio_vs_serial']} vs serial")
    ax.legend(fontsize=8)

    ax = axes[1][1]
    cn = rep["cancel"]
    names = list(cn)
    vals = [cn[n]["latency_s"] if cn[n].get("latency_s") is not None else 0 for n in names]
    free = [cn[n].get("worker_free_s") or 0 for n in names]
    y = np.arange(len(names))
    ax.barh(y + 0.2, vals, 0.4, label="'cancelled' reaches the client")
    ax.barh(y - 0.2, free, 0.4, label="worker free again (op's next check)")
    ax.set_yticks(y, names)
    ax.axvline(1.0, color="red", ls="--", label="goal 1 s")
    ax.set_xlabel("seconds after cancel")
    ax.set_title("Cancel of a running job")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
