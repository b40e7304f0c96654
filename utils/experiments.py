"""Controlled experiments for chapters 02 and 03: same data, same budget, same seeds.

Each function runs *one* configuration (one arm, one seed) and returns a plain dict of what it
measured (test accuracy, wall time, parameter counts, per-epoch history), so a notebook can
loop over arms and seeds, build a table, and save the numbers with
:func:`utils.env.save_metrics`.

Model selection always uses the validation split; the test split is evaluated once, at the
end of each run.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import features as feats
from .data import DATA_ROOT, DataError, ImageListDataset, make_transform
from .models import create_model, imagenet_model
from .training import evaluate, fit, set_seed

ARMS = ("feature_extraction", "fine_tune_top", "fine_tune_all", "from_scratch")
ARM_LABELS = {
    "feature_extraction": "feature extraction (frozen body, cached embeddings)",
    "fine_tune_top": "fine-tune top blocks",
    "fine_tune_all": "fine-tune whole network",
    "from_scratch": "from scratch (random init)",
}


# --------------------------------------------------------------------------------------------
# Chapter 02: four ways to use (or not use) a pretrained network
# --------------------------------------------------------------------------------------------


def embed_splits(body: nn.Module, splits, image_size: int, device="cpu",
                 progress: bool = False) -> dict:
    """Embeddings of the train/val/test splits under a frozen ``body``, timed.

    The embeddings are computed in memory (no disk cache), so ``seconds`` is the honest cost
    of feature extraction's only forward pass. Returns ``{"train": (X, y), "val": ...,
    "test": ..., "paths": {split: [path, ...]}, "seconds": float}``.
    """
    transform = make_transform(image_size)
    out, start = {"paths": {}}, time.perf_counter()
    for split in ("train", "val", "test"):
        samples = getattr(splits, split)
        x, y, _ = feats.extract_features(body, samples, transform, device, use_cache=False,
                                         progress=progress, desc=f"embedding {split}")
        out[split] = (x, y)
        out["paths"][split] = [p for p, _ in samples]
    out["seconds"] = time.perf_counter() - start
    return out


def rows_for(samples, paths: list[str]) -> torch.Tensor:
    """Row indices, in ``paths`` (the embedded images), of the images in ``samples``."""
    index = {p: i for i, p in enumerate(paths)}
    missing = [p for p, _ in samples if p not in index]
    if missing:
        raise ValueError(f"{len(missing)} sample(s) were not embedded, e.g. {missing[0]!r}.")
    return torch.tensor([index[p] for p, _ in samples], dtype=torch.long)


def run_feature_extraction(embedded: dict, train_samples=None, epochs: int = 100,
                           lr: float = 3e-3, seed: int = 0, head: nn.Module | None = None,
                           num_classes: int | None = None) -> dict:
    """Train a head on cached embeddings (arm 1); return the same fields as :func:`run_arm`.

    ``train_samples`` (default: every embedded training image) selects a subset of the
    training rows, for data-efficiency curves. ``seconds`` counts the embedding pass (all
    splits, from ``embedded["seconds"]``) plus the head's training.
    """
    x_train, y_train = embedded["train"]
    if train_samples is not None:
        idx = rows_for(train_samples, embedded["paths"]["train"])
        x_train, y_train = x_train[idx], y_train[idx]
    x_val, y_val = embedded["val"]
    x_test, y_test = embedded["test"]
    num_classes = num_classes or int(max(y_train.max(), y_val.max(), y_test.max())) + 1
    start = time.perf_counter()
    head, history = feats.train_linear_head(x_train, y_train, x_val, y_val, num_classes,
                                            epochs=epochs, lr=lr, seed=seed, head=head)
    head_seconds = time.perf_counter() - start
    body_params = embedded.get("body_params", 0)
    head_params = sum(p.numel() for p in head.parameters())
    return {
        "arm": "feature_extraction", "seed": seed,
        "test_acc": feats.head_accuracy(head, x_test, y_test),
        "val_acc": max(r["val_acc"] for r in history),
        "seconds": embedded["seconds"] + head_seconds,
        "seconds_per_epoch": head_seconds / max(epochs, 1),
        "trainable": head_params, "total": body_params + head_params,
        "n_train": len(y_train), "history": history,
    }


def make_arm_model(arm: str, num_classes: int, seed: int = 0, top_stages: int = 2,
                   backbone: str = "efficientnet_lite0"):
    """The model an arm starts from: pretrained or random body, which stages train."""
    if arm == "feature_extraction":
        return create_model(num_classes, backbone, trainable_stages=0, seed=seed)
    if arm == "fine_tune_top":
        return create_model(num_classes, backbone, trainable_stages=top_stages, seed=seed)
    if arm == "fine_tune_all":
        return create_model(num_classes, backbone, trainable_stages="all", seed=seed)
    if arm == "from_scratch":
        return create_model(num_classes, backbone, body_weights="random",
                            trainable_stages="all", seed=seed)
    raise ValueError(f"Unknown arm {arm!r}; choose one of {ARMS}.")


def run_training(model, splits, image_size: int, epochs: int, seed: int = 0, device="cpu",
                 lr_head: float = 3e-3, lr_body: float | None = None,
                 train_samples=None, batch_size: int = 16, progress: bool = True,
                 desc: str = "training", arm: str = "") -> dict:
    """Train ``model`` end to end on images with :func:`utils.training.fit`; evaluate on test.

    Returns ``arm, seed, test_acc, val_acc`` (best epoch), ``seconds`` (wall time of training
    and validation), ``seconds_per_epoch``, ``trainable``, ``total``, ``n_train`` and
    ``history``. The best-validation weights are restored before the single test evaluation.
    """
    train_samples = splits.train if train_samples is None else train_samples
    train_ds = ImageListDataset(train_samples, make_transform(image_size, train=True))
    val_ds = ImageListDataset(splits.val, make_transform(image_size))
    test_ds = ImageListDataset(splits.test, make_transform(image_size))
    counts = model.count_parameters()
    start = time.perf_counter()
    history = fit(model, train_ds, val_ds, epochs=epochs, lr_head=lr_head, lr_body=lr_body,
                  batch_size=batch_size, device=device, seed=seed, progress=progress,
                  desc=desc)
    seconds = time.perf_counter() - start
    result = evaluate(model, test_ds, device)
    return {
        "arm": arm, "seed": seed, "test_acc": result.accuracy,
        "val_acc": max(r["val_acc"] for r in history), "seconds": seconds,
        "seconds_per_epoch": seconds / max(epochs, 1), **counts,
        "n_train": len(train_samples), "history": history,
    }


def run_arm(arm: str, splits, image_size: int, epochs: int, seed: int = 0, device="cpu",
            lr_head: float = 3e-3, lr_body: float | None = None, top_stages: int = 2,
            train_samples=None, embedded: dict | None = None, head_epochs: int = 100,
            batch_size: int = 16, progress: bool = True) -> dict:
    """Run one arm of the chapter-02 comparison for one seed.

    ``feature_extraction`` trains a linear head on ``embedded`` (from :func:`embed_splits`);
    the other arms train on images for ``epochs`` epochs. Fine-tuning uses ``lr_body``
    (default ``lr_head / 10``) for the pretrained body; from scratch, every layer is random,
    so the body gets the head's rate.
    """
    num_classes = len(splits.classes)
    if arm == "feature_extraction":
        if embedded is None:
            raise ValueError("feature_extraction needs embedded=embed_splits(...).")
        return run_feature_extraction(embedded, train_samples, epochs=head_epochs, seed=seed,
                                      num_classes=num_classes)
    model = make_arm_model(arm, num_classes, seed, top_stages)
    if arm == "from_scratch":
        lr_body = lr_head
    return run_training(model, splits, image_size, epochs, seed, device, lr_head, lr_body,
                        train_samples, batch_size, progress, f"{arm} seed {seed}", arm)


def summarise(results: list[dict], key: str = "test_acc") -> dict:
    """``{arm: {"mean", "std", "n", "seconds", "seconds_per_epoch", "trainable", "total"}}``.

    ``std`` is the sample standard deviation over seeds (0 for a single seed).
    """
    table: dict[str, dict] = {}
    for arm in dict.fromkeys(r["arm"] for r in results):
        rows = [r for r in results if r["arm"] == arm]
        values = np.array([r[key] for r in rows], dtype=float)
        table[arm] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "n": len(values),
            "seconds": float(np.mean([r["seconds"] for r in rows])),
            "seconds_per_epoch": float(np.mean([r["seconds_per_epoch"] for r in rows])),
            "trainable": int(rows[0]["trainable"]), "total": int(rows[0]["total"]),
        }
    return table


def format_table(table: dict, labels: dict | None = None) -> str:
    """A plain-text results table from :func:`summarise`."""
    labels = labels or {}
    lines = [f"{'arm':52s} {'test acc (mean ± std)':>22s} {'trainable':>10s} {'total':>10s} "
             f"{'wall s':>7s} {'s/epoch':>8s}"]
    for arm, row in table.items():
        acc = f"{row['mean']:.1%} ± {row['std']:.1%} (n={row['n']})"
        lines.append(f"{labels.get(arm, arm):52s} {acc:>22s} {row['trainable']:>10,d} "
                     f"{row['total']:>10,d} {row['seconds']:>7.1f} "
                     f"{row['seconds_per_epoch']:>8.2f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The BatchNorm pitfall
# --------------------------------------------------------------------------------------------


def batchnorm_buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every BatchNorm running mean and variance in ``model``."""
    return {name: buf.detach().clone() for name, buf in model.named_buffers()
            if name.endswith(("running_mean", "running_var"))}


