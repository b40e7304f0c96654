"""Unit tests for utils.scenarios (tiny images, seconds)."""

import random

import numpy as np
import pytest
import torch
from PIL import Image

from utils import data, models, scenarios, training


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three classes of coloured noise squares, plus a broken file and some negatives."""
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    for label, name in enumerate(("red", "green", "blue")):
        (root / "species" / name).mkdir(parents=True)
        for i in range(8):
            arr = rng.normal(60, 20, (32, 32, 3))
            arr[..., label] += 150
            Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(
                root / "species" / name / f"{i}.png")
    neg = root / "negatives" / "misc"
    neg.mkdir(parents=True)
    for i in range(10):
        arr = rng.integers(0, 60, (32, 32, 3)).astype(np.uint8)
        Image.fromarray(arr).save(neg / f"{i}.png")
    (neg / "broken.jpg").write_bytes(b"not an image")
    return root


def test_most_confused_pairs_orders_by_count():
    cm = np.array([[5, 2, 0], [0, 6, 1], [3, 0, 4]])
    pairs = scenarios.most_confused_pairs(cm, ["a", "b", "c"], k=2)
    assert [(p["true"], p["pred"], p["count"]) for p in pairs] == [("c", "a", 3), ("a", "b", 2)]
    assert pairs[0]["rate"] == pytest.approx(3 / 7)
    with pytest.raises(ValueError, match="square"):
        scenarios.most_confused_pairs(np.ones((2, 3)), ["a", "b"])


def test_mistakes_sorted_by_confidence():
    samples = [("a", 0), ("b", 1), ("c", 1)]
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2]])
    out = scenarios.mistakes(samples, [0, 1, 1], [0, 0, 0], probs)
    assert [m["path"] for m in out] == ["c", "b"]
    assert out[0]["confidence"] == pytest.approx(0.8)


def test_negative_images_skip_unreadable_and_limit(folder):
    paths, skipped = scenarios.negative_images(folder / "negatives")
    assert len(paths) == 10 and len(skipped) == 1
    assert len(scenarios.negative_images(folder / "negatives", limit=4)[0]) == 4
    with pytest.raises(data.DataError, match="does not exist"):
        scenarios.negative_images(folder / "nope")


def test_detector_splits_keep_species_splits(folder):
    species = data.load_image_folder(folder / "species", seed=0)
    paths, _ = scenarios.negative_images(folder / "negatives")
    det = scenarios.detector_splits(species, paths)
    assert det.classes == ["not_flower", "flower"]
    assert {p for p, y in det.test if y == 1} == {p for p, _ in species.test}
    assert sum(len(getattr(det, s)) for s in ("train", "val", "test")) == 24 + 10


def test_flower_model_gates_species(folder):
    torch.manual_seed(0)
    body = models.create_model(3, seed=0).body
    det, spe = torch.nn.Linear(1280, 2), torch.nn.Linear(1280, 3)
    with torch.no_grad():  # detector always says "flower" with a huge bias
        det.weight.zero_()
        det.bias.copy_(torch.tensor([-10.0, 10.0]))
    model = scenarios.FlowerSpeciesModel(body, det, spe, ["r", "g", "b"])
    tf = data.make_transform(32)
    img = Image.new("RGB", (32, 32), "red")
    out = model.answer(img, tf, k=2)
    assert out["is_flower"] and len(out["species"]) == 2
    with torch.no_grad():
        det.bias.copy_(torch.tensor([10.0, -10.0]))
    assert model.answer(img, tf)["species"] == []
    species = data.load_image_folder(folder / "species", seed=0)
    result = scenarios.evaluate_flower_system(model, species.test, [], tf)
    assert result["system_acc"] == 0.0 and result["detector_acc"] == 0.0
    assert result["confusion"].shape == (4, 4)
    with pytest.raises(ValueError, match="2 outputs"):
        scenarios.FlowerSpeciesModel(body, spe, spe, ["r", "g", "b"])


def test_random_search_keeps_best_and_budget():
    space = {"lr": ("log", 1e-4, 1e-1), "wd": ("uniform", 0, 1), "bs": ("choice", [8, 16])}
    params = scenarios.sample_hyperparameters(space, random.Random(0))
    assert 1e-4 <= params["lr"] <= 1e-1 and params["bs"] in (8, 16)
    calls = []

    def objective(p, trial):
        calls.append(trial)
        return {"val_acc": -abs(np.log10(p["lr"]) + 2), "model": f"m{trial}"}

    out = scenarios.random_search(objective, space, trials=5, seed=1)
    assert calls == list(range(5)) and len(out["trials"]) == 5
    assert out["best"]["val_acc"] == max(t["val_acc"] for t in out["trials"])
    assert out["best"]["model"] == f"m{out['best']['trial']}"
    assert "model" not in out["trials"][0] and out["seconds"] >= 0
    with pytest.raises(ValueError, match="Unknown search-space kind"):
        scenarios.sample_hyperparameters({"x": ("grid", 1, 2)}, random.Random(0))


def test_scratch_trial_runs(folder):
    species = data.load_image_folder(folder / "species", seed=0)
    out = scenarios.scratch_trial({"lr": 1e-3, "batch_size": 8}, species, 32, epochs=1)
    assert 0 <= out["val_acc"] <= 1 and len(out["history"]) == 1
    assert 0 <= scenarios.test_accuracy(out["model"], species.test, 32) <= 1


def test_cost_table():
    rows = scenarios.cost_table({"a": 3600.0, "b": 1800.0}, {"x": 1.0, "y": 0.5}, 0.9)
    assert len(rows) == 4
    assert rows[0]["on_demand_usd"] == pytest.approx(1.0)
    assert rows[0]["spot_usd"] == pytest.approx(0.1)
    assert rows[3]["on_demand_usd"] == pytest.approx(0.25)
    assert "spot $" in scenarios.format_cost_table(rows)
    with pytest.raises(ValueError, match="spot_savings"):
        scenarios.cost_table({"a": 1.0}, {"x": 1.0}, 1.5)


def test_load_predictor_roundtrip(tmp_path):
    model = models.create_model(3, seed=0)
    path = training.save_checkpoint(tmp_path / "m.pt", model, ["a", "b", "c"], image_size=32)
    predict = scenarios.load_predictor(path)
    img = Image.new("RGB", (40, 40), "green")
    top = predict(img, k=2)
    assert len(top) == 2 and top[0][1] >= top[1][1]
    expected = training.predict(model, img, data.make_transform(32), ["a", "b", "c"], k=2)
    assert [c for c, _ in top] == [c for c, _ in expected]
    path2 = training.save_checkpoint(tmp_path / "n.pt", model, ["a", "b", "c"])
    with pytest.raises(ValueError, match="image_size"):
        scenarios.load_predictor(path2)


def test_flower_exam_question_and_metrics_loader(tmp_path):
    from utils import env, quiz

    q = scenarios.flower_exam_question()
    ev = {"transfer_acc": 0.9, "transfer_seconds": 10, "scratch_acc": 0.2,
          "scratch_seconds": 300}
    assert quiz.check_answer(q, "d", ev).correct
    assert "Lex" in quiz.check_answer(q, "A", ev).message
    assert scenarios.load_chapter_metrics(None, "05") is None
    assert scenarios.load_chapter_metrics(tmp_path, "05") is None
    env.save_metrics(tmp_path / "05", transfer_acc=0.5)
    assert scenarios.load_chapter_metrics(tmp_path, "05") == {"transfer_acc": 0.5}
