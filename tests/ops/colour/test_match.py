"""The ``colour.match`` op: what a user sees after matching a layer to a reference."""

from __future__ import annotations

import numpy as np
import pytest

from darkroom import images as im
from darkroom.errors import Cancelled, InvalidInput
from darkroom.ops import registry
from darkroom.ops.colour import op as colour_op
from darkroom.ops.registry import Image

LUMA = np.array([0.2126, 0.7152, 0.0722])


def _pair(shared_data, name="in14"):
    d = shared_data / "photo_pairs" / name
    return im.read_image(d / "content.png"), im.read_image(d / "style.png")


def _run(content, reference, mask=None, ref_name="sunset", **params):
    imgs = [Image(reference, role="reference", name=ref_name),
            Image(content, role="content", name="photo", offset=(7, -3))]
    if mask is not None:
        imgs.append(Image(mask, role="mask", name="sky mask"))
    return registry.run("colour.match", imgs, params)


def _stats(pixels):
    colour = im.split_alpha(pixels)[0]
    x = im.to_float(colour).reshape(-1, colour.shape[2])
    return x.mean(0), np.cov(x.astype(np.float64), rowvar=False)


def _synthetic(h=60, w=80, seed=0, warm=False):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.3 + 0.5 * x, 0.4 + 0.3 * y, 0.6 - 0.3 * x], -1)
    if warm:
        img = img[..., ::-1] * np.array([1.0, 0.8, 0.4]) + 0.1
    img = img + 0.03 * rng.standard_normal((h, w, 3))
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


@pytest.mark.parametrize("pair", ["in00", "in14", "in17", "in34", "in58"])
def test_real_photo_takes_the_references_colour_mean_and_covariance(shared_data, pair):
    content, reference = _pair(shared_data, pair)
    res = _run(content, reference)
    out = res.images[0]
    assert out.role == "result" and out.name == "Colour match: sunset"
    assert out.pixels.shape == content.shape and out.pixels.dtype == np.uint8
    c, r, o = (im.to_float(a).reshape(-1, 3).astype(np.float64) for a in
               (content, reference, out.pixels))
    # The map (fitted on a 256k-pixel sample of these ~330k-pixel photos) gives the whole
    # layer the reference's mean and covariance, before 8-bit rounding and clipping to [0, 1].
    assert res.meta["samples"] == {"content": 1 << 18, "reference": 1 << 18}
    m = np.array(res.meta["map"])
    mapped = c @ m[:, :3].T + m[:, 3]
    assert np.abs(mapped.mean(0) - r.mean(0)).max() < 0.005
    cr = np.cov(r, rowvar=False)
    assert np.linalg.norm(np.cov(mapped, rowvar=False) - cr) / np.linalg.norm(cr) < 0.02
    # What the user gets is clipped to [0, 1] (up to a third of a channel on these pairs: the
    # reference's spread stretched onto a flatter layer), so its mean is near the reference's,
    # not on it: at least five times nearer than the layer's was.
    assert np.abs(o.mean(0) - r.mean(0)).sum() < 0.2 * np.abs(c.mean(0) - r.mean(0)).sum()
    assert np.abs(o.mean(0) - r.mean(0)).max() < 0.1
    # One global affine map: the layout (luminance) is kept.
    assert np.corrcoef(c @ LUMA, o @ LUMA)[0, 1] > 0.9


def test_a_pair_within_gamut_takes_the_references_covariance_as_displayed(shared_data):
    """in34 (a white church → a warm cloister) leaves [0, 1] little: the clipped output's
    mean and covariance are the reference's within a few per cent."""
    content, reference = _pair(shared_data, "in34")
    o, r = (_stats(a) for a in (_run(content, reference).images[0].pixels, reference))
    assert np.abs(o[0] - r[0]).max() < 0.01
    assert np.linalg.norm(o[1] - r[1]) / np.linalg.norm(r[1]) < 0.15


def test_numpy_map_is_the_style_methods_start(shared_data):
    """The same map as style/colour.py's colour_transform (the photo methods' start)."""
    torch = pytest.importorskip("torch")
    from darkroom.ops.style.colour import colour_transform

    content, reference = _pair(shared_data)
    c, r = im.to_float(content[::4, ::4]), im.to_float(reference[::4, ::4])
    a, b = colour_op.monge_map(c.reshape(-1, 3).astype(np.float64), np.ones(c[..., 0].size),
                               r.reshape(-1, 3).astype(np.float64), np.ones(r[..., 0].size))
    t = colour_transform(*(torch.from_numpy(x).double().permute(2, 0, 1)[None] for x in (c, r)))
    assert np.allclose(np.concatenate([a, b[:, None]], 1), t.numpy(), atol=1e-6)


