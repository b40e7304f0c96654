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


NOTHING_LEFT = {"endpoints": [], "endpoint_configs": [], "models": [], "s3_objects": [],
                "training_jobs": [], "tuning_jobs": [], "log_streams": [], "log_groups": []}


def test_ran_offline_and_left_nothing_billing(m):
    prefix = m["name_prefix"]
    assert m["endpoint"] == f"{prefix}-endpoint"
    assert m["cleaned"] == [f"endpoint {prefix}-endpoint", f"endpoint config {prefix}-endpoint",
                            f"model {prefix}-model"]
    assert m["leftover"] == NOTHING_LEFT
    assert m["region"] == "us-east-1"  # the emulator's


def test_clean_up_deleted_the_runs_logs(m):
    """The jobs' log streams (one per job: the training job and each trial) and the endpoint's
    log group were there, and clean_up deleted them."""
    deleted = m["cleaned_up"]["logs"]
    streams = [d for d in deleted if d.startswith("log stream ")]
    assert len(streams) >= 1 + len(m["trials"])
    assert f"log group /aws/sagemaker/Endpoints/{m['endpoint']}" in deleted


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
    assert m["detector_source"] == "built here with chapter 05's recipe"  # the default: None
    best = next(t for t in m["trials"] if t["job"] == m["best_job"])
    assert m["shared_body"] is (best["hyperparameters"]["trainable_stages"] == "0")


def test_the_job_and_the_endpoint_got_separate_requirements(m):
    training, serving = m["staged"]["training"], m["staged"]["inference"]
    assert serving["requirements"] == ["timm>=1.0"]  # what the images lack, nothing they have
    assert "timm>=1.0" in training["requirements"]
    assert not any(r.startswith(("pandas", "scikit-learn", "torch")) for r in
                   training["requirements"] + serving["requirements"])
    assert serving["utils"] == ["__init__.py", "checkpoint.py", "models.py", "photos.py",
                                "precision.py"]
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


# The deployed species model learned: at the test parameters (64 px, 16 flowers per species,
# 3 epochs) the endpoint got 8 of 12 held-out photos right, 2 by chance. With the trials'
# rate at 0 (COURSE_TEST_OVERRIDES='{"tuning_lrs": [0.0]}': the endpoint serves the best
# trial's model) an untrained head on the detector's features got 5 of 12, and validation
# 1 of 12: hence 6 of 12 (chance + 4) as the bar. The job's own loss (rate `lr`) must fall.
SPECIES_OVER_CHANCE = 4 / 12


def test_the_endpoint_names_species_well_above_chance(m):
    assert m["endpoint_acc"] >= m["chance"] + SPECIES_OVER_CHANCE - 1e-9, m["endpoint_acc"]
    losses = [r["train_loss"] for r in m["history"]]
    assert losses[-1] < 0.5 * losses[0], losses  # 1.91 -> 0.25 at the test parameters


def test_the_endpoint_is_exactly_as_accurate_as_the_model_evaluated_locally(m):
    """What you deploy is what you evaluated: the same model.tar.gz run in the notebook gets
    the same species accuracy, and the original detector the same flower-or-not accuracy."""
    assert m["endpoint_acc"] == m["local_acc"]
    assert m["flower_acc"] == m["local_flower_acc"]


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


def test_the_gated_answer_is_right_exactly_when_gate_and_species_are(m):
    """The whole system's accuracy follows from its two heads: a flower photo is answered
    right when the gate lets it through and the species is right, a photo without flowers
    when the gate stops it. Counted from the replies and the true answers."""
    replies = m["replies"] + m["no_flower_replies"]
    right = sum(r["predictions"][0]["is_flower"] and r["predictions"][0]["label"] == truth
                if truth != "no flower" else not r["predictions"][0]["is_flower"]
                for r, truth in zip(replies, m["expected"], strict=True))
    assert m["system_acc"] == pytest.approx(right / len(replies))
    assert m["system_acc"] <= m["flower_acc"]  # a wrong gate is a wrong answer


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



def test_trials_got_the_trainers_checkpoint_config_on_this_sdk(m):
    """sagemaker-train 1.27.0 (SDK 3.27.0) was the first to pass CheckpointConfig to tuning
    trials; the chapter reports what the installed SDK did."""
    from importlib.metadata import version

    from packaging.version import Version

    assert m["trial_checkpoints"] is (Version(version("sagemaker-train")) >= Version("1.27.0"))


def test_a_detector_passed_from_chapter_05_is_the_one_used(m, executed, tmp_path_factory):
    """detector_checkpoint points at a saved detector: the chapter loads that file (and says
    so) instead of building one, and the endpoint's flower answer is that detector's. Passed
    one with random weights, it tells flowers from the rest worse than the detector built
    with chapter 05's recipe (pretrained body): at the test parameters 0.73 against 0.5."""
    from utils import checkpoint, models

    path = tmp_path_factory.mktemp("chapter05") / "flower_detector.pt"
    checkpoint.save_checkpoint(path, models.create_model(2, pretrained=False, seed=3),
                               ["not_flower", "flower"], image_size=32)
    given = executed("06", detector_checkpoint=str(path))
    assert given["detector_source"] == "chapter 05"
    assert given["max_flower_gap"] < 1e-4  # the endpoint ran exactly this detector
    assert m["detector_acc"] >= given["detector_acc"] + 0.1, (m["detector_acc"],
                                                              given["detector_acc"])


def test_a_run_interrupted_midway_leaves_nothing_behind(executed):
    """interrupt_at='tuning' stops the chapter as the stop button would while the tuning
    trials run (after the training job, with data, code and checkpoints in S3 and logs in
    CloudWatch): the tuning job and its trials are stopped, the clean-up hook deletes
    everything of the run, and what it found left afterwards (cleanup.json) is nothing."""
    with pytest.raises(Exception) as stopped:
        executed("06", interrupt_at="tuning", tuning_stages=["0"])
    (path,) = executed.base.glob("runs-06_sagemaker-*/06_sagemaker/cleanup.json")
    # the cell stopped where asked: papermill's error says so with IPython 9; with Studio's
    # IPython 8.37 (.ci/compat) the error comes back without the exception's text, and then
    # the failing cell must be the tuning cell, the one that raises it
    err = stopped.value
    said = f"{getattr(err, 'evalue', '')} {err}"
    assert ("interrupt_at='tuning'" in said
            or 'if interrupt_at == "tuning":' in getattr(err, "source", "")), said
    report = json.loads(path.read_text())
    cleaned = report["cleaned"]
    assert int(cleaned["s3"][0].split()[0]) > 10  # data, detector, code, checkpoints, output
    assert any(d.startswith("log stream ") for d in cleaned["logs"])
    assert report["left"] == NOTHING_LEFT
