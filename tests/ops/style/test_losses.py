"""Losses of :mod:`darkroom.ops.style.losses`: reference values on tiny inputs."""

import torch

from darkroom.ops.style import losses


def test_gram_reference_values():
    # Two channels over two pixels: F = [[1, 2], [3, 4]] → F Fᵀ / 2.
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    assert torch.allclose(losses.gram(f), torch.tensor([[2.5, 5.5], [5.5, 12.5]]))


def test_masked_gram_is_the_region_own_statistics():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    only_second = torch.tensor([[0.0, 1.0]])
    # Only pixel 2 counts, and it is averaged over the region (one pixel), not the image.
    assert torch.allclose(losses.gram(f, only_second), torch.tensor([[4.0, 8.0], [8.0, 16.0]]))


def test_style_loss_zero_for_own_gram_and_positive_otherwise():
    torch.manual_seed(0)
    f = torch.rand(1, 4, 5, 5)
    g = losses.gram(f)[None]
    assert losses.style_loss(f, g).item() < 1e-10
    assert losses.style_loss(f * 2, g).item() > 1.0  # Gram grows ×4: relative error (4-1)² = 9
    assert abs(losses.style_loss(f * 2, g).item() - 9.0) < 1e-4


def test_region_weights_scale_region_terms():
    torch.manual_seed(0)
    f = torch.rand(1, 3, 4, 4)
    masks = torch.zeros(2, 4, 4)
    masks[0, :2], masks[1, 2:] = 1, 1
    grams = torch.stack([losses.gram(f, m) for m in masks])
    wrong = grams.flip(0)
    full = losses.style_loss(f, wrong, masks, torch.tensor([1.0, 1.0]))
    half = losses.style_loss(f, wrong, masks, torch.tensor([0.5, 0.5]))
    assert full.item() > 0 and abs(half.item() - full.item() / 2) < 1e-6


def test_content_loss_and_tv_reference_values():
    t = torch.ones(1, 1, 2, 2)
    assert abs(losses.content_loss(t * 3, t).item() - 4.0) < 1e-6
    img = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).reshape(1, 1, 2, 2)
    # Horizontal steps of 1 everywhere (mean 1), no vertical change.
    assert abs(losses.total_variation(img).item() - 1.0) < 1e-6


def test_edge_loss_reference_values():
    # A vertical step of 1 in every channel: luma steps by 1 between columns 0 and 1.
    img = torch.zeros(1, 3, 3, 3)
    img[..., 1:] = 1.0
    g = losses.luma_gradients(img)
    assert g.shape == (2, 2, 2)
    assert torch.allclose(g[0], torch.tensor([[1.0, 0.0], [1.0, 0.0]]), atol=1e-6)
    assert g[1].abs().max() < 1e-6
    assert losses.edge_loss(img, g).item() < 1e-12
    # A flat image has lost the whole edge: the squared gradients, relative to the target's.
    assert abs(losses.edge_loss(torch.zeros_like(img), g).item() - 1.0) < 1e-6


def test_mrf_loss_zero_on_the_style_itself_and_matches_by_correlation():
    torch.manual_seed(0)
    s = torch.rand(1, 3, 6, 6)
    patches = losses.style_patches(s)
    assert patches.shape == (16, 27)
    assert losses.mrf_loss(s, patches).item() < 1e-10
    # A brighter copy matches the same patches (normalised correlation ignores the scale)
    # and is pulled back towards them.
    assert losses.mrf_loss(s * 1.5, patches).item() > 0.1


def test_mrf_coverage_spreads_matches_over_the_style():
    # Two style patches; both output patches lie nearest the first. Plain CNNMRF reuses it;
    # the guided-correspondence rule sends the second output patch to the unused one.
    style = torch.tensor([[1.0, 0.0], [1.0, 0.3]])
    out = torch.tensor([[1.0, 0.0], [1.0, 0.05]])
    assert losses.mrf_matches(out, style).tolist() == [0, 0]
    assert losses.mrf_matches(out, style, coverage=1e-4).tolist() == [0, 1]
    # The style itself still matches itself exactly: zero loss.
    torch.manual_seed(0)
    s = torch.rand(1, 4, 6, 6)
    assert losses.mrf_loss(s, losses.style_patches(s), coverage=0.05).item() < 1e-10