def test_strength_zero_keeps_the_layer_and_half_lies_between(shared_data):
    content, reference = _pair(shared_data, "in58")
    zero = _run(content, reference, strength=0.0).images[0].pixels
    assert np.array_equal(zero, content)
    full = _run(content, reference).images[0].pixels.astype(int)
    half = _run(content, reference, strength=0.5).images[0].pixels.astype(int)
    c = content.astype(int)
    assert (half >= np.minimum(c, full) - 1).all() and (half <= np.maximum(c, full) + 1).all()
    # …and visibly in the middle, not at either end.
    moved, moved_half = np.abs(full - c).mean(), np.abs(half - c).mean()
    assert 0.35 * moved < moved_half < 0.65 * moved


def test_alpha_offset_and_sixteen_bits_are_kept():
    rgb = _synthetic().astype(np.uint16) * 257
    alpha = np.tile(np.linspace(0, 65535, 80, dtype=np.uint16), (60, 1))[..., None]
    rgba = np.concatenate([rgb, alpha], 2)
    out = _run(rgba, _synthetic(seed=1, warm=True)).images[0]
    assert out.pixels.dtype == np.uint16 and out.pixels.shape == rgba.shape
    assert np.array_equal(out.pixels[..., 3], rgba[..., 3])
    assert out.offset == (7, -3) and out.colorspace == "srgb"
    # 16 bits in, 16 bits of precision out (not 8-bit values scaled up).
    assert (out.pixels[..., :3] % 257 != 0).mean() > 0.5
    # The layer's pixels weigh by their alpha: its alpha-weighted mean is the reference's.
    w = im.to_float(alpha).ravel()
    mean = w @ im.to_float(out.pixels[..., :3]).reshape(-1, 3) / w.sum()
    assert np.abs(mean - _stats(_synthetic(seed=1, warm=True))[0]).max() < 0.02


def test_float_and_linear_layers_keep_their_format():
    f = im.to_float(_synthetic())
    out = registry.run("colour.match", [
        Image(f, role="content", colorspace="linear"),
        Image(_synthetic(seed=1, warm=True), role="reference", colorspace="srgb")]).images[0]
    assert out.pixels.dtype == np.float32 and out.colorspace == "linear"
    # The reference was brought into linear light before the fit: the output's mean is the
    # reference's linear mean.
    ref_linear = im.srgb_to_linear(im.to_float(_synthetic(seed=1, warm=True)))
    assert np.allclose(out.pixels.reshape(-1, 3).mean(0), ref_linear.reshape(-1, 3).mean(0),
                       atol=0.01)


def test_preserve_luminance_keeps_brightness_and_moves_colour(shared_data):
    content, reference = _pair(shared_data, "in14")
    out = _run(content, reference, preserve_luminance=True).images[0].pixels
    c, r, o = (im.to_float(a).reshape(-1, 3).astype(np.float64) for a in
               (content, reference, out))
    yc, yo = c @ LUMA, o @ LUMA
    assert np.median(np.abs(yo - yc)) < 2 / 255  # 8-bit rounding
    assert np.abs(yo - yc).mean() < 0.01  # and a few clipped saturated pixels
    # Chroma (colour minus luminance) moved towards the reference's.
    chroma = [x - (x @ LUMA)[:, None] for x in (c, r, o)]
    dc = np.abs(chroma[0].mean(0) - chroma[1].mean(0)).sum()
    do = np.abs(chroma[2].mean(0) - chroma[1].mean(0)).sum()
    assert do < 0.5 * dc
    # The plain match changes the brightness much more.
    plain = im.to_float(_run(content, reference).images[0].pixels).reshape(-1, 3) @ LUMA
    assert np.abs(plain - yc).mean() > 3 * np.abs(yo - yc).mean()


def test_a_mask_limits_fit_and_result_to_the_masked_part():
    content, reference = _synthetic(), _synthetic(seed=1, warm=True)
    mask = np.zeros((60, 80, 1), np.uint8)
    mask[:, 40:] = 255
    out = _run(content, reference, mask).images[0].pixels
    assert np.array_equal(out[:, :40], content[:, :40])
    assert np.abs(_stats(out[:, 40:])[0] - _stats(reference)[0]).max() < 0.02


def test_a_mask_of_another_size_is_refused_with_both_sizes():
    with pytest.raises(InvalidInput, match=r"mask 'sky mask' is 40×30 pixels but the layer "
                       r"'photo' is 80×60"):
        _run(_synthetic(), _synthetic(seed=1), np.zeros((30, 40, 1), np.uint8))


