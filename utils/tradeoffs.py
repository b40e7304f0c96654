"""Measuring the trade-offs of transfer learning and training from scratch (chapter 07).

Chapter 07 writes these to measure what the study notes list as trade-offs: a model's size and
speed, what a small custom architecture costs, and how far a set of images sits from the data a
pretrained network was trained on. Chapter 08 reuses them on its three applications.
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
import torch
from PIL import Image
from torch import nn

from .models import TransferModel


# chapter 08
def small_cnn(num_classes: int, *, in_channels: int = 3, width: int = 16) -> TransferModel:
    """A compact CNN designed for small images, to train from scratch: four conv blocks."""
    blocks, channels = [], in_channels
    for out in (width, 2 * width, 4 * width, 4 * width):
        blocks.append(nn.Sequential(nn.Conv2d(channels, out, 3, padding=1, bias=False),
                                    nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)))
        channels = out
    body = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2))
    return TransferModel(body, nn.Linear(channels, num_classes), list(blocks), "small_cnn")


# chapter 08
def model_size_mb(model: nn.Module) -> float:
    """Megabytes of the model's saved weights (its state_dict, as torch.save writes it)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell() / 1e6


# chapter 08
def latency_ms(model: nn.Module, *, image_size: int, in_channels: int = 3,
               repeats: int = 5) -> float:
    """Median milliseconds to classify one image on the CPU (after one warm-up pass)."""
    model = model.eval().cpu()
    x = torch.randn(1, in_channels, image_size, image_size)
    times = []
    with torch.inference_mode():
        model(x)  # warm-up: memory allocation, kernel selection
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


# chapter 08
def bn_shift(body: nn.Module, images: torch.Tensor) -> float:
    """How far images sit from the pretraining data, as the network's BatchNorm layers see it.

    For every BatchNorm layer: the mean over channels of |batch mean - running mean| / running
    std of what enters the layer; then the mean over layers. Near 0: the activations look like
    the pretraining data's; larger: further away.
    """
    shifts = []

    def hook(layer, inputs, output):
        mean = inputs[0].float().mean(dim=(0, 2, 3))
        std = (layer.running_var + layer.eps).sqrt()
        shifts.append(((mean - layer.running_mean).abs() / std).mean().item())

    layers = [m for m in body.modules() if isinstance(m, nn.BatchNorm2d)]
    if not layers:
        raise ValueError("The body has no BatchNorm2d layers to compare statistics with.")
    handles = [layer.register_forward_hook(hook) for layer in layers]
    try:
        with torch.inference_mode():
            body.eval()(images)
    finally:
        for handle in handles:
            handle.remove()
    return sum(shifts) / len(shifts)


# chapter 08
def real_photo_crops(n: int, *, seed: int = 0) -> list:
    """`n` random square crops of the six photographs that ship with scikit-image and
    scikit-learn (a cat, coffee, an astronaut, a rocket, a temple, a flower): real photos,
    offline."""
    from skimage import data as skimage_data
    from sklearn.datasets import load_sample_images

    photos = [Image.fromarray(f()).convert("RGB") for f in (
        skimage_data.chelsea, skimage_data.coffee, skimage_data.astronaut, skimage_data.rocket)]
    photos += [Image.fromarray(a) for a in load_sample_images().images]
    rng, crops = np.random.default_rng(seed), []
    for i in range(n):
        photo = photos[i % len(photos)]
        side = int(min(photo.size) * rng.uniform(0.5, 1.0))
        x, y = (int(rng.integers(0, d - side + 1)) for d in photo.size)
        crops.append(photo.crop((x, y, x + side, y + side)))
    return crops
