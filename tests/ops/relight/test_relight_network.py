"""The per-cluster networks (Ren et al. Sec. 5): the fast chunked renderer computes exactly
what the networks say, clusters are compact, and a trained model really interpolates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from darkroom.ops.relight import network, synth
from darkroom.ops.relight.baselines import Interpolator, nearest_light

pytestmark = pytest.mark.usefixtures("one_thread")


def _random_model(h: int, w: int, members: int = 2) -> network.RelightModel:
    mean = np.random.default_rng(0).uniform(0.1, 1, (h, w, 3)).astype(np.float32)
    k = network.n_clusters(h * w)
    xy = network._pixel_grid(h, w, "cpu")
    cl = [network.Clustering.build(*(torch.as_tensor(a) for a in network.clusters(mean, k, m)),
                                   xy, k) for m in range(members)]
    nets = network.ClusterNets.init(members * k, 2 + 4 * network.LIGHT_FREQS, "cpu",
                                    torch.Generator().manual_seed(1))
    for t in nets.p.values():
        t.requires_grad_(False)
    return network.RelightModel(nets, cl, k, torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0]),
                                mean, "cpu")


def test_chunked_render_equals_each_pixels_own_network() -> None:
    model = _random_model(37, 53)  # odd sizes: clusters of uneven size, padded chunks
    lights = np.array([[0.2, 0.7], [0.9, 0.1]])
    fast = model.render(lights, block=300)  # many blocks
    lf = model.light_input(lights)
    ref = torch.zeros(2, 37 * 53, 3)
    pix = torch.arange(37 * 53)
    p = model.nets.p

    def net(rows: torch.Tensor, centre_of: torch.Tensor, xi_light: torch.Tensor) -> torch.Tensor:
        x = torch.cat([cl.local(model.xy, pix, centre_of), model.albedo, xi_light], 1)[:, None]
        hid = torch.relu(x @ p["w1"][rows] + p["b1"][rows])
        hid = torch.relu(hid @ p["w2"][rows] + p["b2"][rows])
        o = (hid @ p["w3"][rows] + p["b3"][rows])[:, 0]
        return torch.sigmoid(o[:, 6:7]) * (model.albedo * o[:, :3] + o[:, 3:6])  # visibility gate

    for m, cl in enumerate(model.members):
        second = cl.second.clamp(min=0)  # where blend is 0 its value does not matter
        assert ((cl.blend > 0) <= (cl.second >= 0)).all() and cl.blend.max() <= 0.5
        for i in range(2):
            li = lf[i].expand(len(pix), -1)
            own = net(m * model.k + cl.labels, cl.labels, li)  # every pixel's own network
            other = net(m * model.k + second, second, li)  # ... and its seam neighbour's
            ref[i] += (1 - cl.blend)[:, None] * own + cl.blend[:, None] * other
    ref = (ref / len(model.members)).reshape(2, 37, 53, 3).numpy()
    np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-5)


def test_clusters_are_compact_and_differ_between_members() -> None:
    mean = np.full((64, 64, 3), 0.5, np.float32)
    k = network.n_clusters(64 * 64)
    (a, second, blend), (b, _, _) = network.clusters(mean, k, 0), network.clusters(mean, k, 1)
    assert a.shape == (64 * 64,) and 0 <= a.min() and a.max() < k
    yy, xx = np.divmod(np.arange(64 * 64), 64)
    for lab in range(k):  # on a flat image a cluster is a blob about √(HW/k) wide
        sel = a == lab
        if sel.any():
            assert np.ptp(xx[sel]) < 3 * 64 / np.sqrt(k) and np.ptp(yy[sel]) < 3 * 64 / np.sqrt(k)
    assert (a != b).mean() > 0.2  # members' seams lie in different places
    # the cross-fade band: some pixels near seams, blended ½ on the seam, none far inside
    assert 0.05 < (blend > 0).mean() < 0.6 and blend.max() <= 0.5
    assert (second[blend > 0] != a[blend > 0]).all()


def test_trained_model_interpolates_between_lights(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between captured lights the answer beats the nearest captured photo: moving shading
    and highlights are interpolated, not snapped to a neighbour."""
    monkeypatch.setitem(network.QUALITY, "test", network.Quality(2, 200, 16))
    scene = synth.make_scene(2, 3)
    grid = synth.grid_lights(6)
    held = [(0.3, 0.5), (0.5, 0.3), (0.7, 0.62)]
    stack, truth = synth.render_stack(scene, 32, grid), synth.render_stack(scene, 32, held)
    scale = float(np.percentile(stack, 99.9))
    model, stats = network.train(stack / scale, np.array(grid), "test", "cpu",
                                 lambda f, s: None, lambda: False)
    ours = model.render(np.array(held)) * scale
    interp = Interpolator(np.array(grid))
    near = np.stack([nearest_light(stack, interp, np.array(t)) for t in held])
    err_ours, err_near = np.abs(ours - truth).mean(), np.abs(near - truth).mean()
    assert err_ours < 0.6 * err_near, (err_ours, err_near)
    assert stats["train_rmse"] < 0.1 and stats["members"] == 2
