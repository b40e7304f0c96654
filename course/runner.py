"""Run the course's notebooks headless with papermill.

    python -m course                      # every notebook, default parameters
    python -m course 01 02                # only chapters whose name starts with 01, 02
    python -m course 01 -p image_size 96  # override a parameter (repeatable)
    python -m course --data real            # every chapter on real photos (see course.real)
    python -m course --data real --flowers DIR --cats DIR [--nonflowers DIR]
    python -m course --book               # run every chapter, then build the HTML book
    python -m course --book --test-parameters   # ... with the tests' smaller values

Executed copies go to ``runs/<notebook>.ipynb`` and each notebook writes its measured numbers
to ``runs/<notebook>/``; with ``--test-parameters`` both go to ``runs/test-parameters/``
instead. ``--book`` then writes the static site of the executed chapters to ``book/`` in that
folder (see :mod:`course.book`). The notebooks in ``notebooks/`` are never modified.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
from pathlib import Path

from utils.env import repo_root

NOTEBOOK_DIR = repo_root() / "notebooks"
RUNS_DIR = repo_root() / "runs"


def notebooks(prefixes=()) -> list[Path]:
    """The course notebooks (``NN_topic.ipynb``) in order, optionally filtered by prefix."""
    found = sorted(p for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if prefixes:
        found = [p for p in found if any(p.name.startswith(pre) for pre in prefixes)]
    return found


def test_parameters(notebook: Path) -> dict:
    """The smaller parameter values a notebook asks tests to use.

    They live in the notebook's metadata under ``course.test_parameters``, next to the defaults
    they shrink, so a new chapter brings its own.
    """
    meta = json.loads(Path(notebook).read_text()).get("metadata", {})
    return dict(meta.get("course", {}).get("test_parameters", {}))


test_parameters.__test__ = False  # not a test, despite the name


def run_notebook(path, parameters: dict | None = None, runs_dir=RUNS_DIR,
                 progress: bool = False) -> Path:
    """Execute one notebook with papermill; return the folder holding its outputs.

    ``output_dir`` is set to ``runs_dir/<notebook name>`` unless given in ``parameters``; a
    notebook with a ``runs_dir`` parameter (the exam review) gets ``runs_dir``, so it reads the
    metrics of the chapters run into the same folder. The working directory is ``notebooks/``,
    as in JupyterLab, so relative paths behave the same.
    """
    import papermill

    path = Path(path)
    runs_dir = Path(runs_dir)
    defaults = {"output_dir": str(runs_dir / path.stem)}
    if "runs_dir" in papermill.inspect_notebook(str(path)):  # the review reads earlier runs
        defaults["runs_dir"] = str(runs_dir)
    params = {**defaults, **(parameters or {})}
    os.environ.setdefault("COURSE_HEADLESS", "1")  # the kernel inherits it: plain progress lines
    runs_dir.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(path), str(runs_dir / path.name), parameters=params, cwd=str(path.parent),
        kernel_name="python3", progress_bar=progress, log_output=False,
    )
    return Path(params["output_dir"])


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="run only notebooks starting with these")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="override a notebook parameter")
    parser.add_argument("--data", choices=("synthetic", "real"), default="synthetic",
                        help="real: run every chapter on real photos (downloads, or the folders "
                             "given with --flowers / --cats / --nonflowers)")
    parser.add_argument("--flowers", type=Path, help="with --data real: a flower ImageFolder")
    parser.add_argument("--cats", type=Path, help="with --data real: a cat-breed ImageFolder")
    parser.add_argument("--nonflowers", type=Path, help="with --data real: non-flower photos")
    parser.add_argument("--test-parameters", action="store_true",
                        help="run with each notebook's smaller test values (metadata "
                             "course.test_parameters), into runs/test-parameters/")
    parser.add_argument("--book", action="store_true",
                        help="then build the executed chapters as a static HTML site")
    parser.add_argument("--no-run", action="store_true",
                        help="with --book: build from the notebooks already executed")
    parser.add_argument("--book-dir", type=Path, default=None,
                        help="where the site goes (default: book/ in the runs folder)")
    args = parser.parse_args(argv)
    if args.no_run and not args.book:
        parser.error("--no-run only makes sense with --book")
    params = {name: _parse_value(value) for name, value in args.parameter}
    photos = None
    if args.data == "real":
        from course.real import RealPhotos

        photos = RealPhotos(args.flowers, args.cats, args.nonflowers)
    elif args.flowers or args.cats or args.nonflowers:
        parser.error("--flowers, --cats and --nonflowers go with --data real")
    selected = notebooks(args.prefixes)
    if not selected:
        parser.error(f"no notebook matches {args.prefixes} in {NOTEBOOK_DIR}")
    runs_dir = RUNS_DIR / "test-parameters" if args.test_parameters else RUNS_DIR
    total = time.perf_counter()
    if not args.no_run:
        for nb in selected:
            start = time.perf_counter()
            print(f"running {nb.name} ...", flush=True)
            nb_params = {**(test_parameters(nb) if args.test_parameters else {}), **params}
            if photos is not None:
                from course.real import parameters as real_parameters

                nb_params = {**real_parameters(nb.name[:2], photos), **nb_params}
                print(f"  real photos: {real_parameters(nb.name[:2], photos)}", flush=True)
            out = run_notebook(nb, nb_params, runs_dir=runs_dir, progress=True)
            print(f"  done in {time.perf_counter() - start:.0f} s -> {runs_dir / nb.name}, "
                  f"{out}", flush=True)
        print(f"all {len(selected)} notebook(s) ran in {time.perf_counter() - total:.0f} s")
    if args.book:
        from course.book import build_book

        how = ("The chapters ran with their **test parameters**, the smaller values the tests "
               "use: quicker, and the numbers are noisier than with the defaults."
               if args.test_parameters else
               "The chapters ran with their **default parameters**, the values a learner "
               "runs on a laptop CPU.")
        if params:
            how += " Overridden for every chapter: " + ", ".join(
                f"`{k} = {v!r}`" for k, v in params.items()) + "."
        try:
            book = build_book([runs_dir / nb.name for nb in selected],
                              args.book_dir or runs_dir / "book", how=how)
        except FileNotFoundError as err:
            parser.exit(2, f"{parser.prog}: error: {err}\n")
        print(f"book: {len(book.chapters)} chapter(s) -> {book.index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
