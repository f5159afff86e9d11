"""Which backbone layers serve content, style and MRF matching, and how masks follow them.

======================  =====================================  ======================
backbone                style layers (Gram / regions)          content   MRF
======================  =====================================  ======================
``vgg19``               relu1_1 relu2_1 relu3_1 relu4_1 relu5_1  relu4_2   relu3_1 relu4_1
``efficientnet_lite0``  stem block1.dw block3.dw block5.dw       block4    block1.dw block3.dw
                        block8.dw
======================  =====================================  ======================

The VGG choice is the papers' own (Gatys et al. 2016 §3; Luan et al. 2017 §4; Li & Wand 2016
§4). For EfficientNet-Lite0 we take the expanded depthwise activations (ReLU6, 32–480
channels) at strides 2, 4, 8, 16 and 16 — the same spread of receptive fields as VGG's
``reluN_1`` — and the stride-8 block output as the content layer (like ``relu4_2``, it keeps
the layout and loses the texture). CNNMRF's patches come from the stride-4 and stride-8 taps,
like VGG's ``relu3_1``/``relu4_1``: with the stride-8/16 pair we first used, a 3×3 patch
covered so much of a 256 px picture that matching copied the style's composition.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Layers:
    style: tuple[str, ...]
    content: str
    mrf: tuple[str, ...]


LAYERS: dict[str, Layers] = {
    "vgg19": Layers(
        style=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        content="relu4_2",
        mrf=("relu3_1", "relu4_1"),
    ),
    "efficientnet_lite0": Layers(
        style=("stem", "block1.dw", "block3.dw", "block5.dw", "block8.dw"),
        content="block4",
        mrf=("block1.dw", "block3.dw"),
    ),
}


def masks_at(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Region masks (R, H, W) in [0, 1] → (R, h, w) at a feature map's size.

    Area averaging keeps the fraction of each region in a cell (Luan et al. 2017 downsample
    the masks alongside the network); the masks still sum to 1 per pixel.
    """
    return F.interpolate(masks[None], size=size, mode="area")[0]


def resize(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, C, H, W) → (B, C, h, w), antialiased when shrinking (no aliasing in the Grams)."""
    if tuple(img.shape[-2:]) == tuple(size):
        return img
    return F.interpolate(img, size=size, mode="bilinear", align_corners=False, antialias=True)


def working_size(h: int, w: int, longest: int) -> tuple[int, int]:
    """(h, w) scaled so that the longer side is ``longest`` (never enlarged), at least 16 px."""
    s = min(1.0, longest / max(h, w))
    return max(16, round(h * s)), max(16, round(w * s))
