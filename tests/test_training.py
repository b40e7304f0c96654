"""Unit tests for utils.training, utils.features, utils.quiz and utils.env."""

import numpy as np
import pytest
import torch
from PIL import Image

from utils import data, env, features, models, quiz, training


@pytest.fixture(scope="module")
def easy_folder(tmp_path_factory):
    """Two trivially separable classes (dark vs bright squares with noise)."""
    root = tmp_path_factory.mktemp("easy")
    rng = np.random.default_rng(0)
    for label, name in enumerate(("dark", "bright")):
        (root / name).mkdir()
        for i in range(12):
            base = 40 + 170 * label
            arr = np.clip(base + rng.normal(0, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def splits(easy_folder):
    return data.load_image_folder(easy_folder, seed=0)


def test_fit_records_history_and_learns(splits):
    model = models.create_model(2, trainable_stages=1, seed=0)
    tf = data.make_transform(32)
    history = training.fit(model, data.ImageListDataset(splits.train, tf),
                           data.ImageListDataset(splits.val, tf), epochs=2, lr_head=1e-2,
                           batch_size=8, progress=False)
    assert [h["epoch"] for h in history] == [1, 2]
    keys = {"train_loss", "train_acc", "val_loss", "val_acc", "seconds", "trainable_params"}
    assert keys <= set(history[0])
    assert history[0]["trainable_params"] == model.count_parameters()["trainable"]
    result = training.evaluate(model, data.ImageListDataset(splits.test, tf))
    assert result.accuracy >= 0.75
    assert result.confusion.shape == (2, 2) and result.confusion.sum() == len(splits.test)
    assert result.probs.shape == (len(splits.test), 2)
    np.testing.assert_allclose(result.probs.sum(1), 1, rtol=1e-5)


def test_fit_is_reproducible(splits):
    tf = data.make_transform(32)
    runs = []
    for _ in range(2):
        model = models.create_model(2, seed=3)
        runs.append(training.fit(model, data.ImageListDataset(splits.train, tf), epochs=1,
                                 batch_size=8, seed=3, progress=False)[0]["train_loss"])
    assert runs[0] == pytest.approx(runs[1])


def test_frozen_body_does_not_change_during_fit(splits):
    model = models.create_model(2, trainable_stages=0, seed=0)
    before = {k: v.clone() for k, v in model.body.state_dict().items()}
    training.fit(model, data.ImageListDataset(splits.train, data.make_transform(32)), epochs=1,
                 batch_size=8, progress=False)
    after = model.body.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics included


def test_checkpoint_roundtrip_predicts_the_same(splits, tmp_path):
    tf = data.make_transform(32)
    model = models.create_model(2, seed=0)
    path = training.save_checkpoint(tmp_path / "m.pt", model, splits.classes, epochs=0)
    loaded, classes, meta = training.load_checkpoint(path)
    assert classes == splits.classes and meta == {"epochs": 0}
    ds = data.ImageListDataset(splits.test, tf)
    a, b = training.evaluate(model, ds), training.evaluate(loaded, ds)
    np.testing.assert_allclose(a.probs, b.probs, atol=1e-6)
    top = training.predict(loaded, splits.test[0][0], tf, classes, k=2)
    assert [c for c, _ in top] in (["dark", "bright"], ["bright", "dark"])
    assert sum(p for _, p in top) == pytest.approx(1, abs=1e-5)


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        training.load_checkpoint(tmp_path / "missing.pt")
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a course checkpoint"):
        training.load_checkpoint(tmp_path / "other.pt")


def test_get_device():
    assert training.get_device("cpu").type == "cpu"
    assert training.get_device("auto").type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            training.get_device("cuda")


def test_feature_cache_hits_and_invalidates(splits, tmp_path):
    body = models.create_model(2).body
    tf = data.make_transform(32)
    x1, y1, info1 = features.extract_features(body, splits.train, tf, cache_dir=tmp_path,
                                              progress=False)
    x2, y2, info2 = features.extract_features(body, splits.train, tf, cache_dir=tmp_path,
                                              progress=False)
    assert not info1["cache_hit"] and info2["cache_hit"]
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and x1.shape == (len(splits.train), 1280)
    _, _, info3 = features.extract_features(body, splits.train, data.make_transform(40),
                                            cache_dir=tmp_path, progress=False)
    assert not info3["cache_hit"]  # another transform is another key
    other_body = models.create_model(2, body_weights="random").body
    assert features.cache_key(other_body, splits.train, tf) != features.cache_key(
        body, splits.train, tf)


def test_linear_head_on_separable_features():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 16, generator=g)
    x[:, 0] *= 4  # one strongly informative feature among 16
    y = (x[:, 0] > 0).long()
    head, history = features.train_linear_head(x[:150], y[:150], x[150:], y[150:], epochs=30)
    assert isinstance(head, torch.nn.Linear) and len(history) == 30
    assert features.head_accuracy(head, x[150:], y[150:]) > 0.9
    assert features.linear_probe_accuracy(x[:150], y[:150], x[150:], y[150:]) > 0.9
    assert features.knn_accuracy(x[:, :1], y) > 0.9


def test_color_histograms(splits):
    hist, labels = features.color_histogram_features(splits.train, bins=4)
    assert hist.shape == (len(splits.train), 12)
    np.testing.assert_allclose(hist[:, :4].sum(1), 1)
    assert labels.tolist() == [label for _, label in splits.train]


QUESTION = quiz.Question(
    "Which layer gets random weights?", {"A": "all", "B": "none", "C": "the output layer"},
    answer="C", explanation="Here C reached {acc:.0%}.", why_wrong={"A": "That is scratch."})


def test_quiz_right_and_wrong_answers_cite_evidence():
    right = quiz.check_answer(QUESTION, "c", {"acc": 0.9})
    assert right.correct and "90%" in right.message
    wrong = quiz.check_answer(QUESTION, "A", {"acc": 0.9})
    assert not wrong.correct and "scratch" in wrong.message and "answer is C" in wrong.message


def test_quiz_bad_input():
    with pytest.raises(ValueError, match="not an option"):
        quiz.check_answer(QUESTION, "E", {"acc": 1})
    with pytest.raises(ValueError, match="measured value 'acc'"):
        quiz.check_answer(QUESTION, "C", {})
    with pytest.raises(ValueError, match="not one of the options"):
        quiz.Question("?", {"A": "x"}, answer="B")


def test_quiz_ask_prints_and_returns_feedback(capsys):
    feedback = quiz.ask(QUESTION, {"acc": 0.5}, choice="C", interactive=False)
    assert feedback.correct
    out = capsys.readouterr().out
    assert "C. the output layer" in out and "Correct" in out
    assert quiz.ask(QUESTION, {"acc": 0.5}, interactive=False) is None


def test_metrics_roundtrip(tmp_path):
    path = env.save_metrics(tmp_path / "out", acc=np.float32(0.5), arr=np.arange(3))
    assert path.is_file()
    assert env.load_metrics(tmp_path / "out") == {"acc": 0.5, "arr": [0, 1, 2]}
    with pytest.raises(TypeError):
        env.save_metrics(tmp_path, bad=object())


def test_environment_report():
    report = env.environment_report()
    assert report["missing"] == [] and report["cpu_cores"] >= 1
