"""Shared fixtures: execute each course notebook once per test session."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

from course import runner as course  # noqa: E402
from utils.env import load_metrics  # noqa: E402


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """``executed("02")`` runs the notebook starting with ``02`` (once) and returns its metrics.

    The executed notebook is kept next to the metrics, in ``executed.runs_dir``, for debugging a
    failure and for the book test.
    """
    results: dict[str, object] = {}
    runs_dir = tmp_path_factory.mktemp("runs")

    def run(prefix: str) -> dict:
        if prefix not in results:
            matches = course.notebooks([prefix])
            assert len(matches) == 1, f"expected one notebook for {prefix!r}, got {matches}"
            try:
                out = course.run_notebook(matches[0], course.test_parameters(matches[0]),
                                          runs_dir=runs_dir)
                results[prefix] = load_metrics(out)
            except Exception as err:  # remember the failure: don't re-run a broken notebook
                results[prefix] = err
        result = results[prefix]
        if isinstance(result, Exception):
            raise result
        return result

    run.runs_dir = runs_dir
    return run
