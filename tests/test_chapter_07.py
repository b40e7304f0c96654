"""Outcomes of chapter 07 (exam review), run on its own (test parameters: recompute)."""

import pytest

pytestmark = pytest.mark.notebook


def test_evidence_is_recomputed_when_no_runs(executed):
    m = executed("07")
    assert "recomputed" in m["cat_source"] and "recomputed" in m["flower_source"]
    assert set(m["cat_acc"]) == set("ABCD")
    flower = m["flower"]
    assert flower["transfer_acc"] > flower["scratch_acc"], flower
    assert flower["transfer_seconds"] < flower["scratch_seconds"], flower


def test_self_check_marks_answers(executed):
    m = executed("07")
    assert len(m["results"]) >= 8
    # test parameters answer everything right except "endpoints" (A instead of B)
    wrong = {k for k, ok in m["results"].items() if not ok}
    assert wrong == {"endpoints"}, m["results"]
    assert m["answer_key"]["endpoints"] == "B"