def test_one_colour_reference_gives_its_colour_and_finite_values():
    flat = np.zeros((20, 30, 3), np.uint8) + np.array([200, 120, 40], np.uint8)
    out = _run(_synthetic(), flat).images[0].pixels.astype(int)
    # The ridge (1e-5 on the covariance) leaves a spread of √1e-5 ≈ 0.8/255 per channel.
    assert np.abs(out - [200, 120, 40]).mean() < 1.0 and np.abs(out - [200, 120, 40]).max() <= 4
    f = _run(im.to_float(_synthetic()), im.to_float(flat)).images[0].pixels
    assert np.isfinite(f).all()
    # A flat layer matched to a photo stays flat (nothing to spread) and takes its mean.
    flat_out = _run(flat, _synthetic(seed=1)).images[0].pixels
    assert np.isfinite(flat_out).all() and len(np.unique(flat_out.reshape(-1, 3), axis=0)) == 1


def test_reference_alpha_fits_on_its_opaque_pixels_only():
    ref = np.concatenate([_synthetic(seed=1, warm=True), np.full((60, 80, 1), 255, np.uint8)], 2)
    ref[:, :40] = [0, 255, 0, 0]  # transparent green: not part of the reference
    out = _run(_synthetic(), ref).images[0].pixels
    assert np.abs(_stats(out)[0] - _stats(ref[:, 40:, :3])[0]).max() < 0.02
    clear = ref.copy()
    clear[..., 3] = 0
    with pytest.raises(InvalidInput, match="fully transparent"):
        _run(_synthetic(), clear)


def test_grey_layers_are_matched_as_grey(shared_data):
    content, reference = _pair(shared_data, "in58")
    grey = (im.to_float(content) @ LUMA.astype(np.float32) * 255 + 0.5).astype(np.uint8)[..., None]
    grey_alpha = np.concatenate([grey, np.full_like(grey, 99)], 2)
    out = _run(grey_alpha, reference).images[0].pixels
    assert out.shape == grey_alpha.shape and (out[..., 1] == 99).all()
    ry = im.to_float(reference).reshape(-1, 3) @ LUMA
    oy = im.to_float(out[..., 0]).ravel()
    assert abs(oy.mean() - ry.mean()) < 0.02 and abs(oy.std() / ry.std() - 1) < 0.1
    # A colour layer matched to a grey reference takes its greys.
    col = _run(content, grey).images[0].pixels.astype(int)
    assert np.abs(col - col.mean(2, keepdims=True)).mean() < 2


def test_progress_preview_and_cancel():
    content = _synthetic(600, 1000)
    seen = []
    registry.run("colour.match", [Image(content, role="content"),
                                  Image(_synthetic(seed=1), role="reference")],
                 progress=lambda f, stage="", preview=None: seen.append((f, stage, preview)))
    assert seen[-1][0] == 1.0
    assert {s for _, s, _ in seen} >= {"fitting the colour map", "applying the colour map"}
    previews = [p for _, _, p in seen if p is not None]
    assert previews and all(p.dtype == np.uint8 and p.shape[2] == 3 and max(p.shape) <= 256
                            for p in previews)
    with pytest.raises(Cancelled):
        registry.run("colour.match", [Image(content, role="content"),
                                      Image(_synthetic(seed=1), role="reference")],
                     cancelled=lambda: True)


def test_the_editors_and_the_cli_see_the_description():
    spec = registry.load_all()["colour.match"]
    d = spec.describe()
    assert d["title"] == "Colour Match…" and d["result_prefix"] == "Colour match: "
    assert [(i["role"], i["label"], i["source"], i["optional"]) for i in d["images"]] == [
        ("content", "Layer", "active", False), ("reference", "Reference", "layer", False),
        ("mask", "Mask", "layer", True)]
    assert all(i["help"] for i in d["images"])
    params = {p["name"]: p for p in d["params"]}
    assert params["strength"]["default"] == 1.0 and params["strength"]["label"] == "Strength"
    assert (params["strength"]["minimum"], params["strength"]["maximum"]) == (0.0, 1.0)
    assert params["preserve_luminance"]["default"] is False
    assert params["preserve_luminance"]["label"] == "Keep the layer's brightness"
    assert all(p["help"] and p["editor"] for p in d["params"])
    assert (spec.min_images, spec.max_images) == (2, 3)


def test_darkroom_colour_match_help_lists_the_options(capsys):
    from darkroom import cli

    with pytest.raises(SystemExit) as e:
        cli.main(["colour", "match", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--strength" in out and "--preserve-luminance" in out
