"""Transfer-learning recipes on real photos: feature extraction against fine-tuning.

    python -m benchmarks.recipes photos/cats12_sample --sizes 128 224
    python -m benchmarks.recipes photos/flowers17 --variants lp ft_bn_frozen --seeds 0 1 2
    python -m benchmarks.recipes --docs    # rewrite docs/real-photos.md's table from the records

Each run splits the folder 70/15/15 (stratified, always with seed 0), trains a linear head on
the frozen body's embeddings (feature extraction, "lp") once per training seed, then fine-tunes
the whole network from a copy of that model for each variant below (one change at a time
against the recipe, "ft_bn_frozen"), and reports test accuracy, wall time and the best epoch.
Results are appended to ``benchmarks/recipes.jsonl`` (one JSON record per run); runs already
recorded are skipped, so a sweep can be resumed, and ``--table`` tabulates them. Chapter 04
shows the recorded sweep.

This is a developer tool for choosing the course's recipe on real photos.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from benchmarks.blocks import REAL_PHOTOS, replace_block
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
    "ft_bn_frozen_warmup": dict(lr_head=1e-3, lr_body=1e-4, bn="frozen", scale=0.6, warmup=1),
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


def run(folder: Path, *, variants: list[str], image_size: int, seed: int, epochs: int,
        batch_size: int = 32, skip: frozenset = frozenset()):
    """Yield one `Run` per variant. Feature extraction is trained once per seed and every
    fine-tuning variant starts from a copy of that same model; variants in `skip` are left out.
    """
    splits = data.load_image_folder(folder, seed=0)
    n = len(splits.classes)
    short = data.presize_for(image_size)
    tf = checkpoint.make_transform(image_size)
    sets = {name: data.ImageListDataset(getattr(splits, name), tf, presize=short)
            for name in ("train", "val", "test")}
    loaders = {k: training.make_loader(v, batch_size=64) for k, v in sets.items()}
    training.set_seed(seed)
    start_model = models.freeze(models.create_model(n, seed=seed), 0)
    probe = features.linear_probe(start_model.body, splits, transform=tf, epochs=100, seed=seed)
    start_model.head.load_state_dict(probe.head.state_dict())
    best_head_epoch, lp_seconds = probe.best_epoch, probe.seconds
    start_val = training.evaluate(start_model, loaders["val"]).accuracy
    if "lp" in variants and "lp" not in skip:
        test = training.evaluate(start_model, loaders["test"]).accuracy
        yield Run(folder.name, "lp", image_size, seed, 0, test, start_val, start_val,
                  best_head_epoch, lp_seconds, [start_val], len(splits.train), n)
    for variant in variants:
        if variant == "lp" or variant in skip:
            continue
        cfg = VARIANTS[variant]
        train_tf = checkpoint.make_transform(image_size, train=True,
                                             crop_scale=(cfg["scale"], 1.0))
        train_set = copy.copy(sets["train"])
        train_set.transform = train_tf
        train_loader = training.make_loader(train_set, batch_size=batch_size, shuffle=True,
                                            seed=seed)
        model = models.freeze(copy.deepcopy(start_model), "all")
        training.set_seed(seed)  # each variant draws the same dropout masks, whatever ran before
        fit = functools.partial(training.fit, model, train_loader, loaders["val"],
                                keep_bn_stats=cfg["bn"] == "frozen", desc=variant)
        histories = []
        if cfg["warmup"]:  # constant warm-up: the first epochs at a tenth of the rates
            histories.append(fit(epochs=cfg["warmup"], lr_head=cfg["lr_head"] / 10,
                                 lr_body=cfg["lr_body"] / 10).history)
        histories.append(fit(epochs=epochs - cfg["warmup"], lr_head=cfg["lr_head"],
                             lr_body=cfg["lr_body"]).history)
        history = pd.concat([histories[0]] + [h.iloc[1:] for h in histories[1:]],
                            ignore_index=True)  # later fits' epoch 0 repeats the last epoch
        test = training.evaluate(model, loaders["test"]).accuracy
        curve = history["val_acc"].round(4).tolist()
        best = int(history["val_acc"].to_numpy().argmax())  # first best, as `fit` keeps it
        yield Run(folder.name, variant, image_size, seed, epochs, test, max(curve), curve[0],
                  best, lp_seconds + float(history["seconds"].sum()), curve,
                  len(splits.train), n)


def records(path: Path = OUT) -> pd.DataFrame:
    """Every recorded run, one row each (empty when nothing is recorded yet)."""
    return (pd.read_json(path, lines=True, precise_float=True) if path.is_file()
            else pd.DataFrame())


def table(path: Path = OUT) -> pd.DataFrame:
    return (records(path).groupby(["data", "image_size", "variant"])
              .agg(test_acc=("test_acc", "mean"), test_std=("test_acc", "std"),
                   val_acc=("val_acc", "mean"), start_val=("start_val_acc", "mean"),
                   best_epoch=("best_epoch", "mean"), seconds=("seconds", "mean"),
                   seeds=("seed", "count"))
              .round(3))


LABELS = {"lp": "feature extraction (linear head on embeddings)",
          "ft_bn_train": "fine-tuning, BatchNorm statistics updated (the old recipe)",
          "ft_bn_frozen": "fine-tuning, pretrained BatchNorm statistics kept (the recipe)",
          "ft_bn_frozen_lr3e-5": "fine-tuning, statistics kept, rates / 3",
          "ft_bn_frozen_lr3e-4": "fine-tuning, statistics kept, rates x 3",
          "ft_bn_frozen_weak_aug": "fine-tuning, statistics kept, weaker crops (scale 0.8)",
          "ft_bn_frozen_strong_aug": "fine-tuning, statistics kept, stronger crops (scale 0.35)",
          "ft_bn_frozen_warmup": "fine-tuning, statistics kept, 1 warm-up epoch at rates / 10",
          "ft_bn_train_lr3e-5": "fine-tuning, statistics updated, rates / 3"}
def markdown(path: Path = OUT) -> str:
    """The docs block: one row per (data, size, variant), from the recorded runs."""
    df = records(path)
    lines = ["| photos | size (px) | method | test accuracy | validation: start -> best | "
             "validation change in epoch 1 | best epoch (mean) | wall time (s) | seeds |",
             "|---|---|---|---|---|---|---|---|---|"]
    order = {name: i for i, name in enumerate(LABELS)}
    df["order"] = df["variant"].map(order).fillna(len(order))
    df["epoch1"] = [c[1] - c[0] if len(c) > 1 else float("nan") for c in df["val_curve"]]
    groups = df.sort_values(["data", "image_size", "order"]).groupby(
        ["data", "image_size", "variant"], sort=False)
    for (name, size, variant), g in groups:
        first = g.iloc[0]
        epoch1 = "" if g["epoch1"].isna().all() else f"{100 * g['epoch1'].mean():+.1f} points"
        test = f"{g['test_acc'].mean():.1%}"
        if len(g) > 1:
            test += f" ± {g['test_acc'].std():.1%}"
        best = "" if variant == "lp" else f"{g['best_epoch'].mean():.1f}".removesuffix(".0")
        lines.append(
            f"| {name} ({first['classes']} classes, {first['train_images']} train) | {size} | "
            f"{LABELS.get(variant, variant)} | {test} | "
            f"{g['start_val_acc'].mean():.1%} -> {g['val_acc'].mean():.1%} | {epoch1} | "
            f"{best} | {g['seconds'].mean():.0f} | {len(g)} |")
    return "\n".join(lines)


def write_docs(path: Path = REAL_PHOTOS) -> None:
    replace_block(path, "recipes", markdown() + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--sizes", nargs="+", type=int, default=[128])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=["lp", "ft_bn_train", "ft_bn_frozen"],
                        choices=["lp", *VARIANTS])
    parser.add_argument("--table", action="store_true", help="print the table of all runs")
    parser.add_argument("--docs", action="store_true",
                        help="rewrite docs/real-photos.md's recipe table from the recorded runs")
    args = parser.parse_args(argv)
    recorded = records()
    done = {tuple(key) for key in recorded[["data", "image_size", "seed", "epochs", "variant"]]
            .values.tolist()} if len(recorded) else set()
    for folder in args.folders:
        for size in args.sizes:
            for seed in args.seeds:
                skip = frozenset(v for v in args.variants
                                 if (folder.name, size, seed, 0 if v == "lp" else args.epochs, v)
                                 in done)
                if skip == set(args.variants):
                    continue  # every run of this seed is recorded already
                for r in run(folder, variants=args.variants, image_size=size, seed=seed,
                             epochs=args.epochs, skip=skip):
                    with OUT.open("a") as f:
                        f.write(json.dumps(asdict(r)) + "\n")
                    print(f"{r.data} {size}px seed {seed} {r.variant}: test {r.test_acc:.3f} "
                          f"val {r.start_val_acc:.3f}->{r.val_acc:.3f} best epoch "
                          f"{r.best_epoch} {r.seconds:.0f}s curve {r.val_curve}", flush=True)
    if args.docs:
        write_docs()
    if args.table or not (args.folders or args.docs):
        print(table().to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
