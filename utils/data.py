"""Datasets for the course: synthetic (offline), real (torchvision downloads), or your own photos.

Everything ends up in the same shape: an ImageFolder tree (``root/<class>/<image>``) that is
scanned, validated and split into train / val / test lists of ``(path, label)`` pairs. One code
path then serves every source, and embeddings can be cached by file.

Sources (the ``source`` argument of :func:`load_dataset`):

========================  ============================================================
``synthetic_flowers``     generated flower species (offline default)
``synthetic_cats``        generated cat breeds (offline)
``synthetic_nonflowers``  generated non-flower scenes (negatives for a flower detector)
``flowers102``            Oxford Flowers-102 via torchvision (download, ~330 MB)
``pets_cats``             the 12 cat breeds of Oxford-IIIT Pet via torchvision (~800 MB)
``folder``                any ImageFolder directory you point ``data_dir`` at
========================  ============================================================
"""

from __future__ import annotations

import os
import random
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset

# the photo-level rules live in utils.photos; these names stay importable from here
from .photos import (  # noqa: F401  (re-exported: data.load_rgb, data.DataError, ...)
    DataError,
    describe_skipped,
    is_image_file,
    is_readable,
    load_rgb,
    to_rgb,
    unreadable_reason,
)

#: where generated and downloaded data and caches live unless a ``data_root`` is given: the
#: repository's ``data/`` folder, or the folder in the environment variable ``COURSE_DATA_ROOT``
#: (the tests point it at a temporary folder, so that they never write the repository)
DATA_ROOT = Path(os.environ.get("COURSE_DATA_ROOT")
                 or Path(__file__).resolve().parent.parent / "data")
SPLITS = ("train", "val", "test")
SYNTHETIC_SOURCES = {
    "synthetic_flowers": "flowers",
    "synthetic_cats": "cats",
    "synthetic_nonflowers": "nonflowers",
}
#: Generated images of chapter 07's applications (:mod:`offline.applications`), by source.
APPLICATION_SOURCES = {
    "synthetic_defects": "defects",
    "synthetic_plants": "plants",
    "synthetic_radiographs": "radiographs",
}
DOWNLOAD_SOURCES = ("flowers102", "pets_cats")
SOURCES = (*SYNTHETIC_SOURCES, *APPLICATION_SOURCES, *DOWNLOAD_SOURCES, "folder")
PET_CAT_BREEDS = (
    "Abyssinian", "Bengal", "Birman", "Bombay", "British Shorthair", "Egyptian Mau",
    "Maine Coon", "Persian", "Ragdoll", "Russian Blue", "Siamese", "Sphynx",
)


