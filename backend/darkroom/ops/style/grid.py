"""The fast photo method's output model: a bilateral grid of 3×4 affine colour transforms.

Deep Photo Style Transfer (Luan et al. 2017, §3.1) asks the output to be *locally affine in
colour space* and enforces it softly with the matting Laplacian while optimising every pixel.
Here it holds by construction, as in HDRnet (Gharbi et al. 2017, §3): the output is

    O(x, y) = A(x, y, g(x, y)) · [I_r, I_g, I_b, 1]ᵀ,

where A is a coarse grid (D luminance bins × Gh × Gw cells) of 3×4 affine matrices, sliced
by trilinear interpolation at each pixel's position and guide value g (the content's
luminance). The grid has a few thousand parameters, so it is optimised at a working size
of ≤ 1 MP with the neural losses and then sliced with the **full-resolution** content:
the same smooth function, any output size, no tiles and therefore no seams. Because the
coefficients vary smoothly in space and in luminance — and :func:`smoothness` keeps them
so — edges of the content stay edges of the output and no halo can appear.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

_LUMA = (0.299, 0.587, 0.114)


def identity_grid(depth: int, gh: int, gw: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """A (1, 12, D, Gh, Gw) grid whose every cell is the identity 3×4 transform."""
    eye = torch.eye(3, 4, device=device).reshape(12, 1, 1, 1)
    return eye.expand(12, depth, gh, gw).clone()[None]


def grid_shape(h: int, w: int, cells: int = 16, depth: int = 8) -> tuple[int, int, int]:
    """(D, Gh, Gw) for an H×W image: ``cells`` along the longer side, square cells."""
    s = cells / max(h, w)
    return depth, max(2, round(h * s)), max(2, round(w * s))


def guide(img: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) in [0, 1] → (1, 1, H, W) luminance guide in [0, 1]."""
    wts = img.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (img * wts).sum(1, keepdim=True).clamp(0.0, 1.0)


def slice_apply(grid: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    """Apply the grid (1, 12, D, Gh, Gw) to an image (1, 3, H, W) in [0, 1] → (1, 3, H, W).

    Slicing is trilinear in (x, y, luminance); the grid spans the image corner to corner
    (``align_corners=True``), so the result depends only on relative position: the same grid
    gives the same picture at any resolution.
    """
    return _slice_rows(grid, img, 0, img.shape[2])


def apply_full(
    grid: torch.Tensor,
    img: torch.Tensor,
    rows: int = 512,
    check: Callable[[], None] | None = None,
) -> torch.Tensor:
    """:func:`slice_apply` on a large (1, 3, H, W) image in row strips (bounded memory).

    Strips use each row's own global coordinate, so the result equals one big slice exactly:
    no seams. ``check`` (e.g. a cancel check) runs between strips.
    """
    _, _, h, w = img.shape
    out = torch.empty_like(img)
    for y0 in range(0, h, rows):
        if check is not None:
            check()
        y1 = min(h, y0 + rows)
        out[:, :, y0:y1] = _slice_rows(grid, img[:, :, y0:y1], y0, h).clamp(0.0, 1.0)
    return out


def _coords(strip: torch.Tensor, y0: int, h: int) -> torch.Tensor:
    """grid_sample coordinates (1, 1, sh, w, 3) of a strip of rows [y0, y0 + sh) of an image
    of height ``h``: x and y the pixel's position in the whole image, z its luminance."""
    _, _, sh, w = strip.shape
    g = guide(strip)[:, 0]
    ys = (torch.arange(y0, y0 + sh, device=strip.device, dtype=strip.dtype) / max(1, h - 1)) * 2 - 1
    xs = torch.linspace(-1.0, 1.0, w, device=strip.device, dtype=strip.dtype)
    coords = torch.stack(
        [xs.view(1, 1, w).expand(1, sh, w), ys.view(1, sh, 1).expand(1, sh, w), g * 2.0 - 1.0], -1
    )
    return coords[:, None]


def slice_coefficients(grid: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    """The grid (1, K, D, Gh, Gw) read at every pixel of ``img`` (1, 3, H, W) → (1, K, H, W)."""
    return F.grid_sample(grid, _coords(img, 0, img.shape[2]), mode="bilinear",
                         align_corners=True)[:, :, 0]


def _slice_rows(grid: torch.Tensor, strip: torch.Tensor, y0: int, h: int) -> torch.Tensor:
    """Slice a strip of rows [y0, y0 + strip height) of an image of height ``h``."""
    _, _, sh, w = strip.shape
    coef = F.grid_sample(grid, _coords(strip, y0, h), mode="bilinear", align_corners=True)
    a = coef[:, :, 0].reshape(3, 4, sh, w)
    return ((a[:, :3] * strip[0][None]).sum(1) + a[:, 3])[None]


def smoothness(grid: torch.Tensor) -> torch.Tensor:
    """Squared differences of neighbouring cells along x, y and luminance (a TV-ℓ2 prior on
    the grid): keeps the transform smooth, so flat areas get no blotches and edges no halos.
    Luminance neighbours weigh less: a transform that changes with brightness is a tone curve,
    which is photographic; one that changes abruptly in space is not."""
    dz = grid[:, :, 1:] - grid[:, :, :-1]
    dy = grid[:, :, :, 1:] - grid[:, :, :, :-1]
    dx = grid[..., 1:] - grid[..., :-1]
    return 0.25 * dz.pow(2).mean() + dy.pow(2).mean() + dx.pow(2).mean()


def blend_identity(grid: torch.Tensor, strength: float) -> torch.Tensor:
    """Interpolate the grid towards the identity: still one affine map per cell, so a
    partial strength is as photorealistic as the full one."""
    d, gh, gw = grid.shape[2:]
    return torch.lerp(identity_grid(d, gh, gw, grid.device).to(grid.dtype), grid, strength)


def splat(values: torch.Tensor, img: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """The adjoint of :func:`slice_coefficients`: accumulate per-pixel ``values`` (1, C, H, W)
    into a (1, C, D, Gh, Gw) grid with the trilinear weights slicing reads ``img`` (1, 3, H, W)
    with. Splatting a region's mask gives how much of that region each cell serves."""
    acc = torch.zeros((1, values.shape[1], *shape), dtype=img.dtype, device=img.device,
                      requires_grad=True)
    with torch.enable_grad():
        read = slice_coefficients(acc, img)
        (grad,) = torch.autograd.grad((read * values.detach()).sum(), acc)
    return grad
