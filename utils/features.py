"""Feature extraction: run the frozen body once, cache the embeddings, train a head on them.

With a frozen body the feature vector of an image never changes, so computing it every epoch
is wasted work. We compute each image's embedding once, store it on disk keyed by *what went
into it* (the images, the body's weights and the transform), and train the linear head on the
cached vectors, which takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from .data import DATA_ROOT, ImageListDataset
from .training import _to_device, make_loader, set_seed

CACHE_DIR = DATA_ROOT / "cache" / "embeddings"


def _weights_digest(module: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def cache_key(body: nn.Module, samples, transform) -> str:
    """A key that changes whenever the images, the body's weights or the transform change."""
    files = []
    for path, label in samples:
        stat = os.stat(path)
        files.append((str(path), int(label), stat.st_size, stat.st_mtime_ns))
    payload = json.dumps({"weights": _weights_digest(body), "transform": repr(transform),
                          "files": files})
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def extract_features(body: nn.Module, samples, transform, device="cpu", batch_size: int = 64,
                     num_workers: int = 0, cache_dir=CACHE_DIR, use_cache: bool = True,
                     progress: bool = True, desc: str = "embedding"):
    """Embeddings ``(N, D)`` and labels ``(N,)`` of ``samples`` under a frozen ``body``.

    Results are cached in ``cache_dir`` (see :func:`cache_key`); a second call with the same
    inputs loads them from disk. The returned dict also says whether the cache was hit and how
    long the call took.
    """
    key = cache_key(body, samples, transform)
    path = Path(cache_dir) / f"{key}.pt"
    start = time.perf_counter()
    if use_cache and path.is_file():
        cached = torch.load(path, weights_only=True)
        return cached["features"], cached["labels"], {
            "cache_hit": True, "seconds": time.perf_counter() - start, "path": str(path)}
    device = torch.device(device)
    body.eval().to(device).to(memory_format=torch.channels_last)
    loader = make_loader(ImageListDataset(samples, transform), batch_size,
                         num_workers=num_workers)
    feats, labels = [], []
    with torch.inference_mode():
        for x, y in tqdm(loader, desc=desc, disable=not progress, leave=False):
            feats.append(body(_to_device(x, device)).float().cpu())
            labels.append(y)
    features, labels_t = torch.cat(feats), torch.cat(labels)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"features": features, "labels": labels_t}, tmp)
        tmp.replace(path)  # atomic: a half-written cache file is never read
    return features, labels_t, {"cache_hit": False, "seconds": time.perf_counter() - start,
                                "path": str(path)}


def train_linear_head(train_x: torch.Tensor, train_y: torch.Tensor, val_x=None, val_y=None,
                      num_classes: int | None = None, epochs: int = 60, lr: float = 3e-3,
                      weight_decay: float = 1e-3, batch_size: int = 64, seed: int = 0,
                      head: nn.Linear | None = None) -> tuple[nn.Linear, list[dict]]:
    """Train a linear layer on cached features; return ``(head, history)``.

    The head with the best validation accuracy is returned (selection on validation). It has
    the same shape as :attr:`TransferModel.head`, so it can be dropped into the full model.
    """
    set_seed(seed)
    num_classes = num_classes or int(train_y.max()) + 1
    head = head or nn.Linear(train_x.shape[1], num_classes)
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    history, best = [], (-1.0, None)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        head.train()
        order = torch.randperm(len(train_x), generator=generator)
        total, correct = 0.0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            logits = head(train_x[idx])
            loss = nn.functional.cross_entropy(logits, train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            correct += (logits.argmax(1) == train_y[idx]).sum().item()
        record = {"epoch": epoch, "train_loss": total / len(order),
                  "train_acc": correct / len(order)}
        if val_x is not None:
            with torch.no_grad():
                logits = head.eval()(val_x)
                record["val_loss"] = nn.functional.cross_entropy(logits, val_y).item()
                record["val_acc"] = (logits.argmax(1) == val_y).float().mean().item()
            if record["val_acc"] > best[0]:
                best = (record["val_acc"], {k: v.clone() for k, v in head.state_dict().items()})
        record["seconds"] = time.perf_counter() - start
        history.append(record)
    if best[1] is not None:
        head.load_state_dict(best[1])
    return head.eval(), history


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
    import numpy as np

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
