"""The fast method's affine bilateral grid: affine by construction, seamless at any size."""

import torch

from darkroom.ops.style import affine
from darkroom.ops.style import grid as bgrid


def _img(h, w, seed=0):
    torch.manual_seed(seed)
    return torch.rand(1, 3, h, w)


def _photo(h, w, seed=0):
    """Photo-like: smooth colour gradients, a hard edge, a little noise."""
    torch.manual_seed(seed)
    y = torch.linspace(0, 1, h).view(h, 1).expand(h, w)
    x = torch.linspace(0, 1, w).view(1, w).expand(h, w)
    img = torch.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.5 + 0.3 * x * y])
    img[:, :, w // 2 :] = img[:, :, w // 2 :].flip(0) * 0.7
    return (img + 0.02 * torch.rand(3, h, w)).clamp(0, 1)[None]


def test_identity_grid_returns_the_image():
    img = _img(20, 30)
    g = bgrid.identity_grid(8, 4, 6)
    assert torch.allclose(bgrid.slice_apply(g, img), img, atol=1e-5)


def test_constant_grid_is_one_affine_colour_transform():
    img = _img(20, 30)
    m = torch.tensor([[0.8, 0.1, 0.0, 0.05], [0.0, 0.9, 0.1, 0.0], [0.1, 0.0, 0.7, 0.1]])
    g = m.reshape(12, 1, 1, 1).expand(12, 8, 3, 3)[None].contiguous()
    expect = torch.einsum("ij,jhw->ihw", m[:, :3], img[0]) + m[:, 3, None, None]
    assert torch.allclose(bgrid.slice_apply(g, img)[0], expect, atol=1e-5)


def test_random_grid_output_is_locally_affine_in_colour():
    img = _photo(48, 48, 1)
    g = bgrid.identity_grid(8, 6, 6) + 0.1 * torch.randn(1, 12, 8, 6, 6)
    out = bgrid.slice_apply(g, img).clamp(0, 1)
    # A painterly change (a blur) of the same image is far less affine-explainable.
    blurred = torch.nn.functional.avg_pool2d(img, 5, 1, 2)
    assert affine.residual(img, out) < 0.5 * affine.residual(img, blurred)


def test_strips_equal_one_slice_so_there_are_no_seams():
    img = _img(70, 40, 2)
    g = bgrid.identity_grid(8, 5, 3) + 0.2 * torch.randn(1, 12, 8, 5, 3)
    whole = bgrid.slice_apply(g, img).clamp(0, 1)
    strips = bgrid.apply_full(g, img, rows=16)
    assert torch.allclose(whole, strips, atol=1e-5)


def test_same_grid_gives_the_same_picture_at_any_resolution():
    big = _photo(64, 64, 3)
    small = torch.nn.functional.avg_pool2d(big, 2)
    g = bgrid.identity_grid(8, 4, 4) + 0.2 * torch.randn(1, 12, 8, 4, 4)
    out_big = torch.nn.functional.avg_pool2d(bgrid.apply_full(g, big), 2)
    out_small = bgrid.apply_full(g, small)
    assert (out_big - out_small).abs().mean() < 0.02


def test_strength_zero_is_identity_and_smoothness_zero_for_constant_grids():
    g = bgrid.identity_grid(8, 4, 4) + torch.randn(1, 12, 8, 4, 4)
    img = _img(10, 10)
    assert torch.allclose(bgrid.slice_apply(bgrid.blend_identity(g, 0.0), img), img, atol=1e-5)
    assert bgrid.smoothness(bgrid.identity_grid(8, 4, 4)).item() == 0.0
    assert bgrid.smoothness(g).item() > 0.1
