"""Outcomes of chapter 02 (feature extraction vs fine-tuning), from the notebook's metrics."""

import numpy as np
import pytest

pytestmark = pytest.mark.notebook


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
    table = executed("02")["table"]
    trainable = [table[a]["trainable"] for a in
                 ("feature_extraction", "fine_tune_top", "fine_tune_all")]
    assert trainable == sorted(trainable) and len(set(trainable)) == 3
    assert table["fine_tune_all"]["trainable"] == table["from_scratch"]["trainable"]
    # feature extraction: one forward pass, then a tiny head; full fine-tuning: fwd+bwd/epoch
    assert table["feature_extraction"]["seconds"] < table["fine_tune_all"]["seconds"]


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
