"""Wire benchmark: 4K RGBA layers through client + daemon (``debug.echo``) against a raw pyzmq
echo of the same bytes, both measured in this run, interleaved, each in its own process.

    python bench/wire.py [--repeats 15] [--out bench/out]

Writes ``wire.json`` (top-level ``"ratio"``: median client+daemon time / median raw time for
u8) and ``wire.png`` into ``--out`` and copies both to ``bench/results/``. Goal: ratio ≤ 1.5.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import publish  # bench/publish.py: this script's folder is on sys.path
import zmq

ROOT = Path(__file__).resolve().parents[1]
H, W = 2160, 3840


def raw_server(endpoint: str) -> None:
    """A bare ROUTER that sends every message back (the baseline)."""
    ctx = zmq.Context()
    r = ctx.socket(zmq.ROUTER)
    r.bind(endpoint)
    print("ready", flush=True)
    while True:
        m = r.recv_multipart(copy=False)
        if len(m) == 2 and m[1].bytes == b"quit":
            break
        r.send_multipart(m, copy=False)


def _wait_file(p: Path, proc: subprocess.Popen, timeout: float = 120) -> None:  # type: ignore[type-arg]
    t = time.monotonic() + timeout
    while not p.exists():
        if proc.poll() is not None or time.monotonic() > t:
            raise SystemExit(f"the daemon did not start ({p})")
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    home = Path(tempfile.mkdtemp(prefix="dr-bench-"))
    env = dict(os.environ, DARKROOM_HOME=str(home))
    daemon = subprocess.Popen([sys.executable, "-m", "darkroom", "serve", "--device", "cpu"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    raw_ep = f"ipc://{home}/raw.sock"
    raw = subprocess.Popen([sys.executable, __file__, "--raw-server", raw_ep],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert raw.stdout is not None and raw.stdout.readline().strip() == "ready"
        _wait_file(home / "state" / "connection.json", daemon)
        os.environ["DARKROOM_HOME"] = str(home)
        from darkroom.client import Client
        from darkroom.wire import WireImage

        client = Client.connect(timeout=30)
        ctx = zmq.Context.instance()
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(raw_ep)

        rng = np.random.default_rng(0)
        layers = {
            "u8": rng.integers(0, 256, (H, W, 4), dtype=np.uint8),
            "f32": rng.random((H, W, 4), dtype=np.float32),
        }
        results: dict[str, dict[str, list[float]]] = {}
        for name, arr in layers.items():
            im = WireImage.from_numpy(arr, role="layer", name="4K")
            ours, base = [], []
            for i in range(args.repeats + 2):  # two warm-ups, then interleaved timings
                t0 = time.perf_counter()
                out, _ = client.run("debug.echo", [im], {}, timeout=120)
                got = out[0].to_numpy()
                t1 = time.perf_counter()
                dealer.send_multipart([b"hdr", arr], copy=False)
                back = dealer.recv_multipart(copy=False)
                np.frombuffer(back[1].buffer, dtype=arr.dtype).reshape(arr.shape)
                t2 = time.perf_counter()
                if i == 0:
                    assert np.array_equal(got, arr), "echo changed the pixels"
                if i >= 2:
                    ours.append(t1 - t0)
                    base.append(t2 - t1)
            results[name] = {"client_daemon_s": ours, "raw_zmq_s": base}
        dealer.send_multipart([b"quit"])
        client.close()
    finally:
        subprocess.run([sys.executable, "-m", "darkroom", "stop"], env=env, capture_output=True,
                       timeout=30)
        daemon.wait(15)
        raw.wait(5)
        shutil.rmtree(home, ignore_errors=True)

    summary = {}
    for name, r in results.items():
        m_ours, m_raw = statistics.median(r["client_daemon_s"]), statistics.median(r["raw_zmq_s"])
        summary[name] = {
            "bytes": int(layers[name].nbytes),
            "median_client_daemon_ms": round(1000 * m_ours, 2),
            "median_raw_ms": round(1000 * m_raw, 2),
            "ratio": round(m_ours / m_raw, 3),
            "client_daemon_ms": [round(1000 * t, 2) for t in r["client_daemon_s"]],
            "raw_ms": [round(1000 * t, 2) for t in r["raw_zmq_s"]],
        }
    report = {
        "benchmark": "wire",
        "what": "4K (3840x2160) RGBA round trip: client + daemon (debug.echo, signed, digests) "
                "vs raw pyzmq DEALER/ROUTER echo of the same bytes, same transport (ipc)",
        "ratio": summary["u8"]["ratio"],
        "goal": "ratio <= 1.5",
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
                   f"python {platform.python_version()}, pyzmq {zmq.__version__}",
        "repeats": args.repeats,
        "results": summary,
    }
    publish.write(args.out, "wire", report, lambda png: _plot(summary, png))
    for name, s in summary.items():
        print(f"{name:4} client+daemon {s['median_client_daemon_ms']:7.1f} ms   raw "
              f"{s['median_raw_ms']:7.1f} ms   ratio {s['ratio']:.2f}")
    print(f"ratio (u8) = {report['ratio']:.2f} (goal <= 1.5)")


def _plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    names = list(summary)
    x = np.arange(len(names))
    ours = [summary[n]["median_client_daemon_ms"] for n in names]
    raw = [summary[n]["median_raw_ms"] for n in names]
    ax.bar(x - 0.2, raw, 0.4, label="raw pyzmq echo")
    ax.bar(x + 0.2, ours, 0.4, label="client + daemon (signed)")
    for i, n in enumerate(names):
        ax.text(i + 0.2, ours[i], f"×{summary[n]['ratio']:.2f}", ha="center", va="bottom")
    ax.set_xticks(x, [f"4K RGBA {n}\n({summary[n]['bytes'] / 1e6:.0f} MB)" for n in names])
    ax.set_ylabel("median round trip (ms)")
    ax.set_title("Wire round trip: ours vs raw ZeroMQ (same run)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--raw-server":
        raw_server(sys.argv[2])
    else:
        main()
