"""Repository hygiene: clean notebooks, papermill parameters, lint, documented commands."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course import runner as course

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = course.notebooks()
REQUIRED_KNOBS = {"output_dir", "device"}


def _cells(nb):
    return json.loads(nb.read_text())["cells"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(nb):
    for cell in _cells(nb):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{nb.name}: clear outputs before committing"
            assert cell["execution_count"] is None, f"{nb.name}: clear execution counts"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_has_one_parameters_cell_with_the_knobs(nb):
    params = [c for c in _cells(nb) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, f"{nb.name}: needs exactly one cell tagged 'parameters'"
    source = "".join(params[0]["source"])
    names = {line.split("=")[0].strip() for line in source.splitlines()
             if "=" in line and not line.startswith("#")}
    assert REQUIRED_KNOBS <= names, f"{nb.name}: missing {REQUIRED_KNOBS - names}"
    test_params = json.loads(nb.read_text())["metadata"].get("course", {}).get(
        "test_parameters", {})
    assert set(test_params) <= names, f"{nb.name}: test parameters {set(test_params) - names} " \
                                      "are not in the parameters cell"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_ends_with_a_questionnaire_or_next_step(nb):
    markdown = "".join("".join(c["source"]) for c in _cells(nb) if c["cell_type"] == "markdown")
    assert "Questionnaire" in markdown or nb.name.startswith("00"), nb.name


def test_ruff_passes_on_code_and_notebooks():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_documents_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "python -m course" in readme and "python -m pytest" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "requirements.txt" in ci and "python -m pytest" in ci
