"""Local affine colour fits (the guided filter of He, Sun & Tang 2013, §3.2, colour guide).

In every (2r+1)² window the target is fitted as an affine function of the guide's colours,
``p ≈ A_k I + b_k`` (A_k a 3×3 matrix, ridge ε). Two uses:

* **upsampling** a working-size result to the full-resolution content (the pixel methods):
  the fitted A, b are smooth, so they are interpolated to full size and applied to the
  full-resolution content — sharp edges come from the content, not from bilinear blur;
* **photorealism metric** (bench): the residual of the best local affine fit of an output to
  its content is zero for a photograph whose colours were changed locally affinely, and grows
  with painterly strokes and distortions (what Luan et al.'s L_m penalises).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _box(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over (2r+1)² windows (windows are clipped at the border)."""
    return F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)


def fit(guide: torch.Tensor, target: torch.Tensor, r: int = 2, eps: float = 1e-4
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel local affine fit of ``target`` (1, 3, H, W) to ``guide`` (1, 3, H, W).

    Returns (A (H, W, 3, 3), b (H, W, 3)), already averaged over the windows covering each
    pixel (guided-filter step 2), so ``A @ I + b`` is the filtered output.
    """
    _, _, h, w = guide.shape
    mi = _box(guide, r)
    mp = _box(target, r)
    # Covariances from box-filtered products: (9 entries each) → (H, W, 3, 3).
    ii = torch.stack([_box(guide[:, i : i + 1] * guide[:, j : j + 1], r)[0, 0]
                      for i in range(3) for j in range(3)], -1).reshape(h, w, 3, 3)
    ip = torch.stack([_box(target[:, i : i + 1] * guide[:, j : j + 1], r)[0, 0]
                      for i in range(3) for j in range(3)], -1).reshape(h, w, 3, 3)
    mi_ = mi[0].permute(1, 2, 0)
    mp_ = mp[0].permute(1, 2, 0)
    cov_ii = ii - mi_[..., :, None] * mi_[..., None, :]
    cov_pi = ip - mp_[..., :, None] * mi_[..., None, :]
    eye = torch.eye(3, dtype=guide.dtype, device=guide.device)
    # A Σ = cov_pi  ⇔  Σ Aᵀ = cov_piᵀ (Σ symmetric).
    a = torch.linalg.solve(cov_ii + eps * eye, cov_pi.transpose(-1, -2)).transpose(-1, -2)
    b = mp_ - (a @ mi_[..., None])[..., 0]
    a = _box(a.reshape(h, w, 9).permute(2, 0, 1)[None], r)[0].permute(1, 2, 0).reshape(h, w, 3, 3)
    b = _box(b.permute(2, 0, 1)[None], r)[0].permute(1, 2, 0)
    return a, b


def apply(a: torch.Tensor, b: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """``A @ I + b`` for A (H, W, 3, 3), b (H, W, 3), guide (1, 3, H, W) → (1, 3, H, W)."""
    i = guide[0].permute(1, 2, 0)[..., None]
    return (a @ i)[..., 0].add(b).permute(2, 0, 1)[None]


def upsample(low_guide: torch.Tensor, low_out: torch.Tensor, full_guide: torch.Tensor,
             r: int = 2, eps: float = 1e-4, rows: int = 512) -> torch.Tensor:
    """Bring a working-size result to full size through its local affine fit to the content.

    ``low_guide``/``low_out`` (1, 3, h, w), ``full_guide`` (1, 3, H, W) → (1, 3, H, W) in
    [0, 1]. The coefficients are interpolated bilinearly (they are smooth) in row strips.
    """
    h, w = full_guide.shape[-2:]
    if low_out.shape[-2:] == (h, w):
        return low_out.clamp(0, 1)
    a, b = fit(low_guide, low_out, r, eps)
    coef = torch.cat([a.reshape(*a.shape[:2], 9), b], -1).permute(2, 0, 1)[None]  # (1,12,h,w)
    out = torch.empty_like(full_guide)
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        # Sample the coefficient map at these rows' positions (align_corners=False geometry).
        ys = ((torch.arange(y0, y1, dtype=coef.dtype, device=coef.device) + 0.5) / h) * 2 - 1
        xs = ((torch.arange(w, dtype=coef.dtype, device=coef.device) + 0.5) / w) * 2 - 1
        g = torch.stack([xs.view(1, w).expand(y1 - y0, w), ys.view(-1, 1).expand(y1 - y0, w)], -1)
        c = F.grid_sample(coef, g[None], mode="bilinear", padding_mode="border",
                          align_corners=False)[0].permute(1, 2, 0)
        out[:, :, y0:y1] = apply(c[..., :9].reshape(y1 - y0, w, 3, 3), c[..., 9:],
                                 full_guide[:, :, y0:y1]).clamp(0, 1)
    return out


def residual(content: torch.Tensor, output: torch.Tensor, r: int = 1, eps: float = 1e-4
             ) -> float:
    """RMS residual (0–1 units) of the best local affine fit of ``output`` to ``content``."""
    a, b = fit(content, output, r, eps)
    return float((apply(a, b, content) - output).pow(2).mean().sqrt())
