"""Outcomes of chapter 06 (SageMaker), run against the offline emulator.

The notebook trains from the flower detector, tunes, deploys, invokes and cleans up; these
checks read what it recorded, and the executed notebook's cell outputs.
"""

import json
from itertools import product
from pathlib import Path

import pytest

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def m(executed):
    return executed("06")


def test_ran_offline_and_left_nothing_billing(m):
    assert m["mode"] == "emulator"
    assert m["cleaned"] == [f"endpoint {m['endpoint']}", f"endpoint config {m['endpoint']}",
                            f"model {m['endpoint'].replace('species-', 'species-model-')}"]
    assert m["leftover"] == {"endpoints": [], "endpoint_configs": [], "models": [],
                             "s3_objects": []}


def test_clean_up_deleted_everything_the_run_put_in_s3(m):
    """Data, detector, code, checkpoints, outputs and the repacked model all went under the
    run's prefix, and the prefix is gone: the emulator's bucket (this run's alone) is empty."""
    assert m["deleted_objects"] > 10
    assert m["bucket_left"] == []


def _cell_output(m, cell_id: str) -> str:
    notebook = Path(m["run_dir"]).parent / "06_sagemaker.ipynb"  # the runner's executed copy
    (cell,) = [c for c in json.loads(notebook.read_text())["cells"] if c.get("id") == cell_id]
    return "".join("".join(o.get("text", "")) for o in cell["outputs"]
                   if o.get("output_type") == "stream")


def test_the_job_log_streams_into_the_training_cell(m):
    """wait(logs=True) hands the job's CloudWatch log to the SDK's logger; the chapter prints
    it: train.py's own lines, up to its last, appear in the cell's output, once each."""
    out = _cell_output(m, "c14")
    assert "[algo-1] starting from the detector" in out
    epochs = [line for line in out.splitlines() if line.startswith("[algo-1] epoch=")]
    assert len(epochs) == len(m["history"])
    assert f"[algo-1] epoch=1 train_loss={m['history'][0]['train_loss']:.6f}" in out
    assert out.count("[algo-1] final epochs=") == 1  # the last lines too, and no duplicates
    assert "[algo-1] model written to" in out and "INFO:" not in out


def test_the_job_started_from_the_detector_and_kept_its_feature_layers(m):
    assert m["detector_classes"] == ["not_flower", "flower"]
    assert m["detector_source"] in ("chapter 05", "built here with chapter 05's recipe")
    best = next(t for t in m["trials"] if t["job"] == m["best_job"])
    assert m["shared_body"] is (best["hyperparameters"]["trainable_stages"] == "0")


def test_the_job_and_the_endpoint_got_separate_requirements(m):
    training, serving = m["staged"]["training"], m["staged"]["inference"]
    assert serving["requirements"] == ["timm==1.0.31"]
    assert {"scikit-learn==1.9.1", "pandas==3.1.1"} <= set(training["requirements"])
    assert serving["utils"] == ["__init__.py", "checkpoint.py", "data.py", "models.py"]
    assert "train.py" in training["files"] and "train.py" not in serving["files"]


def test_training_job_really_trained(m):
    assert m["training_status"] == "Completed" and m["billable_seconds"] >= 1
    history = m["history"]
    assert [r["epoch"] for r in history] == list(range(1, len(history) + 1))
    assert m["job_metrics"]["epoch"] == len(history)  # scraped from the log by the regexes
    assert m["job_metrics"]["val_acc"] == pytest.approx(history[-1]["val_acc"], abs=1e-6)
    assert m["model_artifact"].endswith("/output/model.tar.gz")
    assert [Path(k).name for k in m["checkpoints"]] == ["checkpoint.pt"]  # synced for spot


def test_cost_estimate_printed_before_launch_is_the_worst_case(m):
    job, tuning = m["job_estimate"], m["tuning_estimate"]
    assert job["worst_case_usd"] > 0 and job["with_spot_usd"] < job["worst_case_usd"]
    assert tuning["worst_case_usd"] == pytest.approx(job["worst_case_usd"] * tuning["jobs"])


