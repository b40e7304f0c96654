"""Decoding once: the decoded, resized images of an evaluation transform, kept in memory.

:func:`utils.features.extract_features` uses this so that extracting the same images a second
time (with another body, say) skips reading and decoding the files. The lesson of that function
does not depend on it: with the cache off (``DECODED_CACHE_MB = 0``) the results are identical.
Training loops decode once differently, by presizing (:class:`utils.data.ImageListDataset`).
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import transforms as T

from .data import load_rgb

DECODED_CACHE_MB = 256  # in-memory budget for decoded, resized images (0 turns the cache off)
#: How evaluation images are decoded: JPEGs at reduced scale (``Image.draft``) when the
#: evaluation resize shrinks them by half or more, and turned upright by their EXIF orientation
#: (:func:`utils.data.load_rgb`). Part of the embedding cache key, since the pixels differ
#: slightly from a full decode (and, for a photo stored sideways, from earlier versions).
DECODE = "draft-exif-v2"


_DETERMINISTIC_STEPS = (T.Resize, T.CenterCrop)
_decoded: OrderedDict[tuple, torch.Tensor] = OrderedDict()  # key -> uint8 (H, W, C), LRU order
_decoded_bytes = 0


def clear_decoded_cache() -> None:
    """Forget the decoded images kept in memory (the next extraction decodes again)."""
    global _decoded_bytes
    _decoded.clear()
    _decoded_bytes = 0


def split_transform(transform):
    """``(image_steps, normalize)`` of an evaluation transform, or ``None`` if it has another form.

    The transforms of :func:`utils.checkpoint.make_transform` (``train=False``) are
    ``Compose([Resize, CenterCrop, ToTensor(), Normalize])``: deterministic PIL steps, then a
    conversion that can be done on a whole uint8 batch at once with identical results. Random
    augmentations or custom steps return ``None`` (the caller then runs the transform as is).
    """
    steps = list(getattr(transform, "transforms", ()))
    if not isinstance(transform, T.Compose) or not steps:
        return None
    normalize = steps.pop() if isinstance(steps[-1], T.Normalize) else None
    if not steps or type(steps.pop()) is not T.ToTensor:
        return None
    if not all(type(step) in _DETERMINISTIC_STEPS for step in steps):
        return None
    return T.Compose(steps), normalize


def decoded_key(path, image_steps) -> tuple:
    """What identifies a decoded image: the file (path, size, modification time), the steps
    and the decoding method."""
    stat = os.stat(path)
    return str(path), stat.st_size, stat.st_mtime_ns, repr(image_steps), DECODE


def remember(keys, images) -> None:
    """Keep decoded uint8 ``images`` under ``keys`` within :data:`DECODED_CACHE_MB` (LRU)."""
    if DECODED_CACHE_MB > 0:
        for key, image in zip(keys, images, strict=True):
            _remember(key, image)


def _remember(key: tuple, image: torch.Tensor) -> None:
    global _decoded_bytes
    if key in _decoded:
        _decoded.move_to_end(key)
        return
    budget = DECODED_CACHE_MB * 2**20
    if image.nbytes > budget:
        return
    image = image.clone()  # not a view that keeps a whole batch alive
    _decoded[key] = image
    _decoded_bytes += image.nbytes
    while _decoded_bytes > budget:
        _decoded_bytes -= _decoded.popitem(last=False)[1].nbytes


class DecodedImages(Dataset):
    """``(uint8 image (H, W, C), label)`` after the deterministic ``image_steps``.

    Images already in the in-memory cache are not decoded again (in worker processes started by
    fork, the cache as it was when they started). Picklable, so DataLoader workers started by
    spawn (macOS, Windows) can use it too.
    """

    def __init__(self, samples, keys, image_steps):
        self.samples, self.keys, self.image_steps = list(samples), list(keys), image_steps
        resize = image_steps.transforms[0] if image_steps.transforms else None
        size = getattr(resize, "size", None)
        # decode JPEGs at reduced scale straight to the short side the Resize step asks for
        self.short_side = size if isinstance(size, int) else None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = _decoded.get(self.keys[index]) if DECODED_CACHE_MB > 0 else None
        if image is None:
            image = torch.from_numpy(np.array(
                self.image_steps(load_rgb(path, short_side=self.short_side)), np.uint8))
        return image, label


def to_float_batch(images: torch.Tensor, normalize, device) -> torch.Tensor:
    """uint8 ``(N, H, W, C)`` -> normalised float ``(N, C, H, W)`` in channels_last layout.

    The same arithmetic as ``ToTensor()`` then ``Normalize`` image by image (bit-identical
    results), done once per batch, after the 4x smaller uint8 batch has been moved to ``device``.
    """
    x = images.to(device, non_blocking=True).permute(0, 3, 1, 2)  # a channels_last view
    x = x.to(torch.get_default_dtype()).div(255)
    return normalize(x) if normalize is not None else x
