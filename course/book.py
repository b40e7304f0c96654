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
import json
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
    summary: str  # what the chapter teaches (the README's line for it)
    parameters: list[Parameter]
    seconds: float | None  # how long papermill took to run it
    headline: str = ""  # the run's main measurement, from its metrics.json
    data: str = "generated images"  # what it ran on: generated images or real photos


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


CHAPTER_LINE = re.compile(r"^- \[\d\d · [^\]]+\]\(notebooks/(\d\d_\w+)\.ipynb\): (.+)$",
                          re.MULTILINE)


def chapter_summaries(readme: Path) -> dict[str, str]:
    """``{"02_feature_...": "what you learn"}`` from the README's one line per chapter."""
    return {stem: text.strip() for stem, text in CHAPTER_LINE.findall(readme.read_text())}


def _pct(x) -> str:
    return f"{100 * x:.0f}%"


def _headline_02(m):
    t = m["table"]
    return (f"test accuracy: feature extraction {_pct(t['feature_extraction']['mean'])}, "
            f"fine-tuning all {_pct(t['fine_tune_all']['mean'])}, from scratch "
            f"{_pct(t['from_scratch']['mean'])}")


def _headline_07(m):
    cases = m["cases"]
    wins = sum(c["transfer"] > c["scratch"] for c in cases.values())
    return (f"transfer beat from scratch in {wins} of {len(cases)} applications ("
            + ", ".join(f"{k} {_pct(c['transfer'])} vs {_pct(c['scratch'])}"
                        for k, c in cases.items()) + ")")


def _headline_08(m):
    answered = [v for v in m["results"].values() if v is not None]
    rows = f"{len(m['tradeoffs'])} trade-offs with their measurements"
    if not answered:  # a headless run answers nothing: say what the page holds instead
        ran = 8 - len(m["not_run"])  # chapters 00-07
        return f"both exam questions with evidence from {ran} of 8 chapters; {rows}"
    return f"{sum(answered)} of {len(answered)} exam questions answered right; {rows}"


#: Each chapter's main measurement, as a sentence, from its ``metrics.json``.
HEADLINES = {
    "00": lambda m: f"{m['images_per_second']:.0f} images/s through the network",
    "01": lambda m: (f"pretrained features: {_pct(m['knn_pretrained'])} k-NN accuracy, random "
                     f"weights {_pct(m['knn_random'])} (chance {_pct(m['chance'])})"),
    "02": _headline_02,
    "03": lambda m: "test accuracy: " + ", ".join(f"option {k} {_pct(v)}"
                                                  for k, v in sorted(m["acc"].items())),
    "04": lambda m: (f"feature extraction {_pct(m['fe_test_acc'])}, fine-tuned "
                     f"{_pct(m['ft_test_acc'])} test accuracy at {m['image_size']} px"),
    "05": lambda m: (f"species: transfer {_pct(m['transfer_acc'])} in "
                     f"{m['transfer_seconds']:.1f} s, from scratch with search "
                     f"{_pct(m['scratch_acc'])} in {m['scratch_seconds']:.0f} s"),
    "06": lambda m: f"training job {m['training_status']} ({m['mode']})",
    "07": _headline_07,
    "08": _headline_08,
}


def headline(chapter: str, output_dir) -> str:
    """The chapter's main measurement from ``output_dir/metrics.json``, or "" if there is none."""
    path = Path(output_dir) / "metrics.json"
    if chapter not in HEADLINES or not path.is_file():
        return ""
    try:
        return HEADLINES[chapter](json.loads(path.read_text()))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):  # an older or partial run
        return ""


def data_used(injected: dict) -> str:
    """What a run trained on, from the parameters papermill injected: generated images, or
    real photos (named). A chapter's defaults are generated images."""
    real = [Path(str(injected[name])).name
            for name in ("data_dir", "defects_dir", "plants_dir", "radiographs_dir")
            if injected.get(name)]
    if injected.get("data_source") in ("flowers102", "pets_cats"):
        real.append(injected["data_source"])
    return "real photos: " + ", ".join(real) if real else "generated images"


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
    chapters = []
    for p, nb in zip(notebooks, nbs, strict=True):
        params = run_parameters(p)
        injected = nb.metadata.get("papermill", {}).get("parameters", {})
        output_dir = injected.get("output_dir", p.parent / p.stem)
        chapters.append(Chapter(notebook=p, page=f"{p.stem}.html", title=chapter_title(nb),
                                summary=summaries.get(p.stem, ""), parameters=params,
                                seconds=nb.metadata.get("papermill", {}).get("duration"),
                                headline=headline(p.stem[:2], output_dir),
                                data=data_used(injected)))
    for chapter, nb in zip(chapters, nbs, strict=True):
        nb.metadata["title"] = chapter.title  # the page's <title>
        _drop_widgets(nb)
        _relative_paths(nb)
        _mark_folded(nb)
    exporter = _exporter()
    contents = [{"href": c.page, "title": c.title} for c in chapters]
    docs = doc_pages(notebooks)
    pages = [(INDEX, _index_notebook(chapters, how), None, "Contents")]
    pages += [(c.page, nb, c, c.title) for c, nb in zip(chapters, nbs, strict=True)]
    pages += [(page, nb, None, title) for page, title, nb in docs]
    for i, (page, nb, chapter, _) in enumerate(pages):
        book = {"title": BOOK_TITLE, "index": INDEX, "contents": contents, "current": page,
                "docs": [{"href": page, "title": title} for page, title, _ in docs],
                "prev": pages[i - 1][0] if i > 0 else None,
                "next": pages[i + 1][0] if i + 1 < len(pages) else None,
                "prev_title": pages[i - 1][3] if i > 0 else None,
                "next_title": pages[i + 1][3] if i + 1 < len(pages) else None,
                "parameters": chapter.parameters if chapter else None}
        body, _ = exporter.from_notebook_node(nb, resources={"book": book})
        (out / page).write_text(_link_pages(body, notebooks), encoding="utf-8")
    return Book(folder=out, index=out / INDEX, chapters=chapters)


