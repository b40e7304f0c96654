"""Shared fixtures: execute each course notebook once per test session, hermetically.

Nothing a test runs writes the repository's ``data/`` or ``runs/`` folders: every notebook gets
its own ``data_root`` (generated images, embedding caches) and ``output_dir`` under pytest's
temporary folders, and ``COURSE_DATA_ROOT`` (the default ``data_root`` of :mod:`utils.data`)
points there too, for the unit tests and for code a notebook calls without a ``data_root``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

# before utils is imported anywhere: defaults that would land in the repository's data/ go here
_SESSION_DATA_ROOT = tempfile.mkdtemp(prefix="course-tests-data-")
os.environ["COURSE_DATA_ROOT"] = _SESSION_DATA_ROOT

import matplotlib  # noqa: E402
import pytest  # noqa: E402

matplotlib.use("Agg")

from course import runner as course  # noqa: E402
from utils.env import load_metrics  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _session_data_root():
    """Delete the session's default data folder at the end."""
    yield _SESSION_DATA_ROOT
    shutil.rmtree(_SESSION_DATA_ROOT, ignore_errors=True)


def notebook_parameters(notebook) -> set[str]:
    """The names in a notebook's ``parameters`` cell."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """``executed("02")`` runs the notebook starting with ``02`` (once) and returns its metrics.

    It runs with the notebook's test parameters, its own ``data_root`` (``<tmp>/data/<name>``)
    and its ``output_dir`` in ``executed.runs_dir``, next to the executed notebook (kept for
    debugging a failure and for the book test). ``executed("04", data_dir=...)`` overrides
    parameters: such a run is separate from the plain one (its own folders, its own cache
    entry), so no test depends on which ran first.

    To check that a test can fail, break a lesson for every notebook of a run with the
    environment variable ``COURSE_TEST_OVERRIDES`` (JSON), e.g.
    ``COURSE_TEST_OVERRIDES='{"lr_body": 1.0}' pytest tests/test_chapter_02.py``.
    """
    broken = json.loads(os.environ.get("COURSE_TEST_OVERRIDES") or "{}")
    results: dict[tuple, object] = {}
    base = tmp_path_factory.mktemp("course")
    runs_dir = base / "runs"

    def run(prefix: str, **overrides) -> dict:
        key = (prefix, repr(sorted(overrides.items())))
        if key not in results:
            matches = course.notebooks([prefix])
            assert len(matches) == 1, f"expected one notebook for {prefix!r}, got {matches}"
            notebook = matches[0]
            name = notebook.stem if not overrides else f"{notebook.stem}-{len(results)}"
            where = runs_dir if not overrides else base / f"runs-{name}"
            data_root = base / "data" / name
            known = notebook_parameters(notebook)
            params = course.test_parameters(notebook)
            if "data_root" in known:
                params["data_root"] = str(data_root)
            params = {"output_dir": str(where / notebook.stem), **params, **overrides,
                      **{k: v for k, v in broken.items() if k in known}}
            before = os.environ["COURSE_DATA_ROOT"]
            os.environ["COURSE_DATA_ROOT"] = str(data_root)  # the kernel inherits it
            try:
                out = course.run_notebook(notebook, params, runs_dir=where)
                results[key] = load_metrics(out)
            except Exception as err:  # remember the failure: don't re-run a broken notebook
                results[key] = err
            finally:
                os.environ["COURSE_DATA_ROOT"] = before
        result = results[key]
        if isinstance(result, Exception):
            raise result
        return result

    run.runs_dir = runs_dir
    run.base = base
    return run
