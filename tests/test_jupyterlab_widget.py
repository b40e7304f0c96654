"""The quiz widget in a real JupyterLab, driven by headless Chromium through Playwright.

It opens a notebook that asks a chapter's question (the notes' flower question, as chapter 05
asks it) and a two-question mock exam, runs it, checks that each question is shown once (no
printed copy above the widget) and that every option is readable (wrapped, not cut off at the
cell's edge), picks an option, presses *Check* / *Score* and reads the feedback.

Skipped without the ``playwright`` package or a Chromium binary (``chromium`` on the PATH, or
``COURSE_CHROMIUM``). Screenshots go to ``COURSE_SCREENSHOT_DIR`` if set (else pytest's
temporary folder)::

    COURSE_SCREENSHOT_DIR=/tmp/shots python -m pytest -q tests/test_jupyterlab_widget.py
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which(
    "chromium-browser")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on the PATH")]

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "course-widget-check"
ASK = '''from utils import questions, quiz

evidence = {"transfer_acc": 0.9, "transfer_seconds": 2.0, "scratch_acc": 0.3,
            "scratch_seconds": 60.0}
quiz.ask(questions.get("flowers_notes"), evidence)'''
EXAM = '''exam = quiz.mock_exam(questions.all_questions(), n=2, seed=0)'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free port, serving a notebook with the two cells."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(ASK),
                                         nbformat.v4.new_code_cell(EXAM)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "widget_check.ipynb")
    env = {k: v for k, v in os.environ.items()
           if k not in {"COURSE_HEADLESS", "PAPERMILL_EXECUTION", "CI"}}  # a learner's lab
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", "--allow-root", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within a minute")
        yield f"{url}/lab/tree/widget_check.ipynb?token={TOKEN}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_quiz_widget_in_jupyterlab(lab, tmp_path):
    shots = Path(os.environ.get("COURSE_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        try:
            _check(page, lab, shots)
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _check(page, lab, shots):
    """Open the notebook, run both cells, answer, and read the feedback."""
    page.goto(lab)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function(  # the notebook's kernel is up and idle
        """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                   const k = w && w.sessionContext && w.sessionContext.session
                             && w.sessionContext.session.kernel;
                   return k && k.connectionStatus === 'connected' && k.status === 'idle'; }""",
        timeout=120_000, polling=500)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    check = page.get_by_role("button", name="Check", exact=True)
    check.wait_for(timeout=90_000)

    first = page.locator(".jp-Cell").first
    output = first.locator(".jp-Cell-outputArea")
    question = questions_get("flowers_notes")
    # shown once: the prompt appears in the widget only, not printed above it as well
    assert output.inner_text().count(question.prompt[:60]) == 1
    # every option readable: its text wraps inside the cell instead of running past it
    for letter, text in question.options.items():
        label = output.get_by_text(text, exact=True)
        box = label.bounding_box()
        cell_box = output.bounding_box()
        assert box["x"] + box["width"] <= cell_box["x"] + cell_box["width"] + 1, letter
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), letter
    assert output.get_by_text(question.options["A"], exact=True).bounding_box()[
        "height"] > 25  # the long option A took more than one line

    output.get_by_role("button", name="D", exact=True).click()
    check.click()
    output.get_by_text("Not quite: D is wrong.", exact=False).wait_for(timeout=30_000)
    output.get_by_role("button", name="B", exact=True).click()
    check.click()
    output.get_by_text("Correct: B.", exact=False).wait_for(timeout=30_000)
    first.screenshot(path=str(shots / "quiz_question.png"))

    score = page.get_by_role("button", name="Score", exact=True)
    score.wait_for(timeout=90_000)
    exam_cell = page.locator(".jp-Cell").nth(1)
    exam_cell.get_by_role("button", name="A", exact=True).first.click()
    score.click()
    exam_cell.get_by_text("Score:", exact=False).first.wait_for(timeout=30_000)
    assert "Re-read chapter(s)" in exam_cell.inner_text() or "Nothing to re-read" in (
        exam_cell.inner_text())
    exam_cell.screenshot(path=str(shots / "mock_exam.png"))


def questions_get(qid):
    from utils import questions

    return questions.get(qid)