@dataclass
class DatasetSplits:
    """Train / val / test lists of ``(path, label)`` with the class names."""

    classes: list[str]
    train: list[tuple[str, int]]
    val: list[tuple[str, int]]
    test: list[tuple[str, int]]
    root: str = ""
    #: files left out, each with the reason: ``{path: "truncated or corrupt: ..."}``
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line per split with image counts, for printing in a notebook."""
        lines = [f"{len(self.classes)} classes from {self.root}"]
        for name in SPLITS:
            samples = getattr(self, name)
            counts = Counter(label for _, label in samples)
            lines.append(
                f"  {name:5s}: {len(samples):5d} images "
                f"({min(counts.values(), default=0)}-{max(counts.values(), default=0)} per class)"
            )
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} unreadable file(s): "
                         f"{describe_skipped(self.skipped)}")
        return "\n".join(lines)

    def subset(self, per_class: int | None, seed: int = 0) -> DatasetSplits:
        """A copy whose *training* split keeps at most ``per_class`` images per class."""
        if per_class is None:
            return self
        return DatasetSplits(
            self.classes, limit_per_class(self.train, per_class, seed), self.val, self.test,
            self.root, self.skipped,
        )


# --------------------------------------------------------------------------------------------
# Scanning and validating an ImageFolder tree
# --------------------------------------------------------------------------------------------


def scan_image_folder(root, verify: bool = True):
    """Scan ``root/<class>/<image>`` and return ``(classes, samples, skipped)``.

    Unreadable images (corrupt, truncated, broken symbolic links, over Pillow's
    decompression-bomb limit) are skipped with a warning and returned in ``skipped``, a dict
    ``{path: reason}``. Raises :class:`DataError` with a clear message for a missing folder, no
    class folders, empty classes, or fewer than two classes.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"Data folder {str(root)!r} does not exist or is not a folder.")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        loose = [p.name for p in root.iterdir() if is_image_file(p)]
        hint = (
            f" It holds {len(loose)} image file(s) directly; move them into one sub-folder "
            "per class." if loose else ""
        )
        raise DataError(
            f"No class folders in {str(root)!r}. Expected an ImageFolder layout: "
            f"<root>/<class_name>/<image>.jpg, one folder per class.{hint}"
        )
    classes, samples, skipped, empty = [], [], {}, []
    for class_dir in class_dirs:
        good = []
        for p in sorted(p for p in class_dir.rglob("*") if is_image_file(p)):
            reason = unreadable_reason(p) if verify else None
            if reason is None:
                good.append(p)
            else:
                skipped[str(p)] = reason
        if not good:
            empty.append(class_dir.name)
            continue
        label = len(classes)
        classes.append(class_dir.name)
        samples += [(str(p), label) for p in good]
    if skipped:
        warnings.warn(
            f"Skipped {len(skipped)} unreadable image(s) in {root}: {describe_skipped(skipped)}",
            stacklevel=2,
        )
    if empty:
        warnings.warn(
            f"Ignored {len(empty)} folder(s) with no readable images: {', '.join(empty[:5])}",
            stacklevel=2,
        )
    if len(classes) < 2:
        raise DataError(
            f"{str(root)!r} has {len(classes)} class folder(s) with images "
            f"({', '.join(classes) or 'none'}); classification needs at least two."
        )
    return classes, samples, skipped


def limit_per_class(samples, per_class: int, seed: int = 0) -> list[tuple[str, int]]:
    """Keep at most ``per_class`` randomly chosen samples of each class (deterministic)."""
    if per_class < 1:
        raise DataError(f"per_class must be at least 1, got {per_class}.")
    rng = random.Random(seed)
    by_class: dict[int, list] = {}
    for sample in samples:
        by_class.setdefault(sample[1], []).append(sample)
    kept = []
    for label in sorted(by_class):
        items = by_class[label]
        kept += sorted(rng.sample(items, min(per_class, len(items))))
    return kept


def split_samples(samples, val_fraction: float = 0.15, test_fraction: float = 0.15,
                  seed: int = 0):
    """Stratified train / val / test split of ``(path, label)`` samples with a fixed seed."""
    labels = [label for _, label in samples]
    counts = Counter(labels)
    if min(counts.values()) < 3:
        rare = [label for label, n in counts.items() if n < 3]
        raise DataError(
            f"Class(es) {rare} have fewer than 3 images: too few to split into "
            "train/val/test. Add images or provide train/val/test folders."
        )
    rest, test = train_test_split(samples, test_size=test_fraction, stratify=labels,
                                  random_state=seed)
    val_share = val_fraction / (1 - test_fraction)
    train, val = train_test_split(rest, test_size=val_share,
                                  stratify=[label for _, label in rest], random_state=seed)
    return sorted(train), sorted(val), sorted(test)


