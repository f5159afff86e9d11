"""Automatic regions: superpixels, pairing by similarity, the fallback, labels winning, and
the fast draft path."""

import cv2
import numpy as np
import pytest
import torch

from darkroom import images as im
from darkroom.cli import main
from darkroom.models import load_backbone
from darkroom.ops import registry
from darkroom.ops.registry import Image
from darkroom.ops.style import regions, solve
from darkroom.ops.style.cli import region_paths

SHIPPED_FAST = dict(solve.ITERATIONS["fast"])  # before the fixture below shortens them


@pytest.fixture(autouse=True)
def few_iterations(monkeypatch):
    for kind in ("fast", "paint", "dpst"):
        monkeypatch.setitem(solve.ITERATIONS, kind, {"draft": 3, "standard": 3, "best": 3})


def _scene(h=96, w=128, seed=0, sky=(0.45, 0.65, 0.95), ground=(0.25, 0.55, 0.15)):
    """A landscape: smooth sky above, textured ground below (the horizon at 45 %)."""
    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.float32)
    cut = int(0.45 * h)
    y = np.linspace(0, 1, cut)[:, None, None]
    img[:cut] = np.array(sky) * (0.9 + 0.1 * y)
    img[cut:] = np.array(ground) * (0.7 + 0.6 * rng.random((h - cut, w, 1)))
    return np.clip(img, 0, 1)


def _t(rgb):
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()


def test_pairing_takes_the_most_similar_style_region():
    content = np.array([[1.0, 0.1, 0.0], [0.0, 0.9, 0.2]])
    style = np.array([[0.1, 1.0, 0.1], [0.0, 0.0, 1.0], [0.9, 0.0, 0.1]])
    partners, sim = regions.pair(content, style)
    assert partners == [2, 0]
    assert sim[0] > 0.9 and sim[1] > 0.9


def test_a_region_without_a_similar_partner_takes_the_whole_style():
    content = np.array([[1.0, 0.0], [0.0, 1.0]])
    style = np.array([[1.0, 0.05]])
    partners, _ = regions.pair(content, style)
    assert partners == [0, None]  # orthogonal to everything the style has
    # A sliver of the style is no partner either, however similar.
    partners, _ = regions.pair(content, np.array([[1.0, 0.0], [0.0, 1.0]]),
                               style_shares=np.array([0.99, 0.005]))
    assert partners == [0, None]


def test_layout_breaks_ties_between_look_alikes():
    feats = np.array([[1.0, 0.0], [1.0, 0.0]])
    top, bottom = np.zeros(16), np.zeros(16)
    top[:8], bottom[8:] = 1, 1
    layout = np.stack([top, bottom])
    partners, _ = regions.pair(feats, feats, content_layout=layout[::-1], style_layout=layout)
    assert partners == [1, 0]


def test_superpixels_follow_a_colour_edge():
    lab = np.zeros((40, 60, 3), np.float32)
    lab[:, :27] = (30, 40, -20)
    lab[:, 27:] = (80, -30, 50)
    sp = regions.superpixels(lab, segments=24)
    assert len(np.unique(sp)) > 4
    left, right = set(np.unique(sp[:, :27])), set(np.unique(sp[:, 27:]))
    assert not left & right  # no superpixel straddles the edge


def test_guided_filter_smooths_within_a_surface_and_stops_at_its_edge():
    guide = np.zeros((3, 40, 60), np.float32)
    guide[:, :, 30:] = 1.0  # a dark and a bright surface
    rng = np.random.default_rng(0)
    noisy = (guide[:1] + 0.3 * rng.standard_normal((1, 40, 60))).astype(np.float32)
    out = regions.guided_filter(guide, r=4)(noisy)[0]
    assert out[:, :30].std() < 0.5 * noisy[0, :, :30].std()  # the noise is smoothed away…
    assert out[:, 29].mean() < 0.2 and out[:, 30].mean() > 0.8  # …and the edge stays sharp


