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


# --------------------------------------------------------------------------------------------
# Precision: fp32, or bf16/fp16 autocast where the hardware makes it pay
# --------------------------------------------------------------------------------------------

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_session_precision = "fp32"  # what precision=None means; a chapter sets it with set_precision
#: On a CPU with native bf16, "auto" trains in bf16 only from this image size (pixels) on.
BF16_CPU_TRAIN_MIN_SIZE = 160


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX tiles or AVX512-BF16 instructions).

    PyTorch's public ``torch.backends.cpu.get_cpu_capability()`` answers ``"AVX512"`` on such
    CPUs and on those without bf16 alike, so we ask ``torch.cpu``'s capability checks
    (underscored in torch 2.x; absent ones count as "no").
    """
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_precision(precision: str | None = "auto", *, device, image_size: int | None = None,
                      training: bool = False) -> str:
    """The precision a run uses: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (``"auto"`` decides).

    ``None`` stands for the session's precision (:func:`set_precision`; ``"fp32"`` until a
    chapter sets it).

    ``"bf16"`` and ``"fp16"`` mean autocast: weights, BatchNorm statistics, optimizer state and
    the loss stay fp32, while convolutions and matrix products run in 16 bits. ``"fp16"`` also
    needs a gradient scaler (``fit`` makes one) and is for CUDA only. The rule for ``"auto"``:

    * CUDA with bf16 support (Ampere or newer): ``"bf16"`` (no gradient scaler needed).
    * CPU with native bf16 (AMX or AVX512-BF16, see :func:`cpu_has_native_bf16`):
      ``"bf16"`` for forward passes (embedding, evaluation); for training only from
      :data:`BF16_CPU_TRAIN_MIN_SIZE` pixels on (``image_size``; unknown size: fp32).
    * Anything else (CPU without bf16, CUDA without bf16, Apple MPS): ``"fp32"``.

    The measurements behind it (EfficientNet-Lite0, channels_last, batch 32, bf16 autocast
    against fp32, interleaved best of 3 in one run; ``python -m benchmarks.precision``):

    MEASUREMENTS

    Issue 23's figures on an AMX CPU agree: forward x1.66 at 224 px and x1.58 at 96 px;
    forward+backward x1.45 at 224 px but x0.74 at 96 px.
    """
    if precision is None:
        precision = _session_precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    device = torch.device(device)
    if device.type == "cuda":
        bf16_ok = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        if precision == "bf16" and not bf16_ok:
            raise ValueError("precision='bf16' was asked for, but this GPU has no bf16 support "
                             "(it needs an Ampere or newer GPU); use 'fp16' or 'fp32'.")
        if precision == "auto":
            return "bf16" if bf16_ok else "fp32"
        return precision
    if precision == "fp16":
        raise ValueError(f"precision='fp16' needs a CUDA GPU (a gradient scaler is CUDA-only "
                         f"here), but device is {device.type!r}; use 'bf16', 'fp32' or 'auto'.")
    if precision != "auto":
        return precision
    if device.type != "cpu" or not cpu_has_native_bf16():
        return "fp32"
    if not training:
        return "bf16"
    return "bf16" if image_size is not None and image_size >= BF16_CPU_TRAIN_MIN_SIZE else "fp32"


def autocast(precision: str, device):
    """``torch.autocast`` for a resolved precision (``"fp32"``: a context that does nothing)."""
    device = torch.device(device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if precision not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"autocast needs a resolved precision (fp32, bf16 or fp16), got "
                         f"{precision!r}; see resolve_precision.")
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def set_precision(precision: str = "auto", *, device, image_size: int | None = None,
                  verbose: bool = True) -> dict:
    """Make ``precision`` what ``fit``, ``evaluate``, ``embed`` and ``extract_features`` use
    when they are not told (``precision=None``), and print what it resolves to, once.

    Each call still resolves ``"auto"`` itself (training depends on the image size on a CPU).
    Returns ``{"requested": ..., "forward": ..., "training": ...}`` (at ``image_size``) for a
    chapter's metrics.
    """
    global _session_precision
    resolve_precision(precision, device=device)  # a bad value fails here, before any work
    _session_precision = precision
    out = {"requested": precision,
           "forward": resolve_precision(precision, device=device, image_size=image_size),
           "training": resolve_precision(precision, device=device, image_size=image_size,
                                         training=True)}
    if verbose:
        where = f"{torch.device(device).type}, {image_size} px" if image_size else \
            torch.device(device).type
        print(f"precision {precision!r} ({where}): forward passes {out['forward']}, "
              f"training {out['training']}")
    return out


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
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in loader:
        x, y = to_device(x, device), y.to(device)
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
        total_loss += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
    return total_loss / seen, correct / seen


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
        precision: str | None = None, desc: str = "training") -> FitResult:
    """AdamW with a cosine schedule; keeps the epoch with the best validation accuracy.

    Epoch 0, the model as it came in, is a candidate too: training never hands back a
    model that is worse on validation than its starting point. `keep_bn_stats=True` keeps
    the pretrained BatchNorm statistics while fine-tuning (see `train_mode`); leave it off
    when training from scratch, where the statistics are not pretrained. `precision`:
    "fp32", "bf16", "fp16" (CUDA), "auto" (see `resolve_precision`; on a CPU it depends on
    the image size, read here from the first validation batch) or None (`set_precision`'s).
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
        if val.accuracy > best_acc:
            best_acc, best_epoch = val.accuracy, epoch
            best_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return FitResult(pd.DataFrame(rows).set_index("epoch"), best_epoch, best_acc, precision)
