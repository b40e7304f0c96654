"""Unit tests for the fast path of utils.features.extract_features (no timing assertions)."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from utils import checkpoint, data, decoding, features, models, training


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Ten small PNG and JPEG images of two classes, of two different sizes."""
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    out = []
    for i in range(10):
        size = (48, 40) if i % 2 else (40, 40)
        arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        path = root / f"{i}.{'jpg' if i % 3 == 0 else 'png'}"
        Image.fromarray(arr).save(path)
        out.append((str(path), i % 2))
    return out


@pytest.fixture
def body():
    return models.create_model(2, pretrained=False, seed=0).body.eval()


@pytest.fixture(autouse=True)
def fresh_cache():
    decoding.clear_decoded_cache()
    yield
    decoding.clear_decoded_cache()


def reference(body, samples, transform):
    """Image by image with the transform as given: what extraction computed before."""
    x = torch.stack([transform(data.load_rgb(p)) for p, _ in samples])
    body = body.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        return body(x.contiguous(memory_format=torch.channels_last))


def test_split_transform_recognises_evaluation_transforms_only():
    image_steps, normalize = decoding.split_transform(checkpoint.make_transform(32))
    assert [type(s).__name__ for s in image_steps.transforms] == ["Resize", "CenterCrop"]
    assert normalize is not None
    assert decoding.split_transform(checkpoint.make_transform(32, train=True)) is None  # random
    assert decoding.split_transform(None) is None
    assert decoding.split_transform(lambda img: img) is None


def test_batch_normalisation_is_bit_identical_to_totensor_normalize(samples):
    tf = checkpoint.make_transform(32, backbone="resnet50")
    image_steps, normalize = decoding.split_transform(tf)
    images = [image_steps(data.load_rgb(p)) for p, _ in samples]
    batch = torch.stack([torch.from_numpy(np.array(im)) for im in images])
    fast = decoding.to_float_batch(batch, normalize, torch.device("cpu"))
    assert fast.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(fast, torch.stack([tf(data.load_rgb(p)) for p, _ in samples]))


def test_fast_path_matches_reference_and_decodes_once(body, samples, monkeypatch):
    tf = checkpoint.make_transform(32)
    decoded = []
    load = decoding.load_rgb
    monkeypatch.setattr(decoding, "load_rgb", lambda p, **kw: decoded.append(p) or load(p, **kw))
    x1, y1, info = features.extract_features(body, samples, tf, batch_size=4, use_cache=False,
                                             show_progress=False)
    assert len(decoded) == len(samples) and info["path"] is None
    assert torch.allclose(x1, reference(body, samples, tf), atol=1e-5)
    assert y1.tolist() == [label for _, label in samples]
    other = models.create_model(2, pretrained=False, seed=1).body
    x2, y2, _ = features.extract_features(other, samples, tf, batch_size=3, use_cache=False,
                                          show_progress=False)
    assert len(decoded) == len(samples)  # another body: the decoded images were reused
    assert torch.allclose(x2, reference(other, samples, tf), atol=1e-5)
    assert torch.equal(y1, y2)


def test_decoded_cache_notices_changed_files_and_transforms(body, samples, tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGB", (40, 40), (10, 20, 30)).save(path)
    few = [(str(path), 0), *samples[:3]]
    tf = checkpoint.make_transform(32)
    first, _, _ = features.extract_features(body, few, tf, use_cache=False, show_progress=False)
    Image.new("RGB", (40, 40), (200, 20, 30)).save(path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    changed, _, _ = features.extract_features(body, few, tf, use_cache=False, show_progress=False)
    assert not torch.equal(first[0], changed[0]) and torch.equal(first[1:], changed[1:])
    bigger = checkpoint.make_transform(36)
    x, _, _ = features.extract_features(body, few, bigger, use_cache=False, show_progress=False)
    assert torch.allclose(x, reference(body, few, bigger), atol=1e-5)


def test_decoded_cache_stays_within_its_budget(body, samples, monkeypatch):
    monkeypatch.setattr(decoding, "DECODED_CACHE_MB", 32 * 32 * 3 * 4 / 2**20)  # 4 images
    tf = checkpoint.make_transform(32)
    x, _, _ = features.extract_features(body, samples, tf, use_cache=False, show_progress=False)
    assert len(decoding._decoded) == 4 and decoding._decoded_bytes == 4 * 32 * 32 * 3
    monkeypatch.setattr(decoding, "DECODED_CACHE_MB", 0)  # off
    decoding.clear_decoded_cache()
    x0, _, _ = features.extract_features(body, samples, tf, use_cache=False, show_progress=False)
    assert len(decoding._decoded) == 0 and torch.equal(x, x0)


def test_other_transforms_take_the_generic_path(body, samples):
    tf = checkpoint.make_transform(32)

    def transform(img):  # not a Compose: run as given, nothing kept in memory
        return tf(img)

    x, _, _ = features.extract_features(body, samples, transform, use_cache=False,
                                        show_progress=False)
    assert len(decoding._decoded) == 0
    assert torch.allclose(x, reference(body, samples, transform), atol=1e-5)


def test_workers_give_the_same_features(body, samples):
    tf = checkpoint.make_transform(32)
    x0, y0, _ = features.extract_features(body, samples, tf, batch_size=4, use_cache=False,
                                          show_progress=False)
    decoding.clear_decoded_cache()
    x1, y1, _ = features.extract_features(body, samples, tf, batch_size=4, num_workers=1,
                                          use_cache=False, show_progress=False)
    assert torch.equal(x0, x1) and torch.equal(y0, y1)
    assert len(decoding._decoded) == len(samples)  # the main process kept what workers decoded


def test_workers_that_cannot_start_fall_back_to_in_process(body, samples, monkeypatch):
    class Broken:
        def __iter__(self):
            raise RuntimeError("DataLoader worker (pid 1) exited unexpectedly")

    real = training.make_loader
    monkeypatch.setattr(features, "make_loader",
                        lambda ds, *, batch_size, num_workers=0:
                        Broken() if num_workers else real(ds, batch_size=batch_size))
    tf = checkpoint.make_transform(32)
    with pytest.warns(UserWarning, match="num_workers=0 instead"):
        x, _, _ = features.extract_features(body, samples, tf, num_workers=2, use_cache=False,
                                            show_progress=False)
    assert torch.allclose(x, reference(body, samples, tf), atol=1e-5)


def test_embedding_cache_still_hits_with_the_fast_path(body, samples, tmp_path):
    tf = checkpoint.make_transform(32)
    x1, _, info1 = features.extract_features(body, samples, tf, cache_dir=tmp_path,
                                             show_progress=False)
    x2, _, info2 = features.extract_features(body, samples, tf, cache_dir=tmp_path,
                                             show_progress=False)
    assert not info1["cache_hit"] and info2["cache_hit"] and torch.equal(x1, x2)