def batchnorm_pitfall(splits, image_size: int, epochs: int = 2, seed: int = 0, device="cpu",
                      lr_head: float = 3e-3, batch_size: int = 16,
                      progress: bool = True) -> dict:
    """Train a head on a *frozen* pretrained body twice: BatchNorm in train mode vs eval mode.

    Both runs freeze every body parameter (``trainable_stages=0``) and train only the head on
    images, with the same seed. The difference: ``freeze_bn=False`` leaves the body's
    BatchNorm layers in train mode (plain ``model.train()``, the pitfall), ``freeze_bn=True``
    keeps them in eval mode (the fix). Returns, per mode (``"train_mode"``, ``"eval_mode"``):
    ``test_acc``, ``buffers_changed`` (fraction of BatchNorm running-statistic tensors that
    moved), ``weights_changed`` (whether any body parameter moved: never), and
    ``embedding_cosine`` (mean cosine similarity between test embeddings before and after
    training: 1.0 means the body really stayed frozen).
    """
    out = {}
    transform = make_transform(image_size)
    for mode, freeze_bn in (("train_mode", False), ("eval_mode", True)):
        model = create_model(len(splits.classes), trainable_stages=0, seed=seed)
        model.freeze_bn = freeze_bn
        before_buffers = batchnorm_buffers(model.body)
        before_weights = [p.detach().clone() for p in model.body.parameters()]
        before_x, _, _ = feats.extract_features(model.body, splits.test, transform, device,
                                                use_cache=False, progress=False)
        result = run_training(model, splits, image_size, epochs, seed, device, lr_head,
                              batch_size=batch_size, progress=progress,
                              desc=f"frozen body, BN {mode}", arm=mode)
        model.cpu()
        after_buffers = batchnorm_buffers(model.body)
        changed = [not torch.equal(before_buffers[k], after_buffers[k]) for k in before_buffers]
        weights_changed = any(not torch.equal(a, b.cpu()) for a, b in
                              zip(before_weights, model.body.parameters(), strict=True))
        after_x, _, _ = feats.extract_features(model.body, splits.test, transform, device,
                                               use_cache=False, progress=False)
        cosine = nn.functional.cosine_similarity(before_x, after_x, dim=1).mean().item()
        out[mode] = {"test_acc": result["test_acc"], "val_acc": result["val_acc"],
                     "buffers_changed": float(np.mean(changed)),
                     "weights_changed": bool(weights_changed), "embedding_cosine": cosine}
    return out


