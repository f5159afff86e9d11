"""Colour starts: one global map without labels, one map per region pair with them."""

import pytest
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


@pytest.mark.parametrize("side", [32, 160])  # all pixels; a sample of them each step
def test_colour_distance_is_zero_for_the_style_colours_and_large_for_a_mixture(side):
    """The sliced colour distance compares whole colour distributions: the style's own colours
    in another order cost (next to) nothing, while their average — a colour the style never
    shows, like the teal between a blue and a cream sky — costs a lot, although its mean is
    right."""
    torch.manual_seed(0)
    h = side // 2
    blue = torch.tensor([0.35, 0.45, 0.75]).view(3, 1, 1).expand(3, h, side)
    cream = torch.tensor([0.9, 0.8, 0.65]).view(3, 1, 1).expand(3, h, side)
    style = torch.cat([blue, cream], 1)[None] + 0.01 * torch.randn(1, 3, side, side)
    t = colour.colour_targets(style, style, None, None)
    n = side * side
    shuffled = style.reshape(1, 3, -1)[:, :, torch.randperm(n)].reshape(1, 3, side, side)
    mixture = style.mean((2, 3), keepdim=True).expand(1, 3, side, side)
    same = colour.colour_distance(shuffled, t)
    mixed = colour.colour_distance(mixture, t)
    assert same < (1e-5 if n <= colour.SAMPLES else 3e-3)
    assert mixed > 10 * same and mixed > 1e-2


def test_colour_distance_pairs_regions():
    """With labels each region is compared with its own partner: a sky with the style's
    field colours is far, even though those colours exist elsewhere in the style."""
    content, cm = _scene()
    t = colour.colour_targets(content, content, cm, cm)
    swapped = content.clone()
    swapped[:, :, :24], swapped[:, :, 24:] = content[:, :, 24:], content[:, :, :24]
    assert colour.colour_distance(content, t) < 1e-6
    assert colour.colour_distance(swapped, t) > 1e-2


def test_trimmed_colour_distance_ignores_a_few_stray_colours_in_the_style_region():
    """A sky region that caught 3 % of a dark horizon: the plain distance asks for as many
    dark pixels in the output's sky (in14 got a dark blot beside the rock), the trimmed one
    (the solvers') does not — but still sees a sky of the wrong colour."""
    torch.manual_seed(0)
    sky = torch.tensor([0.55, 0.7, 0.95]).view(1, 3, 1, 1).expand(1, 3, 40, 50).clone()
    style = sky.clone()
    style[:, :, :, :2] = 0.1  # 2 of 50 columns: a 4 % dark sliver
    plain = colour.colour_targets(sky, style, None, None)
    trimmed = colour.colour_targets(sky, style, None, None, colour.TRIM)
    assert colour.colour_distance(sky, plain) > 1e-2
    assert colour.colour_distance(sky, trimmed) < 1e-6
    orange = torch.tensor([0.9, 0.5, 0.2]).view(1, 3, 1, 1).expand(1, 3, 40, 50)
    assert colour.colour_distance(orange, trimmed) > 1e-2
