"""Feature extraction: run the frozen body once, cache the embeddings, train a head on them.

With a frozen body the feature vector of an image never changes, so computing it every epoch
is wasted work. We compute each image's embedding once, store it on disk keyed by *what went
into it* (the images, the body's weights and the transform), and train the linear head on the
cached vectors, which takes seconds.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import decoding
from .data import DATA_ROOT, ImageListDataset
from .env import progress
from .training import autocast, make_loader, resolve_precision, to_device

CACHE_DIR = DATA_ROOT / "cache" / "embeddings"
def _weights_digest(module: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def cache_key(body: nn.Module, samples, transform, precision: str = "fp32") -> str:
    """A key that changes whenever the images, the body's weights, the transform or the
    precision of the forward pass (``"fp32"``, ``"bf16"``, ...) change."""
    files = []
    for path, label in samples:
        stat = os.stat(path)
        files.append((str(path), int(label), stat.st_size, stat.st_mtime_ns))
    payload = json.dumps({"weights": _weights_digest(body), "transform": repr(transform),
                          "decode": decoding.DECODE, "files": files,
                          **({} if precision == "fp32" else {"precision": precision})})
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _loader_batches(dataset, batch_size: int, num_workers: int):
    """Batches of ``dataset``; if worker processes cannot start, warn and decode in-process."""
    loader = make_loader(dataset, batch_size=batch_size, num_workers=num_workers)
    if num_workers == 0:
        yield from loader
        return
    try:
        iterator = iter(loader)
        first = next(iterator, None)
    except Exception as err:  # any failure to start the workers: fall back
        warnings.warn(f"DataLoader workers failed to start ({type(err).__name__}: {err}); "
                      "extracting with num_workers=0 instead.", stacklevel=3)
        yield from make_loader(dataset, batch_size=batch_size, num_workers=0)
        return
    if first is not None:
        yield first
        yield from iterator


def extract_features(body: nn.Module, samples, transform, device="cpu", batch_size: int = 64,
                     num_workers: int = 0, cache_dir=CACHE_DIR, use_cache: bool = True,
                     show_progress: bool = True, desc: str = "embedding",
                     precision: str | None = None):
    """Embeddings ``(N, D)`` and labels ``(N,)`` of ``samples`` under a frozen ``body``.

    Results are cached in ``cache_dir`` (see :func:`cache_key`); a second call with the same
    inputs loads them from disk. The returned dict also says whether the cache was hit and how
    long the call took. ``use_cache=False`` neither reads nor writes the cache (and skips
    computing its key).

    With an evaluation transform (see :func:`utils.decoding.split_transform`) the decoded,
    resized images are also kept in memory (up to :data:`utils.decoding.DECODED_CACHE_MB`),
    so extracting the same images with
    another body skips decoding; normalisation is done per batch. ``num_workers > 0`` decodes in
    DataLoader worker processes (worth it with spare cores or a GPU; on 2 CPU cores the workers
    compete with the forward pass); if they cannot start, extraction falls back to in-process.

    ``precision``: ``"fp32"``, ``"bf16"``, ``"auto"`` (bf16 where it pays, see
    :func:`utils.training.resolve_precision`) or ``None`` (the session's, see
    :func:`utils.training.set_precision`); the resolved one is part of the cache key (the
    decoded images are not: they are the same pixels whatever the forward pass computes in)
    and is returned as ``info["precision"]``. The features are fp32 either way.
    """
    start = time.perf_counter()  # the key (hashing the weights) is part of the cost
    device = torch.device(device)
    precision = resolve_precision(precision, device=device)
    path = (Path(cache_dir) / f"{cache_key(body, samples, transform, precision)}.pt"
            if use_cache else None)
    if use_cache and path.is_file():
        cached = torch.load(path, weights_only=True)
        return cached["features"], cached["labels"], {
            "cache_hit": True, "seconds": time.perf_counter() - start, "path": str(path),
            "precision": precision}
    body.eval().to(device).to(memory_format=torch.channels_last)
    parts = decoding.split_transform(transform)
    if parts is None:
        batches = _loader_batches(ImageListDataset(samples, transform), batch_size, num_workers)
    else:
        image_steps, normalize = parts
        keys = [decoding.decoded_key(p, image_steps) for p, _ in samples]
        batches = _loader_batches(decoding.DecodedImages(samples, keys, image_steps),
                                  batch_size, num_workers)
    feats, labels = [], []
    with torch.inference_mode(), autocast(precision, device):
        for x, y in progress(batches, desc=desc, disable=not show_progress,
                             total=-(-len(samples) // batch_size)):
            if parts is None:
                x = to_device(x, device)
            else:
                done = sum(len(f) for f in feats)
                decoding.remember(keys[done:done + len(x)], x)  # for the next extraction
                x = decoding.to_float_batch(x, normalize, device)
            feats.append(body(x).float().cpu())
            labels.append(y)
    features, labels_t = torch.cat(feats), torch.cat(labels)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"features": features, "labels": labels_t}, tmp)
        tmp.replace(path)  # atomic: a half-written cache file is never read
    return features, labels_t, {"cache_hit": False, "seconds": time.perf_counter() - start,
                                "path": str(path) if use_cache else None,
                                "precision": precision}


# chapter 02
def embed(body: nn.Module, loader, device="cpu",
          precision=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the frozen body once over every image: (features (N, D), labels (N,)).

    `precision` "auto" runs the body under bf16 autocast where that pays (`resolve_precision`;
    None: `set_precision`'s); the features come back as fp32 either way.
    """
    body.eval().to(device, memory_format=torch.channels_last)
    precision = resolve_precision(precision, device=device)
    features, labels = [], []
    with torch.inference_mode(), autocast(precision, device):  # no autograd graph: faster
        for x, y in loader:
            features.append(body(to_device(x, device)).float().cpu())
            labels.append(y)
    return torch.cat(features), torch.cat(labels)


