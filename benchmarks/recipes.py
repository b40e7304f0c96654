"""Transfer-learning recipes on real photos: feature extraction against fine-tuning.

    python -m benchmarks.recipes ../shared/data/cats12_sample --sizes 128 224
    python -m benchmarks.recipes ../shared/data/flowers17 --variants lp ft_bn_frozen

Each run splits the folder 70/15/15 (stratified, seeded), trains a linear head on the frozen
body's embeddings (feature extraction, "lp"), then fine-tunes the whole network starting from
that head with the variants below, and reports test accuracy, wall time and the best epoch.
Results are appended to ``benchmarks/recipes.jsonl`` (one JSON record per run) so a sweep can
be resumed and tabulated (``--table``).

This is a developer tool for choosing the course's recipe on real photos; the chapters show
the chosen recipe and a small sweep of their own.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch

from benchmarks.readme import replace_readme_block
from utils import checkpoint, data, features, models, training

OUT = Path(__file__).resolve().parent / "recipes.jsonl"

# name -> fine-tuning settings (all start from the trained linear head, whole network trains)
VARIANTS = {
    # the course's recipe before this study: BatchNorm statistics re-estimated every batch
    "ft_bn_train": dict(lr_head=1e-3, lr_body=1e-4, bn="train", scale=0.6, warmup=0),
    "ft_bn_frozen": dict(lr_head=1e-3, lr_body=1e-4, bn="frozen", scale=0.6, warmup=0),
    "ft_bn_frozen_lr3e-5": dict(lr_head=3e-4, lr_body=3e-5, bn="frozen", scale=0.6, warmup=0),
    "ft_bn_frozen_lr3e-4": dict(lr_head=3e-3, lr_body=3e-4, bn="frozen", scale=0.6, warmup=0),
    "ft_bn_frozen_weak_aug": dict(lr_head=1e-3, lr_body=1e-4, bn="frozen", scale=0.8, warmup=0),
    "ft_bn_frozen_strong_aug": dict(lr_head=1e-3, lr_body=1e-4, bn="frozen", scale=0.35,
                                    warmup=0),
    "ft_bn_train_lr3e-5": dict(lr_head=3e-4, lr_body=3e-5, bn="train", scale=0.6, warmup=0),
}


@dataclass
class Run:
    data: str
    variant: str
    image_size: int
    seed: int
    epochs: int
    test_acc: float
    val_acc: float
    start_val_acc: float
    best_epoch: int
    seconds: float
    val_curve: list
    train_images: int
    classes: int


def run(folder: Path, *, variant: str, image_size: int, seed: int, epochs: int,
        batch_size: int = 32) -> Run:
    splits = data.load_image_folder(folder, seed=0)
    n = len(splits.classes)
    short = data.presize_for(image_size)
    tf = checkpoint.make_transform(image_size)
    sets = {name: data.ImageListDataset(getattr(splits, name), tf, presize=short)
            for name in ("train", "val", "test")}
    loaders = {k: training.make_loader(v, batch_size=64) for k, v in sets.items()}
    training.set_seed(seed)
    model = models.freeze(models.create_model(n, seed=seed), 0)
    start = time.perf_counter()
    emb = {k: features.embed(model.body, loader) for k, loader in loaders.items()}
    head, best_head_epoch = features.train_linear_head(*emb["train"], *emb["val"],
                                                       num_classes=n, epochs=100, seed=seed)
    model.head.load_state_dict(head.state_dict())
    lp_seconds = time.perf_counter() - start
    if variant == "lp":
        val = training.evaluate(model, loaders["val"]).accuracy
        test = training.evaluate(model, loaders["test"]).accuracy
        return Run(folder.name, variant, image_size, seed, 0, test, val, val, best_head_epoch,
                   lp_seconds, [val], len(splits.train), n)
    cfg = VARIANTS[variant]
    train_tf = checkpoint.make_transform(image_size, train=True)
    train_tf.transforms[0].scale = (cfg["scale"], 1.0)
    train_set = copy.copy(sets["train"])
    train_set.transform = train_tf
    train_loader = training.make_loader(train_set, batch_size=batch_size, shuffle=True,
                                        seed=seed)
    models.freeze(model, "all")
    result = training.fit(model, train_loader, loaders["val"], epochs=epochs,
                          lr_head=cfg["lr_head"], lr_body=cfg["lr_body"],
                          keep_bn_stats=cfg["bn"] == "frozen", desc=variant)
    test = training.evaluate(model, loaders["test"]).accuracy
    curve = result.history["val_acc"].round(4).tolist()
    return Run(folder.name, variant, image_size, seed, epochs, test, result.best_val_acc,
               curve[0], result.best_epoch,
               lp_seconds + float(result.history["seconds"].sum()), curve, len(splits.train), n)


def table(path: Path = OUT) -> pd.DataFrame:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    df = pd.DataFrame(rows)
    return (df.groupby(["data", "image_size", "variant"])
              .agg(test_acc=("test_acc", "mean"), test_std=("test_acc", "std"),
                   val_acc=("val_acc", "mean"), start_val=("start_val_acc", "mean"),
                   best_epoch=("best_epoch", "mean"), seconds=("seconds", "mean"),
                   seeds=("seed", "count"))
              .round(3))


LABELS = {"lp": "feature extraction (linear head on embeddings)",
          "ft_bn_train": "fine-tuning, BatchNorm statistics updated (the old recipe)",
          "ft_bn_frozen": "fine-tuning, pretrained BatchNorm statistics kept (the recipe)",
          "ft_bn_frozen_lr3e-5": "fine-tuning, statistics kept, rates / 3",
          "ft_bn_train_lr3e-5": "fine-tuning, statistics updated, rates / 3"}
README = Path(__file__).resolve().parent.parent / "README.md"


def markdown(path: Path = OUT) -> str:
    """The README block: one row per (data, size, variant), from the recorded runs."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    df = pd.DataFrame(rows)
    lines = ["| photos | size (px) | method | test accuracy | validation: start -> best | "
             "validation change in epoch 1 | best epoch | wall time (s) | runs |",
             "|---|---|---|---|---|---|---|---|---|"]
    order = {name: i for i, name in enumerate(LABELS)}
    df["order"] = df["variant"].map(order).fillna(len(order))
    df["epoch1"] = [c[1] - c[0] if len(c) > 1 else float("nan") for c in df["val_curve"]]
    groups = df.sort_values(["data", "image_size", "order"]).groupby(
        ["data", "image_size", "variant"], sort=False)
    for (name, size, variant), g in groups:
        first = g.iloc[0]
        epoch1 = "" if g["epoch1"].isna().all() else f"{100 * g['epoch1'].mean():+.1f} points"
        lines.append(
            f"| {name} ({first['classes']} classes, {first['train_images']} train) | {size} | "
            f"{LABELS.get(variant, variant)} | {g['test_acc'].mean():.1%} | "
            f"{g['start_val_acc'].mean():.1%} -> {g['val_acc'].mean():.1%} | {epoch1} | "
            f"{g['best_epoch'].mean():.0f} | {g['seconds'].mean():.0f} | {len(g)} |")
    return "\n".join(lines)


def write_readme(path: Path = README) -> None:
    replace_readme_block(path, "recipes", markdown() + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--sizes", nargs="+", type=int, default=[128])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=["lp", "ft_bn_train", "ft_bn_frozen"])
    parser.add_argument("--table", action="store_true", help="print the table of all runs")
    parser.add_argument("--readme", action="store_true",
                        help="rewrite the README's real-photo block from the recorded runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(torch.get_num_threads())
    for folder in args.folders:
        for size in args.sizes:
            for seed in args.seeds:
                for variant in args.variants:
                    r = run(folder, variant=variant, image_size=size, seed=seed,
                            epochs=args.epochs)
                    with OUT.open("a") as f:
                        f.write(json.dumps(asdict(r)) + "\n")
                    print(f"{r.data} {size}px seed {seed} {variant}: test {r.test_acc:.3f} "
                          f"val {r.start_val_acc:.3f}->{r.val_acc:.3f} best epoch "
                          f"{r.best_epoch} {r.seconds:.0f}s curve {r.val_curve}", flush=True)
    if args.readme:
        write_readme()
    if args.table or not (args.folders or args.readme):
        print(table().to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
