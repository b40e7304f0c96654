"""Every notebook in notebooks/ executes under papermill and records its measurements.

Notebooks are discovered automatically, so a new chapter is covered as soon as it exists.
Chapter-specific outcomes (orderings, accuracies) are asserted in tests/test_chapter_NN.py.
"""

from __future__ import annotations

import pytest

from course import runner as course

NOTEBOOKS = course.notebooks()


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_executes_and_writes_metrics(notebook, executed):
    metrics = executed(notebook.name[:2])
    assert isinstance(metrics, dict) and metrics, f"{notebook.name} wrote no metrics"


def test_course_has_notebooks():
    assert len(NOTEBOOKS) >= 2
    assert [nb.name[:2] for nb in NOTEBOOKS] == sorted(nb.name[:2] for nb in NOTEBOOKS)
