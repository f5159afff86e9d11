"""Backbone loading: the package's EfficientNet-Lite0 weights, VGG19 from a created file,
and readable errors for missing or corrupt weights files."""

from pathlib import Path

import numpy as np
import pytest
import torch

from darkroom.errors import ModelUnavailable
from darkroom.models import load_backbone

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "photo_pairs"


def test_efficientnet_lite0_package_weights_classify_a_real_photo():
    net = load_backbone("efficientnet_lite0", "cpu")
    assert load_backbone("efficientnet_lite0", "cpu") is net  # cached per process
    feats = net.features(torch.rand(1, 3, 64, 64), ["stem", "block5.dw", "block8.dw"])
    assert feats["stem"].shape[1] == 32 and feats["block8.dw"].shape[1] == 480
    if not DATA.is_dir():
        pytest.skip("../shared/data/photo_pairs is not present (test data, not shipped)")
    from darkroom import images as im

    px = im.to_rgb_float(im.read_image(DATA / "in00" / "content.png"))  # the Louvre pyramid
    img = torch.from_numpy(px).permute(2, 0, 1)[None]
    tops = []
    for size in ((224, 250), (280, 312)):
        with torch.no_grad():
            p = net(torch.nn.functional.interpolate(img, size=size, mode="area")).softmax(1)
        tops.append(set(p.topk(3).indices[0].tolist()))
        assert p.max() > 0.04  # 40× chance: random weights give ~0.001
    # ImageNet 580 greenhouse, 718 pier, 727 planetarium: a glass structure by the water.
    assert tops[0] & tops[1] & {580, 718, 727}


def test_vgg19_loads_a_created_weights_file(tmp_path):
    from torchvision.models import vgg19

    torch.manual_seed(0)
    sd = vgg19(weights=None).state_dict()
    path = tmp_path / "vgg19.pth"
    torch.save(sd, path)
    net = load_backbone("vgg19", "cpu", str(path))
    w = net.body[0].weight
    assert torch.equal(w, sd["features.0.weight"])
    f = net.features(torch.rand(1, 3, 64, 64), ["relu1_1", "relu4_2"])
    assert f["relu1_1"].shape == (1, 64, 64, 64) and f["relu4_2"].shape == (1, 512, 8, 8)


def test_missing_corrupt_and_wrong_weights_are_sentences(tmp_path):
    with pytest.raises(ModelUnavailable, match="does not exist"):
        load_backbone("vgg19", "cpu", str(tmp_path / "nope.pth"))
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelUnavailable, match="could not be read"):
        load_backbone("vgg19", "cpu", str(bad))
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.from_numpy(np.zeros((3, 3), np.float32))}, wrong)
    with pytest.raises(ModelUnavailable):
        load_backbone("vgg19", "cpu", str(wrong))
    with pytest.raises(ModelUnavailable):
        load_backbone("efficientnet_lite0", "cpu", str(wrong))


def test_backbone_first_loaded_in_inference_mode_still_backpropagates() -> None:
    """Sketch search loads the shared backbone under inference_mode; style transfer then
    optimises through the same cached instance."""
    import torch

    from darkroom.models import backbones

    backbones._cache.clear()
    with torch.inference_mode():
        net = backbones.load_backbone("efficientnet_lite0")
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    net.features(x, ["block2"])["block2"].mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_sketch_search_then_style_gradients_in_one_process() -> None:
    """The daemon runs every op in one process: embedding a sketch must leave the shared
    backbone usable for style transfer's optimisation."""
    import numpy as np
    import torch

    from darkroom.models import load_backbone
    from darkroom.ops.sketch.embed import embed_sketches

    g = np.ones((64, 64), np.float32)
    g[20:44, 30:34] = 0.0
    embed_sketches([g])
    net = load_backbone("efficientnet_lite0")
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    net.features(x, ["block2"])["block2"].mean().backward()
    assert x.grad is not None
