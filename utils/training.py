"""The training loop, evaluation and model selection, as written in chapter 02.

One loop serves every experiment in the course (feature extraction on images, partial and full
fine-tuning, training from scratch), so the experiments differ only in the model they pass in.
Blocks marked "chapter NN" are the same code as that chapter's ``#| export`` cells
(``tests/test_exports.py`` checks it).
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .env import progress
from .models import parameter_groups, train_mode
from .precision import (  # noqa: F401  (re-exported: the chapters call training.resolve_precision)
    BF16_CPU_TRAIN_MIN_SIZE,
    PRECISIONS,
    autocast,
    cpu_has_native_bf16,
    resolve_precision,
    set_precision,
)


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


def make_loader(dataset: Dataset, *, batch_size: int = 32, shuffle: bool = False,
                num_workers: int = 0, seed: int = 0) -> DataLoader:
    """A ``DataLoader`` whose shuffling is reproducible for a given ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      generator=generator, persistent_workers=num_workers > 0,
                      pin_memory=torch.cuda.is_available())


def to_device(x: torch.Tensor, device) -> torch.Tensor:
    """Move a batch to ``device``; image batches go channels-last (faster convolutions)."""
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x


# chapter 02
@dataclass
class EvalResult:
    """What `evaluate` measured: accuracy, mean loss, and every prediction."""

    accuracy: float
    loss: float
    y_true: np.ndarray
    y_pred: np.ndarray
    probs: np.ndarray


# chapter 02
def evaluate(model: nn.Module, loader, device="cpu", precision=None) -> EvalResult:
    """Accuracy and mean loss of `model` on every batch of `loader`, with its predictions."""
    model.eval().to(device, memory_format=torch.channels_last)
    precision = resolve_precision(precision, device=device)  # "auto": bf16 where it pays
    losses, probs, labels = [], [], []
    with torch.inference_mode(), autocast(precision, device):
        for x, y in loader:
            logits = model(to_device(x, device)).float().cpu()
            losses.append(nn.functional.cross_entropy(logits, y, reduction="sum").item())
            probs.append(logits.softmax(1))
            labels.append(y)
    probs, y_true = torch.cat(probs).numpy(), torch.cat(labels).numpy()
    y_pred = probs.argmax(1)
    return EvalResult(float((y_pred == y_true).mean()), sum(losses) / len(y_true), y_true,
                      y_pred, probs)


# chapter 02
def train_one_epoch(model: nn.Module, loader, optimizer, scheduler=None, device="cpu",
                    precision="fp32", scaler=None) -> tuple[float, float]:
    """One pass of gradient steps over `loader`; returns (mean loss, accuracy) on the way.

    `precision` "bf16"/"fp16" runs the forward pass under autocast; the weights, BatchNorm's
    statistics and the loss stay fp32. "fp16" needs a `torch.amp.GradScaler` as `scaler`.
    """
    # running sums stay on the device: reading a number (`.item()`) every step would make the
    # CPU wait for the GPU each time, where it could be queueing the next batch instead
    total_loss = torch.zeros((), device=device)
    correct, seen = torch.zeros((), dtype=torch.long, device=device), 0
    for x, y in loader:
        x, y = to_device(x, device), to_device(y, device)
        with autocast(precision, device):  # fp32 does nothing here
            logits = model(x)
        loss = nn.functional.cross_entropy(logits.float(), y)  # the loss in fp32
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:  # fp16: scale the loss up so small gradients do not round to zero
            scaler.scale(loss).backward()
            scaler.step(optimizer)  # unscales; skips the step if a gradient overflowed
            scaler.update()
        if scheduler is not None:
            scheduler.step()
        total_loss += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
    return total_loss.item() / seen, correct.item() / seen


# chapter 02
@dataclass
class FitResult:
    history: pd.DataFrame  # one row per epoch; epoch 0 is the model before training
    best_epoch: int
    best_val_acc: float
    precision: str = "fp32"  # what the training steps ran in (see resolve_precision)


# chapter 02
def fit(model: nn.Module, train_loader, val_loader, *, epochs: int, lr_head: float,
        lr_body: float, weight_decay: float = 1e-4, keep_bn_stats: bool = False, device="cpu",
        precision: str | None = None, desc: str = "training",
        keep_best: bool = True) -> FitResult:
    """AdamW with a cosine schedule; keeps the epoch with the best validation accuracy.

    Epoch 0, the model as it came in, is a candidate too: training never hands back a
    model that is worse on validation than its starting point. `keep_bn_stats=True` keeps
    the pretrained BatchNorm statistics while fine-tuning (see `train_mode`); leave it off
    when training from scratch, where the statistics are not pretrained. `keep_best=False`
    keeps the last epoch instead, whatever validation says. `precision`: "fp32", "bf16",
    "fp16" (CUDA), "auto" (see `resolve_precision`; on a CPU it depends on the image size,
    read here from the first validation batch) or None (`set_precision`'s).
    """
    model.to(device, memory_format=torch.channels_last)  # faster convolutions on CPU and GPU
    size = next(iter(val_loader))[0].shape[-1] if precision in ("auto", None) else None
    precision = resolve_precision(precision, device=device, image_size=size, training=True)
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    optimizer = torch.optim.AdamW(parameter_groups(model, lr_head, lr_body),
                                  weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * len(train_loader))
    val = evaluate(model, val_loader, device, precision)
    rows = [dict(epoch=0, train_loss=math.nan, train_acc=math.nan, val_loss=val.loss,
                 val_acc=val.accuracy, seconds=0.0)]
    best_acc, best_epoch, best_state = val.accuracy, 0, copy.deepcopy(model.state_dict())
    for epoch in progress(range(1, epochs + 1), desc=desc):
        start = time.perf_counter()
        train_mode(model, keep_bn_stats=keep_bn_stats)  # frozen BatchNorm stays in eval mode
        train_loss, train_acc = train_one_epoch(model, train_loader, optimizer, scheduler, device,
                                                precision, scaler)
        val = evaluate(model, val_loader, device, precision)
        rows.append(dict(epoch=epoch, train_loss=train_loss, train_acc=train_acc,
                         val_loss=val.loss, val_acc=val.accuracy,
                         seconds=time.perf_counter() - start))
        if val.accuracy > best_acc or not keep_best:
            best_acc, best_epoch = val.accuracy, epoch
            best_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return FitResult(pd.DataFrame(rows).set_index("epoch"), best_epoch, best_acc, precision)