def load_image_folder(data_dir, val_fraction: float = 0.15, test_fraction: float = 0.15,
                      seed: int = 0, verify: bool = True) -> DatasetSplits:
    """Load an ImageFolder directory, using its train/val/test sub-folders if it has them.

    Without such sub-folders the images are split stratified by class with ``seed``. With only
    ``train`` (and maybe ``test``), the missing splits are carved out of ``train``.
    """
    root = Path(data_dir).expanduser()
    present = [s for s in SPLITS if (root / s).is_dir()]
    if not present:
        classes, samples, skipped = scan_image_folder(root, verify)
        train, val, test = split_samples(samples, val_fraction, test_fraction, seed)
        return DatasetSplits(classes, train, val, test, str(root), skipped)
    if "train" not in present:
        raise DataError(f"{str(root)!r} has {present} folder(s) but no 'train' folder.")
    classes, train, skipped = scan_image_folder(root / "train", verify)
    parts = {"train": train}
    for name in ("val", "test"):
        if name in present:
            split_classes, parts[name], more = scan_image_folder(root / name, verify)
            skipped.update(more)
            unknown = set(split_classes) - set(classes)
            if unknown:
                raise DataError(f"{root / name} has classes not in train: {sorted(unknown)}")
            index = {c: classes.index(c) for c in split_classes}
            parts[name] = [(p, index[split_classes[y]]) for p, y in parts[name]]
    if "test" not in parts:
        parts["train"], parts["test"] = _carve(parts["train"], test_fraction, seed)
    if "val" not in parts:
        fraction = val_fraction / (1 - test_fraction) if "test" not in present else val_fraction
        parts["train"], parts["val"] = _carve(parts["train"], fraction, seed)
    return DatasetSplits(classes, sorted(parts["train"]), sorted(parts["val"]),
                         sorted(parts["test"]), str(root), skipped)


def _carve(samples, fraction, seed):
    labels = [label for _, label in samples]
    keep, out = train_test_split(samples, test_size=fraction, stratify=labels, random_state=seed)
    return sorted(keep), sorted(out)


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


#: The network's input size (pixels) when a chapter's ``image_size`` is None, by chapter:
#: (generated images, real photos). Generated images are small, so that a CPU trains on them
#: often. Real photos: the native 224 px where one network trains (04), 128 px where many train
#: (02, 03, 05), and chapter 06 at chapter 05's size, because its job reuses chapter 05's
#: detector.
IMAGE_SIZES = {"02": (64, 128), "03": (64, 128), "04": (96, 224), "05": (64, 128),
               "06": (64, 128)}


def is_real_photos(source: str, data_dir=None) -> bool:
    """Whether a chapter's data are photos (``data_dir`` or a download), not generated."""
    return bool(data_dir) or source in DOWNLOAD_SOURCES or source == "folder"


def choose_image_size(image_size: int | None, *, chapter: str, source: str,
                      data_dir=None) -> tuple[int, str]:
    """The network's input size for a chapter, and why: ``image_size`` if set, else the
    right size for the data (:data:`IMAGE_SIZES`: real photos larger than generated images).
    """
    if image_size is not None:
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"image_size must be a whole number of pixels or None (the right "
                             f"size for the data); got {image_size!r}.")
        return image_size, "set in the parameters"
    if chapter not in IMAGE_SIZES:
        raise ValueError(f"No default image size for chapter {chapter!r}; chapters "
                         f"{', '.join(IMAGE_SIZES)} have one. Set image_size.")
    generated, real = IMAGE_SIZES[chapter]
    if is_real_photos(source, data_dir):
        return real, f"chapter {chapter}'s size for real photos"
    return generated, f"chapter {chapter}'s size for generated images"