# chapter 02
def train_linear_head(train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor,
                      val_y: torch.Tensor, *, num_classes: int, epochs: int = 100,
                      lr: float = 3e-3, weight_decay: float = 1e-3, batch_size: int = 64,
                      seed: int = 0) -> tuple[nn.Linear, int]:
    """A new linear layer trained on stored features; returns (best head on val, its epoch)."""
    torch.manual_seed(seed)
    head = nn.Linear(train_x.shape[1], num_classes)
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    best_acc, best_epoch, best_state = -1.0, 0, None
    for epoch in range(1, epochs + 1):
        for idx in torch.randperm(len(train_x)).split(batch_size):
            loss = nn.functional.cross_entropy(head(train_x[idx]), train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            val_acc = (head(val_x).argmax(1) == val_y).float().mean().item()
        if val_acc > best_acc:
            best_acc, best_epoch, best_state = val_acc, epoch, copy.deepcopy(head.state_dict())
    head.load_state_dict(best_state)
    return head, best_epoch


# chapter 02
@dataclass
class ProbeResult:
    """What `linear_probe` trained and measured."""

    head: nn.Linear  # the new head, as of its epoch with the best validation accuracy
    best_epoch: int
    val_acc: float
    test_acc: float  # nan when the splits have no test images
    embedded: dict  # split -> (features (N, D), labels (N,)): reuse them without the body
    embedding: pd.DataFrame  # per split: images, seconds, read from the disk cache or not
    head_seconds: float

    @property
    def seconds(self) -> float:
        """What feature extraction cost: the embedding pass plus the head's training."""
        return float(self.embedding["seconds"].sum()) + self.head_seconds


# chapter 02
def linear_probe(body: nn.Module, splits, *, transform, device="cpu", epochs: int = 100,
                 lr: float = 3e-3, seed: int = 0, cache_dir=None, batch_size: int = 64,
                 num_workers: int = 0, precision: str | None = None) -> ProbeResult:
    """Feature extraction in one call: embed the splits once with the frozen `body`, train
    a new linear head on the stored vectors, and score it on validation and test.

    Put the head on the body with `model.head.load_state_dict(result.head.state_dict())`.
    `cache_dir`: keep the embeddings on disk there and reuse them (see `extract_features`).
    `precision` of the embedding pass: "fp32", "bf16", "auto" or None (`set_precision`'s).
    """
    if not splits.train or not splits.val:
        raise ValueError(f"linear_probe needs training and validation images; got "
                         f"{len(splits.train)} and {len(splits.val)}.")
    embedded, rows = {}, []
    for split in ("train", "val", "test"):
        samples = getattr(splits, split)
        if not samples:  # no test images: nothing to score
            continue
        x, y, info = extract_features(body, samples, transform, device, batch_size, num_workers,
                                      cache_dir=cache_dir, use_cache=cache_dir is not None,
                                      show_progress=False, precision=precision)
        embedded[split] = (x, y)
        rows.append({"split": split, "images": len(y), "features per image": x.shape[1],
                     "seconds": info["seconds"], "from the disk cache": info["cache_hit"]})
    start = time.perf_counter()
    head, best_epoch = train_linear_head(*embedded["train"], *embedded["val"],
                                         num_classes=len(splits.classes), epochs=epochs, lr=lr,
                                         seed=seed)
    head_seconds = time.perf_counter() - start
    test_acc = head_accuracy(head, *embedded["test"]) if "test" in embedded else math.nan
    return ProbeResult(head, best_epoch, head_accuracy(head, *embedded["val"]), test_acc,
                       embedded, pd.DataFrame(rows).set_index("split"), head_seconds)


def head_accuracy(head: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of a head on cached features."""
    with torch.no_grad():
        return (head.eval()(x).argmax(1) == y).float().mean().item()


def knn_accuracy(features, labels, k: int = 5, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated k-nearest-neighbour accuracy: how well embeddings cluster by class.

    No training of the network is involved, so it measures what the features *already* know.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    scores = cross_val_score(KNeighborsClassifier(k), _numpy(features), _numpy(labels), cv=cv)
    return float(scores.mean())


def color_histogram_features(samples, bins: int = 8, size: int = 64):
    """Per-image RGB colour histograms (``bins`` per channel, concatenated, normalised).

    A deliberately naive baseline: if colour alone separated the classes, a classifier on
    these would do as well as one on pretrained embeddings.
    """

    from .data import load_rgb

    rows = []
    for path, _ in samples:
        pixels = np.asarray(load_rgb(path).resize((size, size))).reshape(-1, 3)
        hist = [np.histogram(pixels[:, c], bins=bins, range=(0, 256))[0] for c in range(3)]
        rows.append(np.concatenate(hist) / len(pixels))
    return np.stack(rows).astype("float32"), np.array([label for _, label in samples])


def linear_probe_accuracy(train_x, train_y, test_x, test_y, seed: int = 0) -> float:
    """Accuracy of a standardised logistic regression (scikit-learn) trained on features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    clf.fit(_numpy(train_x), _numpy(train_y))
    return float(clf.score(_numpy(test_x), _numpy(test_y)))


def _numpy(x):
    return x.numpy() if isinstance(x, torch.Tensor) else x
