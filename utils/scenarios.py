"""Building blocks for the two end-to-end scenarios (chapters 04 and 05).

* Error analysis: :func:`most_confused_pairs`, :func:`mistakes`.
* Serving a saved classifier: :func:`load_predictor` returns a ``predict(image, k)`` function.
* The flower scenario: :func:`negative_images` and :func:`detector_splits` build the
  flower-vs-not-flower data; :class:`FlowerSpeciesModel` puts a detector head and a species
  head on one shared body and answers "is there a flower, and which species?".
* The alternative: :func:`random_search` (a hyperparameter search with a fixed trial budget)
  and :func:`scratch_trial` (one from-scratch training run).
* Money: :func:`cost_table` turns measured seconds into dollars at hourly rates.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .data import (
    DataError,
    DatasetSplits,
    ImageListDataset,
    is_image_file,
    is_readable,
    load_rgb,
    make_transform,
    split_samples,
)
from .models import create_model
from .training import _to_device, evaluate, fit, load_checkpoint
from .training import predict as training_predict

# --------------------------------------------------------------------------------------------
# Error analysis
# --------------------------------------------------------------------------------------------


def most_confused_pairs(confusion, classes, k: int = 3) -> list[dict]:
    """The ``k`` largest off-diagonal cells of a confusion matrix (rows = true class).

    Returns dicts ``{"true", "pred", "count", "rate"}`` where ``rate`` is the share of the true
    class's images predicted as ``pred``. Pairs with a count of zero are left out.
    """
    cm = np.asarray(confusion)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(classes):
        raise ValueError(f"confusion must be a square matrix with one row per class "
                         f"({len(classes)}), got shape {cm.shape}.")
    pairs = []
    for i in range(len(classes)):
        for j in range(len(classes)):
            if i != j and cm[i, j] > 0:
                pairs.append({"true": classes[i], "pred": classes[j], "count": int(cm[i, j]),
                              "rate": float(cm[i, j] / max(cm[i].sum(), 1))})
    pairs.sort(key=lambda p: (-p["count"], -p["rate"], p["true"], p["pred"]))
    return pairs[:k]


def mistakes(samples, y_true, y_pred, probs=None, limit: int | None = None) -> list[dict]:
    """The misclassified samples: ``{"path", "true", "pred", "confidence"}`` (labels as ints).

    ``samples`` are the ``(path, label)`` pairs in the order they were evaluated. Sorted from
    the most to the least confident mistake.
    """
    if not len(samples) == len(y_true) == len(y_pred):
        raise ValueError("samples, y_true and y_pred must have the same length.")
    out = []
    for i, ((path, _), t, p) in enumerate(zip(samples, y_true, y_pred, strict=True)):
        if t != p:
            conf = float(probs[i][p]) if probs is not None else float("nan")
            out.append({"path": path, "true": int(t), "pred": int(p), "confidence": conf})
    out.sort(key=lambda m: -m["confidence"] if not math.isnan(m["confidence"]) else 0)
    return out[:limit] if limit is not None else out


# --------------------------------------------------------------------------------------------
# Serving a saved model
# --------------------------------------------------------------------------------------------


def load_predictor(checkpoint, image_size: int | None = None, device="cpu"):
    """Load a checkpoint and return ``predict(image, k=3) -> [(class, probability), ...]``.

    ``image`` may be a PIL image or a path. The input size defaults to the ``image_size``
    stored in the checkpoint's metadata. The function has ``.model`` and ``.classes``
    attributes.
    """
    model, classes, meta = load_checkpoint(checkpoint, device)
    size = image_size or meta.get("image_size")
    if size is None:
        raise ValueError("The checkpoint does not record image_size; pass image_size=...")
    transform = make_transform(int(size), backbone=model.backbone)

    def predict(image, k: int = 3) -> list[tuple[str, float]]:
        return training_predict(model, image, transform, classes, k, device)

    predict.model, predict.classes = model, classes
    return predict


# --------------------------------------------------------------------------------------------
# Flower detector data
# --------------------------------------------------------------------------------------------


def negative_images(folder, limit: int | None = None, seed: int = 0):
    """Every readable image under ``folder`` (any depth): ``(paths, skipped)``.

    Negatives need no class structure, so a flat folder or one with sub-folders both work.
    Unreadable files are skipped and returned in ``skipped``. With ``limit``, a random subset
    (fixed by ``seed``) of that many images is kept.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"Negatives folder {str(root)!r} does not exist or is not a folder.")
    files = sorted(p for p in root.rglob("*") if is_image_file(p))
    good = [str(p) for p in files if is_readable(p)]
    skipped = sorted(set(map(str, files)) - set(good))
    if len(good) < 3:
        raise DataError(f"{str(root)!r} holds {len(good)} readable image(s); the detector "
                        "needs at least 3 non-flower images (for train/val/test).")
    if limit is not None and limit < len(good):
        good = sorted(random.Random(seed).sample(good, limit))
    return good, skipped


