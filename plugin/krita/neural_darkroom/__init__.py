"""Neural Darkroom for Krita 5: registers the extension (menu, actions) and the docker.

The vendored, torch-free client (``vendor/``: ``darkroom``, ``darkroom_plugin``, pyzmq for this
Python) goes on ``sys.path`` first; only the ``*_adapter`` modules import ``krita``.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _add_vendor() -> None:
    here = Path(__file__).resolve().parent / "vendor"
    tag = f"zmq-cp{sys.version_info[0]}{sys.version_info[1]}"
    for p in (here / tag, here):  # pyzmq built for exactly this Python, then pure modules
        if p.is_dir() and str(p) not in sys.path:
            sys.path.insert(0, str(p))


_add_vendor()


try:
    from krita import Krita  # noqa: E402
except ImportError:  # imported outside Krita (tests import the adapters with a fake krita)
    Krita = None

if Krita is not None and Krita.instance() is not None:
    from .extension_adapter import register  # noqa: E402

    register(Krita.instance())
