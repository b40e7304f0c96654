"""Transfer-learning recipes on real photos: feature extraction against fine-tuning.

    python -m benchmarks.recipes photos/cats12_sample --sizes 128 224
    python -m benchmarks.recipes photos/flowers17 --variants lp ft_bn_frozen --seeds 0 1 2
    python -m benchmarks.recipes --docs    # rewrite docs/real-photos.md's table from the records
    python -m benchmarks.recipes photos/flowers17 --sizes 224 --seeds 0 1 2 \
        --variants lp ft_bn_frozen --precision auto  # the same runs in bf16 where it pays
    python -m benchmarks.recipes --parity  # fp32 against "auto", run by run

Each run splits the folder 70/15/15 (stratified, always with seed 0), trains a linear head on
the frozen body's embeddings (feature extraction, "lp") once per training seed, then fine-tunes
the whole network from a copy of that model for each variant below (one change at a time
against the recipe, "ft_bn_frozen"), and reports test accuracy, wall time and the best epoch.
Results are appended to ``benchmarks/recipes.jsonl`` (one JSON record per run); runs already
recorded are skipped, so a sweep can be resumed, and ``--table`` tabulates them. Chapter 04
shows the recorded sweep.

``--precision`` (``fp32`` by default, ``auto``, ``bf16``, ``fp16`` on CUDA) is passed to every
embedding, evaluation and ``fit`` of a run (see ``utils.training.resolve_precision``); each
record keeps the setting and what it resolved to, and ``--parity`` compares ``auto`` with
``fp32`` on the same photos, size, variant and seeds. ``--limit N`` keeps at most N training
photos per class and ``--out`` writes elsewhere than ``recipes.jsonl`` (for smoke runs).

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
    precision: str = "fp32"  # the setting asked for ("auto" resolves per pass, below)
    forward_precision: str = "fp32"  # what embedding and evaluation ran in
    train_precision: str = "fp32"  # what fine-tuning ran in
    test_images: int = 0
    device: str = "cpu"  # where it ran: "cpu" or "cuda" (records before this field: cpu)


def run(folder: Path, *, variants: list[str], image_size: int, seed: int, epochs: int,
        batch_size: int = 32, skip: frozenset = frozenset(), precision: str = "fp32",
        limit: int | None = None, device="cpu"):
    """Yield one `Run` per variant. Feature extraction is trained once per seed and every
    fine-tuning variant starts from a copy of that same model; variants in `skip` are left out.
    `precision` goes to every embedding, evaluation and fit; `limit` keeps at most that many
    training photos per class.
    """
    splits = data.load_image_folder(folder, seed=0)
    if limit is not None:
        splits = splits.subset(limit, seed=0)
    device = training.get_device(device)
    fwd = training.resolve_precision(precision, device=device)
    trained = training.resolve_precision(precision, device=device, image_size=image_size,
                                         training=True)
    tags = dict(precision=precision, forward_precision=fwd, train_precision=trained,
                test_images=len(splits.test), device=device.type)
    evaluate = functools.partial(training.evaluate, device=device, precision=precision)
    n = len(splits.classes)
    short = data.presize_for(image_size)
    tf = checkpoint.make_transform(image_size)
    sets = {name: data.ImageListDataset(getattr(splits, name), tf, presize=short)
            for name in ("train", "val", "test")}
    loaders = {k: training.make_loader(v, batch_size=64) for k, v in sets.items()}
    training.set_seed(seed)
    start_model = models.freeze(models.create_model(n, seed=seed), 0)
    probe = features.linear_probe(start_model.body, splits, transform=tf, device=device,
                                  epochs=100, seed=seed, precision=precision)
    start_model.head.load_state_dict(probe.head.state_dict())
    best_head_epoch, lp_seconds = probe.best_epoch, probe.seconds
    start_val = evaluate(start_model, loaders["val"]).accuracy
    if "lp" in variants and "lp" not in skip:
        test = evaluate(start_model, loaders["test"]).accuracy
        yield Run(folder.name, "lp", image_size, seed, 0, test, start_val, start_val,
                  best_head_epoch, lp_seconds, [start_val], len(splits.train), n, **tags)
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
                                keep_bn_stats=cfg["bn"] == "frozen", device=device,
                                precision=precision, desc=variant)
        histories = []
        if cfg["warmup"]:  # constant warm-up: the first epochs at a tenth of the rates
            histories.append(fit(epochs=cfg["warmup"], lr_head=cfg["lr_head"] / 10,
                                 lr_body=cfg["lr_body"] / 10).history)
        histories.append(fit(epochs=epochs - cfg["warmup"], lr_head=cfg["lr_head"],
                             lr_body=cfg["lr_body"]).history)
        history = pd.concat([histories[0]] + [h.iloc[1:] for h in histories[1:]],
                            ignore_index=True)  # later fits' epoch 0 repeats the last epoch
        test = evaluate(model, loaders["test"]).accuracy
        curve = history["val_acc"].round(4).tolist()
        best = int(history["val_acc"].to_numpy().argmax())  # first best, as `fit` keeps it
        yield Run(folder.name, variant, image_size, seed, epochs, test, max(curve), curve[0],
                  best, lp_seconds + float(history["seconds"].sum()), curve,
                  len(splits.train), n, **tags)


def records(path: Path = OUT) -> pd.DataFrame:
    """Every recorded run, one row each (empty when nothing is recorded yet). Runs recorded
    before the precision option existed ran in fp32."""
    if not Path(path).is_file():
        return pd.DataFrame()
    df = pd.read_json(path, lines=True, precise_float=True)
    for column, old in (("precision", "fp32"), ("forward_precision", "fp32"),
                        ("train_precision", "fp32"), ("device", "cpu")):
        df[column] = df[column].fillna(old) if column in df else old
    return df


def table(path: Path = OUT) -> pd.DataFrame:
    return (records(path).groupby(["data", "image_size", "variant", "device", "precision"])
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
def parity(path: Path = OUT) -> pd.DataFrame:
    """fp32 against "auto" per (photos, size, variant), on the seeds both have run.

    Parity (issue 23): the mean test accuracies differ by at most one standard deviation of
    the fp32 runs, or by at most one test photo.
    """
    df = records(path)
    if not len(df):
        return pd.DataFrame()
    key = ["data", "image_size", "variant", "device", "seed"]
    pairs = df[df["precision"] == "fp32"].merge(df[df["precision"] == "auto"], on=key,
                                                suffixes=("_fp32", "_auto"))
    if not len(pairs):
        return pd.DataFrame()
    # the split is the same (seed 0) for both; records made before test counts were kept
    # have none, so take whichever side has it
    pairs["test_images"] = pairs[[c for c in ("test_images_fp32", "test_images_auto")
                                  if c in pairs]].max(axis=1)
    out = pairs.groupby(key[:4]).agg(
        seeds=("seed", "nunique"), fp32_acc=("test_acc_fp32", "mean"),
        fp32_std=("test_acc_fp32", "std"), auto_acc=("test_acc_auto", "mean"),
        auto_used=("train_precision_auto", "first"),
        fp32_seconds=("seconds_fp32", "mean"), auto_seconds=("seconds_auto", "mean"),
        test_images=("test_images", "max"))
    out["difference"] = out["auto_acc"] - out["fp32_acc"]
    one_photo = 1 / out["test_images"].where(out["test_images"] > 0)
    out["parity"] = (out["difference"].abs() <= out["fp32_std"].fillna(0)) | (
        out["difference"].abs() <= one_photo + 1e-9)
    out["speedup"] = out["fp32_seconds"] / out["auto_seconds"]
    return out.round(4)


def markdown(path: Path = OUT) -> str:
    """The docs block: one row per (data, size, variant, precision), from the recorded runs."""
    df = records(path)
    lines = ["| photos | size (px) | method | precision | test accuracy | "
             "validation: start -> best | "
             "validation change in epoch 1 | best epoch (mean) | wall time (s) | seeds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    order = {name: i for i, name in enumerate(LABELS)}
    df["order"] = df["variant"].map(order).fillna(len(order))
    df["epoch1"] = [c[1] - c[0] if len(c) > 1 else float("nan") for c in df["val_curve"]]
    groups = df.sort_values(["data", "image_size", "order", "device", "precision"]).groupby(
        ["data", "image_size", "variant", "device", "precision"], sort=False)
    for (name, size, variant, _, _), g in groups:
        first = g.iloc[0]
        epoch1 = "" if g["epoch1"].isna().all() else f"{100 * g['epoch1'].mean():+.1f} points"
        test = f"{g['test_acc'].mean():.1%}"
        if len(g) > 1:
            test += f" ± {g['test_acc'].std():.1%}"
        best = "" if variant == "lp" else f"{g['best_epoch'].mean():.1f}".removesuffix(".0")
        lines.append(
            f"| {name} ({first['classes']} classes, {first['train_images']} train) | {size} | "
            f"{LABELS.get(variant, variant)} | {_precision_label(g)} | {test} | "
            f"{g['start_val_acc'].mean():.1%} -> {g['val_acc'].mean():.1%} | {epoch1} | "
            f"{best} | {g['seconds'].mean():.0f} | {len(g)} |")
    return "\n".join(lines)


def _precision_label(g: pd.DataFrame) -> str:
    """``fp32``, or e.g. ``auto (bf16)`` / ``auto (forward bf16, training fp32)``; runs on a
    GPU say so (``fp32, GPU``)."""
    asked, fwd, train, device = (g[c].iloc[0] for c in ("precision", "forward_precision",
                                                         "train_precision", "device"))
    used = fwd if fwd == train or g["variant"].iloc[0] == "lp" else \
        f"forward {fwd}, training {train}"
    label = asked if used == asked else f"{asked} ({used})"
    return label if device == "cpu" else f"{label}, {device.upper()}"


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
    parser.add_argument("--precision", default="fp32", choices=training.PRECISIONS,
                        help="fp32 (default), auto (bf16 where it pays), bf16, fp16 (CUDA)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--limit", type=int, default=None,
                        help="at most this many training photos per class (smoke runs)")
    parser.add_argument("--out", type=Path, default=OUT,
                        help="the JSON-lines file of records (default benchmarks/recipes.jsonl)")
    parser.add_argument("--parity", action="store_true",
                        help="print fp32 against auto on the recorded runs")
    parser.add_argument("--table", action="store_true", help="print the table of all runs")
    parser.add_argument("--docs", action="store_true",
                        help="rewrite docs/real-photos.md's recipe table from the recorded runs")
    args = parser.parse_args(argv)
    try:
        training.resolve_precision(args.precision, device=training.get_device(args.device))
    except (ValueError, RuntimeError) as err:
        parser.error(str(err))
    if args.limit is not None and args.out == OUT:
        parser.error("--limit runs are not comparable with the recorded sweep: give them "
                     "their own file with --out")
    recorded = records(args.out)
    device = training.get_device(args.device).type
    done = {tuple(key) for key in recorded[["data", "image_size", "seed", "epochs", "variant",
                                            "precision", "device"]].values.tolist()
            } if len(recorded) else set()
    for folder in args.folders:
        for size in args.sizes:
            for seed in args.seeds:
                skip = frozenset(v for v in args.variants
                                 if (folder.name, size, seed, 0 if v == "lp" else args.epochs, v,
                                     args.precision, device) in done)
                if skip == set(args.variants):
                    continue  # every run of this seed is recorded already
                for r in run(folder, variants=args.variants, image_size=size, seed=seed,
                             epochs=args.epochs, skip=skip, precision=args.precision,
                             limit=args.limit, device=args.device):
                    with args.out.open("a") as f:
                        f.write(json.dumps(asdict(r)) + "\n")
                    print(f"{r.data} {size}px seed {seed} {r.variant} {r.precision} (forward "
                          f"{r.forward_precision}, training {r.train_precision}): test "
                          f"{r.test_acc:.3f} "
                          f"val {r.start_val_acc:.3f}->{r.val_acc:.3f} best epoch "
                          f"{r.best_epoch} {r.seconds:.0f}s curve {r.val_curve}", flush=True)
    if args.docs:
        write_docs()
    if args.parity:
        print(parity(args.out).to_string())
    if args.table or not (args.folders or args.docs or args.parity):
        print(table(args.out).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
