"""Outcomes of chapter 04 (cat breeds end to end), read from the metrics it writes."""

from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.notebook


def test_both_steps_learn_the_breeds(executed):
    m = executed("04")
    chance = 1 / len(m["classes"])
    assert m["fe_test_acc"] > chance + 0.3, m["fe_test_acc"]
    assert m["ft_test_acc"] > chance + 0.3, m["ft_test_acc"]
    assert set(m["per_breed"]) == set(m["classes"])
    assert m["skipped"] == 0


def test_saved_model_reloads_and_predicts_the_same_labels(executed):
    m = executed("04")
    assert Path(m["checkpoint"]).is_file()
    assert m["reload_same_labels"] is True
    assert m["reloaded_test_acc"] == pytest.approx(m["ft_test_acc"])
    top = m["chelsea_top"]
    assert len(top) == 3 and all(name in m["classes"] for name, _ in top)
    assert top[0][1] >= top[1][1] >= top[2][1]


def test_error_analysis_is_consistent(executed):
    m = executed("04")
    assert m["n_mistakes"] == round((1 - m["ft_test_acc"]) * m["n_test"])
    for pair in m["most_confused"]:
        assert pair["true"] != pair["pred"] and pair["count"] >= 1


def test_resolution_is_measured_with_its_cost(executed):
    """Section 3 measures accuracy at each size; the cost of a larger size is counted as work
    (floating-point operations of one forward pass, from code), not timed."""
    from torch.utils.flop_counter import FlopCounterMode

    from utils import models

    m = executed("04")
    rows = {r["image size"]: r for r in m["resolution"]}
    assert len(rows) >= 2
    body = models.create_model(len(m["classes"]), backbone=m["backbone"]).body.eval()
    flops = {}
    for size in rows:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            body(torch.zeros(1, 3, size, size))
        flops[size] = counter.get_total_flops()
    small, large = min(rows), max(rows)
    # work grows with the pixels: (large / small)^2 times the operations, within 10%
    assert flops[large] / flops[small] == pytest.approx((large / small) ** 2, rel=0.1), flops
    # and every size learned the breeds from the same frozen features (well above chance)
    chance = 1 / len(m["classes"])
    assert all(r["test accuracy"] > chance + 0.3 for r in rows.values()), rows


def _sweep_from_records():
    """The recorded real-photo sweep, recomputed from benchmarks/recipes.jsonl by code that is
    not the chapter's: per (photos, size, variant) the mean test accuracy, mean best epoch, the
    mean validation change in epoch 1 and the number of seeds."""
    from benchmarks import recipes

    df = recipes.records()
    df = df[(df["precision"] == "fp32") & (df["device"] == "cpu")].copy()  # the sweep proper
    df["epoch1"] = [c[1] - c[0] if len(c) > 1 else float("nan") for c in df["val_curve"]]
    return {key: {"test_acc": g["test_acc"].mean(), "best_epoch": g["best_epoch"].mean(),
                  "epoch1": g["epoch1"].mean(), "seeds": g["seed"].nunique()}
            for key, g in df.groupby(["data", "image_size", "variant"])}


def test_the_recipe_sweep_shown_backs_the_chapters_reading(executed):
    """Section 3b reads the recorded real-photo sweep; its prose must hold on those records,
    recomputed here from the records themselves, and the chapter's table must show them."""
    m = executed("04")
    runs = _sweep_from_records()
    # the chapter's table shows the same runs: the same mean accuracies, group by group
    shown = sorted((r["data"], r["image_size"], round(r["test_acc"], 6), r["seeds"])
                   for r in m["recipe_sweep"])
    assert shown == sorted((d, s, round(r["test_acc"], 6), r["seeds"])
                           for (d, s, _), r in runs.items()), "chapter table != records"

    def at(photos, size):
        return {v: r for (d, s, v), r in runs.items() if (d, s) == (photos, size)}

    cats, flowers = at("cats12_sample", 128), at("flowers17", 128)
    assert all(r["seeds"] >= 3 for r in [*cats.values(), *flowers.values()])
    # "the learning rate sets the first-epoch drop" (cats)
    drop = {v: r["epoch1"] for v, r in cats.items()}
    assert drop["ft_bn_frozen_lr3e-4"] < drop["ft_bn_frozen"] < drop["ft_bn_frozen_lr3e-5"], drop
    assert drop["ft_bn_frozen_warmup"] > drop["ft_bn_frozen"], drop
    # "BatchNorm statistics": on flowers17 keeping them cut the first epoch's drop
    assert flowers["ft_bn_train"]["epoch1"] < 2 * flowers["ft_bn_frozen"]["epoch1"], flowers
    # "fine-tuning does not always pay": the recipe beat feature extraction on flowers17 at
    # both sizes; on the cats, at both sizes, it kept epoch 0 for every seed
    for size in (128, 224):
        flowers = at("flowers17", size)
        assert flowers["ft_bn_frozen"]["test_acc"] > flowers["lp"]["test_acc"], flowers
        assert at("cats12_sample", size)["ft_bn_frozen"]["best_epoch"] == 0


