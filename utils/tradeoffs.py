"""Measuring the trade-offs of transfer learning and training from scratch.

Chapter 04 writes the tools for a model's size and speed (what a pretrained backbone brings
with it, a small custom architecture, and int8 quantisation, one way to make a model lighter);
chapter 07 writes the ones for how far a set of images sits from the data a pretrained network
was trained on, and reuses the custom architecture on radiographs. Chapter 08 reads their
numbers.
"""

from __future__ import annotations

import copy
import io
import statistics
import time
import warnings

import numpy as np
import torch
from PIL import Image
from torch import nn

from .models import TransferModel


# chapter 04
def small_cnn(num_classes: int, *, in_channels: int = 3, width: int = 16) -> TransferModel:
    """A compact CNN designed for small images, to train from scratch: four conv blocks."""
    blocks, channels = [], in_channels
    for out in (width, 2 * width, 4 * width, 4 * width):
        blocks.append(nn.Sequential(nn.Conv2d(channels, out, 3, padding=1, bias=False),
                                    nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)))
        channels = out
    body = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2))
    return TransferModel(body, nn.Linear(channels, num_classes), list(blocks), "small_cnn")


# chapter 04
def model_size_mb(model: nn.Module) -> float:
    """Megabytes of the model's saved weights (its state_dict, as torch.save writes it)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell() / 1e6


# chapter 04
def latency_ms(models: dict[str, nn.Module], *, image_size: int, in_channels: int = 3,
               repeats: int = 5) -> dict[str, float]:
    """Median CPU milliseconds to classify one image, per model, timed in turns.

    The models take turns, one pass each per round (after one warm-up pass each), so a
    background load that comes and goes slows all of them alike and their ratio stays fair.
    """
    nets = {name: model.eval().cpu() for name, model in models.items()}
    x = torch.randn(1, in_channels, image_size, image_size)
    times = {name: [] for name in nets}
    with torch.inference_mode():
        for net in nets.values():
            net(x)  # warm-up: memory allocation, kernel selection
        for _ in range(repeats):
            for name, net in nets.items():
                start = time.perf_counter()
                net(x)
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


# chapter 04
def fx_friendly(model: nn.Module, *, image_size: int) -> nn.Module:
    """The same network with its graph fixed for one input size, so torch.fx can trace it.

    timm's TensorFlow-style convolutions work out their "same" padding from each input's size
    at run time (torch.fx cannot trace that), and its BatchNorm+activation layers hide the
    BatchNorm that quantisation folds into the convolution before it. For a fixed input size
    the padding is a constant: each such convolution becomes a fixed zero padding followed by
    a plain convolution, and each BatchNormAct2d a plain BatchNorm2d followed by its
    activation. The outputs do not change.
    """
    from timm.layers import BatchNormAct2d, Conv2dSame
    from timm.layers.padding import get_same_padding

    model = copy.deepcopy(model).eval().cpu()
    sizes = {}
    hooks = [m.register_forward_pre_hook(
        lambda m, inputs, name=name: sizes.__setitem__(name, inputs[0].shape[-2:]))
        for name, m in model.named_modules() if isinstance(m, Conv2dSame)]
    with torch.inference_mode():
        model(torch.zeros(1, 3, image_size, image_size))
    for hook in hooks:
        hook.remove()

    def replace(name: str, new: nn.Module) -> None:
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child, new)

    for name, (height, width) in sizes.items():
        conv = model.get_submodule(name)
        pad_h, pad_w = (get_same_padding(n, conv.kernel_size[i], conv.stride[i],
                                         conv.dilation[i]) for i, n in enumerate((height, width)))
        plain = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                          0, conv.dilation, conv.groups, conv.bias is not None)
        plain.load_state_dict(conv.state_dict())
        pad = nn.ZeroPad2d((pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        replace(name, nn.Sequential(pad, plain))
    for name, bn_act in [(n, m) for n, m in model.named_modules()
                         if isinstance(m, BatchNormAct2d)]:
        bn = nn.BatchNorm2d(bn_act.num_features, bn_act.eps, bn_act.momentum)
        bn.load_state_dict(bn_act.state_dict())
        replace(name, nn.Sequential(bn, bn_act.drop, bn_act.act))
    return model.eval()


# chapter 04
def quantize_int8(model: nn.Module, calibration_batches, *, image_size: int,
                  backend: str = "onednn") -> nn.Module:
    """Post-training static int8 quantisation on the CPU (torch.ao.quantization, FX mode).

    Three steps: `prepare_fx` folds each BatchNorm into its convolution and puts observers on
    the activations; the calibration batches (images, labels) flow through, and the observers
    record each activation's range; `convert_fx` replaces the layers with int8 ones, using
    per-channel int8 weights and those ranges. The model itself is not changed.
    """
    from torch.ao.quantization import MinMaxObserver, QConfig, get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    if backend not in torch.backends.quantized.supported_engines:
        raise ValueError(f"backend {backend!r} is not available here; this PyTorch has "
                         f"{torch.backends.quantized.supported_engines}.")
    torch.backends.quantized.engine = backend
    qconfigs = get_default_qconfig_mapping(backend)
    # min/max observers: the default histogram observers calibrate several times slower
    qconfigs.set_global(QConfig(activation=MinMaxObserver.with_args(
        reduce_range=backend in ("x86", "fbgemm")), weight=qconfigs.global_qconfig.weight))
    example = torch.zeros(1, 3, image_size, image_size)
    with warnings.catch_warnings():  # torch.ao.quantization warns that it is deprecated
        warnings.simplefilter("ignore")
        prepared = prepare_fx(fx_friendly(model, image_size=image_size),
                              qconfigs, example_inputs=(example,))
        seen = 0
        with torch.inference_mode():
            for x, _ in calibration_batches:
                prepared(x.cpu())
                seen += len(x)
        if seen == 0:
            raise ValueError("No calibration images: the observers need data to learn the "
                             "activations' ranges before int8 conversion.")
        return convert_fx(prepared)


# chapter 07
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


# chapter 07
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
