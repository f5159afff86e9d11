"""The methods of :mod:`darkroom.ops.style.solve` do what a user would see: paint and mrf
visibly take the style, the colour start has the style's colour statistics."""

import dataclasses

import pytest
import torch

from darkroom.models import load_backbone
from darkroom.ops.style import colour, losses, solve
from darkroom.ops.style.features import LAYERS

BACKBONE = "efficientnet_lite0"


def _quiet() -> solve._Reporter:
    return solve._Reporter(lambda *a, **k: None, lambda: False, 0.0, 1.0, "test")


def _content(h=64, w=64):
    """A cool, smooth photo-like picture with one hard edge."""
    y = torch.linspace(0, 1, h).view(h, 1).expand(h, w)
    x = torch.linspace(0, 1, w).view(1, w).expand(h, w)
    img = torch.stack([0.2 + 0.3 * x, 0.35 + 0.3 * y, 0.6 + 0.3 * x * y])
    img[:, :, w // 2:] *= 0.6
    return img.clamp(0, 1)[None]


def _style(h=72, w=72):
    """A warm, strongly textured picture (stripes and checks): nothing like the content."""
    torch.manual_seed(0)
    y = torch.arange(h).view(h, 1).expand(h, w).float()
    x = torch.arange(w).view(1, w).expand(h, w).float()
    stripes = (torch.sin(x * 0.9 + y * 0.4) > 0).float()
    checks = (((x // 6) + (y // 6)) % 2).float()
    img = torch.stack([0.55 + 0.4 * stripes, 0.25 + 0.3 * checks, 0.05 + 0.1 * stripes * checks])
    return (img + 0.05 * torch.rand(3, h, w)).clamp(0, 1)[None]


@pytest.fixture(scope="module")
def net():
    return load_backbone(BACKBONE)


def _style_distance(net, img, style):
    """Mean relative Gram distance over the backbone's style layers (as the bench does)."""
    lay = LAYERS[BACKBONE].style
    with torch.no_grad():
        fi, fs = net.features(img, list(lay)), net.features(style, list(lay))
        return sum(losses.style_loss(fi[n], losses.gram(fs[n])[None]).item() for n in lay) / 5


def test_colour_transform_gives_the_style_colour_mean_and_covariance():
    c, s = _content(), _style()
    m = colour.colour_transform(c, s)
    assert m.shape == (3, 4)
    out = torch.einsum("ij,bjhw->bihw", m[:, :3], c) + m[:, 3].view(1, 3, 1, 1)  # unclipped
    v, t = out[0].reshape(3, -1), s[0].reshape(3, -1)
    assert torch.allclose(v.mean(1), t.mean(1), atol=1e-4)
    # (equal up to the small ridge that keeps flat images invertible)
    assert torch.allclose(torch.cov(v, correction=0), torch.cov(t, correction=0), rtol=0.02,
                          atol=3e-4)
    assert 0.0 <= colour.match_colours(c, s).min() and colour.match_colours(c, s).max() <= 1.0


def test_refine_sizes_double_up_to_the_cap_and_never_past_the_content():
    assert solve.refine_sizes(256, 384, (2826, 4246), 768) == [(512, 768)]
    assert solve.refine_sizes(256, 384, (2826, 4246), 1024) == [(512, 768), (683, 1024)]
    assert solve.refine_sizes(256, 384, (466, 700), 768) == [(466, 700)]  # the content's own size
    assert solve.refine_sizes(256, 384, (300, 450), 768) == []  # not worth a stage
    assert solve.refine_sizes(256, 384, (2826, 4246), 0) == []  # draft


def test_mrf_scales_keep_the_coarsest_scale_large_enough():
    assert solve.mrf_scales(512, 768) == [4, 2, 1]
    assert solve.mrf_scales(256, 384) == [2, 1]
    assert solve.mrf_scales(100, 100) == [1]
    assert all(min(200, 300) // f >= solve.MRF_MIN_SIDE for f in solve.mrf_scales(200, 300))


def test_paint_output_takes_the_style_and_keeps_the_layout(net):
    c, s = _content(), _style()
    t = solve.compute_targets(net, BACKBONE, c, s, None, None)
    out = solve.run_pixels(net, BACKBONE, c, t, solve.DEFAULT_WEIGHTS["paint"], 60, _quiet(),
                           lr=solve.LR["paint"], optimiser=solve.OPTIMISER["paint"])
    before, after = _style_distance(net, c, s), _style_distance(net, out, s)
    assert after < 0.5 * before, (before, after)
    # The picture is visibly changed, and the layout (the hard edge) is still there.
    assert (out - c).abs().mean() > 0.05
    left, right = out[..., :, 24:30].mean(), out[..., :, 34:40].mean()
    assert abs(left - right) > 0.03


def test_paint_keeps_the_content_outline_crisp_under_the_brush_texture(net):
    """What a user sees: the hard edge of the content is still a sharp line of nearly its
    own contrast, standing out from the brush texture — without the edge term (Gatys' deep
    content loss only) it blurs into the strokes."""
    c, s = _content(), _style()
    t = solve.compute_targets(net, BACKBONE, c, s, None, None)
    w = solve.DEFAULT_WEIGHTS["paint"]
    assert w.edge > 0
    for weights, crisp in ((w, True), (dataclasses.replace(w, edge=0.0, content=0.2), False)):
        out = solve.run_pixels(net, BACKBONE, c, t, weights, 60, _quiet(), lr=solve.LR["paint"],
                               optimiser=solve.OPTIMISER["paint"])
        g, gc = losses.luma_gradients(out)[0], losses.luma_gradients(c)[0]
        step, texture = g[:, 31].abs().mean(), g[:, 8:24].abs().mean()
        kept = bool(step > 0.8 * gc[:, 31].abs().mean() and step > 3 * texture)
        assert kept == crisp, (weights, step, texture)


def test_lbfgs_keeps_its_budget_reports_progress_can_be_cancelled_and_clamps():
    """The painterly optimiser as the editor sees it: progress rises to 100 % within the
    evaluation budget (a bounded wait), Cancel stops it mid-way, and the pixels come back
    displayable."""
    from darkroom.errors import Cancelled

    target = torch.rand(1, 3, 16, 16) * 1.4 - 0.2  # partly outside [0, 1]
    x = torch.full((1, 3, 16, 16), 0.5, requires_grad=True)
    fracs: list[float] = []
    evals = [0]

    def loss_fn() -> torch.Tensor:
        evals[0] += 1
        return ((x - target) ** 2).mean()

    rep = solve._Reporter(lambda f, *a, **k: fracs.append(f), lambda: False, 0.0, 1.0, "t")
    hist = solve._optimise([x], loss_fn, 20, 0.0, rep, lambda: x, clamp=x, optimiser="lbfgs")
    assert evals[0] == len(hist) <= 25
    assert fracs == sorted(fracs) and fracs[-1] == 1.0
    assert hist[-1] < 0.2 * hist[0]
    assert 0.0 <= float(x.detach().min()) and float(x.detach().max()) <= 1.0
    calls = [0]

    def cancel_after_five() -> bool:
        calls[0] += 1
        return calls[0] > 5

    y = torch.full((1, 3, 16, 16), 0.5, requires_grad=True)
    rep = solve._Reporter(lambda *a, **k: None, cancel_after_five, 0.0, 1.0, "t")
    with pytest.raises(Cancelled):
        solve._optimise([y], lambda: ((y - target) ** 2).mean(), 50, 0.0, rep, lambda: y,
                        clamp=y, optimiser="lbfgs")
    assert calls[0] == 6


def test_mrf_output_takes_the_style_colours_and_texture(net):
    c, s = _content(), _style()
    start = colour.match_colours(c, s)
    out = solve.run_mrf(net, BACKBONE, c, s, solve.DEFAULT_WEIGHTS["mrf"], 15, _quiet(),
                        lr=solve.LR["mrf"], init=start)
    assert out.shape == c.shape and 0 <= out.min() and out.max() <= 1
    # Colours moved to the style's (warm: red well above blue), texture distance dropped.
    r, b = out[0, 0].mean(), out[0, 2].mean()
    assert r - b > 0.3
    assert _style_distance(net, out, s) < 0.6 * _style_distance(net, c, s)


def test_colour_term_gives_each_region_its_partner_colours(net):
    """The 'pixels' pseudo-layer at the photo methods' weights: a grey content whose left half
    is paired with a red style region and right half with a blue one takes those colours
    (the backbone's layers alone move them only ~0.1 in 60 steps; measured 0.3–0.4 with it)."""
    torch.manual_seed(0)
    c = torch.full((1, 3, 48, 48), 0.5)
    c += 0.1 * torch.rand_like(c)
    s = torch.zeros(1, 3, 48, 48)
    s[:, 0, :, :24] = 0.9  # left: red
    s[:, 2, :, 24:] = 0.9  # right: blue
    masks = torch.zeros(2, 48, 48)
    masks[0, :, :24], masks[1, :, 24:] = 1, 1
    t = solve.compute_targets(net, BACKBONE, c, s, masks, masks)
    w = solve.DEFAULT_WEIGHTS["dpst"]
    assert w.colour > 0 and solve.DEFAULT_WEIGHTS["fast"].colour == w.colour
    out = solve.run_pixels(net, BACKBONE, c, t, w, 60, _quiet(), lr=solve.LR["dpst"])
    left, right = out[0, :, :, :20].mean((1, 2)), out[0, :, :, 28:].mean((1, 2))
    assert left[0] - left[2] > 0.2 and right[2] - right[0] > 0.2, (left, right)
