"""The course on a rented GPU, in one command (under 10 minutes on one modern GPU).

    python -m benchmarks.gpu                      # limits, test-parameters course, notebook tests
    python -m benchmarks.gpu --photos DIR --parts photos   # real-photo precision parity sweep
    python -m benchmarks.gpu --parts limits       # only the throughput rows (about a minute)

1. ``limits``: the backbone's forward and forward+backward throughput (``benchmarks.run``'s
   measurement on random, pre-decoded tensors) at 96, 128 and 224 px, in fp32 without and with
   ``channels_last``, and with bf16 and fp16 autocast (``channels_last``), timed interleaved
   (best of 3), so the ratios are fair on a shared machine.
2. ``course``: ``python -m course --test-parameters`` (every chapter, the tests' small
   parameters; ``device="auto"`` and ``precision="auto"`` pick the GPU and bf16), timed.
3. ``tests``: the notebook tests (``pytest -m notebook``), timed, with their pass/fail line.
4. ``photos`` (needs ``--photos DIR`` holding ``flowers17/`` and ``cats12_sample/``): the
   real-photo recipe at 224 px, feature extraction and fine-tuning, seeds 0 1 2, in fp32 and
   in ``"auto"`` (``benchmarks.recipes``), and the parity table (issue 23: parity means within
   one standard deviation or one test photo). Records go to ``OUT/recipes_gpu.jsonl``; append
   them to ``benchmarks/recipes.jsonl`` to put them in docs/real-photos.md's recipe table.

Writes ``OUT/gpu_results.json`` and ``OUT/GPU_RESULTS.md`` (``--out``, default
``benchmarks/``): the GPU model, driver, torch and CUDA build, then each part's figures. On a
machine without a CUDA GPU it prints one "no GPU" line and exits 0 without measuring anything
(CI runs it that way).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks import recipes
from benchmarks.run import forward_step, interleaved_best, train_step
from utils import training

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PARTS = ("limits", "course", "tests", "photos")
#: (label, channels_last, precision) of each limits column
SETTINGS = (("fp32", False, "fp32"), ("fp32 + channels_last", True, "fp32"),
            ("bf16 + channels_last", True, "bf16"), ("fp16 + channels_last", True, "fp16"))
PHOTO_SETS = ("flowers17", "cats12_sample")


def no_gpu_line() -> str | None:
    """``None`` when PyTorch sees a CUDA GPU, else the one line this command prints."""
    if torch.cuda.is_available():
        return None
    return (f"no GPU: PyTorch {torch.__version__} sees no CUDA device here, so "
            "benchmarks.gpu measured nothing (run it on a GPU machine; on a CPU use "
            "python -m benchmarks.run).")


def environment() -> dict:
    """GPU model, driver, torch and CUDA/cuDNN builds, CPU cores."""
    driver = None
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, check=False)
        driver = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout else None
    props = torch.cuda.get_device_properties(0)
    return {"gpu": torch.cuda.get_device_name(0), "gpu_memory_gb": props.total_memory / 1e9,
            "capability": f"{props.major}.{props.minor}", "driver": driver,
            "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(), "bf16": torch.cuda.is_bf16_supported(),
            "cpu_cores": os.cpu_count(), "machine": platform.node() or "unknown",
            "python": platform.python_version()}


def limits(device, sizes=(96, 128, 224), batch: int = 128, repeats: int = 3) -> list[dict]:
    """Images/s forward and forward+backward for every setting, interleaved per size."""
    rows = []
    for size in sizes:
        steps = {}
        for label, channels_last, precision in SETTINGS:
            if precision == "bf16" and not torch.cuda.is_bf16_supported():
                continue
            steps[("forward", label)] = forward_step(size, batch, device, channels_last,
                                                      precision)
            steps[("fwd+bwd", label)] = train_step(size, batch, device, channels_last,
                                                    precision)
        for step in steps.values():  # warm-up: cuDNN picks its kernels, autocast its casts
            step()
        best = interleaved_best(steps, device, repeats)
        for (kind, label), seconds in best.items():
            rows.append({"size": size, "batch": batch, "pass": kind, "setting": label,
                         "images_per_s": batch / seconds})
        print(f"limits at {size} px: " + ", ".join(
            f"{k[0]} {k[1]} {batch / v:.0f}" for k, v in best.items()), flush=True)
    return rows


def timed(cmd: list[str], log: Path) -> dict:
    """Run ``cmd`` in the repository, its output to ``log``; seconds, exit code, last line."""
    start = time.perf_counter()
    with log.open("w") as f:
        code = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                              check=False).returncode
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return {"command": " ".join(cmd[1:]) if cmd[0] == sys.executable else " ".join(cmd),
            "seconds": time.perf_counter() - start, "returncode": code,
            "last_line": lines[-1] if lines else "", "log": str(log)}


def photos(folder: Path, out: Path, *, seeds=(0, 1, 2), size: int = 224,
           epochs: int = 5, device: str = "cuda") -> dict:
    """The recipe parity sweep on real photos: fp32 then "auto", same seeds and splits."""
    missing = [name for name in PHOTO_SETS if not (folder / name).is_dir()]
    if missing:
        raise SystemExit(f"--photos {folder}: no {', '.join(missing)} folder there "
                         f"(expected {', '.join(PHOTO_SETS)} in ImageFolder layout).")
    records = out / "recipes_gpu.jsonl"
    start = time.perf_counter()
    for precision in ("fp32", "auto"):
        recipes.main([*(str(folder / name) for name in PHOTO_SETS), "--sizes", str(size),
                      "--seeds", *map(str, seeds), "--epochs", str(epochs),
                      "--variants", "lp", "ft_bn_frozen", "--precision", precision,
                      "--device", device, "--out", str(records)])
    table = recipes.parity(records)
    return {"records": str(records), "seconds": time.perf_counter() - start,
            "parity": table.reset_index().to_dict("records"),
            "table": recipes.markdown(records)}


def markdown(results: dict) -> str:
    env = results["environment"]
    lines = [f"GPU: {env['gpu']} ({env['gpu_memory_gb']:.0f} GB, compute capability "
             f"{env['capability']}), driver {env['driver']}, torch {env['torch']} (CUDA "
             f"{env['cuda']}, cuDNN {env['cudnn']}), {env['cpu_cores']} CPU cores."]
    if results.get("limits"):
        rows = results["limits"]
        labels = [label for label, _, _ in SETTINGS
                  if any(r["setting"] == label for r in rows)]
        lines += ["", f"Throughput limits (img/s, random tensors, batch {rows[0]['batch']}, "
                  "best of 3, interleaved):", "",
                  "| size | pass | " + " | ".join(labels) + " | best vs fp32 + channels_last |",
                  "|---|---|" + "---|" * (len(labels) + 1)]
        for size in sorted({r["size"] for r in rows}):
            for kind in ("forward", "fwd+bwd"):
                got = {r["setting"]: r["images_per_s"] for r in rows
                       if r["size"] == size and r["pass"] == kind}
                best = max(got.values()) / got["fp32 + channels_last"]
                lines.append(f"| {size} | {kind} | "
                             + " | ".join(f"{got[label]:.0f}" for label in labels)
                             + f" | x{best:.2f} |")
    for key, label in (("course", "Course with --test-parameters"),
                       ("tests", "Notebook tests")):
        if key in results:
            r = results[key]
            status = "passed" if r["returncode"] == 0 else f"FAILED (exit {r['returncode']})"
            lines += ["", f"{label} (`{r['command']}`): {r['seconds'] / 60:.1f} min, {status}; "
                      f"last line: `{r['last_line']}`"]
    if "photos" in results:
        p = results["photos"]
        lines += ["", f"Real-photo recipe parity, fp32 against \"auto\" ({p['seconds'] / 60:.1f} "
                  "min):", "", p["table"]]
        for row in p["parity"]:
            lines.append(f"\n{row['data']} {row['image_size']} px {row['variant']}: fp32 "
                         f"{row['fp32_acc']:.1%} (std {row['fp32_std']:.1%}), auto "
                         f"({row['auto_used']}) {row['auto_acc']:.1%}: parity "
                         f"{bool(row['parity'])}, x{row['speedup']:.2f} wall time.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=None,
                        help="what to run (default: limits course tests, and photos with "
                             "--photos)")
    parser.add_argument("--photos", type=Path, default=None,
                        help="folder holding flowers17/ and cats12_sample/ (the parity sweep)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    parts = args.parts or ["limits", "course", "tests"] + (["photos"] if args.photos else [])
    if "photos" in parts and args.photos is None:
        parser.error("--parts photos needs --photos DIR")
    line = no_gpu_line()
    if line:
        print(line)
        return 0
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"environment": environment(), "parts": parts}
    print(json.dumps(results["environment"]), flush=True)
    print("precision 'auto' here: forward "
          f"{training.resolve_precision('auto', device=device)}, training "
          f"{training.resolve_precision('auto', device=device, training=True)}", flush=True)
    if "limits" in parts:
        results["limits"] = limits(device)
    if "course" in parts:
        results["course"] = timed([sys.executable, "-m", "course", "--test-parameters"],
                                  args.out / "gpu_course.log")
        print(f"course: {results['course']}", flush=True)
    if "tests" in parts:
        results["tests"] = timed([sys.executable, "-m", "pytest", "-q", "-m", "notebook"],
                                 args.out / "gpu_tests.log")
        print(f"tests: {results['tests']}", flush=True)
    if "photos" in parts:
        results["photos"] = photos(args.photos, args.out, seeds=args.seeds)
    (args.out / "gpu_results.json").write_text(json.dumps(results, indent=2, default=str))
    text = markdown(results)
    (args.out / "GPU_RESULTS.md").write_text("# The course on a GPU\n\n" + text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
