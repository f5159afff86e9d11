"""VGG19 (Simonyan & Zisserman 2015) as a feature extractor, the backbone of the style-transfer
papers (Gatys et al. 2016; Luan et al. 2017; Li & Wand 2016).

Weights come through torchvision's weights API (``VGG19_Weights.IMAGENET1K_V1``: downloaded
once into the torch hub cache on a machine with network), or from a local file for offline
machines. Input: sRGB in [0, 1], normalised with the ImageNet mean and std.

Feature taps are named after the papers: ``conv1_1 relu1_1 … relu5_4`` and ``pool1 … pool5``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
        512, 512, 512, 512, "M")
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def _names() -> list[str]:
    names, block, idx = [], 1, 1
    for v in _CFG:
        if v == "M":
            names.append(f"pool{block}")
            block, idx = block + 1, 1
        else:
            names += [f"conv{block}_{idx}", f"relu{block}_{idx}"]
            idx += 1
    return names


LAYER_NAMES: tuple[str, ...] = tuple(_names())


class VGG19Features(nn.Module):
    """torchvision's ``vgg19().features`` with named taps; :meth:`features` as for Lite0."""

    def __init__(self, features: nn.Sequential) -> None:
        super().__init__()
        self.body = features
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def features(
        self, x: torch.Tensor, layers: Sequence[str], *, normalized: bool = False
    ) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) sRGB in [0, 1] → {layer: (B, C, h, w)}; stops after the deepest."""
        want = set(layers)
        unknown = want - set(LAYER_NAMES)
        if unknown:
            raise KeyError(f"unknown VGG19 layers: {sorted(unknown)}")
        out: dict[str, torch.Tensor] = {}
        h = x if normalized else self.normalize(x)
        for name, mod in zip(LAYER_NAMES, self.body, strict=True):
            if len(out) == len(want):
                break
            h = mod(h)
            if name in want:
                out[name] = h
        return out


def build(state_dict: dict[str, torch.Tensor] | None) -> VGG19Features:
    """VGG19 features from a torchvision-style state dict (keys ``features.N.weight`` or
    ``N.weight``); ``None`` leaves the weights random (tests only)."""
    from torchvision.models import vgg19

    net = vgg19(weights=None)
    if state_dict is not None:
        feats = {k[len("features."):]: v for k, v in state_dict.items() if k.startswith("features.")}
        if not feats:
            feats = {k: v for k, v in state_dict.items() if not k.startswith("classifier.")}
        net.features.load_state_dict(feats)
    return VGG19Features(net.features)
