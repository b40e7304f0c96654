"""Chapter 08 (exam review): it trains nothing, reads earlier chapters' runs, scores a mock exam.

The review reads the ``metrics.json`` files of chapters 01-07 from ``runs_dir``. One test runs it
against no runs at all (cheap: it must say which chapter to run, and still score a mock exam);
one runs it after the earlier chapters ran (through the ``executed`` fixture) and checks that
every trade-off row carries their numbers.
"""

from __future__ import annotations

import ast
import json

import pytest

from course import runner as course
from utils import questions, quiz
from utils.env import load_metrics

NOTEBOOK = course.notebooks(["08"])[0]
TRAINING_CALLS = {"fit", "backward", "step", "zero_grad", "train_one_epoch",
                  "train_linear_head", "fit_transform"}


def training_calls(sources: list[str]) -> list[str]:
    """Calls in the code that would train something: fit(...), .backward(), any torch.optim."""
    found = []
    for code in sources:
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in TRAINING_CALLS:
                    found.append(ast.unparse(node)[:60])
            if isinstance(node, ast.Attribute | ast.Name | ast.alias):
                text = getattr(node, "attr", None) or getattr(node, "id", None) or node.name
                if "optim" in text.lower():
                    found.append(text)
    return found


def code_cells(path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def test_the_review_trains_nothing():
    assert training_calls(code_cells(NOTEBOOK)) == []
    # the check can fail: each of these would be training
    for bad in ("training.fit(model, loader, loader, epochs=1)", "loss.backward()",
                "opt = torch.optim.AdamW(model.parameters())", "head.fit(x, y)"):
        assert training_calls([bad]), bad


def run_review(tmp_path, name: str, **parameters) -> dict:
    out = course.run_notebook(NOTEBOOK, {"output_dir": str(tmp_path / name), **parameters},
                              runs_dir=tmp_path)
    return load_metrics(out)


def right_answers(n: int = 20, seed: int = 0) -> dict[str, str]:
    return {q.id: q.answer for q in quiz.draw(questions.all_questions(), n=n, seed=seed)}


@pytest.mark.notebook
def test_without_runs_it_names_the_chapters_and_scores_the_mock_exam(tmp_path):
    right = right_answers()
    first = next(iter(right))
    wrong_letter = next(letter for letter in "ABCD" if letter != right[first])
    empty = tmp_path / "no-runs"
    empty.mkdir()
    all_right = run_review(tmp_path, "all_right", runs_dir=str(empty), mock_answers=right)
    one_wrong = run_review(tmp_path, "one_wrong", runs_dir=str(empty),
                           mock_answers={**right, first: wrong_letter})
    # nothing was run: every chapter is named, every trade-off row says what to run
    assert all_right["not_run"] == ["01", "02", "03", "04", "05", "06", "07"]
    assert all("run chapter" in row["your evidence"] for row in all_right["tradeoffs"])
    # the mock exam is scored per topic, and a wrong answer sends you to its chapter
    mock, mock_wrong = all_right["mock"], one_wrong["mock"]
    assert mock["ids"] == list(right) and mock["score"] == 1 and mock["reread"] == []
    assert mock_wrong["score"] == pytest.approx(1 - 1 / len(right))
    topic = questions.get(first).topic
    scores = {m: {r["topic"]: r["correct"] for r in m_["per_topic"]}
              for m, m_ in (("right", mock), ("wrong", mock_wrong))}
    assert scores["wrong"][topic] == scores["right"][topic] - 1, scores
    assert mock_wrong["reread"] == [questions.get(first).chapter]


@pytest.mark.notebook
def test_after_the_chapters_every_tradeoff_has_its_evidence(executed, tmp_path):
    for chapter in ("01", "02", "03", "04", "05", "06", "07"):
        executed(chapter)
    m = run_review(tmp_path, "review", runs_dir=str(executed.runs_dir),
                   answers={"cats_notes": "C", "flowers_notes": "A"})
    assert m["not_run"] == []
    assert m["results"] == {"cats_notes": True, "flowers_notes": False}
    rows = {(r["approach"], r["trade-off (the notes)"]): r for r in m["tradeoffs"]}
    by_approach = {}
    for (approach, tradeoff), row in rows.items():
        by_approach.setdefault(approach, []).append(tradeoff)
        assert "run chapter" not in row["your evidence"], row
    assert len(by_approach["transfer learning"]) == 8 and len(by_approach["from scratch"]) == 6
    for needed in ("SageMaker's managed infrastructure", "SageMaker's service cost",
                   "domain gap", "fixed model size", "inherits the biases"):
        assert any(needed in t for t in by_approach["transfer learning"]), needed
    assert any("cannot reuse" in t for t in by_approach["from scratch"])
    # the numbers come from the chapters' runs, e.g. chapter 04's int8 model and chapter 03
    q = load_metrics(executed.runs_dir / "04_cat_breeds")["quantization"]
    size_row = rows[("transfer learning", "fixed model size")]["your evidence"]
    assert f"{q['fp32_mb']:.1f} -> {q['int8_mb']:.1f} MB" in size_row
    assert m["evidence"]["int8_mb"] == pytest.approx(q["int8_mb"])
    assert m["cat_acc"] == load_metrics(executed.runs_dir / "03_initialising_the_network")["acc"]
