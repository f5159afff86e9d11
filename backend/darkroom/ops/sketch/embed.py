"""Loading the trained heads and embedding sketches and photos (weights, devices, caches).

The algorithm lives in :mod:`.model` and :mod:`.strokes`; this module only wires them to the
backbone cache and the shipped weights, so that the index and the search see exactly the same
preprocessing:

* a sketch: gray drawing → :func:`normalize_drawing` → backbone up to ``block14`` → the
  sketch's own trained copy of the last block and ``head`` (:class:`.finetune.SketchTail`,
  stored as ``tail.*`` in the weights; without it, the shared backbone's) → sketch branch;
* a photo: RGB → :func:`photo_square` (the photograph) and :func:`photo_edges` →
  :func:`normalize_drawing` (its edge map) → backbone, both in one batch → photo branch.

Every call embeds its whole list in backbone batches of ``BATCH``: a batch of sketches costs
one model load (cached per process) and one backbone pass per sketch, nothing more.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from darkroom.errors import ModelUnavailable
from darkroom.models import load_backbone
from darkroom.models.backbones import load_state_dict_file
from darkroom.ops.sketch import finetune as FT
from darkroom.ops.sketch import model as M
from darkroom.ops.sketch import shapenet as SN
from darkroom.ops.sketch.fastnet import fast_backbone
from darkroom.ops.sketch.strokes import normalize_drawing, photo_edges, photo_square

WEIGHTS = Path(__file__).resolve().parent / "weights" / "sketch_v2.pt"


def _bf16_native() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


#: Photos' backbone passes in bfloat16 (opt-in: ``DARKROOM_SKETCH_BF16=1``, and only on CPUs
#: with native bfloat16, AVX-512 BF16 / AMX, where it is about twice as fast). Embeddings
#: then differ from float32 by ~1e-3 (cosine ≥ 0.995 on the held-out photos) and the held-out
#: figures move by noise (``bench/results/sketch.md``), so it is not the default.
BF16 = os.environ.get("DARKROOM_SKETCH_BF16") == "1" and _bf16_native()
BATCH = 32  #: images per backbone pass
_cache: dict[tuple[str, str], M.SketchModel] = {}
_lock = threading.Lock()


def load_heads(device: str, weights: str | Path | None = None) -> M.SketchModel:
    """The fitted :class:`SketchModel` on ``device`` (cached per process)."""
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
            sd = {k: v.float() for k, v in load_state_dict_file(path).items()}
            tail_sd = {k[len("tail."):]: sd.pop(k) for k in [k for k in sd if k.startswith("tail.")]}
            emb = M.SketchModel()
            if "shape_net.pca_basis" in sd:  # v2.4: the instance-shape branch (loaded below)
                net = SN.ShapeNet(int(sd["shape_net.pca_basis"].shape[-1]))
                emb.attach_shape_net(net.eval().requires_grad_(False))
            try:
                res = emb.load_state_dict(sd, strict=False)
            except RuntimeError as e:
                raise ModelUnavailable(f"'{path.name}' does not fit the sketch heads: {e}") from e
            # Weights from before the shape re-ranking or the rank fusion lack their buffers:
            # those steps stay off.
            optional = ("rr_k", "rr_gamma", "fz_k", "fz_k0", "fz_w")
            bad = [k for k in res.missing_keys if k not in optional] + res.unexpected_keys
            if bad:
                raise ModelUnavailable(f"'{path.name}' does not fit the sketch heads: {bad[:5]}")
            emb = emb.eval().requires_grad_(False).to(device)
            emb.tail = None  # type: ignore[assignment]
            if tail_sd:  # the sketch side's own last block (v2.3); older weights have none
                tail = FT.SketchTail(_backbone(device))
                try:
                    tail.load_state_dict(tail_sd)
                except RuntimeError as e:
                    raise ModelUnavailable(f"'{path.name}' does not fit the sketch tail: {e}") from e
                emb.tail = tail.eval().requires_grad_(False).to(device)  # type: ignore[assignment]
            _cache[key] = emb
    return emb


def _backbone(device: str, name: str = "efficientnet_lite0") -> torch.nn.Module:
    net = load_backbone(name, device)
    if device == "cpu":
        # The backbone is shared with style transfer, which backpropagates through it:
        # convert its parameters outside inference mode, or they become inference tensors.
        with torch.inference_mode(False):
            net = net.to(memory_format=torch.channels_last)
    return net


def _to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    """INPUT×INPUT gray drawings or INPUT×INPUT×3 photos, float [0, 1] → (N, 3, S, S)
    channels-last (EfficientNet's depthwise convolutions run about twice as fast so on CPU)."""
    x = torch.from_numpy(np.stack([np.repeat(i[:, :, None], 3, 2) if i.ndim == 2 else i
                                   for i in images]).astype(np.float32, copy=False))
    return x.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def features(images: Sequence[np.ndarray], device: str = "cpu", *, head: bool = True,
             exact: bool = False, backbone: str = "efficientnet_lite0",
             shape: tuple[torch.nn.Module, str] | None = None) -> torch.Tensor:
    """(N, FEAT) backbone rows of normalised drawings or squared photos (see :func:`_to_tensor`).

    By default the backbone runs as :class:`~.fastnet.FastLite0` (batch norms folded: the same
    features up to float rounding, about 1.7× faster on CPU); ``exact`` runs the shared
    backbone as it is (``scripts/train_sketch.py`` caches its rows so). ``head=False`` stops
    after ``block15``: the ``head`` columns are then zero (an edge map's are never used).
    ``backbone``: one of :data:`.model.TAPS` (its two 4×4 taps). ``shape``: (a
    :class:`~.shapenet.ShapeNet`, its domain ``"sketch"`` or ``"edge"``): its columns are
    appended, from the ``block10`` maps of the same pass (Lite0 only)."""
    net = _backbone(device, backbone)
    fn = net if exact else fast_backbone(net, device)
    taps = M.TAPS[backbone]
    layers = (*taps, "head") if head else taps
    out = []
    for i in range(0, len(images), BATCH):
        feats = fn.features(_to_tensor(images[i : i + BATCH]).to(device), layers)
        sp = torch.cat([F.adaptive_avg_pool2d(feats[k].float(), M.GRID) for k in taps], 1)
        hd = feats["head"].float().mean((2, 3)) if head else sp.new_zeros(len(sp), M.SEM_IN)
        cols = [sp.flatten(1), hd]
        if shape is not None:
            cols.append(shape[0](feats[SN.TAP].float(), shape[1]))
        out.append(torch.cat(cols, 1).cpu())
    extra = 0 if shape is None else int(shape[0].pca_basis.shape[1])  # type: ignore[union-attr]
    return torch.cat(out) if out else torch.zeros(
        0, M.TAP_CHANNELS[backbone] * M.GRID**2 + M.SEM_IN + extra)


@torch.inference_mode()
def embed_sketches(grays: Sequence[np.ndarray], device: str = "cpu",
                   weights: str | Path | None = None) -> np.ndarray:
    """Gray sketches (H×W float32 [0, 1], any size) → (N, EMB_DIM) float32 unit vectors."""
    if not len(grays):
        return np.zeros((0, M.EMB_DIM), np.float32)
    emb = load_heads(device, weights)
    f = sketch_features([normalize_drawing(g, M.INPUT) for g in grays], emb, device)
    return emb.sketch(f).float().cpu().numpy()


@torch.inference_mode()
def sketch_features(drawings: Sequence[np.ndarray], emb: M.SketchModel, device: str = "cpu"
                    ) -> torch.Tensor:
    """(N, FEAT) rows of normalised drawings seen as *sketches*: through ``emb``'s sketch tail
    (its own last block and ``head``; one backbone pass to ``block14`` then the tail, no more
    than the plain pass costs) when the weights have one, else :func:`features`."""
    tail = getattr(emb, "tail", None)
    net = emb.shape_net
    if tail is None:
        return features(drawings, device, shape=None if net is None else (net, "sketch")).to(device)
    fn = fast_backbone(_backbone(device), device)
    out = []
    for i in range(0, len(drawings), BATCH):
        feats = fn.features(_to_tensor(drawings[i : i + BATCH]).to(device), (FT.FIXED_TAP, FT.TAIL_IN))
        fixed = F.adaptive_avg_pool2d(feats[FT.FIXED_TAP].float(), M.GRID).flatten(1)
        row = tail(fixed, feats[FT.TAIL_IN].float())
        if net is not None:  # the shape branch reads the same block10 maps (FT.FIXED_TAP)
            row = torch.cat([row, net(feats[SN.TAP].float(), "sketch")], 1)
        out.append(row)
    return torch.cat(out) if out else torch.zeros(0, M.FEAT + (emb.k_shape() if net else 0),
                                                  device=device)


def edge_shape(emb: M.SketchModel) -> tuple[torch.nn.Module, str] | None:
    """The ``shape`` argument of :func:`features` for edge maps under ``emb``."""
    return None if emb.shape_net is None else (emb.shape_net, "edge")


def photo_inputs(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """H×W×3 float sRGB photo → (the squared photograph, its normalised edge drawing)."""
    return photo_square(rgb, M.INPUT), normalize_drawing(photo_edges(rgb), M.INPUT)


@torch.inference_mode()
def embed_photos(rgbs: Sequence[np.ndarray], device: str = "cpu",
                 weights: str | Path | None = None) -> np.ndarray:
    """H×W×3 float sRGB photos → (N, EMB_DIM) float32 unit vectors."""
    if not len(rgbs):
        return np.zeros((0, M.EMB_DIM), np.float32)
    pairs = [photo_inputs(r) for r in rgbs]
    return embed_photo_inputs([p for p, _ in pairs], [e for _, e in pairs], device, weights)


@torch.inference_mode()
def embed_photo_inputs(squares: Sequence[np.ndarray], edges: Sequence[np.ndarray],
                       device: str = "cpu", weights: str | Path | None = None) -> np.ndarray:
    """:func:`photo_inputs` of N photos (squared photographs, normalised edge drawings) →
    (N, EMB_DIM) float32 unit vectors (what :func:`embed_photos` computes from the photos)."""
    if not len(squares):
        return np.zeros((0, M.EMB_DIM), np.float32)
    emb = load_heads(device, weights)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16 and device == "cpu"):
        fp = features(squares, device).to(device)
        # only its 4×4 part (and the shape branch's columns) are used
        fe = features(edges, device, head=False, shape=edge_shape(emb)).to(device)
    return emb.photo(fp.float(), fe.float()).float().cpu().numpy()


@torch.inference_mode()
def embed_drawings(drawings: Sequence[np.ndarray], branch: str, device: str = "cpu",
                   weights: str | Path | None = None) -> np.ndarray:
    """Normalised INPUT×INPUT drawings → (N, EMB_DIM) from ``branch``: ``"sketch"``, or
    ``"photo"`` for a picture that is itself a line drawing (a QMUL photo edge map: it is
    both the photograph and its edge map)."""
    if not len(drawings):
        return np.zeros((0, M.EMB_DIM), np.float32)
    emb = load_heads(device, weights)
    if branch == "sketch":
        out = emb.sketch(sketch_features(list(drawings), emb, device))
    else:
        f = features(list(drawings), device, shape=edge_shape(emb)).to(device)
        out = emb.photo(f, f)
    return out.float().cpu().numpy()
