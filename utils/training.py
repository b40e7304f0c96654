"""Training, evaluation and checkpoints for :class:`~utils.models.TransferModel`.

One loop serves every experiment in the course (feature extraction, partial and full
fine-tuning, training from scratch), so the experiments differ only in the model they pass
in: same data, same budget, same seeds.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .models import TransferModel, create_model


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def get_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then the CPU; anything else is used as given."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} was asked for, but PyTorch sees no CUDA GPU. "
                           "Use device='cpu' or 'auto'.")
    return torch.device(device)


def make_loader(dataset: Dataset, batch_size: int = 32, shuffle: bool = False,
                num_workers: int = 0, seed: int = 0) -> DataLoader:
    """A ``DataLoader`` whose shuffling is reproducible for a given ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      generator=generator, persistent_workers=num_workers > 0,
                      pin_memory=torch.cuda.is_available())


def _to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x


@dataclass
class EvalResult:
    """What :func:`evaluate` measures on a dataset."""

    accuracy: float
    loss: float
    per_class_accuracy: np.ndarray
    confusion: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    probs: np.ndarray

    def as_dict(self) -> dict:
        return {"accuracy": self.accuracy, "loss": self.loss,
                "per_class_accuracy": self.per_class_accuracy.tolist()}


def evaluate(model: nn.Module, data, device="cpu", batch_size: int = 64,
             num_classes: int | None = None) -> EvalResult:
    """Accuracy, loss, per-class accuracy and confusion matrix of ``model`` on ``data``.

    ``data`` is a ``Dataset`` or a ``DataLoader`` of ``(images, labels)``.
    """
    device = torch.device(device)
    loader = data if isinstance(data, DataLoader) else make_loader(data, batch_size)
    model.eval().to(device)
    losses, probs, labels = [], [], []
    with torch.inference_mode():
        for x, y in loader:
            logits = model(_to_device(x, device)).float().cpu()
            losses.append(nn.functional.cross_entropy(logits, y, reduction="sum").item())
            probs.append(logits.softmax(1))
            labels.append(y)
    probs_np = torch.cat(probs).numpy()
    y_true = torch.cat(labels).numpy()
    y_pred = probs_np.argmax(1)
    n = num_classes or probs_np.shape[1]
    cm = confusion_matrix(y_true, y_pred, labels=list(range(n)))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.nan_to_num(cm.diagonal() / cm.sum(1))
    return EvalResult(float(accuracy_score(y_true, y_pred)), sum(losses) / len(y_true),
                      per_class, cm, y_true, y_pred, probs_np)


def train_one_epoch(model: nn.Module, loader, optimizer, scheduler=None,
                    device="cpu") -> tuple[float, int, int]:
    """One pass of gradient steps over ``loader`` (the model must already be in train mode).

    Returns ``(summed loss, correct predictions, images seen)``, so callers can average them,
    or first add them up across processes in data-parallel training.
    """
    device = torch.device(device)
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in loader:
        x, y = _to_device(x, device), y.to(device, non_blocking=True)
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total_loss += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
    return total_loss, correct, seen


def fit(model: TransferModel, train_data: Dataset, val_data: Dataset | None = None,
        epochs: int = 3, lr_head: float = 1e-3, lr_body: float | None = None,
        weight_decay: float = 1e-4, batch_size: int = 32, device="cpu", seed: int = 0,
        num_workers: int = 0, restore_best: bool = True, progress: bool = True,
        desc: str = "training") -> list[dict]:
    """Train ``model`` in place and return its per-epoch history.

    Only parameters with ``requires_grad`` train (see :meth:`TransferModel.freeze`); the head
    uses ``lr_head`` and the body ``lr_body`` (default ``lr_head / 10``), with AdamW and a
    cosine schedule. With ``val_data`` and ``restore_best``, the weights of the epoch with the
    best validation accuracy are restored at the end (model selection on validation, never on
    test).

    Each history entry has ``epoch``, ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``,
    ``seconds`` (that epoch's wall time, validation included) and ``trainable_params``.
    """
    set_seed(seed)
    device = torch.device(device)
    model.to(device).to(memory_format=torch.channels_last)
    loader = make_loader(train_data, batch_size, shuffle=True, num_workers=num_workers,
                         seed=seed)
    optimizer = torch.optim.AdamW(model.parameter_groups(lr_head, lr_body),
                                  weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * len(loader))
    trainable = model.count_parameters()["trainable"]
    history, best_acc, best_state = [], -1.0, None
    bar = tqdm(range(1, epochs + 1), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        total_loss, correct, seen = train_one_epoch(model, loader, optimizer, scheduler, device)
        record = {"epoch": epoch, "train_loss": total_loss / seen, "train_acc": correct / seen}
        if val_data is not None:
            result = evaluate(model, val_data, device, batch_size=64)
            record.update(val_loss=result.loss, val_acc=result.accuracy)
            if restore_best and result.accuracy > best_acc:
                best_acc = result.accuracy
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        record.update(seconds=time.perf_counter() - start, trainable_params=trainable)
        history.append(record)
        bar.set_postfix({k: round(v, 3) for k, v in record.items() if k.endswith("acc")})
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


# --------------------------------------------------------------------------------------------
# Checkpoints and prediction
# --------------------------------------------------------------------------------------------


def save_checkpoint(path, model: TransferModel, classes, **meta) -> Path:
    """Save a model with its label map (class names) and any metadata, to reload anywhere."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"backbone": model.backbone, "classes": list(classes),
                "state_dict": model.state_dict(), "meta": meta}, path)
    return path


def load_checkpoint(path, device="cpu") -> tuple[TransferModel, list[str], dict]:
    """Load a checkpoint saved by :func:`save_checkpoint`: ``(model, classes, meta)``.

    Needs no pretrained weights and no internet: every weight comes from the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {str(path)!r}.")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        classes = state["classes"]
        model = create_model(len(classes), state["backbone"], body_weights="random")
        model.load_state_dict(state["state_dict"])
    except (KeyError, RuntimeError, EOFError) as err:
        raise ValueError(f"{str(path)!r} is not a course checkpoint ({err}).") from err
    return model.eval().to(device), classes, state.get("meta", {})


def predict(model: nn.Module, image, transform, classes, k: int = 3,
            device="cpu") -> list[tuple[str, float]]:
    """Top-``k`` ``(class name, probability)`` for one PIL image (or image path)."""
    from .data import load_rgb

    if isinstance(image, str | Path):
        image = load_rgb(image)
    x = _to_device(transform(image.convert("RGB")).unsqueeze(0), torch.device(device))
    model.eval().to(device)
    with torch.inference_mode():
        probs = model(x).float().softmax(1)[0].cpu()
    top = probs.topk(min(k, len(classes)))
    return [(classes[i], float(p)) for p, i in zip(top.values, top.indices, strict=True)]
