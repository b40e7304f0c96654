"""Every notebook in notebooks/ executes under papermill and records its measurements.

Notebooks are discovered automatically, so a new chapter is covered as soon as it exists.
Chapter-specific outcomes (orderings, accuracies) are asserted in tests/test_chapter_NN.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from course import runner as course

NOTEBOOKS = course.notebooks()


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_executes_and_writes_metrics(notebook, executed):
    metrics = executed(notebook.name[:2])
    assert isinstance(metrics, dict) and metrics, f"{notebook.name} wrote no metrics"
    # the run wrote only to the fixture's folders: its metrics next to its executed copy
    assert (executed.runs_dir / notebook.name).is_file()


def test_every_chapter_has_tests_that_read_its_metrics():
    """A new chapter brings assertions on what it measured, not only "it ran"."""
    read = set()
    for path in Path(__file__).parent.glob("test_chapter_*.py"):
        text = path.read_text()
        read |= set(re.findall(r"executed\(\"(\d\d)\"", text))
        if "load_metrics(" in text:  # runs its chapter itself (the review reads earlier runs)
            read |= set(re.findall(r"\d\d", path.stem))
    assert {nb.name[:2] for nb in NOTEBOOKS} <= read, sorted(read)


def test_course_has_notebooks():
    assert len(NOTEBOOKS) >= 2
    assert [nb.name[:2] for nb in NOTEBOOKS] == sorted(nb.name[:2] for nb in NOTEBOOKS)
