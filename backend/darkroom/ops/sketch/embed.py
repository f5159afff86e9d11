"""Loading the trained heads and embedding sketches and photos (weights, devices, caches).

The algorithm lives in :mod:`.model` and :mod:`.strokes`; this module only wires them to the
backbone cache and the shipped weights, so that the index and the search see exactly the same
preprocessing:

* a sketch: gray drawing → :func:`normalize_drawing` → backbone → sketch branch;
* a photo: RGB → :func:`photo_edges` → :func:`normalize_drawing` → backbone → photo branch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from darkroom.errors import ModelUnavailable
from darkroom.models import load_backbone
from darkroom.models.backbones import load_state_dict_file
from darkroom.ops.sketch import model as M
from darkroom.ops.sketch.strokes import normalize_drawing, photo_edges

WEIGHTS = Path(__file__).resolve().parent / "weights" / "heads.pt"
_cache: dict[tuple[str, str], M.SketchEmbedding] = {}
_lock = threading.Lock()


def load_heads(device: str, weights: str | Path | None = None) -> M.SketchEmbedding:
    """The trained :class:`SketchEmbedding` on ``device`` (cached per process)."""
    path = Path(weights) if weights else WEIGHTS
    key = (str(path), device)
    with _lock:
        emb = _cache.get(key)
        if emb is None:
            if not path.is_file():
                raise ModelUnavailable(
                    f"The sketch-search weights '{path.name}' are missing; reinstall Neural "
                    "Darkroom or run scripts/train_sketch.py."
                )
            emb = M.SketchEmbedding()
            try:
                emb.load_state_dict({k: v.float() for k, v in load_state_dict_file(path).items()})
            except RuntimeError as e:
                raise ModelUnavailable(f"'{path.name}' does not fit the sketch heads: {e}") from e
            emb = emb.eval().requires_grad_(False).to(device)
            _cache[key] = emb
    return emb


def _backbone(device: str) -> torch.nn.Module:
    net = load_backbone("efficientnet_lite0", device)
    if device == "cpu":
        # The backbone is shared with style transfer, which backpropagates through it:
        # convert its parameters outside inference mode, or they become inference tensors.
        with torch.inference_mode(False):
            net = net.to(memory_format=torch.channels_last)
    return net


@torch.inference_mode()
def embed_drawings(drawings: Sequence[np.ndarray], branch: str, device: str = "cpu") -> np.ndarray:
    """Normalised INPUT×INPUT drawings → (N, DIM) float32 unit vectors from ``branch``
    (``"sketch"`` or ``"photo"``)."""
    if not drawings:
        return np.zeros((0, M.DIM), np.float32)
    emb = load_heads(device)
    x = M.drawings_to_tensor(drawings).to(device)
    f = M.backbone_features(_backbone(device), x)
    return getattr(emb, branch)(f).float().cpu().numpy()


def embed_sketches(grays: Sequence[np.ndarray], device: str = "cpu") -> np.ndarray:
    """Gray sketches (H×W float32 [0, 1], any size) → (N, DIM) float32."""
    return embed_drawings([normalize_drawing(g, M.INPUT) for g in grays], "sketch", device)


def photo_drawing(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 float sRGB photo → the normalised edge drawing the photo branch sees."""
    return normalize_drawing(photo_edges(rgb), M.INPUT)
