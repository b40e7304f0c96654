"""docs/real-photos.md's table: what ``python -m course --data real`` gave, chapter by chapter.

    python -m course --data real --flowers DIR --cats DIR --nonflowers DIR   # first
    python -m benchmarks.real_course                 # print the table from runs/
    python -m benchmarks.real_course --docs          # ... and write it into docs/real-photos.md

Reads each executed chapter in the runs folder (its papermill run time and parameters) and the
``metrics.json`` it wrote, and renders one row per chapter: the photos it used, the image size,
the wall time, and its headline measurements. Nothing is typed in by hand.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from benchmarks.blocks import REAL_PHOTOS, replace_block

ROOT = Path(__file__).resolve().parent.parent


def _pct(value) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def _headline(chapter: str, m: dict) -> str:
    """The chapter's main measurements, in words, from its metrics.json."""
    if chapter == "00":
        return "environment check"
    if chapter == "01":
        return (f"k-NN on ImageNet embeddings {_pct(m.get('knn_pretrained'))}; random weights "
                f"{_pct(m.get('knn_random'))}, colour histograms {_pct(m.get('knn_color'))}, "
                f"chance {_pct(m.get('chance'))}")
    if chapter == "02":
        table = m.get("table") or {}
        column = next((c for c in ("mean", "test accuracy", "test_acc", "accuracy")
                       if c in next(iter(table.values()), {})), None)
        arms = "; ".join(f"{arm} {_pct(row.get(column))}" for arm, row in table.items()) \
            if column else "-"
        n = len(m.get("seeds", []))
        return f"test accuracy ({n} seed{'' if n == 1 else 's'}, {m.get('epochs')} epochs): {arms}"
    if chapter == "03":
        acc = m.get("acc") or {}
        return "test accuracy by option: " + ", ".join(
            f"{k} {_pct(v)}" for k, v in sorted(acc.items()))
    if chapter == "04":
        res = "; ".join(f"{r.get('image size', r.get('size'))} px {_pct(r.get('test accuracy'))}"
                        for r in m.get("resolution", []) if isinstance(r, dict))
        return (f"feature extraction {_pct(m.get('fe_test_acc'))}, fine-tuning "
                f"{_pct(m.get('ft_test_acc'))} (best epoch {m.get('ft_best_epoch')}); "
                f"feature extraction by size: {res or '-'}")
    if chapter == "05":
        return (f"detector {_pct(m.get('detector_acc'))}; species: B transfer "
                f"{_pct(m.get('transfer_acc'))}, C from scratch with "
                f"{m.get('hpo_trials')} trials {_pct(m.get('scratch_acc'))} "
                f"(chance {_pct(m.get('chance'))})")
    if chapter == "06":
        job = m.get("job_metrics") or {}
        parts = [f"training job (emulated) test accuracy {_pct(job.get('test_acc'))}"]
        if "endpoint_acc" in m:
            parts.append(f"endpoint: species right on {_pct(m['endpoint_acc'])} of "
                         f"{m.get('n_test_photos')} held-out photos")
        if "max_prob_gap" in m:
            parts.append(f"endpoint vs local model {float(m['max_prob_gap']):.1e}")
        return "; ".join(parts)
    if chapter == "07":
        cases = m.get("cases") or {}
        return "generated images (no real-photo preset): transfer " + ", ".join(
            f"{k} {_pct(v.get('transfer'))}" for k, v in cases.items())
    if chapter == "08":
        return "reads chapters 01-07's metrics (no training, no real-photo preset)"
    return "-"


def _photos(parameters: dict) -> str:
    folder = parameters.get("data_dir")
    if folder:
        return Path(folder).name
    return str(parameters.get("data_source", "defaults (synthetic)"))


def _default_size(notebook: Path):
    """``image_size`` from the notebook's parameters cell, when no run overrode it."""
    import papermill

    found = papermill.inspect_notebook(str(notebook)).get("image_size")
    return int(found["default"]) if found else None


def rows(runs: Path) -> list[dict]:
    """One dict per executed chapter in ``runs``."""
    out = []
    for notebook in sorted(runs.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(notebook.read_text())
        papermill = nb.get("metadata", {}).get("papermill", {})
        parameters = papermill.get("parameters", {})
        metrics_path = runs / notebook.stem / "metrics.json"
        metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
        chapter = notebook.name[:2]
        size = parameters.get("image_size", metrics.get("image_size")) or _default_size(notebook)
        out.append({"chapter": notebook.stem, "photos": _photos(parameters),
                    "image_size": size,
                    "seconds": papermill.get("duration"),
                    "headline": _headline(chapter, metrics)})
    return out


def markdown(table: list[dict], *, machine: str) -> str:
    lines = [f"Measured on {machine}.", "",
             "| chapter | photos | size (px) | time | what it measured |",
             "|---|---|---|---|---|"]
    for r in table:
        seconds = r["seconds"]
        time = "-" if seconds is None else (f"{seconds:.0f} s" if seconds < 120
                                            else f"{seconds / 60:.1f} min")
        lines.append(f"| `{r['chapter']}` | {r['photos']} | {r['image_size'] or '-'} | {time} | "
                     f"{r['headline']} |")
    total = sum(r["seconds"] or 0 for r in table)
    lines += ["", f"All chapters: {total / 60:.0f} min."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default=str(ROOT / "runs"))
    parser.add_argument("--machine", default=f"{platform.node() or 'unknown'} (CPU)",
                        help="how to describe the machine the runs were made on")
    parser.add_argument("--docs", action="store_true",
                        help="write the table into docs/real-photos.md")
    args = parser.parse_args(argv)
    table = markdown(rows(Path(args.runs)), machine=args.machine)
    print(table)
    if args.docs:
        replace_block(REAL_PHOTOS, "realcourse", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
