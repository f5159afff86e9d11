"""An inference-only copy of EfficientNet-Lite0 for sketch search: the same network, computed
with fewer memory passes (what indexing big photo folders on a laptop CPU spends its time on).

Profiling ``library.index_folders`` on 2400 px JPEGs (one torch thread) showed that a third
of the backbone's time went to element-wise passes, not convolutions: batch normalisation
(≈ 25 %), the explicit TF-"SAME" padding copies (≈ 18 %) and out-of-place ReLU6 (≈ 17 %).
This copy, built once per process from the shared backbone (which it leaves untouched: style
transfer backpropagates through that one):

* folds every batch normalisation into the convolution before it (``w·γ/σ``,
  ``β − μ·γ/σ``; exact up to float rounding: the features differ by ~1e-6 relative,
  below the float16 the index stores);
* gives every convolution whose "SAME" padding is symmetric at the given input size (every
  stride-1 convolution) that padding as the convolution's own argument; the five stride-2
  convolutions, padded asymmetrically (``[p, p + 1]``), are padded ``p + 2`` on both sides
  and their first output row and column dropped (the same sampling grid, shifted by one
  output) instead of copying a padded input;
* applies ReLU6 in place;
* stops after the deepest tap asked for (the edge-map pass needs no ``head``).

It computes exactly the taps of :meth:`EfficientNetLite0.features` (tested against it).
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

_cache: dict[tuple[int, str], FastLite0] = {}
_lock = threading.Lock()


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of ``bn(conv(x))`` as one convolution (eval-mode statistics)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w = conv.weight * scale.reshape(-1, 1, 1, 1)
    b = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        b = b + conv.bias * scale
    return w.detach().clone(), b.detach().clone()


class _Conv:
    """A folded convolution with TF "SAME" padding: symmetric padding is the convolution's
    own argument, asymmetric padding (even totals: stride 2) an explicit pad."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d, memory_format: torch.memory_format) -> None:
        w, b = _fold(conv, bn)
        self.weight = w.contiguous(memory_format=memory_format) if w.shape[-1] > 1 else w
        self.bias = b
        self.memory_format = memory_format
        self.stride = conv.stride
        self.groups = conv.groups
        self.k = w.shape[-2:]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        (kh, kw), (sh, sw) = self.k, self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph % 2 == 0 and pw % 2 == 0:
            return F.conv2d(x, self.weight, self.bias, self.stride, (ph // 2, pw // 2), 1, self.groups)
        if (sh, sw) == (2, 2) and ph % 2 and pw % 2:
            # TF pads [p, p + 1]; padding p + 2 on both sides samples the same grid shifted by
            # one output row and column (stride 2), so drop the first: no padded input copy.
            y = F.conv2d(x, self.weight, self.bias, self.stride, (ph // 2 + 2, pw // 2 + 2), 1,
                         self.groups)
            oh, ow = math.ceil(ih / sh), math.ceil(iw / sw)
            return y[:, :, 1 : oh + 1, 1 : ow + 1].contiguous(memory_format=self.memory_format)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, 1, self.groups)


class FastLite0:
    """The folded network (see the module docstring); :meth:`features` as the original's for
    the block and ``head`` taps (no ``.dw`` taps)."""

    def __init__(self, net: nn.Module, memory_format: torch.memory_format = torch.channels_last) -> None:
        with torch.no_grad():
            self.stem = _Conv(net._conv_stem, net._bn0, memory_format)
            self.blocks = []
            for blk in net._blocks:
                self.blocks.append((
                    _Conv(blk._expand_conv, blk._bn0, memory_format) if blk.has_expand else None,
                    _Conv(blk._depthwise_conv, blk._bn1, memory_format),
                    _Conv(blk._project_conv, blk._bn2, memory_format),
                    blk.skip,
                ))
            self.head = _Conv(net._conv_head, net._bn1, memory_format)
        self.normalize = net.normalize

    def to(self, device: str) -> FastLite0:
        out = copy.copy(self)
        mv = lambda c: _moved(c, device)  # noqa: E731
        out.stem, out.head = mv(self.stem), mv(self.head)
        out.blocks = [(mv(e) if e is not None else None, mv(d), mv(p), s) for e, d, p, s in self.blocks]
        return out

    @torch.inference_mode()
    def features(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) sRGB in [0, 1] → {layer: features} for ``stem``, ``blockN``, ``head``."""
        want = set(layers)
        out: dict[str, torch.Tensor] = {}
        h = self.stem(self.normalize(x)).clamp_(0, 6)
        if "stem" in want:
            out["stem"] = h
        for i, (e, d, p, skip) in enumerate(self.blocks):
            if len(out) == len(want):
                return out
            y = e(h).clamp_(0, 6) if e is not None else h
            y = p(d(y).clamp_(0, 6))
            h = y.add_(h) if skip else y
            if f"block{i}" in want:
                out[f"block{i}"] = h
        if "head" in want:
            out["head"] = self.head(h).clamp_(0, 6)
        return out


def _moved(c: _Conv, device: str) -> _Conv:
    out = copy.copy(c)
    out.weight, out.bias = c.weight.to(device), c.bias.to(device)
    return out


def fast_backbone(net: nn.Module, device: str) -> FastLite0:
    """The folded copy of ``net`` (an :class:`EfficientNetLite0`) on ``device``, built once per
    backbone instance and device."""
    key = (id(net), device)
    with _lock:
        f = _cache.get(key)
        if f is None:
            fmt = torch.channels_last if device == "cpu" else torch.contiguous_format
            f = FastLite0(net, fmt).to(device)
            _cache[key] = f
    return f
