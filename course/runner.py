"""Run the course's notebooks headless with papermill.

    python -m course                      # every notebook, default parameters
    python -m course 01 02                # only chapters whose name starts with 01, 02
    python -m course 01 -p image_size 96  # override a parameter (repeatable)
    python -m course --data real            # every chapter on real photos (see course.real)
    python -m course --data real --flowers DIR --cats DIR [--nonflowers DIR]

Executed copies go to ``runs/<notebook>.ipynb`` and each notebook writes its measured numbers
to ``runs/<notebook>/``. The notebooks in ``notebooks/`` are never modified.
"""

from __future__ import annotations

import argparse
import ast
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


def run_notebook(path, parameters: dict | None = None, runs_dir=RUNS_DIR,
                 progress: bool = False) -> Path:
    """Execute one notebook with papermill; return the folder holding its outputs.

    ``output_dir`` is set to ``runs_dir/<notebook name>`` unless given in ``parameters``. The
    working directory is ``notebooks/``, as in JupyterLab, so relative paths behave the same.
    """
    import papermill

    path = Path(path)
    runs_dir = Path(runs_dir)
    params = {"output_dir": str(runs_dir / path.stem), **(parameters or {})}
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
    args = parser.parse_args(argv)
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
    total = time.perf_counter()
    for nb in selected:
        start = time.perf_counter()
        print(f"running {nb.name} ...", flush=True)
        chapter_params = dict(params)
        if photos is not None:
            from course.real import parameters as real_parameters

            chapter_params = {**real_parameters(nb.name[:2], photos), **params}
            print(f"  real photos: {real_parameters(nb.name[:2], photos)}", flush=True)
        out = run_notebook(nb, chapter_params, progress=True)
        print(f"  done in {time.perf_counter() - start:.0f} s -> {RUNS_DIR / nb.name}, {out}",
              flush=True)
    print(f"all {len(selected)} notebook(s) ran in {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
