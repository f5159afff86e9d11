"""The matting Laplacian (Levin et al. 2008): symmetric, PSD, null space of affine images."""

import numpy as np
import pytest
import torch

from darkroom.ops.style import laplacian


def _image(h=7, w=8, seed=0):
    return np.random.default_rng(seed).random((h, w, 3))


def test_symmetric_and_positive_semidefinite():
    lap = laplacian.matting_laplacian(_image()).toarray()
    assert lap.shape == (56, 56)
    assert np.allclose(lap, lap.T, atol=1e-10)
    assert np.linalg.eigvalsh(lap).min() > -1e-8


def test_constant_and_affine_colour_images_are_in_the_null_space():
    img = _image()
    lap = laplacian.matting_laplacian(img, eps=1e-9)
    ones = np.ones(img.shape[0] * img.shape[1])
    assert np.abs(lap @ ones).max() < 1e-8
    # Any affine function of the colours: a·I + b.
    v = img.reshape(-1, 3) @ np.array([0.3, -1.2, 2.0]) + 0.7
    assert (v @ (lap @ v)) < 1e-6 * (v @ v)
    # A non-affine change (a square) is not: the term that makes DPST photorealistic.
    sq = v**2
    assert (sq @ (lap @ sq)) > 1e-3 * (sq @ sq)


def test_torch_loss_matches_scipy_quadratic_form():
    img = _image(5, 6, 1)
    lap = laplacian.matting_laplacian(img)
    out = np.random.default_rng(2).random((5, 6, 3))
    expect = sum(out[..., c].ravel() @ (lap @ out[..., c].ravel()) for c in range(3)) / 30
    x = torch.from_numpy(out).float().permute(2, 0, 1)[None].requires_grad_(True)
    got = laplacian.photorealism_loss(x, laplacian.to_torch(lap))
    got.backward()
    assert abs(got.item() - expect) < 1e-4 * max(1.0, expect)
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_loss_gradient_matches_autograd_through_the_dense_matrix():
    img = _image(6, 7, 3)
    lap = laplacian.matting_laplacian(img)
    out = torch.from_numpy(np.random.default_rng(4).random((1, 3, 6, 7))).float()
    x = out.clone().requires_grad_(True)
    laplacian.photorealism_loss(x, laplacian.to_torch(lap)).backward()
    dense = torch.from_numpy(lap.toarray()).float()
    y = out.clone().requires_grad_(True)
    v = y[0].reshape(3, -1).t()
    ((v * (dense @ v)).sum() / v.shape[0]).backward()
    assert torch.allclose(x.grad, y.grad, atol=1e-6, rtol=1e-4)


def test_building_stops_when_the_check_raises():
    class Stop(Exception):
        pass

    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise Stop

    with pytest.raises(Stop):
        laplacian.matting_laplacian(_image(200, 120, 5), check=check)
    assert len(calls) == 2  # checked between chunks, not only at the start
