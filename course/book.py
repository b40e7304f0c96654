"""The executed book: the course's chapters, run, as a static HTML site.

    python -m course --book                     # run every chapter, build runs/book/
    python -m course --book --test-parameters   # the tests' smaller values: minutes, not more
    python -m course --book --no-run            # only build, from the notebooks already run

Built with nbconvert (installed with JupyterLab) and its JupyterLab template, extended by
``book.html.j2`` with the book's navigation and each chapter's parameters. Figures are embedded
in the pages, so the folder is the whole site: no JavaScript, nothing loaded from elsewhere.
"""

from __future__ import annotations

import ast
import html
import os
import platform
import re
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from utils.env import repo_root

TEMPLATE_DIR = Path(__file__).resolve().parent / "book_template"
BOOK_TITLE = "Transfer learning for image classification"
INDEX = "index.html"


@dataclass
class Parameter:
    """One knob of a chapter's ``parameters`` cell, as the run used it."""

    name: str
    value: str  # the value the run used, as Python source
    default: str  # the value in the parameters cell
    help: str  # the cell's comment on that line
    overridden: bool  # the run used another value than the cell's


@dataclass
class Chapter:
    """One executed notebook and what its page shows about it."""

    notebook: Path
    page: str  # file name of its HTML page
    title: str
    summary: str  # markdown: what the chapter teaches (README's chapter table)
    parameters: list[Parameter]
    seconds: float | None  # how long papermill took to run it


@dataclass
class Book:
    """The built site."""

    folder: Path
    index: Path
    chapters: list[Chapter]


def chapter_title(nb) -> str:
    """The first ``# heading`` of the notebook (its title), else its file name."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, flags=re.MULTILINE)
            if match:
                return match.group(1).strip()
    return Path(nb.metadata.get("papermill", {}).get("input_path", "notebook")).stem


def chapter_summaries(readme: Path) -> dict[str, str]:
    """``{"02_feature_...": "four arms on ..."}`` from the README's chapter table."""
    rows = re.findall(r"^\|\s*`(\d\d_\w+)`\s*\|(.+)\|\s*$", readme.read_text(), re.MULTILINE)
    return {stem: text.strip() for stem, text in rows}


def run_parameters(notebook: Path) -> list[Parameter]:
    """Every knob of an executed notebook's ``parameters`` cell, with the value the run used.

    papermill records the values it injected in the notebook's metadata; every other knob ran
    with the default written in the cell.
    """
    import nbformat
    import papermill

    injected = nbformat.read(notebook, as_version=4).metadata.get("papermill", {}).get(
        "parameters", {})
    params = []
    for name, info in papermill.inspect_notebook(str(notebook)).items():
        overridden = name in injected and not _same(injected[name], info["default"])
        value = _display(injected[name]) if name in injected else info["default"]
        params.append(Parameter(name=name, value=value, default=info["default"],
                                help=info.get("help") or "", overridden=overridden))
    return params


def _same(value, source: str) -> bool:
    """Whether an injected value equals the default written as ``source`` in the cell."""
    try:
        return ast.literal_eval(source) == value
    except (ValueError, SyntaxError):  # not a literal (an expression): count it as changed
        return False


def _display(value) -> str:
    """Python source for an injected value; paths inside the repository become relative."""
    if isinstance(value, str) and Path(value).is_absolute():
        try:
            return repr(str(Path(value).relative_to(repo_root())))
        except ValueError:
            return repr(value)
    return repr(value)