#: The repository's docs pages, in the order the book's navigation lists them.
DOCS = ("real-photos.md", "performance.md", "sagemaker.md", "contributing.md")


def doc_pages(notebooks: list[Path]) -> list[tuple[str, str, object]]:
    """``(page, title, notebook)`` for each docs page: its markdown as one cell, with links to
    other docs pages and to chapters pointing into the book, and links to repository files
    kept as plain text (the book is a folder of its own)."""
    import nbformat.v4 as nbf

    chapters = {p.stem for p in notebooks}
    out = []
    for name in DOCS:
        path = repo_root() / "docs" / name
        if not path.is_file():
            continue
        text = path.read_text()

        def link(match):
            label, target = match.group(1), match.group(2)
            if target.startswith(("http://", "https://", "#")):
                return match.group(0)
            file, _, anchor = target.partition("#")
            stem = Path(file).stem
            if file.endswith(".md") and Path(file).name in DOCS:
                return f"[{label}](docs-{stem}.html{'#' + anchor if anchor else ''})"
            if file.endswith(".ipynb") and stem in chapters:
                return f"[{label}]({stem}.html)"
            if Path(file).name == "README.md":
                return f"[{label}]({INDEX})"
            return f"{label} (`{file}` in the repository)"

        text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", link, text)
        title = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
        nb = nbf.new_notebook(cells=[nbf.new_markdown_cell(text)])
        nb.metadata["title"] = title.group(1).strip() if title else path.stem
        out.append((f"docs-{path.stem}.html", nb.metadata["title"], nb))
    return out


def _drop_widgets(nb) -> None:
    """Remove ipywidgets outputs: they need JavaScript and a kernel, and show nothing static.

    The quiz widgets come with the same question as printed text, which stays.
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if "application/vnd.jupyter.widget-view+json" not in o.get("data", {})]


def _relative_paths(nb) -> None:
    """Injected parameters show paths inside the repository relative to it, as written."""
    root = f"{repo_root()}/"
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace(root, "")


def _mark_folded(nb) -> None:
    """Cells folded in JupyterLab (``jupyter.source_hidden``) fold on the page too; the fold's
    label names what the cell defines."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("jupyter", {}).get("source_hidden"):
            try:
                names = [node.name for node in ast.parse(cell.source).body
                         if isinstance(node, ast.FunctionDef | ast.ClassDef)]
            except SyntaxError:
                names = []
            cell.metadata["book_folded"] = ", ".join(names) or "code"


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
    """The contents page: a markdown introduction and an HTML table of this build's chapters."""
    import nbformat.v4 as nbf

    rows = []
    for c in chapters:
        ran = f"{c.seconds / 60:.1f} min" if c.seconds is not None else "?"
        number = html.escape(c.headline) if c.headline else "&ndash;"
        if c.data != "generated images":
            number += f' <span class="book-data">({html.escape(c.data)})</span>'
        rows.append(f'<tr><td><a href="{html.escape(c.page)}">{html.escape(c.title)}</a></td>'
                    f"<td>{html.escape(' '.join(c.summary.split()))}</td>"
                    f'<td class="book-time">{ran}</td><td>{number}</td></tr>')
    total = sum(c.seconds or 0 for c in chapters)
    real = sorted({c.data for c in chapters if c.data != "generated images"})
    data = ("Chapters marked *real photos* ran on them; the others on the generated images."
            if real else "Every chapter ran on the course's generated images (offline); the "
            "real-photo figures are in the repository's docs/real-photos.md.")
    intro = (
        f"# {BOOK_TITLE}\n\n"
        "A hands-on course on reusing a pretrained network for your own image classes. These "
        "pages are the course's notebooks **as they ran**: every number, table and figure "
        "below was produced by the code above it. To run them yourself, see the "
        f"{_repository()}'s README; the notebooks there are stored without outputs.\n\n"
        f"{how} {data}\n\n"
        f"Ran in {total / 60:.1f} min on {_machine()}. Each chapter's page lists at its top "
        "the parameters it ran with.\n")
    # an HTML table inside markdown: the cells hold free text, which a pipe table would split
    table = ('## Chapters\n\n<table class="book-chapters">\n<thead><tr><th>chapter</th>'
             "<th>what you learn</th><th>run time</th><th>this run's headline number</th>"
             "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n")
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
