"""Shared fixtures: execute each course notebook once per test session."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from course import runner as course  # noqa: E402
from utils.env import load_metrics  # noqa: E402


def test_parameters(notebook: Path) -> dict:
    """The smaller parameter values a notebook asks tests to use.

    They live in the notebook's metadata under ``course.test_parameters``, next to the defaults
    they shrink, so a new chapter brings its own.
    """
    meta = json.loads(notebook.read_text()).get("metadata", {})
    return dict(meta.get("course", {}).get("test_parameters", {}))


test_parameters.__test__ = False  # not a test, despite the name


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """``executed("02")`` runs the notebook starting with ``02`` (once) and returns its metrics.

    The executed notebook is kept next to the metrics for debugging a failure.
    """
    results: dict[str, object] = {}
    runs_dir = tmp_path_factory.mktemp("runs")

    def run(prefix: str) -> dict:
        if prefix not in results:
            matches = course.notebooks([prefix])
            assert len(matches) == 1, f"expected one notebook for {prefix!r}, got {matches}"
            try:
                out = course.run_notebook(matches[0], test_parameters(matches[0]),
                                          runs_dir=runs_dir)
                results[prefix] = load_metrics(out)
            except Exception as err:  # remember the failure: don't re-run a broken notebook
                results[prefix] = err
        result = results[prefix]
        if isinstance(result, Exception):
            raise result
        return result

    return run