def detector_splits(species: DatasetSplits, negatives, seed: int = 0) -> DatasetSplits:
    """Flower (label 1) vs not-flower (label 0) splits.

    Flower images keep the train/val/test split of ``species`` (so no species test image is
    ever trained on); ``negatives`` (paths) are split 70/15/15 with ``seed``.
    """
    neg = split_samples([(p, 0) for p in negatives], seed=seed)
    parts = [sorted([(p, 1) for p, _ in getattr(species, name)] + n)
             for name, n in zip(("train", "val", "test"), neg, strict=True)]
    return DatasetSplits(["not_flower", "flower"], *parts, root=species.root)


# --------------------------------------------------------------------------------------------
# One body, two heads
# --------------------------------------------------------------------------------------------


class FlowerSpeciesModel(nn.Module):
    """A shared body with a detector head (not-flower/flower) and a species head.

    ``forward`` returns ``(detector_logits, species_logits)``. :meth:`decide` turns them into
    one answer per image: ``-1`` for "no flower" (flower probability below ``threshold``),
    otherwise the species index.
    """

    def __init__(self, body: nn.Module, detector_head: nn.Linear, species_head: nn.Linear,
                 species: list[str], threshold: float = 0.5):
        super().__init__()
        if detector_head.out_features != 2:
            raise ValueError("detector_head must have 2 outputs (not_flower, flower).")
        if species_head.out_features != len(species):
            raise ValueError(f"species_head has {species_head.out_features} outputs but "
                             f"{len(species)} species names were given.")
        self.body, self.detector_head, self.species_head = body, detector_head, species_head
        self.species = list(species)
        self.threshold = threshold

    def forward(self, x: torch.Tensor):
        z = self.body(x)
        return self.detector_head(z), self.species_head(z)

    @torch.inference_mode()
    def decide(self, x: torch.Tensor):
        """``(answers, flower_prob, species_probs)`` for a batch; answer -1 means no flower."""
        det, spe = self.eval()(x)
        p_flower = det.float().softmax(1)[:, 1]
        species_probs = spe.float().softmax(1)
        answers = torch.where(p_flower >= self.threshold, species_probs.argmax(1), -1)
        return answers, p_flower, species_probs

    def answer(self, image, transform, k: int = 3, device="cpu") -> dict:
        """For one image: ``{"flower_probability", "is_flower", "species": [(name, p), ...]}``.

        ``species`` is empty when the detector says there is no flower.
        """
        if isinstance(image, str | Path):
            image = load_rgb(image)
        x = _to_device(transform(image.convert("RGB")).unsqueeze(0), torch.device(device))
        _, p_flower, probs = self.to(device).decide(x)
        is_flower = bool(p_flower[0] >= self.threshold)
        top = probs[0].topk(min(k, len(self.species)))
        species = [(self.species[i], float(p)) for p, i in
                   zip(top.values, top.indices, strict=True)] if is_flower else []
        return {"flower_probability": float(p_flower[0]), "is_flower": is_flower,
                "species": species}


def evaluate_flower_system(model: FlowerSpeciesModel, species_test, negative_test, transform,
                           device="cpu", batch_size: int = 64) -> dict:
    """Score the whole system on flower images (with species labels) and non-flower images.

    Returns ``detector_acc`` (flower vs not), ``species_acc`` (species head alone, on flower
    images), ``system_acc`` (the final answer: right species, or "no flower" for negatives)
    and ``confusion`` (rows/cols: species..., "no flower").
    """
    samples = list(species_test) + [(p, -1) for p in negative_test]
    ds = ImageListDataset([(p, y) for p, y in samples], transform)
    answers, flower_p, species_pred = [], [], []
    for i in range(0, len(ds), batch_size):
        xs = torch.stack([ds[j][0] for j in range(i, min(i + batch_size, len(ds)))])
        a, pf, sp = model.to(device).decide(_to_device(xs, torch.device(device)))
        answers.append(a.cpu())
        flower_p.append(pf.cpu())
        species_pred.append(sp.argmax(1).cpu())
    answers, flower_p = torch.cat(answers).numpy(), torch.cat(flower_p).numpy()
    species_pred = torch.cat(species_pred).numpy()
    truth = np.array([y for _, y in samples])
    is_flower = truth >= 0
    n = len(model.species)
    cm = np.zeros((n + 1, n + 1), dtype=int)  # index n = "no flower"
    for t, a in zip(truth, answers, strict=True):
        cm[t if t >= 0 else n, a if a >= 0 else n] += 1
    return {
        "detector_acc": float(((flower_p >= model.threshold) == is_flower).mean()),
        "species_acc": float((species_pred[is_flower] == truth[is_flower]).mean()),
        "system_acc": float((answers == truth).mean()),
        "confusion": cm,
        "labels": [*model.species, "no flower"],
    }


# --------------------------------------------------------------------------------------------
# Retraining from scratch with a hyperparameter search
# --------------------------------------------------------------------------------------------






def scratch_trial(params: dict, splits: DatasetSplits, image_size: int, epochs: int,
                  seed: int = 0, device="cpu", backbone: str = "efficientnet_lite0",
                  progress: bool = False) -> dict:
    """Train the backbone from random weights with ``params`` (``lr``, ``weight_decay``,
    ``batch_size``); return ``{"val_acc", "model", "history"}``.

    Every layer is random, so body and head share one learning rate.
    """
    model = create_model(len(splits.classes), backbone, body_weights="random",
                         trainable_stages="all", seed=seed)
    history = fit(model, ImageListDataset(splits.train, make_transform(image_size, True)),
                  ImageListDataset(splits.val, make_transform(image_size)), epochs=epochs,
                  lr_head=params["lr"], lr_body=params["lr"],
                  weight_decay=params.get("weight_decay", 1e-4),
                  batch_size=int(params.get("batch_size", 32)), device=device, seed=seed,
                  progress=progress, desc="from scratch")
    return {"val_acc": max(h["val_acc"] for h in history), "model": model,
            "history": history}


def test_accuracy(model, samples, image_size: int, device="cpu") -> float:
    """Accuracy of a classifier on ``(path, label)`` samples at ``image_size``."""
    return evaluate(model, ImageListDataset(samples, make_transform(image_size)),
                    device).accuracy


test_accuracy.__test__ = False  # a helper, not a pytest test


# --------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------






# --------------------------------------------------------------------------------------------
# Exam review
# --------------------------------------------------------------------------------------------




def load_chapter_metrics(runs_dir, stem: str) -> dict | None:
    """Metrics saved by chapter ``stem`` under ``runs_dir/stem/metrics.json``, or ``None``.

    ``runs_dir=None`` or a missing/unreadable file gives ``None`` (the caller recomputes).
    """
    import json

    if runs_dir is None:
        return None
    path = Path(runs_dir) / stem / "metrics.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def quick_flower_comparison(splits: DatasetSplits, image_size: int, scratch_epochs: int = 2,
                            seed: int = 0, device="cpu", head_epochs: int = 60,
                            scratch_lr: float = 3e-3) -> dict:
    """A small version of chapter 05's comparison, for the exam review.

    Transfer: the ImageNet body stands in for the flower detector's body (frozen, embedded
    without cache) plus a trained linear head. Scratch: one from-scratch run (a search budget
    of one trial). Returns ``transfer_acc``, ``transfer_seconds``, ``scratch_acc`` and
    ``scratch_seconds``.
    """
    from . import features as feats

    model = create_model(len(splits.classes), trainable_stages=0, seed=seed)
    transform = make_transform(image_size)
    start = time.perf_counter()
    emb = {s: feats.extract_features(model.body, getattr(splits, s), transform, device,
                                     use_cache=False, progress=False)[:2]
           for s in ("train", "val", "test")}
    head, _ = feats.train_linear_head(*emb["train"], *emb["val"], num_classes=len(splits.classes),
                                      epochs=head_epochs, seed=seed)
    transfer_seconds = time.perf_counter() - start
    start = time.perf_counter()
    out = scratch_trial({"lr": scratch_lr}, splits, image_size, scratch_epochs, seed, device)
    scratch_seconds = time.perf_counter() - start
    return {"transfer_acc": feats.head_accuracy(head, *emb["test"]),
            "transfer_seconds": transfer_seconds,
            "scratch_acc": test_accuracy(out["model"], splits.test, image_size, device),
            "scratch_seconds": scratch_seconds}


