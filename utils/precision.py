"""Precision: fp32, or bf16/fp16 autocast where the hardware makes it pay.

Light on purpose (it imports only torch): training (:mod:`utils.training` re-exports every name
here), feature extraction, the SageMaker training script and the endpoint's ``inference.py``
all decide the same way.
"""

from __future__ import annotations

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_session_precision = "fp32"  # what precision=None means; a chapter sets it with set_precision
#: On a CPU with native bf16, "auto" would train in bf16 from this image size (pixels) on;
#: ``None``: never (fp32 training), because bf16 fine-tuning cost accuracy on real photos
#: (see :func:`resolve_precision`). ``precision="bf16"`` still trains in bf16 when asked.
BF16_CPU_TRAIN_MIN_SIZE: int | None = None


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
      ``"bf16"`` for forward passes (embedding, evaluation); ``"fp32"`` for training
      (:data:`BF16_CPU_TRAIN_MIN_SIZE` is ``None``; a size there would train in bf16 from it on).
    * Anything else (CPU without bf16, CUDA without bf16, Apple MPS): ``"fp32"``.

    The measurements behind it: EfficientNet-Lite0 (the course's body + a new head),
    channels_last, batch 32, random images, bf16 autocast against fp32, every step timed once
    per round, interleaved, best of 3 rounds in one run, on an AMD EPYC with AVX512-BF16 (no
    AMX), one thread, timed in CPU seconds because the 2-core machine was shared with many
    busy processes (``python -m benchmarks.precision crossover --threads 1 --clock cpu``):

    ======  =====================  =====================
    size    forward, bf16 / fp32   forward+backward
    ======  =====================  =====================
    64 px   x1.36                  x0.61
    96 px   x1.50                  x0.65
    128 px  x1.52                  x0.77
    160 px  x1.57                  x1.26
    224 px  x2.93 (noisy)          x1.28
    ======  =====================  =====================

    So bf16 forward passes pay at every size, and bf16 training could only from 160 px on
    (below it the backward pass's bf16 kernels lose). Issue 23's figures on an Intel CPU with
    AMX agree: forward x1.66 at 224 px and x1.58 at 96 px; forward+backward x1.45 at 224 px,
    x0.74 at 96.

    Accuracy on real photos at 224 px, 3 seeds each, fp32 against bf16 (``python -m
    benchmarks.recipes --parity``): feature extraction kept parity (flowers17 94.3% -> 93.8%,
    one test photo of 204; cats12_sample 91.2% -> 90.3%, within one standard deviation), but
    fine-tuning in bf16 lost 1.3 points on flowers17 (96.7% +- 0.7 -> 95.4% +- 0.7, about 3
    photos), more than the seeds' spread, for x1.28 per step. So on a CPU "auto" trains in
    fp32; bf16 training stays one setting away (``precision="bf16"``).
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
    threshold = BF16_CPU_TRAIN_MIN_SIZE
    return "bf16" if threshold is not None and image_size is not None and \
        image_size >= threshold else "fp32"


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
