"""One source of truth: a chapter's `#| export` cells and their twins in utils/ are equal."""

import json
import shutil
from pathlib import Path

import pytest

from course import exports

ROOT = Path(__file__).resolve().parent.parent


def test_every_export_cell_equals_its_utils_twin():
    problems = exports.check()
    assert not problems, "\n".join(str(p) for p in problems)


def test_the_chapters_export_what_later_chapters_reuse():
    """The code the course teaches is exported from the chapter that teaches it."""
    exported = {}
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for module, code, _ in exports.export_cells(nb):
            for d in exports._definitions(code, nb.name)[0]:
                exported[f"{module}.{d.name}"] = nb.name[:2]
    expected = {
        "utils.checkpoint.make_transform": "01", "utils.models.feature_maps": "01",
        "utils.models.create_model": "02", "utils.models.freeze": "02",
        "utils.models.train_mode": "02", "utils.models.parameter_groups": "02",
        "utils.features.embed": "02", "utils.features.train_linear_head": "02",
        "utils.training.train_one_epoch": "02", "utils.training.evaluate": "02",
        "utils.training.fit": "02", "utils.checkpoint.save_checkpoint": "04",
        "utils.checkpoint.load_checkpoint": "04", "utils.checkpoint.predict": "04",
    }
    assert {k: exported.get(k) for k in expected} == expected


@pytest.fixture
def copy_of_the_course(tmp_path):
    for name in ("notebooks", "utils"):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _edit_export_cell(notebook: Path, name: str, old: str, new: str) -> None:
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith("#| export") and \
                f"def {name}(" in source:
            assert old in source
            cell["source"] = source.replace(old, new, 1)
            break
    else:
        raise AssertionError(f"no export cell defines {name}")
    notebook.write_text(json.dumps(nb))


def test_a_drifted_copy_is_caught(copy_of_the_course):
    """Change one character of chapter 02's `freeze` and the check names it, with a diff."""
    nb = next((copy_of_the_course / "notebooks").glob("02_*.ipynb"))
    _edit_export_cell(nb, "freeze", "requires_grad_(False)", "requires_grad_(True)")
    problems = exports.check(copy_of_the_course)
    assert [p.name for p in problems] == ["freeze"]
    assert "requires_grad_(True)" in problems[0].message and "differs from" in \
        problems[0].message


def test_a_utils_block_no_chapter_exports_is_caught(copy_of_the_course):
    path = copy_of_the_course / "utils" / "training.py"
    path.write_text(path.read_text() + "\n\n# chapter 02\ndef not_in_the_chapter():\n"
                    "    return 1\n")
    problems = exports.check(copy_of_the_course)
    assert [p.name for p in problems] == ["not_in_the_chapter"]
    assert "has no '#| export utils.training' cell" in problems[0].message


def test_an_export_cell_with_statements_is_caught(copy_of_the_course):
    nb = next((copy_of_the_course / "notebooks").glob("02_*.ipynb"))
    _edit_export_cell(nb, "freeze", "def freeze(", "print('hi')\n\n\ndef freeze(")
    problems = exports.check(copy_of_the_course)
    assert any("holds only imports and definitions" in p.message for p in problems)