def test_refinement_returns_a_band_of_sky_to_the_sky():
    """Superpixel regions from blurry features put a band of sky beside a rock into the rock's
    region (in14's dark blot); the pixel-level refinement gives it back to the sky."""
    h, w = 60, 80
    rgb = np.empty((3, h, w), np.float32)
    rgb[:] = np.array([0.55, 0.7, 0.95], np.float32)[:, None, None]  # sky
    rgb[:, 20:, 40:] = np.array([0.8, 0.35, 0.15], np.float32)[:, None, None]  # rock
    rng = np.random.default_rng(1)
    rgb = np.clip(rgb + 0.02 * rng.standard_normal(rgb.shape), 0, 1).astype(np.float32)
    lab = regions._lab(torch.from_numpy(rgb)[None])
    truth = np.zeros((h, w), int)
    truth[20:, 40:] = 1
    feat = np.stack([truth == 0, truth == 1]).astype(np.float32)
    feat = feat + 0.3 * rng.standard_normal(feat.shape).astype(np.float32)
    wrong = truth.copy()
    wrong[10:, 28:40] = 1  # the band beside the rock
    fixed = regions.refine(rgb, lab, feat, wrong)
    assert (fixed == truth).mean() > 0.98
    assert (fixed[10:, 28:40] == 0).mean() > 0.95


def test_auto_regions_separate_and_pair_sky_and_ground():
    torch.set_num_threads(1)
    net = load_backbone("efficientnet_lite0", "cpu")
    content = _scene()
    # The style: a warm sky over darker ground, another size.
    style = _scene(80, 120, seed=1, sky=(0.95, 0.6, 0.35), ground=(0.15, 0.3, 0.1))
    auto = regions.auto_masks(net, "efficientnet_lite0", _t(content), _t(style), (48, 64),
                              (40, 60))
    assert auto.content_masks.shape[1:] == (48, 64) and auto.style_masks.shape[1:] == (40, 60)
    assert np.allclose(auto.content_masks.sum(0), 1.0, atol=1e-4)
    top = auto.content_masks[:, 5].mean(1).argmax()
    bottom = auto.content_masks[:, 40].mean(1).argmax()
    assert top != bottom
    for r, row in ((top, 3), (bottom, 36)):
        # Each content region's partner lies where that part of the style is.
        assert auto.partners[r] is not None
        assert auto.style_masks[r, row].mean() > 0.8
    # The maps: paired regions share a colour.
    assert auto.content_map.dtype == np.uint8
    assert tuple(auto.content_map[2, 2]) == tuple(auto.style_map[2, 2])


def _labels(h, w, split):
    m = np.zeros((h, w, 3), np.uint8)
    m[:split] = (255, 0, 0)
    return m


def _run(imgs, **params):
    return registry.run("style.transfer", imgs, {"quality": "draft", "size": 48, **params})


def test_default_is_auto_and_labels_win():
    c = (_scene() * 255).astype(np.uint8)
    s = (_scene(80, 120, 1, sky=(0.9, 0.6, 0.3)) * 255).astype(np.uint8)
    base = [Image(c, role="content", name="c"), Image(s, role="style", name="s")]
    auto = _run(base, return_regions=True)
    assert auto.meta["region_source"] == "auto" and auto.meta["regions"]
    assert [i.role for i in auto.images] == ["result", "content_regions", "style_regions"]
    assert auto.images[1].pixels.shape == c.shape and auto.images[2].pixels.shape == s.shape
    assert len(_run(base).images) == 1  # maps only when asked for
    assert _run(base, regions="none").meta["region_source"] == "none"
    # User labels override the automatic regions (and come back as the region maps).
    cl, sl = _labels(96, 128, 43), _labels(80, 120, 20)
    res = _run(base + [Image(cl, role="content_labels"), Image(sl, role="style_labels")],
               return_regions=True)
    assert res.meta["region_source"] == "labels"
    assert set(res.meta["regions"]) == {"red (255,0,0)", "black (0,0,0)"}
    assert np.array_equal(res.images[1].pixels, cl) and np.array_equal(res.images[2].pixels, sl)