def build_book(notebooks, out_dir, *, how: str = "") -> Book:
    """Write the executed ``notebooks`` (paths, in chapter order) as a site in ``out_dir``.

    ``how`` is one line for the index saying how the chapters were run. Returns the
    :class:`Book`; raises ``FileNotFoundError`` naming a notebook that is not there.
    """
    import nbformat

    notebooks = [Path(p) for p in notebooks]
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"no executed notebook at {', '.join(missing)}: run the "
                                "chapters first (python -m course --book without --no-run)")
    if not notebooks:
        raise ValueError("the book needs at least one executed chapter")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summaries = chapter_summaries(repo_root() / "README.md")
    nbs = [nbformat.read(p, as_version=4) for p in notebooks]
    chapters = [Chapter(notebook=p, page=f"{p.stem}.html", title=chapter_title(nb),
                        summary=summaries.get(p.stem, ""), parameters=run_parameters(p),
                        seconds=nb.metadata.get("papermill", {}).get("duration"))
                for p, nb in zip(notebooks, nbs, strict=True)]
    for chapter, nb in zip(chapters, nbs, strict=True):
        nb.metadata["title"] = chapter.title  # the page's <title>
        _drop_widgets(nb)
    exporter = _exporter()
    contents = [{"href": c.page, "title": c.title} for c in chapters]
    pages = [(INDEX, _index_notebook(chapters, how), None)]
    pages += [(c.page, nb, c) for c, nb in zip(chapters, nbs, strict=True)]
    for i, (page, nb, chapter) in enumerate(pages):
        book = {"title": BOOK_TITLE, "index": INDEX, "contents": contents, "current": page,
                "prev": pages[i - 1][0] if i > 0 else None,
                "next": pages[i + 1][0] if i + 1 < len(pages) else None,
                "prev_title": _title(pages[i - 1]) if i > 0 else None,
                "next_title": _title(pages[i + 1]) if i + 1 < len(pages) else None,
                "parameters": chapter.parameters if chapter else None}
        body, _ = exporter.from_notebook_node(nb, resources={"book": book})
        (out / page).write_text(_link_pages(body, notebooks), encoding="utf-8")
    return Book(folder=out, index=out / INDEX, chapters=chapters)


def _drop_widgets(nb) -> None:
    """Remove ipywidgets outputs: they need JavaScript and a kernel, and show nothing static.

    The quiz widgets come with the same question as printed text, which stays.
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if "application/vnd.jupyter.widget-view+json" not in o.get("data", {})]


def _title(page) -> str:
    _, _, chapter = page
    return chapter.title if chapter else "Contents"


def _exporter():
    from jinja2 import FileSystemLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", extra_loaders=[FileSystemLoader(TEMPLATE_DIR)])
    exporter.template_file = "book.html.j2"
    exporter.exclude_anchor_links = True
    return exporter


def _link_pages(body: str, notebooks: list[Path]) -> str:
    """Links between chapters point at their pages, not at the ``.ipynb`` files."""
    for p in notebooks:
        body = body.replace(f'href="{p.name}', f'href="{p.stem}.html')
    return body


def _index_notebook(chapters: list[Chapter], how: str):
    """The contents page, as a notebook of markdown cells (rendered like the chapters)."""
    import nbformat.v4 as nbf

    rows = []
    for c in chapters:
        ran = f"{c.seconds:.0f} s" if c.seconds is not None else "?"
        summary = " ".join(c.summary.split()) or "&nbsp;"
        rows.append(f"| [{html.escape(c.title)}]({c.page}) | {summary} | {ran} |")
    total = sum(c.seconds or 0 for c in chapters)
    intro = (
        f"# {BOOK_TITLE}\n\n"
        "A hands-on course on reusing a pretrained network for your own image classes. These "
        "pages are the course's notebooks **as they ran**: every number, table and figure "
        "below was produced by the code above it. To run them yourself, see the "
        f"{_repository()}'s README; the notebooks there are stored without outputs.\n\n"
        f"{how}\n\n"
        f"Ran in {total / 60:.1f} min on {_machine()}. Each chapter's page lists at its top "
        "the parameters it ran with.\n")
    table = ("## Chapters\n\n| chapter | what you learn | run time |\n|---|---|---|\n"
             + "\n".join(rows) + "\n")
    nb = nbf.new_notebook(cells=[nbf.new_markdown_cell(intro), nbf.new_markdown_cell(table)])
    nb.metadata["title"] = BOOK_TITLE
    return nb


def _repository() -> str:
    """A link to the repository when GitHub Actions builds the book, else plain words."""
    server, repo = os.environ.get("GITHUB_SERVER_URL"), os.environ.get("GITHUB_REPOSITORY")
    return f"[repository]({server}/{repo})" if server and repo else "repository"


def _machine() -> str:
    try:
        import torch

        torch_version = torch.__version__
        device = (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only")
    except ImportError:  # pragma: no cover - the course needs torch
        torch_version, device = "?", "?"
    return (f"{platform.system()} ({os.cpu_count()} CPU cores, {device}), Python "
            f"{platform.python_version()}, PyTorch {torch_version}, SageMaker SDK "
            f"{_version('sagemaker')}, built {time.strftime('%Y-%m-%d')}")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
