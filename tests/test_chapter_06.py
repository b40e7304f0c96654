"""Outcomes of chapter 06 (SageMaker), run against the offline emulator.

The notebook trains, tunes, deploys, invokes and cleans up; these checks read what it recorded.
"""

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
    assert m["leftover"] == {"endpoints": [], "endpoint_configs": [], "models": []}


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


def test_tuning_bill_adds_up_its_trials(m):
    assert m["tuning_seconds"] == sum(t["billable_seconds"] for t in m["trials"])
    assert all(t["billable_seconds"] >= 1 for t in m["trials"])
    job_usd, tuning_usd = m["bills"].values()
    assert tuning_usd / job_usd == pytest.approx(m["tuning_seconds"] / m["billable_seconds"])


def test_bad_request_got_a_clear_error(m):
    bad = m["bad_request"]
    assert bad["status"] == 415
    assert "not supported" in bad["message"] and "Traceback" not in bad["message"]

