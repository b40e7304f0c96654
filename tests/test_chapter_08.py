"""Outcomes of chapter 08 (exam review), run on its own (test parameters: recompute)."""

import pytest

pytestmark = pytest.mark.notebook


def test_evidence_is_recomputed_when_no_runs(executed):
    m = executed("08")
    assert "recomputed" in m["cat_source"] and "recomputed" in m["flower_source"]
    assert set(m["cat_acc"]) == set("ABCD")
    flower = m["flower"]
    assert flower["transfer_acc"] > flower["scratch_acc"], flower
    assert flower["transfer_seconds"] < flower["scratch_seconds"], flower


def test_self_check_marks_answers(executed):
    m = executed("08")
    assert len(m["results"]) >= 8 + 20
    # test parameters answer everything right except "endpoints" (A instead of B) and
    # "model_size" (C instead of B); the flower question's answer is B, as the notes set it
    wrong = {k for k, ok in m["results"].items() if ok is False}
    assert wrong == {"endpoints", "model_size"}, m["results"]
    assert m["answer_key"]["endpoints"] == "B" and m["answer_key"]["flowers"] == "B"
    assert m["results"]["flowers"] is True and m["results"]["overfitting"] is True
    assert m["n_practice"] >= 20


def test_tradeoffs_are_measured(executed):
    m = executed("08")
    arch = m["architecture"]
    # the pretrained filters need objects at the size they were trained on
    assert arch["native"] > arch["mismatch_size"] + 0.3, arch
    assert "channels" in m["channel_error"]
    sizes = m["sizes"]
    assert (sizes["ResNet-50 (the notes)"]["saved weights (MB)"]
            > 5 * sizes["EfficientNet-Lite0 (ours)"]["saved weights (MB)"]
            > 25 * sizes["small custom CNN (from scratch)"]["saved weights (MB)"]), sizes
    assert m["head_share"] < 0.01
    over = m["overfitting"]
    scratch, transfer = over["from scratch (all layers)"], over["transfer (new head only)"]
    assert scratch["gap"] > transfer["gap"] + 0.1, over
    assert transfer["held-out accuracy"] > scratch["held-out accuracy"] + 0.2, over
    bias = m["bias"]
    # the preference is inherited: pretrained and random weights decide conflicts differently
    for cue in ("shape vs texture", "shape vs colour"):
        assert abs(bias["pretrained"][cue] - bias["random weights"][cue]) > 0.2, bias
    shift = m["domain_shift"]
    assert shift["synthetic radiographs"] > shift["real photos (crops)"] + 0.05, shift


def test_tradeoff_table_covers_both_notes(executed):
    rows = executed("08")["tradeoffs"]
    by_approach = {}
    for row in rows:
        by_approach.setdefault(row["approach"], []).append(row["trade-off (the notes)"])
        assert row["your evidence"] and row["where measured"], row
    assert len(by_approach["transfer learning"]) == 6
    assert len(by_approach["from scratch"]) == 5
    assert any("domain gap" in t for t in by_approach["transfer learning"])
    assert any("plentiful" in t for t in by_approach["from scratch"])