# --------------------------------------------------------------------------------------------
# Domain gap: handwritten digits, far from ImageNet photos
# --------------------------------------------------------------------------------------------


def digits_image_folder(data_root=DATA_ROOT, image_size: int = 64, n_per_class: int = 40,
                        seed: int = 0) -> Path:
    """Write scikit-learn's 8x8 handwritten digits as an RGB ImageFolder; return its root.

    Each grey 8x8 digit (values 0..16) is upscaled to ``image_size`` pixels (bilinear) and
    stored as ``<root>/digit_<d>/<index>.png`` with ``n_per_class`` random images per digit.
    Generated once; an existing complete folder is reused.
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    if image_size < 8 or n_per_class < 3:
        raise DataError("digits need image_size >= 8 and n_per_class >= 3 (for the splits).")
    root = Path(data_root) / "digits" / f"digits_s{seed}_{image_size}px_n{n_per_class}"
    if (root / "done").exists():
        return root
    digits = load_digits()
    rng = np.random.default_rng(seed)
    for d in range(10):
        idx = np.flatnonzero(digits.target == d)
        chosen = rng.choice(idx, size=min(n_per_class, len(idx)), replace=False)
        folder = root / f"digit_{d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in chosen:
            pixels = (digits.images[i] / 16.0 * 255).astype(np.uint8)
            image = Image.fromarray(pixels, mode="L").resize((image_size, image_size),
                                                             Image.BILINEAR)
            image.convert("RGB").save(folder / f"{i:04d}.png")
    (root / "done").write_text("ok\n")
    return root


# --------------------------------------------------------------------------------------------
# Chapter 03: how to initialise the network
# --------------------------------------------------------------------------------------------


def imagenet_rows_for_classes(splits, image_size: int, device="cpu",
                              backbone: str = "efficientnet_lite0") -> list[int]:
    """For each class, the ImageNet output unit that the pretrained network favours most.

    The full pretrained classifier scores the training images; for each class we take the
    ImageNet unit with the highest mean probability over that class's images, never giving
    one unit to two classes (greedy, most confident class first). This is the closest
    runnable version of "keep the pretrained output layer": reuse one of its rows per class.
    """
    net = imagenet_model(backbone).to(device)
    transform = make_transform(image_size, backbone=backbone)
    num_classes = len(splits.classes)
    x, y, _ = feats.extract_features(net, splits.train, transform, device, use_cache=False,
                                     progress=False)  # (N, 1000) logits
    probs = x.softmax(1)
    mean = torch.stack([probs[y == c].mean(0) for c in range(num_classes)])  # (C, 1000)
    rows: dict[int, int] = {}
    for c in mean.max(1).values.argsort(descending=True).tolist():
        ranked = mean[c].argsort(descending=True).tolist()
        rows[c] = next(u for u in ranked if u not in rows.values())
    return [rows[c] for c in range(num_classes)]


def make_init_option(option: str, num_classes: int, imagenet_rows: list[int] | None = None,
                     seed: int = 0, head_init: str = "default",
                     backbone: str = "efficientnet_lite0"):
    """A model for one answer to "how do I initialise the network?" (all layers trainable).

    * ``"A"``: every layer random (train from scratch).
    * ``"B"``: every layer pretrained, output layer included. The 1000-way layer cannot score
      ``num_classes`` classes, so its rows ``imagenet_rows`` (one ImageNet unit per class,
      see :func:`imagenet_rows_for_classes`) become the new head.
    * ``"C"``: pretrained body, new random output layer (initialised with ``head_init``).
    * ``"D"``: random body, pretrained output layer (the same reused rows as B).
    """
    option = option.upper()
    if option == "A":
        return create_model(num_classes, backbone, body_weights="random",
                            trainable_stages="all", head_init=head_init, seed=seed)
    if option == "C":
        return create_model(num_classes, backbone, trainable_stages="all",
                            head_init=head_init, seed=seed)
    if option in ("B", "D"):
        if imagenet_rows is None or len(imagenet_rows) != num_classes:
            raise ValueError(f"Option {option} needs imagenet_rows: one ImageNet unit per "
                             f"class ({num_classes}).")
        body_weights = "imagenet" if option == "B" else "random"
        model = create_model(1000, backbone, body_weights=body_weights,
                             head_weights="imagenet", trainable_stages="all", seed=seed)
        full = model.head
        head = nn.Linear(full.in_features, num_classes)
        with torch.no_grad():
            head.weight.copy_(full.weight[imagenet_rows])
            head.bias.copy_(full.bias[imagenet_rows])
        model.head = head
        return model
    raise ValueError(f"Unknown option {option!r}; choose A, B, C or D.")


def run_init_option(option: str, splits, image_size: int, epochs: int, seed: int = 0,
                    device="cpu", imagenet_rows=None, lr_head: float = 3e-3,
                    lr_body: float | None = None, head_init: str = "default",
                    batch_size: int = 16, progress: bool = True) -> dict:
    """Train one chapter-03 option for one seed; same fields as :func:`run_training`.

    Pretrained bodies (B, C) get ``lr_body`` (default ``lr_head / 10``); random bodies (A, D)
    have nothing to preserve, so the whole network trains at ``lr_head``.
    """
    model = make_init_option(option, len(splits.classes), imagenet_rows, seed, head_init)
    if option.upper() in ("A", "D"):
        lr_body = lr_head
    return run_training(model, splits, image_size, epochs, seed, device, lr_head, lr_body,
                        batch_size=batch_size, progress=progress,
                        desc=f"option {option} seed {seed}", arm=option.upper())


def make_head(feature_dim: int, num_classes: int, init: str = "default",
              hidden: int | None = None, seed: int = 0) -> nn.Module:
    """A linear head, or with ``hidden`` units a two-layer MLP head, initialised by ``init``.

    ``init`` is ``"default"`` (PyTorch's), ``"zeros"`` or ``"normal"`` (N(0, 0.01)), applied
    to every linear layer of the head.
    """
    if init not in ("default", "zeros", "normal"):
        raise ValueError(f"Unknown init {init!r}: use 'default', 'zeros' or 'normal'.")
    torch.manual_seed(seed)
    if hidden:
        head = nn.Sequential(nn.Linear(feature_dim, hidden), nn.ReLU(),
                             nn.Linear(hidden, num_classes))
    else:
        head = nn.Sequential(nn.Linear(feature_dim, num_classes))
    for layer in head:
        if isinstance(layer, nn.Linear) and init != "default":
            if init == "zeros":
                nn.init.zeros_(layer.weight)
            else:
                nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)
    return head


def head_init_ablation(embedded: dict, inits=("default", "zeros", "normal"),
                       hidden_sizes=(None, 256), seeds=(0,), epochs: int = 100,
                       lr: float = 3e-3) -> list[dict]:
    """Test accuracy of heads trained on cached embeddings for each init and head depth.

    Returns rows ``{"init", "hidden", "seed", "test_acc", "final_train_loss"}``.
    """
    x_train, y_train = embedded["train"]
    num_classes = int(y_train.max()) + 1
    rows = []
    for hidden in hidden_sizes:
        for init in inits:
            for seed in seeds:
                set_seed(seed)
                head = make_head(x_train.shape[1], num_classes, init, hidden, seed)
                r = run_feature_extraction(embedded, epochs=epochs, lr=lr, seed=seed,
                                           head=head, num_classes=num_classes)
                rows.append({"init": init, "hidden": hidden or 0, "seed": seed,
                             "test_acc": r["test_acc"],
                             "final_train_loss": r["history"][-1]["train_loss"]})
    return rows


def pixel_baseline_accuracy(splits, size: int = 16, train_samples=None, seed: int = 0) -> float:
    """Test accuracy of logistic regression on raw grey pixels (``size`` x ``size``).

    A cheap model trained from scratch with no pretrained features at all: it shows how much
    a domain needs ImageNet's features in the first place.
    """
    from .data import load_rgb

    def pixels(samples):
        x = np.stack([np.asarray(load_rgb(p).convert("L").resize((size, size)), dtype="float32")
                      .ravel() / 255 for p, _ in samples])
        return x, np.array([label for _, label in samples])

    train = splits.train if train_samples is None else train_samples
    return feats.linear_probe_accuracy(*pixels(train), *pixels(splits.test), seed=seed)


# --------------------------------------------------------------------------------------------
# Self-check questions (exam style); the explanations cite the learner's measurements
# --------------------------------------------------------------------------------------------




