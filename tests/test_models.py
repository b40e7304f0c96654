"""Unit tests for utils.models: offline weights, heads, freezing and BatchNorm handling."""

from urllib.error import URLError

import pytest
import torch
from PIL import Image
from skimage import data as skimage_data
from sklearn.datasets import load_sample_image

from utils import data, models


@pytest.fixture(scope="module")
def imagenet():
    return models.imagenet_model()


def _top(net, image, k=3):
    x = data.make_transform(224)(image).unsqueeze(0)
    with torch.inference_mode():
        idx = net(x).topk(k).indices[0].tolist()
    return [models.imagenet_categories()[i] for i in idx]


def test_offline_weights_recognise_real_photos(imagenet):
    assert {"tabby", "tiger cat", "Egyptian cat"} & set(
        _top(imagenet, Image.fromarray(skimage_data.chelsea())))
    assert _top(imagenet, Image.fromarray(skimage_data.coffee()), 1) == ["espresso"]
    assert _top(imagenet, Image.fromarray(load_sample_image("flower.jpg")), 1) == ["daisy"]


def test_random_weights_differ_from_pretrained(imagenet):
    random_net = models.imagenet_model(pretrained=False)
    assert not torch.equal(random_net.conv_stem.weight, imagenet.conv_stem.weight)


def test_imagenet_categories():
    cats = models.imagenet_categories()
    assert len(cats) == 1000 and cats[281] == "tabby"


def test_create_model_shapes_and_counts():
    m = models.create_model(5)
    assert m.feature_dim == 1280 and m.num_classes == 5
    assert m(torch.randn(2, 3, 64, 64)).shape == (2, 5)
    counts = m.count_parameters()
    assert counts["trainable"] == 1280 * 5 + 5  # feature extraction: only the head trains
    assert counts["total"] > 3_000_000


def test_freeze_depths():
    m = models.create_model(3)
    n = len(m.stages)
    trainable = [m.freeze(k).count_parameters()["trainable"] for k in range(n + 1)]
    assert trainable == sorted(trainable) and len(set(trainable)) == n + 1
    assert m.freeze("all").count_parameters()["trainable"] == m.count_parameters()["total"]
    with pytest.raises(ValueError, match="trainable_stages"):
        m.freeze(-1)


def test_frozen_batchnorm_stays_in_eval_mode():
    m = models.create_model(3, trainable_stages=1)
    m.train()
    frozen_bn = [mod for stage in m.frozen_modules() for mod in stage.modules()
                 if isinstance(mod, torch.nn.BatchNorm2d)]
    trainable_bn = [mod for mod in m.stages[-1].modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    assert frozen_bn and not any(bn.training for bn in frozen_bn)
    assert all(bn.training for bn in trainable_bn)
    before = frozen_bn[0].running_mean.clone()
    m(torch.randn(4, 3, 64, 64) * 3)
    assert torch.equal(before, frozen_bn[0].running_mean)
    # the pitfall: with freeze_bn off, a "frozen" body's statistics drift
    m.freeze_bn = False
    m.train()
    m(torch.randn(4, 3, 64, 64) * 3)
    assert not torch.equal(before, frozen_bn[0].running_mean)


def test_parameter_groups_use_lower_body_rate():
    m = models.create_model(3, trainable_stages=2)
    groups = {g["name"]: g for g in m.parameter_groups(1e-2)}
    assert groups["head"]["lr"] == 1e-2 and groups["body"]["lr"] == pytest.approx(1e-3)
    assert "body" not in {g["name"] for g in models.create_model(3).parameter_groups(1e-2)}


def test_four_initialisation_options(imagenet):
    full = imagenet.state_dict()
    c = models.create_model(4)  # pretrained body, random head
    assert torch.equal(c.body.conv_stem.weight, full["conv_stem.weight"])
    d = models.create_model(1000, body_weights="random", head_weights="imagenet")
    assert torch.equal(d.head.weight, full["classifier.weight"])
    assert not torch.equal(d.body.conv_stem.weight, full["conv_stem.weight"])
    b = models.create_model(1000, head_weights="imagenet")
    assert torch.equal(b.head.weight, full["classifier.weight"])
    with pytest.raises(ValueError, match="1000 units"):
        models.create_model(4, head_weights="imagenet")


def test_seeded_heads_are_reproducible():
    a = models.create_model(3, body_weights="random", seed=1)
    b = models.create_model(3, body_weights="random", seed=1)
    assert torch.equal(a.head.weight, b.head.weight)
    assert torch.equal(a.body.conv_stem.weight, b.body.conv_stem.weight)


@pytest.mark.parametrize("how", ["default", "zeros", "normal"])
def test_init_head(how):
    head = models.init_head(torch.nn.Linear(10, 3), how)
    if how == "zeros":
        assert head.weight.abs().sum() == 0
    elif how == "normal":
        assert head.weight.std() < 0.05
    with pytest.raises(ValueError, match="head_init"):
        models.init_head(head, "xavier-ish")


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="Unknown backbone"):
        models.create_model(3, backbone="vgg99")
    with pytest.raises(ValueError, match="at least 2"):
        models.create_model(1)
    with pytest.raises(ValueError, match="imagenet' or 'random"):
        models.create_model(3, body_weights="pretrained")


def test_torchvision_backbone_offline_gives_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(models.torchvision.models, "get_model", offline)
    with pytest.raises(models.WeightsUnavailableError, match="offline"):
        models.create_model(3, backbone="resnet50")


def test_torchvision_backbone_structure_without_download():
    m = models.create_model(3, backbone="resnet18", body_weights="random")
    assert m.feature_dim == 512 and len(m.stages) == 5
    assert m(torch.randn(1, 3, 64, 64)).shape == (1, 3)


def test_feature_maps_go_from_fine_to_coarse(imagenet):
    maps = models.feature_maps(imagenet, torch.randn(1, 3, 224, 224))
    sizes = [t.shape[-1] for _, t in maps]
    channels = [t.shape[1] for _, t in maps]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 112
    assert channels == sorted(channels)
