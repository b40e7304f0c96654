"""One source of truth: the code a chapter teaches is the code in ``utils/``.

A chapter writes a function or class in a code cell whose first line is::

    #| export utils.models

and the same definition, character for character, stands in ``utils/models.py`` under a
``# chapter NN`` comment. :func:`check` compares both directions:

* every definition in an export cell exists in the named module with the same text;
* every ``# chapter NN`` definition in ``utils/`` is exported by chapter NN's notebook.

``python -m course.exports`` prints the differences and exits 1 if there are any; the test
suite runs the same check (``tests/test_exports.py``).
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPORT_LINE = re.compile(r"^#\| export (utils(?:\.\w+)+)\s*$")
CHAPTER_LINE = re.compile(r"^# chapter (\d\d)\s*$")


@dataclass(frozen=True)
class Definition:
    """A top-level function or class: where it is and its exact text."""

    name: str
    text: str
    where: str


@dataclass(frozen=True)
class Problem:
    """One way a chapter and ``utils/`` disagree."""

    name: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.name}: {self.message}"


def _definitions(code: str, where: str) -> tuple[list[Definition], list[str]]:
    """Top-level defs/classes of ``code`` (decorators included) and any other statements."""
    tree = ast.parse(code)
    lines = code.splitlines()
    found, other = [], []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            text = "\n".join(line.rstrip() for line in lines[start - 1:node.end_lineno])
            found.append(Definition(node.name, text, f"{where}:{start}"))
        elif not isinstance(node, ast.Import | ast.ImportFrom):
            other.append(f"{where}:{node.lineno}")
    return found, other


def export_cells(notebook: Path) -> list[tuple[str, str, str]]:
    """``(module, code, where)`` for each export cell of ``notebook``."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    out = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        code = "".join(cell["source"])
        first, _, rest = code.partition("\n")
        match = EXPORT_LINE.match(first)
        if match:
            out.append((match.group(1), rest, f"{Path(notebook).name}[cell {i}]"))
    return out


def chapter_definitions(module_path: Path, root: Path = ROOT) -> dict[str, tuple[str, Definition]]:
    """``name -> (chapter, definition)`` for the ``# chapter NN`` blocks of a module."""
    code = module_path.read_text()
    lines = code.splitlines()
    defs, _ = _definitions(code, str(module_path.relative_to(root)))
    out = {}
    for d in defs:
        start = int(d.where.rsplit(":", 1)[1])
        match = CHAPTER_LINE.match(lines[start - 2]) if start >= 2 else None
        if match:
            out[d.name] = (match.group(1), d)
    return out


def _module_path(module: str, root: Path) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def check(root: Path = ROOT) -> list[Problem]:
    """Every difference between the chapters' export cells and ``utils/``."""
    problems: list[Problem] = []
    exported: set[tuple[str, str, str]] = set()  # (chapter, module, name)
    for notebook in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        chapter = notebook.name[:2]
        for module, code, where in export_cells(notebook):
            path = _module_path(module, root)
            if not path.is_file():
                problems.append(Problem(module, where, f"no module {path.relative_to(root)}"))
                continue
            module_defs = {d.name: d for d in _definitions(path.read_text(), module)[0]}
            cell_defs, other = _definitions(code, where)
            for line in other:
                problems.append(Problem("(statement)", line, "an export cell holds only "
                                        "imports and definitions; move this to its own cell"))
            for d in cell_defs:
                exported.add((chapter, module, d.name))
                twin = module_defs.get(d.name)
                if twin is None:
                    problems.append(Problem(d.name, d.where, f"not defined in {module}"))
                elif twin.text != d.text:
                    diff = "\n".join(difflib.unified_diff(
                        twin.text.splitlines(), d.text.splitlines(), twin.where, d.where,
                        lineterm="", n=0))
                    problems.append(Problem(d.name, d.where, f"differs from {twin.where}:\n{diff}"))
    for path in sorted((root / "utils").glob("*.py")):
        module = "utils." + path.stem
        for name, (chapter, d) in chapter_definitions(path, root).items():
            if (chapter, module, name) not in exported:
                problems.append(Problem(name, d.where, f"marked '# chapter {chapter}' but chapter "
                                        f"{chapter} has no '#| export {module}' cell defining it"))
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem)
    print(f"{len(problems)} difference(s) between the chapters' export cells and utils/")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