def load_dataset(source: str = "synthetic_flowers", data_dir=None, data_root=DATA_ROOT,
                 render_size: int = 128, n_per_class: int = 60, seed: int = 0,
                 val_fraction: float = 0.15, test_fraction: float = 0.15) -> DatasetSplits:
    """Get a dataset as :class:`DatasetSplits`, whatever its source.

    Args:
        source: one of :data:`SOURCES`. If ``data_dir`` is given, it wins: ``source`` is
            treated as ``"folder"``.
        data_dir: an ImageFolder root of your own photos (may contain train/val/test).
        data_root: where generated and downloaded data are stored (``data/`` by default).
        render_size: size (pixels) at which generated images are drawn; photos keep theirs.
            Not the network's input size (``make_transform(image_size)`` sets that).
        n_per_class: synthetic images per class, before splitting.
        seed: seeds the synthetic generator and the split.
    """
    if data_dir:
        return load_image_folder(data_dir, val_fraction, test_fraction, seed)
    if source not in SOURCES:
        raise DataError(f"Unknown data source {source!r}. Choose one of: {', '.join(SOURCES)}.")
    if source == "folder":
        raise DataError("source='folder' needs data_dir: the path of your ImageFolder root.")
    data_root = Path(data_root)
    if source in SYNTHETIC_SOURCES:
        root = synthetic_dataset(SYNTHETIC_SOURCES[source], data_root, render_size,
                                 n_per_class, seed)
        return load_image_folder(root, val_fraction, test_fraction, seed, verify=False)
    if source in APPLICATION_SOURCES:
        root = application_dataset(APPLICATION_SOURCES[source], data_root, render_size,
                                   n_per_class, seed)
        return load_image_folder(root, val_fraction, test_fraction, seed, verify=False)
    root = download_dataset(source, data_root)
    return load_image_folder(root, val_fraction, test_fraction, seed)


def synthetic_dataset(kind: str, data_root=DATA_ROOT, render_size: int = 128,
                      n_per_class: int = 60, seed: int = 0) -> Path:
    """Generate (once) and return the folder of a synthetic dataset drawn at ``render_size``."""
    from offline import synthetic

    out = Path(data_root) / "synthetic" / f"{kind}_s{seed}_{render_size}px_n{n_per_class}"
    return synthetic.generate(kind, out, n_per_class=n_per_class, size=render_size, seed=seed)


def application_classes(case: str) -> tuple[str, ...]:
    """The classes of one of chapter 07's applications, the normal class first."""
    from offline import applications

    if case not in applications.CASES:
        raise DataError(f"Unknown application {case!r}; choose from "
                        f"{', '.join(applications.CASES)}.")
    return applications.CASES[case]


def application_dataset(case: str, data_root=DATA_ROOT, render_size: int = 64,
                        n_per_class: int = 40, seed: int = 0) -> Path:
    """Generate (once) and return the folder of one of chapter 07's applications."""
    from offline import applications

    application_classes(case)  # a clear error for an unknown case
    out = Path(data_root) / "applications" / f"{case}_s{seed}_{render_size}px_n{n_per_class}"
    return applications.generate(case, out, n_per_class=n_per_class, size=render_size,
                                 seed=seed)


def download_dataset(source: str, data_root=DATA_ROOT) -> Path:
    """Download a torchvision dataset once and lay it out as an ImageFolder tree.

    Returns the folder (with train/val/test sub-folders from the dataset's official splits).
    Offline, raises :class:`DataError` suggesting the synthetic data or ``data_dir``.
    """
    from torchvision import datasets

    data_root = Path(data_root)
    out = data_root / f"{source}_imagefolder"
    if (out / "done").exists():
        return out
    try:
        if source == "flowers102":
            parts = {s: datasets.Flowers102(data_root, split=s, download=True)
                     for s in SPLITS}
            names = {s: [f"flower_{label:03d}" for label in d._labels] for s, d in parts.items()}
        else:
            trainval = datasets.OxfordIIITPet(data_root, split="trainval", download=True)
            test = datasets.OxfordIIITPet(data_root, split="test", download=True)
            parts = {"train": trainval, "test": test}
            names = {s: [d.classes[label] for label in d._labels] for s, d in parts.items()}
    except (OSError, RuntimeError) as err:
        raise DataError(
            f"Could not download {source!r} ({type(err).__name__}: {err}). Are you offline? "
            "Use a synthetic source (e.g. 'synthetic_flowers') or point data_dir at your own "
            "ImageFolder."
        ) from err
    for split, dataset in parts.items():
        files = getattr(dataset, "_image_files", None) or dataset._images
        for path, name in zip(files, names[split], strict=True):
            if source == "pets_cats" and name not in PET_CAT_BREEDS:
                continue
            target = out / split / name.replace(" ", "_") / Path(path).name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.symlink_to(Path(path).resolve())
    (out / "done").write_text("ok\n")
    return out


