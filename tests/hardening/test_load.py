"""Load: 8 clients × 25 mixed jobs (echo, small style, small relight) submitted at once to one
daemon. Every result reaches its own sender, none is lost or duplicated, each client gets its
answers in the order it asked; past the queue limit every job still gets exactly one answer,
a result or a 'busy' sentence."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from darkroom.wire import WireImage

CLIENTS = 8
JOBS = 25
#: Client i's job 12 is a style transfer (clients 0–3) or a relighting (4–7, one training for
#: all): CPU time in CI stays small; bench/soak.py runs 2 of each per client.
HEAVY_AT = 12


def _stack() -> list[WireImage]:
    """A 2×2-light synthetic stack at 16×16 px (the same for every client: trained once)."""
    from darkroom.ops.relight import synth

    lights = synth.grid_lights(2)
    stack = synth.render_stack(synth.make_scene(1, 2), 16, lights)
    return [WireImage.from_numpy(np.ascontiguousarray(im, np.float32), role="stack",
                                 name=f"light {u!r} {v!r}", colorspace="linear")
            for im, (u, v) in zip(stack, lights)]


def _jobs(i: int, stack: list[WireImage]) -> list[tuple[str, list[WireImage], dict[str, Any],
                                                        Any]]:
    """Client i's 25 requests as (op, images, params, what the answer must be)."""
    rng = np.random.default_rng(i)
    out: list[tuple[str, list[WireImage], dict[str, Any], Any]] = []
    for k in range(JOBS):
        if k == HEAVY_AT and i < CLIENTS // 2:
            content = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
            style = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
            out.append(("style.transfer", [WireImage.from_numpy(content, role="content"),
                                           WireImage.from_numpy(style, role="style")],
                        {"quality": "draft", "size": 32, "seed": k}, (24, 32, 3)))
        elif k == HEAVY_AT:
            out.append(("relight.render", stack,
                        {"lights": [{"position": [0.2 + 0.02 * i, 0.6]}], "quality": "draft"},
                        (16, 16, 3)))
        else:
            a = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
            out.append(("debug.echo", [WireImage.from_numpy(a)], {"tag": f"{i}-{k}"}, a))
    return out


@pytest.mark.slow
def test_eight_clients_get_all_their_results_in_order(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon(max_queued=CLIENTS * JOBS)
    stack = _stack()
    problems: list[str] = []
    finished: dict[int, int] = {}

    def client(i: int) -> None:
        try:
            with d.client() as c:
                asked = _jobs(i, stack)
                jobs = [c.submit(op, ims, params) for op, ims, params, _ in asked]
                order = [j.id for j in c.as_completed(jobs, timeout=240)]
                if order != [j.id for j in jobs]:
                    problems.append(f"client {i}: answers out of order or missing")
                for job, (op, _, params, want) in zip(jobs, asked):
                    ev = job.final
                    if ev is None or ev.error is not None:
                        problems.append(f"client {i}: {op} failed: {ev and ev.error}")
                        continue
                    got = ev.images[0].to_numpy()
                    if op == "debug.echo":
                        if ev.meta.get("tag") != params["tag"] or not np.array_equal(got, want):
                            problems.append(f"client {i}: echo {params['tag']} got another's")
                    elif got.shape != want:
                        problems.append(f"client {i}: {op} gave shape {got.shape}")
                # Nothing more may come: a duplicate answer would land here.
                c.ping()
                time.sleep(0.3)
                while c._recv(time.monotonic() + 0.2):
                    pass
                if c._inbox:
                    problems.append(f"client {i}: extra messages for {list(c._inbox)}")
                finished[i] = len(order)
        except Exception as e:  # reported below with the client's number
            problems.append(f"client {i}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not problems, "\n".join(problems)
    assert finished == {i: JOBS for i in range(CLIENTS)}
    with d.client() as c:
        q = c.status()["queue"]
    assert (q["done"], q["failed"], q["queued"], q["running"]) == (CLIENTS * JOBS, 0, 0, 0)


def test_past_the_queue_limit_every_job_gets_one_answer(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon(max_queued=4)
    with d.client() as c:
        jobs = [c.submit("debug.echo", [], {"delay": 0.02, "tag": str(k)}) for k in range(40)]
        done = list(c.as_completed(jobs, timeout=60))
    assert sorted(j.id for j in done) == sorted(j.id for j in jobs)  # none lost, none twice
    busy = [j for j in done if j.final.error is not None]
    ok = [j for j in done if j.final.error is None]
    assert busy and ok
    assert all(j.final.error.code == "busy" and "busy" in str(j.final.error) for j in busy)
    # Those let in were answered in the order they were sent.
    assert [j.final.meta["tag"] for j in ok] == sorted((j.final.meta["tag"] for j in ok), key=int)
