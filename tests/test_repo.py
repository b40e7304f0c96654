"""Repository hygiene: clean notebooks, papermill parameters, lint, documented commands."""

import json
import re
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
def test_notebook_title_carries_its_own_number(nb):
    """The title the book and the sidebar show starts with the file's number ("07 · ...")."""
    title = "".join(_cells(nb)[0]["source"]).splitlines()[0]
    assert title.startswith(f"# {nb.name[:2]} · "), (nb.name, title)


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


DOCS_PAGES = ("real-photos.md", "performance.md", "sagemaker.md", "contributing.md")


def test_readme_is_a_short_front_door_that_reaches_every_docs_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 170
    links = re.findall(r"\]\(([^)#\s]+)", readme)
    for link in links:
        if not link.startswith("https://"):
            assert (ROOT / link).exists(), f"README links to {link}, which does not exist"
    for page in DOCS_PAGES:
        assert f"docs/{page}" in links, f"README does not link docs/{page}"
    chapters = re.findall(r"^- \[(\d\d) · .+\]\(notebooks/(\d\d)_\w+\.ipynb\): ", readme,
                          re.MULTILINE)
    assert [a for a, b in chapters if a == b] == [nb.name[:2] for nb in NOTEBOOKS]


def test_what_a_learner_reads_has_no_development_paths_or_placeholders():
    texts = {"README.md": (ROOT / "README.md").read_text()}
    texts |= {f"docs/{p}": (ROOT / "docs" / p).read_text() for p in DOCS_PAGES}
    texts |= {nb.name: "".join("".join(c["source"]) for c in _cells(nb)
                               if c["cell_type"] == "markdown") for nb in NOTEBOOKS}
    for name, text in texts.items():
        for leak in ("../shared", "shared/data", "OWNER/REPOSITORY", "OWNER.github",
                     "<this repository>", "this session"):
            assert leak not in text, f"{name} contains {leak!r}"


# What each chapter writes itself, in its own code cells (not hidden in utils/).
TAUGHT = {
    "01": ["timm.create_model", "load_state_dict(", ".softmax(", ".topk(5",
           "register_forward_hook"],
    "02": ["requires_grad_(False)", "nn.Linear", '"lr"', ".eval()", "loss.backward()",
           "optimizer.step()", "torch.inference_mode()", "torch.optim.AdamW"],
    "03": ["state_dict()", "load_state_dict(", "RuntimeError"],
    "04": ["torch.save", "torch.load", "softmax"],
    "05": ["nn.Module", "def forward"],
}


def _code(nb) -> str:
    return "\n".join("".join(c["source"]) for c in _cells(nb) if c["cell_type"] == "code")


@pytest.mark.parametrize("chapter", sorted(TAUGHT))
def test_chapter_writes_the_pytorch_it_teaches(chapter):
    (nb,) = course.notebooks([chapter])
    code = _code(nb)
    missing = [construct for construct in TAUGHT[chapter] if construct not in code]
    assert not missing, f"{nb.name}: its code cells never write {missing}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_imports_the_installed_package(nb):
    code = _code(nb)
    assert "sys.path" not in code, f"{nb.name}: the course is pip-installed; no sys.path cell"
    for gone in ("experiments", "scenarios"):
        assert f"utils.{gone}" not in code and f" {gone}." not in code, nb.name


def test_utils_holds_only_what_the_learner_uses():
    """The machinery lives outside utils/: stand-ins in offline/, the runner in course/."""
    learner = {p.stem for p in (ROOT / "utils").glob("*.py")}
    assert not learner & {"synthetic", "aws_emulator", "course", "runner", "exports",
                          "experiments", "scenarios"}
    assert {"synthetic", "applications", "aws_emulator", "progress"} <= {
        p.stem for p in (ROOT / "offline").glob("*.py")}
    assert {"runner", "exports", "book"} <= {p.stem for p in (ROOT / "course").glob("*.py")}


def _imported_packages(source: str) -> set[str]:
    """Top-level packages that ``source`` imports (absolute imports, at any indentation)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] == "code":
            lines += [ln for ln in "".join(cell["source"]).splitlines()
                      if not ln.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def test_imports_point_one_way():
    """course -> utils -> offline: chapters import utils only, utils never imports course,
    offline imports neither."""
    offenders = []
    for path in ROOT.glob("utils/**/*.py"):
        if "course" in _imported_packages(path.read_text()):
            offenders.append(f"{path.relative_to(ROOT)} imports course")
    for path in ROOT.glob("offline/*.py"):
        bad = _imported_packages(path.read_text()) & {"course", "utils", "benchmarks"}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        bad = _imported_packages(_notebook_code(path)) & {"course", "offline", "benchmarks"}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, offenders


def test_no_module_imports_another_modules_private_names():
    import re

    private_import = re.compile(r"from\s+[\w.]+\s+import\s+\(?[^)\n]*\b_[a-z]\w*")
    private_use = re.compile(r"\b(?:data|models|training|features|checkpoint|plots|env|quiz|"
                             r"questions|costs|search|synthetic|aws_emulator|exports)\._[a-z]")
    offenders = []
    for path in [*ROOT.glob("utils/**/*.py"), *ROOT.glob("course/*.py"),
                 *ROOT.glob("benchmarks/*.py")]:
        text = path.read_text()
        if private_import.search(text) or private_use.search(text):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders
