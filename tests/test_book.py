"""The executed HTML book (``python -m course --book``): its pages, links and parameters.

The first tests build a book from two small hand-made "executed" notebooks (no kernel, fast).
``test_book_of_the_course`` builds it from the chapters the test session executes anyway (the
``executed`` fixture), so it costs the conversion only.
"""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pandas as pd
import pytest
from PIL import Image

from course import book as course_book
from course import runner as course


class _Page(HTMLParser):
    """What a test needs from a page: its links, image sources, ids, tables, scripts."""

    def __init__(self, text: str):
        super().__init__()
        self.links, self.images, self.ids, self.scripts = [], [], set(), 0
        self.tables: list[str] = []  # the class of each <table>
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        if tag in ("img", "script", "link", "iframe") and ("src" in attrs or "href" in attrs):
            self.images.append(attrs.get("src") or attrs.get("href"))
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self.tables.append(attrs.get("class") or "")


def _pages(folder: Path) -> dict[str, _Page]:
    return {p.name: _Page(p.read_text(encoding="utf-8")) for p in folder.glob("*.html")}


def broken_links(folder: Path) -> list[str]:
    """Every link or resource of the site's pages that does not resolve inside the folder."""
    pages = _pages(folder)
    broken = []
    for name, page in pages.items():
        for url in page.links + page.images:
            if url.startswith(("http://", "https://", "mailto:")):
                assert not url.startswith("http://"), f"{name}: insecure link {url}"
                continue
            if url.startswith("data:"):
                continue
            path, _, fragment = url.partition("#")
            target = name if path == "" else path
            if target not in pages:
                broken.append(f"{name} -> {url}")
            elif fragment and fragment not in pages[target].ids:
                broken.append(f"{name} -> {url} (no such anchor)")
    return broken


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _executed_notebook(path: Path, title: str, *, injected: dict, link: str = "") -> Path:
    """A notebook as papermill leaves it: outputs, injected parameters, run metadata."""
    params = nbf.new_code_cell('size = 64  # pixels\nseed = 0\nname = "x"  # a label',
                               metadata={"tags": ["parameters"]})
    table = pd.DataFrame({"arm": ["a", "b"], "accuracy": [0.5, 0.75]})
    nb = nbf.new_notebook(cells=[
        nbf.new_markdown_cell(f"# {title}\n\nIntro. {link}"),
        params,
        nbf.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in injected.items()),
                          metadata={"tags": ["injected-parameters"]}),
        nbf.new_code_cell("plot()", outputs=[nbf.new_output(
            "display_data", data={"image/png": _png(), "text/plain": "<Figure>"})]),
        nbf.new_code_cell("table", execution_count=3, outputs=[nbf.new_output(
            "execute_result", execution_count=3,
            data={"text/html": table.to_html(), "text/plain": str(table)})]),
        nbf.new_code_cell("quiz.ask(question)", outputs=[
            nbf.new_output("stream", name="stdout", text="Which is cheaper?\n  A. this\n"),
            nbf.new_output("display_data", data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                             "version_minor": 0},
                "text/plain": "VBox(children=(RadioButtons(...)))"})]),
    ])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "version_minor": 0}}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["papermill"] = {"parameters": injected, "duration": 12.5,
                                "input_path": str(path)}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    notebooks = [
        _executed_notebook(runs / "00_alpha.ipynb", "00 · Alpha",
                           injected={"size": 32, "seed": 0},
                           link="Next: [beta](01_beta.ipynb)."),
        _executed_notebook(runs / "01_beta.ipynb", "01 · Beta", injected={}),
    ]
    return course_book.build_book(notebooks, runs / "book", how="Ran for a test.")


def test_book_has_an_index_and_one_page_per_chapter(small_book):
    assert sorted(p.name for p in small_book.folder.glob("[0-9i]*.html")) == [
        "00_alpha.html", "01_beta.html", "index.html"]
    check_index(small_book)
    index = small_book.index.read_text()
    assert "Ran for a test." in index
    pages = _pages(small_book.folder)
    assert {"00_alpha.html", "01_beta.html"} <= set(pages["index.html"].links)
    assert "00 · Alpha" in index and "01 · Beta" in index


def test_pages_link_to_each_other_and_every_link_resolves(small_book):
    assert broken_links(small_book.folder) == []
    alpha = _pages(small_book.folder)["00_alpha.html"]
    assert "01_beta.html" in alpha.links  # the chapter's own link, no longer to the .ipynb
    assert not any(link.endswith(".ipynb") for link in alpha.links)
    # previous / next
    text = (small_book.folder / "00_alpha.html").read_text()
    assert 'href="index.html" rel="prev"' in text and 'href="01_beta.html" rel="next"' in text


def test_each_page_shows_the_parameters_it_ran_with(small_book):
    (alpha, beta) = small_book.chapters
    used = {p.name: p for p in alpha.parameters}
    assert used["size"].value == "32" and used["size"].overridden and used["size"].default == "64"
    assert used["seed"].value == "0" and not used["seed"].overridden  # injected, but the same
    assert used["size"].help == "pixels"
    assert not any(p.overridden for p in beta.parameters)
    text = (small_book.folder / "00_alpha.html").read_text()
    top = text.index("Parameters of this run")
    assert text.index("<h1") < top < text.index('src="data:image/png')  # under the title
    assert "3 knobs, 1 set for the run" in text


def test_pages_carry_their_figures_and_tables_and_need_no_javascript(small_book):
    text = (small_book.folder / "00_alpha.html").read_text()
    assert "Which is cheaper?" in text  # the quiz as text; its widget (needs a kernel) dropped
    assert "VBox" not in text and "widget-state" not in text
    for name, page in _pages(small_book.folder).items():
        assert page.scripts == 0, name
        assert not [u for u in page.images if u.startswith("http")], name  # nothing fetched
        if name != "index.html" and not name.startswith("docs-"):
            assert any(src.startswith("data:image/png;base64,") for src in page.images), name
            assert "dataframe" in page.tables, name


def test_index_links_the_repository_when_github_actions_builds_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "someone/course")
    nb = _executed_notebook(tmp_path / "00_alpha.ipynb", "00 · Alpha", injected={})
    book = course_book.build_book([nb], tmp_path / "book")
    assert 'href="https://github.com/someone/course"' in book.index.read_text()


class _Index(HTMLParser):
    """The chapter table of the index: each row's cells and links."""

    def __init__(self, text: str):
        super().__init__()
        self.rows, self.in_table, self.text = [], False, text
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("class") == "book-chapters":
            self.in_table = True
        elif self.in_table and tag == "tr":
            self.rows.append({"cells": [], "links": []})
        elif self.in_table and tag == "td":
            self.rows[-1]["cells"].append("")
        elif self.in_table and tag == "a" and self.rows:
            self.rows[-1]["links"].append(attrs.get("href"))

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = False

    def handle_data(self, data):
        if self.in_table and self.rows and self.rows[-1]["cells"]:
            self.rows[-1]["cells"][-1] += data


def check_index(book) -> list[dict]:
    """The index's chapter table parses, with one linked row per chapter and no raw markdown
    table left in the page. Returns the rows."""
    index = _Index(book.index.read_text())
    assert "|---|" not in index.text and "| chapter |" not in index.text
    rows = [r for r in index.rows if r["cells"]]  # the header row has no <td>
    assert len(rows) == len(book.chapters)
    for row, chapter in zip(rows, book.chapters, strict=True):
        assert row["links"] == [chapter.page], row
        assert len(row["cells"]) == 4 and row["cells"][0] == chapter.title
    return rows


