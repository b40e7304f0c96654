"""Photos as learners have them: which files are images, why one cannot be used, and how to
open one as an upright 8-bit RGB image.

Phone photos stored sideways with an EXIF orientation tag, CMYK JPEGs, 16-bit and palette PNGs,
greyscale scans, truncated downloads, broken symbolic links and images over Pillow's
decompression-bomb limit all pass through here: :func:`unreadable_reason` says why a file is
skipped (the folder scan in :mod:`utils.data` reports it), and :func:`load_rgb` decodes the
rest the same way for training, evaluation and the endpoint (which ships this module, not
:mod:`utils.data`).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.datasets.folder import IMG_EXTENSIONS


class DataError(ValueError):
    """A dataset could not be used as asked; the message says why and what to do."""


# --------------------------------------------------------------------------------------------
# Which files can be used
# --------------------------------------------------------------------------------------------


def is_image_file(path: Path) -> bool:
    """Whether ``path`` is named like an image file (a broken symbolic link counts: the scan
    reports it instead of losing it silently)."""
    path = Path(path)
    if path.suffix.lower() not in IMG_EXTENSIONS or path.name.startswith("."):
        return False
    return path.is_file() or (path.is_symlink() and not path.exists())


def unreadable_reason(path) -> str | None:
    """Why the image file at ``path`` cannot be used for training, or ``None`` if it can.

    Cheap for the usual file: Pillow's ``verify()`` reads the structure without decoding the
    pixels. A truncated JPEG passes ``verify()`` (and would stop training when the loader
    reaches it), so a JPEG that does not end with its end-of-image marker is also decoded,
    at 1/8 scale; a JPEG with data after the marker (some phones append some) decodes fine.
    """
    path = Path(path)
    if path.is_symlink() and not path.exists():
        return f"broken symbolic link (to {os.readlink(path)})"
    try:
        with Image.open(path) as img:
            image_format = img.format
            img.verify()
        if image_format == "JPEG" and not _ends_with_jpeg_marker(path):
            with Image.open(path) as img:
                img.draft("RGB", (1, 1))  # the smallest scale the decoder offers
                img.load()
    except Image.DecompressionBombError as err:
        return f"over Pillow's decompression-bomb limit ({err})"
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        reason = "truncated" if "truncated" in str(err) else "corrupt or not an image"
        return f"{reason} ({type(err).__name__}: {err})"
    return None


def is_readable(path: Path) -> bool:
    """Whether the image file at ``path`` can be used (see :func:`unreadable_reason`)."""
    return unreadable_reason(path) is None


def _ends_with_jpeg_marker(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - 64))
        return f.read().rstrip(b"\0").endswith(b"\xff\xd9")


def describe_skipped(skipped: dict[str, str], examples: int = 3) -> str:
    """A short account of skipped files: counts per kind of reason and a few examples."""
    kinds = Counter(reason.split(" (")[0] for reason in skipped.values())
    counts = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    shown = "; ".join(f"{path}: {reason}" for path, reason in list(skipped.items())[:examples])
    return f"{counts}; e.g. {shown}"


# --------------------------------------------------------------------------------------------
# Decoding to upright RGB
# --------------------------------------------------------------------------------------------


def load_rgb(path, *, short_side: int | None = None) -> Image.Image:
    """Open an image file (a path or a binary file object) as an upright RGB image.

    Upright: a photo whose camera stored it sideways with an EXIF orientation tag is turned
    the way the camera meant (:func:`PIL.ImageOps.exif_transpose`), as photo viewers show it.
    Other colour modes become RGB by :func:`to_rgb`. A file that cannot be decoded raises
    :class:`DataError` with the path and the reason.

    With ``short_side``, the image is shrunk so that its shorter side is ``short_side`` pixels
    (never enlarged). A JPEG is then decoded at reduced scale (``Image.draft``: the decoder
    skips detail it would throw away), which is several times faster for large photos.
    """
    try:
        with Image.open(path) as img:
            if short_side is not None:
                scale = short_side / min(img.size)
                if scale < 1:  # the smallest JPEG scale (1/2, 1/4, 1/8) >= the requested size
                    img.draft("RGB", (math.ceil(img.size[0] * scale),
                                      math.ceil(img.size[1] * scale)))
            img = to_rgb(ImageOps.exif_transpose(img))  # decodes (at the draft scale)
    except Image.DecompressionBombError as err:
        raise DataError(f"Cannot read image {_name(path)}: over Pillow's decompression-bomb "
                        f"limit ({err})") from err
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise DataError(f"Cannot read image {_name(path)}: {err}") from err
    width, height = img.size
    if short_side is not None and min(width, height) > short_side:
        # the sizes torchvision's Resize would pick
        size = ((short_side, int(short_side * height / width)) if width <= height
                else (int(short_side * width / height), short_side))
        img = img.resize(size, Image.Resampling.BICUBIC)
    return img


def _name(path) -> str:
    return repr(str(path)) if isinstance(path, str | os.PathLike) else "(file object)"


#: 16-bit and 32-bit integer greyscale modes (16-bit PNG and TIFF files open as one of these)
_WIDE_GREY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_rgb(img: Image.Image) -> Image.Image:
    """``img`` as 8-bit RGB, whatever its mode.

    16-bit greyscale keeps its range (65535 becomes 255; a plain conversion clips every value
    above 255 to white). Transparent pixels (RGBA, LA, palette images with a transparent
    colour) become white, as an image viewer shows them on a white page. Greyscale, CMYK and
    palette images convert as Pillow converts them.
    """
    if img.mode == "RGB":
        return img
    if img.mode in _WIDE_GREY_MODES:
        grey = np.clip(np.asarray(img, dtype=np.int64), 0, 65535) >> 8
        return Image.fromarray(grey.astype(np.uint8)).convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")
