"""Fixtures for the relighting tests: tiny synthetic stacks and a tiny training budget."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from darkroom.ops.registry import Image
from darkroom.ops.relight import cache, network, synth


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Small batches on a shared 2-core machine run several times faster on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch, darkroom_home: Path, one_thread: None
         ) -> Iterator[Path]:
    """A private cache and a 'draft' budget small enough for a 2-core CPU test run."""
    monkeypatch.setitem(network.QUALITY, "draft", network.Quality(2, 40, 8))
    cache.forget_memory()
    yield darkroom_home
    cache.forget_memory()


def _layers(size: int = 24, n: int = 4, seed: int = 1) -> list[Image]:
    lights = synth.grid_lights(n)
    stack = synth.render_stack(synth.make_scene(seed, 2), size, lights)
    return [Image(im.astype(np.float32), "stack", f"light {u!r} {v!r}", colorspace="linear")
            for im, (u, v) in zip(stack, lights)]


@pytest.fixture
def make_layers() -> Callable[..., list[Image]]:
    """make_layers(size=24, n=4, seed=1): an n×n grid of lights on the plane over a
    synthetic scene, as float32 linear layers named 'light U V'."""
    return _layers