def test_index_is_a_table_of_this_builds_chapters_with_their_own_numbers(tmp_path, monkeypatch):
    from utils.env import repo_root

    runs = tmp_path / "runs"
    runs.mkdir()
    alpha = _executed_notebook(runs / "00_alpha.ipynb", "00 · Alpha", injected={
        "output_dir": str(runs / "00_alpha"), "data_root": str(repo_root() / "data")})
    nb = nbformat.read(alpha, as_version=4)
    nb.cells.append(nbf.new_code_cell("def helper():\n    return 1\n\n\nclass Record:\n    pass",
                                      metadata={"jupyter": {"source_hidden": True}}))
    nbformat.write(nb, alpha)
    (runs / "00_alpha").mkdir()
    (runs / "00_alpha" / "metrics.json").write_text('{"images_per_second": 123.4}')
    photos = _executed_notebook(runs / "01_beta.ipynb", "01 · Beta", injected={
        "data_dir": "/somewhere/flowers17"})
    book = course_book.build_book([alpha, photos], tmp_path / "book", how="Test.")
    rows = check_index(book)
    assert "123 images/s" in rows[0]["cells"][3]  # this run's number, from its metrics.json
    assert rows[0]["cells"][2] == "0.2 min"  # papermill's 12.5 s
    assert "real photos" not in rows[0]["cells"][3]
    assert "real photos: flowers17" in rows[1]["cells"][3]  # labelled, and only there
    page = (book.folder / "00_alpha.html").read_text()
    # the injected parameters cell shows a path inside the repository relative to it
    assert '<span class="n">data_root</span> <span class="o">=</span> <span class="s1">\'data\'' \
        in page
    assert str(repo_root()) not in page  # no builder's absolute path
    fold = page.index('<details class="book-folded">')
    assert "helper, Record" in page[fold:fold + 200]
    assert page.index('<span class="nf">helper</span>') > fold  # the code, inside the fold


def test_docs_pages_are_in_the_books_navigation(small_book):
    pages = _pages(small_book.folder)
    for name in course_book.DOCS:
        page = f"docs-{Path(name).stem}.html"
        assert page in pages, page
        assert page in pages["index.html"].links
    assert broken_links(small_book.folder) == []


def test_a_missing_notebook_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the chapters first"):
        course_book.build_book([tmp_path / "03_gone.ipynb"], tmp_path / "book")


def test_runner_builds_the_book_without_running(tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    _executed_notebook(runs / "00_start_here.ipynb", "00 · Start here", injected={})
    monkeypatch.setattr(course, "RUNS_DIR", runs)
    assert course.main(["00", "--book", "--no-run"]) == 0
    assert (runs / "book" / "00_start_here.html").is_file()
    assert "book: 1 chapter(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # nothing executed there: a clear error, not a traceback
        course.main(["01", "--book", "--no-run"])
    assert "run the chapters first" in capsys.readouterr().err


# Chapters that teach by measuring, so their pages must show plots and tables: 00 (start here)
# only checks the environment, and 08 (exam review) answers in words.
EXPERIMENTS = {"01", "02", "03", "04", "05", "06"}


def _outputs(notebook: Path, test) -> int:
    nb = nbformat.read(notebook, as_version=4)
    return sum(1 for cell in nb.cells if cell.cell_type == "code"
               for out in cell.outputs if test(out.get("data", {})))


@pytest.mark.notebook
def test_book_of_the_course(executed, tmp_path):
    """The site built from every chapter as the tests ran it."""
    notebooks = course.notebooks()
    for nb in notebooks:
        executed(nb.name[:2])
    book = course_book.build_book([executed.runs_dir / nb.name for nb in notebooks],
                                  tmp_path / "book", how="Test parameters.")
    pages = _pages(book.folder)
    assert broken_links(book.folder) == []
    index = pages["index.html"]
    for chapter in book.chapters:
        page = pages[chapter.page]
        text = (book.folder / chapter.page).read_text()
        assert chapter.page in index.links, chapter.page
        assert chapter.summary, f"{chapter.page}: no line in the README's chapter list"
        assert chapter.headline, f"{chapter.page}: no headline number from its metrics.json"
        assert re.match(r"\d\d · \w", chapter.title), chapter.title
        assert f"<title>{chapter.title}</title>" in text
        assert "Parameters of this run" in text and "output_dir" in text
        assert page.scripts == 0
        # every figure and every DataFrame the run displayed is on the page
        figures = sum(src.startswith("data:image/png;base64,") for src in page.images)
        assert figures == _outputs(chapter.notebook, lambda d: "image/png" in d), chapter.page
        tables = page.tables.count("dataframe")
        assert tables == _outputs(chapter.notebook,
                                  lambda d: 'class="dataframe' in d.get("text/html", "")), \
            chapter.page
        if chapter.page[:2] in EXPERIMENTS:
            assert figures >= 1, f"{chapter.page}: no figure"
            assert tables >= 1, f"{chapter.page}: no results table"