def test_draft_solves_small_and_returns_full_resolution(monkeypatch):
    monkeypatch.setitem(solve.ITERATIONS, "fast", SHIPPED_FAST)  # the draft as shipped
    c = (_scene(600, 800) * 255).astype(np.uint8)
    s = (_scene(90, 120, 1, sky=(0.95, 0.6, 0.35)) * 255).astype(np.uint8)
    res = registry.run("style.transfer", [Image(c, role="content"), Image(s, role="style")],
                       {"quality": "draft"})
    assert max(res.meta["working_size"]) == 128
    assert res.meta["iterations"] == SHIPPED_FAST["draft"]
    out = res.images[0].pixels
    assert out.shape == c.shape
    sky_c, sky_o, sky_s = (im.to_float(a)[: a.shape[0] // 3] for a in (c, out, s))
    mean = [a.reshape(-1, 3).mean(0) for a in (sky_c, sky_o, sky_s)]
    assert np.abs(mean[1] - mean[2]).sum() < np.abs(mean[0] - mean[2]).sum()  # the sky warmed…
    # …evenly: each row of the content's sky is one colour, and so is the draft's (five Adam
    # steps used to paint blotches of up to 0.1 into it)
    assert np.abs(sky_o - sky_o.mean(1, keepdims=True)).max() < 0.02


def test_the_first_preview_of_a_full_job_is_the_draft_and_comes_before_any_step(monkeypatch):
    """What the editor shows first while a standard job runs: the draft's look (the per-region
    colour maps), sent before the first optimisation step — not a grey wait until then."""
    c = (_scene(300, 400) * 255).astype(np.uint8)
    s = (_scene(90, 120, 1, sky=(0.95, 0.6, 0.35)) * 255).astype(np.uint8)
    imgs = [Image(c, role="content"), Image(s, role="style")]
    monkeypatch.setitem(solve.ITERATIONS, "fast", SHIPPED_FAST)
    draft = registry.run("style.transfer", imgs, {"quality": "draft", "size": 128})
    events: list[tuple[str, object]] = []
    steps: list[int] = []
    real = solve._optimise

    def counting(*a, **k):  # type: ignore[no-untyped-def]
        steps.append(len(events))
        return real(*a, **k)

    monkeypatch.setattr(solve, "_optimise", counting)
    monkeypatch.setitem(solve.ITERATIONS, "fast", {**SHIPPED_FAST, "standard": 3})
    registry.run("style.transfer", imgs, {"quality": "standard", "size": 128},
                 progress=lambda f, stage, *a: events.append((stage, a[0] if a else None)))
    shown = [(i, st, px) for i, (st, px) in enumerate(events) if px is not None]
    first_i, stage, first = shown[0]
    assert stage == "first look" and first_i < steps[0]
    px = np.asarray(first)  # the small sRGB u8 preview, as the daemon streams it
    ref = cv2.resize(draft.images[0].pixels, (px.shape[1], px.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(px[..., :3].astype(int) - ref.astype(int)).mean() < 4


def test_cli_save_regions_writes_both_maps(tmp_path, capsys):
    im.write_image(tmp_path / "c.png", (_scene() * 255).astype(np.uint8))
    im.write_image(tmp_path / "s.png", (_scene(80, 120, 1) * 255).astype(np.uint8))
    rc = main(["style", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o",
               str(tmp_path / "out.png"), "--quality", "draft", "--size", "32",
               "--save-regions", str(tmp_path / "regions.png"), "--device", "cpu"])
    assert rc == 0
    cmap, smap = region_paths(str(tmp_path / "regions.png"))
    assert smap.name == "regions-style.png"
    assert im.read_image(cmap).shape == (96, 128, 3)
    assert im.read_image(smap).shape == (80, 120, 3)
