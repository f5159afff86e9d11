"""Colour starts: one global map without labels, one map per region pair with them."""

import torch

from darkroom.ops.style import colour, losses
from darkroom.ops.style import grid as bgrid


def _scene(h=48, w=64, seed=0):
    """Top half a pale blue 'sky', bottom half a green 'field', both textured."""
    torch.manual_seed(seed)
    img = torch.empty(1, 3, h, w)
    img[0, :, : h // 2] = torch.tensor([0.65, 0.75, 0.9]).view(3, 1, 1)
    img[0, :, h // 2 :] = torch.tensor([0.3, 0.55, 0.2]).view(3, 1, 1)
    img = img + 0.05 * torch.randn_like(img)
    masks = torch.zeros(2, h, w)
    masks[0, : h // 2] = 1
    masks[1, h // 2 :] = 1
    return img.clamp(0, 1), masks


def _mean(img, mask):
    return (img[0] * mask).flatten(1).sum(1) / mask.sum()


def test_splat_is_the_adjoint_of_slicing():
    img, _ = _scene()
    g = torch.randn(1, 12, 8, 5, 6)
    v = torch.randn(1, 12, 48, 64)
    coef = bgrid.slice_coefficients(g, img)
    assert torch.allclose((coef * v).sum(), (g * bgrid.splat(v, img, (8, 5, 6))).sum(),
                          rtol=1e-4)


def test_each_region_takes_its_partner_colour():
    """A pale sky over a dark field, styled by a night sky over a sunlit yellow field: the
    brightness order flips. One global (minimal-displacement) map keeps bright things bright,
    so the sky would turn yellow; the region start makes it the style's night sky."""
    content, cm = _scene()
    style = torch.empty(1, 3, 40, 40)
    style[0, :, :20] = torch.tensor([0.1, 0.12, 0.3]).view(3, 1, 1)
    style[0, :, 20:] = torch.tensor([0.9, 0.8, 0.3]).view(3, 1, 1)
    style = (style + 0.05 * torch.randn_like(style)).clamp(0, 1)
    sm = torch.zeros(2, 40, 40)
    sm[0, :20] = 1
    sm[1, 20:] = 1
    g = colour.region_grid(content, style, cm, sm)
    out = bgrid.slice_apply(g, content).clamp(0, 1)
    inner = cm.clone()
    inner[:, 20:28] = 0  # away from the boundary, where the grid blends the two maps
    for r in range(2):
        err = (_mean(out, inner[r]) - _mean(style, sm[r])).abs().max()
        assert err < 0.05, (r, _mean(out, inner[r]), _mean(style, sm[r]))
    # without labels both halves move together: the sky ends up far from the style's sky
    glob = bgrid.slice_apply(colour.region_grid(content, style, None, None), content)
    assert (_mean(glob, inner[0]) - _mean(style, sm[0])).abs().max() > 0.1


def test_region_support_gives_the_same_loss_as_masks():
    torch.manual_seed(1)
    f = torch.randn(1, 8, 20, 30)
    m = (torch.rand(3, 20, 30) > 0.5).float() * torch.rand(3, 20, 30)
    t = torch.randn(3, 8, 8)
    a = losses.style_loss(f, t, m)
    b = losses.style_loss(f, t, m, support=losses.region_support(m))
    assert torch.allclose(a, b, rtol=1e-5)
