"""Measure the course's compute against the machine's limit.

    python -m benchmarks.run                 # throughput figures (a few minutes on 2 CPU cores)
    python -m benchmarks.run --course --tests  # also time the whole course and the test suite

Writes ``benchmarks/results.json`` and ``benchmarks/RESULTS.md`` and refreshes the table in
``docs/performance.md`` between the ``benchmarks:start`` / ``benchmarks:end`` markers. Every
figure is a throughput or a ratio measured in this one run; the tests never assert absolute
timings.

1. The limit: the backbone's forward throughput (images/s) on pre-decoded tensors in inference
   mode, and its forward+backward throughput (full fine-tuning), at the course's image sizes.
2. The feature-extraction pipeline end to end (read, decode, transform, forward) as a ratio
   to the forward limit, timed interleaved with it: decoding every image (cold), and a second
   extraction of the same images that reuses the decoded images kept in memory. At one size
   also with a DataLoader worker process (``num_workers=1``).
3. Head training on cached embeddings: a first and a second (cache-hit) run of that step.
4. Fine-tuning step throughput as a ratio to the forward+backward limit (timed interleaved).
5. Optionally: the whole course with default parameters, and the test suite.
6. On a CUDA GPU: the same limits with bf16 autocast and channels_last.

Steps 2 and 4 run on two kinds of images: the course's synthetic PNGs, and JPEG photos as
learners bring them (``--jpeg``): ``flowers17`` and ``cats12_sample`` from the ``--photos``
folder when there is one, else synthetic flowers written as 500 px JPEG files. The table says which.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.blocks import PERFORMANCE, replace_block
from utils import checkpoint, data, decoding, features, models, training

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED_PHOTOS = ROOT.parent / "shared" / "data"  # real photos, when this machine has them
JPEG_SETS = ("flowers17", "cats12_sample")


def synthetic_jpegs(root: Path, n_per_class: int, side: int = 500) -> Path:
    """Synthetic flowers saved as ``side`` px JPEG files (quality 90): the stand-in for real
    photos when ``../shared`` is absent (PNG decodes almost for free; JPEG does not)."""
    from offline import synthetic

    out = root / f"synthetic_jpeg_{side}px_n{n_per_class}"
    for name in synthetic.KINDS["flowers"]:
        (out / name).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            path = out / name / f"{name}_{i:04d}.jpg"
            if not path.is_file():
                synthetic.render("flowers", name, size=side, seed=0, index=i).save(
                    path, "JPEG", quality=90)
    return out


def jpeg_sets(root: Path, n_per_class: int, photos: Path | None = None) -> dict:
    """``{label: DatasetSplits}`` of JPEG photos, at most ``n_per_class`` per class, all in
    ``train`` (the benchmark times throughput, not accuracy). ``photos``: the folder holding
    ``flowers17`` and ``cats12_sample`` (default ``../shared/data`` next to the course)."""
    photos = Path(photos) if photos is not None else SHARED_PHOTOS
    folders = {f"{name} (real JPEG)": photos / name for name in JPEG_SETS
               if (photos / name).is_dir()}
    if not folders:
        folders = {"synthetic JPEG, 500 px": synthetic_jpegs(root, n_per_class)}
    out = {}
    for label, folder in folders.items():
        classes = sorted(d.name for d in folder.iterdir() if d.is_dir())
        kept = [(str(path), y) for y, name in enumerate(classes)
                for path in sorted(p for p in (folder / name).iterdir()
                                   if data.is_image_file(p))[:n_per_class]]
        out[label] = data.DatasetSplits(classes=classes, train=kept, val=[], test=[],
                                        root=str(folder))
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _throughput(step, n_images: int, device, repeats: int = 3) -> float:
    """Images per second of ``step()`` (best of ``repeats`` after one warm-up)."""
    step()
    return n_images / interleaved_best({"step": step}, device, repeats)["step"]


def forward_step(size: int, batch: int, device, channels_last=True, precision="fp32",
                  n_images: int | None = None):
    """One forward pass over ``n_images`` random images (default: one batch) in batches, in
    ``precision`` ("fp32", "bf16", "fp16": autocast, see ``utils.training.autocast``)."""
    n_images = n_images or batch
    model = models.create_model(6).eval().to(device)
    x = torch.randn(batch, 3, size, size, device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def step():
        with torch.inference_mode(), training.autocast(precision, device):
            for start in range(0, n_images, batch):
                model(x[:n_images - start])  # the last batch may be partial, as in extraction

    return step


def forward_limit(size: int, batch: int, device, channels_last=True,
                  precision="fp32") -> float:
    """Forward images/s of the body + head on random, pre-decoded tensors."""
    return _throughput(forward_step(size, batch, device, channels_last, precision), batch,
                       device)


def train_step(size: int, batch: int, device, channels_last=True, precision="fp32"):
    """One full fine-tuning step (forward, fp32 loss, backward, AdamW) on random tensors;
    fp16 with a gradient scaler, as ``utils.training.fit`` does."""
    model = models.create_model(6).train().to(device)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 6, (batch,), device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None

    def step():
        with training.autocast(precision, device):
            logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.float(), y)
        opt.zero_grad()
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

    return step


def train_limit(size: int, batch: int, device, channels_last=True, precision="fp32") -> float:
    """Forward+backward+update images/s of full fine-tuning on random tensors."""
    step = train_step(size, batch, device, channels_last, precision)
    return _throughput(step, batch, device, repeats=2)


def interleaved_best(steps: dict, device, repeats: int) -> dict:
    """Best time of each of ``steps`` over ``repeats`` rounds, the steps interleaved per round.

    Interleaving keeps the ratios fair when something else loads the machine for a while.
    """
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(repeats):
        for name, step in steps.items():
            _sync(device)
            start = time.perf_counter()
            step()
            _sync(device)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def pipeline(size: int, batch: int, device, n_per_class: int, workers: int, root: Path,
             repeats: int = 5, compare_workers: int | None = None, splits=None) -> dict:
    """End-to-end feature extraction and cached head training on synthetic flowers.

    Measured interleaved with the forward limit: extraction that decodes every image (cold),
    and extraction of the same images with another body (decoded images kept in memory).
    Neither reads the embedding cache; then a first and a second (cache-hit) run of
    extraction + head training. With ``compare_workers``, cold extraction with that many
    DataLoader workers is timed in the same rounds. ``splits``: the images (default: synthetic
    flowers rendered at ``size``).
    """
    if splits is None:
        splits = data.load_dataset("synthetic_flowers", data_root=root, render_size=size,
                                   n_per_class=n_per_class, seed=0)
    samples = splits.train + splits.val
    body = models.create_model(len(splits.classes)).body
    other = models.create_model(len(splits.classes)).body  # "another body" (same weights)
    tf = checkpoint.make_transform(size)
    cache = root / "bench_cache"

    def extract(net, n=None, num_workers=workers):
        return features.extract_features(net, samples[:n], tf, device, batch, num_workers,
                                         use_cache=False, show_progress=False)

    def cold(num_workers=workers):
        decoding.clear_decoded_cache()
        extract(body, num_workers=num_workers)

    extract(body, batch)  # warm-up
    extract(other, batch)
    # the limit runs over as many (random, pre-decoded) images as the pipeline, batched alike
    step = forward_step(size, batch, device, n_images=len(samples))
    step()
    cold()
    steps = {"limit": step, "cold": cold, "warm": lambda: extract(other)}
    if compare_workers is not None:
        steps["workers"] = lambda: cold(compare_workers)
    best = interleaved_best(steps, device, repeats)
    decoding.clear_decoded_cache()
    first_start = time.perf_counter()
    n_train = len(splits.train) if splits.val else len(samples) * 4 // 5
    head_splits = data.DatasetSplits(splits.classes, samples[:n_train], samples[n_train:], [],
                                     root=splits.root)
    probe = functools.partial(features.linear_probe, body, head_splits, transform=tf,
                              device=device, epochs=60, cache_dir=cache, batch_size=batch,
                              num_workers=workers)
    probe()
    first = time.perf_counter() - first_start
    second_start = time.perf_counter()
    hits = int(probe().embedding["from the disk cache"].sum())
    second = time.perf_counter() - second_start
    assert hits == 2, "the second run should have hit the embedding cache"
    out = {} if compare_workers is None else {
        "compare_workers": compare_workers,
        "compare_workers_images_per_s": len(samples) / best["workers"]}
    return {**out, "images": len(samples), "forward_limit": len(samples) / best["limit"],
            "extract_images_per_s": len(samples) / best["cold"],
            "extract_decoded_images_per_s": len(samples) / best["warm"],
            "first_run_s": first, "second_run_s": second, "cache_speedup": first / second,
            "splits": splits}


def finetune_throughput(splits, size: int, batch: int, device, workers: int,
                        repeats: int = 2) -> dict:
    """Fine-tuning images/s against the fwd+bwd limit, timed interleaved (best of ``repeats``).

    One epoch of full fine-tuning with the course's ``train_one_epoch`` (decoding and
    augmentation included) from a fresh model each round, on a presized dataset as the
    chapters use it (:func:`utils.data.presize_for`): the first epoch decodes every file, the
    later ones crop and flip the small copies. Returns ``train_limit`` (images/s),
    ``first_epoch`` and ``finetune`` (later epochs, images/s).
    """
    ds = data.ImageListDataset(splits.train, checkpoint.make_transform(size, train=True),
                               presize=data.presize_for(size))
    step = train_step(size, batch, device)
    step()  # warm-up
    epochs = []

    def epoch():
        model = models.freeze(models.create_model(len(splits.classes)), "all")
        model.to(device, memory_format=torch.channels_last)
        loader = training.make_loader(ds, batch_size=batch, shuffle=True, num_workers=workers)
        optimizer = torch.optim.AdamW(models.parameter_groups(model, 1e-3, 1e-4))
        start = time.perf_counter()
        models.train_mode(model)
        training.train_one_epoch(model, loader, optimizer, None, device)
        epochs.append(time.perf_counter() - start)

    epoch()  # the first epoch: decodes and presizes every file
    first = epochs.pop()
    best = interleaved_best({"limit": step, "finetune": epoch}, device, repeats)
    return {"train_limit": batch / best["limit"], "first_epoch": len(ds) / first,
            "finetune": len(ds) / min(epochs)}


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.perf_counter() - start


TARGETS = {"pipeline": {96: 0.70, 128: 0.75, 224: 0.85}, "finetune": 0.85}  # of the limits


def markdown(results: dict) -> str:
    lines = [
        f"Measured on {results['machine']} ({results['device']}, "
        f"{results['cpu_cores']} cores, torch {results['torch']}), batch {results['batch']}.",
        "",
        "| images | size | forward limit (img/s) | fwd+bwd limit (img/s) | feature-extraction "
        "pipeline (img/s) | pipeline / limit | same, images already decoded / limit | "
        "fine-tune, 1st epoch (img/s) | fine-tune, later epochs (img/s) | fine-tune / limit |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["sizes"]:
        decoded = row.get("pipeline_decoded_ratio")
        first = row.get("finetune_first")
        lines.append(
            f"| {row.get('data', 'synthetic PNG')} ({row.get('images', '?')}) | {row['size']} | "
            f"{row['forward_limit']:.0f} | {row['train_limit']:.1f} | "
            f"{row['pipeline']:.0f} | {row['pipeline_ratio']:.2f} | "
            f"{'-' if decoded is None else f'{decoded:.2f}'} | "
            f"{'-' if first is None else f'{first:.1f}'} | {row['finetune']:.1f} | "
            f"{row['finetune_ratio']:.2f} |")
    misses = [f"{row.get('data', 'synthetic PNG')} at {row['size']} px: {what} "
              f"{value:.3f} < {target:.2f}"
              for row in results["sizes"]
              for what, value, target in (
                  ("pipeline", row["pipeline_ratio"],
                   TARGETS["pipeline"].get(row["size"], 0.0)),
                  ("fine-tune", row["finetune_ratio"], TARGETS["finetune"]))
              if value < target]
    lines += [
        "",
        "Each ratio's two figures are timed in the same rounds, interleaved (best of 5 for "
        "the pipeline, of 2 for fine-tuning), so load from other processes hits both. "
        "The forward limit runs over as many random, pre-decoded images as the pipeline "
        "(batched alike). The pipeline reads, decodes, resizes and normalises every image, "
        "then runs the forward pass (`utils.features.extract_features`, no embedding cache; "
        "JPEG files are decoded in draft mode); "
        "\"images already decoded\" is a second extraction of the same images, e.g. with "
        "another body, which reuses the decoded images kept in memory. Fine-tuning runs on a "
        "presized dataset, as the chapters do: the first epoch decodes every file once, later "
        "epochs crop and flip the small copies; the ratio is for the later epochs. "
        "\"(real JPEG)\" rows are photos from the `--photos` folder (the number of images in "
        "brackets), \"synthetic JPEG\" rows the fallback without one.",
        "",
        "Targets (share of the limit): pipeline 0.70 at 96 px, 0.75 at 128, 0.85 at 224; "
        "fine-tuning 0.85. "
        + ("All met in this run." if not misses else
           "Missed in this run: " + "; ".join(misses) + "."),
    ]
    if results.get("workers"):
        w = results["workers"]
        lines.append(
            f"\nWith `num_workers={w['num_workers']}` (decoding in a DataLoader worker process) "
            f"the pipeline at {w['size']} px ran at {w['images_per_s']:.0f} img/s "
            f"({w['ratio']:.2f} of the limit; in-process: {w['in_process_ratio']:.2f}).")
    cache = results["cache"]
    lines += [
        "",
        f"Embedding + head step, {cache['images']} images at {cache['size']} px: first run "
        f"{cache['first_run_s']:.1f} s, second run (embedding cache hit) "
        f"{cache['second_run_s']:.2f} s: **{cache['cache_speedup']:.0f}x faster**.",
        "",
        f"`channels_last` effect on the forward limit at {results['layout']['size']} px: "
        f"{results['layout']['channels_last']:.0f} img/s with it, "
        f"{results['layout']['contiguous']:.0f} without.",
    ]
    if results.get("gpu"):
        g = results["gpu"]
        lines.append(f"\nGPU ({g['name']}), {g['size']} px: forward {g['fp32_forward']:.0f} "
                     f"img/s fp32, {g['bf16_forward']:.0f} bf16; fwd+bwd "
                     f"{g['fp32_train']:.0f} fp32, {g['bf16_train']:.0f} bf16.")
    else:
        lines.append("\nNo CUDA GPU on this machine: bf16 figures not measured.")
    for key, label in (("course_s", "Whole course, default parameters"),
                       ("tests_s", "Test suite")):
        if key in results:
            lines.append(f"\n{label}: {results[key] / 60:.1f} min.")
    return "\n".join(lines) + "\n"


def update_docs(table: str) -> None:
    replace_block(PERFORMANCE, "benchmarks", table)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 128, 224])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--n-per-class", type=int, default=40)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--no-jpeg", dest="jpeg", action="store_false",
                        help="skip the JPEG photo rows (../shared's photos, or synthetic JPEGs)")
    parser.add_argument("--photos", default=None,
                        help="folder with flowers17/ and cats12_sample/ (default ../shared/data)")
    parser.add_argument("--jpeg-per-class", type=int, default=20,
                        help="JPEG photos per class (default 20)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--course", action="store_true", help="also time python -m course")
    parser.add_argument("--tests", action="store_true", help="also time python -m pytest")
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args(argv)
    device = training.get_device(args.device)
    results = {"machine": platform.node() or "unknown", "device": str(device),
               "cpu_cores": os.cpu_count(), "torch": torch.__version__, "batch": args.batch,
               "sizes": []}
    cache_size = 128 if 128 in args.sizes else args.sizes[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sets = {"synthetic PNG": None}
        if args.jpeg:
            sets.update(jpeg_sets(root, args.jpeg_per_class, args.photos))
        for label, images in sets.items():
            for size in args.sizes:
                print(f"{label}, {size}px ...", flush=True)
                check = images is None and size == cache_size and args.workers == 0
                pipe = pipeline(size, args.batch, device, args.n_per_class, args.workers, root,
                                compare_workers=1 if check else None, splits=images)
                fwd = pipe["forward_limit"]
                ft = finetune_throughput(pipe["splits"], size, args.batch, device,
                                         args.workers)
                results["sizes"].append({
                    "data": label, "images": pipe["images"],
                    "size": size, "forward_limit": fwd, "train_limit": ft["train_limit"],
                    "pipeline": pipe["extract_images_per_s"],
                    "pipeline_ratio": pipe["extract_images_per_s"] / fwd,
                    "pipeline_decoded": pipe["extract_decoded_images_per_s"],
                    "pipeline_decoded_ratio": pipe["extract_decoded_images_per_s"] / fwd,
                    "finetune_first": ft["first_epoch"], "finetune": ft["finetune"],
                    "finetune_ratio": ft["finetune"] / ft["train_limit"]})
                if check:
                    results["workers"] = {"size": size, "num_workers": 1,
                                          "images_per_s": pipe["compare_workers_images_per_s"],
                                          "ratio": pipe["compare_workers_images_per_s"] / fwd,
                                          "in_process_ratio": pipe["extract_images_per_s"] / fwd}
                if images is None and size == cache_size:
                    results["cache"] = {k: v for k, v in pipe.items()
                                        if k in ("images", "first_run_s", "second_run_s",
                                                 "cache_speedup")}
                    results["cache"]["size"] = size
                print(json.dumps(results["sizes"][-1]), flush=True)
    layout_size = 224 if 224 in args.sizes else args.sizes[-1]
    results["layout"] = {"size": layout_size,
                         "channels_last": forward_limit(layout_size, args.batch, device),
                         "contiguous": forward_limit(layout_size, args.batch, device, False)}
    if device.type == "cuda":
        results["gpu"] = {"name": torch.cuda.get_device_name(0), "size": 224,
                          "fp32_forward": forward_limit(224, 128, device),
                          "bf16_forward": forward_limit(224, 128, device, precision="bf16"),
                          "fp32_train": train_limit(224, 128, device),
                          "bf16_train": train_limit(224, 128, device, precision="bf16")}
    if args.course:
        results["course_s"] = timed([sys.executable, "-m", "course"])
    if args.tests:
        results["tests_s"] = timed([sys.executable, "-m", "pytest", "-q"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    table = markdown(results)
    (out / "RESULTS.md").write_text("# Benchmark results\n\n" + table)
    update_docs(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
