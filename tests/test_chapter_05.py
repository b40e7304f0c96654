"""Outcomes of chapter 05 (flower detector -> species), read from the metrics it writes."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.notebook

TRANSFER_OVER_SCRATCH = 0.2  # species test accuracy (measured at the test parameters: 0.5)
# a later epoch's training loss below this share of the first epoch's (measured: 0.67 for the
# best trial at the test parameters, 6 epochs of 64 images; learning rate 0: 0.98)
LOSS_FALL = 0.85


def test_transfer_beats_scratch_hpo_on_accuracy_and_work(executed):
    m = executed("05")
    # transfer is both more accurate and far less work than retraining from scratch with HPO
    assert m["transfer_acc"] > m["scratch_acc"] + TRANSFER_OVER_SCRATCH, m
    assert m["transfer_acc"] > m["chance"] + 0.3, m
    assert len(m["trials"]) == m["hpo_trials"]
    # work, counted: option C trained every layer on this many images (forward and backward);
    # option B passed each species image once through the frozen detector body
    scratch_images = sum(t["images_per_epoch"] for t in m["trials"]) * m["hpo_epochs"]
    transfer_images = m["n_train"] + 2 * m["n_test"]  # train, and at most as many val as test
    assert scratch_images > transfer_images, (scratch_images, transfer_images)


def test_the_scratch_trials_did_train(executed):
    """Option C loses although it trained: the best trial's training loss fell by LOSS_FALL
    or more from its first epoch to its last."""
    m = executed("05")
    best = max(m["trials"], key=lambda t: t["val_acc"])
    loss = best["train_loss"]
    assert len(loss) >= 2 and min(loss[1:]) < LOSS_FALL * loss[0], m["trials"]


def test_scratch_trials_sample_at_most_hpo_epoch_images_per_epoch(executed):
    m = executed("05")
    # the test parameters cap each epoch below the training set (6 epochs of 64 of 84 images)
    assert m["hpo_epoch_images"] < m["n_train"], m
    assert all(t["images_per_epoch"] == m["hpo_epoch_images"] for t in m["trials"]), m["trials"]


def test_detector_and_two_headed_system(executed):
    m = executed("05")
    assert Path(m["detector_checkpoint"]).is_file()
    assert m["detector_acc"] > 0.6, m["detector_acc"]
    system = m["system"]
    n = len(m["classes"]) + 1
    assert len(system["confusion"]) == n and system["labels"][-1] == "no flower"
    assert sum(map(sum, system["confusion"])) > m["n_test"]  # flowers + negatives
    # the two-headed system answers flowers and non-flowers: better than its chance
    assert system["system_acc"] > 1 / n + 0.3, system


def test_cost_table_uses_the_rate_parameters(executed):
    m = executed("05")
    rows = m["cost_rows"]
    assert len(rows) == 3 * len(m["hourly_rates"])
    for row in rows:
        rate = m["hourly_rates"][row["instance"]]
        assert row["on_demand_usd"] == pytest.approx(row["seconds"] / 3600 * rate)
        assert row["spot_usd"] == pytest.approx(row["on_demand_usd"] * (1 - m["spot_savings"]))
    assert m["quiz_correct"] is True


def test_builtin_algorithm_as_the_exam_sees_it(executed):
    m = executed("05")
    assert m["feature_sizes"] == {"resnet50": 2048, "efficientnet_lite0": 1280}
    builtin = m["builtin"]
    for task, hp in builtin["hyperparameters"].items():
        assert hp["use_pretrained_model"] == "1" and hp["image_shape"] == "3,224,224", task
        assert int(hp["num_layers"]) in (18, 34, 50, 101, 152, 200), task
    assert builtin["hyperparameters"]["cats (Oxford-IIIT Pet)"]["num_classes"] == "12"
    assert len(builtin["refusals"]) == 2
    index, label, path = builtin["lst_first_lines"][0].split("\t")
    assert index == "0" and label.isdigit() and not path.startswith("/")
    assert all(row["instance"] == builtin["gpu_instance"] for row in builtin["cost_rows"])
    assert m["quiz_correct"] is True  # the default answer is B, as the notes set it


def test_the_lst_configuration_has_a_valid_resize(executed, tmp_path):
    """Section 8: jpg/png (.lst) input needs resize, larger than image_shape (fact sheet)."""
    m = executed("05")
    builtin = m["builtin"]
    for task, hp in builtin["hyperparameters"].items():
        _, height, width = (int(v) for v in hp["image_shape"].split(","))
        assert int(hp["resize"]) > max(height, width), (task, hp)
    assert "num_classes" in builtin["incremental_refusal"]
    assert builtin["knobs"]["num_layers"]["AWS default"] == "152"
