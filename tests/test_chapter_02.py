"""Outcomes of chapter 02 (feature extraction vs fine-tuning), from the notebook's metrics."""

import numpy as np
import pytest

pytestmark = pytest.mark.notebook

# Margins, measured at the test parameters (4 epochs: 8 optimizer steps on 30 images; 60 test
# and 30 validation images, so one image is 1.7 and 3.3 points). They are one or two images:
# on these generated flowers at 64 px the lessons hold by little (per seed, one rate tied and
# beat per-group rates once). At 2 epochs full fine-tuning lost to feature extraction (68.3%
# vs 69.4%), one rate beat per-group rates, and the scratch arm's loss hardly moved: hence 4.
# The same lessons on real photos, by clear margins, are pinned in test_chapter_04.py (the
# recorded sweep, recomputed).
FT_OVER_FE = 0.0  # full fine-tuning's mean test accuracy minus feature extraction's: +1.1
FT_IMPROVED_SEEDS = 2  # seeds (of 3) where fine-tuning beat its start on validation: 2
GROUPED_OVER_SINGLE = 0.0  # per-group rates minus one rate, mean test accuracy of 3 seeds: +1.1
BN_KEEP_OVER_UPDATE = 0.0  # epoch-1 validation change, kept minus updated statistics: +3.3
LOSS_FALL = 0.85  # scratch arm's lowest later-epoch loss / first epoch's, mean of seeds: 0.76


def runs(m, arm):
    return {r["seed"]: r for r in m["results"] if r["arm"] == arm}


def test_feature_extraction_beats_scratch_at_small_data(executed):
    m = executed("02")
    table = m["table"]
    fe, scratch = table["feature_extraction"], table["from_scratch"]
    assert fe["n"] >= 3 and scratch["n"] >= 3
    # the lesson's central ordering, with a margin that held on every seed we tried
    assert fe["mean"] > scratch["mean"] + 0.25, table
    for size in m["curve_sizes"]:
        fe_k = np.mean(m["curve"][f"feature_extraction@{size}"])
        scratch_k = np.mean(m["curve"][f"from_scratch@{size}"])
        # With ONE image per class the per-seed spread of feature extraction (22%..47% on the
        # default run) is as large as the gap, so only the ordering of the means is asserted
        # there; from 3 images per class on, the gap held on every seed (>= 30 points).
        margin = 0.0 if size < 3 else 0.15
        assert fe_k > scratch_k + margin, (size, m["curve"])


def test_costs_are_ordered(executed):
    m = executed("02")
    table = m["table"]
    trainable = [table[a]["trainable"] for a in
                 ("feature_extraction", "fine_tune_top", "fine_tune_all")]
    assert trainable == sorted(trainable) and len(set(trainable)) == 3
    assert table["fine_tune_all"]["trainable"] == table["from_scratch"]["trainable"]
    # work, counted: feature extraction passes the images through the body once and then
    # trains only the head; full fine-tuning takes image_steps optimizer steps through the body
    for seed, fe in runs(m, "feature_extraction").items():
        assert fe["image_steps"] == 0 and fe["head_steps"] > 0
        assert runs(m, "fine_tune_all")[seed]["image_steps"] >= m["epochs"]


def test_fine_tuning_beats_feature_extraction(executed):
    """The central claim at equal data: full fine-tuning, started from feature extraction's
    head, ends above it on the test images, and on most seeds its validation chose a
    fine-tuned epoch (fit keeps epoch 0, feature extraction's model, when fine-tuning hurts:
    a broken fine-tuning ties feature extraction, it does not lose to it)."""
    m = executed("02")
    table = m["table"]
    assert (table["fine_tune_all"]["mean"]
            > table["feature_extraction"]["mean"] + FT_OVER_FE), table
    improved = [seed for seed, r in runs(m, "fine_tune_all").items()
                if r["best_epoch"] >= 1 and r["val_acc"] > r["start_val_acc"]]
    assert len(improved) >= FT_IMPROVED_SEEDS, runs(m, "fine_tune_all")


def test_per_group_learning_rates_beat_one_rate(executed):
    """One rate for every layer (the head's, ten times the body's) against per-group rates."""
    m = executed("02")
    assert len(m["lr_single"]) == len(m["lr_grouped"]) >= 1
    assert np.mean(m["lr_grouped"]) > np.mean(m["lr_single"]) + GROUPED_OVER_SINGLE, m


def test_kept_batchnorm_statistics_drop_less_in_the_first_epoch(executed):
    """Section 4: fine-tuning with the pretrained statistics kept loses less validation
    accuracy in its first epoch than with the statistics re-estimated from each batch."""
    bn = executed("02")["bn_finetune"]

    def first_epoch(runs):
        return np.mean([r["val_curve"][1] - r["val_curve"][0] for r in runs])

    keep, update = first_epoch(bn["keep"]), first_epoch(bn["update"])
    assert keep > update + BN_KEEP_OVER_UPDATE, (keep, update)


def test_the_scratch_arm_did_train(executed):
    """From scratch loses although it trained: averaged over the seeds its training loss fell
    to LOSS_FALL of the first epoch's or lower, and it fell on every seed. (At the test budget
    of 8 optimizer steps one seed's fall is small: 0.90 on seed 0, 0.70 and 0.67 on seeds 1 and
    2, with bf16 forward passes; with a learning rate of 0 every ratio is about 1.)"""
    ratios = {}
    for seed, r in runs(executed("02"), "from_scratch").items():
        loss = r["train_loss"]
        assert len(loss) >= 2, (seed, loss)
        ratios[seed] = min(loss[1:]) / loss[0]
    assert len(ratios) >= 3 and max(ratios.values()) < 0.95, ratios
    assert sum(ratios.values()) / len(ratios) < LOSS_FALL, ratios


def test_batchnorm_eval_mode_fix_matters(executed):
    bn = executed("02")["batchnorm"]
    assert bn["train_mode"]["buffers_changed"] == 1.0
    assert bn["eval_mode"]["buffers_changed"] == 0.0
    assert bn["eval_mode"]["embedding_cosine"] > 0.999
    assert bn["train_mode"]["embedding_cosine"] < 0.9, bn
    assert bn["eval_mode"]["test_acc"] >= bn["train_mode"]["test_acc"], bn


def test_domain_gap_is_measured(executed):
    gap = executed("02")["domain_gap"]
    # far from ImageNet (digits), pretrained features gain less over a simple pixel model
    assert gap["digits"]["gain_vs_pixels"] < gap["flowers"]["gain_vs_pixels"] - 0.2, gap


def test_fine_tuning_starts_from_the_feature_extraction_head(executed):
    """A fair comparison: the fine-tuning arms begin where feature extraction ended."""
    m = executed("02")
    fe_val = {r["seed"]: r["val_acc"] for r in m["results"] if r["arm"] == "feature_extraction"}
    for r in m["results"]:
        if r["arm"] in ("fine_tune_top", "fine_tune_all"):
            assert r["start_val_acc"] == pytest.approx(fe_val[r["seed"]], abs=1e-6), r
            assert r["val_acc"] >= r["start_val_acc"]  # epoch 0 is a candidate
            assert r["head_steps"] > 0 and r["image_steps"] > 0
        if r["arm"] == "from_scratch":
            assert r["head_steps"] == 0
    steps = {r["image_steps"] for r in m["results"] if r["arm"] != "feature_extraction"}
    assert len(steps) == 1  # the same optimizer steps on images for every arm