def test_the_emulator_ran_the_trials_in_parallel(m):
    """tuning_max_parallel=None means 2 in the emulator: the emulator honours
    MaxParallelTrainingJobs, so the two trials trained at the same time (the chapter's 60 s)."""
    assert m["tuning_max_parallel"] == 2
    first, second = sorted(m["trials"], key=lambda t: t["started"])
    assert first["ended"] and second["started"] < first["ended"]


def test_tuning_compared_depths_on_a_fair_grid(m):
    """Every combination of the grid ran once, with everything else equal: no depth was drawn
    twice or with another learning rate."""
    assert m["tuning_strategy"] == "Grid"
    grid = m["tuning_grid"]
    ran = sorted((t["hyperparameters"]["lr"], t["hyperparameters"]["trainable_stages"])
                 for t in m["trials"])
    assert ran == sorted(product(grid["lr"], grid["trainable_stages"]))
    assert m["tuning_estimate"]["jobs"] == len(ran)


def test_tuning_ran_every_trial_and_picked_the_best(m):
    trials = m["trials"]
    assert m["tuning_status"] == "Completed"
    assert len(trials) == m["tuning_estimate"]["jobs"]
    assert all(t["status"] == "Completed" and t["objective"] is not None for t in trials)
    assert len({(t["hyperparameters"]["lr"], t["hyperparameters"]["trainable_stages"])
                for t in trials}) == len(trials)
    assert m["best_objective"] == max(t["objective"] for t in trials)
    assert m["best_job"] in {t["job"] for t in trials}


def test_endpoint_answered_every_photo_with_top_k(m):
    assert len(m["replies"]) == m["n_test_photos"] > 0
    for reply in m["replies"]:
        top = reply["predictions"][0]["top_k"]
        assert len(top) == reply["k"] == 3
        assert {t["label"] for t in top} <= set(m["classes"])
        probs = [t["probability"] for t in top]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-5
    assert 0 <= m["endpoint_acc"] <= 1


def test_endpoint_serves_the_trained_model_unchanged(m):
    """Same model.tar.gz run locally on the same bytes: same labels, same probabilities."""
    assert m["same_labels_as_local"] is True
    assert m["max_prob_gap"] < 1e-4


def test_one_request_answers_flower_and_species(m):
    """Every reply carries the detector's answer (equal to the original detector's, run
    locally) and the gated answer: the species if there is a flower, else 'no flower'."""
    assert m["max_flower_gap"] < 1e-4
    assert len(m["no_flower_replies"]) > 0
    for reply in m["replies"] + m["no_flower_replies"]:
        top = reply["predictions"][0]
        assert 0 <= top["flower_probability"] <= 1
        assert top["is_flower"] is (top["flower_probability"] >= 0.5)
        assert top["answer"] == (top["label"] if top["is_flower"] else "no flower")
    for name in ("flower_acc", "system_acc", "detector_acc"):
        assert 0 <= m[name] <= 1


def test_the_endpoint_was_the_kind_asked_for(m):
    variant = m["endpoint_config"]
    if m["serverless"]:
        assert "ServerlessConfig" in variant and "InstanceType" not in variant
    else:
        assert variant["InstanceType"] == "ml.m5.large" and "ServerlessConfig" not in variant
    assert 0 < m["serverless_usd_per_request"] < 0.01


def test_tuning_bill_adds_up_its_trials(m):
    assert m["tuning_seconds"] == sum(t["billable_seconds"] for t in m["trials"])
    assert all(t["billable_seconds"] >= 1 for t in m["trials"])
    job_usd, tuning_usd = m["bills"].values()
    assert tuning_usd / job_usd == pytest.approx(m["tuning_seconds"] / m["billable_seconds"])


def test_bad_request_got_a_clear_error(m):
    bad = m["bad_request"]
    assert bad["status"] == 415
    assert "not supported" in bad["message"] and "Traceback" not in bad["message"]

