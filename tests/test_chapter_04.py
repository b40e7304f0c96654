"""Outcomes of chapter 04 (cat breeds end to end), read from the metrics it writes."""

from pathlib import Path

import pytest

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
    m = executed("04")
    assert m["recipe"]["keep_bn_stats"] is True  # the recipe chosen on real photos
    rows = {r["image size"]: r for r in m["resolution"]}
    assert len(rows) >= 2
    small, large = rows[min(rows)], rows[max(rows)]
    assert all(0 <= r["test accuracy"] <= 1 for r in rows.values())
    # more pixels cost more: the largest size embeds slower than the smallest
    assert large["embedding seconds"] > small["embedding seconds"], rows



def test_the_recipe_sweep_shown_backs_the_chapters_reading(executed):
    """Section 3b reads the recorded real-photo sweep; its prose must hold on those records."""
    m = executed("04")

    def runs(photos, size):  # change -> that row of the chapter's sweep table
        return {r["change"]: r for r in m["recipe_sweep"]
                if (r["data"], r["image_size"]) == (photos, size)}

    cats, flowers = runs("cats12_sample", 128), runs("flowers17", 128)
    assert all(r["seeds"] >= 3 for r in [*cats.values(), *flowers.values()])
    # "the learning rate sets the first-epoch drop" (cats)
    drop = {change: r["val_change_epoch_1"] for change, r in cats.items()}
    assert drop["rates x 3"] < drop["the recipe"] < drop["rates / 3"], drop
    assert drop["1 warm-up epoch at rates / 10"] > drop["the recipe"], drop
    # "BatchNorm statistics": on flowers17 keeping them cut the first epoch's drop
    assert (flowers["BatchNorm statistics updated"]["val_change_epoch_1"]
            < 2 * flowers["the recipe"]["val_change_epoch_1"]), flowers
    # "fine-tuning does not always pay": the recipe beat feature extraction on flowers17 at
    # both sizes; on the cats, at both sizes, it kept epoch 0 for every seed
    for size in (128, 224):
        flowers = runs("flowers17", size)
        assert (flowers["the recipe"]["test_acc"]
                > flowers["feature extraction (the start)"]["test_acc"]), flowers
        assert runs("cats12_sample", size)["the recipe"]["best_epoch"] == 0


def test_the_pretrained_network_fixes_its_input(executed):
    """Section 4b: the normalisation and the channel count come with the weights."""
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
    q = executed("04")["quantization"]
    assert set(q) >= {"fp32_mb", "int8_mb", "fp32_ms", "int8_ms", "fp32_acc", "int8_acc"}
    assert q["int8_mb"] < 0.35 * q["fp32_mb"], q  # not converted: the size stays
    # badly calibrated ranges (or none) cost far more than this
    assert q["int8_acc"] >= q["fp32_acc"] - 0.08, q
    assert q["agreement"] >= 0.8, q
