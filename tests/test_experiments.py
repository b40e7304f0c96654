"""Fast unit tests for utils.experiments (tiny images, one epoch)."""

from __future__ import annotations

import pytest
import torch

from utils import experiments as ex
from utils.data import DataError, load_dataset
from utils.quiz import check_answer

SIZE = 32


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = ex.digits_image_folder(tmp_path_factory.mktemp("data"), image_size=SIZE,
                                  n_per_class=10)
    return load_dataset(data_dir=root).subset(2, seed=0)


@pytest.fixture(scope="module")
def embedded(digits):
    body = ex.make_arm_model("feature_extraction", len(digits.classes)).body
    out = ex.embed_splits(body, digits, SIZE)
    out["body_params"] = sum(p.numel() for p in body.parameters())
    return out


def test_digits_image_folder(digits, tmp_path):
    assert len(digits.classes) == 10 and digits.classes[0] == "digit_0"
    assert len(digits.train) == 20
    with pytest.raises(DataError):
        ex.digits_image_folder(tmp_path, image_size=4)


def test_embed_and_feature_extraction(embedded, digits):
    x, y = embedded["train"]
    assert x.shape == (len(digits.train), 1280) and embedded["seconds"] > 0
    r = ex.run_feature_extraction(embedded, digits.subset(1, 0).train, epochs=3)
    assert r["n_train"] == 10 and 0 <= r["test_acc"] <= 1
    assert r["trainable"] == 1280 * 10 + 10 and r["total"] > 3_000_000
    with pytest.raises(ValueError, match="not embedded"):
        ex.rows_for([("nowhere.png", 0)], embedded["paths"]["train"])


def test_run_arm_and_summary(digits, embedded):
    runs = [ex.run_arm(arm, digits, SIZE, 1, seed=0, embedded=embedded, head_epochs=2,
                       progress=False) for arm in ex.ARMS]
    table = ex.summarise(runs)
    assert list(table) == list(ex.ARMS)
    assert table["feature_extraction"]["trainable"] < table["fine_tune_top"]["trainable"]
    assert table["fine_tune_top"]["trainable"] < table["fine_tune_all"]["trainable"]
    assert table["fine_tune_all"]["trainable"] == table["from_scratch"]["trainable"]
    assert "fine-tune top blocks" in ex.format_table(table, ex.ARM_LABELS)
    with pytest.raises(ValueError, match="Unknown arm"):
        ex.make_arm_model("nope", 3)
    with pytest.raises(ValueError, match="embedded"):
        ex.run_arm("feature_extraction", digits, SIZE, 1)


def test_summarise_mean_and_std():
    rows = [{"arm": "a", "test_acc": v, "seconds": 1.0, "seconds_per_epoch": 0.5,
             "trainable": 1, "total": 2} for v in (0.5, 0.7)]
    row = ex.summarise(rows)["a"]
    assert row["mean"] == pytest.approx(0.6) and row["std"] == pytest.approx(0.1414, abs=1e-3)


def test_batchnorm_pitfall_moves_statistics_only_in_train_mode(digits):
    out = ex.batchnorm_pitfall(digits, SIZE, epochs=1, progress=False)
    assert out["train_mode"]["buffers_changed"] == 1.0
    assert out["eval_mode"]["buffers_changed"] == 0.0
    assert out["eval_mode"]["embedding_cosine"] == pytest.approx(1.0, abs=1e-5)
    assert out["train_mode"]["embedding_cosine"] < 0.99
    assert not out["train_mode"]["weights_changed"] and not out["eval_mode"]["weights_changed"]


def test_init_options(digits):
    rows = ex.imagenet_rows_for_classes(digits, SIZE)
    assert len(rows) == 10 and len(set(rows)) == 10 and all(0 <= r < 1000 for r in rows)
    b = ex.make_init_option("B", 10, rows)
    d = ex.make_init_option("D", 10, rows)
    c = ex.make_init_option("C", 10, head_init="zeros")
    assert b.head.out_features == d.head.out_features == 10
    assert torch.equal(b.head.weight, d.head.weight)  # the same reused ImageNet rows
    assert not torch.equal(b.body.state_dict()["conv_stem.weight"],
                           d.body.state_dict()["conv_stem.weight"])
    assert torch.count_nonzero(c.head.weight) == 0
    with pytest.raises(ValueError, match="imagenet_rows"):
        ex.make_init_option("B", 10)
    with pytest.raises(ValueError, match="Unknown option"):
        ex.make_init_option("E", 10)
    r = ex.run_init_option("a", digits, SIZE, 1, progress=False)
    assert r["arm"] == "A" and 0 <= r["test_acc"] <= 1


def test_make_head_and_ablation(embedded):
    assert isinstance(ex.make_head(8, 3)[0], torch.nn.Linear)
    mlp = ex.make_head(8, 3, "zeros", hidden=4)
    assert all(torch.count_nonzero(p) == 0 for p in mlp.parameters())
    with pytest.raises(ValueError):
        ex.make_head(8, 3, "ones")
    rows = ex.head_init_ablation(embedded, hidden_sizes=(None, 16), epochs=5)
    assert len(rows) == 6
    zero_mlp = next(r for r in rows if r["init"] == "zeros" and r["hidden"] == 16)
    # a zero-initialised MLP cannot break symmetry: it only learns the output bias
    assert zero_mlp["test_acc"] <= 0.2


def test_pixel_baseline(digits):
    assert 0 <= ex.pixel_baseline_accuracy(digits, size=8) <= 1


def test_questions_cite_measurements():
    q2 = ex.chapter02_question()
    evidence = {"fe_acc": 0.8, "fe_seconds": 10, "scratch_acc": 0.2, "scratch_seconds": 60,
                "ft_acc": 0.7, "single_lr_acc": 0.5, "group_lr_acc": 0.7}
    good = check_answer(q2, "b", evidence)
    assert good.correct and "80%" in good.message and "20%" in good.message
    bad = check_answer(q2, "C", evidence)
    assert not bad.correct and "50%" in bad.message
    q3 = ex.chapter03_question()
    evidence = {"acc_A": 0.2, "acc_B": 0.6, "acc_C": 0.7, "acc_D": 0.15}
    assert check_answer(q3, "C", evidence).correct
    feedback = check_answer(q3, "D", evidence)
    assert not feedback.correct and "15%" in feedback.message
    with pytest.raises(ValueError):
        check_answer(q3, "C", {})  # the explanation needs the measured values