# --------------------------------------------------------------------------------------------
# Transforms and torch datasets
# --------------------------------------------------------------------------------------------


PRESIZE_MEMORY_MB = 1024  # presized copies one dataset keeps in memory; the rest go to disk


class ImageListDataset(Dataset):
    """A torch ``Dataset`` over ``(path, label)`` pairs with a transform.

    ``presize`` (pixels): decode each file once, shrink its short side to ``presize`` and keep
    the small copy; every later epoch runs the transform (random crops, flips) on that copy
    instead of decoding the original photo again. Choose it a little larger than the training
    size (see :func:`presize_for`). ``presize=None`` decodes the file every time.

    The copies stay in memory up to ``memory_mb`` (at 128 px about 60 KB an image, so the
    default 1 GB holds some 16,000); beyond that they are written to a temporary folder as
    lossless PNG files, which decode several times faster than the original photos, and which
    are deleted with the dataset.
    """

    def __init__(self, samples, transform=None, *, presize: int | None = None,
                 memory_mb: float = PRESIZE_MEMORY_MB):
        self.samples = list(samples)
        self.transform = transform
        self.presize = presize
        self.memory_mb = memory_mb
        self._small: dict[int, Image.Image] = {}
        self._small_bytes = 0
        self._spill: tempfile.TemporaryDirectory | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def image(self, index: int) -> Image.Image:
        """The (presized) RGB image at ``index``."""
        path = self.samples[index][0]
        if self.presize is None:
            return load_rgb(path)
        if index in self._small:
            return self._small[index]
        spilled = Path(self._spill.name) / f"{index}.png" if self._spill else None
        if spilled is not None and spilled.is_file():
            with Image.open(spilled) as img:
                return img.convert("RGB")
        image = load_rgb(path, short_side=self.presize)
        size = image.width * image.height * 3
        if self._small_bytes + size <= self.memory_mb * 2**20:
            self._small[index] = image
            self._small_bytes += size
        else:  # over the memory budget: keep the small copy on disk
            if self._spill is None:
                self._spill = tempfile.TemporaryDirectory(prefix="presized-")
            image.save(Path(self._spill.name) / f"{index}.png")
        return image

    def __getitem__(self, index: int):
        image, label = self.image(index), self.samples[index][1]
        return (self.transform(image) if self.transform else image), label

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]


def presize_for(image_size: int, backbone: str | None = None) -> int:
    """The short side to keep in memory for training and evaluating ``backbone`` at ``image_size``.

    Evaluation resizes the short side to ``image_size / crop_pct`` (the backbone's, see
    :meth:`utils.models.Preprocessing.resize_for`) before its centre crop, so a copy of exactly
    that size changes nothing there; random crops take their area from it.
    """
    from .models import DEFAULT_BACKBONE, preprocessing  # timm and torchvision: load on use

    return preprocessing(backbone or DEFAULT_BACKBONE).resize_for(image_size)


def sample_batch(samples, n: int = 16, seed: int = 0, transform=None):
    """A few samples as (images, labels), e.g. for a picture grid."""
    rng = random.Random(seed)
    chosen = rng.sample(list(samples), min(n, len(samples)))
    images = [load_rgb(p) if transform is None else transform(load_rgb(p)) for p, _ in chosen]
    if transform is not None:
        images = torch.stack(images)
    return images, [label for _, label in chosen]
