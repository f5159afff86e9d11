"""The RTI baselines (PTM, HSH-2, HSH-3 in :mod:`darkroom.ops.relight.baselines`): reference
properties of the bases and exact fits of signals in their span."""

from __future__ import annotations

import numpy as np
import pytest

from darkroom.ops.relight.baselines import BasisFit, hemisphere_dirs, hsh_basis, ptm_basis


def _dirs(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    th = rng.uniform(0, np.radians(75), n)
    ph = rng.uniform(-np.pi, np.pi, n)
    return np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], 1)


def test_hsh_is_orthonormal_on_the_hemisphere() -> None:
    """Gautron et al. 2004: ∫ H_i H_j dω over the upper hemisphere = δ_ij."""
    n_t, n_p = 300, 600
    th = (np.arange(n_t) + 0.5) * (np.pi / 2 / n_t)
    ph = (np.arange(n_p) + 0.5) * (2 * np.pi / n_p) - np.pi
    t, p = np.meshgrid(th, ph)
    d = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    b = hsh_basis(d, 3)
    w = (np.sin(t) * (np.pi / 2 / n_t) * (2 * np.pi / n_p)).ravel()
    np.testing.assert_allclose((b * w[:, None]).T @ b, np.eye(9), atol=2e-3)
    assert hsh_basis(d[:5], 2).shape == (5, 4)


@pytest.mark.parametrize("kind, basis", [("ptm", ptm_basis),
                                         ("hsh2", lambda d: hsh_basis(d, 2)),
                                         ("hsh3", lambda d: hsh_basis(d, 3))])
def test_fit_reproduces_signals_in_its_span(kind: str, basis) -> None:
    rng = np.random.default_rng(1)
    train, test = _dirs(30, 2), _dirs(5, 3)
    k = basis(train[:1]).shape[1]
    coef = rng.normal(size=(k, 6, 7, 3)).astype(np.float32)
    stack = np.einsum("nk,khwc->nhwc", basis(train), coef)
    fit = BasisFit(stack, train, kind)
    for t in test:
        np.testing.assert_allclose(fit(t), np.einsum("k,khwc->hwc", basis(t[None])[0], coef),
                                   rtol=1e-3, atol=1e-3)


def test_ptm_is_the_biquadratic_in_lu_lv() -> None:
    d = np.array([[0.3, -0.2, np.sqrt(1 - 0.13)]])
    np.testing.assert_allclose(ptm_basis(d), [[0.09, 0.04, -0.06, 0.3, -0.2, 1.0]])


def test_positions_map_to_the_hemisphere_in_one_frame() -> None:
    pos = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    d = hemisphere_dirs(pos)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1)
    np.testing.assert_allclose(d[2], [0, 0, 1], atol=1e-12)
    assert d[0, 0] < 0 < d[0, 1] and d[1, 0] > 0 > d[1, 1]  # v points down the image
    # a target uses the training stack's box, not its own
    box = (pos.min(0), pos.max(0))
    np.testing.assert_allclose(hemisphere_dirs(pos[2:3], box), d[2:3])