@pytest.fixture(scope="module")
def own_photos(tmp_path_factory):
    """A learner's photo folder: JPEGs in train/ val/ test/, half of them stored sideways
    with an EXIF orientation (as phones store them), and one download that stopped half-way."""
    from photos import phone_folder

    from utils import data

    base = tmp_path_factory.mktemp("own_photos")
    rendered = data.synthetic_dataset("cats", base / "rendered", 160, n_per_class=8)
    folder = phone_folder(rendered, base / "photos", classes=3,
                          splits={"train": 4, "val": 2, "test": 2})
    good = next((folder / "train").glob("*/*.jpg")).read_bytes()
    corrupt = next((folder / "train").iterdir()) / "download stopped.jpg"
    corrupt.write_bytes(good[: len(good) // 2])
    return folder


def test_own_photos_folder_runs_end_to_end(executed, own_photos):
    """The path of every learner with their own photos: only ``data_dir`` set (every other
    value at the chapter's default, but the tiny epochs and sizes of the test parameters)."""
    import ast

    import papermill

    from course import runner
    from utils import checkpoint, data

    notebook = runner.notebooks(["04"])[0]
    default_size = ast.literal_eval(
        papermill.inspect_notebook(str(notebook))["image_size"]["default"])
    m = executed("04", data_dir=str(own_photos), image_size=default_size,
                 resolution_sizes=[64, 96])
    assert m["skipped"] == 1  # the cut-short download, counted
    assert m["image_size"] == 224  # real photos: the size the network was pretrained at
    assert m["classes"] == sorted(p.name for p in (own_photos / "train").iterdir())
    assert (m["n_train"], m["n_test"]) == (12, 6)
    # the saved checkpoint reloads and predicts, here, the labels the chapter measured
    model, classes, meta = checkpoint.load_checkpoint(m["checkpoint"])
    transform = checkpoint.make_transform(meta["image_size"], backbone=model.backbone)
    with pytest.warns(UserWarning, match="Skipped 1 unreadable image.*1 truncated"):
        test = data.load_image_folder(own_photos).test
    predicted = [checkpoint.predict(model, data.load_rgb(p), transform, classes, k=1)[0][0]
                 for p, _ in test]
    accuracy = sum(name == classes[y] for name, (_, y) in zip(predicted, test, strict=True))
    assert accuracy / len(test) == pytest.approx(m["ft_test_acc"]), predicted


def test_bf16_lesson_features_agree_and_accuracy_holds(executed):
    """Section 4b: bf16 features point the same way as fp32 ones (but are not identical: it
    did run in bf16), and neither step loses more than a few test images to bf16."""
    from utils import training

    m = executed("04")
    lesson = m["precision_lesson"]
    assert 0.99 < lesson["bf16_cosine"] and lesson["bf16_cosine_min"] < 1.0, lesson
    few = 3 / lesson["n_test"]
    assert abs(lesson["bf16_fe_acc"] - lesson["fp32_fe_acc"]) <= few + 1e-9, lesson
    assert abs(lesson["bf16_ft_acc"] - lesson["fp32_ft_acc"]) <= few + 1e-9, lesson
    # the chapter ran with the rule's choice for this machine, and says so
    assert m["precision"] == {
        "requested": "auto",
        "forward": training.resolve_precision("auto", device="cpu"),
        "training": training.resolve_precision("auto", device="cpu",
                                               image_size=m["image_size"], training=True)}


def test_the_pretrained_network_fixes_its_input(executed):
    """Section 4: the normalisation and the channel count come with the weights."""
    m = executed("04")
    arch = m["architecture"]
    # a normalisation other than the pretrained one costs accuracy, even under a trained head
    assert min(arch["other_norm"], arch["no_norm"]) < arch["as_pretrained"], arch
    assert "channels" in m["channel_error"], m["channel_error"]


def test_a_pretrained_backbone_brings_its_size(executed):
    """Section 7: the new head is a sliver of the model; architectures differ by orders."""
    m = executed("04")
    mb = {name: row["saved weights (MB)"] for name, row in m["sizes"].items()}
    ours = next(v for k, v in mb.items() if "fine-tuned here" in k)
    assert mb["ResNet-50 (the notes)"] > 5 * ours > 25 * mb["small custom CNN (from scratch)"], mb
    assert m["head_share"] < 0.01


def test_int8_quantisation_shrinks_the_model_and_keeps_its_accuracy(executed):
    """Section 7b: int8 weights take about a quarter of the bytes; accuracy barely moves."""
    m = executed("04")
    q = m["quantization"]
    assert set(q) >= {"fp32_mb", "int8_mb", "fp32_ms", "int8_ms", "fp32_acc", "int8_acc"}
    assert q["int8_mb"] < 0.35 * q["fp32_mb"], q  # not converted: the size stays
    # at most three test images lost (badly calibrated ranges, or none, cost far more)
    assert q["int8_acc"] >= q["fp32_acc"] - 3 / m["n_test"] - 1e-9, q
    assert q["agreement"] >= 0.8, q
