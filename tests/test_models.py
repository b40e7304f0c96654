"""Unit tests for utils.models: offline weights, heads, freezing and BatchNorm handling."""

from urllib.error import URLError

import pytest
import torch
from PIL import Image
from skimage import data as skimage_data
from sklearn.datasets import load_sample_image

from utils import checkpoint, models


@pytest.fixture(scope="module")
def imagenet():
    return models.imagenet_model()


def _top(net, image, k=3):
    x = checkpoint.make_transform(224)(image).unsqueeze(0)
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
    m = models.freeze(models.create_model(5))
    assert m.head.in_features == 1280 and m.head.out_features == 5
    assert m(torch.randn(2, 3, 64, 64)).shape == (2, 5)
    trainable, total = models.count_parameters(m)
    assert trainable == 1280 * 5 + 5  # feature extraction: only the head trains
    assert total > 3_000_000


def test_freeze_depths():
    m = models.create_model(3)
    n = len(m.stages)
    trainable = [models.count_parameters(models.freeze(m, k))[0] for k in range(n + 1)]
    assert trainable == sorted(trainable) and len(set(trainable)) == n + 1
    trainable, total = models.count_parameters(models.freeze(m, "all"))
    assert trainable == total
    for bad in (-1, n + 1):
        with pytest.raises(ValueError, match="trainable_stages"):
            models.freeze(m, bad)


def test_frozen_batchnorm_stays_in_eval_mode():
    m = models.freeze(models.create_model(3), 1)
    models.train_mode(m)
    frozen_bn = [mod for stage in m.stages[:-1] for mod in stage.modules()
                 if isinstance(mod, torch.nn.BatchNorm2d)]
    trainable_bn = [mod for mod in m.stages[-1].modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    assert frozen_bn and not any(bn.training for bn in frozen_bn)
    assert trainable_bn and all(bn.training for bn in trainable_bn)
    assert m.head.training
    before = frozen_bn[0].running_mean.clone()
    m(torch.randn(4, 3, 64, 64) * 3)
    assert torch.equal(before, frozen_bn[0].running_mean)
    # the pitfall: plain model.train() lets a "frozen" body's statistics drift
    m.train()
    m(torch.randn(4, 3, 64, 64) * 3)
    assert not torch.equal(before, frozen_bn[0].running_mean)


def test_parameter_groups_use_two_rates():
    m = models.freeze(models.create_model(3), 2)
    head, body = models.parameter_groups(m, 1e-2, 1e-3)
    assert head["lr"] == 1e-2 and body["lr"] == 1e-3
    assert {id(p) for p in head["params"]} == {id(p) for p in m.head.parameters()}
    assert all(p.requires_grad for p in body["params"])
    assert sum(p.numel() for g in (head, body) for p in g["params"]) == \
        models.count_parameters(m)[0]
    only_head = models.parameter_groups(models.freeze(models.create_model(3)), 1e-2, 1e-3)
    assert len(only_head) == 1


def test_pretrained_body_new_head(imagenet):
    full = imagenet.state_dict()
    c = models.create_model(4)  # pretrained body, random head: the cat question's answer
    assert torch.equal(c.body.conv_stem.weight, full["conv_stem.weight"])
    assert c.head.weight.shape == (4, 1280)
    a = models.create_model(4, pretrained=False)
    assert not torch.equal(a.body.conv_stem.weight, full["conv_stem.weight"])


def test_seeded_models_are_reproducible():
    a = models.create_model(3, pretrained=False, seed=1)
    b = models.create_model(3, pretrained=False, seed=1)
    assert torch.equal(a.head.weight, b.head.weight)
    assert torch.equal(a.body.conv_stem.weight, b.body.conv_stem.weight)


@pytest.mark.parametrize("how", ["default", "zeros", "normal"])
def test_init_head(how):
    head = models.init_head(torch.nn.Linear(10, 3), how)
    if how == "zeros":
        assert head.weight.abs().sum() == 0
    elif how == "normal":
        assert head.weight.std() < 0.05
    with pytest.raises(ValueError, match="head init"):
        models.init_head(head, "xavier-ish")


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="Unknown backbone"):
        models.create_model(3, backbone="vgg99")
    with pytest.raises(ValueError, match="at least 2"):
        models.create_model(1)


def test_torchvision_backbone_offline_gives_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(models.torchvision.models, "get_model", offline)
    with pytest.raises(models.WeightsUnavailableError, match="offline"):
        models.create_model(3, backbone="resnet50")


def test_torchvision_backbone_structure_without_download():
    m = models.create_model(3, backbone="resnet18", pretrained=False)
    assert m.head.in_features == 512 and len(m.stages) == 5
    assert m(torch.randn(1, 3, 64, 64)).shape == (1, 3)


def test_feature_maps_go_from_fine_to_coarse(imagenet):
    stages = models.stages_of(imagenet)
    maps = models.feature_maps(stages, imagenet, torch.randn(1, 3, 224, 224))
    assert len(maps) == len(stages)
    sizes = [t.shape[-1] for t in maps]
    channels = [t.shape[1] for t in maps]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 112 and sizes[-1] == 7
    assert channels[0] == 32 and channels[-1] == 1280  # the stem, then the 1280-wide head conv
    # the hooks are removed again: a later forward pass collects nothing
    assert not any(s._forward_hooks for s in imagenet.modules())


def test_feature_maps_work_for_torchvision_backbones():
    net = models.imagenet_model("resnet18", pretrained=False)
    maps = models.feature_maps(models.stages_of(net, "resnet18"), net, torch.randn(1, 3, 64, 64))
    assert [t.shape[1] for t in maps] == [64, 64, 128, 256, 512]
